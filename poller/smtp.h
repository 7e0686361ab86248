/*
 * smtp.h - mail to the relay ([smtp]) with libetpan's SMTP client.
 *
 * Connection as for IMAP: implicit TLS, or plain then STARTTLS (refused,
 * never downgraded, when the relay does not offer it), the certificate
 * chain and host name verified by tls_verify() before anything else is
 * sent, EHLO again after STARTTLS, then AUTH when [smtp] user is set.
 * tls = none only for a loopback relay (checked by the configuration).
 * One connection carries every message of a run (RSET after a refusal).
 */
#ifndef REBOND_SMTP_H
#define REBOND_SMTP_H

#include <stddef.h>

#include "conf.h"
#include "send.h"

enum smtp_error {
	SMTP_ERR_NONE = 0,
	SMTP_ERR_TEMP,		/* unreachable, timeout, 4xx: exit 75 */
	SMTP_ERR_TLS,		/* certificate or host name refused: 76 */
	SMTP_ERR_AUTH,		/* login refused: 77 */
	SMTP_ERR_SENDER,	/* the relay refuses our sender (5xx to MAIL
				   FROM) or wants a login (530/535): 78 */
};

struct smtp;

/*
 * Connect to ep and log in with password (NULL: no AUTH). Returns 0, or
 * -1 after logging why; *s_r is set either way (smtp_error(), then
 * smtp_close()).
 */
int smtp_open(const struct endpoint *ep, const char *password,
    struct smtp **s_r);
/* What made smtp_open() or the connection fail. */
enum smtp_error smtp_error(const struct smtp *s);
/* 1 while the connection can carry another message. */
int smtp_usable(const struct smtp *s);
/*
 * Send (data, len) (CRLF lines; libetpan dot-stuffs them and ends the
 * data) from mail_from to rcpt. SEND_PERM for a 5xx refusal of the
 * recipient or the message, or an unusable address; SEND_TEMP for the
 * rest (then the connection may be unusable: smtp_usable(); or the relay
 * refuses the sender itself: smtp_error() is SMTP_ERR_SENDER); the reason
 * is in err.
 */
enum send_result smtp_send(struct smtp *s, const char *mail_from,
    const char *rcpt, const char *data, size_t len, char *err,
    size_t errlen);
/* QUIT (when possible), free, set *pp to NULL. NULL-safe. */
void smtp_close(struct smtp **pp);

#endif
