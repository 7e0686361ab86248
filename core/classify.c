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

#include <stddef.h>
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
#include "xalloc.h"

/* Bytes of normalized text the rules read per recipient. */
#define NORM_BYTES	4096
/* Text rules the match bitmap can hold. */
#define CLASSIFY_MAX_RULES	2048

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
 * The rest of a pattern after its first piece: pieces separated by '*',
 * each within CLASSIFY_GAP bytes of the previous one, from pos on.
 * Returns 1 and sets *end_r when they all follow in order.
 */
static int
rest_match(const char *t, size_t n, const char *rest, size_t pos,
    size_t *end_r)
{
	while (*rest != '\0') {
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
			return 0;
		pos = e2;
		rest = next ? next + 1 : rest + strlen(rest);
	}
	*end_r = pos;
	return 1;
}

/*
 * All rules are looked up in one pass over the text: their first pieces
 * are indexed by their first two bytes (or their only byte), built once
 * on first use (the table is constant, so this is still a pure function
 * of the input; rebond does not classify from several threads).
 * Then each position of the text is checked against the few rules whose
 * first piece starts there, instead of searching for every rule.
 */
/* Reasons by number, for the per-reason first hit of a text. */
#define CLASSIFY_MAX_REASONS	48

struct rule_index {
	int built;
	const char *reason[CLASSIFY_MAX_REASONS];
	size_t nreason;
	unsigned char rid[CLASSIFY_MAX_RULES];	/* rule -> reason no. */
	const char *piece[CLASSIFY_MAX_RULES];	/* first piece, no '|' */
	unsigned short plen[CLASSIFY_MAX_RULES];
	unsigned char wb[CLASSIFY_MAX_RULES];	/* word boundary before */
	unsigned char we[CLASSIFY_MAX_RULES];	/* ... after (one piece) */
	const char *rest[CLASSIFY_MAX_RULES];	/* after the first '*' */
	unsigned int start2[65536 + 1];
	unsigned short ids2[CLASSIFY_MAX_RULES];
	unsigned int start1[256 + 1];
	unsigned short ids1[CLASSIFY_MAX_RULES];
};

static struct rule_index ridx;

static void
index_build(void)
{
	static unsigned int fill2[65536], fill1[256];
	size_t i;

	if (classify_ntext_rules > CLASSIFY_MAX_RULES)
		abort();	/* the table outgrew the index: a build bug */
	for (i = 0; i < classify_ntext_rules; i++) {
		size_t r;

		for (r = 0; r < ridx.nreason; r++)
			if (strcmp(ridx.reason[r],
			    classify_text_rules[i].reason) == 0)
				break;
		if (r == ridx.nreason) {
			if (r == CLASSIFY_MAX_REASONS)
				abort();	/* too many reasons */
			ridx.reason[ridx.nreason++] =
			    classify_text_rules[i].reason;
		}
		ridx.rid[i] = (unsigned char)r;
	}
	memset(ridx.start2, 0, sizeof ridx.start2);
	memset(ridx.start1, 0, sizeof ridx.start1);
	for (i = 0; i < classify_ntext_rules; i++) {
		const char *p = classify_text_rules[i].pattern;
		const char *star = strchr(p, '*');
		size_t l = star ? (size_t)(star - p) : strlen(p);

		if (*p == '|')
			ridx.wb[i] = 1, p++, l--;
		while (l > 0 && p[l - 1] == ' ' && star != NULL)
			l--;
		if (star == NULL && l > 0 && p[l - 1] == '|')
			ridx.we[i] = 1, l--;
		if (l == 0)
			abort();	/* an empty pattern: a table bug */
		ridx.piece[i] = p;
		ridx.plen[i] = (unsigned short)l;
		ridx.rest[i] = star ? star + 1 : NULL;
		if (l >= 2)
			ridx.start2[((unsigned char)p[0] << 8 |
			    (unsigned char)p[1]) + 1]++;
		else
			ridx.start1[(unsigned char)p[0] + 1]++;
	}
	for (i = 0; i < 65536; i++)
		ridx.start2[i + 1] += ridx.start2[i];
	for (i = 0; i < 256; i++)
		ridx.start1[i + 1] += ridx.start1[i];
	memcpy(fill2, ridx.start2, sizeof fill2);
	memcpy(fill1, ridx.start1, sizeof fill1);
	for (i = 0; i < classify_ntext_rules; i++) {
		const char *p = ridx.piece[i];

		if (ridx.plen[i] >= 2)
			ridx.ids2[fill2[(unsigned char)p[0] << 8 |
			    (unsigned char)p[1]]++] = (unsigned short)i;
		else
			ridx.ids1[fill1[(unsigned char)p[0]]++] =
			    (unsigned short)i;
	}
	ridx.built = 1;
}

/* Which text rules match a text, and where. */
struct hits {
	unsigned char on[CLASSIFY_MAX_RULES];
	unsigned short start[CLASSIFY_MAX_RULES];
	unsigned short end[CLASSIFY_MAX_RULES];
	/* per tier and reason: the first matching rule (table order) */
	short first[3][CLASSIFY_MAX_REASONS];
	int any;
};

/* Does rule k match at position i of (t, n)? Sets *end_r. */
static int
rule_at(const char *t, size_t n, size_t i, size_t k, size_t *end_r)
{
	size_t pl = ridx.plen[k];

	if (i + pl > n || memcmp(t + i, ridx.piece[k], pl) != 0)
		return 0;
	if (ridx.wb[k] && i > 0 && is_word((unsigned char)t[i - 1]))
		return 0;
	if (ridx.rest[k] == NULL) {
		if (ridx.we[k] && i + pl < n &&
		    is_word((unsigned char)t[i + pl]))
			return 0;
		*end_r = i + pl;
		return 1;
	}
	return rest_match(t, n, ridx.rest[k], i + pl, end_r);
}

static void
hits_eval(const char *t, size_t n, struct hits *h)
{
	size_t i, j, k, end;

	if (!ridx.built)
		index_build();
	h->any = 0;
	memset(h->on, 0, classify_ntext_rules);
	memset(h->first, 0xff, sizeof h->first);
	for (i = 0; i < n; i++) {
		unsigned char c0 = (unsigned char)t[i];

		for (j = ridx.start1[c0]; j < ridx.start1[c0 + 1]; j++) {
			k = ridx.ids1[j];
			if (!h->on[k] && rule_at(t, n, i, k, &end)) {
				h->on[k] = 1;
				h->start[k] = (unsigned short)i;
				h->end[k] = (unsigned short)end;
				h->any = 1;
			}
		}
		if (i + 1 < n) {
			unsigned key = (unsigned)c0 << 8 |
			    (unsigned char)t[i + 1];

			for (j = ridx.start2[key]; j < ridx.start2[key + 1];
			    j++) {
				k = ridx.ids2[j];
				if (!h->on[k] && rule_at(t, n, i, k, &end)) {
					h->on[k] = 1;
					h->start[k] = (unsigned short)i;
					h->end[k] = (unsigned short)end;
					h->any = 1;
				}
			}
		}
	}
	if (!h->any)
		return;
	for (k = 0; k < classify_ntext_rules; k++) {
		short *f;

		if (!h->on[k])
			continue;
		f = &h->first[classify_text_rules[k].tier][ridx.rid[k]];
		if (*f < 0)
			*f = (short)k;
	}
}

/* The number of a reason in the index, or -1 if no rule names it. */
static int
reason_no(const char *reason)
{
	size_t r;

	for (r = 0; r < ridx.nreason; r++)
		if (ridx.reason[r] == reason ||
		    strcmp(ridx.reason[r], reason) == 0)
			return (int)r;
	return -1;
}

/* The first matching rule of reason in tier, or -1. */
static long
hits_reason(const struct hits *h, const char *reason, enum text_tier tier)
{
	int r;

	if (!h->any || (r = reason_no(reason)) < 0)
		return -1;
	return h->first[tier][r];
}

/* The first matching rule of tier, any reason, or -1. */
static long
hits_tier(const struct hits *h, enum text_tier tier)
{
	size_t i;

	if (!h->any)
		return -1;
	for (i = 0; i < classify_ntext_rules; i++)
		if (h->on[i] && classify_text_rules[i].tier == tier)
			return (long)i;
	return -1;
}

/* Reason and rule id for a status code, or NULL. */
static const struct status_rule *
status_rule(const char *st)
{
	size_t i;

	if (st == NULL || *st == '\0')
		return NULL;
	for (i = 0; i < classify_nstatus_rules; i++)
		if (strcmp(classify_status_rules[i].code, st) == 0)
			return &classify_status_rules[i];
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

/* The SMTP command a failure answered, as far as the text says. */
enum smtp_cmd {
	CMD_NONE = 0, CMD_CONN, CMD_EHLO, CMD_MAIL, CMD_RCPT, CMD_DATA,
};

static const struct {
	const char *pattern;	/* normalized */
	enum smtp_cmd cmd;
} cmd_markers[] = {
	{ "in reply to rcpt to command", CMD_RCPT },
	{ "after rcpt to", CMD_RCPT },
	{ ">>> rcpt to", CMD_RCPT },
	{ "[rcpt_to]", CMD_RCPT },
	{ "our rcpt to", CMD_RCPT },
	{ "does not like recipient", CMD_RCPT },
	{ "after rcpt command", CMD_RCPT },
	{ "following rcpt command", CMD_RCPT },
	{ "in reply to end of data command", CMD_DATA },
	{ "in reply to data command", CMD_DATA },
	{ "after end of data", CMD_DATA },
	{ "after data", CMD_DATA },
	{ ">>> data", CMD_DATA },
	{ "our final data", CMD_DATA },
	{ "our data", CMD_DATA },
	{ "[data]", CMD_DATA },
	{ "smtp command data", CMD_DATA },
	{ "smtp command: data", CMD_DATA },
	{ "in reply to mail from command", CMD_MAIL },
	{ "after mail from", CMD_MAIL },
	{ ">>> mail from", CMD_MAIL },
	{ "[mail_from]", CMD_MAIL },
	{ "our mail from", CMD_MAIL },
	{ "after initial connection", CMD_CONN },
	{ "while performing the helo handshake", CMD_EHLO },
	{ "while performing the ehlo handshake", CMD_EHLO },
	{ "in reply to ehlo command", CMD_EHLO },
	{ "in reply to helo command", CMD_EHLO },
	{ "after ehlo", CMD_EHLO },
	{ "after helo", CMD_EHLO },
};

/* The command named last in the text (the one that failed). */
static enum smtp_cmd
cmd_find(const char *t, size_t n)
{
	/* Each marker holds one of these words: only the markers of the
	 * words the text holds are searched. */
	static const char *const anchors[] = {
		"rcpt", "recipient", "data", "mail", "helo", "ehlo",
		"connection",
	};
	int present[sizeof anchors / sizeof anchors[0]];
	enum smtp_cmd cmd = CMD_NONE;
	const char *best = NULL, *p;
	size_t k, a;
	int any = 0;

	for (a = 0; a < sizeof anchors / sizeof anchors[0]; a++) {
		present[a] = memmem(t, n, anchors[a], strlen(anchors[a])) !=
		    NULL;
		any |= present[a];
	}
	if (!any)
		return CMD_NONE;
	for (k = 0; k < sizeof cmd_markers / sizeof cmd_markers[0]; k++) {
		size_t pl = strlen(cmd_markers[k].pattern), from = 0;

		for (a = 0; a < sizeof anchors / sizeof anchors[0]; a++)
			if (present[a] && strstr(cmd_markers[k].pattern,
			    anchors[a]) != NULL)
				break;
		if (a == sizeof anchors / sizeof anchors[0])
			continue;
		while (from + pl <= n && (p = memmem(t + from, n - from,
		    cmd_markers[k].pattern, pl)) != NULL) {
			if (best == NULL || p > best) {
				best = p;
				cmd = cmd_markers[k].cmd;
			}
			from = (size_t)(p - t) + 1;
		}
	}
	return cmd;
}

/*
 * The command named in the notice's paragraph about this recipient (a
 * Postfix notice says "(in reply to RCPT TO command)" where its DSN part
 * does not), or anywhere in a notice about one recipient.
 */
static enum smtp_cmd
cmd_near(const struct report *r, const struct report_rcpt *rc)
{
	const char *t = r->text, *p = NULL, *e;
	char *norm;
	size_t n;
	enum smtp_cmd cmd;

	if (r->text_len == 0)
		return CMD_NONE;
	if (rc->address != NULL)
		p = mem_casefind(t, r->text_len, rc->address);
	if (p == NULL) {
		if (r->nrcpt != 1)
			return CMD_NONE;
		p = t;
		e = t + r->text_len;
	} else {
		/* To the end of the paragraph. */
		e = p;
		while (e < t + r->text_len && !(e[0] == '\n' &&
		    e + 1 < t + r->text_len && e[1] == '\n'))
			e++;
	}
	norm = xmalloc(NORM_BYTES);
	n = textnorm(p, (size_t)(e - p), norm, NORM_BYTES);
	cmd = cmd_find(norm, n);
	if (cmd == CMD_NONE && r->nrcpt == 1 && p != t) {
		n = textnorm(t, r->text_len, norm, NORM_BYTES);
		cmd = cmd_find(norm, n);
	}
	free(norm);
	return cmd;
}

/* Before DATA: the message itself was not read yet. */
static int
cmd_before_data(enum smtp_cmd c)
{
	return c == CMD_CONN || c == CMD_EHLO || c == CMD_MAIL ||
	    c == CMD_RCPT;
}

/* Everything the decision reads about one recipient. */
struct evidence {
	size_t n;
	char st[16];		/* status (the remote's specific code) */
	const struct status_rule *sr;	/* its reason, or NULL */
	int reply;
	enum smtp_cmd cmd;
	int smtp_type;		/* diagnostic type smtp (or none) */
	int delayed;
	int x_unix;
	int dsn;		/* the recipient comes from a DSN */
	/* large: set by evidence_text() */
	struct hits h;
	char norm[NORM_BYTES];
};

static int
strong(const struct evidence *e, const char *reason)
{
	return hits_reason(&e->h, reason, TIER_STRONG) >= 0;
}

static int
status_is(const struct evidence *e, const char *reason)
{
	return e->sr != NULL && strcmp(e->sr->reason, reason) == 0;
}

/* A text verdict from rule k. */
static void
verdict_text(struct verdict *v, const struct evidence *e, long k)
{
	const struct text_rule *tr = &classify_text_rules[k];

	verdict_set(v, tr->reason, tr->id, e->norm + e->h.start[k],
	    (size_t)(e->h.end[k] - e->h.start[k]));
}

static void
verdict_status(struct verdict *v, const struct evidence *e,
    const char *reason)
{
	verdict_set(v, reason, e->sr != NULL ? e->sr->id : "status", e->st,
	    strlen(e->st));
}

/* Set *v from reason's phrase if it matched, else from the status. */
static int
verdict_by(struct verdict *v, const struct evidence *e, const char *reason)
{
	long k = hits_reason(&e->h, reason, TIER_STRONG);

	if (k >= 0)
		verdict_text(v, e, k);
	else
		verdict_status(v, e, reason);
	return 1;
}

/*
 * Does a primary reason hold? Each looks at its phrases and the status
 * code, and some at the SMTP command: an unknown user refused after DATA
 * was refused by a filter, not by the directory.
 */
static int
probe(const struct evidence *e, const char *reason, struct verdict *v)
{
	if (strcmp(reason, "userunknown") == 0) {
		/* A code for a bad address with a text that names
		 * another cause ("5.1.1 ... rate limited"): the text. */
		static const char *const veto[] = {
			"norelaying", "blocked", "mailboxfull", "hasmoved",
			"rejected", "notaccept", "speeding", "toomanyconn",
			"authfailure", "requireptr", "badreputation",
			"filtered",
		};
		size_t k;

		if (status_is(e, "userunknown")) {
			for (k = 0; k < sizeof veto / sizeof veto[0]; k++)
				if (strong(e, veto[k]))
					return 0;
			return verdict_by(v, e, reason);
		}
		/*
		 * The phrase alone: refused at RCPT, or a DSN with nothing
		 * else to go by (MTAs write RCPT refusals in their DSNs).
		 * After DATA, with a code that names another cause, or in
		 * a gateway's own notice, it is the recipient's filter.
		 */
		if (strong(e, reason) && (e->cmd == CMD_RCPT ||
		    (e->cmd == CMD_NONE && e->sr == NULL && e->dsn)))
			return verdict_by(v, e, reason);
		return 0;
	}
	if (strcmp(reason, "filtered") == 0) {
		long k = hits_reason(&e->h, "userunknown", TIER_STRONG);

		if (!status_is(e, "filtered") && cmd_before_data(e->cmd))
			return 0;
		if (strong(e, "filtered"))
			return verdict_by(v, e, reason);
		if (k < 0)
			return 0;
		/* "User unknown" from a filter (after DATA, or with a
		 * code for a refused mailbox). */
		verdict_set(v, reason, "text.filtered.after-data",
		    e->norm + e->h.start[k],
		    (size_t)(e->h.end[k] - e->h.start[k]));
		return 1;
	}
	if (strcmp(reason, "rejected") == 0) {
		const char *tr = e->sr != NULL ? e->sr->reason : NULL;

		if (status_is(e, "rejected"))
			return verdict_by(v, e, reason);
		if (e->cmd == CMD_MAIL && memmem(e->norm, e->n,
		    "access denied", 13) != NULL) {
			verdict_set(v, reason, "smtp.mail-from.access-denied",
			    "access denied", 13);
			return 1;
		}
		if (!strong(e, reason))
			return 0;
		if (e->cmd == CMD_MAIL)
			return verdict_by(v, e, reason);
		if (e->cmd == CMD_DATA && (tr == NULL ||
		    strcmp(tr, "userunknown") != 0))
			return verdict_by(v, e, reason);
		if (tr == NULL || strcmp(tr, "securityerror") == 0 ||
		    strcmp(tr, "systemerror") == 0)
			return verdict_by(v, e, reason);
		return 0;
	}
	if (strcmp(reason, "spamdetected") == 0) {
		if (status_is(e, reason))
			return verdict_by(v, e, reason);
		if (e->st[0] == '\0' || cmd_before_data(e->cmd))
			return 0;
		return strong(e, reason) ? verdict_by(v, e, reason) : 0;
	}
	if (strcmp(reason, "hostunknown") == 0) {
		/* "Host not found, try again": DNS trouble, not a domain
		 * that does not exist. */
		if (strong(e, "networkerror"))
			return 0;
		if (status_is(e, reason) || strong(e, reason))
			return verdict_by(v, e, reason);
		return 0;
	}
	if (strcmp(reason, "mesgtoobig") == 0) {
		if (status_is(e, reason))
			return verdict_by(v, e, reason);
		if (status_is(e, "exceedlimit"))
			return 0;
		return strong(e, reason) ? verdict_by(v, e, reason) : 0;
	}
	if (strcmp(reason, "norelaying") == 0) {
		if (e->cmd == CMD_CONN || e->cmd == CMD_EHLO)
			return 0;
		return strong(e, reason) ? verdict_by(v, e, reason) : 0;
	}
	if (strcmp(reason, "contenterror") == 0) {
		if (strong(e, "spamdetected") && e->st[0] != '\0' &&
		    !cmd_before_data(e->cmd))
			return 0;
		if (status_is(e, reason))
			return verdict_by(v, e, reason);
		return strong(e, reason) ? verdict_by(v, e, reason) : 0;
	}
	if (strcmp(reason, "suspend") == 0 && e->reply == 525) {
		verdict_set(v, reason, "reply-code.525", "525", 3);
		return 1;
	}
	/* The others: a phrase, or a status code that names them. */
	if (strong(e, reason) || status_is(e, reason))
		return verdict_by(v, e, reason);
	return 0;
}

/* Reasons Sisimai re-examines when a status code is all it has. */
static int
retryable(const char *reason)
{
	static const char *const r[] = {
		"undefined", "onhold", "systemerror", "securityerror",
		"expired", "networkerror", "hostunknown", "userunknown",
	};
	size_t i;

	for (i = 0; i < sizeof r / sizeof r[0]; i++)
		if (strcmp(r[i], reason) == 0)
			return 1;
	return 0;
}

/*
 * Orange and La Poste label their refusals ("ofr006_102", "lpn007_416",
 * "ofr_506"): the last three digits of the label name the cause.
 */
static int
fr_provider_code(const struct evidence *e, struct verdict *v)
{
	static const char *const labels[] = { "lpnaaa", "lpn", "ofr", "ouk" };
	const char *p = NULL, *q, *end = e->norm + e->n;
	size_t k, i;

	for (k = 0; k < sizeof labels / sizeof labels[0] && p == NULL; k++) {
		const char *f = e->norm;

		/* The last label in the text. */
		while ((q = memmem(f, (size_t)(end - f), labels[k],
		    strlen(labels[k]))) != NULL) {
			if (q == e->norm || !is_word((unsigned char)q[-1]))
				p = q;
			f = q + 1;
		}
	}
	if (p == NULL)
		return 0;
	q = p;
	while (q < end && *q != ' ' && *q != ')' && *q != ']' && *q != '.')
		q++;
	if (q - p < 4 || q[-1] < '0' || q[-1] > '9' || q[-2] < '0' ||
	    q[-2] > '9' || q[-3] < '0' || q[-3] > '9')
		return 0;
	for (i = 0; i < classify_nfr_codes; i++)
		if (memcmp(q - 3, classify_fr_codes[i].code, 3) == 0) {
			verdict_set(v, classify_fr_codes[i].reason,
			    "provider.fr.orange-laposte", p, (size_t)(q - p));
			return 1;
		}
	return 0;
}

/* Decide from one body of evidence. Returns 1 when it did. */
static int
decide(const struct evidence *e, struct verdict *v)
{
	const char *tr;
	size_t i;
	long k;

	if (fr_provider_code(e, v))
		return 1;

	if ((k = hits_tier(&e->h, TIER_DECISIVE)) >= 0) {
		verdict_text(v, e, k);
		return 1;
	}
	if (e->smtp_type)
		for (i = 0; i < classify_norder_primary; i++)
			if (probe(e, classify_order_primary[i], v))
				return 1;
	tr = e->sr != NULL ? e->sr->reason : NULL;
	if (tr == NULL || retryable(tr) || !e->smtp_type) {
		for (i = 0; i < classify_norder_secondary; i++) {
			const char *reason = classify_order_secondary[i];

			if (strcmp(reason, "norelaying") == 0 &&
			    (e->cmd == CMD_CONN || e->cmd == CMD_EHLO))
				continue;
			if ((k = hits_reason(&e->h, reason,
			    TIER_STRONG)) >= 0) {
				verdict_text(v, e, k);
				return 1;
			}
		}
		if (tr != NULL) {
			verdict_status(v, e, tr);
			return 1;
		}
		if (e->st[1] == '.' && e->st[2] == '6') {
			verdict_set(v, "contenterror", "status.x.6",
			    e->st, strlen(e->st));
			return 1;
		}
		if (e->st[1] == '.' && e->st[2] == '7') {
			verdict_set(v, "securityerror", "status.x.7",
			    e->st, strlen(e->st));
			return 1;
		}
		if (e->x_unix) {
			verdict_set(v, "mailererror", "dsn.x-unix", NULL, 0);
			return 1;
		}
		if ((e->reply > 400 && e->reply < 408) ||
		    (e->reply > 500 && e->reply < 508)) {
			char code[8];

			snprintf(code, sizeof code, "%d", e->reply);
			verdict_set(v, "syntaxerror", "reply-code.syntax",
			    code, strlen(code));
			return 1;
		}
		if (e->delayed) {
			verdict_set(v, "expired", "dsn.action.delayed", NULL,
			    0);
			return 1;
		}
		if (e->cmd == CMD_EHLO) {
			verdict_set(v, "blocked", "smtp.ehlo-rejected", NULL,
			    0);
			return 1;
		}
		if ((tr = reply_reason(e->reply)) != NULL) {
			char code[8];

			snprintf(code, sizeof code, "%d", e->reply);
			verdict_set(v, tr, "reply-code", code, strlen(code));
			return 1;
		}
		return 0;
	}
	verdict_status(v, e, tr);
	return 1;
}

/* Does code have a zero subject or detail ("5.1.0", "4.0.0")? */
static int
code_has_zero(const char *c)
{
	return strstr(c, ".0") != NULL;
}

/*
 * Of two codes, the one that says more: a code with a zero subject or
 * detail, and the ambiguous 4.4.7, 4.7.0 and 5.3.x, give way to a
 * specific one; a 5.1.1 stays unless the other is specific.
 */
static const char *
code_prefer(const char *a, const char *b)
{
	if (a[0] == '\0')
		return b;
	if (b[0] == '\0' || strcmp(a, b) == 0)
		return a;
	if (strcmp(a + 1, ".0.0") == 0)
		return strcmp(b + 1, ".0.0") == 0 ? a : b;
	if (code_has_zero(a) && !code_has_zero(b))
		return b;
	if (strcmp(b + 1, ".0.0") == 0)
		return a;
	if (strcmp(a, "4.4.7") == 0 || strcmp(a, "4.7.0") == 0 ||
	    strncmp(a, "5.3.", 4) == 0 || strncmp(a + 1, ".5.1", 4) == 0 ||
	    strncmp(a + 1, ".5.2", 4) == 0 || strncmp(a + 1, ".5.4", 4) == 0 ||
	    strncmp(a + 1, ".5.5", 4) == 0)
		return b;
	if (strcmp(a, "5.1.1") == 0)
		return code_has_zero(b) || strncmp(b, "5.5.", 4) == 0 ? a : b;
	if (strcmp(a, "5.1.3") == 0 && strncmp(b, "5.7.", 4) == 0)
		return b;
	return a;
}

/* The code a diagnostic gives, weighing all the failure codes in it. */
static void
diag_code(const char *d, char out[16])
{
	char c[16], best[16] = "", other[16] = "";
	size_t off = 0, n = strlen(d);
	const char *p;

	out[0] = '\0';
	while (off < n && status_find(d + off, n - off, c)) {
		p = strstr(d + off, c);
		if (c[0] != '2') {
			if (strcmp(c + 1, ".0.0") == 0 ||
			    strcmp(c, "4.4.7") == 0) {
				if (other[0] == '\0')
					memcpy(other, c, sizeof other);
			} else {
				const char *w = code_prefer(best, c);

				memmove(best, w, strlen(w) + 1);
			}
		}
		if (p == NULL)
			break;
		off = (size_t)(p - d) + strlen(c);
	}
	memcpy(out, best[0] ? best : other, 16);
}

/*
 * The recipient's status: a specific code ([45].[1-9].[1-9]) given by
 * the remote server in the diagnostic beats the reporting MTA's Status:.
 */
static void
rcpt_status(const struct report_rcpt *rc, char st[16])
{
	char d[16];

	st[0] = '\0';
	if (rc->status != NULL && strlen(rc->status) < 16)
		memcpy(st, rc->status, strlen(rc->status) + 1);
	if (rc->diagnostic == NULL)
		return;
	diag_code(rc->diagnostic, d);
	if (d[0] == '\0')
		return;
	/* A specific code, or any code where the Status: said nothing
	 * ("5.0.0" or none). */
	if ((d[2] >= '1' && d[2] <= '9' && d[4] >= '1' && d[4] <= '9') ||
	    ((st[0] == '\0' || strcmp(st + 1, ".0.0") == 0) &&
	    strcmp(d + 1, ".0.0") != 0))
		memcpy(st, d, strlen(d) + 1);
}

/*
 * A multi-line SMTP reply repeats its codes on each line ("550-5.2.1 The
 * user ... 550-5.2.1 prevents ..."): keep the first, drop the others so
 * that phrases cut by them match again.
 */
static size_t
unrepeat_codes(char *t, size_t n)
{
	char pre[24];
	size_t i, o, pl, first;
	const char *p;

	for (i = 0; i + 10 <= n; i++) {
		if (t[i] < '2' || t[i] > '5' || t[i + 1] < '0' ||
		    t[i + 1] > '9' || t[i + 2] < '0' || t[i + 2] > '9' ||
		    (t[i + 3] != '-' && t[i + 3] != ' ') || t[i + 4] != t[i] ||
		    t[i + 5] != '.' || (i > 0 && t[i - 1] != ' '))
			continue;
		for (pl = 6; i + pl < n && pl < sizeof pre - 2 &&
		    ((t[i + pl] >= '0' && t[i + pl] <= '9') ||
		    t[i + pl] == '.'); pl++)
			;
		if (i + pl >= n || t[i + pl] != ' ')
			continue;
		pl++;
		memcpy(pre, t + i, pl);
		first = i + pl;
		/* Remove later copies (with '-' or ' ' after the code). */
		o = first;
		for (size_t j = first; j < n;) {
			p = NULL;
			if (j + pl <= n && memcmp(t + j, pre, 3) == 0 &&
			    (t[j + 3] == '-' || t[j + 3] == ' ') &&
			    memcmp(t + j + 4, pre + 4, pl - 4) == 0 &&
			    (j == 0 || t[j - 1] == ' '))
				p = t + j;
			if (p != NULL) {
				j += pl;
				continue;
			}
			t[o++] = t[j++];
		}
		t[o] = '\0';
		return o;
	}
	return n;
}

/* Fill e from a text (the diagnostic or the notice). */
static void
evidence_text(struct evidence *e, const char *t, size_t n)
{
	e->n = textnorm(t ? t : "", n, e->norm, sizeof e->norm);
	e->n = unrepeat_codes(e->norm, e->n);
	hits_eval(e->norm, e->n, &e->h);
}

void
classify_rcpt(const struct report *r, size_t i, struct verdict *v_r)
{
	const struct report_rcpt *rc = &r->rcpt[i];
	struct evidence ev, *e;
	size_t dlen;
	long k;
	int notice, weak;

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

	e = &ev;
	memset(e, 0, offsetof(struct evidence, h));
	e->norm[0] = '\0';
	rcpt_status(rc, e->st);
	e->sr = status_rule(e->st);
	e->reply = rc->reply_code;
	e->delayed = is_delayed(rc);
	e->smtp_type = rc->diagnostic_type == NULL ||
	    strcmp(rc->diagnostic_type, "x-unix") != 0;
	e->dsn = rc->source != NULL && (strcmp(rc->source, "dsn") == 0 ||
	    strcmp(rc->source, "dsn-in-text") == 0 ||
	    strcmp(rc->source, "ses-json") == 0);
	e->x_unix = rc->diagnostic_type != NULL &&
	    strcmp(rc->diagnostic_type, "x-unix") == 0;

	/* The recipient's diagnostic; the notice when it has none. */
	dlen = rc->diagnostic ? strlen(rc->diagnostic) : 0;
	notice = r->text_len > 0 && (dlen == 0 || (r->nrcpt == 1 &&
	    (rc->source == NULL || strcmp(rc->source, "dsn") != 0)));
	if (dlen == 0 && notice) {
		evidence_text(e, r->text, r->text_len);
		notice = 0;
	} else {
		evidence_text(e, rc->diagnostic, dlen);
	}
	e->cmd = cmd_find(e->norm, e->n);
	if (e->cmd == CMD_NONE)
		e->cmd = cmd_near(r, rc);
	if (decide(e, v_r))
		goto out;
	weak = 0;
	if ((k = hits_tier(&e->h, TIER_WEAK)) >= 0) {
		verdict_text(v_r, e, k);
		weak = 1;
	}
	if (notice) {
		/* A notice's own block said nothing decisive: its text. */
		struct verdict nv;

		evidence_text(e, r->text, r->text_len);
		if (decide(e, &nv)) {
			*v_r = nv;
			goto out;
		}
		if (!weak && (k = hits_tier(&e->h, TIER_WEAK)) >= 0) {
			verdict_text(v_r, e, k);
			weak = 1;
		}
	}
	if (weak)
		goto out;
	if (dlen > 0 || e->n > 0 || e->st[0] != '\0')
		verdict_set(v_r, "onhold", "fallback.unexplained", NULL, 0);
	else
		verdict_set(v_r, "undefined", "fallback.nothing", NULL, 0);
out:
	/* A delayed delivery may still succeed: never hard. */
	if (e->delayed && v_r->category == CAT_HARD) {
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
	/* No recipient, but a notice that can only mean one thing (a
	 * list manager refusing the sender...): say so. */
	if (r->text_len > 0) {
		struct evidence ev;
		long k;

		memset(&ev, 0, offsetof(struct evidence, h));
		evidence_text(&ev, r->text, r->text_len);
		if ((k = hits_tier(&ev.h, TIER_DECISIVE)) >= 0) {
			verdict_text(v_r, &ev, k);
			return;
		}
	}
	verdict_set(v_r, "undefined", "message.no-recipient", NULL, 0);
}
