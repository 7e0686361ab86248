/*
 * buf.h - the one growable byte buffer, with a ceiling fixed at creation.
 *
 * The contents are always NUL-terminated (the NUL is not counted in len),
 * so text can be handed to string functions, but data may hold NULs.
 * An append that would pass the ceiling appends what fits, sets
 * `truncated`, and returns -1: truncation is visible, never silent.
 */
#ifndef REBOND_BUF_H
#define REBOND_BUF_H

#include <stddef.h>
#include <string.h>

struct buf {
	char *data;	/* NUL-terminated; NULL until the first append */
	size_t len;	/* bytes used, without the NUL */
	size_t cap;	/* bytes allocated */
	size_t max;	/* ceiling on len */
	int truncated;	/* an append hit the ceiling */
};

/* Start an empty buffer that will never hold more than max bytes. */
void buf_init(struct buf *b, size_t max);
/* Make room for n more bytes (within the ceiling) in one allocation. */
void buf_reserve(struct buf *b, size_t n);
/* buf_append when the buffer must grow or the ceiling cut the data. */
int buf_append_grow(struct buf *b, const void *p, size_t n);

/* Append n bytes; returns 0, or -1 when the ceiling cut the data. */
static inline int
buf_append(struct buf *b, const void *p, size_t n)
{
	/* (the common case, inline: room allocated, under the ceiling) */
	if (n < b->cap - b->len && n <= b->max - b->len) {
		if (n > 0)
			memcpy(b->data + b->len, p, n);
		b->len += n;
		b->data[b->len] = '\0';
		return 0;
	}
	return buf_append_grow(b, p, n);
}

/* Append a NUL-terminated string; as buf_append. */
int buf_puts(struct buf *b, const char *s);

/* Append one byte; as buf_append. */
static inline int
buf_putc(struct buf *b, int c)
{
	char ch = (char)c;

	return buf_append(b, &ch, 1);
}
/* printf into the buffer; as buf_append. */
int buf_printf(struct buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Forget the contents, keep the allocation. */
void buf_reset(struct buf *b);
/* As buf_reset, with a new ceiling (a buffer used again for other data). */
void buf_reuse(struct buf *b, size_t max);
/* Hand the contents to the caller (never NULL; free() it) and reset b. */
char *buf_steal(struct buf *b);
/* Free the contents; b can be used again after buf_init. */
void buf_free(struct buf *b);

#endif
