/* actions.c - the rows a batch writes for the policy (see actions.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "actions.h"
#include "strutil.h"
#include "template.h"
#include "xalloc.h"

struct actions {
	const struct config *cfg;
	struct batch_rows *rows;
	json_t *problem_at;	/* "account:role" -> index in problems */
	json_t *ops;		/* remote -> aggregated ops_alerts row */
	time_t now;
};

static json_t *
jstr(const char *s)
{
	json_t *j = s ? json_string(s) : NULL;

	return j ? j : json_null();
}

static json_t *
jtime(time_t t)
{
	return t != 0 ? json_integer((json_int_t)t) : json_null();
}

struct actions *
actions_new(const struct config *cfg, struct batch_rows *rows, time_t now)
{
	struct actions *ax = xcalloc(1, sizeof *ax);

	ax->cfg = cfg;
	ax->now = now;
	ax->rows = rows;
	if (rows->outbox == NULL)
		rows->outbox = json_array();
	if (rows->problems == NULL)
		rows->problems = json_array();
	if (rows->ops == NULL)
		rows->ops = json_array();
	if (rows->accounts == NULL)
		rows->accounts = json_array();
	ax->problem_at = json_object();
	ax->ops = json_object();
	return ax;
}

void
actions_free(struct actions **pp)
{
	if (*pp == NULL)
		return;
	json_decref((*pp)->problem_at);
	json_decref((*pp)->ops);
	free(*pp);
	*pp = NULL;
}

void
actions_remote(const struct report_rcpt *rc, char *buf, size_t len)
{
	const char *at = rc && rc->address ? strrchr(rc->address, '@') : NULL;

	if (at != NULL && at[1] != '\0')
		snprintf(buf, len, "%s", at + 1);
	else if (rc != NULL && rc->remote_mta != NULL && *rc->remote_mta)
		snprintf(buf, len, "%s", rc->remote_mta);
	else
		snprintf(buf, len, "inconnu");
	str_lower(buf);
}

/* The words a template uses for the role of an address. */
static const char *
role_words(enum role r)
{
	return r == ROLE_SECONDARY ? "professionnelle" : "principale";
}

/* The warning to the user, by the other channel. */
static void
add_warning(struct actions *ax, const struct account *a,
    const struct policy_input *in, const struct policy_actions *act)
{
	json_t *o = json_object(), *params = json_object();
	char date[48];

	template_date(in->when, date, sizeof date);
	json_object_set_new(params, "address", jstr(act->warn_address));
	json_object_set_new(params, "role", jstr(role_words(act->warn_role)));
	json_object_set_new(params, "date", jstr(date));
	json_object_set_new(o, "account_id", json_integer(a->id));
	json_object_set_new(o, "channel",
	    jstr(policy_channel_name(act->channel)));
	json_object_set_new(o, "destination", jstr(act->destination));
	json_object_set_new(o, "template",
	    jstr(policy_warn_name(act->warn_kind)));
	json_object_set_new(o, "category",
	    jstr(policy_warn_name(act->warn_kind)));
	json_object_set_new(o, "params", params);
	json_object_set_new(o, "ref", jstr(in->ref));
	json_array_append_new(ax->rows->outbox, o);
}

/* A problem for the admin queue; a later one of the batch for the same
 * account and role replaces it (the store keeps one open per pair). */
static void
add_problem(struct actions *ax, const struct account *a,
    const struct policy_input *in, const struct policy_actions *act)
{
	json_t *p = json_object(), *at;
	char key[64];

	json_object_set_new(p, "account_id", json_integer(a->id));
	json_object_set_new(p, "role",
	    jstr(policy_role_name(act->problem_role)));
	json_object_set_new(p, "category",
	    jstr(policy_state_name(act->problem_state)));
	json_object_set_new(p, "address", jstr(act->problem_address));
	json_object_set_new(p, "since", jtime(act->problem_since));
	json_object_set_new(p, "ref", jstr(in->ref));
	if (act->problem_warning.at != 0 && act->problem_warning.id != 0)
		json_object_set_new(p, "warning_id",
		    json_integer(act->problem_warning.id));
	else if (act->problem_warning.at != 0)
		json_object_set_new(p, "warning_ref",
		    jstr(act->problem_warning.ref));
	json_object_set_new(p, "reason", jstr(policy_why_name(act->why)));
	json_object_set_new(p, "auto_cleared",
	    json_boolean(act->problem_auto_cleared));
	snprintf(key, sizeof key, "%lld:%s", a->id,
	    policy_role_name(act->problem_role));
	if ((at = json_object_get(ax->problem_at, key)) != NULL) {
		json_array_set_new(ax->rows->problems,
		    (size_t)json_integer_value(at), p);
		return;
	}
	json_object_set_new(ax->problem_at, key,
	    json_integer((json_int_t)json_array_size(ax->rows->problems)));
	json_array_append_new(ax->rows->problems, p);
}

/* One more blocked bounce for remote; maybe the alert mail. */
static void
add_ops(struct actions *ax, const struct policy_input *in,
    const struct policy_actions *act, const char *remote,
    const struct report_rcpt *rc)
{
	json_t *r = json_object_get(ax->ops, remote);

	if (r == NULL) {
		r = json_object();
		json_object_set_new(r, "remote", jstr(remote));
		json_object_set_new(r, "count", json_integer(0));
		json_object_set_new(r, "first_seen", jtime(in->when));
		json_object_set_new(r, "last_seen", jtime(in->when));
		json_object_set_new(ax->ops, remote, r);
	}
	json_object_set_new(r, "count",
	    json_integer(json_integer_value(json_object_get(r, "count")) + 1));
	if (in->when < json_integer_value(json_object_get(r, "first_seen")))
		json_object_set_new(r, "first_seen", jtime(in->when));
	if (in->when > json_integer_value(json_object_get(r, "last_seen")))
		json_object_set_new(r, "last_seen", jtime(in->when));
	if (rc != NULL && rc->remote_mta != NULL)
		json_object_set_new(r, "remote_mta", jstr(rc->remote_mta));
	if (rc != NULL && rc->diagnostic != NULL)
		json_object_set_new(r, "diagnostic", jstr(rc->diagnostic));
	if (act->ops_alert && ax->cfg->smtp.ops_to != NULL) {
		json_t *o = json_object(), *params = json_object();
		char ref[POLICY_REF_BYTES + 8];

		snprintf(ref, sizeof ref, "ops:%s", in->ref ? in->ref : remote);
		json_object_set_new(params, "remote", jstr(remote));
		json_object_set_new(o, "channel", jstr("ops"));
		json_object_set_new(o, "destination",
		    jstr(ax->cfg->smtp.ops_to));
		json_object_set_new(o, "template", jstr("ops_alert"));
		json_object_set_new(o, "category", jstr("blocked"));
		json_object_set_new(o, "params", params);
		json_object_set_new(o, "ref", jstr(ref));
		json_array_append_new(ax->rows->outbox, o);
		json_object_set_new(r, "notified_at", jtime(ax->now));
	}
}

void
actions_add(struct actions *ax, const struct account *a,
    const struct policy_input *in, const struct policy_actions *act,
    const char *remote, const struct report_rcpt *rc)
{
	if (act->ops_count)
		add_ops(ax, in, act, remote, rc);
	if (a == NULL)
		return;
	if (act->warn)
		add_warning(ax, a, in, act);
	if (act->problem)
		add_problem(ax, a, in, act);
}

static json_t *
account_json(const struct account *a)
{
	json_t *j = json_object();

	json_object_set_new(j, "id", json_integer(a->id));
	json_object_set_new(j, "primary_state",
	    jstr(policy_state_name(a->primary_state)));
	json_object_set_new(j, "primary_state_since", jtime(a->primary_since));
	json_object_set_new(j, "secondary_state",
	    jstr(policy_state_name(a->secondary_state)));
	json_object_set_new(j, "secondary_state_since",
	    jtime(a->secondary_since));
	json_object_set_new(j, "login_alert",
	    jstr(policy_alert_name(a->login_alert)));
	json_object_set_new(j, "login_alert_address",
	    jstr(a->login_alert_address));
	json_object_set_new(j, "clear_secondary",
	    json_boolean(a->clear_secondary));
	json_object_set_new(j, "clear_pending", json_boolean(a->clear_pending));
	return j;
}

void
actions_finish(struct actions *ax, const struct account *acc, size_t nacc)
{
	const char *key;
	json_t *r;
	size_t i;

	for (i = 0; i < nacc; i++)
		if (acc[i].dirty)
			json_array_append_new(ax->rows->accounts,
			    account_json(&acc[i]));
	json_object_foreach(ax->ops, key, r)
		json_array_append(ax->rows->ops, r);
}
