/* notice.c - non-standard notices, auto-replies, message type (notice.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "hdr.h"
#include "notice.h"
#include "report.h"
#include "report_int.h"
#include "strutil.h"
#include "xalloc.h"

/*
 * Lines that introduce the returned original in a plain-text notice. The
 * notice is what comes before; the original's own text must not feed the
 * rules (a newsletter about "mailbox full" is not a bounce). Each with
 * its length.
 */
#define M(s)	{ s, sizeof s - 1 }
static const struct marker {
	const char *s;
	size_t n;
} original_markers[] = {
	M("--- Below this line is a copy of the message."),	/* qmail */
	M("------ This is a copy of the message, including all the headers."),
	M("------ This is a copy of the message's headers."),	/* Exim */
	M("----- Original message -----"),
	M("------ Original message ------"),
	M("----- Original Message -----"),
	M("-----Original Message-----"),
	M("--- Original message follows."),
	M("----- Unsent message follows -----"),	/* sendmail */
	M("----- Message header follows -----"),
	M("------- Returned Message --------"),
	M("----- Original message follows -----"),
	M("Original message follows."),
	M("--- The header of the original message is following. ---"),
	M("Content-Type: message/rfc822"),
	M("------ Original message header ------"),
	M("------ original message follows ------"),
	M("Below is a copy of the original message:"),
	M("The original message was:"),
	M("Message headers follow."),
	M("Included is a copy of the message header:"),
	M("------ The header of the original message is following"),
	M("Original message headers:"),
};
/* (Not sendmail's "----- The following addresses had permanent fatal
 * errors -----": that heading starts the notice itself.) */

/* The same as rule lines of any length: "---- START OF RETURNED MESSAGE
 * ----", "==== Original message ====". */
static const struct marker dashed_markers[] = {
	M("start of returned message"),
	M("returned message"),
	M("original message"),
	M("unsent message"),
	M("start of original message"),
	M("header of the source mail"),
	M("header of the original"),
	M("headers of the original"),
	M("copy of the message"),
	M("message headers follow"),
};
#undef M

size_t
notice_original_start(const char *text, size_t len)
{
	size_t off = 0, k, i;

	/* The markers start a line (after white space, which they do not
	 * start with): one pass. */
	while (off < len) {
		const char *nl = memchr(text + off, '\n', len - off);
		size_t e = nl ? (size_t)(nl - text) : len;

		for (i = off; i < e && (text[i] == ' ' || text[i] == '\t'); i++)
			;
		if (i < e && (text[i] == '-' || text[i] == 'C' ||
		    text[i] == 'c' || text[i] == 'O' || text[i] == 'o' ||
		    text[i] == 'B' || text[i] == 'b' || text[i] == 'T' ||
		    text[i] == 't' || text[i] == 'M' || text[i] == 'm' ||
		    text[i] == 'I' || text[i] == 'i'))
			for (k = 0; k < sizeof original_markers /
			    sizeof original_markers[0]; k++) {
				const struct marker *m = &original_markers[k];

				/* (the first letters, then the rest) */
				if ((m->s[0] | 0x20) == (text[i] | 0x20) &&
				    mem_caseprefix_n(text + i, e - i, m->s,
				    m->n))
					return off;
			}
		if (i + 2 < e && (text[i] == '-' || text[i] == '=') &&
		    text[i + 1] == text[i]) {
			size_t j = i;

			while (j < e && (text[j] == '-' || text[j] == '=' ||
			    text[j] == ' '))
				j++;
			for (k = 0; j < e && k < sizeof dashed_markers /
			    sizeof dashed_markers[0]; k++)
				if (mem_caseprefix_n(text + j, e - j,
				    dashed_markers[k].s, dashed_markers[k].n))
					return off;
		}
		off = e + 1;
	}
	return len;
}

/* Auto-reply signals in the header and subject (RFC 3834 and common
 * practice). Returns 1 if the message says it was written by a robot
 * answering a message, not by a mail system failing to deliver it. */
static int
is_autoreply(const struct report *r, const struct hdr_block *top,
    int bounce_like)
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
	/* Mail systems mark their bounces auto-replied too. */
	if (!bounce_like && (v = hdr_get(top, "auto-submitted")) != NULL &&
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
		"mailerdaemon", "bounce", "mail delivery", "mdaemon",
	};
	static const char *const subjects[] = {
		"undeliver", "undelivered", "delivery status notification",
		"delivery failure", "delivery failed", "failure notice",
		"returned mail", "mail delivery failed", "delivery problem",
		"could not be delivered", "non remis", "non-remis",
		"nondeliverable", "non-delivery", "not delivered", "rejected",
		"delivery notification", "returned to sender", "mail failure",
		"unzustellbar", "no se puede entregar", "error",
		"\xe3\x82\xa8\xe3\x83\xa9\xe3\x83\xbc",	/* "error" */
		"\xe4\xb8\x8d\xe9\x81\x94",	/* "not delivered" (ja) */
		"\xe8\xbf\x94\xe9\x80\x81",	/* "returned" (ja) */
		"delayed mail", "warning: could not send", "delivery delay",
	};
	static const char *const bodies[] = {
		"could not be delivered", "couldn't be delivered",
		"cannot be delivered", "undeliverable", "delivery failed",
		"delivery has failed", "delivery to the following",
		"permanent error", "unable to deliver",
		"wasn't able to deliver",
		"was not delivered", "not be delivered", "failed to deliver",
		"could not deliver", "error delivering", "delivery failure",
		"did not reach", "returned mail", "rcpt to:",
		"remote host said",
		"error message below", "non remis", "n'a pas pu etre remis",
		"n'a pas pu être remis", "konnte nicht zugestellt",
		"no se pudo entregar",
	};
	const char *v = hdr_get(top, "from");
	size_t k, n = r->text_len < 4096 ? r->text_len : 4096;

	if (hdr_get(top, "x-failed-recipients") != NULL)
		return 1;
	/* "From: <>": written by a mail system, not by a person. */
	if (v != NULL && (v[0] == '\0' || strcmp(v, "<>") == 0))
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
	/* (the text last: the longest to search) */
	for (k = 0; k < sizeof bodies / sizeof bodies[0]; k++)
		if (mem_casefind(r->text, n, bodies[k]) != NULL)
			return 1;
	return 0;
}

/* ---- lines of the notice --------------------------------------------- */

struct line {
	const char *p;	/* content, after any "> " quoting */
	size_t n;
	size_t indent;	/* leading white space */
	int at;		/* the line holds an '@' */
};

struct lines {
	struct line *l;
	size_t n;
};

/* Split the notice text into lines (forwarded bounces: "> " removed). */
static void
lines_split(const char *t, size_t len, struct lines *ls)
{
	size_t off = 0;
	/* the next '@' from off on (each looked for once) */
	const char *at = memchr(t, '@', len);

	/* As many as there are line ends, and one: allocated once. */
	ls->l = xreallocarray(NULL, mem_count(t, len, '\n') + 1,
	    sizeof *ls->l);
	ls->n = 0;
	while (off < len) {
		const char *nl = memchr(t + off, '\n', len - off);
		size_t e = nl ? (size_t)(nl - t) : len, i = off, ind = 0;

		/* "> " quoting, not an SMTP transcript's ">>> RCPT To". */
		while (i + 1 < e && t[i] == '>' && t[i + 1] == ' ')
			i += 2;
		while (i < e && (t[i] == ' ' || t[i] == '\t'))
			i++, ind++;
		ls->l[ls->n].p = t + i;
		ls->l[ls->n].n = e - i;
		while (ls->l[ls->n].n > 0 &&
		    (ls->l[ls->n].p[ls->l[ls->n].n - 1] == ' ' ||
		    ls->l[ls->n].p[ls->l[ls->n].n - 1] == '\t'))
			ls->l[ls->n].n--;
		ls->l[ls->n].indent = ind;
		while (at != NULL && at < ls->l[ls->n].p)
			at = memchr(at + 1, '@', len - (size_t)(at + 1 - t));
		ls->l[ls->n].at = at != NULL &&
		    at < ls->l[ls->n].p + ls->l[ls->n].n;
		ls->n++;
		off = e + 1;
	}
}

/* Is this address one the notice may name without it having bounced:
 * the bounce's own sender or addressee, the original's sender? */
static int
addr_excluded(const struct report_ctx *ctx, const char *a)
{
	const struct report *r = ctx->r;
	const char *to = hdr_get(ctx->top, "to");
	char b[CAP_ADDRESS_BYTES + 1];
	size_t n;

	if (r->from != NULL && strcmp(r->from, a) == 0)
		return 1;
	if (strncmp(a, "mailer-daemon@", 14) == 0)
		return 1;
	/* The bounce's addressee is the original's sender. */
	if (to != NULL) {
		n = strlen(to);
		while (n > 0) {
			const char *c = memchr(to, ',', n);
			size_t l = c ? (size_t)(c - to) : n;

			if (addr_extract(to, l, b, sizeof b) &&
			    strcmp(a, b) == 0)
				return 1;
			if (c == NULL)
				break;
			n -= l + 1;
			to = c + 1;
		}
	}
	return 0;
}

/*
 * An address line: the line starts (after bullets, quotes or '<') with an
 * address. Writes the address and sets *rest_r to where the text after
 * it starts (past '>', '"', ':', "..."). Returns 1 if it is one.
 */
static int
addr_line(const struct line *ln, char *a, size_t asz, size_t *rest_r)
{
	const char *p = ln->p, *e = ln->p + ln->n, *b, *q;
	size_t i, al;

	if (p < e && (*p == '*' || *p == '-' || *p == '+') && p + 1 < e &&
	    p[1] == ' ')
		p += 2;
	else if (e - p > 3 && p[0] == '-' && p[1] == '-' && p[2] == ' ')
		p += 3;
	/* X.400 (Exchange 5.5): "c=US;a= ;p=Org;o=Site;dda:SMTP=addr;" */
	if (e - p > 2 && (p[0] | 0x20) == 'c' && p[1] == '=' &&
	    (b = mem_casefind(p, (size_t)(e - p), "smtp=")) != NULL)
		p = b + 5;
	/* sendmail: "554 <addr>... reason" */
	if (e - p > 5 && p[0] >= '2' && p[0] <= '5' && p[1] >= '0' &&
	    p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[3] == ' ' &&
	    p[4] == '<')
		p += 4;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	if (p < e && (*p == '<' || *p == '"' || *p == '\''))
		p++;
	b = p;
	while (p < e && *p != '>' && *p != '"' && (*p != '\'' ||
	    addr_quote_inner(b, (size_t)(e - b), (size_t)(p - b))) &&
	    *p != ' ' && *p != '\t' && *p != ',' && *p != ';' && *p != '(' &&
	    *p != '[')
		p++;
	q = p;
	/* "addr:" keeps the colon out; "addr..." the dots. */
	while (q > b && (q[-1] == ':' || q[-1] == '.'))
		q--;
	al = (size_t)(q - b);
	if (!addr_plausible(b, al) || al + 1 > asz)
		return 0;
	for (i = 0; i < al; i++)
		a[i] = (char)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i]);
	a[al] = '\0';
	while (p < e && (*p == '>' || *p == '"' || *p == '\'' || *p == ':' ||
	    *p == '.' || *p == ' ' || *p == '\t' || *p == ','))
		p++;
	*rest_r = (size_t)(p - ln->p);
	return 1;
}

/*
 * "(expanded from: addr)" (sendmail, Postfix) or "(generated from addr)"
 * (Exim): the address the sender used, before an alias or a forward. If
 * a is not NULL, the address goes there. Returns 1 if the line is one.
 */
static int
alias_line(const struct line *ln, char *a, size_t asz)
{
	char tmp[CAP_ADDRESS_BYTES + 1];
	const char *p, *e, *b, *at;
	size_t i;

	if (ln->n < 16 || ln->p[0] != '(' || ln->p[ln->n - 1] != ')')
		return 0;
	e = ln->p + ln->n - 1;
	if (mem_caseprefix(ln->p + 1, ln->n - 1, "expanded from"))
		p = ln->p + 14;
	else if (mem_caseprefix(ln->p + 1, ln->n - 1, "generated from"))
		p = ln->p + 15;
	else
		return 0;
	if (a == NULL)
		a = tmp, asz = sizeof tmp;
	/* the address alone, as written ("x@y..." is none) */
	while (p < e && (*p == ':' || *p == ' '))
		p++;
	if (p < e && *p == '<')
		p++;
	b = p;
	while (p < e && *p != '>' && *p != ' ')
		p++;
	/* (and a domain with a dot: "list@host" names no mailbox of ours) */
	if (!addr_plausible(b, (size_t)(p - b)) || (size_t)(p - b) >= asz ||
	    (at = memchr(b, '@', (size_t)(p - b))) == NULL ||
	    memchr(at, '.', (size_t)(p - at)) == NULL)
		return 0;
	for (i = 0; i < (size_t)(p - b); i++)
		a[i] = (char)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 : b[i]);
	a[p - b] = '\0';
	return 1;
}

/* Does the line start with "addr:" or "<addr>:"? */
static int
addr_colon(const struct line *ln, const char *a)
{
	size_t al = strlen(a), i = 0;

	while (i < ln->n && (ln->p[i] == ' ' || ln->p[i] == '<' ||
	    ln->p[i] == '"'))
		i++;
	if (i + al >= ln->n || strncasecmp(ln->p + i, a, al) != 0)
		return 0;
	i += al;
	while (i < ln->n && (ln->p[i] == '>' || ln->p[i] == '"'))
		i++;
	return i < ln->n && ln->p[i] == ':';
}

/* "554 <addr>... reason": sendmail's per-recipient summary line. */
static int
sendmail_summary(const struct line *ln)
{
	const char *p = ln->p;

	return ln->n > 6 && p[0] >= '2' && p[0] <= '5' && p[1] >= '0' &&
	    p[1] <= '9' && p[2] >= '0' && p[2] <= '9' && p[3] == ' ' &&
	    p[4] == '<' && memmem(p, ln->n, ">...", 4) != NULL;
}

/* Lines [from, to) joined with spaces, or NULL if empty. */
static char *
lines_join(const struct lines *ls, size_t from, size_t to)
{
	struct buf d;
	size_t j;

	buf_init(&d, CAP_DIAGNOSTIC_BYTES);
	for (j = from; j < to && j < ls->n; j++) {
		if (ls->l[j].n == 0)
			continue;
		if (d.len > 0)
			buf_putc(&d, ' ');
		buf_append(&d, ls->l[j].p, ls->l[j].n);
	}
	if (d.len == 0) {
		buf_free(&d);
		return NULL;
	}
	return buf_steal(&d);
}

/* Blank line? */
static int
line_blank(const struct line *ln)
{
	return ln->n == 0;
}

/* Does the line look like an SMTP reply ("550 5.1.1 ...", "550-...")? */
static int
line_smtp_reply(const struct line *ln)
{
	char st[16];

	if (ln->n > 4 && ln->p[0] >= '2' && ln->p[0] <= '5' &&
	    reply_code_find(ln->p, ln->n) != 0)
		return 1;
	return status_find(ln->p, ln->n > 24 ? 24 : ln->n, st);
}

/*
 * The diagnostic of the recipient on address line k: the text after the
 * address, and the following lines until a blank line or the next
 * address line. A paragraph that only holds the address is followed by
 * its explanation: then the next paragraph is taken.
 */
static char *
block_diagnostic(const struct lines *ls, size_t k, size_t rest)
{
	struct buf d;
	char a[CAP_ADDRESS_BYTES + 1];
	size_t j, r2;
	int skipped_blank = 0;

	buf_init(&d, CAP_DIAGNOSTIC_BYTES);
	if (rest < ls->l[k].n)
		buf_append(&d, ls->l[k].p + rest, ls->l[k].n - rest);
	for (j = k + 1; j < ls->n && j < k + 40; j++) {
		const struct line *ln = &ls->l[j];

		if (line_blank(ln)) {
			if (d.len > 0 || skipped_blank)
				break;
			skipped_blank = 1;
			continue;
		}
		if (addr_line(ln, a, sizeof a, &r2))
			break;
		/* Decorative headings ("--- Transcript of session ---"). */
		if (ln->n >= 3 && (memcmp(ln->p, "---", 3) == 0 ||
		    memcmp(ln->p, "===", 3) == 0 ||
		    memcmp(ln->p, "***", 3) == 0))
			continue;
		/* A new heading after a blank line is not ours. */
		if (skipped_blank && ln->indent == 0 && d.len == 0 &&
		    !line_smtp_reply(ln) && ln->n > 0 &&
		    ln->p[ln->n - 1] == ':' && j + 1 < ls->n &&
		    line_blank(&ls->l[j + 1]))
			break;
		if (d.len > 0)
			buf_putc(&d, ' ');
		buf_append(&d, ln->p, ln->n);
	}
	if (d.len == 0) {
		buf_free(&d);
		return NULL;
	}
	return buf_steal(&d);
}

/* The first SMTP reply in the notice, with its continuation lines. */
static char *
notice_reply(const struct lines *ls)
{
	struct buf d;
	size_t j, k;

	for (j = 0; j < ls->n; j++) {
		if (!line_smtp_reply(&ls->l[j]))
			continue;
		buf_init(&d, CAP_DIAGNOSTIC_BYTES);
		for (k = j; k < ls->n && k < j + 6 &&
		    !line_blank(&ls->l[k]); k++) {
			if (d.len > 0)
				buf_putc(&d, ' ');
			buf_append(&d, ls->l[k].p, ls->l[k].n);
		}
		return buf_steal(&d);
	}
	return NULL;
}

/* Give rc a diagnostic (and the codes in it) if it has none. */
static void
rcpt_diag(struct report_rcpt *rc, char *diag)
{
	char st[16];

	if (diag == NULL)
		return;
	if (rc->diagnostic == NULL) {
		report_set(&rc->diagnostic, diag, strlen(diag),
		    CAP_DIAGNOSTIC_BYTES);
		if (rc->reply_code == 0)
			rc->reply_code = reply_code_find(diag, strlen(diag));
		if (rc->status == NULL && status_find_error(diag, strlen(diag),
		    st))
			rc->status = xstrdup(st);
	}
	free(diag);
}

/* Add the notice's SMTP reply to a diagnostic that quotes none. */
static void
rcpt_diag_append(struct report_rcpt *rc, char *reply)
{
	struct buf d;
	char st[16];

	if (reply == NULL)
		return;
	if (rc->diagnostic != NULL && strstr(rc->diagnostic, reply) == NULL) {
		buf_init(&d, CAP_DIAGNOSTIC_BYTES);
		buf_puts(&d, rc->diagnostic);
		buf_putc(&d, ' ');
		buf_puts(&d, reply);
		free(rc->diagnostic);
		rc->diagnostic = buf_steal(&d);
	}
	rc->reply_code = reply_code_find(reply, strlen(reply));
	if (rc->status == NULL && status_find_error(reply, strlen(reply), st))
		rc->status = xstrdup(st);
	free(reply);
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

/*
 * Address lines: "<addr>:" (qmail, Postfix, Yahoo), "  addr" under a
 * failure heading (Exim, Gmail, Exchange, Domino), "addr on DATE"...
 * When only is set, no recipient is added: the lines only give
 * diagnostics to recipients already known.
 */
static void
scan_addr_lines(struct report_ctx *ctx, const struct lines *ls, int only)
{
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	char a[CAP_ADDRESS_BYTES + 1], b[CAP_ADDRESS_BYTES + 1];
	size_t k, rest, prev = 0, talk = 0;
	const char *src;

	for (k = 0; k < ls->n; k++) {
		if (ls->l[k].n >= 16 && mem_caseprefix(ls->l[k].p, ls->l[k].n,
		    "while talking to"))
			talk = k;
		/* (an address line holds an '@') */
		if (!ls->l[k].at)
			continue;
		if (alias_line(&ls->l[k], a, sizeof a)) {
			/* The line it belongs to, above its "(reason: ...)"
			 * lines: an address, which was mailed as a; or
			 * Exim's "an undisclosed address", a recipient. */
			size_t j = k;

			while (j > 0 && ls->l[j - 1].n > 0 &&
			    ls->l[j - 1].p[0] == '(')
				j--;
			if (j > 0 && addr_line(&ls->l[j - 1], b, sizeof b,
			    &rest)) {
				rc = report_rcpt_find(r, b);
				if (rc != NULL && rc->original == NULL &&
				    strcmp(a, b) != 0)
					rc->original = xstrdup(a);
				continue;
			}
			if (only || report_rcpt_find(r, a) != NULL)
				continue;
			if ((rc = report_rcpt_add(r, a, "addr-line")) == NULL)
				return;
			rcpt_diag(rc, block_diagnostic(ls, k, ls->l[k].n));
			continue;
		}
		if (!addr_line(&ls->l[k], a, sizeof a, &rest))
			continue;
		if (sendmail_summary(&ls->l[k])) {
			/* sendmail: "554 <addr>... reason" sums up the
			 * transcript lines above it. */
			size_t from = talk > prev ? talk : prev;

			rc = report_rcpt_find(r, a);
			if (rc == NULL && !only && !addr_excluded(ctx, a))
				rc = report_rcpt_add(r, a, "smtp-transcript");
			if (rc != NULL)
				rcpt_diag(rc, lines_join(ls, from, k + 1));
			prev = k + 1;
			continue;
		}
		prev = k + 1;
		rc = report_rcpt_find(r, a);
		if (rc == NULL) {
			src = addr_colon(&ls->l[k], a) ? "addr-colon" :
			    "addr-line";
			/* "<addr>:" names a recipient even when it is
			 * also the sender; a bare address line may be a
			 * greeting ("addr 様"). */
			if (only || (strcmp(src, "addr-line") == 0 &&
			    addr_excluded(ctx, a)))
				continue;
			if ((rc = report_rcpt_add(r, a, src)) == NULL)
				return;
		}
		rcpt_diag(rc, block_diagnostic(ls, k, rest));
	}
}

/* Does the label (s, n) hold one of words? */
static int
label_has(const char *s, size_t n, const char *const *words)
{
	for (; *words != NULL; words++)
		if (mem_casefind(s, n, *words) != NULL)
			return 1;
	return 0;
}

/* Labels that name a contact ("System Contact", "Postmaster address"),
 * not a recipient nor a reason. */
static const char *const contact_words[] = {
	"contact", "postmaster", "administrator", "support", "helpdesk", NULL,
};

/* Labels that name the recipient ("Recipient", "Undeliverable Address")
 * rather than give the reason. */
static const char *const recipient_words[] = {
	"recipient", "address", "adresse", "destinata", "empf", NULL,
};

/*
 * An address written as "[SMTP:x@y]" or "SMTP:x@y" (MailEnable, Exchange
 * proxy addresses): (*b, *e) narrowed to the addr-spec.
 */
static void
addr_unwrap(const char **b, const char **e)
{
	if (*e - *b >= 2 && **b == '[' && (*e)[-1] == ']')
		(*b)++, (*e)--;
	if (*e - *b > 5 && mem_caseprefix(*b, (size_t)(*e - *b), "smtp:"))
		*b += 5;
}

/* Phrases after which a notice writes the failed address inline. */
static const char *const inline_markers[] = {
	"could not be delivered to", "couldn't be delivered to",
	"cannot be delivered to", "can't be delivered to",
	"was not delivered to", "not be delivered to",
	"delivering your mail to", "deliver your message to",
	"deliver the mail to", "delivery to", "failed to deliver to",
	"unable to deliver to", "undeliverable to", "delivery failed for",
	"delivery failed to", "unknown user:", "unknown user", "user unknown:",
	"rejected recipient", "refused recipient", "recipient rejected:",
	"no such user:", "no such user", "permanent errors:",
	"returned permanent errors:", "your message to", "your mail to",
	"message to", "mail to", "addressed to", "rcpt to:", "recipient:",
	"recipient address:", "recipient is", "for recipient",
	"following address:", "following recipient:", "destinataire :",
	"destinataire:", "adresse :", "empfanger:", "empfaenger:",
	"destinatario:", "local mailbox", "to:",
};

/* "... could not be delivered to: <addr>" and the like. */
static void
scan_inline(struct report_ctx *ctx, const struct lines *ls)
{
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	struct buf col;
	char a[CAP_ADDRESS_BYTES + 1];
	size_t k, m, i, *off;

	/* The lines with an address, runs of blanks made one space
	 * ("undeliverable  to"): offsets into col, or -1 for none. */
	off = xreallocarray(NULL, ls->n ? ls->n : 1, sizeof *off);
	buf_init(&col, CAP_TEXT_BYTES);
	for (k = 0; k < ls->n; k++) {
		const struct line *ln = &ls->l[k];

		off[k] = (size_t)-1;
		if (!ln->at)
			continue;
		off[k] = col.len;
		for (i = 0; i < ln->n; i++) {
			char c = ln->p[i] == '\t' ? ' ' : ln->p[i];

			if (c == ' ' && col.len > off[k] &&
			    col.data[col.len - 1] == ' ')
				continue;
			buf_putc(&col, c);
		}
		buf_putc(&col, '\n');
	}
	for (m = 0; m < sizeof inline_markers / sizeof inline_markers[0];
	    m++) {
		for (k = 0; k < ls->n; k++) {
			const char *lp, *p, *e, *b, *nl;

			if (off[k] == (size_t)-1)
				continue;
			lp = col.data + off[k];
			nl = memchr(lp, '\n', col.len - off[k]);
			e = nl != NULL ? nl : col.data + col.len;
			/* the address follows the marker on its line */
			if ((p = mem_casefind(lp, (size_t)(e - lp),
			    inline_markers[m])) == NULL)
				continue;
			/* "to:" only at the start of a line. */
			if (strcmp(inline_markers[m], "to:") == 0 && p != lp)
				continue;
			p += strlen(inline_markers[m]);
			while (p < e && (*p == ' ' || *p == ':' || *p == '"' ||
			    *p == '\'' || *p == '<' || *p == '(' || *p == '\t' ||
			    *p == '['))
				p++;
			b = p;
			while (p < e && *p != '>' && *p != '"' &&
			    (*p != '\'' || addr_quote_inner(b, (size_t)(e - b),
			    (size_t)(p - b))) && *p != ' ' && *p != ',' &&
			    *p != ')' && *p != ';' && *p != ']')
				p++;
			while (p > b && (p[-1] == '.' || p[-1] == ':'))
				p--;
			addr_unwrap(&b, &p);
			if (!addr_plausible(b, (size_t)(p - b)) ||
			    (size_t)(p - b) >= sizeof a)
				continue;
			for (i = 0; i < (size_t)(p - b); i++)
				a[i] = (char)(b[i] >= 'A' && b[i] <= 'Z' ?
				    b[i] + 32 : b[i]);
			a[p - b] = '\0';
			if (report_rcpt_find(r, a) != NULL ||
			    addr_excluded(ctx, a))
				continue;
			if ((rc = report_rcpt_add(r, a, "inline")) == NULL)
				goto out;
			rcpt_diag(rc, block_diagnostic(ls, k, 0));
		}
		if (r->nrcpt > 0)
			break;
	}
out:
	buf_free(&col);
	free(off);
}

/* Is (s, n) the name of an address field of the original ("From",
 * "MAIL FROM", "Reply-To"...), not a reason? */
static int
header_label(const char *s, size_t n)
{
	static const char *const labels[] = {
		"from", "mail from", "sender", "cc", "bcc", "reply-to",
		"return-path", "envelope-from", "to", "original-recipient",
		"x-original-to", "delivered-to", "smtp.mailfrom",
		"message-id", "in-reply-to", "references",
	};
	size_t k;

	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	for (k = 0; k < sizeof labels / sizeof labels[0]; k++)
		if (strlen(labels[k]) == n && strncasecmp(s, labels[k], n) == 0)
			return 1;
	return 0;
}

/* "Reason text: addr" (IMail and others): the address ends the line and
 * the text before the colon is the diagnostic; after "Recipient:" it is
 * the lines that follow. */
static void
scan_reason_colon_addr(struct report_ctx *ctx, const struct lines *ls)
{
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	char a[CAP_ADDRESS_BYTES + 1], *diag, *more;
	size_t k, i, ll;

	for (k = 0; k < ls->n; k++) {
		const struct line *ln = &ls->l[k];
		const char *e = ln->p + ln->n, *b = e, *c;

		while (b > ln->p && b[-1] != ' ' && b[-1] != '\t')
			b--;
		c = b;
		while (c > ln->p && (c[-1] == ' ' || c[-1] == '\t'))
			c--;
		ll = c > ln->p ? (size_t)(c - 1 - ln->p) : 0;
		if (c <= ln->p + 3 || c[-1] != ':' || header_label(ln->p, ll) ||
		    label_has(ln->p, ll, contact_words))
			continue;
		if (*b == '<')
			b++;
		if (e > b && e[-1] == '>')
			e--;
		addr_unwrap(&b, &e);
		if (!addr_plausible(b, (size_t)(e - b)) ||
		    (size_t)(e - b) >= sizeof a)
			continue;
		for (i = 0; i < (size_t)(e - b); i++)
			a[i] = (char)(b[i] >= 'A' && b[i] <= 'Z' ? b[i] + 32 :
			    b[i]);
		a[e - b] = '\0';
		if (report_rcpt_find(r, a) != NULL || addr_excluded(ctx, a))
			continue;
		if ((rc = report_rcpt_add(r, a, "reason-colon-addr")) == NULL)
			return;
		diag = report_str(ln->p, ll, CAP_DIAGNOSTIC_BYTES);
		if (label_has(ln->p, ll, recipient_words) &&
		    (more = block_diagnostic(ls, k, ln->n)) != NULL) {
			/* "Invalid address: x" keeps its label's words. */
			struct buf d;

			buf_init(&d, CAP_DIAGNOSTIC_BYTES);
			buf_puts(&d, diag);
			buf_putc(&d, ' ');
			buf_puts(&d, more);
			free(diag);
			free(more);
			diag = buf_steal(&d);
		}
		rcpt_diag(rc, diag);
	}
}

/* Sendmail-style transcripts: ">>> RCPT To:<addr>" then "<<< 550 ...". */
static void
scan_transcript(struct report_ctx *ctx, const struct lines *ls)
{
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	char a[CAP_ADDRESS_BYTES + 1];
	size_t k;

	if (mem_casefind(r->text, r->text_len, "rcpt to:") == NULL)
		return;
	for (k = 0; k < ls->n; k++) {
		const struct line *ln = &ls->l[k];
		const char *p = mem_casefind(ln->p, ln->n, "rcpt to:");

		if (p == NULL || !addr_extract(p, ln->n - (size_t)(p - ln->p),
		    a, sizeof a) || addr_excluded(ctx, a))
			continue;
		rc = report_rcpt_find(r, a);
		if (rc == NULL && (rc = report_rcpt_add(r, a,
		    "smtp-transcript")) == NULL)
			return;
		if (k + 1 < ls->n && rc->diagnostic == NULL) {
			struct buf d;
			size_t j;

			buf_init(&d, CAP_DIAGNOSTIC_BYTES);
			for (j = k + 1; j < ls->n && j < k + 6 &&
			    !line_blank(&ls->l[j]); j++) {
				if (d.len > 0)
					buf_putc(&d, ' ');
				buf_append(&d, ls->l[j].p, ls->l[j].n);
			}
			rcpt_diag(rc, d.len ? buf_steal(&d) : NULL);
			buf_free(&d);
		}
	}
}

/* The string member key of object o, or NULL. */
static const char *
json_member_str(const json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

/*
 * The SES object in a JSON text that starts at p (e: its end): the text
 * itself, or the string "Message" of an SNS envelope ("Type":
 * "Notification") that carries it. Returns a new reference, or NULL.
 */
static json_t *
ses_object(const char *p, const char *e)
{
	json_t *root, *in;
	const char *m;

	root = json_loadb(p, (size_t)(e - p), JSON_DISABLE_EOF_CHECK, NULL);
	if (!json_is_object(root)) {
		json_decref(root);
		return NULL;
	}
	if (json_member_str(root, "notificationType") != NULL ||
	    json_member_str(root, "eventType") != NULL)
		return root;
	m = json_member_str(root, "Message");
	in = m != NULL ? json_loads(m, 0, NULL) : NULL;
	json_decref(root);
	if (json_is_object(in) && (json_member_str(in, "notificationType") !=
	    NULL || json_member_str(in, "eventType") != NULL))
		return in;
	json_decref(in);
	return NULL;
}

/* The recipient a notification names (addr: NULL for none), or NULL. */
static struct report_rcpt *
ses_rcpt(struct report *r, const char *addr)
{
	char a[CAP_ADDRESS_BYTES + 1];

	if (addr == NULL || !addr_extract(addr, strlen(addr), a, sizeof a))
		return NULL;
	return report_rcpt_add(r, a, "ses-json");
}

/* The braces tried, nearest first, before the first mention of the
 * notification type. */
#define SES_STARTS	4

/*
 * Amazon SES notifications sent by mail: a JSON object with
 * "notificationType" (or "eventType", for event publishing) Bounce,
 * Complaint or Delivery and the recipients in bounce.bouncedRecipients,
 * complaint.complainedRecipients or delivery.recipients; as SES writes
 * it, or inside the "Message" string of an SNS notification. The
 * object is the one that holds the first mention of the type, or one
 * that starts before it (SES_STARTS tried, nearest first). Returns 1
 * if the text was one.
 */
static int
scan_ses_json(struct report_ctx *ctx)
{
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	struct buf j;
	json_t *ses = NULL, *o, *arr, *it;
	const char *t = r->text, *p, *e, *kind, *v;
	size_t i, n = r->text_len, idx;
	int tries;

	/* (an object's brace first: most notices have none, and two
	 * searches without case cost more than memchr) */
	if (memchr(t, '{', n) == NULL ||
	    (mem_casefind(t, n, "notificationType") == NULL &&
	    mem_casefind(t, n, "eventType") == NULL))
		return 0;
	/* Undo line wrapping ("!\n " is sendmail's long-line split); a
	 * line end is never inside a JSON string. */
	buf_init(&j, CAP_TEXT_BYTES);
	for (i = 0; i < n; i = (size_t)(e - t) + 1) {
		if ((e = memchr(t + i, '\n', n - i)) == NULL)
			e = t + n;
		if (e > t + i && e[-1] == '!' && e + 1 < t + n && e[1] == ' ') {
			buf_append(&j, t + i, (size_t)(e - 1 - (t + i)));
			e++;	/* (the space too) */
		} else
			buf_append(&j, t + i, (size_t)(e - (t + i)));
	}
	p = j.data ? j.data : "";
	e = p + j.len;
	if ((v = mem_casefind(p, j.len, "notificationType")) == NULL)
		v = mem_casefind(p, j.len, "eventType");
	for (tries = 0; v != NULL && ses == NULL && tries < SES_STARTS;
	    tries++) {
		while (v > p && *v != '{')
			v--;
		if (*v != '{')
			break;
		ses = ses_object(v, e);
		if (v == p)
			break;
		v--;
	}
	buf_free(&j);
	if (ses == NULL)
		return 0;
	if ((kind = json_member_str(ses, "notificationType")) == NULL)
		kind = json_member_str(ses, "eventType");
	if (strcasecmp(kind, "Bounce") == 0) {
		o = json_object_get(ses, "bounce");
		arr = json_object_get(o, "bouncedRecipients");
		json_array_foreach(arr, idx, it) {
			if ((rc = ses_rcpt(r, json_member_str(it,
			    "emailAddress"))) == NULL)
				continue;
			if ((v = json_member_str(it, "action")) != NULL) {
				report_set(&rc->action, v, strlen(v), 32);
				if (rc->action != NULL)
					str_lower(rc->action);
			}
			if ((v = json_member_str(it, "status")) != NULL) {
				char st[16];

				if (status_find(v, strlen(v), st))
					rc->status = xstrdup(st);
			}
			if ((v = json_member_str(it, "diagnosticCode")) !=
			    NULL) {
				const char *semi = strchr(v, ';');

				/* "smtp; 550 ..." */
				if (semi != NULL && semi - v < 16)
					v = semi + 1;
				rcpt_diag(rc, report_str(v, strlen(v),
				    CAP_DIAGNOSTIC_BYTES));
			}
		}
	} else if (strcasecmp(kind, "Complaint") == 0) {
		o = json_object_get(ses, "complaint");
		if ((v = json_member_str(o, "complaintFeedbackType")) == NULL ||
		    *v == '\0')
			v = "abuse";
		arr = json_object_get(o, "complainedRecipients");
		json_array_foreach(arr, idx, it)
			if ((rc = ses_rcpt(r, json_member_str(it,
			    "emailAddress"))) != NULL)
				rc->feedback_type = report_str(v, strlen(v), 64);
		ctx->ses_complaint = 1;
	} else if (strcasecmp(kind, "Delivery") == 0) {
		o = json_object_get(ses, "delivery");
		v = json_member_str(o, "smtpResponse");
		arr = json_object_get(o, "recipients");
		json_array_foreach(arr, idx, it)
			if ((rc = ses_rcpt(r, json_string_value(it))) != NULL) {
				rc->action = xstrdup("delivered");
				if (v != NULL)
					rcpt_diag(rc, report_str(v, strlen(v),
					    CAP_DIAGNOSTIC_BYTES));
			}
	}
	json_decref(ses);
	return r->nrcpt > 0;
}

/* A delivery-status block pasted into the text ("Technical report:"). */
static void
dsn_in_text(struct report_ctx *ctx)
{
	struct report *r = ctx->r;
	const char *p = r->text, *f;
	size_t len = r->text_len;

	f = mem_casefind(p, len, "final-recipient:");
	if (f == NULL)
		f = mem_casefind(p, len, "original-recipient:");
	if (f == NULL)
		return;
	/* From the start of the block that holds it. */
	while (f > p && !(f[-1] == '\n' && f - 1 > p && f[-2] == '\n'))
		f--;
	report_dsn_parse(ctx, f, len - (size_t)(f - p));
	for (size_t i = 0; i < r->nrcpt; i++)
		r->rcpt[i].source = "dsn-in-text";
}

/* Status, action, diagnostic of a recipient-less DSN group go to the
 * recipients found elsewhere. */
static void
orphans(struct report_ctx *ctx)
{
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	char st[16];
	size_t i;

	for (i = 0; i < r->nrcpt; i++) {
		rc = &r->rcpt[i];
		if (rc->status == NULL && ctx->orphan_status != NULL &&
		    status_find(ctx->orphan_status,
		    strlen(ctx->orphan_status), st))
			rc->status = xstrdup(st);
		if (rc->action == NULL && ctx->orphan_action != NULL) {
			report_set(&rc->action, ctx->orphan_action,
			    strlen(ctx->orphan_action), 32);
			str_lower(rc->action);
		}
		if (rc->diagnostic == NULL && ctx->orphan_diag != NULL)
			rcpt_diag(rc, xstrdup(ctx->orphan_diag));
	}
}

void
notice_finish(struct report_ctx *ctx, int feedback)
{
	struct report *r = ctx->r;
	const struct hdr_block *top = ctx->top;
	struct report_rcpt *rc;
	struct lines ls;
	const char *v;
	size_t i;
	int bounce;

	/* Complaints without a feedback-report part: Microsoft's JMRP
	 * (the original carries X-HmXmrOriginalRecipient) and Apple Mail's
	 * unsubscribe request (X-Apple-Unsubscribe). */
	if (!feedback && r->nrcpt == 0 && ctx->jmrp_rcpt[0] != '\0') {
		r->type = REPORT_ARF;
		if ((rc = report_rcpt_add(r, ctx->jmrp_rcpt, "jmrp")) != NULL)
			rc->feedback_type = xstrdup("abuse");
		return;
	}
	if (!feedback && r->nrcpt == 0 &&
	    (v = hdr_get(top, "x-apple-unsubscribe")) != NULL &&
	    strncasecmp(v, "true", 4) == 0 && r->from != NULL) {
		r->type = REPORT_ARF;
		if ((rc = report_rcpt_add(r, r->from, "unsubscribe")) != NULL)
			rc->feedback_type = xstrdup("opt-out");
		return;
	}
	if (feedback) {
		r->type = REPORT_ARF;
		if (r->nrcpt == 0 && ctx->orig_to[0] != '\0' &&
		    (rc = report_rcpt_add(r, ctx->orig_to, "arf-original-to"))
		    != NULL && ctx->arf_feedback_type != NULL)
			rc->feedback_type = xstrdup(ctx->arf_feedback_type);
		return;
	}
	if (r->nrcpt == 0 && scan_ses_json(ctx)) {
		r->type = ctx->ses_complaint ? REPORT_ARF : REPORT_NONSTANDARD;
		return;
	}
	bounce = r->nrcpt > 0 || ctx->has_dsn_part ||
	    looks_like_bounce(r, top);
	if (!bounce) {
		if (is_autoreply(r, top, 0)) {
			r->type = REPORT_AUTOREPLY;
			if (r->from != NULL)
				report_rcpt_add(r, r->from, "autoreply-from");
			return;
		}
		r->type = REPORT_UNKNOWN;
		return;
	}
	lines_split(r->text, r->text_len, &ls);
	if (r->nrcpt == 0)
		dsn_in_text(ctx);
	if (r->nrcpt == 0)
		scan_x_failed(r, top);
	if (r->nrcpt > 0) {
		scan_addr_lines(ctx, &ls, 1);
	} else {
		scan_addr_lines(ctx, &ls, 0);
		if (r->nrcpt == 0)
			scan_reason_colon_addr(ctx, &ls);
		if (r->nrcpt == 0)
			scan_inline(ctx, &ls);
	}
	scan_transcript(ctx, &ls);
	if (r->nrcpt == 0 && ctx->orig_to[0] != '\0' &&
	    ctx->orig_to_count == 1) {
		/* A notice that names no address but quotes an SMTP error,
		 * about a message that had a single recipient: that one. */
		char *reply = notice_reply(&ls);

		/* (or a DSN whose report names nobody: Postfix's "Delivery
		 * report unavailable") */
		if ((reply != NULL || ctx->has_dsn_part) &&
		    (rc = report_rcpt_add(r, ctx->orig_to, "original-to")) !=
		    NULL)
			rcpt_diag(rc, reply);
		else
			free(reply);
	}
	if (r->nrcpt == 1 && r->rcpt[0].diagnostic == NULL)
		rcpt_diag(&r->rcpt[0], notice_reply(&ls));
	else if (r->nrcpt == 1 && strcmp(r->rcpt[0].source, "dsn") != 0 &&
	    r->rcpt[0].reply_code == 0 && r->rcpt[0].status == NULL)
		rcpt_diag_append(&r->rcpt[0], notice_reply(&ls));
	free(ls.l);
	orphans(ctx);
	for (i = 0; i < r->nrcpt; i++)
		if (strcmp(r->rcpt[i].source, "dsn") == 0)
			break;
	if (i < r->nrcpt || ctx->has_dsn_part)
		r->type = REPORT_DSN;
	else if (r->nrcpt > 0)
		r->type = REPORT_NONSTANDARD;
	else if (is_autoreply(r, top, 1)) {
		r->type = REPORT_AUTOREPLY;
		if (r->from != NULL)
			report_rcpt_add(r, r->from, "autoreply-from");
	} else
		r->type = REPORT_UNKNOWN;
}
