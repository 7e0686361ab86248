/*
 * report.h - a bounce message, parsed into what the classifier needs.
 *
 * report_parse() reads one raw message (RFC 5322, CRLF or LF, any size up
 * to what the caller fetched) with libetpan's MIME parser and a tolerant
 * line parser, and returns a report: per-message fields, and one record
 * per bounced recipient found in the place where its format puts it
 * (DSN Final-/Original-Recipient, X-Failed-Recipients, the known text
 * layouts of non-standard notices). Never "any address in the body".
 *
 * Everything in a report is owned by it, is NUL-terminated UTF-8 with no
 * control characters (mail-derived text is sanitized on the way in), and
 * is freed by report_free(). The input buffer is not referenced after
 * report_parse() returns.
 */
#ifndef REBOND_REPORT_H
#define REBOND_REPORT_H

#include <stddef.h>
#include <time.h>

/* What kind of message this is, as far as the parser can tell. */
enum report_type {
	REPORT_UNKNOWN = 0,	/* nothing recognised: review folder */
	REPORT_DSN,		/* multipart/report; report-type=delivery-status */
	REPORT_NONSTANDARD,	/* a bounce without a DSN part (qmail, Exim...) */
	REPORT_ARF,		/* RFC 5965 feedback report */
	REPORT_AUTOREPLY,	/* RFC 3834 auto-reply, vacation notice */
};

/* report.flags: why a report may be incomplete. */
#define REPORT_F_TRUNCATED	0x0001	/* caller fetched only a prefix */
#define REPORT_F_CAP_HEADER	0x0002	/* CAP_HEADER_BYTES/FIELDS hit */
#define REPORT_F_CAP_DEPTH	0x0004	/* CAP_MIME_DEPTH hit */
#define REPORT_F_CAP_PARTS	0x0008	/* CAP_MIME_PARTS hit */
#define REPORT_F_CAP_RCPTS	0x0010	/* CAP_RECIPIENTS hit */
#define REPORT_F_CAP_TEXT	0x0020	/* CAP_TEXT_BYTES hit */
#define REPORT_F_BAD_MIME	0x0040	/* MIME structure unusable; read as text */
#define REPORT_F_EMPTY		0x0080	/* no header block at all */
#define REPORT_F_CAP_DECODED	0x0100	/* CAP_DECODED_PART_BYTES hit */

/* One bounced (or reported) recipient. Unknown fields are NULL / 0. */
struct report_rcpt {
	char *address;		/* lowercased addr-spec, no <>, or NULL */
	char *original;		/* the address mailed, when not address: the
				 * DSN's Original-Recipient, a notice's
				 * "(expanded from: x)"; else NULL */
	char *action;		/* lowercased DSN Action: failed, delayed... */
	char *status;		/* DSN/enhanced status "5.1.1" */
	int reply_code;		/* SMTP reply code 200..599, or 0 */
	char *remote_mta;	/* Remote-MTA value, or host named in text */
	char *diagnostic;	/* Diagnostic-Code text (type stripped, unfolded)
				 * or the notice's text for this recipient */
	char *feedback_type;	/* ARF Feedback-Type, lowercased */
	char *diagnostic_type;	/* lowercased type of Diagnostic-Code
				 * ("smtp", "x-postfix", "x-unix"), or NULL */
	const char *source;	/* static: where the address was found, e.g.
				 * "dsn", "x-failed-recipients", "text" */
};

struct report {
	enum report_type type;
	unsigned flags;		/* REPORT_F_* */
	char *message_id;	/* the bounce's Message-ID, without <> */
	char *subject;		/* decoded (RFC 2047) to UTF-8 */
	char *from;		/* addr-spec of From:, lowercased */
	char *agent;		/* the bounce's X-Mailer (the software that
				 * wrote it), lowercased, or NULL */
	time_t date;		/* the bounce's Date:, UTC; 0 if none/invalid */
	char *reporting_mta;	/* DSN Reporting-MTA value */
	char *orig_message_id;	/* Message-ID of the returned original */
	/*
	 * Addresses that may carry a VERP tag, lowercased: the bounce's
	 * To, Delivered-To, X-Original-To, Envelope-To and the returned
	 * original's Return-Path, From, Sender and To. Duplicates removed.
	 */
	char **tag_addrs;
	size_t ntag_addrs;
	/* The human-readable text (text/plain parts, or the body), decoded
	 * to UTF-8, at most CAP_TEXT_BYTES, without the returned original:
	 * what the text rules read. Sanitized, but line breaks are kept
	 * (LF; the only control character it may hold). Never NULL. */
	char *text;
	size_t text_len;
	struct report_rcpt *rcpt;
	size_t nrcpt;
};

/*
 * Set up what report_parse() needs once (libetpan's conversion hook,
 * report.c). report_parse() does it on first use; after this call,
 * parsing from several threads at once is safe.
 */
void report_init(void);

/*
 * Parse the raw message (data, len). `truncated` says the caller fetched
 * only a prefix of a longer message (sets REPORT_F_TRUNCATED).
 * Always returns a report (possibly REPORT_UNKNOWN with no recipients):
 * bad mail is a verdict, not an error. Free it with report_free().
 * A message that names no recipient, whose first returned original is
 * a delivery report (a bounce forwarded as an attachment), is read as
 * that report when it names recipients (one level only).
 */
struct report *report_parse(const char *data, size_t len, int truncated);

/* Free a report and set *pp to NULL. NULL-safe. */
void report_free(struct report **pp);

/*
 * A parser keeps its working buffers (the MIME parser's copy, the text,
 * the header) from one message to the next, so that a thread that parses
 * many messages does not allocate them again for each. One parser per
 * thread; the reports it returns are independent of it (report_free()).
 */
struct report_parser;

/*
 * What a parser may leave out of its reports, for a caller that does not
 * read it (the classify command): the VERP addresses (tag_addrs stays
 * empty), the date (stays 0). Everything else is as report_parse()'s.
 */
#define REPORT_SKIP_TAGS	0x0001
#define REPORT_SKIP_DATE	0x0002

/* A new parser; skip: REPORT_SKIP_* or 0. Free it with
 * report_parser_free(). */
struct report_parser *report_parser_new(unsigned skip);

/* Free a parser and its buffers; set *pp to NULL. NULL-safe. */
void report_parser_free(struct report_parser **pp);

/*
 * A message without LF whose lines end with a CR (old Mac mail programs),
 * or two (a CRLF message converted so), as LF lines: the copy in b
 * (its former contents forgotten), *len_r updated; else data itself.
 * report_parse() does it; a reader that splits an mbox does it first.
 */
struct buf;
const char *report_lf_lines(struct buf *b, const char *data,
    size_t *len_r);

/* As report_parse(), with p's buffers. */
struct report *report_parser_parse(struct report_parser *p,
    const char *data, size_t len, int truncated);

#endif
