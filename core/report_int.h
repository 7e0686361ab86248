/*
 * report_int.h - helpers shared by the files of the parser (report.c,
 * notice.c). Not part of the interface the poller uses.
 */
#ifndef REBOND_REPORT_INT_H
#define REBOND_REPORT_INT_H

#include <stddef.h>

#include "caps.h"
#include "hdr.h"
#include "report.h"

/* Extra parse state that the notice scanners read. */
struct report_ctx {
	struct report *r;
	unsigned skip;		/* REPORT_SKIP_*: what is left out */
	const struct hdr_block *top;	/* the bounce's own header */
	/* Fields of a delivery-status group that named no recipient
	 * (broken DSNs): applied to recipients found in the text. */
	char *orphan_status;
	char *orphan_diag;
	char *orphan_action;
	int has_dsn_part;	/* a message/delivery-status part was seen */
	int has_original;	/* a returned original (rfc822/headers) */
	int multipart;		/* the message is a MIME multipart */
	int ses_complaint;	/* an Amazon SES complaint notification */
	char orig_to[CAP_ADDRESS_BYTES + 1];	/* returned original's To */
	int orig_to_count;	/* addresses in that To */
	char *orig_subject;	/* returned original's Subject, raw */
	/* Microsoft JMRP: the complainer, named in the attached original. */
	char jmrp_rcpt[CAP_ADDRESS_BYTES + 1];
	char *arf_feedback_type;	/* Feedback-Type of an ARF part */
};

/*
 * Add a recipient with address addr (already an addr-spec, any case) and
 * static source name. Returns the new record, or NULL when the
 * CAP_RECIPIENTS cap is hit (REPORT_F_CAP_RCPTS set).
 */
struct report_rcpt *report_rcpt_add(struct report *r, const char *addr,
    const char *source);

/* The recipient with this address (case-insensitive), or NULL. */
struct report_rcpt *report_rcpt_find(struct report *r, const char *addr);

/*
 * Read the fields of a message/delivery-status body (or of a DSN block
 * pasted in a notice) and add its recipients (source "dsn").
 */
void report_dsn_parse(struct report_ctx *ctx, const char *p, size_t len);

/*
 * report_parse() with every part of the message handed to libetpan (see
 * mime_strip_copy in report.c): the same report, more slowly. For the
 * tests that check that it is the same.
 */
struct report *report_parse_whole(const char *data, size_t len,
    int truncated);

/* Sanitized copy of (s, n), at most max bytes; see str_sanitize. */
char *report_str(const char *s, size_t n, size_t max);

/* Replace *dst with a sanitized, trimmed copy of (s, n). */
void report_set(char **dst, const char *s, size_t n, size_t max);

/*
 * Find an address in (s, n): the first <...@...>, else the first token
 * containing '@'. Writes the lowercased addr-spec to out (outsz bytes,
 * NUL-terminated) and returns its length, or 0 if there is none or it is
 * not plausible (no local part, no dot-less garbage, too long).
 */
size_t addr_extract(const char *s, size_t n, char *out, size_t outsz);

/*
 * The addr-spec of a structured field's value (DSN Final-Recipient and
 * Original-Recipient, after "rfc822;"): the whole value, trimmed, <>
 * removed, lowercased, so that every atext character of the local part
 * (o'neil+x) is kept. A value that is not a plain addr-spec is searched
 * as addr_extract does. Returns the length written to out, or 0.
 */
size_t addr_spec_value(const char *s, size_t n, char *out, size_t outsz);

/*
 * Is s[i] an apostrophe inside a local part ("o'neil"): between two atext
 * characters, with no '@' in s[0..i) (s is where the token starts)? In
 * free text an apostrophe ends an address only at its edge
 * ('user@example.com').
 */
int addr_quote_inner(const char *s, size_t n, size_t i);

/* 1 if (s, n) looks like an addr-spec "local@domain". */
int addr_plausible(const char *s, size_t n);

/*
 * Find an RFC 3463 status code "c.s.d" (c in 2, 4, 5) in (s, n); write it
 * to out (16 bytes). Returns 1 if found.
 */
int status_find(const char *s, size_t n, char out[16]);

/* As status_find, but only a failure code (4.x.y or 5.x.y). */
int status_find_error(const char *s, size_t n, char out[16]);

/*
 * Find an SMTP reply code in a diagnostic: at its start ("550 ...",
 * "550-..."), or after "said:", "<<<", "reply:", or just before an
 * enhanced status code. Returns 200..599, or 0.
 */
int reply_code_find(const char *s, size_t n);

/*
 * Quoted-printable (p, n) to bytes, as libetpan decodes it: "=XX" (a bad
 * hex digit as 0), soft line breaks removed, line ends made CRLF. A new
 * buffer (free() it), its length in *len_r.
 */
char *qp_decode(const char *p, size_t n, size_t *len_r);

/*
 * In d[from, len), the bytes of a Content-Type line of libetpan's copy:
 * a tab, or a CR before anything but a LF (not the last byte), made a
 * space (libetpan would take them for characters of a token).
 */
void ct_spaces(char *d, size_t from, size_t len);

/* Bytes of a boundary, and one (RFC 2046 allows 70). */
#define BOUNDARY_BYTES	128

/*
 * A Content-Type value (unfolded) simple enough that libetpan surely
 * reads it the same: "type/subtype", then parameters attr=token or
 * attr="quoted text", white space around them; ASCII only, no comment,
 * no encoded word, no backslash. Writes "type/subtype" lowercased to
 * type (typesz bytes) and the boundary parameter, if any, to bd
 * (BOUNDARY_BYTES; "" when none). Returns 1, or 0 when the value is not
 * that simple, names the boundary twice, or has white space in it.
 */
int ct_strict(const char *v, size_t n, char *type, size_t typesz, char *bd);

#endif
