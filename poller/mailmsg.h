/*
 * mailmsg.h - one plain-text notification mail (RFC 5322 + MIME), built
 * so that no value can forge a header.
 *
 * Every header value is checked, never trusted: an address or a name with
 * CR, LF or any other control character, an address that is not a plain
 * local@domain, invalid UTF-8 — the message is refused (-1). The subject
 * and a non-ASCII sender name are RFC 2047 encoded words (UTF-8, base64);
 * the body is UTF-8, quoted-printable, CRLF line ends. Headers: From, To,
 * Subject, Date, Message-ID, MIME-Version, Content-Type,
 * Content-Transfer-Encoding, Auto-Submitted: auto-generated.
 */
#ifndef REBOND_MAILMSG_H
#define REBOND_MAILMSG_H

#include <stddef.h>
#include <time.h>

/* Bytes of a built message. */
#define MAILMSG_MAX_BYTES (4 * 1024 * 1024)

struct mailmsg {
	const char *from;	/* addr-spec */
	const char *from_name;	/* display name (UTF-8) or NULL */
	const char *to;		/* addr-spec */
	const char *subject;	/* UTF-8, one line */
	const char *body;	/* UTF-8, LF or CRLF line ends */
	time_t date;
	const char *message_id;	/* without <>: left@right */
};

/*
 * Build m into a new buffer (*data_r, *len_r; free()). Returns 0, or -1
 * with the reason in err (nothing allocated).
 */
int mailmsg_build(const struct mailmsg *m, char **data_r, size_t *len_r,
    char *err, size_t errlen);

/*
 * 1 if s is a plain addr-spec fit for an SMTP command and a header:
 * local@domain, printable ASCII, no blank, no <>()[],;:"\, at most 254
 * bytes; else 0.
 */
int mailmsg_valid_address(const char *s);

#endif
