/*
 * hdr.h - a tolerant parser for blocks of "Name: value" lines: a message
 * header, the header of a returned original, and the field groups of a
 * message/delivery-status or message/feedback-report body.
 *
 * Lines end in LF or CRLF. Folded values are unfolded (continuation lines
 * joined with one space), values are trimmed. Names are kept lowercased.
 * Every size is capped (caps.h): at most CAP_HEADER_FIELDS fields and
 * CAP_HEADER_BYTES bytes read per block, CAP_FIELD_BYTES per value,
 * CAP_LINE_BYTES per line; the excess is skipped and the block's `capped`
 * flag is set. Values are raw bytes (not sanitized): callers sanitize what
 * they keep.
 */
#ifndef REBOND_HDR_H
#define REBOND_HDR_H

#include <stddef.h>

#define HDR_NAME_BYTES	64

struct hdr_field {
	char *name;			/* lowercased field name, shorter
					 * than HDR_NAME_BYTES */
	char *value;			/* unfolded, trimmed, NUL-ended */
	size_t len;			/* bytes in value */
	size_t noff, voff;		/* (where they are in the arena) */
};

struct hdr_block {
	struct hdr_field *f;
	size_t n;
	size_t alloc;
	int capped;	/* a cap dropped fields or bytes */
	int nfields_seen;	/* fields seen, kept or not */
	/*
	 * When set before parsing: the (lowercase) names of the only
	 * fields to keep, NULL-terminated; the others are read past
	 * (counted in nfields_seen, not a cap).
	 */
	const char *const *only;
	char *arena;	/* the names and values, one after the other */
	size_t alen, acap;
};

enum hdr_mode {
	/*
	 * A message header: ends at the first empty line, or at the first
	 * line that is neither a field nor a continuation (that line is
	 * the first of the body). A leading mbox "From " line is skipped.
	 */
	HDR_HEADER,
	/*
	 * One group of a DSN-like body: leading blank lines are skipped,
	 * the group ends at the next blank (or white-space-only) line;
	 * lines that are not fields are skipped.
	 */
	HDR_GROUP,
};

/* Start an empty block. */
void hdr_init(struct hdr_block *b);

/*
 * Parse one block of (p, len) from *off_r according to mode, appending
 * its fields to b, and move *off_r past the block (past the blank line
 * that ends it). Returns the number of fields seen in this block (kept or
 * not): 0 at the end of the data or for an empty group.
 */
int hdr_parse(const char *p, size_t len, size_t *off_r, enum hdr_mode mode,
    struct hdr_block *b);

/* The value of the first field called name (lowercase), or NULL. */
const char *hdr_get(const struct hdr_block *b, const char *name);

/* Index of the next field called name at or after *i, or -1. */
int hdr_next(const struct hdr_block *b, const char *name, size_t *i);

/* Free the fields; b can be parsed into again after hdr_init. */
void hdr_free(struct hdr_block *b);
/*
 * Is line (ll bytes) the first line of a field, as hdr_parse() reads it?
 * 1: a field whose name is in list (lowercase names, NULL-terminated),
 * 0: a field of another name, -1: not the first line of a field.
 */
int hdr_field_in(const char *line, size_t ll, const char *const *list);

/* Forget the fields (and only), keep the allocations: b is as after
 * hdr_init, to be freed with hdr_free. */
void hdr_clear(struct hdr_block *b);

#endif
