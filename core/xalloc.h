/*
 * xalloc.h - allocation that never returns NULL.
 *
 * Running out of memory is a bad environment, not bad input: the process
 * prints one line on stderr and exits 75 (EX_TEMPFAIL) so that cron
 * retries. Callers never test for NULL.
 */
#ifndef REBOND_XALLOC_H
#define REBOND_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Array growth with overflow check: xreallocarray(p, nmemb, size). */
void *xreallocarray(void *p, size_t nmemb, size_t size);
char *xstrdup(const char *s);
/* Copy of the first n bytes of s (which need not be NUL-terminated), plus a
 * terminating NUL. */
char *xstrndup(const char *s, size_t n);

#endif
