/* notice.c - non-standard notices, auto-replies, message type (notice.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "hdr.h"
#include "notice.h"
#include "report.h"
#include "report_int.h"
#include "strutil.h"
#include "xalloc.h"

/*
 * Lines that introduce the returned original in a plain-text notice. The
 * notice is what comes before; the original's own text must not feed the
 * rules (a newsletter about "mailbox full" is not a bounce).
 */
static const char *const original_markers[] = {
	"--- Below this line is a copy of the message.",	/* qmail */
	"------ This is a copy of the message, including all the headers.",
	"------ This is a copy of the message's headers.",	/* Exim */
	"----- Original message -----",
	"------ Original message ------",
	"----- Original Message -----",
	"-----Original Message-----",
	"--- Original message follows.",
	"----- Unsent message follows -----",			/* sendmail */
	"----- Message header follows -----",
	"------- Returned Message --------",
	"   ----- Original message follows -----",
	"Original message follows.",
	"--- The header of the original message is following. ---",
	"Content-Type: message/rfc822",
	"------ Original message header ------",
	"------ original message follows ------",
	"Below is a copy of the original message:",
	"The original message was:",
	"----- The following addresses had permanent fatal errors -----",
};

size_t
notice_original_start(const char *text, size_t len)
{
	size_t k, best = len;
	const char *p;

	for (k = 0; k < sizeof original_markers / sizeof original_markers[0];
	    k++) {
		/* Not the sendmail "permanent fatal errors" heading: it is
		 * the notice itself. Listed to document why it is skipped. */
		if (strstr(original_markers[k], "permanent fatal") != NULL)
			continue;
		p = mem_casefind(text, best, original_markers[k]);
		if (p != NULL && (size_t)(p - text) < best)
			best = (size_t)(p - text);
	}
	return best;
}

/* Auto-reply signals in the header and subject (RFC 3834 and common
 * practice). Returns 1 if the message says it was written by a robot
 * answering a message, not by a mail system failing to deliver it. */
static int
is_autoreply(const struct report *r, const struct hdr_block *top)
{
	static const char *const subjects[] = {
		"out of office", "out of the office", "automatic reply",
		"auto reply", "autoreply", "auto-reply", "auto:",
		"autoresponse", "auto response", "vacation", "away from",
		"reponse automatique", "réponse automatique", "absence",
		"abwesenheit", "automatische antwort", "respuesta automática",
		"respuesta automatica", "fuera de la oficina",
		"risposta automatica", "fuori ufficio", "automatisch antwoord",
		"afwezig", "auto-réponse", "autoresponder",
	};
	const char *v;
	size_t k;

	if (hdr_get(top, "x-autoreply") != NULL ||
	    hdr_get(top, "x-autorespond") != NULL ||
	    hdr_get(top, "x-autoresponder") != NULL)
		return 1;
	if ((v = hdr_get(top, "auto-submitted")) != NULL &&
	    mem_casefind(v, strlen(v), "auto-replied") != NULL)
		return 1;
	if ((v = hdr_get(top, "precedence")) != NULL &&
	    mem_casefind(v, strlen(v), "auto_reply") != NULL)
		return 1;
	if ((v = hdr_get(top, "x-auto-response-suppress")) != NULL &&
	    r->subject != NULL && mem_casefind(r->subject,
	    strlen(r->subject), "auto") != NULL)
		return 1;
	if (r->subject != NULL)
		for (k = 0; k < sizeof subjects / sizeof subjects[0]; k++)
			if (mem_casefind(r->subject, strlen(r->subject),
			    subjects[k]) != NULL)
				return 1;
	return 0;
}

/* Does the message present itself as a delivery failure notice? */
static int
looks_like_bounce(const struct report *r, const struct hdr_block *top)
{
	static const char *const froms[] = {
		"mailer-daemon", "postmaster", "mail-daemon", "maildaemon",
		"mailerdaemon", "bounce", "mail delivery",
	};
	static const char *const subjects[] = {
		"undeliver", "undelivered", "delivery status notification",
		"delivery failure", "delivery failed", "failure notice",
		"returned mail", "mail delivery failed", "delivery problem",
		"could not be delivered", "non remis", "non-remis",
		"nondeliverable", "non-delivery", "not delivered", "rejected",
		"delivery notification", "returned to sender", "mail failure",
		"unzustellbar", "no se puede entregar", "error",
		"delayed mail", "warning: could not send", "delivery delay",
	};
	const char *v = hdr_get(top, "from");
	size_t k;

	if (hdr_get(top, "x-failed-recipients") != NULL)
		return 1;
	if (v != NULL)
		for (k = 0; k < sizeof froms / sizeof froms[0]; k++)
			if (mem_casefind(v, strlen(v), froms[k]) != NULL)
				return 1;
	if (r->subject != NULL)
		for (k = 0; k < sizeof subjects / sizeof subjects[0]; k++)
			if (mem_casefind(r->subject, strlen(r->subject),
			    subjects[k]) != NULL)
				return 1;
	return 0;
}

/* X-Failed-Recipients: a, b (Exim and others). */
static void
scan_x_failed(struct report *r, const struct hdr_block *top)
{
	char a[CAP_ADDRESS_BYTES + 1];
	size_t i = 0;
	int f;

	while ((f = hdr_next(top, "x-failed-recipients", &i)) >= 0) {
		const char *v = top->f[f].value, *s = v;
		size_t n = top->f[f].len;

		while (s < v + n) {
			const char *e = memchr(s, ',', n - (size_t)(s - v));

			if (e == NULL)
				e = v + n;
			if (addr_extract(s, (size_t)(e - s), a, sizeof a) &&
			    report_rcpt_find(r, a) == NULL &&
			    report_rcpt_add(r, a, "x-failed-recipients") ==
			    NULL)
				return;
			s = e + 1;
		}
	}
}

void
notice_finish(struct report_ctx *ctx, int feedback)
{
	struct report *r = ctx->r;
	const struct hdr_block *top = ctx->top;
	struct report_rcpt *rc;
	size_t i;

	if (feedback) {
		r->type = REPORT_ARF;
		if (r->nrcpt == 0 && ctx->orig_to[0] != '\0' &&
		    (rc = report_rcpt_add(r, ctx->orig_to, "arf-original-to"))
		    != NULL && ctx->arf_feedback_type != NULL)
			rc->feedback_type = xstrdup(ctx->arf_feedback_type);
		return;
	}
	if (r->nrcpt > 0) {
		r->type = REPORT_DSN;
		return;
	}
	if (looks_like_bounce(r, top) || ctx->has_dsn_part) {
		scan_x_failed(r, top);
		if (r->nrcpt > 0 || ctx->has_dsn_part) {
			r->type = ctx->has_dsn_part ? REPORT_DSN :
			    REPORT_NONSTANDARD;
			for (i = 0; i < r->nrcpt; i++) {
				rc = &r->rcpt[i];
				if (rc->status == NULL &&
				    ctx->orphan_status != NULL)
					rc->status = str_sanitize(
					    ctx->orphan_status,
					    strlen(ctx->orphan_status), 15);
				if (rc->action == NULL &&
				    ctx->orphan_action != NULL) {
					rc->action = str_sanitize(
					    ctx->orphan_action,
					    strlen(ctx->orphan_action), 32);
					str_lower(rc->action);
				}
			}
			return;
		}
	}
	if (is_autoreply(r, top)) {
		r->type = REPORT_AUTOREPLY;
		if (r->from != NULL)
			report_rcpt_add(r, r->from, "autoreply-from");
		return;
	}
	r->type = REPORT_UNKNOWN;
}
