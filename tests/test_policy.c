/*
 * test_policy.c - the help page's rules, one table row per rule (and the
 * edges around each): verdict + account snapshot + now + config in,
 * actions out. Then sequences through policy_apply, as a batch sees them.
 * The case name is in every assertion.
 */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <string.h>

#include "policy.h"
#include "xalloc.h"

#define DAY 86400
#define NOW ((time_t)1795680000)	/* 2026-11-26 */

#define PRIMARY "p@example.com"
#define SECONDARY "s@example.org"
#define PENDING "n@example.net"
#define PHONE "+33600000001"

/* No pointers: criterion re-executes the binary per test. */
struct pcase {
	char name[64];
	/* the bounce */
	char category[12];
	char role[12];
	int age;		/* days before NOW */
	/* the account; no_account: none at all */
	int no_account;
	char status[20];
	char pstate[12];
	int pstate_age;		/* days since the primary state */
	char sstate[12];
	int secondary, phone, pending;
	char alert[8];
	char warned[8];		/* category warned warned_age days ago */
	int warned_age;
	int soft[6];		/* days ago with a transient failure */
	int nsoft;
	/* config (renotify 7, window 30) */
	int clear_secondary, no_sms, no_ops;
	unsigned soft_limit;	/* 0: 5 */
	int ops_age;		/* ops alert notified days ago, -1 never */
	/* expected */
	char w_state[24];	/* "primary:hard", "" */
	char w_alert[8];	/* "hard", "spam", "" */
	char w_warn[40];	/* "email:s@example.org", "sms:+33...", "" */
	char w_problem[24];	/* "secondary:hard", "" */
	char w_why[16];		/* notify reason, "" */
	int w_linked;		/* problem linked to an earlier warning */
	int w_pending, w_clear_secondary, w_soft, w_ops, w_ops_alert;
};

static void
fill_account(const struct pcase *c, struct account *a)
{
	memset(a, 0, sizeof *a);
	a->id = 42;
	a->primary_email = xstrdup(PRIMARY);
	a->secondary_email = c->secondary ? xstrdup(SECONDARY) : NULL;
	a->pending_email = c->pending ? xstrdup(PENDING) : NULL;
	a->phone = c->phone ? xstrdup(PHONE) : NULL;
	a->status = xstrdup(c->status[0] ? c->status : "active");
	cr_assert_eq(policy_state_parse(c->pstate[0] ? c->pstate : "ok",
	    &a->primary_state), 0, "%s", c->name);
	cr_assert_eq(policy_state_parse(c->sstate[0] ? c->sstate : "ok",
	    &a->secondary_state), 0, "%s", c->name);
	if (a->primary_state != STATE_OK)
		a->primary_since = NOW - (time_t)c->pstate_age * DAY;
	if (a->secondary_state != STATE_OK)
		a->secondary_since = NOW - DAY;
	cr_assert_eq(policy_alert_parse(c->alert, &a->login_alert), 0);
	if (a->login_alert != ALERT_NONE)
		a->login_alert_address = xstrdup(PRIMARY);
	if (c->warned[0]) {
		enum warn_kind k;

		cr_assert_eq(policy_warn_parse(c->warned, &k), 0, "%s",
		    c->name);
		a->warned[k].at = NOW - (time_t)c->warned_age * DAY;
		a->warned[k].id = 7;
	}
	for (int i = 0; i < c->nsoft; i++) {
		struct soft_days *d = !strcmp(c->role, "secondary") ?
		    &a->soft_secondary : &a->soft_primary;

		d->day = xreallocarray(d->day, d->n + 1, sizeof *d->day);
		d->day[d->n++] = policy_day(NOW - (time_t)c->soft[i] * DAY);
	}
}

static enum role
role_of(const char *s)
{
	if (!strcmp(s, "secondary"))
		return ROLE_SECONDARY;
	if (!strcmp(s, "pending"))
		return ROLE_PENDING;
	if (!strcmp(s, "invitation"))
		return ROLE_INVITATION;
	return ROLE_PRIMARY;
}

static void
run_case(const struct pcase *c)
{
	struct policy_config cfg = { .renotify_days = 7, .soft_window_days = 30,
		.soft_limit = c->soft_limit ? c->soft_limit : 5,
		.clear_secondary_on_hard = c->clear_secondary,
		.sms = !c->no_sms, .ops = !c->no_ops };
	struct account a;
	struct ops_alert ops = { .remote = (char *)"example.com" };
	struct policy_input in;
	struct policy_actions act;
	char got[80];

	fill_account(c, &a);
	ops.notified = c->ops_age < 0 ? 0 : NOW - (time_t)c->ops_age * DAY;
	cr_assert_eq(category_parse(c->category, &in.category), 0, "%s",
	    c->name);
	in.role = role_of(c->role);
	in.when = NOW - (time_t)c->age * DAY;
	in.ref = "d1:0";
	policy_decide(&cfg, c->no_account ? NULL : &a,
	    in.category == CAT_BLOCKED ? &ops : NULL, &in, NOW, &act);

	got[0] = '\0';
	if (act.set_state)
		snprintf(got, sizeof got, "%s:%s",
		    policy_role_name(act.state_role),
		    policy_state_name(act.state));
	cr_expect_str_eq(got, c->w_state, "%s: state %s, want %s", c->name,
	    got, c->w_state);
	if (act.set_state)
		cr_expect_eq(act.state_since, in.when, "%s: since is the "
		    "bounce's date", c->name);
	snprintf(got, sizeof got, "%s", act.set_alert ?
	    policy_alert_name(act.alert) : "");
	cr_expect_str_eq(got, c->w_alert, "%s: alert '%s', want '%s'",
	    c->name, got, c->w_alert);
	got[0] = '\0';
	if (act.warn)
		snprintf(got, sizeof got, "%s:%s",
		    policy_channel_name(act.channel), act.destination);
	cr_expect_str_eq(got, c->w_warn, "%s: warning '%s', want '%s'",
	    c->name, got, c->w_warn);
	if (act.warn)
		cr_expect_str_eq(policy_warn_name(act.warn_kind), c->category,
		    "%s: warning kind", c->name);
	got[0] = '\0';
	if (act.problem)
		snprintf(got, sizeof got, "%s:%s",
		    policy_role_name(act.problem_role),
		    policy_state_name(act.problem_state));
	cr_expect_str_eq(got, c->w_problem, "%s: problem '%s', want '%s'",
	    c->name, got, c->w_problem);
	if (act.problem) {
		const char *why = policy_why_name(act.why);

		cr_expect_str_eq(why ? why : "", c->w_why, "%s: why '%s', "
		    "want '%s'", c->name, why ? why : "", c->w_why);
		cr_expect_eq(act.problem_warning.at != 0, act.warn ||
		    c->w_linked, "%s: problem's warning link", c->name);
		if (c->w_linked)
			cr_expect_eq(act.problem_warning.id, 7, "%s: linked to "
			    "the earlier warning", c->name);
		cr_expect((act.problem_warning.at != 0) !=
		    (act.why != WHY_NONE), "%s: a problem has a warning or a "
		    "reason", c->name);
	}
	cr_expect_eq(act.clear_pending, c->w_pending, "%s: clear_pending %d",
	    c->name, act.clear_pending);
	cr_expect_eq(act.clear_secondary, c->w_clear_secondary,
	    "%s: clear_secondary %d", c->name, act.clear_secondary);
	cr_expect_eq(act.soft_day, c->w_soft, "%s: soft_day %d", c->name,
	    act.soft_day);
	cr_expect_eq(act.ops_count, c->w_ops, "%s: ops_count %d", c->name,
	    act.ops_count);
	cr_expect_eq(act.ops_alert, c->w_ops_alert, "%s: ops_alert %d",
	    c->name, act.ops_alert);
	policy_account_clear(&a);
}

#define CASES(name, ...) \
	ParameterizedTestParameters(policy, name) \
	{ \
		static struct pcase cases[] = { __VA_ARGS__ }; \
		return cr_make_param_array(struct pcase, cases, \
		    sizeof cases / sizeof cases[0]); \
	} \
	ParameterizedTest(struct pcase *c, policy, name) \
	{ \
		run_case(c); \
	}

/* hard: flag, login alert, other channel, admin queue. */
CASES(hard,
    { .name = "hard primary, secondary ok: email to the secondary",
      .category = "hard", .role = "primary", .secondary = 1, .phone = 1,
      .ops_age = -1, .w_state = "primary:hard", .w_alert = "hard",
      .w_warn = "email:" SECONDARY, .w_problem = "primary:hard" },
    { .name = "hard primary, phone only: SMS",
      .category = "hard", .role = "primary", .phone = 1, .ops_age = -1,
      .w_state = "primary:hard", .w_alert = "hard", .w_warn = "sms:" PHONE,
      .w_problem = "primary:hard" },
    { .name = "hard primary, secondary not ok: SMS",
      .category = "hard", .role = "primary", .secondary = 1,
      .sstate = "quota", .phone = 1, .ops_age = -1,
      .w_state = "primary:hard", .w_alert = "hard", .w_warn = "sms:" PHONE,
      .w_problem = "primary:hard" },
    { .name = "hard primary, no other channel: not warned",
      .category = "hard", .role = "primary", .ops_age = -1,
      .w_state = "primary:hard", .w_alert = "hard",
      .w_problem = "primary:hard", .w_why = "no_channel" },
    { .name = "hard primary, phone but no SMS command: not warned",
      .category = "hard", .role = "primary", .phone = 1, .no_sms = 1,
      .ops_age = -1, .w_state = "primary:hard", .w_alert = "hard",
      .w_problem = "primary:hard", .w_why = "no_sms" },
    { .name = "hard secondary: email to the primary",
      .category = "hard", .role = "secondary", .secondary = 1,
      .phone = 1, .ops_age = -1, .w_state = "secondary:hard",
      .w_alert = "hard", .w_warn = "email:" PRIMARY,
      .w_problem = "secondary:hard" },
    { .name = "hard secondary, primary not ok: SMS",
      .category = "hard", .role = "secondary", .secondary = 1,
      .pstate = "spam", .pstate_age = 3, .phone = 1, .alert = "spam",
      .ops_age = -1, .w_state = "secondary:hard", .w_alert = "hard",
      .w_warn = "sms:" PHONE, .w_problem = "secondary:hard" },
    { .name = "hard secondary, clear_secondary_on_hard: emptied",
      .category = "hard", .role = "secondary", .secondary = 1,
      .clear_secondary = 1, .ops_age = -1, .w_state = "secondary:hard",
      .w_warn = "email:" PRIMARY, .w_problem = "secondary:hard",
      .w_clear_secondary = 1 },
    { .name = "hard invitation: admin queue, nobody warned",
      .category = "hard", .role = "invitation", .status = "invited",
      .phone = 1, .ops_age = -1, .w_state = "primary:hard",
      .w_problem = "invitation:hard", .w_why = "invitation" },
    { .name = "hard pending: change cleared, admin queue",
      .category = "hard", .role = "pending", .pending = 1, .phone = 1,
      .ops_age = -1, .w_problem = "pending:hard", .w_why = "pending",
      .w_pending = 1 },
    { .name = "quota pending: change cleared too",
      .category = "quota", .role = "pending", .pending = 1,
      .ops_age = -1, .w_problem = "pending:quota", .w_why = "pending",
      .w_pending = 1 },
    { .name = "complaint pending: the mail arrived, nothing to clear",
      .category = "complaint", .role = "pending", .pending = 1,
      .ops_age = -1 },
    { .name = "hard on an unsubscribed account: recorded only",
      .category = "hard", .role = "primary", .status = "unsubscribed",
      .phone = 1, .ops_age = -1 },
    { .name = "hard on an expired invitation: recorded only",
      .category = "hard", .role = "invitation",
      .status = "invitation_expired", .ops_age = -1 },
)

/* quota, spf, spam, complaint. */
CASES(other_categories,
    { .name = "quota primary: state quota, warned, no login alert",
      .category = "quota", .role = "primary", .secondary = 1,
      .ops_age = -1, .w_state = "primary:quota",
      .w_warn = "email:" SECONDARY, .w_problem = "primary:quota" },
    { .name = "quota secondary: warned on the primary",
      .category = "quota", .role = "secondary", .secondary = 1,
      .ops_age = -1, .w_state = "secondary:quota",
      .w_warn = "email:" PRIMARY, .w_problem = "secondary:quota" },
    { .name = "spf primary: state spf, warned",
      .category = "spf", .role = "primary", .phone = 1, .ops_age = -1,
      .w_state = "primary:spf", .w_warn = "sms:" PHONE,
      .w_problem = "primary:spf" },
    { .name = "spam primary: state spam, login alert, warned",
      .category = "spam", .role = "primary", .secondary = 1,
      .ops_age = -1, .w_state = "primary:spam", .w_alert = "spam",
      .w_warn = "email:" SECONDARY, .w_problem = "primary:spam" },
    { .name = "spam never hides a hard login alert",
      .category = "spam", .role = "secondary", .secondary = 1,
      .alert = "hard", .pstate = "hard", .pstate_age = 2, .phone = 1,
      .ops_age = -1, .w_state = "secondary:spam", .w_warn = "sms:" PHONE,
      .w_problem = "secondary:spam" },
    { .name = "complaint: state complaint, admins only",
      .category = "complaint", .role = "primary", .secondary = 1,
      .phone = 1, .ops_age = -1, .w_state = "primary:complaint",
      .w_problem = "primary:complaint", .w_why = "complaint" },
    { .name = "autoreply: nothing", .category = "autoreply",
      .role = "primary", .secondary = 1, .ops_age = -1 },
    { .name = "delivered: nothing", .category = "delivered",
      .role = "primary", .secondary = 1, .ops_age = -1 },
    { .name = "unknown: nothing", .category = "unknown",
      .role = "primary", .secondary = 1, .ops_age = -1 },
)

/* blocked: no user flag; one operator alert per domain and period. */
CASES(blocked,
    { .name = "blocked: counted, first alert", .category = "blocked",
      .role = "primary", .secondary = 1, .ops_age = -1, .w_ops = 1,
      .w_ops_alert = 1 },
    { .name = "blocked without an account: still the operator's",
      .category = "blocked", .role = "primary", .no_account = 1,
      .ops_age = -1, .w_ops = 1, .w_ops_alert = 1 },
    { .name = "blocked, alerted 2 days ago: counted only",
      .category = "blocked", .role = "primary", .ops_age = 2, .w_ops = 1 },
    { .name = "blocked, alerted 8 days ago: alert again",
      .category = "blocked", .role = "primary", .ops_age = 8, .w_ops = 1,
      .w_ops_alert = 1 },
    { .name = "blocked, no ops_to: counted only", .category = "blocked",
      .role = "primary", .no_ops = 1, .ops_age = -1, .w_ops = 1 },
    { .name = "blocked 10 days old: counted, no alert",
      .category = "blocked", .role = "primary", .age = 10, .ops_age = -1,
      .w_ops = 1 },
)

/* transient: soft score, once per day, within the window. */
CASES(transient,
    { .name = "transient, first failure: one day counted",
      .category = "transient", .role = "primary", .phone = 1,
      .ops_age = -1, .w_soft = 1 },
    { .name = "transient, 5th day: soft, admin queue",
      .category = "transient", .role = "primary", .phone = 1,
      .soft = { 1, 2, 5, 9 }, .nsoft = 4, .ops_age = -1, .w_soft = 1,
      .w_state = "primary:soft", .w_problem = "primary:soft",
      .w_why = "soft" },
    { .name = "transient, 5th day on a secondary",
      .category = "transient", .role = "secondary", .secondary = 1,
      .soft = { 1, 2, 5, 9 }, .nsoft = 4, .ops_age = -1, .w_soft = 1,
      .w_state = "secondary:soft", .w_problem = "secondary:soft",
      .w_why = "soft" },
    { .name = "transient, 4 days but 2 out of the window: below",
      .category = "transient", .role = "primary",
      .soft = { 1, 2, 31, 40 }, .nsoft = 4, .ops_age = -1, .w_soft = 1 },
    { .name = "transient, same day already counted: nothing",
      .category = "transient", .role = "primary", .soft = { 0 },
      .nsoft = 1, .ops_age = -1 },
    { .name = "transient dated outside the window: nothing",
      .category = "transient", .role = "primary", .age = 31,
      .ops_age = -1 },
    { .name = "transient at the limit on a hard address: no soft",
      .category = "transient", .role = "primary", .pstate = "hard",
      .pstate_age = 20, .soft = { 1, 2, 3, 4 }, .nsoft = 4,
      .ops_age = -1, .w_soft = 1 },
    { .name = "transient, limit 1: first failure is soft",
      .category = "transient", .role = "primary", .soft_limit = 1,
      .ops_age = -1, .w_soft = 1, .w_state = "primary:soft",
      .w_problem = "primary:soft", .w_why = "soft" },
    { .name = "transient on a pending address: nothing",
      .category = "transient", .role = "pending", .pending = 1,
      .ops_age = -1 },
)

/* Time: renotify, old evidence, newer evidence. */
CASES(time,
    { .name = "warned for hard 2 days ago: not again, linked",
      .category = "hard", .role = "primary", .secondary = 1,
      .warned = "hard", .warned_age = 2, .ops_age = -1,
      .w_state = "primary:hard", .w_alert = "hard",
      .w_problem = "primary:hard", .w_linked = 1 },
    { .name = "warned for hard 8 days ago: warned again",
      .category = "hard", .role = "primary", .secondary = 1,
      .warned = "hard", .warned_age = 8, .ops_age = -1,
      .w_state = "primary:hard", .w_alert = "hard",
      .w_warn = "email:" SECONDARY, .w_problem = "primary:hard" },
    { .name = "warned for quota yesterday: hard still warns",
      .category = "hard", .role = "primary", .secondary = 1,
      .warned = "quota", .warned_age = 1, .ops_age = -1,
      .w_state = "primary:hard", .w_alert = "hard",
      .w_warn = "email:" SECONDARY, .w_problem = "primary:hard" },
    { .name = "hard bounce 10 days old: flagged, nobody warned",
      .category = "hard", .role = "primary", .secondary = 1, .age = 10,
      .ops_age = -1, .w_state = "primary:hard", .w_alert = "hard",
      .w_problem = "primary:hard", .w_why = "old_bounce" },
    { .name = "older hard than the current quota: ignored",
      .category = "hard", .role = "primary", .secondary = 1, .age = 3,
      .pstate = "quota", .pstate_age = 1, .ops_age = -1 },
    { .name = "newer hard than the current quota: replaces it",
      .category = "hard", .role = "primary", .secondary = 1,
      .pstate = "quota", .pstate_age = 3, .ops_age = -1,
      .w_state = "primary:hard", .w_alert = "hard",
      .w_warn = "email:" SECONDARY, .w_problem = "primary:hard" },
    { .name = "hard again, warned 2 days ago: no new problem",
      .category = "hard", .role = "primary", .secondary = 1,
      .pstate = "hard", .pstate_age = 2, .warned = "hard",
      .warned_age = 2, .ops_age = -1 },
    { .name = "quota again 9 days later: warned again, no new problem",
      .category = "quota", .role = "primary", .secondary = 1,
      .pstate = "quota", .pstate_age = 9, .warned = "quota",
      .warned_age = 9, .ops_age = -1, .w_warn = "email:" SECONDARY },
)

/* A batch of bounces: the setup the tests below share. */
static struct policy_config bcfg = { .renotify_days = 7,
	.soft_window_days = 30, .soft_limit = 5, .sms = 1, .ops = 1 };

static void
account_init(struct account *a)
{
	memset(a, 0, sizeof *a);
	a->id = 1;
	a->primary_email = xstrdup(PRIMARY);
	a->secondary_email = xstrdup(SECONDARY);
	a->phone = xstrdup(PHONE);
	a->status = xstrdup("active");
}

static void
bounce(struct account *a, struct ops_alert *ops, const char *cat,
    enum role role, time_t when, const char *ref,
    struct policy_actions *act)
{
	struct policy_input in = { .role = role, .when = when, .ref = ref };

	cr_assert_eq(category_parse(cat, &in.category), 0);
	policy_decide(&bcfg, a, ops, &in, NOW, act);
	policy_apply(a, ops, act, &in, NOW);
}

Test(policy_batch, second_hard_of_a_primary_changes_nothing)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	bounce(&a, NULL, "hard", ROLE_PRIMARY, NOW - 60, "d1:0", &act);
	cr_assert(act.warn && act.problem && a.dirty);
	cr_assert_eq(a.primary_state, STATE_HARD);
	cr_assert_eq(a.login_alert, ALERT_HARD);
	cr_assert_str_eq(a.login_alert_address, PRIMARY);
	cr_assert_str_eq(a.warned[WARN_HARD].ref, "d1:0");
	bounce(&a, NULL, "hard", ROLE_PRIMARY, NOW - 30, "d2:0", &act);
	cr_assert(!act.warn && !act.problem && !act.set_state,
	    "the same problem twice in a batch");
	policy_account_clear(&a);
}

Test(policy_batch, secondary_after_primary_warns_again_by_sms)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	bounce(&a, NULL, "hard", ROLE_PRIMARY, NOW - 60, "d1:0", &act);
	cr_assert_eq(act.channel, CHANNEL_EMAIL);
	cr_assert_str_eq(act.destination, SECONDARY);
	/* The warning went to the address that bounces now: it reached
	 * nobody, so the user is warned again by what still works. */
	bounce(&a, NULL, "hard", ROLE_SECONDARY, NOW - 30, "d2:0", &act);
	cr_assert(act.problem && act.warn);
	cr_assert_eq(act.channel, CHANNEL_SMS);
	cr_assert_str_eq(act.destination, PHONE);
	cr_assert_str_eq(act.problem_warning.ref, "d2:0");
	/* A third hard (the primary again, later evidence): the SMS
	 * stands. */
	a.primary_state = STATE_OK;
	bounce(&a, NULL, "hard", ROLE_PRIMARY, NOW - 10, "d3:0", &act);
	cr_assert(act.problem && !act.warn);
	cr_assert_str_eq(act.problem_warning.ref, "d2:0");
	policy_account_clear(&a);
}

Test(policy_batch, warning_to_a_working_address_stands)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	bounce(&a, NULL, "quota", ROLE_SECONDARY, NOW - 60, "d1:0", &act);
	cr_assert_eq(act.channel, CHANNEL_EMAIL);
	cr_assert_str_eq(act.destination, PRIMARY);
	/* Another quota bounce of the secondary: the warning on the
	 * (working) primary stands. */
	a.secondary_state = STATE_OK;
	bounce(&a, NULL, "quota", ROLE_SECONDARY, NOW - 30, "d2:0", &act);
	cr_assert(act.problem && !act.warn, "one quota warning per period");
	cr_assert_str_eq(act.problem_warning.ref, "d1:0");
	policy_account_clear(&a);
}

Test(policy_batch, warning_loaded_from_the_outbox_to_the_bouncing_address)
{
	struct account a;
	struct policy_actions act;
	struct policy_input in = { .category = CAT_HARD,
		.role = ROLE_SECONDARY, .when = NOW - 60, .ref = "d9:0" };

	account_init(&a);
	/* As the store loads it: sent two days ago to the secondary (as
	 * the store spells it: other case, blanks). */
	a.warned[WARN_HARD].at = NOW - 2 * 86400;
	a.warned[WARN_HARD].id = 41;
	a.warned[WARN_HARD].channel = CHANNEL_EMAIL;
	snprintf(a.warned[WARN_HARD].dest, sizeof a.warned[WARN_HARD].dest,
	    " %s", "S@Example.ORG");
	a.primary_state = STATE_HARD;
	policy_decide(&bcfg, &a, NULL, &in, NOW, &act);
	cr_assert(act.warn);
	cr_assert_eq(act.channel, CHANNEL_SMS);
	/* The same by SMS: it stands. */
	a.warned[WARN_HARD].channel = CHANNEL_SMS;
	snprintf(a.warned[WARN_HARD].dest, sizeof a.warned[WARN_HARD].dest,
	    "%s", PHONE);
	policy_decide(&bcfg, &a, NULL, &in, NOW, &act);
	cr_assert(!act.warn);
	cr_assert_eq(act.problem_warning.id, 41);
	policy_account_clear(&a);
}

Test(policy_batch, login_alert_stays_on_the_primary)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	bounce(&a, NULL, "hard", ROLE_PRIMARY, NOW - 60, "d1:0", &act);
	cr_assert_str_eq(a.login_alert_address, PRIMARY);
	bounce(&a, NULL, "hard", ROLE_SECONDARY, NOW - 30, "d2:0", &act);
	cr_assert(!act.set_alert, "the primary's alert stands");
	cr_assert_eq(a.login_alert, ALERT_HARD);
	cr_assert_str_eq(a.login_alert_address, PRIMARY);
	policy_account_clear(&a);
}

Test(policy_batch, login_alert_goes_to_the_worst_then_the_primary)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	bounce(&a, NULL, "spam", ROLE_PRIMARY, NOW - 90, "d1:0", &act);
	cr_assert_eq(a.login_alert, ALERT_SPAM);
	cr_assert_str_eq(a.login_alert_address, PRIMARY);
	/* hard beats spam, wherever it is */
	bounce(&a, NULL, "hard", ROLE_SECONDARY, NOW - 60, "d2:0", &act);
	cr_assert_eq(a.login_alert, ALERT_HARD);
	cr_assert_str_eq(a.login_alert_address, SECONDARY);
	/* as bad on the primary: the primary */
	bounce(&a, NULL, "hard", ROLE_PRIMARY, NOW - 30, "d3:0", &act);
	cr_assert(act.set_alert);
	cr_assert_str_eq(a.login_alert_address, PRIMARY);
	policy_account_clear(&a);
}

Test(policy_batch, an_alert_that_no_longer_holds_moves)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	/* A hard alert on an address the account no longer has. */
	a.login_alert = ALERT_HARD;
	a.login_alert_address = xstrdup("old@example.org");
	bounce(&a, NULL, "hard", ROLE_SECONDARY, NOW - 30, "d1:0", &act);
	cr_assert(act.set_alert);
	cr_assert_str_eq(a.login_alert_address, SECONDARY);
	policy_account_clear(&a);
}

Test(policy_batch, emptied_secondary_hands_its_alert_to_the_primary)
{
	struct policy_config cfg = bcfg;
	struct policy_input in = { .category = CAT_HARD,
		.role = ROLE_SECONDARY, .when = NOW - 30, .ref = "d2:0" };
	struct account a;
	struct policy_actions act;

	account_init(&a);
	cfg.clear_secondary_on_hard = 1;
	/* The secondary had a spam alert; the primary is hard without
	 * one (set before this rule). */
	a.primary_state = STATE_HARD;
	a.secondary_state = STATE_SPAM;
	a.login_alert = ALERT_SPAM;
	a.login_alert_address = xstrdup(SECONDARY);
	policy_decide(&cfg, &a, NULL, &in, NOW, &act);
	cr_assert(act.clear_secondary);
	policy_apply(&a, NULL, &act, &in, NOW);
	cr_assert_null(a.secondary_email);
	cr_assert_eq(a.login_alert, ALERT_HARD);
	cr_assert_str_eq(a.login_alert_address, PRIMARY);
	policy_account_clear(&a);
}

Test(policy_batch, quota_then_hard_on_the_secondary_warns_by_sms)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	bounce(&a, NULL, "quota", ROLE_PRIMARY, NOW - 60, "d1:0", &act);
	cr_assert_eq(act.channel, CHANNEL_EMAIL);
	/* The secondary is dead too; the primary is not ok: SMS. */
	bounce(&a, NULL, "hard", ROLE_SECONDARY, NOW - 30, "d2:0", &act);
	cr_assert(act.warn);
	cr_assert_eq(act.channel, CHANNEL_SMS);
	cr_assert_str_eq(act.destination, PHONE);
	policy_account_clear(&a);
}

Test(policy_batch, transient_days_add_up_to_soft)
{
	struct account a;
	struct policy_actions act;
	int d;

	account_init(&a);
	for (d = 4; d >= 0; d--) {
		bounce(&a, NULL, "transient", ROLE_PRIMARY, NOW - d * DAY,
		    "x", &act);
		cr_assert(act.soft_day, "day %d counted", d);
		cr_assert_eq(act.set_state, d == 0, "soft only on day 5");
		/* The same day again: not counted twice. */
		bounce(&a, NULL, "transient", ROLE_PRIMARY, NOW - d * DAY + 1,
		    "y", &act);
		cr_assert(!act.soft_day && !act.set_state, "day %d twice", d);
	}
	cr_assert_eq(a.primary_state, STATE_SOFT);
	cr_assert_eq(a.soft_primary.n, 5);
	policy_account_clear(&a);
}

Test(policy_batch, many_blocked_one_alert)
{
	struct ops_alert ops = { .remote = (char *)"example.com" };
	struct policy_actions act;
	int i, alerts = 0, counted = 0;

	for (i = 0; i < 10; i++) {
		bounce(NULL, &ops, "blocked", ROLE_NONE, NOW - i, "z", &act);
		alerts += act.ops_alert;
		counted += act.ops_count;
	}
	cr_assert_eq(alerts, 1);
	cr_assert_eq(counted, 10);
	cr_assert_eq(ops.notified, NOW);
}

Test(policy_batch, cleared_secondary_leaves_the_primary_alone)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	bcfg.clear_secondary_on_hard = 1;
	bounce(&a, NULL, "spam", ROLE_PRIMARY, NOW - 90, "d0:0", &act);
	bounce(&a, NULL, "hard", ROLE_SECONDARY, NOW - 60, "d1:0", &act);
	bcfg.clear_secondary_on_hard = 0;
	cr_assert(act.clear_secondary && act.problem_auto_cleared);
	cr_assert_null(a.secondary_email);
	cr_assert_eq(a.secondary_state, STATE_OK);
	cr_assert(a.clear_secondary);
	/* Emptying the secondary never clears the primary's problem. */
	cr_assert_eq(a.primary_state, STATE_SPAM);
	cr_assert_eq(a.login_alert, ALERT_SPAM);
	cr_assert_str_eq(a.login_alert_address, PRIMARY);
	policy_account_clear(&a);
}

Test(policy_batch, bounced_validation_clears_the_pending_change_once)
{
	struct account a;
	struct policy_actions act;

	account_init(&a);
	a.pending_email = xstrdup(PENDING);
	bounce(&a, NULL, "hard", ROLE_PENDING, NOW - 60, "d1:0", &act);
	cr_assert(act.clear_pending && act.problem);
	cr_assert_null(a.pending_email);
	cr_assert(a.clear_pending && a.dirty);
	cr_assert_eq(a.primary_state, STATE_OK, "the primary is untouched");
	bounce(&a, NULL, "hard", ROLE_PENDING, NOW - 30, "d2:0", &act);
	cr_assert(!act.clear_pending && !act.problem);
	policy_account_clear(&a);
}

Test(policy_names, round_trips)
{
	enum addr_state s;
	enum warn_kind k;
	enum login_alert al;
	int i;

	for (i = 0; i < STATE_COUNT; i++) {
		cr_assert_eq(policy_state_parse(policy_state_name(i), &s), 0);
		cr_assert_eq((int)s, i);
	}
	for (i = 0; i < WARN_COUNT; i++) {
		cr_assert_eq(policy_warn_parse(policy_warn_name(i), &k), 0);
		cr_assert_eq((int)k, i);
	}
	cr_assert_eq(policy_alert_parse("spam", &al), 0);
	cr_assert_eq(al, ALERT_SPAM);
	cr_assert_eq(policy_alert_parse("bogus", &al), -1);
	cr_assert_eq(policy_state_parse("bogus", &s), -1);
	cr_assert_eq(policy_day(0), 0);
	cr_assert_eq(policy_day(86399), 0);
	cr_assert_eq(policy_day(86400), 1);
	cr_assert_eq(policy_day(-1), -1);
}
