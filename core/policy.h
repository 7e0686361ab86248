/*
 * policy.h - what the help page says to do about one bounced recipient.
 *
 * Pure: a verdict's category, the role of the bounced address in its
 * account, a snapshot of that account (and of its history: the latest
 * warning per category, the days with a transient failure), the state of
 * the operator alert for the remote domain, the time and the
 * configuration in; actions out. The store writes the actions in the
 * batch's transaction; policy_apply() updates the in-memory snapshots so
 * that the next bounce of the same batch sees the new state.
 *
 * The rules (README "What rebond does about each bounce"):
 *   hard       state hard; login alert; warn by the other channel;
 *              admin queue (primary: change the email or unsubscribe;
 *              secondary: correct or empty it, or emptied at once with
 *              clear_secondary_on_hard)
 *   quota      state quota; warn (free some space); admin queue
 *   spf        state spf; warn (register the real address); admin queue
 *   spam       state spam; login alert; warn (mark our mail as
 *              legitimate); admin queue
 *   complaint  state complaint; admin queue; no mail to the user
 *   blocked    no account change; one operator alert per remote domain,
 *              at most once per renotify_days
 *   transient  counted at most once per day per address within
 *              soft_window_days; soft_limit days make the address soft
 *              (admin queue)
 *   role pending     the change cannot succeed: cleared; admin queue
 *   role invitation  the invitation failed: state; admin queue
 * The other channel: for a primary, the secondary address if set and ok,
 * else an SMS; for a secondary, the primary if ok, else an SMS. At most
 * one warning per account and category per renotify_days, unless the
 * earlier one went to an address that no longer works (the one bouncing
 * now, or one with a problem): then the user is warned again, by what
 * still works. A bounce older than renotify_days warns nobody (old
 * evidence). A bounce older than the address's current state never
 * replaces it.
 * The login alert names one address: the one whose problem is the worst
 * (hard before spam), the primary when both are as bad; it moves to the
 * other address when its own is fixed or emptied and the other still has
 * a problem (as the accounts trigger does in SQL).
 */
#ifndef REBOND_POLICY_H
#define REBOND_POLICY_H

#include <stddef.h>
#include <time.h>

#include "reason.h"

enum role {
	ROLE_NONE = 0,		/* no account has this address */
	ROLE_PRIMARY,		/* login identifier */
	ROLE_SECONDARY,		/* professional address */
	ROLE_PENDING,		/* new primary awaiting validation */
	ROLE_INVITATION,	/* invited account that never logged in */
};

/* State of one address of an account (accounts.*_state). */
enum addr_state {
	STATE_OK = 0,
	STATE_HARD,
	STATE_QUOTA,
	STATE_SPF,
	STATE_SPAM,
	STATE_COMPLAINT,
	STATE_SOFT,
	STATE_COUNT
};

/* accounts.login_alert */
enum login_alert {
	ALERT_NONE = 0,
	ALERT_SPAM,		/* weaker than hard: never replaces it */
	ALERT_HARD,
};

/* The categories that warn the user; each has its own renotify clock. */
enum warn_kind {
	WARN_HARD = 0,
	WARN_QUOTA,
	WARN_SPF,
	WARN_SPAM,
	WARN_COUNT
};

enum channel {
	CHANNEL_NONE = 0,
	CHANNEL_EMAIL,
	CHANNEL_SMS,
};

/* Why a new problem comes without a warning (rebond.notify_reasons). */
enum notify_why {
	WHY_NONE = 0,		/* a warning is linked */
	WHY_NO_CHANNEL,		/* no other working address, no phone */
	WHY_COMPLAINT,		/* the user complained: never mailed */
	WHY_SOFT,		/* repeated transient failures: admins only */
	WHY_PENDING,		/* the address to validate bounced */
	WHY_INVITATION,		/* the invitation bounced */
	WHY_OLD_BOUNCE,		/* bounce older than renotify_days */
	WHY_NO_SMS,		/* a phone, but no [sms] command to use it */
	WHY_COUNT
};

/* Bytes of a ref: "<64 hex digest>:<recipient index>" and a prefix. */
#define POLICY_REF_BYTES 96
/* Bytes of a warning's destination kept (an address or phone number). */
#define POLICY_DEST_BYTES 256

/* The latest warning of one category sent (or queued) to an account. */
struct warned {
	time_t at;		/* when it was queued; 0: never */
	long long id;		/* its rebond.outbox id; 0 if queued in
				 * this batch (then ref names it) */
	char ref[POLICY_REF_BYTES];
	enum channel channel;	/* how it went */
	char dest[POLICY_DEST_BYTES];	/* where: address or phone */
};

/* Days (UTC, since the epoch) with a transient failure of an address. */
struct soft_days {
	long *day;
	size_t n;
};

/* A snapshot of one accounts row and of its history. */
struct account {
	long long id;
	char *primary_email;
	char *secondary_email;
	char *pending_email;
	char *phone;
	char *status;		/* active, invited, unsubscribed, ... */
	enum addr_state primary_state;
	enum addr_state secondary_state;
	time_t primary_since;	/* 0: NULL */
	time_t secondary_since;
	enum login_alert login_alert;
	char *login_alert_address;
	struct warned warned[WARN_COUNT];
	struct soft_days soft_primary;	/* within the window only */
	struct soft_days soft_secondary;
	int dirty;		/* changed by policy_apply */
	int clear_secondary;	/* policy_apply emptied secondary_email */
	int clear_pending;	/* policy_apply removed the pending change */
};

/* The operator alert of one remote domain (rebond.ops_alerts). */
struct ops_alert {
	char *remote;
	time_t notified;	/* last alert queued; 0: never */
};

struct policy_config {
	unsigned renotify_days;
	unsigned soft_window_days;
	unsigned soft_limit;
	int clear_secondary_on_hard;
	int sms;		/* an SMS command is configured */
	int ops;		/* an operator address is configured */
};

struct policy_input {
	enum category category;
	enum role role;
	time_t when;		/* the bounce's own date */
	const char *ref;	/* this recipient: "<digest>:<index>" */
};

/*
 * What to do. Pointers point into the account snapshot given to
 * policy_decide(), and stay valid until policy_apply() on it.
 */
struct policy_actions {
	/* The state of the bounced address. */
	int set_state;
	enum role state_role;		/* ROLE_PRIMARY, ROLE_SECONDARY */
	enum addr_state state;
	time_t state_since;
	/* Login alert (hard or spam), about alert_address. */
	int set_alert;
	enum login_alert alert;
	const char *alert_address;
	/* The pending change of primary cannot succeed. */
	int clear_pending;
	/* clear_secondary_on_hard: the secondary address is emptied. */
	int clear_secondary;
	/* A new day of transient failure for the address of soft_role. */
	int soft_day;
	enum role soft_role;
	long day;
	/* A warning to the user by the other channel. */
	int warn;
	enum warn_kind warn_kind;
	enum channel channel;
	const char *destination;	/* email address or phone number */
	const char *warn_address;	/* the address that bounced */
	enum role warn_role;
	/* A new problem in the admin queue. */
	int problem;
	enum role problem_role;
	enum addr_state problem_state;	/* its category (never OK) */
	const char *problem_address;
	time_t problem_since;
	int problem_auto_cleared;	/* secondary emptied: nothing to do */
	struct warned problem_warning;	/* at == 0: none, see why */
	enum notify_why why;
	/* Operator alert of the remote domain (blocked). */
	int ops_count;			/* count this bounce */
	int ops_alert;			/* and queue an alert mail */
};

/* "ok", "hard", ... (accounts.*_state values); never NULL. */
const char *policy_state_name(enum addr_state s);
/* State by name; 0 and *s_r, or -1. */
int policy_state_parse(const char *name, enum addr_state *s_r);
/* "primary", "secondary", ...; NULL for ROLE_NONE. */
const char *policy_role_name(enum role r);
/* Role by name ("primary", ...); 0 and *r_r, or -1. */
int policy_role_parse(const char *name, enum role *r_r);
/* "hard", "spam", or NULL for ALERT_NONE. */
const char *policy_alert_name(enum login_alert a);
/* Login alert by name (NULL or "" is ALERT_NONE); 0, or -1. */
int policy_alert_parse(const char *name, enum login_alert *a_r);
/* "hard", "quota", "spf", "spam": the category of a warning. */
const char *policy_warn_name(enum warn_kind k);
/* Warning kind by category name; 0 and *k_r, or -1. */
int policy_warn_parse(const char *name, enum warn_kind *k_r);
/* "email", "sms", or NULL for CHANNEL_NONE. */
const char *policy_channel_name(enum channel c);
/* "no_channel", ... (rebond.notify_reasons keys), NULL for WHY_NONE. */
const char *policy_why_name(enum notify_why w);
/* The day (UTC) of a time, as counted by the soft score. */
long policy_day(time_t t);

/*
 * Decide the actions for one bounced recipient. a is the account of the
 * address (NULL when none has it); ops is the alert state of the remote
 * domain (NULL when the category is not blocked). Pure: the same
 * arguments give the same actions. *out is fully overwritten.
 */
void policy_decide(const struct policy_config *cfg, const struct account *a,
    const struct ops_alert *ops, const struct policy_input *in, time_t now,
    struct policy_actions *out);

/*
 * Apply actions to the snapshots a and ops (either may be NULL when the
 * actions do not touch it), so that later bounces of the batch see them;
 * sets a->dirty when the accounts row must be written. in->ref names the
 * warning queued for this bounce.
 */
void policy_apply(struct account *a, struct ops_alert *ops,
    const struct policy_actions *act, const struct policy_input *in,
    time_t now);

/* Free what policy_apply and the store allocated in a (not a itself). */
void policy_account_clear(struct account *a);

#endif
