/*
 * classify.c - a reason and a category for each recipient (classify.h).
 *
 * Order of evidence for one recipient:
 *   1. what the message is: an ARF report, an auto-reply, a success DSN;
 *   2. the text (diagnostic, else the notice's text), normalized, against
 *      the text rules: a specific wording beats a generic code;
 *   3. the RFC 3463 status code (the DSN's, else one in the text);
 *   4. the SMTP reply code;
 *   5. Action: delayed (expired), or onhold for an unexplained failure.
 * A delayed delivery is never hard, whatever the text says.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "classify.h"
#include "classify_rules.h"
#include "reason.h"
#include "report.h"
#include "report_int.h"
#include "strutil.h"
#include "textnorm.h"

/* Bytes of normalized text the rules read per recipient. */
#define NORM_BYTES	4096

static int
is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

/*
 * Find one piece (with optional '|' word boundaries at its ends) in
 * (t, n) from offset from; returns the offset of the match, or -1, and
 * sets *end_r.
 */
static long
piece_find(const char *t, size_t n, size_t from, const char *pc, size_t pl,
    size_t *end_r)
{
	int wb = 0, we = 0;
	const char *p;
	size_t at;

	if (pl > 0 && pc[0] == '|')
		wb = 1, pc++, pl--;
	if (pl > 0 && pc[pl - 1] == '|')
		we = 1, pl--;
	if (pl == 0)
		return -1;
	while (from + pl <= n) {
		p = memmem(t + from, n - from, pc, pl);
		if (p == NULL)
			return -1;
		at = (size_t)(p - t);
		if ((!wb || at == 0 || !is_word((unsigned char)t[at - 1])) &&
		    (!we || at + pl == n ||
		    !is_word((unsigned char)t[at + pl]))) {
			*end_r = at + pl;
			return (long)at;
		}
		from = at + 1;
	}
	return -1;
}

/*
 * Does pattern occur in (t, n)? Pieces separated by '*' must appear in
 * order, each within CLASSIFY_GAP bytes of the previous one. Sets the
 * matched span.
 */
static int
pattern_match(const char *t, size_t n, const char *pat, size_t *start_r,
    size_t *end_r)
{
	const char *star = strchr(pat, '*');
	size_t first_len, end, from = 0;
	long at;

	if (star == NULL) {
		at = piece_find(t, n, 0, pat, strlen(pat), &end);
		if (at < 0)
			return 0;
		*start_r = (size_t)at;
		*end_r = end;
		return 1;
	}
	first_len = (size_t)(star - pat);
	while (first_len > 0 && pat[first_len - 1] == ' ')
		first_len--;
	/* Try each occurrence of the first piece. */
	while ((at = piece_find(t, n, from, pat, first_len, &end)) >= 0) {
		const char *rest = star + 1;
		size_t pos = end;
		int ok = 1;

		while (ok && *rest != '\0') {
			const char *next = strchr(rest, '*');
			size_t pl, e2;
			long a2;

			while (*rest == ' ')
				rest++;
			pl = next ? (size_t)(next - rest) : strlen(rest);
			while (pl > 0 && rest[pl - 1] == ' ')
				pl--;
			a2 = piece_find(t, n, pos, rest, pl, &e2);
			if (a2 < 0 || (size_t)a2 - pos > CLASSIFY_GAP)
				ok = 0;
			else
				pos = e2;
			rest = next ? next + 1 : rest + strlen(rest);
		}
		if (ok) {
			*start_r = (size_t)at;
			*end_r = pos;
			return 1;
		}
		from = (size_t)at + 1;
	}
	return 0;
}

/* First text rule matching (t, n), or NULL; sets the matched span. */
static const struct text_rule *
text_match(const char *t, size_t n, size_t *start_r, size_t *end_r)
{
	size_t i;

	if (n == 0)
		return NULL;
	for (i = 0; i < classify_ntext_rules; i++)
		if (pattern_match(t, n, classify_text_rules[i].pattern,
		    start_r, end_r))
			return &classify_text_rules[i];
	return NULL;
}

/* Reason for a status code by the status table, or NULL. */
static const char *
status_reason(const char *st)
{
	const char *dot2;
	size_t i, cl;

	if (st == NULL || *st == '\0')
		return NULL;
	for (i = 0; i < classify_nstatus_rules; i++)
		if (strcmp(classify_status_rules[i].code, st) == 0)
			return classify_status_rules[i].reason;
	dot2 = strchr(st + 2, '.');
	if (dot2 == NULL)
		return NULL;
	cl = (size_t)(dot2 - st);
	for (i = 0; i < classify_nstatus_rules; i++)
		if (strlen(classify_status_rules[i].code) == cl &&
		    strncmp(classify_status_rules[i].code, st, cl) == 0)
			return classify_status_rules[i].reason;
	return NULL;
}

static const char *
reply_reason(int code)
{
	size_t i;

	for (i = 0; i < classify_nreply_rules; i++)
		if (classify_reply_rules[i].code == code)
			return classify_reply_rules[i].reason;
	return NULL;
}

static void
verdict_set(struct verdict *v, const char *reason, const char *rule,
    const char *matched, size_t mlen)
{
	char *s;

	v->reason = reason_lookup(reason) ? reason_lookup(reason) :
	    "undefined";
	v->category = reason_category(v->reason);
	v->rule = rule;
	v->matched[0] = '\0';
	if (matched != NULL && mlen > 0) {
		s = str_sanitize(matched, mlen, CAP_MATCH_BYTES);
		memcpy(v->matched, s, strlen(s) + 1);
		free(s);
	}
}

/* Static rule ids for status and reply codes. */
static const char *
status_rule_id(const char *st)
{
	static const struct {
		const char *code, *id;
	} ids[] = {
		{ "5.1.1", "status.5.1.1" }, { "5.1.2", "status.5.1.2" },
		{ "5.2.2", "status.5.2.2" }, { "4.2.2", "status.4.2.2" },
		{ "5.7.1", "status.5.7.1" },
	};
	size_t i;

	for (i = 0; i < sizeof ids / sizeof ids[0]; i++)
		if (strcmp(ids[i].code, st) == 0)
			return ids[i].id;
	return "status";
}

static int
is_delayed(const struct report_rcpt *rc)
{
	return rc->action != NULL && (strcmp(rc->action, "delayed") == 0 ||
	    strcmp(rc->action, "expired") == 0);
}

static int
is_success(const struct report_rcpt *rc)
{
	if (rc->action != NULL && (strcmp(rc->action, "delivered") == 0 ||
	    strcmp(rc->action, "relayed") == 0 ||
	    strcmp(rc->action, "expanded") == 0 ||
	    strcmp(rc->action, "deliverable") == 0))
		return 1;
	return rc->status != NULL && rc->status[0] == '2' &&
	    (rc->action == NULL || strcmp(rc->action, "failed") != 0);
}

void
classify_rcpt(const struct report *r, size_t i, struct verdict *v_r)
{
	const struct report_rcpt *rc = &r->rcpt[i];
	const struct text_rule *tr;
	const char *src, *reason;
	char norm[NORM_BYTES], st[16];
	size_t n, ms, me, slen;

	if (r->type == REPORT_ARF) {
		verdict_set(v_r, "feedback", "arf.feedback-report",
		    rc->feedback_type, rc->feedback_type ?
		    strlen(rc->feedback_type) : 0);
		return;
	}
	if (r->type == REPORT_AUTOREPLY) {
		verdict_set(v_r, "vacation", "autoreply.rfc3834", r->subject,
		    r->subject ? strlen(r->subject) : 0);
		return;
	}
	if (is_success(rc)) {
		verdict_set(v_r, "delivered", "dsn.action.delivered",
		    rc->action, rc->action ? strlen(rc->action) : 0);
		return;
	}

	/* The text: the recipient's diagnostic, else the notice. */
	src = rc->diagnostic;
	slen = src ? strlen(src) : 0;
	if (slen == 0) {
		src = r->text;
		slen = r->text_len;
	}
	n = textnorm(src ? src : "", slen, norm, sizeof norm);
	tr = text_match(norm, n, &ms, &me);

	/* The status: the DSN's, else one in the diagnostic. */
	st[0] = '\0';
	if (rc->status != NULL && strlen(rc->status) < sizeof st)
		memcpy(st, rc->status, strlen(rc->status) + 1);
	else if (rc->diagnostic != NULL)
		status_find(rc->diagnostic, strlen(rc->diagnostic), st);

	if (tr != NULL) {
		verdict_set(v_r, tr->reason, tr->id, norm + ms, me - ms);
	} else if ((reason = status_reason(st)) != NULL) {
		verdict_set(v_r, reason, status_rule_id(st), st, strlen(st));
	} else if ((reason = reply_reason(rc->reply_code)) != NULL) {
		char code[8];

		snprintf(code, sizeof code, "%d", rc->reply_code);
		verdict_set(v_r, reason, "reply-code", code, strlen(code));
	} else if (is_delayed(rc)) {
		verdict_set(v_r, "expired", "dsn.action.delayed", rc->action,
		    strlen(rc->action));
	} else if (n > 0 || st[0] != '\0') {
		verdict_set(v_r, "onhold", "fallback.unexplained", NULL, 0);
	} else {
		verdict_set(v_r, "undefined", "fallback.nothing", NULL, 0);
	}

	/* A delayed delivery may still succeed: never hard. */
	if (is_delayed(rc) && v_r->category == CAT_HARD) {
		v_r->reason = "expired";
		v_r->category = reason_category("expired");
		v_r->rule = "dsn.action.delayed";
	}
}

void
classify_message(const struct report *r, struct verdict *v_r)
{
	if (r->type == REPORT_AUTOREPLY) {
		verdict_set(v_r, "vacation", "autoreply.rfc3834", r->subject,
		    r->subject ? strlen(r->subject) : 0);
		return;
	}
	if (r->type == REPORT_ARF) {
		verdict_set(v_r, "feedback", "arf.feedback-report", NULL, 0);
		return;
	}
	verdict_set(v_r, "undefined", "message.no-recipient", NULL, 0);
}
