/*
 * policy.h - what the help page says to do about one bounced recipient.
 *
 * Pure: a verdict's category, the role of the bounced address in its
 * account, a snapshot of that account, the time and the configuration
 * in; actions out. The store applies the actions in the batch's
 * transaction; policy_apply() updates the in-memory snapshot so that the
 * next bounce of the same batch sees the new state.
 */
#ifndef REBOND_POLICY_H
#define REBOND_POLICY_H

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

/* A snapshot of one accounts row (the columns the policy reads). */
struct account {
	long long id;
	char *primary_email;
	char *secondary_email;
	char *pending_email;
	char *phone;
	char *status;
	enum addr_state primary_state;
	enum addr_state secondary_state;
	time_t primary_since;	/* 0: NULL */
	time_t secondary_since;
	int dirty;		/* changed by policy_apply */
};

struct policy_config {
	unsigned renotify_days;
	unsigned soft_window_days;
	unsigned soft_limit;
	int clear_secondary_on_hard;
};

struct policy_input {
	enum category category;
	enum role role;
	time_t when;		/* the bounce's own date */
};

struct policy_actions {
	int set_state;		/* change the state of the bounced address */
	enum role state_role;
	enum addr_state state;
};

/* "ok", "hard", ... (accounts.*_state values); never NULL. */
const char *policy_state_name(enum addr_state s);
/* State by name; 0 and *s_r, or -1. */
int policy_state_parse(const char *name, enum addr_state *s_r);
/* "primary", "secondary", ...; NULL for ROLE_NONE. */
const char *policy_role_name(enum role r);

/* Decide the actions for one bounced recipient of account a. */
void policy_decide(const struct policy_config *cfg, const struct account *a,
    const struct policy_input *in, time_t now, struct policy_actions *out);
/* Apply actions to the snapshot a (sets a->dirty when it changes). */
void policy_apply(struct account *a, const struct policy_actions *act,
    time_t now);

#endif
