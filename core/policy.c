/* policy.c - the help page's rules, as a pure function (see policy.h). */
#include <string.h>

#include "policy.h"

static const char *const state_names[STATE_COUNT] = {
	[STATE_OK] = "ok",
	[STATE_HARD] = "hard",
	[STATE_QUOTA] = "quota",
	[STATE_SPF] = "spf",
	[STATE_SPAM] = "spam",
	[STATE_COMPLAINT] = "complaint",
	[STATE_SOFT] = "soft",
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

void
policy_decide(const struct policy_config *cfg, const struct account *a,
    const struct policy_input *in, time_t now, struct policy_actions *out)
{
	enum addr_state s = category_state(in->category);

	(void)cfg;
	(void)a;
	(void)now;
	memset(out, 0, sizeof *out);
	if (s == STATE_OK)
		return;
	if (in->role == ROLE_PRIMARY || in->role == ROLE_INVITATION) {
		out->set_state = 1;
		out->state_role = ROLE_PRIMARY;
		out->state = s;
	} else if (in->role == ROLE_SECONDARY) {
		out->set_state = 1;
		out->state_role = ROLE_SECONDARY;
		out->state = s;
	}
}

void
policy_apply(struct account *a, const struct policy_actions *act, time_t now)
{
	if (!act->set_state)
		return;
	if (act->state_role == ROLE_PRIMARY && a->primary_state != act->state) {
		a->primary_state = act->state;
		a->primary_since = now;
		a->dirty = 1;
	} else if (act->state_role == ROLE_SECONDARY &&
	    a->secondary_state != act->state) {
		a->secondary_state = act->state;
		a->secondary_since = now;
		a->dirty = 1;
	}
}
