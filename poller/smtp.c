/* smtp.c - the relay, with libetpan's SMTP client (see smtp.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <libetpan/libetpan.h>

#include "log.h"
#include "mailmsg.h"
#include "smtp.h"
#include "strutil.h"
#include "tls.h"
#include "xalloc.h"

struct smtp {
	mailsmtp *m;
	char *host;
	int broken;		/* stream unusable: close it, no QUIT */
	enum smtp_error error;
};

enum smtp_error
smtp_error(const struct smtp *s)
{
	return s ? s->error : SMTP_ERR_TEMP;
}

int
smtp_usable(const struct smtp *s)
{
	return s != NULL && !s->broken && s->m != NULL &&
	    s->m->stream != NULL;
}

/* The relay's last reply, safe for a log line or a database column. */
static char *
reply_text(const struct smtp *s)
{
	const char *t = s->m && s->m->response ? s->m->response : "";
	size_t n = strlen(t);

	/* libetpan keeps the lines of a reply, each ending in "\n". */
	while (n > 0 && (t[n - 1] == '\n' || t[n - 1] == '\r'))
		n--;
	return str_sanitize(t, n, 200);
}

/* Describe a failed command into err; mark a dead stream. */
static void
describe(struct smtp *s, const char *what, int r, char *err, size_t errlen)
{
	char *text;

	if (r == MAILSMTP_ERROR_STREAM || r == MAILSMTP_ERROR_SSL ||
	    r == MAILSMTP_ERROR_CONNECTION_REFUSED) {
		s->broken = 1;
		snprintf(err, errlen, "%s: %s", what,
		    r == MAILSMTP_ERROR_CONNECTION_REFUSED ? "cannot connect" :
		    r == MAILSMTP_ERROR_SSL ? "TLS handshake failed" :
		    "connection lost or timed out");
		return;
	}
	text = reply_text(s);
	snprintf(err, errlen, "%s: %d %s", what, s->m->response_code, text);
	free(text);
}

/* Log a failure of smtp_open and remember its kind. */
static int
open_fail(struct smtp *s, const char *what, int r, enum smtp_error kind)
{
	char err[400];

	describe(s, what, r, err, sizeof err);
	log_error("smtp: host=%s %s", s->host, err);
	s->error = kind;
	return -1;
}

/*
 * TCP connection to host:port within timeout seconds (libetpan's SMTP
 * connect waits for the greeting without a timeout of its own). Returns
 * a blocking socket, or -1 with the reason in err.
 */
static int
tcp_connect(const char *host, unsigned port, unsigned timeout, char *err,
    size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM }, *res, *ai;
	char serv[16];
	int fd = -1, r;

	snprintf(serv, sizeof serv, "%u", port);
	if ((r = getaddrinfo(host, serv, &hints, &res)) != 0) {
		snprintf(err, errlen, "connect: %s", gai_strerror(r));
		return -1;
	}
	snprintf(err, errlen, "connect: cannot connect");
	for (ai = res; ai != NULL && fd == -1; ai = ai->ai_next) {
		struct pollfd pfd;
		int soerr = 0;
		socklen_t sl = sizeof soerr;

		fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (fd == -1)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == -1) {
			pfd.fd = fd;
			pfd.events = POLLOUT;
			if (errno != EINPROGRESS ||
			    poll(&pfd, 1, (int)timeout * 1000) != 1 ||
			    getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr,
			    &sl) == -1 || soerr != 0) {
				if (soerr != 0)
					snprintf(err, errlen, "connect: %s",
					    strerror(soerr));
				else if (errno == EINPROGRESS)
					snprintf(err, errlen, "connect: no "
					    "answer within timeout=%us",
					    timeout);
				close(fd);
				fd = -1;
				continue;
			}
		}
		if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) ==
		    -1) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(res);
	return fd;
}

/* EHLO, or HELO for an old relay when nothing else is needed. */
static int
hello(struct smtp *s, const struct endpoint *ep)
{
	int r = mailesmtp_ehlo(s->m);

	if (r == MAILSMTP_ERROR_NOT_IMPLEMENTED && ep->tls == TLS_NONE &&
	    ep->user == NULL)
		r = mailsmtp_helo(s->m);
	if (r != MAILSMTP_NO_ERROR)
		return open_fail(s, "EHLO", r, SMTP_ERR_TEMP);
	return 0;
}

int
smtp_open(const struct endpoint *ep, const char *password,
    struct smtp **s_r)
{
	struct smtp *s = xcalloc(1, sizeof *s);
	unsigned port = ep->port != 0 ? ep->port : ep->tls == TLS_IMPLICIT ?
	    465 : ep->tls == TLS_STARTTLS ? 587 : 25;
	char err[512];
	mailstream *stream;
	int r, fd;

	*s_r = s;
	s->host = xstrdup(ep->host);
	if ((s->m = mailsmtp_new(0, NULL)) == NULL) {
		s->error = SMTP_ERR_TEMP;
		return -1;
	}
	mailsmtp_set_timeout(s->m, ep->timeout);
	if ((fd = tcp_connect(ep->host, port, ep->timeout, err,
	    sizeof err)) == -1) {
		log_error("smtp: host=%s port=%u %s", s->host, port, err);
		s->broken = 1;
		s->error = SMTP_ERR_TEMP;
		return -1;
	}
	/* Every read of the stream, the greeting first, has the timeout. */
	stream = ep->tls == TLS_IMPLICIT ?
	    mailstream_ssl_open_with_callback_timeout(fd, ep->timeout,
	    tls_set_sni, s->host) :
	    mailstream_socket_open_timeout(fd, ep->timeout);
	if (stream == NULL) {
		close(fd);
		s->broken = 1;
		return open_fail(s, "connect", ep->tls == TLS_IMPLICIT ?
		    MAILSMTP_ERROR_SSL : MAILSMTP_ERROR_STREAM,
		    ep->tls == TLS_IMPLICIT ? SMTP_ERR_TLS : SMTP_ERR_TEMP);
	}
	/* mailsmtp_connect closes the stream itself on failure. */
	if ((r = mailsmtp_connect(s->m, stream)) != MAILSMTP_NO_ERROR) {
		s->broken = 1;
		return open_fail(s, "greeting", r, SMTP_ERR_TEMP);
	}
	if (ep->tls == TLS_IMPLICIT && tls_verify(s->m->stream, ep->host,
	    ep->ca_file, ep->tls_fingerprint, err, sizeof err) == -1)
		goto refused;
	if (hello(s, ep) == -1)
		return -1;
	if (ep->tls == TLS_STARTTLS) {
		if (!(s->m->esmtp & MAILSMTP_ESMTP_STARTTLS)) {
			/* Never fall back to plain text. */
			log_error("smtp: host=%s does not offer STARTTLS; "
			    "refusing to send without TLS", s->host);
			s->broken = 1;
			s->error = SMTP_ERR_TLS;
			return -1;
		}
		r = mailsmtp_socket_starttls_with_callback(s->m, tls_set_sni,
		    s->host);
		if (r != MAILSMTP_NO_ERROR) {
			s->broken = 1;
			return open_fail(s, "STARTTLS", r, SMTP_ERR_TLS);
		}
		mailstream_low_set_timeout(mailstream_get_low(s->m->stream),
		    ep->timeout);
		if (tls_verify(s->m->stream, ep->host, ep->ca_file,
		    ep->tls_fingerprint, err, sizeof err) == -1)
			goto refused;
		/* RFC 3207: forget what was said before TLS. */
		if (hello(s, ep) == -1)
			return -1;
	}
	if (ep->user != NULL && password != NULL) {
		r = mailsmtp_auth(s->m, ep->user, password);
		if (r != MAILSMTP_NO_ERROR)
			return open_fail(s, "AUTH", r,
			    r == MAILSMTP_ERROR_STREAM ? SMTP_ERR_TEMP :
			    SMTP_ERR_AUTH);
	}
	return 0;
refused:
	log_error("smtp: host=%s certificate refused: %s (ca_file=%s)",
	    s->host, err, ep->ca_file ? ep->ca_file : "system");
	s->broken = 1;
	s->error = SMTP_ERR_TLS;
	return -1;
}

/* After a refused MAIL or RCPT: RSET, so that the next message can go. */
static void
reset(struct smtp *s)
{
	if (!s->broken && mailsmtp_reset(s->m) != MAILSMTP_NO_ERROR)
		s->broken = 1;
}

/*
 * The outcome of a refused command: a 5xx to RCPT, DATA or the message is
 * for good, for that recipient. A 5xx to MAIL FROM, or 530/535 (a login
 * needed or refused) to any command, refuses us, not the recipient: the
 * mail waits, and so will every other (SMTP_ERR_SENDER).
 */
static enum send_result
refused(struct smtp *s, const char *what, int r, char *err, size_t errlen)
{
	int code = s->m->response_code;
	int mail_from = strcmp(what, "MAIL FROM") == 0;

	describe(s, what, r, err, errlen);
	if (!s->broken && (code == 530 || code == 535 ||
	    (mail_from && code >= 500 && code < 600))) {
		s->error = SMTP_ERR_SENDER;
		reset(s);
		return SEND_TEMP;
	}
	if (s->broken)
		return SEND_TEMP;
	reset(s);
	return code >= 500 && code < 600 ? SEND_PERM : SEND_TEMP;
}

enum send_result
smtp_send(struct smtp *s, const char *mail_from, const char *rcpt,
    const char *data, size_t len, char *err, size_t errlen)
{
	int r;

	if (!smtp_usable(s)) {
		snprintf(err, errlen, "no connection to the relay");
		return SEND_TEMP;
	}
	/* libetpan pastes these into the command line: check them. */
	if (!mailmsg_valid_address(mail_from)) {
		snprintf(err, errlen, "invalid sender address");
		return SEND_PERM;
	}
	if (!mailmsg_valid_address(rcpt)) {
		snprintf(err, errlen, "invalid recipient address");
		return SEND_PERM;
	}
	if ((r = mailsmtp_mail(s->m, mail_from)) != MAILSMTP_NO_ERROR)
		return refused(s, "MAIL FROM", r, err, errlen);
	if ((r = mailsmtp_rcpt(s->m, rcpt)) != MAILSMTP_NO_ERROR)
		return refused(s, "RCPT TO", r, err, errlen);
	if ((r = mailsmtp_data(s->m)) != MAILSMTP_NO_ERROR)
		return refused(s, "DATA", r, err, errlen);
	/* libetpan ends the data with CRLF "." CRLF itself: the message's
	 * own last line end would add an empty line. */
	if (len >= 2 && data[len - 2] == '\r' && data[len - 1] == '\n')
		len -= 2;
	if ((r = mailsmtp_data_message(s->m, data, len)) != MAILSMTP_NO_ERROR)
		return refused(s, "end of DATA", r, err, errlen);
	return SEND_OK;
}

void
smtp_close(struct smtp **pp)
{
	struct smtp *s = *pp;

	if (s == NULL)
		return;
	if (s->m != NULL) {
		if (s->broken && s->m->stream != NULL) {
			mailstream_close(s->m->stream);
			s->m->stream = NULL;
		}
		/* mailsmtp_free sends QUIT on a live stream. */
		mailsmtp_free(s->m);
	}
	free(s->host);
	free(s);
	*pp = NULL;
}
