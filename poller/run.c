/* run.c - one run over the bounce mailbox (see run.h). */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "actions.h"
#include "caps.h"
#include "classify.h"
#include "digest.h"
#include "hdr.h"
#include "imap.h"
#include "log.h"
#include "notify.h"
#include "policy.h"
#include "report.h"
#include "run.h"
#include "store.h"
#include "strutil.h"
#include "testpoint.h"
#include "version.h"
#include "verp.h"
#include "xalloc.h"

/* Bytes fetched per IMAP round trip, whatever the batch size says. Two
 * batches are in memory at a time: one worked on, the next arriving. */
#define BATCH_BYTES (8u * 1024 * 1024)
/* Recipients parsed per batch: past them, the rest of the messages make
 * another batch (see prepare_batch). */
#define BATCH_RECIPIENTS 2048
/* VERP tags read per message at most (each names an account to load). */
#define VERP_CANDIDATES 8

/* The smallest group of moves that opens a second session (mover_open). */
#define MOVER_MIN 1000

/* UIDs listed per UID FETCH (UID RFC822.SIZE) while walking a folder. */
#define LIST_SPAN 2048u


static volatile sig_atomic_t stop_requested;

void
run_request_stop(void)
{
	stop_requested = 1;
}

/*
 * Has SIGTERM or SIGINT arrived? main() keeps both blocked while a run
 * works (a handler interrupting libetpan's select() would break the IMAP
 * stream in the middle of a batch), so they wait here as pending signals
 * and are looked at between batches only.
 */
static int
stop_pending(struct run_stats *stats)
{
	sigset_t p;

	if (!stop_requested && sigpending(&p) == 0) {
		if (sigismember(&p, SIGTERM) == 1) {
			stop_requested = 1;
			log_info("run: signal=TERM: stopping after the current "
			    "batch");
		} else if (sigismember(&p, SIGINT) == 1) {
			stop_requested = 1;
			log_info("run: signal=INT: stopping after the current "
			    "batch");
		}
	}
	if (stop_requested)
		stats->stopped = 1;
	return stop_requested;
}

/* One fetched message of a batch. */
struct item {
	struct imap_msg *msg;
	char digest[DIGEST_HEX_LEN + 1];
	enum outcome seen;	/* outcome of an earlier run, or NONE */
	int dup;		/* same bytes earlier in this batch */
	int copied;		/* already in its destination: expunge only */
	struct report *report;
	struct verdict *verdicts;	/* one per recipient, or one */
	size_t nverdicts;
	enum outcome outcome;
	int tag;		/* VERP tag: 1 valid, 0 none, -1 forged */
	long long tag_id;	/* account named by a valid tag */
	enum role tag_role;	/* and the role of the address */
	/* tags read from the addresses, verified once the accounts they
	 * name are loaded (verp_settle) */
	struct verp_tag cand[VERP_CANDIDATES];
	size_t ncand;
	/* [verp] mode = require: the recipients rebond.sent_mail records
	 * for the returned original's Message-ID (pointers into the batch's
	 * lookup, valid while write_batch runs) */
	const char **sent;
	size_t nsent;
};

/* One UID MOVE for the mover. The last job of a group carries its
 * counts. */
struct move_job {
	uint32_t *uids;
	size_t n;
	int review;		/* to the review folder, else to the archive */
	size_t group;		/* messages of the group, on its last job */
	unsigned long archived, reviewed;
};

/*
 * UIDs committed and not moved yet, by destination. Moves are grouped
 * across batches ([imap] move_group) because a server pays for every
 * UID MOVE in proportion to the size of the folders involved (Dovecot
 * re-reads the Maildir index of both): moving 100,000 bounces 200 at a
 * time took 8 minutes of MOVEs, 10,000 at a time 14 s. Waiting is safe:
 * only committed messages wait, and those of a run that dies stay in the
 * bounce folder, where the next run recognises them by digest and only
 * moves them.
 */
struct moves {
	uint32_t *arch, *rev, *gone;	/* gone: already there, expunge */
	size_t narch, nrev, ngone, cap;
	unsigned long archived, review;	/* for run_stats, once moved */
};

struct ctx {
	const struct config *cfg;
	const struct run_opts *opts;
	struct run_stats *stats;
	struct imap *imap;
	struct store *store;
	const char *folder;	/* the bounce folder, or the replayed one */
	uint32_t uidvalidity;
	uint32_t exists;	/* messages in the folder at SELECT */
	time_t now;
	struct moves moves;
	const char *password;	/* for the mover, opened when first needed */
	struct imap *mover;	/* a second session, for moves: see mover_open */
	int mover_tried;
	int mover_failed;	/* the last failure was the mover's */
	struct move_job *jobs;	/* the mover's queue; jobs[0] may be sent */
	size_t njobs, capjobs, queued;	/* queued: UIDs in the queue */
	int busy;		/* jobs[0] sent, not answered */
	int db_failed;		/* the database failed: no outbox phase */
	char *verp_key;		/* [verp] secret, when mode is not off */
};

static json_t *
jstr(const char *s)
{
	json_t *j = s ? json_string(s) : NULL;

	return j ? j : json_null();
}

static const char *
outcome_name(enum outcome o)
{
	switch (o) {
	case OUTCOME_REVIEW:
		return "review";
	case OUTCOME_IGNORED:
		return "ignored";
	default:
		return "archived";
	}
}

static const char *
report_type_name(enum report_type t)
{
	switch (t) {
	case REPORT_DSN:
		return "dsn";
	case REPORT_NONSTANDARD:
		return "nonstandard";
	case REPORT_ARF:
		return "arf";
	case REPORT_AUTOREPLY:
		return "autoreply";
	default:
		return "unknown";
	}
}

/* Parse and classify one message; decide where it goes. */
static void
analyse(struct item *it)
{
	struct report *r;
	size_t i;
	int any_unknown = 0, all_ignored = 1;

	r = it->report = report_parse(it->msg->data, it->msg->len,
	    it->msg->truncated);
	if (r->nrcpt == 0) {
		it->verdicts = xcalloc(1, sizeof *it->verdicts);
		it->nverdicts = 0;
		classify_message(r, &it->verdicts[0]);
		it->outcome = it->verdicts[0].category == CAT_AUTOREPLY ||
		    it->verdicts[0].category == CAT_DELIVERED ?
		    OUTCOME_IGNORED : OUTCOME_REVIEW;
		return;
	}
	it->verdicts = xcalloc(r->nrcpt, sizeof *it->verdicts);
	it->nverdicts = r->nrcpt;
	for (i = 0; i < r->nrcpt; i++) {
		enum category c;

		classify_rcpt(r, i, &it->verdicts[i]);
		c = it->verdicts[i].category;
		if (c == CAT_UNKNOWN || r->rcpt[i].address == NULL)
			any_unknown = 1;
		if (c != CAT_AUTOREPLY && c != CAT_DELIVERED)
			all_ignored = 0;
	}
	if (r->type == REPORT_UNKNOWN || any_unknown)
		it->outcome = OUTCOME_REVIEW;
	else if (all_ignored)
		it->outcome = OUTCOME_IGNORED;
	else
		it->outcome = OUTCOME_ARCHIVED;
}

/*
 * Read the signed VERP tags in the addresses the bounce came back to
 * (DESIGN.md "Identifying the account"); they are verified by
 * verp_settle() once the accounts they name are loaded, since the tag
 * signs the address the mail went to.
 */
static void
verp_check(const struct ctx *c, struct item *it)
{
	const struct report *r = it->report;
	size_t i;

	it->tag = 0;
	it->ncand = 0;
	if (c->verp_key == NULL)
		return;
	for (i = 0; i < r->ntag_addrs && it->ncand < VERP_CANDIDATES; i++) {
		int v = verp_parse(r->tag_addrs[i], c->cfg->verp.return_path,
		    &it->cand[it->ncand]);

		if (v == 1)
			it->ncand++;
		else if (v == -1)
			it->tag = -1;
	}
}

/* The address an account has now in role (NULL: none). */
static const char *
role_address(const struct account *a, enum role role)
{
	switch (role) {
	case ROLE_PRIMARY:
	case ROLE_INVITATION:
		return a->primary_email;
	case ROLE_SECONDARY:
		return a->secondary_email;
	case ROLE_PENDING:
		return a->pending_email;
	default:
		return NULL;
	}
}

/*
 * Does the valid tag of it speak for recipient rc (a of the tag's
 * account)? A tag signs one address: a bounce naming one recipient is
 * that mail's (even when the address differs: a forward); in a bounce
 * naming several, only the recipient with the signed address is. Else
 * anyone could staple his own tag to a bounce for others.
 */
static int
tag_applies(const struct item *it, const struct report_rcpt *rc,
    const struct account *a)
{
	if (it->tag != 1 || a == NULL || a->id != it->tag_id)
		return 0;
	if (it->report->nrcpt <= 1)
		return 1;
	return rc != NULL && ((rc->address != NULL &&
	    addr_same(rc->address, role_address(a, it->tag_role))) ||
	    (rc->original != NULL &&
	    addr_same(rc->original, role_address(a, it->tag_role))));
}

/*
 * Did the platform record sending the returned original to address
 * (rebond.sent_mail)? NULL address: to any recipient of the bounce.
 */
static int
sent_to(const struct item *it, const char *address)
{
	size_t i, k;

	for (i = 0; i < it->nsent; i++) {
		if (address != NULL) {
			if (addr_same(it->sent[i], address))
				return 1;
			continue;
		}
		for (k = 0; k < it->report->nrcpt; k++)
			if ((it->report->rcpt[k].address != NULL &&
			    addr_same(it->sent[i],
			    it->report->rcpt[k].address)) ||
			    (it->report->rcpt[k].original != NULL &&
			    addr_same(it->sent[i],
			    it->report->rcpt[k].original)))
				return 1;
	}
	return 0;
}

/* Was the returned original sent to recipient rc, under the address the
 * bounce names or the one it says was mailed (Original-Recipient)? */
static int
rcpt_sent(const struct item *it, const struct report_rcpt *rc)
{
	return rc != NULL && ((rc->address != NULL &&
	    sent_to(it, rc->address)) || (rc->original != NULL &&
	    sent_to(it, rc->original)));
}

/*
 * mode = require: the recipients the platform recorded for each bounce's
 * returned original (by its Message-ID), one statement for the batch;
 * *sent_r holds them until the caller frees it (store_sent_free).
 */
static int
batch_sent(const struct ctx *c, struct item *items, size_t n,
    struct sent_mail **sent_r, size_t *nsent_r)
{
	const char **mids = xcalloc(n + 1, sizeof *mids);
	size_t i, j, nm = 0;
	int rc;

	for (i = 0; i < n; i++)
		if (items[i].seen == OUTCOME_NONE && !items[i].dup &&
		    items[i].report != NULL &&
		    items[i].report->orig_message_id != NULL &&
		    items[i].report->orig_message_id[0] != '\0')
			mids[nm++] = items[i].report->orig_message_id;
	rc = store_sent_lookup(c->store, mids, nm, sent_r, nsent_r);
	free(mids);
	if (rc == -1)
		return -1;
	for (i = 0; i < n; i++) {
		const char *mid = items[i].report ?
		    items[i].report->orig_message_id : NULL;

		if (mid == NULL || items[i].seen != OUTCOME_NONE ||
		    items[i].dup)
			continue;
		for (j = 0; j < *nsent_r; j++)
			if (strcmp((*sent_r)[j].message_id, mid) == 0) {
				items[i].sent = xreallocarray(items[i].sent,
				    items[i].nsent + 1, sizeof *items[i].sent);
				items[i].sent[items[i].nsent++] =
				    (*sent_r)[j].recipient;
			}
	}
	return 0;
}

/*
 * mode = require: is every recipient of the bounce vouched for, by the
 * tag or by a recorded sent mail? One that is not changes no account,
 * and its bounce must reach a human (the review folder), even when the
 * others are applied.
 */
static int
all_verified(const struct item *it, const struct account *acc, size_t nacc)
{
	const struct account *ta = NULL;
	size_t i, k;

	for (i = 0; it->tag == 1 && i < nacc; i++)
		if (acc[i].id == it->tag_id)
			ta = &acc[i];
	if (it->report->nrcpt == 0)
		return it->tag == 1;
	for (k = 0; k < it->report->nrcpt; k++) {
		const struct report_rcpt *rc = &it->report->rcpt[k];

		if (rc->address == NULL && rc->original == NULL)
			continue;
		if (!tag_applies(it, rc, ta) && !rcpt_sent(it, rc))
			return 0;
	}
	return 1;
}

/*
 * Verify the tags read by verp_check() against the accounts of the batch:
 * the first one signed for its account's current address in its role
 * decides. With mode = require, a bounce that would change an account
 * but carries no valid tag goes to review: a forged DSN must not flag or
 * unsubscribe anyone.
 */
static void
verp_settle(const struct ctx *c, struct item *it, const struct account *acc,
    size_t nacc)
{
	const struct verp_tag *t = NULL;
	const char *why = "";
	size_t i, k;

	if (c->verp_key == NULL)
		return;
	for (k = 0; k < it->ncand && it->tag != 1; k++) {
		t = &it->cand[k];
		for (i = 0; i < nacc && acc[i].id != t->id; i++)
			;
		if (i == nacc) {
			why = "no such account";
			it->tag = -1;
		} else if (verp_verify(t, role_address(&acc[i], t->role),
		    c->verp_key, strlen(c->verp_key))) {
			it->tag = 1;
			it->tag_id = t->id;
			it->tag_role = t->role;
		} else {
			why = "not signed for the account's address in that "
			    "role (it changed since the mail was sent), or "
			    "forged, or signed with another secret";
			it->tag = -1;
		}
	}
	if (it->tag == -1 && t != NULL)
		log_warning("verp: uid=%u message_id=%s tag=%lld.%s does not "
		    "verify: %s", it->msg->uid, it->report->message_id ?
		    it->report->message_id : "-", t->id,
		    policy_role_name(t->role), why);
	else if (it->tag == -1)
		log_warning("verp: uid=%u message_id=%s tag does not verify: "
		    "malformed (forged)", it->msg->uid,
		    it->report->message_id ? it->report->message_id : "-");
	if (c->cfg->verp.mode == VERP_REQUIRE &&
	    it->outcome == OUTCOME_ARCHIVED && !all_verified(it, acc, nacc))
		it->outcome = OUTCOME_REVIEW;
}

/* An account that no longer mails anyone (unsubscribed, its invitation
 * expired): its row stays, with its address, for the history. */
static int
account_retired(const struct account *a)
{
	return a->status != NULL && (strcmp(a->status, "unsubscribed") == 0 ||
	    strcmp(a->status, "invitation_expired") == 0);
}

/* The account and role of an address: primary (or invitation), then
 * secondary, then pending; among equals, a live account before a retired
 * one (which keeps its dead address), then the lowest id. */
static struct account *
find_account(struct account *acc, size_t nacc, const char *address,
    enum role *role_r)
{
	static const enum role order[] = { ROLE_PRIMARY, ROLE_SECONDARY,
		ROLE_PENDING };
	size_t k, i;
	int pass;

	*role_r = ROLE_NONE;
	if (address == NULL)
		return NULL;
	for (k = 0; k < sizeof order / sizeof order[0]; k++)
		for (pass = 0; pass < 2; pass++)
			for (i = 0; i < nacc; i++) {
				const char *f = order[k] == ROLE_PRIMARY ?
				    acc[i].primary_email :
				    order[k] == ROLE_SECONDARY ?
				    acc[i].secondary_email :
				    acc[i].pending_email;

				if (account_retired(&acc[i]) != pass ||
				    !addr_same(f, address))
					continue;
				*role_r = order[k];
				if (order[k] == ROLE_PRIMARY &&
				    acc[i].status != NULL &&
				    strcmp(acc[i].status, "invited") == 0)
					*role_r = ROLE_INVITATION;
				return &acc[i];
			}
	return NULL;
}

/*
 * The account and role of recipient rc of item it: the VERP tag when it
 * is valid (certain), nothing when the configuration requires a tag and
 * there is none, else the address lookup.
 */
static struct account *
resolve_account(const struct ctx *c, const struct item *it,
    const struct report_rcpt *rc, struct account *acc, size_t nacc,
    enum role *role_r)
{
	struct account *a;
	size_t i;
	int req;

	*role_r = ROLE_NONE;
	for (i = 0; it->tag == 1 && i < nacc; i++)
		if (acc[i].id == it->tag_id && tag_applies(it, rc, &acc[i])) {
			*role_r = it->tag_role;
			if (it->tag_role == ROLE_PRIMARY &&
			    acc[i].status != NULL &&
			    strcmp(acc[i].status, "invited") == 0)
				*role_r = ROLE_INVITATION;
			return &acc[i];
		}
	/* require: an address only when the platform recorded sending the
	 * returned original to it. */
	req = c->verp_key != NULL && c->cfg->verp.mode == VERP_REQUIRE;
	/* The address mailed (Original-Recipient, "expanded from") before
	 * the one it was forwarded or aliased to. */
	if (rc->original != NULL && (!req || sent_to(it, rc->original)) &&
	    (a = find_account(acc, nacc, rc->original, role_r)) != NULL)
		return a;
	if (req && (rc->address == NULL || !sent_to(it, rc->address)))
		return NULL;
	return find_account(acc, nacc, rc->address, role_r);
}

/* The bounce's own date, unless absent or absurd (then: now). */
static time_t
event_time(const struct ctx *c, const struct report *r)
{
	if (r->date <= 0 || r->date > c->now + 86400)
		return c->now;
	return r->date;
}

static json_t *
event_json(const struct ctx *c, const struct item *it, size_t i,
    const struct verdict *v, const struct account *a, enum role role)
{
	const struct report *r = it->report;
	const struct report_rcpt *rc = i < r->nrcpt ? &r->rcpt[i] : NULL;
	json_t *e = json_object();

	json_object_set_new(e, "occurred_at",
	    json_integer((json_int_t)event_time(c, r)));
	json_object_set_new(e, "mailbox", jstr(c->folder));
	json_object_set_new(e, "uidvalidity", json_integer(c->uidvalidity));
	json_object_set_new(e, "uid", json_integer(it->msg->uid));
	json_object_set_new(e, "digest", jstr(it->digest));
	json_object_set_new(e, "rcpt_index", json_integer((json_int_t)i));
	json_object_set_new(e, "message_id", jstr(r->message_id));
	json_object_set_new(e, "recipient", jstr(rc ? rc->address : NULL));
	json_object_set_new(e, "original_recipient",
	    jstr(rc ? rc->original : NULL));
	json_object_set_new(e, "account_id",
	    a ? json_integer(a->id) : json_null());
	json_object_set_new(e, "role", jstr(policy_role_name(role)));
	json_object_set_new(e, "action", jstr(rc ? rc->action : NULL));
	json_object_set_new(e, "status", jstr(rc ? rc->status : NULL));
	json_object_set_new(e, "reply_code", rc && rc->reply_code ?
	    json_integer(rc->reply_code) : json_null());
	json_object_set_new(e, "diagnostic", jstr(rc ? rc->diagnostic : NULL));
	json_object_set_new(e, "remote_mta", jstr(rc ? rc->remote_mta : NULL));
	json_object_set_new(e, "reason", jstr(v->reason));
	json_object_set_new(e, "category", jstr(category_name(v->category)));
	json_object_set_new(e, "rule", jstr(v->rule));
	json_object_set_new(e, "matched", jstr(v->matched));
	json_object_set_new(e, "replayed", json_boolean(c->opts->replay));
	json_object_set_new(e, "verified", json_boolean(
	    tag_applies(it, rc, a) || rcpt_sent(it, rc)));
	return e;
}

static json_t *
message_json(const struct ctx *c, const struct item *it)
{
	const struct report *r = it->report;
	json_t *m = json_object();

	json_object_set_new(m, "digest", jstr(it->digest));
	json_object_set_new(m, "mailbox", jstr(c->folder));
	json_object_set_new(m, "uidvalidity", json_integer(c->uidvalidity));
	json_object_set_new(m, "uid", json_integer(it->msg->uid));
	json_object_set_new(m, "message_id", jstr(r->message_id));
	json_object_set_new(m, "bounce_date", r->date > 0 ?
	    json_integer((json_int_t)r->date) : json_null());
	json_object_set_new(m, "outcome", jstr(outcome_name(it->outcome)));
	json_object_set_new(m, "report_type",
	    jstr(report_type_name(r->type)));
	json_object_set_new(m, "recipients", json_integer((json_int_t)r->nrcpt));
	json_object_set_new(m, "flags", json_integer(r->flags));
	return m;
}

/* Addresses of every new recipient of the batch, for one lookup. */
static const char **
batch_addresses(struct item *items, size_t n, size_t *naddr_r)
{
	const char **addrs = NULL;
	size_t i, k, na = 0;

	for (i = 0; i < n; i++) {
		if (items[i].report == NULL)
			continue;
		for (k = 0; k < items[i].report->nrcpt; k++) {
			const struct report_rcpt *rc =
			    &items[i].report->rcpt[k];

			if (rc->address != NULL) {
				addrs = xreallocarray(addrs, na + 1,
				    sizeof *addrs);
				addrs[na++] = rc->address;
			}
			if (rc->original != NULL) {
				addrs = xreallocarray(addrs, na + 1,
				    sizeof *addrs);
				addrs[na++] = rc->original;
			}
		}
	}
	*naddr_r = na;
	return addrs;
}

/* Account ids named by VERP tags in the batch, for the lookup. */
static long long *
batch_tag_ids(struct item *items, size_t n, size_t *nids_r)
{
	long long *ids = xcalloc(n * VERP_CANDIDATES + 1, sizeof *ids);
	size_t i, j, k = 0;

	for (i = 0; i < n; i++)
		for (j = 0; items[i].report != NULL && j < items[i].ncand; j++)
			ids[k++] = items[i].cand[j].id;
	*nids_r = k;
	return ids;
}

/* Print one decision (dry runs). */
static void
print_decision(const struct item *it, size_t i, const struct verdict *v,
    const struct account *a, enum role role,
    const struct policy_actions *act)
{
	const struct report *r = it->report;

	printf("uid=%u recipient=%s reason=%s category=%s rule=%s",
	    it->msg->uid, i < r->nrcpt && r->rcpt[i].address ?
	    r->rcpt[i].address : "-", v->reason, category_name(v->category),
	    v->rule);
	if (a != NULL)
		printf(" account=%lld role=%s", a->id, policy_role_name(role));
	else
		printf(" account=none");
	if (tag_applies(it, i < r->nrcpt ? &r->rcpt[i] : NULL, a))
		printf(" verified=tag");
	else if (i < r->nrcpt && r->rcpt[i].address != NULL &&
	    sent_to(it, r->rcpt[i].address))
		printf(" verified=sent_mail");
	else if (it->tag != 0)
		printf(" verp=%s", it->tag == 1 ? "other_address" : "forged");
	if (act != NULL && act->set_state)
		printf(" set=%s_state:%s", policy_role_name(act->state_role),
		    policy_state_name(act->state));
	if (act != NULL && act->set_alert)
		printf(" login_alert=%s", policy_alert_name(act->alert));
	if (act != NULL && act->clear_pending)
		printf(" clear=pending_email");
	if (act != NULL && act->clear_secondary)
		printf(" clear=secondary_email");
	if (act != NULL && act->warn)
		printf(" warn=%s:%s", policy_channel_name(act->channel),
		    act->destination);
	if (act != NULL && act->problem)
		printf(" problem=%s:%s%s%s",
		    policy_role_name(act->problem_role),
		    policy_state_name(act->problem_state),
		    act->why != WHY_NONE ? " not_warned=" : "",
		    act->why != WHY_NONE ? policy_why_name(act->why) : "");
	if (act != NULL && act->ops_count)
		printf(" ops_alert=%s", act->ops_alert ? "queued" : "counted");
	printf(" folder=%s\n", outcome_name(it->outcome));
}

/* Remote domains of the batch's blocked recipients, for one lookup;
 * *index_r maps each to its position (for find_ops). */
static char **
batch_remotes(struct item *items, size_t n, size_t *nrem_r, json_t **index_r)
{
	json_t *index = json_object();
	char **rem = NULL, buf[CAP_ADDRESS_BYTES + 1];
	size_t i, k, nr = 0;

	for (i = 0; i < n; i++) {
		if (items[i].report == NULL)
			continue;
		for (k = 0; k < items[i].nverdicts; k++) {
			if (items[i].verdicts[k].category != CAT_BLOCKED)
				continue;
			actions_remote(&items[i].report->rcpt[k], buf,
			    sizeof buf);
			if (json_object_get(index, buf) != NULL)
				continue;
			json_object_set_new(index, buf,
			    json_integer((json_int_t)nr));
			rem = xreallocarray(rem, nr + 1, sizeof *rem);
			rem[nr++] = xstrdup(buf);
		}
	}
	*nrem_r = nr;
	*index_r = index;
	return rem;
}

/* The operator alert state of remote (looked up for the batch). */
static struct ops_alert *
find_ops(struct ops_alert *ops, json_t *index, const char *remote)
{
	json_t *at = json_object_get(index, remote);

	return at != NULL ? &ops[json_integer_value(at)] : NULL;
}

/* Decide for every recipient of the batch; fill the batch's rows. */
static void
decide(struct ctx *c, struct item *items, size_t n, struct account *acc,
    size_t nacc, struct ops_alert *ops, json_t *ops_index,
    struct batch_rows *rows)
{
	struct policy_config pc = {
		.renotify_days = c->cfg->policy.renotify_days,
		.soft_window_days = c->cfg->policy.soft_window_days,
		.soft_limit = c->cfg->policy.soft_limit,
		.clear_secondary_on_hard =
		    c->cfg->policy.clear_secondary_on_hard,
		.sms = c->cfg->sms.command != NULL,
		.ops = c->cfg->smtp.ops_to != NULL,
	};
	struct actions *ax = actions_new(c->cfg, rows, c->now);
	char remote[CAP_ADDRESS_BYTES + 1], ref[POLICY_REF_BYTES];
	size_t i, k;

	for (i = 0; i < n; i++) {
		struct item *it = &items[i];

		if (it->report == NULL)
			continue;
		for (k = 0; k < it->nverdicts; k++) {
			const struct verdict *v = &it->verdicts[k];
			const struct report_rcpt *rc = &it->report->rcpt[k];
			struct policy_actions act;
			struct policy_input in;
			struct ops_alert *oa = NULL;
			enum role role;
			struct account *a = resolve_account(c, it, rc, acc,
			    nacc, &role);

			c->stats->recipients++;
			c->stats->category[v->category]++;
			actions_remote(rc, remote, sizeof remote);
			if (v->category == CAT_BLOCKED)
				oa = find_ops(ops, ops_index, remote);
			snprintf(ref, sizeof ref, "%s:%zu", it->digest, k);
			in.category = v->category;
			in.role = role;
			in.when = event_time(c, it->report);
			in.ref = ref;
			policy_decide(&pc, a, oa, &in, c->now, &act);
			if (c->opts->dry_run)
				print_decision(it, k, v, a, role, &act);
			actions_add(ax, a, &in, &act, remote, rc);
			policy_apply(a, oa, &act, &in, c->now);
			json_array_append_new(rows->events,
			    event_json(c, it, k, v, a, role));
		}
		if (it->nverdicts == 0) {
			c->stats->category[it->verdicts[0].category]++;
			if (c->opts->dry_run)
				print_decision(it, 0, &it->verdicts[0], NULL,
				    ROLE_NONE, NULL);
		}
		json_array_append_new(rows->messages, message_json(c, it));
	}
	actions_finish(ax, acc, nacc);
	actions_free(&ax);
}

/* The folder an item goes to: where its first run sent it, if any. */
static const char *
destination(const struct ctx *c, const struct item *it)
{
	enum outcome o = it->seen != OUTCOME_NONE ? it->seen : it->outcome;

	return o == OUTCOME_REVIEW ? c->cfg->imap.review_folder :
	    c->cfg->imap.archive_folder;
}

/* The Message-ID of raw bytes, if plain enough for a SEARCH (free()). */
static char *
raw_message_id(const struct imap_msg *m)
{
	struct hdr_block b;
	const char *v;
	char *id = NULL;
	size_t off = 0, i;

	hdr_init(&b);
	hdr_parse(m->data, m->len, &off, HDR_HEADER, &b);
	v = hdr_get(&b, "message-id");
	if (v != NULL && *v != '\0' && strlen(v) <= 250) {
		for (i = 0; v[i] != '\0'; i++)
			if ((unsigned char)v[i] <= 0x20 ||
			    (unsigned char)v[i] >= 0x7f || v[i] == '"' ||
			    v[i] == '\\')
				break;
		if (v[i] == '\0')
			id = xstrdup(v);
	}
	hdr_free(&b);
	return id;
}

/*
 * Mark the items of folder dest whose bytes are already there (copied):
 * one SEARCH for the candidates of every item, then FETCHes of them, a
 * batch's bytes (BATCH_BYTES) at a time (a message without Message-ID
 * is searched by size alone, and a large archive may hold thousands of
 * that size), then digests, until every item is found.
 */
static int
mark_copies_in(struct ctx *c, struct item *items, size_t n, const char *dest)
{
	uint32_t uidvalidity, exists, *cand = NULL;
	struct imap_msg *got = NULL;
	size_t *sizes = xcalloc(n + 1, sizeof *sizes), nlike = 0, ncand = 0,
	    ngot = 0, i, k, off, step, cnt, left = 0, biggest = 1,
	    maxb = c->cfg->imap.max_message_bytes;
	char **ids = xcalloc(n + 1, sizeof *ids), d[DIGEST_HEX_LEN + 1];
	int rc = -1;

	for (i = 0; i < n; i++)
		if (items[i].seen != OUTCOME_NONE &&
		    strcmp(destination(c, &items[i]), dest) == 0) {
			sizes[nlike] = items[i].msg->size;
			if (sizes[nlike] > biggest)
				biggest = sizes[nlike];
			ids[nlike++] = raw_message_id(items[i].msg);
			if (!items[i].copied)
				left++;
		}
	if (nlike == 0) {
		rc = 0;
		goto out;
	}
	if (imap_select(c->imap, dest, 1, &uidvalidity, &exists) == -1)
		goto out;
	if (exists > 0 && imap_search_like(c->imap, sizes,
	    (const char *const *)ids, nlike, &cand, &ncand) == -1)
		goto out;
	/* Candidates have one of the sizes searched for. */
	step = BATCH_BYTES / (biggest < maxb ? biggest : maxb);
	if (step == 0)
		step = 1;
	for (off = 0; off < ncand && left > 0; off += cnt) {
		cnt = imap_set_span(cand + off, ncand - off < step ?
		    ncand - off : step);
		if (imap_fetch(c->imap, cand + off, cnt, maxb, &got,
		    &ngot) == -1)
			goto out;
		for (k = 0; k < ngot; k++) {
			digest_sha256_hex(got[k].data, got[k].len, d);
			for (i = 0; i < n; i++)
				if (items[i].seen != OUTCOME_NONE &&
				    !items[i].copied &&
				    strcmp(d, items[i].digest) == 0 &&
				    strcmp(destination(c, &items[i]),
				    dest) == 0) {
					items[i].copied = 1;
					left--;
				}
		}
		imap_msgs_free(got, ngot);
		got = NULL;
		ngot = 0;
	}
	rc = 0;
out:
	imap_msgs_free(got, ngot);
	free(cand);
	for (i = 0; i < nlike; i++)
		free(ids[i]);
	free(ids);
	free(sizes);
	return rc;
}

/*
 * A message recorded by an earlier run and still here may already have
 * its copy in its destination: a run killed between UID COPY and UID
 * EXPUNGE (servers without MOVE) leaves it in both folders, and so does
 * someone copying it back by hand. Only such messages can: a copy is
 * made after COMMIT. Look for each in its destination (same size and
 * Message-ID, then same digest), so that it is expunged here instead of
 * being copied a second time. This costs a few commands, and only after
 * an interruption. Then select the bounce folder again; its UIDVALIDITY
 * must not have changed.
 */
static int
find_copies(struct ctx *c, struct item *items, size_t n)
{
	uint32_t uidvalidity, exists;
	size_t i;

	for (i = 0; i < n && items[i].seen == OUTCOME_NONE; i++)
		continue;
	if (i == n)
		return 0;
	if (mark_copies_in(c, items, n, c->cfg->imap.archive_folder) == -1 ||
	    mark_copies_in(c, items, n, c->cfg->imap.review_folder) == -1 ||
	    imap_select(c->imap, c->folder, 0, &uidvalidity, &exists) == -1)
		return -1;
	if (uidvalidity != c->uidvalidity) {
		log_error("imap: mailbox=%s UIDVALIDITY changed during the run "
		    "(%u, now %u)", c->folder, c->uidvalidity,
		    uidvalidity);
		return -1;
	}
	for (i = 0; i < n; i++)
		if (items[i].copied)
			log_info("run: mailbox=%s uid=%u digest=%.16s already "
			    "in %s (an interrupted move): expunged here, not "
			    "copied again", c->folder,
			    items[i].msg->uid, items[i].digest,
			    destination(c, &items[i]));
	return 0;
}

/* The number of committed messages waiting for their move. */
static size_t
moves_waiting(const struct ctx *c)
{
	return c->moves.narch + c->moves.nrev + c->moves.ngone;
}

/* Queue the batch's messages for the folder their outcome sends them to. */
static int
queue_moves(struct ctx *c, struct item *items, size_t n)
{
	struct moves *m = &c->moves;
	size_t i;

	if (find_copies(c, items, n) == -1)
		return -1;
	if (moves_waiting(c) + n > m->cap) {
		m->cap = moves_waiting(c) + n;
		m->arch = xreallocarray(m->arch, m->cap, sizeof *m->arch);
		m->rev = xreallocarray(m->rev, m->cap, sizeof *m->rev);
		m->gone = xreallocarray(m->gone, m->cap, sizeof *m->gone);
	}
	for (i = 0; i < n; i++) {
		uint32_t uid = items[i].msg->uid;

		if (items[i].copied)
			m->gone[m->ngone++] = uid;
		else if (destination(c, &items[i]) ==
		    c->cfg->imap.review_folder)
			m->rev[m->nrev++] = uid;
		else
			m->arch[m->narch++] = uid;
		if (destination(c, &items[i]) == c->cfg->imap.review_folder)
			m->review++;
		else
			m->archived++;
	}
	return 0;
}

/* Move every waiting message here: one UID MOVE per destination. */
static int
move_here(struct ctx *c)
{
	struct moves *m = &c->moves;
	size_t n = moves_waiting(c);

	if (n == 0)
		return 0;
	if (imap_move(c->imap, m->arch, m->narch,
	    c->cfg->imap.archive_folder) == -1)
		return -1;
	m->narch = 0;
	testpoint("between-moves");
	if (imap_move(c->imap, m->rev, m->nrev,
	    c->cfg->imap.review_folder) == -1)
		return -1;
	m->nrev = 0;
	if (imap_expunge(c->imap, m->gone, m->ngone) == -1)
		return -1;
	m->ngone = 0;
	c->stats->archived += m->archived;
	c->stats->review += m->review;
	m->archived = m->review = 0;
	log_debug("run: batch moved messages=%zu", n);
	testpoint("moved");
	return 0;
}

/*
 * The mover: a second session on the bounce folder, opened when the first
 * group is ready to move, where UID MOVEs run while the first session
 * goes on fetching. A server spends about as long moving a message as
 * sending it, so this nearly halves a large run. Only with MOVE: the
 * COPY + EXPUNGE fallback moves on the first session. If the second
 * session cannot be had, moves go the first session's way.
 */
static int
mover_open(struct ctx *c)
{
	uint32_t uidvalidity, exists;

	if (c->mover_tried)
		return c->mover != NULL;
	c->mover_tried = 1;
	if (!imap_has_move(c->imap) || c->password == NULL)
		return 0;
	if (imap_open(&c->cfg->imap.ep, c->password, &c->mover) == -1 ||
	    imap_select(c->mover, c->folder, 0, &uidvalidity,
	    &exists) == -1) {
		log_info("run: mailbox=%s no second IMAP session: moving on "
		    "the first", c->folder);
		imap_close(&c->mover);
		return 0;
	}
	if (uidvalidity != c->uidvalidity) {
		log_error("imap: mailbox=%s UIDVALIDITY changed during the run "
		    "(%u, now %u)", c->folder, c->uidvalidity,
		    uidvalidity);
		c->mover_failed = 1;
		return -1;
	}
	log_debug("run: mailbox=%s moves on a second IMAP session",
	    c->folder);
	return 1;
}

/*
 * Follow the mover's queue: reap the answers that came, send the next
 * job. Waits while more than keep UIDs are queued (0: until it is empty;
 * SIZE_MAX: never).
 */
static int
mover_pump(struct ctx *c, size_t keep)
{
	int r;

	while (c->njobs > 0) {
		struct move_job *j = &c->jobs[0];

		if (!c->busy) {
			if ((r = imap_move_send(c->mover, j->uids, j->n,
			    j->review ? c->cfg->imap.review_folder :
			    c->cfg->imap.archive_folder)) != 1) {
				if (r == 0)
					log_error("imap: mailbox=%s cannot "
					    "move on the second session",
					    c->folder);
				c->mover_failed = 1;
				return -1;
			}
			c->busy = 1;
		}
		if ((r = imap_wait(c->mover, c->queued > keep)) == -1) {
			c->mover_failed = 1;
			return -1;
		}
		if (r == 0)
			return 0;
		c->busy = 0;
		if (!j->review)
			testpoint("between-moves");
		if (j->group > 0) {
			c->stats->archived += j->archived;
			c->stats->review += j->reviewed;
			log_debug("run: batch moved messages=%zu", j->group);
			testpoint("moved");
		}
		c->queued -= j->n;
		free(j->uids);
		memmove(c->jobs, c->jobs + 1, --c->njobs * sizeof *c->jobs);
	}
	return 0;
}

/* Append jobs for the mover (copies of uids), one per command line. */
static void
mover_queue(struct ctx *c, const uint32_t *uids, size_t n, int review)
{
	struct move_job *j;
	size_t k;

	for (; n > 0; uids += k, n -= k) {
		k = imap_set_span(uids, n);
		if (c->njobs == c->capjobs) {
			c->capjobs = c->capjobs ? 2 * c->capjobs : 8;
			c->jobs = xreallocarray(c->jobs, c->capjobs,
			    sizeof *c->jobs);
		}
		j = &c->jobs[c->njobs++];
		memset(j, 0, sizeof *j);
		j->uids = xreallocarray(NULL, k, sizeof *uids);
		memcpy(j->uids, uids, k * sizeof *uids);
		j->n = k;
		j->review = review;
		c->queued += k;
	}
}

/*
 * Move every waiting message: on the mover if there is one, else here.
 * The mover's queue holds at most two more groups: past that, this
 * waits for it. With final, wait until every message is moved.
 */
static int
flush_moves(struct ctx *c, int final)
{
	struct moves *m = &c->moves;
	size_t n = moves_waiting(c), before;
	int r;

	if (c->mover == NULL) {
		/* A second session costs a TLS handshake and a LOGIN: worth
		 * it for large groups only. */
		if (n < MOVER_MIN)
			return move_here(c);
		if ((r = mover_open(c)) == -1)
			return -1;
		if (r == 0)
			return move_here(c);
	}
	if (n > 0) {
		/* Already in their folder (an interrupted move): expunged
		 * here. */
		if (imap_expunge(c->imap, m->gone, m->ngone) == -1)
			return -1;
		before = c->njobs;
		if (m->narch > 0)
			mover_queue(c, m->arch, m->narch, 0);
		if (m->nrev > 0)
			mover_queue(c, m->rev, m->nrev, 1);
		/* The group's counts on its last job (none queued: only
		 * expunged here, counted now). */
		if (c->njobs > before) {
			c->jobs[c->njobs - 1].group = n;
			c->jobs[c->njobs - 1].archived = m->archived;
			c->jobs[c->njobs - 1].reviewed = m->review;
		} else {
			c->stats->archived += m->archived;
			c->stats->review += m->review;
		}
		m->narch = m->nrev = m->ngone = 0;
		m->archived = m->review = 0;
	}
	return mover_pump(c, final ? 0 : 2 * (size_t)c->cfg->imap.move_group);
}

static void
items_free(struct item *items, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		report_free(&items[i].report);
		free(items[i].verdicts);
	}
	free(items);
}

/* Dry runs: a message recorded earlier is skipped; say so. */
static void
print_skip(const struct item *it)
{
	printf("uid=%u digest=%.16s skip=recorded folder=%s\n", it->msg->uid,
	    it->digest, outcome_name(it->seen));
}

/* A string member of a JSON object, or "-". */
static const char *
jget(json_t *o, const char *key)
{
	const char *v = json_string_value(json_object_get(o, key));

	return v != NULL ? v : "-";
}

/* Print one changed verdict found by a rescore (dry runs). */
static void
print_rescore(json_t *d)
{
	printf("rescore digest=%.16s rcpt=%lld recipient=%s old=%s/%s/%s "
	    "new=%s/%s/%s\n", jget(d, "digest"),
	    (long long)json_integer_value(json_object_get(d, "rcpt_index")),
	    jget(d, "recipient"), jget(d, "old_category"),
	    jget(d, "old_reason"), jget(d, "old_rule"),
	    jget(d, "new_category"), jget(d, "new_reason"),
	    jget(d, "new_rule"));
}

/*
 * replay --rescore: classify the messages recorded earlier again, with
 * today's rules, and record each verdict that differs from the recorded
 * event (rebond.rescores). Accounts are not touched: a rule change does
 * not make an old bounce new evidence.
 */
static int
rescore(struct ctx *c, struct item *items, size_t n)
{
	json_t *rows = json_array(), *diffs = NULL;
	size_t i, k, nd;
	long long added = 0;
	int rc = -1;

	for (i = 0; i < n; i++) {
		struct item *it = &items[i];
		size_t j;

		if (it->seen == OUTCOME_NONE || it->dup)
			continue;
		/* A byte-identical copy (recorded once, as its first) is
		 * rescored once. */
		for (j = 0; j < i && strcmp(items[j].digest, it->digest) != 0;
		    j++)
			continue;
		if (j < i)
			continue;
		analyse(it);
		for (k = 0; k < it->nverdicts; k++) {
			const struct verdict *v = &it->verdicts[k];
			json_t *r = json_object();

			json_object_set_new(r, "digest", jstr(it->digest));
			json_object_set_new(r, "rcpt_index",
			    json_integer((json_int_t)k));
			json_object_set_new(r, "message_id",
			    jstr(it->report->message_id));
			json_object_set_new(r, "recipient",
			    jstr(it->report->rcpt[k].address));
			json_object_set_new(r, "reason", jstr(v->reason));
			json_object_set_new(r, "category",
			    jstr(category_name(v->category)));
			json_object_set_new(r, "rule", jstr(v->rule));
			json_array_append_new(rows, r);
		}
		/* No recipient today: compare against no row at all. */
		if (it->nverdicts == 0) {
			json_t *r = json_object();

			json_object_set_new(r, "digest", jstr(it->digest));
			json_array_append_new(rows, r);
		}
	}
	if (json_array_size(rows) == 0) {
		rc = 0;
		goto out;
	}
	if (store_rescore(c->store, rows, rebond_version(), &diffs,
	    &added) == -1)
		goto out;
	nd = json_array_size(diffs);
	c->stats->rescored += nd;
	for (i = 0; i < nd && c->opts->dry_run; i++)
		print_rescore(json_array_get(diffs, i));
	rc = 0;
out:
	json_decref(rows);
	json_decref(diffs);
	return rc;
}

/* A batch between its fetch and its move. */
struct batch {
	struct imap_msg *msgs;
	size_t n;
	struct item *items;
	int pending;		/* written, COMMIT sent, answer not read */
};

/* Free a batch's messages and items; NULL-safe, the batch is reusable. */
static void
batch_free(struct batch *b)
{
	if (b->items != NULL)
		items_free(b->items, b->n);
	imap_msgs_free(b->msgs, b->n);
	memset(b, 0, sizeof *b);
}

/*
 * Split batch b, whose first n messages are prepared, for prepare_batch:
 * the copies of those n that come later stay in b, prepared as their
 * duplicates (a duplicate goes where its twin goes, in the same
 * transaction; in another it would look recorded by an earlier run); the
 * other messages go to *rest, a batch of their own. The order of the
 * messages of a batch does not matter.
 */
static void
split_batch(struct batch *b, size_t n, struct batch *rest)
{
	size_t k, j, keep = n;

	for (k = n; k < b->n; k++) {
		char d[DIGEST_HEX_LEN + 1];

		digest_sha256_hex(b->msgs[k].data, b->msgs[k].len, d);
		for (j = 0; j < n && strcmp(b->items[j].digest, d) != 0; j++)
			;
		if (j == n)
			continue;
		if (k != keep) {
			struct imap_msg t = b->msgs[keep];

			b->msgs[keep] = b->msgs[k];
			b->msgs[k] = t;
		}
		b->items[keep].msg = &b->msgs[keep];
		b->items[keep].seen = OUTCOME_NONE;
		b->items[keep].dup = 1;
		memcpy(b->items[keep].digest, d, sizeof d);
		keep++;
	}
	rest->n = b->n - keep;
	if (rest->n > 0) {
		rest->msgs = xcalloc(rest->n + 1, sizeof *rest->msgs);
		memcpy(rest->msgs, b->msgs + keep,
		    rest->n * sizeof *rest->msgs);
	}
	b->n = keep;	/* (the tail is rest's now) */
}

/*
 * The CPU half of a batch, no database: digests, duplicates within the
 * batch, parse and classify. Done before the database says which
 * messages an earlier run recorded (their verdicts are then dropped), so
 * that it runs while the server writes the previous batch.
 *
 * A batch is bounded by messages and bytes when fetched, but what it
 * costs in memory and in one transaction grows with its recipients
 * (CAP_RECIPIENTS per message: 200 hostile messages would make 100,000
 * rows): once BATCH_RECIPIENTS are parsed, the messages left are not
 * parsed but handed to *rest, a batch of their own, prepared in turn.
 */
static void
prepare_batch(struct batch *b, struct batch *rest)
{
	size_t i, j, rcpts = 0;

	memset(rest, 0, sizeof *rest);
	b->items = xcalloc(b->n + 1, sizeof *b->items);
	for (i = 0; i < b->n; i++) {
		struct item *it = &b->items[i];

		if (rcpts >= BATCH_RECIPIENTS) {
			split_batch(b, i, rest);
			log_debug("run: batch split after %zu messages, "
			    "%zu recipients; %zu messages follow", b->n, rcpts,
			    rest->n);
			break;
		}
		it->msg = &b->msgs[i];
		it->seen = OUTCOME_NONE;
		digest_sha256_hex(it->msg->data, it->msg->len, it->digest);
		for (j = 0; j < i && !it->dup; j++)
			if (strcmp(b->items[j].digest, it->digest) == 0)
				it->dup = 1;
		if (!it->dup) {
			analyse(it);
			rcpts += it->nverdicts > 0 ? it->nverdicts : 1;
		}
	}
}

/*
 * The database half: what is already recorded, look the accounts up,
 * decide, write, and send COMMIT without waiting (finish_batch reads
 * it). Returns 0 or -1 (database or IMAP failure, already logged; *db_r
 * says which).
 */
static int
write_batch(struct ctx *c, struct batch *b, int *db_r)
{
	struct item *items = b->items;
	size_t n = b->n;
	char (*digests)[DIGEST_HEX_LEN + 1] = xcalloc(n + 1, sizeof *digests);
	enum outcome *seen = xcalloc(n + 1, sizeof *seen);
	struct account *acc = NULL;
	struct ops_alert *ops = NULL;
	struct sent_mail *sent = NULL;
	size_t nacc = 0, naddr = 0, nids = 0, nrem = 0, nsent = 0, i, j;
	const char **addrs = NULL;
	long long *ids = NULL;
	char **remotes = NULL;
	json_t *ops_index = NULL;
	struct batch_rows rows = { .events = json_array(),
		.messages = json_array() };
	int rc = -1;

	*db_r = 1;
	for (i = 0; i < n; i++)
		memcpy(digests[i], items[i].digest, sizeof digests[i]);
	if (store_begin(c->store) == -1)
		goto out;
	if (store_seen(c->store, digests, n, seen) == -1)
		goto rollback;
	for (i = 0; i < n; i++) {
		items[i].seen = seen[i];
		if (items[i].seen != OUTCOME_NONE) {
			/* Recorded by an earlier run: only moved. */
			c->stats->already++;
			if (c->opts->dry_run && !c->opts->rescore)
				print_skip(&items[i]);
			report_free(&items[i].report);
			free(items[i].verdicts);
			items[i].verdicts = NULL;
			items[i].nverdicts = 0;
			items[i].dup = 0;
			continue;
		}
		if (items[i].dup)
			continue;
		verp_check(c, &items[i]);
		if (items[i].outcome == OUTCOME_IGNORED)
			c->stats->ignored++;
	}
	addrs = batch_addresses(items, n, &naddr);
	ids = batch_tag_ids(items, n, &nids);
	if ((naddr > 0 || nids > 0) && store_lookup(c->store, addrs, naddr,
	    ids, nids, &acc, &nacc) == -1)
		goto rollback;
	if (c->verp_key != NULL && c->cfg->verp.mode == VERP_REQUIRE &&
	    batch_sent(c, items, n, &sent, &nsent) == -1)
		goto rollback;
	/* Tags verified against the addresses the accounts have now. */
	for (i = 0; i < n; i++)
		if (items[i].seen == OUTCOME_NONE && !items[i].dup)
			verp_settle(c, &items[i], acc, nacc);
	/* A duplicate goes where its twin goes. */
	for (i = 0; i < n; i++)
		for (j = 0; j < i && items[i].dup; j++)
			if (strcmp(items[j].digest, items[i].digest) == 0) {
				items[i].outcome = items[j].outcome;
				break;
			}
	/* The history the policy needs: bulk, never per recipient. */
	if (nacc > 0 && store_history(c->store, acc, nacc, c->now -
	    (time_t)c->cfg->policy.soft_window_days * 86400) == -1)
		goto rollback;
	remotes = batch_remotes(items, n, &nrem, &ops_index);
	if (store_ops_lookup(c->store, (const char *const *)remotes, nrem,
	    &ops) == -1)
		goto rollback;
	decide(c, items, n, acc, nacc, ops, ops_index, &rows);
	if (c->opts->rescore && rescore(c, items, n) == -1)
		goto rollback;
	if (c->opts->dry_run) {
		store_rollback(c->store);
		rc = 0;
		goto out;
	}
	/* Sent, not waited for: the server writes while the next batch is
	 * parsed. */
	if (store_pipeline_start(c->store) == -1)
		goto rollback;
	b->pending = 1;
	if (store_write_batch(c->store, &rows) == -1)
		goto out;
	testpoint("before-commit");
	if (store_commit(c->store) == -1)
		goto out;
	rc = 0;
	goto out;
rollback:
	store_rollback(c->store);
out:
	if (rc == -1 && b->pending) {
		/* Sending failed: end the pipeline, undo the transaction. */
		b->pending = 0;
		store_pipeline_finish(c->store);
		store_rollback(c->store);
	}
	json_decref(rows.events);
	json_decref(rows.messages);
	json_decref(rows.accounts);
	json_decref(rows.outbox);
	json_decref(rows.problems);
	json_decref(rows.ops);
	store_accounts_free(acc, nacc);
	store_ops_free(ops, nrem);
	for (i = 0; i < n; i++) {
		free(items[i].sent);
		items[i].sent = NULL;
		items[i].nsent = 0;
	}
	store_sent_free(sent, nsent);
	json_decref(ops_index);
	for (i = 0; i < nrem; i++)
		free(remotes[i]);
	free(remotes);
	free(addrs);
	free(ids);
	free(seen);
	free(digests);
	return rc;
}

/*
 * The answer to write_batch's COMMIT; then, and only then, the batch
 * waits for its move (queue_moves). Returns as write_batch.
 */
static int
finish_batch(struct ctx *c, struct batch *b, int *db_r)
{
	*db_r = 1;
	if (!b->pending)
		return 0;
	b->pending = 0;
	if (store_pipeline_finish(c->store) == -1) {
		store_rollback(c->store);
		return -1;
	}
	log_debug("run: batch committed messages=%zu", b->n);
	testpoint("committed");
	/* Committed: now, and only now, queue for moving (flush_moves);
	 * a replay never moves. */
	*db_r = 0;
	return c->opts->replay ? 0 : queue_moves(c, b->items, b->n);
}

/*
 * Deadlines and the outbox (notify.h). The mailbox's exit code wins; a
 * relay or SMS failure gives 75 only when the mailbox part went well.
 */
static void
notify_phase(struct ctx *c, int *rc)
{
	struct notify_stats ns;
	int nrc = notify_run(c->cfg, c->store, c->now, c->verp_key, &ns);

	if (ns.sent + ns.failed + ns.deferred > 0 || nrc != EX_OK)
		log_info("notify: status=%s sent=%lu refused=%lu deferred=%lu "
		    "expired_validations=%d expired_invitations=%d",
		    nrc == EX_OK ? "ok" : "failed", ns.sent, ns.failed,
		    ns.deferred, ns.validations_expired,
		    ns.invitations_expired);
	if (*rc == EX_OK)
		*rc = nrc;
}

/* Exit code for an IMAP failure. */
static int
imap_exit(const struct imap *im)
{
	switch (imap_error(im)) {
	case IMAP_ERR_TLS:
		return EX_PROTOCOL;
	case IMAP_ERR_AUTH:
		return EX_NOPERM;
	case IMAP_ERR_UNSUPPORTED:
		return EX_UNAVAILABLE;
	case IMAP_ERR_NO_FOLDER:
		return EX_CONFIG;
	default:
		return EX_TEMPFAIL;
	}
}

/*
 * Is it time to move what waits? When move_group messages wait; and,
 * when the mover is idle (or not open yet), as soon as a tenth of the
 * folder waits (MOVER_MIN at least): the cost of a MOVE grows with the
 * folder, so a tenth keeps it to about ten scans of the folder, and the
 * last group, moved at the end while nothing else runs, stays small.
 */
static int
time_to_move(const struct ctx *c)
{
	size_t n = moves_waiting(c), tenth = c->exists / 10;

	if (n >= c->cfg->imap.move_group)
		return 1;
	return c->cfg->imap.move_group >= MOVER_MIN && n >= MOVER_MIN &&
	    n >= tenth && c->njobs == 0 &&
	    (c->mover != NULL || !c->mover_tried);
}

/* Exit code for a failed move, on whichever session failed. */
static int
moves_exit(const struct ctx *c)
{
	return imap_exit(c->mover_failed ? c->mover : c->imap);
}

/*
 * Where the walk over the folder is. The folder is listed a window of
 * UIDs at a time (UID, RFC822.SIZE), never whole: memory stays flat
 * whatever the number of messages.
 */
struct walk {
	uint32_t next;		/* lowest UID not listed yet; 0: none left */
	uint32_t last;		/* highest UID of this run (UIDNEXT - 1) */
	uint32_t *uids;		/* the current window, ascending */
	size_t *sizes;
	size_t n, off;		/* its length, what is taken */
};

/*
 * The next batch into uids (at most batch messages and BATCH_BYTES);
 * *n_r = 0 at the end of the folder. Lists the next window of UIDs when
 * the current one runs out, and jumps over gaps.
 */
static int
next_batch(struct ctx *c, struct walk *w, uint32_t *uids, size_t *n_r)
{
	size_t maxb = c->cfg->imap.max_message_bytes, bytes = 0, k = 0;
	struct imap_setlen sl = { 0, 0, 0 }, t;

	*n_r = 0;
	while (k < c->cfg->imap.batch) {
		size_t b;

		if (w->off == w->n) {
			uint32_t to;

			if (w->next == 0 || w->next > w->last)
				break;
			to = w->last - w->next < LIST_SPAN - 1 ? w->last :
			    w->next + LIST_SPAN - 1;
			free(w->uids);
			free(w->sizes);
			w->off = 0;
			if (imap_list(c->imap, w->next, to, c->opts->since,
			    &w->uids, &w->sizes, &w->n) == -1)
				return -1;
			w->next = to < UINT32_MAX ? to + 1 : 0;
			/* Nothing there: go straight to the next message
			 * (unless a date filtered the window). */
			if (w->n == 0 && w->next != 0 && w->next <= w->last &&
			    c->opts->since <= 0 &&
			    imap_next_uid(c->imap, w->next, &w->next) == -1)
				return -1;
			continue;
		}
		b = w->sizes[w->off] < maxb ? w->sizes[w->off] : maxb;
		if (k > 0 && bytes + b > BATCH_BYTES)
			break;
		/* (and one command line: a date may leave gaps) */
		t = sl;
		if (k > 0 && imap_setlen_add(&t, w->uids[w->off]) >
		    IMAP_SET_BYTES)
			break;
		(void)imap_setlen_add(&sl, w->uids[w->off]);
		bytes += b;
		uids[k++] = w->uids[w->off++];
	}
	*n_r = k;
	return 0;
}

/*
 * Walk the folder in batches bounded by count and by bytes, three at a
 * time: while the database writes and commits one batch, the next one is
 * parsed and the server sends the one after. Moves wait for flush_moves.
 */
static int
poll_folder(struct ctx *c)
{
	struct walk w = { 0 };
	struct batch cur = { 0 }, next = { 0 }, rest = { 0 };
	uint32_t *uids, exists = 0, lastuid = 0;
	unsigned long long last;
	size_t n = 0, maxb = c->cfg->imap.max_message_bytes;
	int rc = EX_TEMPFAIL, db = 0;

	/* A replay only reads: EXAMINE. */
	if (imap_select(c->imap, c->folder, c->opts->replay, &c->uidvalidity,
	    &exists) == -1)
		return imap_exit(c->imap);
	c->exists = exists;
	c->stats->messages = 0;
	/* An empty folder: done (the check below reads the history). */
	if (exists == 0)
		return EX_OK;
	if (!c->opts->replay) {
		if (store_last_uidvalidity(c->store, c->folder, &last) == -1) {
			c->db_failed = 1;
			return EX_TEMPFAIL;
		}
		if (last != 0 && last != c->uidvalidity)
			log_warning("run: mailbox=%s UIDVALIDITY changed (%u, "
			    "was %llu): the server renumbered its messages; "
			    "they are recognised by digest, nothing is applied "
			    "twice", c->folder, c->uidvalidity, last);
	}
	/* What arrives during the run is for the next one. */
	w.next = 1;
	w.last = imap_uidnext(c->imap) > 1 ? imap_uidnext(c->imap) - 1 :
	    UINT32_MAX;
	uids = xcalloc(c->cfg->imap.batch + 1, sizeof *uids);
	if (next_batch(c, &w, uids, &n) == -1) {
		rc = imap_exit(c->imap);
		goto out;
	}
	testpoint("sized");
	if (imap_fetch_send(c->imap, uids, n, maxb) == -1) {
		rc = imap_exit(c->imap);
		goto out;
	}
	while (n > 0 || rest.n > 0) {
		int stop = stop_pending(c->stats);

		if (rest.n > 0) {
			/* What a batch left past its recipients: already
			 * fetched and counted. */
			if (stop) {
				c->stats->messages -= rest.n;
				lastuid = rest.msgs[0].uid - 1;
				batch_free(&rest);
				/* the batch asked for is not worked on */
				if (n > 0 && imap_fetch_recv(c->imap,
				    &next.msgs, &next.n) == -1) {
					rc = imap_exit(c->imap);
					goto out;
				}
				batch_free(&next);
				break;
			}
			next = rest;
			memset(&rest, 0, sizeof rest);
			prepare_batch(&next, &rest);
		} else {
			if (imap_fetch_recv(c->imap, &next.msgs,
			    &next.n) == -1) {
				rc = imap_exit(c->imap);
				goto out;
			}
			if (stop) {
				/* Asked for before the stop: not worked on. */
				batch_free(&next);
				break;
			}
			lastuid = uids[n - 1];
			log_debug("run: batch uids=%u-%u fetched=%zu", uids[0],
			    lastuid, next.n);
			testpoint("fetched");
			c->stats->messages += next.n;
			/* Ask for the batch after, unless asked to stop. */
			n = 0;
			if (!stop_pending(c->stats)) {
				if (next_batch(c, &w, uids, &n) == -1) {
					rc = imap_exit(c->imap);
					goto out;
				}
				if (n > 0)
					testpoint("sized");
				if (imap_fetch_send(c->imap, uids, n,
				    maxb) == -1) {
					rc = imap_exit(c->imap);
					goto out;
				}
			}
			prepare_batch(&next, &rest);
		}
		if (finish_batch(c, &cur, &db) == -1 ||
		    write_batch(c, &next, &db) == -1)
			goto failed;
		batch_free(&cur);
		cur = next;
		memset(&next, 0, sizeof next);
		if ((c->mover != NULL && mover_pump(c, SIZE_MAX) == -1) ||
		    (time_to_move(c) && flush_moves(c, 0) == -1)) {
			rc = moves_exit(c);
			goto out;
		}
	}
	if (finish_batch(c, &cur, &db) == -1)
		goto failed;
	if (c->stats->stopped)
		log_info("run: mailbox=%s stopped on request after a complete "
		    "batch (last uid=%u); the rest is for the next run",
		    c->folder, lastuid);
	rc = EX_OK;
	goto flush;
failed:
	c->stats->errors++;
	if (!db) {
		rc = imap_exit(c->imap);
		goto out;
	}
	/* The database failed: still move what it holds. */
	c->db_failed = 1;
	rc = EX_TEMPFAIL;
flush:
	if (flush_moves(c, 1) == -1)
		rc = moves_exit(c);
out:
	if (cur.pending || next.pending) {
		/* Left on an IMAP failure: the COMMIT's answer, to be sure
		 * of nothing, is not needed; the next run sees its digest.
		 * A batch that failed leaves its transaction aborted: end
		 * it, or the notifications that follow would fail too. */
		if (store_pipeline_finish(c->store) == -1)
			store_rollback(c->store);
	}
	batch_free(&cur);
	batch_free(&next);
	batch_free(&rest);
	free(uids);
	free(w.uids);
	free(w.sizes);
	return rc;
}

/* Is tz a POSIX TZ rule (a digit before any '/'), not a zone's name? */
static int
posix_rule(const char *tz)
{
	size_t first = strcspn(tz, "0123456789");

	return tz[first] != '\0' && first < strcspn(tz, "/");
}

/*
 * Dates in the mails and SMS (template_date) follow the database
 * session's TimeZone, the zone of its own dates ("prévenu le ...", the
 * deadlines, the admin queue): one setting for both, the database's
 * (ALTER DATABASE ... SET timezone = 'Europe/Paris', or the server's).
 * A zone this system does not know leaves the dates in UTC, with a
 * warning.
 */
static void
use_timezone(struct store *st)
{
	char tz[128], path[256];
	const char *dir = getenv("TZDIR");
	size_t i;
	int known;

	if (store_timezone(st, tz, sizeof tz) == -1)
		snprintf(tz, sizeof tz, "UTC");
	for (i = 0; tz[i] != '\0'; i++)
		if (!((tz[i] >= 'A' && tz[i] <= 'Z') || (tz[i] >= 'a' &&
		    tz[i] <= 'z') || (tz[i] >= '0' && tz[i] <= '9') ||
		    strchr("/_+-<>,.:", tz[i]) != NULL))
			break;
	/*
	 * A name of the zone database ("Europe/Paris", "Japan") must be a
	 * file of it here; a POSIX rule ("UTC0", "<+03>-03",
	 * "CET-1CEST,M3.5.0,M10.5.0/3": a digit in its first part) glibc
	 * reads itself.
	 */
	snprintf(path, sizeof path, "%s/%s", dir ? dir : "/usr/share/zoneinfo",
	    tz);
	known = tz[i] == '\0' && tz[0] != ':' && tz[0] != '/' &&
	    strstr(tz, "..") == NULL &&
	    (access(path, R_OK) == 0 || posix_rule(tz));
	if (!known) {
		log_warning("database: TimeZone \"%s\" is unknown here: the "
		    "dates of mails and SMS are in UTC", tz);
		snprintf(tz, sizeof tz, "UTC");
	}
	if (setenv("TZ", tz, 1) == 0)
		tzset();
	log_debug("run: time zone %s", tz);
}

/*
 * Open the store and the IMAP session, then work through c->folder: the
 * cron job (with the mailbox's lock, folders created, moves) or a replay
 * (no lock: the digest locks keep it from colliding with a run; read
 * only, nothing moved).
 */
static int
session(struct ctx *c)
{
	const struct config *cfg = c->cfg;
	char key[1024], *password = NULL;
	int version, got, rc;

	memset(c->stats, 0, sizeof *c->stats);
	c->now = time(NULL);
	if ((rc = store_open(cfg->database.conninfo, &c->store)) != 0)
		return rc;
	if (store_schema_version(c->store, &version) == -1) {
		rc = EX_TEMPFAIL;
		goto out;
	}
	if (version != STORE_SCHEMA_VERSION) {
		log_error("database: schema version %d, this rebond needs %d: "
		    "run rebond migrate", version, STORE_SCHEMA_VERSION);
		rc = EX_CONFIG;
		goto out;
	}
	if (!c->opts->replay) {
		snprintf(key, sizeof key, "rebond run %s@%s/%s",
		    cfg->imap.ep.user, cfg->imap.ep.host, cfg->imap.folder);
		if (store_try_lock(c->store, key, &got) == -1) {
			rc = EX_TEMPFAIL;
			goto out;
		}
		if (!got) {
			/* The only line of such a run: no summary, no
			 * metrics. */
			log_info("run: mailbox=%s status=busy: another run "
			    "holds the lock; nothing to do", cfg->imap.folder);
			c->stats->busy = 1;
			rc = EX_OK;
			goto out;
		}
	}
	use_timezone(c->store);
	if (cfg->verp.mode != VERP_OFF && (c->verp_key =
	    conf_read_verp_secret(cfg->verp.secret_file, stderr)) == NULL) {
		rc = EX_CONFIG;
		goto out;
	}
	if ((password = conf_read_secret(cfg->imap.ep.password_file,
	    stderr)) == NULL) {
		rc = EX_CONFIG;
		goto out;
	}
	rc = imap_open(&cfg->imap.ep, password, &c->imap);
	c->password = password;	/* for the mover; zeroed after the folder */
	if (rc == -1) {
		rc = imap_exit(c->imap);
		goto notify;
	}
	if (!c->opts->dry_run && !c->opts->replay &&
	    (imap_ensure_folder(c->imap, cfg->imap.archive_folder) == -1 ||
	    imap_ensure_folder(c->imap, cfg->imap.review_folder) == -1)) {
		rc = imap_exit(c->imap);
		goto notify;
	}
	rc = poll_folder(c);
notify:
	/* What the batches queued goes out whatever happened on IMAP; not
	 * after a database failure (already logged: one error line), nor
	 * when asked to stop. A replay sends nothing: what it queued goes
	 * out with the next run. */
	imap_close(&c->mover);
	imap_close(&c->imap);
	memset(password, 0, strlen(password));
	c->password = NULL;
	if (!c->opts->dry_run && !c->opts->replay && !c->db_failed &&
	    !stop_pending(c->stats))
		notify_phase(c, &rc);
out:
	free(c->moves.arch);
	free(c->moves.rev);
	free(c->moves.gone);
	while (c->njobs > 0)
		free(c->jobs[--c->njobs].uids);
	free(c->jobs);
	if (password != NULL)
		memset(password, 0, strlen(password));
	free(password);
	if (c->verp_key != NULL) {
		memset(c->verp_key, 0, strlen(c->verp_key));
		free(c->verp_key);
		c->verp_key = NULL;
	}
	imap_close(&c->mover);
	imap_close(&c->imap);
	store_close(&c->store);
	return rc;
}

int
run_poll(const struct config *cfg, const struct run_opts *opts,
    struct run_stats *stats)
{
	struct ctx c = { .cfg = cfg, .opts = opts, .stats = stats,
		.folder = cfg->imap.folder };

	return session(&c);
}

int
run_replay(const struct config *cfg, const struct run_opts *opts,
    struct run_stats *stats)
{
	struct ctx c = { .cfg = cfg, .opts = opts, .stats = stats,
		.folder = opts->folder };

	if (!opts->replay || opts->folder == NULL)
		abort();	/* main() sets both */
	return session(&c);
}
