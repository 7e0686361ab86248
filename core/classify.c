/*
 * classify.c - a reason and a category for each recipient (classify.h).
 *
 * Order of evidence for one recipient:
 *   1. what the message is: an ARF report, an auto-reply, a success DSN;
 *   2. a provider's own code or wording, when the hosts say who answered;
 *   3. the text (diagnostic, else the notice's text), normalized, against
 *      the text rules: a specific wording beats a generic code;
 *   4. the RFC 3463 status code (the DSN's, else one in the text);
 *   5. the SMTP reply code;
 *   6. Action: delayed (expired), or onhold for an unexplained failure.
 * A delayed delivery is never hard, whatever the text says.
 *
 * Every text is normalized and scanned for all the rules in one pass
 * (rulescan.c). The notice's text, which several recipients may read, is
 * normalized and scanned once per report.
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
#include "rulescan.h"
#include "strutil.h"
#include "textnorm.h"
#include "xalloc.h"

/* Bytes of normalized text the rules read per text. */
#define NORM_BYTES	4096

/* A text, normalized and scanned. */
struct scanned {
	size_t n;
	struct scan h;
	char norm[NORM_BYTES];
};

/* What the recipients of one report share: the notice's text, scanned
 * on first use. */
struct classify_ctx {
	const struct report *r;
	int notice_norm;	/* notice.norm and notice.n are set */
	int notice_done;	/* ... and notice.h */
	int notice_cmd_done;	/* notice_cmd is set */
	enum smtp_cmd notice_cmd;
	struct scanned notice;
};

/*
 * The SMTP command a recipient's refusal answered: its text's, else the
 * one named near its address in the notice (cmd_near, which normalises
 * and scans the notice: looked for only when a decision asks).
 */
struct cmd_of {
	struct classify_ctx *ctx;
	const struct report_rcpt *rc;
	int known;
	enum smtp_cmd cmd;
};

/* Everything the decision reads about one recipient. */
struct evidence {
	const struct scanned *t;	/* the text being weighed */
	char st[16];		/* status (the remote's specific code) */
	const struct status_rule *sr;	/* its reason, or NULL */
	int sr_id;		/* sr's reason number, or -1 */
	int reply;
	struct cmd_of *cmd;	/* the SMTP command, found on first use */
	int smtp_type;		/* diagnostic type smtp (or none) */
	int delayed;
	int x_unix;
	int dsn;		/* the recipient comes from a DSN */
	unsigned prov;		/* providers involved (1 << PROV_*) */
	const char *state_reason;	/* a Gmail "(state N)" names this */
};

/* ---- verdicts --------------------------------------------------------- */

static void
verdict_id(struct verdict *v, enum reason_id id, const char *rule,
    const char *matched, size_t mlen)
{
	char *s;

	v->reason = reason_name(id);
	v->category = reason_id_category(id);
	v->rule = rule;
	v->matched[0] = '\0';
	if (matched != NULL && mlen > 0) {
		s = str_sanitize(matched, mlen, CAP_MATCH_BYTES);
		memcpy(v->matched, s, strlen(s) + 1);
		free(s);
	}
}

/* As verdict_id, with a reason name from a table. */
static void
verdict_set(struct verdict *v, const char *reason, const char *rule,
    const char *matched, size_t mlen)
{
	int id = reason_number(reason);

	verdict_id(v, id < 0 ? RSN_UNDEFINED : (enum reason_id)id, rule,
	    matched, mlen);
}

/* A text verdict from rule k. */
static void
verdict_text(struct verdict *v, const struct evidence *e, long k)
{
	const struct scan *h = &e->t->h;

	verdict_id(v, rulescan_reason((size_t)k), classify_text_rules[k].id,
	    e->t->norm + h->start[k], (size_t)(h->end[k] - h->start[k]));
}

static void
verdict_status(struct verdict *v, const struct evidence *e,
    enum reason_id id)
{
	verdict_id(v, id, e->sr != NULL ? e->sr->id : "status", e->st,
	    strlen(e->st));
}

/* ---- the text's evidence ---------------------------------------------- */

/* The first matching rule of reason in tier, or -1. */
static long
hits_reason(const struct evidence *e, enum reason_id id,
    enum text_tier tier)
{
	return e->t->h.any ? e->t->h.first[tier][id] : -1;
}

/* The first matching rule of tier, any reason, or -1. */
static long
hits_tier(const struct evidence *e, enum text_tier tier)
{
	return e->t->h.any ? e->t->h.first_tier[tier] : -1;
}

static int
strong(const struct evidence *e, enum reason_id id)
{
	return hits_reason(e, id, TIER_STRONG) >= 0;
}

static int
status_is(const struct evidence *e, enum reason_id id)
{
	return e->sr_id == (int)id;
}

/* Set *v from the reason's phrase if it matched, else from the status. */
static int
verdict_by(struct verdict *v, const struct evidence *e, enum reason_id id)
{
	long k = hits_reason(e, id, TIER_STRONG);

	if (k >= 0)
		verdict_text(v, e, k);
	else
		verdict_status(v, e, id);
	return 1;
}

/* Reason and rule id for a status code, or NULL. */
static const struct status_rule *
status_rule(const char *st)
{
	size_t i;

	/* (no code is shorter than "x.y.z") */
	if (st == NULL || strlen(st) < 5)
		return NULL;
	/* (the class and the subject first: "5" and "1" of "5.1.1") */
	for (i = 0; i < classify_nstatus_rules; i++)
		if (classify_status_rules[i].code[0] == st[0] &&
		    classify_status_rules[i].code[2] == st[2] &&
		    strcmp(classify_status_rules[i].code, st) == 0)
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

	/* (the dot of "550-5." five bytes on, found by memchr) */
	for (i = 0; i + 10 <= n; i++) {
		const char *dot = memchr(t + i + 5, '.', n - 5 - (i + 5) + 1);

		if (dot == NULL)
			break;
		i = (size_t)(dot - t) - 5;
		if (i + 10 > n)
			break;
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

/* Normalize a text (the diagnostic or the notice) into s->norm. */
static void
norm_text(struct scanned *s, const char *t, size_t n)
{
	s->n = textnorm(t ? t : "", n, s->norm, sizeof s->norm);
	s->n = unrepeat_codes(s->norm, s->n);
}

/* Normalize and scan a text. */
static void
scan_text(struct scanned *s, const char *t, size_t n)
{
	norm_text(s, t, n);
	rulescan(s->norm, s->n, &s->h);
}

/* The notice's text, normalized once per report. */
static void
notice_norm(struct classify_ctx *ctx)
{
	if (!ctx->notice_norm) {
		norm_text(&ctx->notice, ctx->r->text, ctx->r->text_len);
		ctx->notice_norm = 1;
	}
}

/* The notice's text, scanned once per report. */
static const struct scanned *
notice_scan(struct classify_ctx *ctx)
{
	if (!ctx->notice_done) {
		notice_norm(ctx);
		rulescan(ctx->notice.norm, ctx->notice.n, &ctx->notice.h);
		ctx->notice_done = 1;
	}
	return &ctx->notice;
}

/* The SMTP command the notice's text names last (its scan's, or the
 * markers alone when it was not scanned). */
static enum smtp_cmd
notice_cmd(struct classify_ctx *ctx)
{
	if (ctx->notice_done)
		return ctx->notice.h.cmd;
	if (!ctx->notice_cmd_done) {
		notice_norm(ctx);
		ctx->notice_cmd = rulescan_cmd(ctx->notice.norm,
		    ctx->notice.n);
		ctx->notice_cmd_done = 1;
	}
	return ctx->notice_cmd;
}

/* Before DATA: the message itself was not read yet. */
static int
cmd_before_data(enum smtp_cmd c)
{
	return c == CMD_CONN || c == CMD_EHLO || c == CMD_AUTH ||
	    c == CMD_MAIL || c == CMD_RCPT;
}

/*
 * The command named in the notice's paragraph about this recipient (a
 * Postfix notice says "(in reply to RCPT TO command)" where its DSN part
 * does not), or anywhere in a notice about one recipient.
 */
static enum smtp_cmd
cmd_near(struct classify_ctx *ctx, const struct report_rcpt *rc)
{
	const struct report *r = ctx->r;
	const char *t = r->text, *p = NULL, *e;
	char norm[NORM_BYTES];
	enum smtp_cmd cmd;

	if (r->text_len == 0)
		return CMD_NONE;
	if (rc->address != NULL)
		p = mem_casefind(t, r->text_len, rc->address);
	if (p == NULL)
		return r->nrcpt == 1 ? notice_cmd(ctx) : CMD_NONE;
	/* To the end of the paragraph. */
	e = memmem(p, r->text_len - (size_t)(p - t), "\n\n", 2);
	if (e == NULL)
		e = t + r->text_len;
	cmd = rulescan_cmd(norm, textnorm(p, (size_t)(e - p), norm,
	    sizeof norm));
	if (cmd == CMD_NONE && r->nrcpt == 1 && p != t)
		cmd = notice_cmd(ctx);
	return cmd;
}

/* The command of e's recipient (CMD_NONE for a message's own notice). */
static enum smtp_cmd
ev_cmd(const struct evidence *e)
{
	struct cmd_of *c = e->cmd;

	if (c == NULL)
		return CMD_NONE;
	if (!c->known) {
		c->cmd = cmd_near(c->ctx, c->rc);
		c->known = 1;
	}
	return c->cmd;
}

/*
 * Causes that an address's words ("user unknown", "mailbox unavailable")
 * yield to when the text names them too: "5.1.1 ... rate limited". The
 * filter's own reason last (it vetoes only the unknown user).
 */
static const enum reason_id unknown_veto[] = {
	RSN_NORELAYING, RSN_BLOCKED, RSN_MAILBOXFULL, RSN_HASMOVED,
	RSN_REJECTED, RSN_NOTACCEPT, RSN_SPEEDING, RSN_TOOMANYCONN,
	RSN_AUTHFAILURE, RSN_REQUIREPTR, RSN_BADREPUTATION, RSN_FILTERED,
};

/*
 * Is the status x.1.7 or x.1.8, the sender's address (RFC 3463)? Then
 * an address's words ("5.1.7 Invalid address") are about the sender.
 */
static int
sender_status(const struct evidence *e)
{
	return e->st[0] != '\0' && (strcmp(e->st + 1, ".1.7") == 0 ||
	    strcmp(e->st + 1, ".1.8") == 0);
}

/*
 * Does a primary reason hold? Each looks at its phrases and the status
 * code, and some at the SMTP command: an unknown user refused after DATA
 * was refused by a filter, not by the directory.
 */
static int
probe(const struct evidence *e, enum reason_id id, struct verdict *v)
{
	const struct scan *h = &e->t->h;
	size_t j;
	long k;

	switch (id) {
	case RSN_USERUNKNOWN: {
		if (sender_status(e))
			return 0;
		/* ("Mailbox unavailable. Your IP address is blacklisted":
		 * the words of the other cause say more) */
		for (j = 0; j < sizeof unknown_veto / sizeof unknown_veto[0];
		    j++)
			if (strong(e, unknown_veto[j]))
				return 0;
		if (status_is(e, id))
			return verdict_by(v, e, id);
		/*
		 * The phrase alone: refused at RCPT, or a DSN with nothing
		 * else to go by (MTAs write RCPT refusals in their DSNs).
		 * After DATA, with a code that names another cause, or in
		 * a gateway's own notice, it is the recipient's filter.
		 */
		if (strong(e, id) && (ev_cmd(e) == CMD_RCPT ||
		    (ev_cmd(e) == CMD_NONE && e->sr == NULL && e->dsn)))
			return verdict_by(v, e, id);
		return 0;
	}
	case RSN_FILTERED:
		k = hits_reason(e, RSN_USERUNKNOWN, TIER_STRONG);
		if (!strong(e, id) && (k < 0 || sender_status(e)))
			return 0;
		if (!status_is(e, id) && cmd_before_data(ev_cmd(e)))
			return 0;
		if (strong(e, id))
			return verdict_by(v, e, id);
		/* ("Mailbox unavailable: your IP is blacklisted": the
		 * other cause, below.) */
		for (j = 0; j + 1 < sizeof unknown_veto /
		    sizeof unknown_veto[0]; j++)
			if (strong(e, unknown_veto[j]))
				return 0;
		/* "User unknown" from a filter (after DATA, or with a
		 * code for a refused mailbox). */
		verdict_id(v, id, "text.filtered.after-data",
		    e->t->norm + h->start[k],
		    (size_t)(h->end[k] - h->start[k]));
		return 1;
	case RSN_REJECTED:
		if (status_is(e, id))
			return verdict_by(v, e, id);
		if (memmem(e->t->norm, e->t->n, "access denied", 13) !=
		    NULL && ev_cmd(e) == CMD_MAIL) {
			verdict_id(v, id, "smtp.mail-from.access-denied",
			    "access denied", 13);
			return 1;
		}
		if (!strong(e, id))
			return 0;
		if (ev_cmd(e) == CMD_MAIL)
			return verdict_by(v, e, id);
		if (ev_cmd(e) == CMD_DATA && e->sr_id != RSN_USERUNKNOWN)
			return verdict_by(v, e, id);
		if (e->sr_id < 0 || e->sr_id == RSN_SECURITYERROR ||
		    e->sr_id == RSN_SYSTEMERROR)
			return verdict_by(v, e, id);
		/* x.1.0, other address status, does not say whose: the
		 * words do (Postfix's "550 5.1.0 <a@b>: Sender address
		 * rejected: ..." at RCPT). */
		if (e->st[0] != '\0' && strcmp(e->st + 1, ".1.0") == 0)
			return verdict_by(v, e, id);
		return 0;
	case RSN_SPAMDETECTED:
		/* x.7.28, a mail flood: Gmail's "unusual rate of unsolicited
		 * mail originating from your IP address" blocks the server */
		if (status_is(e, id) && !(strong(e, RSN_BLOCKED) &&
		    !strong(e, id)))
			return verdict_by(v, e, id);
		if (e->st[0] == '\0' || !strong(e, id) ||
		    cmd_before_data(ev_cmd(e)))
			return 0;
		return verdict_by(v, e, id);
	case RSN_HOSTUNKNOWN:
		/* "Host not found, try again": DNS trouble, not a domain
		 * that does not exist. */
		if (strong(e, RSN_NETWORKERROR))
			return 0;
		/* "Helo command rejected: Host not found": the name our
		 * server gave, not the recipient's domain. */
		if (!status_is(e, id) && !strong(e, id))
			return 0;
		if (ev_cmd(e) == CMD_CONN || ev_cmd(e) == CMD_EHLO ||
		    memmem(e->t->norm, e->t->n, "helo command rejected",
		    21) != NULL)
			return 0;
		return verdict_by(v, e, id);
	case RSN_MESGTOOBIG:
		if (status_is(e, id))
			return verdict_by(v, e, id);
		if (status_is(e, RSN_EXCEEDLIMIT))
			return 0;
		return strong(e, id) ? verdict_by(v, e, id) : 0;
	case RSN_NORELAYING:
		if (!strong(e, id) || ev_cmd(e) == CMD_CONN ||
		    ev_cmd(e) == CMD_EHLO)
			return 0;
		return verdict_by(v, e, id);
	case RSN_CONTENTERROR:
		if (strong(e, RSN_SPAMDETECTED) && e->st[0] != '\0' &&
		    !cmd_before_data(ev_cmd(e)))
			return 0;
		if (status_is(e, id))
			return verdict_by(v, e, id);
		return strong(e, id) ? verdict_by(v, e, id) : 0;
	case RSN_SUSPEND:
		/* 525, a disabled account, unless the status code names
		 * another cause (Gmail's "525 5.7.10 SMTP protocol
		 * violation": encryption needed), or names this one
		 * against the words (code_outweighed) */
		if (e->reply == 525 && (e->sr_id == RSN_SUSPEND ||
		    status_rule(e->st) == NULL)) {
			verdict_id(v, id, "reply-code.525", "525", 3);
			return 1;
		}
		break;
	default:
		break;
	}
	/* The others: a phrase, or a status code that names them. */
	if (strong(e, id) || status_is(e, id))
		return verdict_by(v, e, id);
	return 0;
}

/* Reasons Sisimai re-examines when a status code is all it has. */
static int
retryable(int id)
{
	return id == RSN_UNDEFINED || id == RSN_ONHOLD ||
	    id == RSN_SYSTEMERROR || id == RSN_SECURITYERROR ||
	    id == RSN_EXPIRED || id == RSN_NETWORKERROR ||
	    id == RSN_HOSTUNKNOWN || id == RSN_USERUNKNOWN;
}

/*
 * Orange and La Poste label their refusals ("ofr006_102", "lpn007_416",
 * "ofr_506"): the last three digits of the label name the cause.
 */
static int
fr_provider_code(const struct evidence *e, struct verdict *v)
{
	const char *p = NULL, *q, *end = e->t->norm + e->t->n;
	size_t k, i;

	/* The last label in the text, of the first kind found. */
	for (k = 0; k < RULESCAN_NLABELS && p == NULL; k++)
		if (e->t->h.label[k] >= 0)
			p = e->t->norm + e->t->h.label[k];
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

/* ---- providers ------------------------------------------------------- */

/* Rule ids of the provider verdicts, by enum provider. */
static const char *const prov_rule_id[PROV_COUNT] = {
	"provider.aol", "provider.docomo", "provider.gmail", "provider.google",
	"provider.imail", "provider.kddi", "provider.messagelabs",
	"provider.microsoft", "provider.mimecast", "provider.ses-inbound",
	"provider.spectrum", "provider.tencent", "provider.verizon",
	"provider.yahoo", "provider.yahoo",
};

/* A host name at the start of a string: up to white space, '[', ';',
 * '>', ',' or the end, without trailing dots. */
struct host {
	const char *s;	/* NULL: none */
	size_t n;
};

static struct host
host_at(const char *s)
{
	struct host h = { s, 0 };

	if (s == NULL)
		return h;
	while (s[h.n] != '\0' && s[h.n] != ' ' && s[h.n] != '[' &&
	    s[h.n] != ';' && s[h.n] != '>' && s[h.n] != ',')
		h.n++;
	while (h.n > 0 && s[h.n - 1] == '.')
		h.n--;
	return h;
}

/* Is the host domain (dl bytes), or a name under it, starting with
 * prefix (if any)? */
static int
host_in(const struct host *h, const char *prefix, const char *domain,
    size_t dl)
{
	if (h->s == NULL || h->n < dl)
		return 0;
	/* (the last byte first: it tells most apart) */
	if (dl > 0 && (h->s[h->n - 1] | 0x20) != (domain[dl - 1] | 0x20))
		return 0;
	if (prefix != NULL && strncasecmp(h->s, prefix, strlen(prefix)) != 0)
		return 0;
	if (strncasecmp(h->s + h->n - dl, domain, dl) != 0)
		return 0;
	return h->n == dl || h->s[h->n - dl - 1] == '.';
}

/* The domain of an address, or NULL. */
static const char *
domain_of(const char *addr)
{
	const char *at = addr != NULL ? strrchr(addr, '@') : NULL;

	return at != NULL ? at + 1 : NULL;
}

/* The providers the hosts of this recipient and report name. */
static unsigned
providers_of(const struct report *r, const struct report_rcpt *rc)
{
	/* (each host read once, not once per provider) */
	struct host rcpt = host_at(domain_of(rc->address));
	struct host remote = host_at(rc->remote_mta);
	struct host reporting = host_at(r->reporting_mta);
	struct host from = host_at(domain_of(r->from));
	unsigned m = 0;
	size_t i;

	for (i = 0; i < classify_nprovider_hosts; i++) {
		const struct provider_host *p = &classify_provider_hosts[i];
		size_t dl = strlen(p->domain);

		if (((p->where & PH_RCPT) && host_in(&rcpt, p->prefix,
		    p->domain, dl)) ||
		    ((p->where & PH_REMOTE) && host_in(&remote, p->prefix,
		    p->domain, dl)) ||
		    ((p->where & PH_REPORTING) && host_in(&reporting,
		    p->prefix, p->domain, dl)) ||
		    ((p->where & PH_FROM) && host_in(&from, p->prefix,
		    p->domain, dl)) ||
		    ((p->where & PH_AGENT) && r->agent != NULL &&
		    strncmp(r->agent, p->domain, dl) == 0))
			m |= 1u << p->prov;
	}
	return m;
}

/* Spectrum: "AUP#In-1310", "AUP#O-1000": the four digits. */
static int
spectrum_code(const struct evidence *e, struct verdict *v)
{
	const char *p = memmem(e->t->norm, e->t->n, "aup#", 4), *q, *end;
	int code = 0, d = 0;
	size_t i;

	if (p == NULL)
		return 0;
	end = e->t->norm + e->t->n;
	for (q = p + 4; q < end && ((*q >= 'a' && *q <= 'z') || *q == '-');
	    q++)
		;
	for (; q < end && *q >= '0' && *q <= '9' && d < 5; q++, d++)
		code = code * 10 + (*q - '0');
	if (d != 4)
		return 0;
	for (i = 0; i < classify_nspectrum_codes; i++)
		if (code >= classify_spectrum_codes[i].lo &&
		    code <= classify_spectrum_codes[i].hi) {
			verdict_set(v, classify_spectrum_codes[i].reason,
			    prov_rule_id[PROV_SPECTRUM], p, (size_t)(q - p));
			return 1;
		}
	return 0;
}

/*
 * NTT docomo's MX answers "550 Unknown user" for an unknown address (at
 * RCPT) and for its reception filters (at DATA); the status its clients
 * write tells which.
 */
static int
docomo(const struct evidence *e, struct verdict *v)
{
	enum reason_id id;

	if (strcmp(e->st, "5.1.1") == 0)
		id = RSN_USERUNKNOWN;
	else if (strcmp(e->st, "5.2.0") == 0)
		id = RSN_FILTERED;
	else if (strcmp(e->st, "5.0.0") == 0 && ev_cmd(e) == CMD_RCPT)
		id = RSN_USERUNKNOWN;
	else if (strcmp(e->st, "5.0.0") == 0 && ev_cmd(e) == CMD_DATA)
		id = RSN_REJECTED;
	else
		return 0;
	verdict_id(v, id, prov_rule_id[PROV_DOCOMO], e->st, strlen(e->st));
	return 1;
}

/* A provider's own code or wording. Returns 1 when one decided. */
static int
provider_decide(const struct evidence *e, struct verdict *v)
{
	size_t i, s0, e0;

	if (e->prov == 0)
		return 0;
	for (i = 0; i < classify_nprovider_rules; i++) {
		const struct provider_rule *pr = &classify_provider_rules[i];

		if (!(e->prov & (1u << pr->prov)) ||
		    (pr->reply != 0 && pr->reply != e->reply) ||
		    !rulescan_find(e->t->norm, e->t->n, pr->pattern, &s0, &e0))
			continue;
		verdict_set(v, pr->reason, prov_rule_id[pr->prov],
		    e->t->norm + s0, e0 - s0);
		return 1;
	}
	if ((e->prov & (1u << PROV_SPECTRUM)) && spectrum_code(e, v))
		return 1;
	if ((e->prov & (1u << PROV_DOCOMO)) && docomo(e, v))
		return 1;
	/* Gmail's state, unless a specific status code says more. */
	if (e->state_reason != NULL && (e->st[0] == '\0' ||
	    code_has_zero(e->st))) {
		verdict_set(v, e->state_reason, prov_rule_id[PROV_GMAIL_NOTICE],
		    NULL, 0);
		return 1;
	}
	return 0;
}

/*
 * What a provider's notice says of the SMTP command: Gmail's "(state N)",
 * Yahoo's reply that quotes the recipient <addr> (an RCPT refusal).
 */
static void
provider_cmd(struct evidence *e, const char *diag)
{
	const char *p, *lt, *gt, *end = e->t->norm + e->t->n;
	size_t i;
	int st = 0, d = 0;

	if ((e->prov & (1u << PROV_GMAIL_NOTICE)) &&
	    (p = memmem(e->t->norm, e->t->n, "(state ", 7)) != NULL) {
		for (p += 7; p < end && *p >= '0' && *p <= '9' && d < 3;
		    p++, d++)
			st = st * 10 + (*p - '0');
		for (i = 0; d > 0 && p < end && *p == ')' &&
		    i < classify_ngmail_states; i++)
			if (classify_gmail_states[i].state == st) {
				e->cmd->cmd = classify_gmail_states[i].cmd;
				e->cmd->known = 1;
				e->state_reason =
				    classify_gmail_states[i].reason;
			}
	}
	if ((e->prov & (1u << PROV_YAHOO_NOTICE)) && diag != NULL &&
	    (lt = strchr(diag, '<')) != NULL &&
	    (gt = strchr(lt, '>')) != NULL && memchr(lt, '@',
	    (size_t)(gt - lt)) != NULL && ev_cmd(e) == CMD_NONE) {
		e->cmd->cmd = CMD_RCPT;
		e->cmd->known = 1;
	}
}

/*
 * Does weak phrase k name a kind of security refusal: the sender's
 * authentication (SPF, DKIM, DMARC), spam, a block list, a reputation?
 * (Not "blocked" or "access denied", which x.7.1 says as well; nor the
 * bare word "virus", which old antivirus signatures put in mail: "No
 * virus found in this message". The phrases of a virus found are strong
 * rules.)
 */
static int
security_kind(long k)
{
	static const char *const kinds[] = {
		"text.weak.spf", "text.weak.spam", "text.weak.blocklist",
		"text.weak.bad-reputation",
	};
	size_t i;

	for (i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
		if (strcmp(classify_text_rules[k].id, kinds[i]) == 0)
			return 1;
	return 0;
}

/*
 * The statuses that say nothing of a cause, x.0.0 (other undefined
 * status) and x.3.0 (other or undefined mail system status), say less
 * than words, even weak ones ("553 5.3.0 Rejected - see spamhaus.org"):
 * the verdict of the first weak phrase, if any (returns 1). x.7.1
 * (delivery not authorized) gives way to the words that say which
 * refusal it is ("550 5.7.1 rejected because of SPF": security_kind). (x.7.0 is a
 * security refusal of some kind: it stays.)
 */
static int
weak_over_status(const struct evidence *e, struct verdict *v)
{
	long k;

	if (strlen(e->st) != 5 || e->st[1] != '.' || e->st[3] != '.' ||
	    (k = hits_tier(e, TIER_WEAK)) < 0)
		return 0;
	if (!((e->st[2] == '0' || e->st[2] == '3') && e->st[4] == '0') &&
	    !(e->st[2] == '7' && e->st[4] == '1' && security_kind(k)))
		return 0;
	verdict_text(v, e, k);
	return 1;
}

/*
 * Does the text outweigh a status code that names a cause of the
 * recipient's address (x.1.1 user unknown, x.1.2 host unknown, x.7.13
 * account disabled...: a hard bounce, the account flagged)? When its
 * words name another cause and none of the address's: "550 5.1.1
 * Message rejected as spam" or "550 5.1.2 Too many connections from
 * your IP" is no dead mailbox, and the words decide, as they do under a
 * code that names no cause. (Not the recipient's own filter: some of
 * its wordings, "not found recipient account", are about the address.)
 */
static int
code_outweighed(const struct evidence *e)
{
	int id, other = 0;

	if (e->sr_id < 0 ||
	    reason_id_category((enum reason_id)e->sr_id) != CAT_HARD)
		return 0;
	for (id = 0; id < RSN_ONHOLD; id++) {
		if (!strong(e, (enum reason_id)id))
			continue;
		if (reason_id_category((enum reason_id)id) == CAT_HARD ||
		    id == RSN_FILTERED)
			return 0;
		other = 1;
	}
	return other;
}

/* Decide from one body of evidence. Returns 1 when it did. */
static int
decide(const struct evidence *e, struct verdict *v)
{
	struct evidence words;
	const char *name;
	size_t i;
	long k;
	int tr;

	if (fr_provider_code(e, v) || provider_decide(e, v))
		return 1;
	if ((k = hits_tier(e, TIER_DECISIVE)) >= 0) {
		verdict_text(v, e, k);
		return 1;
	}
	if (code_outweighed(e)) {
		/* (the code's cause set aside: its number stays) */
		words = *e;
		words.sr = NULL;
		words.sr_id = -1;
		e = &words;
	}
	if (e->smtp_type)
		for (i = 0; i < classify_norder_primary; i++)
			if (probe(e, classify_order_primary[i], v))
				return 1;
	tr = e->sr_id;
	if (tr < 0 || retryable(tr) || !e->smtp_type) {
		for (i = 0; i < classify_norder_secondary; i++) {
			enum reason_id id = classify_order_secondary[i];

			if ((k = hits_reason(e, id, TIER_STRONG)) < 0 ||
			    (id == RSN_NORELAYING && (ev_cmd(e) == CMD_CONN ||
			    ev_cmd(e) == CMD_EHLO)))
				continue;
			verdict_text(v, e, k);
			return 1;
		}
		if (tr >= 0) {
			if (!weak_over_status(e, v))
				verdict_status(v, e, (enum reason_id)tr);
			return 1;
		}
		if (e->st[1] == '.' && e->st[2] == '6') {
			verdict_id(v, RSN_CONTENTERROR, "status.x.6",
			    e->st, strlen(e->st));
			return 1;
		}
		if (e->st[1] == '.' && e->st[2] == '7') {
			verdict_id(v, RSN_SECURITYERROR, "status.x.7",
			    e->st, strlen(e->st));
			return 1;
		}
		if (e->x_unix) {
			verdict_id(v, RSN_MAILERERROR, "dsn.x-unix", NULL, 0);
			return 1;
		}
		if ((e->reply > 400 && e->reply < 408) ||
		    (e->reply > 500 && e->reply < 508)) {
			char code[8];

			snprintf(code, sizeof code, "%d", e->reply);
			verdict_id(v, RSN_SYNTAXERROR, "reply-code.syntax",
			    code, strlen(code));
			return 1;
		}
		if (e->delayed) {
			verdict_id(v, RSN_EXPIRED, "dsn.action.delayed", NULL,
			    0);
			return 1;
		}
		if (ev_cmd(e) == CMD_EHLO) {
			verdict_id(v, RSN_BLOCKED, "smtp.ehlo-rejected", NULL,
			    0);
			return 1;
		}
		if (ev_cmd(e) == CMD_CONN) {
			verdict_id(v, RSN_BLOCKED, "smtp.greeting-rejected",
			    NULL, 0);
			return 1;
		}
		if ((name = reply_reason(e->reply)) != NULL) {
			char code[8];

			snprintf(code, sizeof code, "%d", e->reply);
			verdict_set(v, name, "reply-code", code, strlen(code));
			return 1;
		}
		return 0;
	}
	if (weak_over_status(e, v))
		return 1;
	verdict_status(v, e, (enum reason_id)tr);
	return 1;
}

/* Classify recipient i of ctx->r into *v_r. */
static void
classify_one(struct classify_ctx *ctx, size_t i, struct verdict *v_r)
{
	const struct report *r = ctx->r;
	const struct report_rcpt *rc = &r->rcpt[i];
	struct evidence ev, *e = &ev;
	struct cmd_of cmd;
	struct scanned diag;
	size_t dlen;
	long k;
	int notice, weak;

	if (r->type == REPORT_ARF) {
		verdict_id(v_r, RSN_FEEDBACK, "arf.feedback-report",
		    rc->feedback_type, rc->feedback_type ?
		    strlen(rc->feedback_type) : 0);
		return;
	}
	if (r->type == REPORT_AUTOREPLY) {
		verdict_id(v_r, RSN_VACATION, "autoreply.rfc3834", r->subject,
		    r->subject ? strlen(r->subject) : 0);
		return;
	}
	if (is_success(rc)) {
		verdict_id(v_r, RSN_DELIVERED, "dsn.action.delivered",
		    rc->action, rc->action ? strlen(rc->action) : 0);
		return;
	}

	memset(e, 0, sizeof *e);
	rcpt_status(rc, e->st);
	e->sr = status_rule(e->st);
	e->sr_id = e->sr != NULL ? reason_number(e->sr->reason) : -1;
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
	notice = r->text_len > 0 && (dlen == 0 || r->nrcpt == 1);
	if (dlen == 0 && notice) {
		e->t = notice_scan(ctx);
		notice = 0;
	} else {
		scan_text(&diag, rc->diagnostic, dlen);
		e->t = &diag;
	}
	cmd.ctx = ctx;
	cmd.rc = rc;
	cmd.cmd = e->t->h.cmd;
	cmd.known = cmd.cmd != CMD_NONE;
	e->cmd = &cmd;
	e->prov = providers_of(r, rc);
	provider_cmd(e, rc->diagnostic);
	if (decide(e, v_r))
		goto out;
	weak = 0;
	if ((k = hits_tier(e, TIER_WEAK)) >= 0) {
		verdict_text(v_r, e, k);
		weak = 1;
	}
	if (notice) {
		/* A notice's own block said nothing decisive: its text. */
		struct verdict nv;

		e->t = notice_scan(ctx);
		if (decide(e, &nv)) {
			*v_r = nv;
			goto out;
		}
		if (!weak && (k = hits_tier(e, TIER_WEAK)) >= 0) {
			verdict_text(v_r, e, k);
			weak = 1;
		}
	}
	if (weak)
		goto out;
	/* (a recipient only inferred from the original's To, of whom the
	 * bounce says nothing: nothing is known) */
	if (dlen > 0 || e->st[0] != '\0' || (e->t->n > 0 &&
	    (rc->source == NULL || strcmp(rc->source, "original-to") != 0)))
		verdict_id(v_r, RSN_ONHOLD, "fallback.unexplained", NULL, 0);
	else
		verdict_id(v_r, RSN_UNDEFINED, "fallback.nothing", NULL, 0);
out:
	/* A delayed delivery may still succeed: never hard. */
	if (e->delayed && v_r->category == CAT_HARD) {
		v_r->reason = reason_name(RSN_EXPIRED);
		v_r->category = reason_id_category(RSN_EXPIRED);
		v_r->rule = "dsn.action.delayed";
	}
}

void
classify_init(void)
{
	(void)rulescan_reason(0);
}

void
classify_rcpt(const struct report *r, size_t i, struct verdict *v_r)
{
	struct classify_ctx *ctx = xmalloc(sizeof *ctx);

	ctx->r = r;
	ctx->notice_norm = ctx->notice_done = ctx->notice_cmd_done = 0;
	classify_one(ctx, i, v_r);
	free(ctx);
}

void
classify_message(const struct report *r, struct verdict *v_r)
{
	if (r->type == REPORT_AUTOREPLY) {
		verdict_id(v_r, RSN_VACATION, "autoreply.rfc3834", r->subject,
		    r->subject ? strlen(r->subject) : 0);
		return;
	}
	if (r->type == REPORT_ARF) {
		verdict_id(v_r, RSN_FEEDBACK, "arf.feedback-report", NULL, 0);
		return;
	}
	/* No recipient, but a notice that can only mean one thing (a
	 * list manager refusing the sender...): say so. */
	if (r->text_len > 0) {
		struct scanned *s = xmalloc(sizeof *s);
		struct evidence ev;
		long k;

		memset(&ev, 0, sizeof ev);
		scan_text(s, r->text, r->text_len);
		ev.t = s;
		if ((k = hits_tier(&ev, TIER_DECISIVE)) >= 0) {
			verdict_text(v_r, &ev, k);
			free(s);
			return;
		}
		free(s);
	}
	verdict_id(v_r, RSN_UNDEFINED, "message.no-recipient", NULL, 0);
}

void
classify_report(const struct report *r, struct verdict *v_r)
{
	struct classify_ctx ctx;
	size_t i;

	if (r->nrcpt == 0) {
		classify_message(r, &v_r[0]);
		return;
	}
	ctx.r = r;
	ctx.notice_norm = ctx.notice_done = ctx.notice_cmd_done = 0;
	for (i = 0; i < r->nrcpt; i++)
		classify_one(&ctx, i, &v_r[i]);
}
