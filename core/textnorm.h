/*
 * textnorm.h - the form of text the classifier's patterns are written in:
 * ASCII lowercase, Latin accents folded (é→e, ü→u, ß→ss, œ→oe),
 * typographic quotes and dashes made ASCII, runs of white space (and
 * control characters) collapsed to one space, no leading or trailing
 * space.
 * Bytes that are not valid UTF-8 become one space. Other scripts are kept
 * as they are.
 */
#ifndef REBOND_TEXTNORM_H
#define REBOND_TEXTNORM_H

#include <stddef.h>

/*
 * Normalize (s, n) into out (outsz bytes, NUL-terminated; at most outsz - 1
 * bytes written, never cutting a UTF-8 sequence). Returns the length.
 */
size_t textnorm(const char *s, size_t n, char *out, size_t outsz);

#endif
