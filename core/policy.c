/* policy.c - the help page's rules, as a pure function (see policy.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy.h"
#include "strutil.h"
#include "xalloc.h"

#define DAY_SECONDS 86400

static const char *const state_names[STATE_COUNT] = {
	[STATE_OK] = "ok",
	[STATE_HARD] = "hard",
	[STATE_QUOTA] = "quota",
	[STATE_SPF] = "spf",
	[STATE_SPAM] = "spam",
	[STATE_COMPLAINT] = "complaint",
	[STATE_SOFT] = "soft",
};

static const char *const warn_names[WARN_COUNT] = {
	[WARN_HARD] = "hard",
	[WARN_QUOTA] = "quota",
	[WARN_SPF] = "spf",
	[WARN_SPAM] = "spam",
};

static const char *const why_names[WHY_COUNT] = {
	[WHY_NONE] = NULL,
	[WHY_NO_CHANNEL] = "no_channel",
	[WHY_COMPLAINT] = "complaint",
	[WHY_SOFT] = "soft",
	[WHY_PENDING] = "pending",
	[WHY_INVITATION] = "invitation",
	[WHY_OLD_BOUNCE] = "old_bounce",
	[WHY_NO_SMS] = "no_sms",
};

const char *
policy_state_name(enum addr_state s)
{
	return (unsigned)s < STATE_COUNT ? state_names[s] : "ok";
}

int
policy_state_parse(const char *name, enum addr_state *s_r)
{
	int s;

	for (s = 0; s < STATE_COUNT; s++)
		if (strcmp(state_names[s], name) == 0) {
			*s_r = (enum addr_state)s;
			return 0;
		}
	return -1;
}

const char *
policy_role_name(enum role r)
{
	switch (r) {
	case ROLE_PRIMARY:
		return "primary";
	case ROLE_SECONDARY:
		return "secondary";
	case ROLE_PENDING:
		return "pending";
	case ROLE_INVITATION:
		return "invitation";
	default:
		return NULL;
	}
}

int
policy_role_parse(const char *name, enum role *r_r)
{
	static const enum role roles[] = { ROLE_PRIMARY, ROLE_SECONDARY,
		ROLE_PENDING, ROLE_INVITATION };
	size_t i;

	for (i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (strcmp(name, policy_role_name(roles[i])) == 0) {
			*r_r = roles[i];
			return 0;
		}
	return -1;
}

const char *
policy_alert_name(enum login_alert a)
{
	switch (a) {
	case ALERT_HARD:
		return "hard";
	case ALERT_SPAM:
		return "spam";
	default:
		return NULL;
	}
}

int
policy_alert_parse(const char *name, enum login_alert *a_r)
{
	if (name == NULL || *name == '\0')
		*a_r = ALERT_NONE;
	else if (strcmp(name, "hard") == 0)
		*a_r = ALERT_HARD;
	else if (strcmp(name, "spam") == 0)
		*a_r = ALERT_SPAM;
	else
		return -1;
	return 0;
}

const char *
policy_warn_name(enum warn_kind k)
{
	return (unsigned)k < WARN_COUNT ? warn_names[k] : "hard";
}

int
policy_warn_parse(const char *name, enum warn_kind *k_r)
{
	int k;

	for (k = 0; k < WARN_COUNT; k++)
		if (strcmp(warn_names[k], name) == 0) {
			*k_r = (enum warn_kind)k;
			return 0;
		}
	return -1;
}

const char *
policy_channel_name(enum channel c)
{
	switch (c) {
	case CHANNEL_EMAIL:
		return "email";
	case CHANNEL_SMS:
		return "sms";
	default:
		return NULL;
	}
}

const char *
policy_why_name(enum notify_why w)
{
	return (unsigned)w < WHY_COUNT ? why_names[w] : NULL;
}

long
policy_day(time_t t)
{
	if (t >= 0)
		return (long)(t / DAY_SECONDS);
	return -(long)((-t + DAY_SECONDS - 1) / DAY_SECONDS);
}

/* The address state a category flags, or STATE_OK for none. */
static enum addr_state
category_state(enum category c)
{
	switch (c) {
	case CAT_HARD:
		return STATE_HARD;
	case CAT_QUOTA:
		return STATE_QUOTA;
	case CAT_SPF:
		return STATE_SPF;
	case CAT_SPAM:
		return STATE_SPAM;
	case CAT_COMPLAINT:
		return STATE_COMPLAINT;
	default:
		return STATE_OK;
	}
}

/* The warning kind of a state; -1 when that state warns nobody. */
static int
state_warn(enum addr_state s)
{
	switch (s) {
	case STATE_HARD:
		return WARN_HARD;
	case STATE_QUOTA:
		return WARN_QUOTA;
	case STATE_SPF:
		return WARN_SPF;
	case STATE_SPAM:
		return WARN_SPAM;
	default:
		return -1;
	}
}

/* A non-empty field (not only blanks). */
static int
present(const char *s)
{
	size_t n;

	(void)addr_span(s, &n);
	return n > 0;
}

/* Bounces of unsubscribed or expired accounts are recorded only. */
static int
account_live(const struct account *a)
{
	return a->status == NULL || (strcmp(a->status, "unsubscribed") != 0 &&
	    strcmp(a->status, "invitation_expired") != 0);
}

/* Recent enough to warn anyone (an old backlog is not fresh evidence). */
static int
fresh(const struct policy_config *cfg, time_t when, time_t now)
{
	return when >= now - (time_t)cfg->renotify_days * DAY_SECONDS;
}

/* May a bounce dated `when` of state s replace state cur set at since? */
static int
may_replace(enum addr_state cur, time_t since, enum addr_state s,
    time_t when)
{
	if (cur == s)
		return 0;
	if (cur == STATE_OK)
		return 1;
	/* soft is the weakest: it never replaces a definite problem. */
	if (s == STATE_SOFT)
		return 0;
	/* Older evidence never replaces newer. */
	return when >= since;
}

/* The login alert a state calls for. */
static enum login_alert
alert_level(enum addr_state s)
{
	return s == STATE_HARD ? ALERT_HARD : s == STATE_SPAM ? ALERT_SPAM :
	    ALERT_NONE;
}

/* Does the login alert still name an address of the account with a
 * problem as bad as the alert says? */
static int
alert_holds(const struct account *a)
{
	if (a->login_alert == ALERT_NONE)
		return 0;
	if (addr_same(a->login_alert_address, a->primary_email))
		return alert_level(a->primary_state) >= a->login_alert;
	if (addr_same(a->login_alert_address, a->secondary_email))
		return alert_level(a->secondary_state) >= a->login_alert;
	return 0;
}

/*
 * Does an earlier warning still reach the user: sent by SMS, or by email
 * to an address of the account that works and is not the one bouncing
 * now?
 */
static int
warning_stands(const struct account *a, const struct warned *w,
    const char *bounced)
{
	if (w->channel != CHANNEL_EMAIL)
		return 1;
	if (addr_same(w->dest, bounced))
		return 0;
	if (addr_same(w->dest, a->primary_email))
		return a->primary_state == STATE_OK;
	if (addr_same(w->dest, a->secondary_email))
		return a->secondary_state == STATE_OK;
	return 0;
}

/* The other channel for a bounce of the address of role. */
static enum channel
other_channel(const struct policy_config *cfg, const struct account *a,
    enum role role, const char *bounced, const char **dest_r)
{
	const char *other = role == ROLE_PRIMARY ? a->secondary_email :
	    a->primary_email;
	enum addr_state other_state = role == ROLE_PRIMARY ?
	    a->secondary_state : a->primary_state;

	*dest_r = NULL;
	if (present(other) && other_state == STATE_OK &&
	    !addr_same(other, bounced)) {
		*dest_r = other;
		return CHANNEL_EMAIL;
	}
	if (cfg->sms && present(a->phone)) {
		*dest_r = a->phone;
		return CHANNEL_SMS;
	}
	return CHANNEL_NONE;
}

/* Record a new problem in out. */
static void
problem(struct policy_actions *out, enum role role, enum addr_state s,
    const char *address, time_t since, enum notify_why why)
{
	out->problem = 1;
	out->problem_role = role;
	out->problem_state = s;
	out->problem_address = address;
	out->problem_since = since;
	out->why = why;
}

/* The validation mail of a new primary bounced. */
static void
decide_pending(const struct account *a, enum addr_state s,
    const struct policy_input *in, struct policy_actions *out)
{
	if (a->pending_email == NULL || s == STATE_COMPLAINT)
		return;
	out->clear_pending = 1;
	problem(out, ROLE_PENDING, s, a->pending_email, in->when, WHY_PENDING);
}

/* The invitation of an account that never logged in bounced. */
static void
decide_invitation(const struct account *a, enum addr_state s,
    const struct policy_input *in, struct policy_actions *out)
{
	if (!may_replace(a->primary_state, a->primary_since, s, in->when))
		return;
	out->set_state = 1;
	out->state_role = ROLE_PRIMARY;
	out->state = s;
	out->state_since = in->when;
	problem(out, ROLE_INVITATION, s, a->primary_email, in->when,
	    WHY_INVITATION);
}

/* A primary or secondary address bounced with state s. */
static void
decide_address(const struct policy_config *cfg, const struct account *a,
    enum addr_state s, const struct policy_input *in, time_t now,
    struct policy_actions *out)
{
	enum role role = in->role;
	enum addr_state cur = role == ROLE_PRIMARY ? a->primary_state :
	    a->secondary_state;
	time_t since = role == ROLE_PRIMARY ? a->primary_since :
	    a->secondary_since;
	const char *addr = role == ROLE_PRIMARY ? a->primary_email :
	    a->secondary_email;
	int changed = may_replace(cur, since, s, in->when), k;

	/* Older evidence of another problem than the current one. */
	if (!changed && cur != s)
		return;
	if (changed) {
		out->set_state = 1;
		out->state_role = role;
		out->state = s;
		out->state_since = in->when;
		if (role == ROLE_SECONDARY && s == STATE_HARD &&
		    cfg->clear_secondary_on_hard) {
			out->clear_secondary = 1;
			out->problem_auto_cleared = 1;
		}
		if ((s == STATE_HARD || s == STATE_SPAM) &&
		    !out->clear_secondary) {
			enum login_alert al = alert_level(s);

			/*
			 * The worst problem (a spam alert never hides a
			 * hard one); as bad as the one named: that one
			 * while it stands, the primary before the
			 * secondary.
			 */
			if (al > a->login_alert || (al == a->login_alert &&
			    (!alert_holds(a) || (role == ROLE_PRIMARY &&
			    !addr_same(a->login_alert_address, addr))))) {
				out->set_alert = 1;
				out->alert = al;
				out->alert_address = addr;
			}
		}
		problem(out, role, s, addr, in->when, WHY_NONE);
	}
	k = state_warn(s);
	if (k < 0) {
		if (s == STATE_COMPLAINT)
			out->why = WHY_COMPLAINT;
		return;
	}
	if (!fresh(cfg, in->when, now)) {
		out->why = WHY_OLD_BOUNCE;
		return;
	}
	if (a->warned[k].at != 0 && now - a->warned[k].at <
	    (time_t)cfg->renotify_days * DAY_SECONDS &&
	    warning_stands(a, &a->warned[k], addr)) {
		/* Warned lately for this category, by a channel that still
		 * works: that warning stands. */
		out->problem_warning = a->warned[k];
		return;
	}
	out->channel = other_channel(cfg, a, role, addr, &out->destination);
	if (out->channel == CHANNEL_NONE) {
		/* The admins must not read "no phone" when there is one. */
		out->why = !cfg->sms && present(a->phone) ? WHY_NO_SMS :
		    WHY_NO_CHANNEL;
		return;
	}
	out->warn = 1;
	out->warn_kind = (enum warn_kind)k;
	out->warn_address = addr;
	out->warn_role = role;
	out->problem_warning.at = now;
	out->problem_warning.id = 0;
	snprintf(out->problem_warning.ref, sizeof out->problem_warning.ref,
	    "%s", in->ref ? in->ref : "");
}

/* Is day in the set? */
static int
has_day(const struct soft_days *d, long day)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (d->day[i] == day)
			return 1;
	return 0;
}

/* A transient failure: the soft score of the address. */
static void
decide_soft(const struct policy_config *cfg, const struct account *a,
    const struct policy_input *in, time_t now, struct policy_actions *out)
{
	time_t start = now - (time_t)cfg->soft_window_days * DAY_SECONDS;
	enum role addr_role = in->role == ROLE_SECONDARY ? ROLE_SECONDARY :
	    ROLE_PRIMARY;
	const struct soft_days *d = addr_role == ROLE_SECONDARY ?
	    &a->soft_secondary : &a->soft_primary;
	enum addr_state cur = addr_role == ROLE_SECONDARY ?
	    a->secondary_state : a->primary_state;
	long day, first = policy_day(start);
	size_t i;
	unsigned count = 1;

	if (in->role != ROLE_PRIMARY && in->role != ROLE_SECONDARY &&
	    in->role != ROLE_INVITATION)
		return;
	/* Outside the window: old failures do not count. */
	if (in->when < start)
		return;
	day = policy_day(in->when < now ? in->when : now);
	if (has_day(d, day))
		return;
	out->soft_day = 1;
	out->soft_role = addr_role;
	out->day = day;
	for (i = 0; i < d->n; i++)
		if (d->day[i] >= first)
			count++;
	if (count < cfg->soft_limit || cur != STATE_OK)
		return;
	out->set_state = 1;
	out->state_role = addr_role;
	out->state = STATE_SOFT;
	out->state_since = in->when;
	problem(out, in->role, STATE_SOFT, addr_role == ROLE_SECONDARY ?
	    a->secondary_email : a->primary_email, in->when,
	    in->role == ROLE_INVITATION ? WHY_INVITATION : WHY_SOFT);
}

void
policy_decide(const struct policy_config *cfg, const struct account *a,
    const struct ops_alert *ops, const struct policy_input *in, time_t now,
    struct policy_actions *out)
{
	enum addr_state s;

	memset(out, 0, sizeof *out);
	if (in->category == CAT_BLOCKED) {
		/* The platform's server is limited: the operator's business,
		 * whoever the recipient is. */
		out->ops_count = 1;
		if (cfg->ops && ops != NULL && fresh(cfg, in->when, now) &&
		    (ops->notified == 0 || now - ops->notified >=
		    (time_t)cfg->renotify_days * DAY_SECONDS))
			out->ops_alert = 1;
		return;
	}
	if (a == NULL || !account_live(a))
		return;
	if (in->category == CAT_TRANSIENT) {
		decide_soft(cfg, a, in, now, out);
		return;
	}
	s = category_state(in->category);
	if (s == STATE_OK)
		return;
	switch (in->role) {
	case ROLE_PENDING:
		decide_pending(a, s, in, out);
		break;
	case ROLE_INVITATION:
		decide_invitation(a, s, in, out);
		break;
	case ROLE_PRIMARY:
	case ROLE_SECONDARY:
		decide_address(cfg, a, s, in, now, out);
		break;
	default:
		break;
	}
}

/* Set the login alert (copying the address first: it may be a field). */
static void
set_alert(struct account *a, enum login_alert al, const char *address)
{
	char *copy = address ? xstrdup(address) : NULL;

	free(a->login_alert_address);
	a->login_alert = al;
	a->login_alert_address = copy;
}

void
policy_apply(struct account *a, struct ops_alert *ops,
    const struct policy_actions *act, const struct policy_input *in,
    time_t now)
{
	struct soft_days *d;

	if (ops != NULL && act->ops_alert)
		ops->notified = now;
	if (a == NULL)
		return;
	if (act->set_alert) {
		set_alert(a, act->alert, act->alert_address);
		a->dirty = 1;
	}
	if (act->set_state) {
		if (act->state_role == ROLE_PRIMARY) {
			a->primary_state = act->state;
			a->primary_since = act->state_since;
		} else {
			a->secondary_state = act->state;
			a->secondary_since = act->state_since;
		}
		a->dirty = 1;
	}
	if (act->clear_secondary) {
		/* As the accounts trigger does: a new address starts ok, and
		 * an alert about it goes to the primary's problem, if any. */
		if (addr_same(a->login_alert_address, a->secondary_email)) {
			if (alert_level(a->primary_state) != ALERT_NONE)
				set_alert(a, alert_level(a->primary_state),
				    a->primary_email);
			else
				set_alert(a, ALERT_NONE, NULL);
		}
		free(a->secondary_email);
		a->secondary_email = NULL;
		a->secondary_state = STATE_OK;
		a->secondary_since = 0;
		a->clear_secondary = 1;
		a->dirty = 1;
	}
	if (act->clear_pending) {
		free(a->pending_email);
		a->pending_email = NULL;
		a->clear_pending = 1;
		a->dirty = 1;
	}
	if (act->soft_day) {
		d = act->soft_role == ROLE_SECONDARY ? &a->soft_secondary :
		    &a->soft_primary;
		d->day = xreallocarray(d->day, d->n + 1, sizeof *d->day);
		d->day[d->n++] = act->day;
	}
	if (act->warn) {
		struct warned *w = &a->warned[act->warn_kind];

		w->at = now;
		w->id = 0;
		snprintf(w->ref, sizeof w->ref, "%s", in->ref ? in->ref : "");
		w->channel = act->channel;
		snprintf(w->dest, sizeof w->dest, "%s", act->destination ?
		    act->destination : "");
	}
}

void
policy_account_clear(struct account *a)
{
	free(a->primary_email);
	free(a->secondary_email);
	free(a->pending_email);
	free(a->phone);
	free(a->status);
	free(a->login_alert_address);
	free(a->soft_primary.day);
	free(a->soft_secondary.day);
	memset(a, 0, sizeof *a);
}
