/*
 * caps.h - every limit on what a remote party can make rebond read or keep.
 *
 * Anyone on the internet can write to the bounce mailbox, so each size that
 * mail controls has a ceiling here, by name. Hitting one never crashes and
 * never grows memory without bound: the parser sets a REPORT_F_CAP_* flag,
 * keeps what it read so far, and the message gets a verdict (review folder
 * when nothing usable is left).
 */
#ifndef REBOND_CAPS_H
#define REBOND_CAPS_H

/* Default and ceiling of [imap] max_message_bytes: bytes fetched per message.
 * A DSN's machine-readable part sits near its start. */
#define CAP_MESSAGE_BYTES_DEFAULT	(1024 * 1024)
#define CAP_MESSAGE_BYTES_MAX		(16 * 1024 * 1024)
#define CAP_MESSAGE_BYTES_MIN		(4 * 1024)

/* Bytes of one header block (top level or a part's) that are parsed. */
#define CAP_HEADER_BYTES		(64 * 1024)
/* Header fields kept per header block. */
#define CAP_HEADER_FIELDS		256
/* Nesting depth of multiparts and message/rfc822 parts. */
#define CAP_MIME_DEPTH			16
/* MIME parts visited per message. */
#define CAP_MIME_PARTS			256
/* Recipients kept per message. */
#define CAP_RECIPIENTS			512
/* Bytes of one line considered by line-oriented parsers; the rest of a
 * longer line is skipped. */
#define CAP_LINE_BYTES			4096
/* Bytes of one DSN field value after unfolding. */
#define CAP_FIELD_BYTES			4096
/* Bytes of human-readable text kept for the text rules. */
#define CAP_TEXT_BYTES			(128 * 1024)
/* Bytes of an address (RFC 5321 says 254 for a path). */
#define CAP_ADDRESS_BYTES		320
/* Bytes of the matched text carried by a verdict. */
#define CAP_MATCH_BYTES			200
/* Bytes of a diagnostic kept in an event row. */
#define CAP_DIAGNOSTIC_BYTES		1000
/* Decoded bytes of one transfer-encoded part. */
#define CAP_DECODED_PART_BYTES		(1024 * 1024)

#endif
