/* notify.c - deadlines, then the outbox (see notify.h). */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <jansson.h>

#include "buf.h"
#include "log.h"
#include "mailmsg.h"
#include "notify.h"
#include "sms.h"
#include "smtp.h"
#include "template.h"
#include "testpoint.h"
#include "verp.h"
#include "xalloc.h"

#define LOCK_KEY "rebond outbox"
/* Days rebond.sent_mail keeps a sent mail (a bounce comes back within
 * days; 5 at most for a delayed one). */
#define SENT_MAIL_DAYS 30

struct sender {
	const struct config *cfg;
	struct store *st;
	struct notify_stats *ns;
	time_t now;
	struct smtp *smtp;
	int relay_tried;	/* smtp_open was called */
	int relay_down;		/* no more mail in this run */
	int exit;		/* sysexits code so far */
	int db_failed;
	const char *verp_key;	/* sign return paths, or NULL */
};

static const char *
templates_dir(const struct config *cfg)
{
	return cfg->smtp.templates ? cfg->smtp.templates : CONF_TEMPLATES_DIR;
}

/* The row's values, with the run's own (platform_url, date, ...). */
static json_t *
template_vars(const struct sender *sd, const struct outbox_row *r)
{
	json_t *v = json_deep_copy(r->params);
	char date[16];

	if (v == NULL)
		v = json_object();
	template_date(sd->now, date, sizeof date);
	json_object_set_new(v, "platform_url", json_string(
	    sd->cfg->smtp.platform_url ? sd->cfg->smtp.platform_url : ""));
	if (json_object_get(v, "date") == NULL)
		json_object_set_new(v, "date", json_string(date));
	/* A deadline given as an instant (sql/010) is written as a date in
	 * the run's zone, the database's: not the admin session's. */
	if (json_is_integer(json_object_get(v, "deadline_at"))) {
		char dl[16];

		template_date((time_t)json_integer_value(json_object_get(v,
		    "deadline_at")), dl, sizeof dl);
		json_object_set_new(v, "deadline", json_string(dl));
	}
	json_object_set_new(v, "renotify_days",
	    json_integer(sd->cfg->policy.renotify_days));
	return v;
}

/* The relay stopped taking mail during the run: the rest waits, exit 75. */
static void
relay_lost(struct sender *sd, const char *why)
{
	if (sd->relay_down)
		return;
	log_error("smtp: host=%s %s; the other mails wait",
	    sd->cfg->smtp.ep.host, why);
	sd->relay_down = 1;
	if (sd->exit == EX_OK)
		sd->exit = EX_TEMPFAIL;
}

/* Connect to the relay once per run; 0, or -1 (then relay_down). */
static int
relay(struct sender *sd)
{
	const struct endpoint *ep = &sd->cfg->smtp.ep;
	char *password = NULL;

	if (sd->smtp != NULL && smtp_usable(sd->smtp))
		return 0;
	if (sd->relay_down)
		return -1;
	if (sd->relay_tried) {
		/* The connection died during this run: leave the rest. */
		relay_lost(sd, "connection lost");
		return -1;
	}
	sd->relay_tried = 1;
	if (ep->password_file != NULL &&
	    (password = conf_read_secret(ep->password_file, stderr)) == NULL) {
		log_error("smtp: password_file=%s cannot be read; every mail "
		    "waits", ep->password_file);
		sd->relay_down = 1;
		sd->exit = EX_CONFIG;
		if (store_outbox_unreachable(sd->st, "email,admin,ops",
		    "relais SMTP : mot de passe illisible") == -1)
			sd->db_failed = 1;
		return -1;
	}
	if (smtp_open(ep, password, &sd->smtp) == -1) {
		enum smtp_error e = smtp_error(sd->smtp);

		sd->relay_down = 1;
		if (sd->exit == EX_OK)
			sd->exit = e == SMTP_ERR_TLS ? EX_PROTOCOL :
			    e == SMTP_ERR_AUTH ? EX_NOPERM : EX_TEMPFAIL;
		smtp_close(&sd->smtp);
		/* Every waiting mail shows why it waits. */
		if (store_outbox_unreachable(sd->st, "email,admin,ops",
		    e == SMTP_ERR_TLS ? "relais SMTP : certificat refusé" :
		    e == SMTP_ERR_AUTH ? "relais SMTP : identifiants refusés" :
		    "relais SMTP injoignable") == -1)
			sd->db_failed = 1;
	}
	if (password != NULL) {
		memset(password, 0, strlen(password));
		free(password);
	}
	return sd->relay_down ? -1 : 0;
}

/* The Message-ID of a row: the same on every attempt. */
static void
message_id(const struct sender *sd, const struct outbox_row *r, char *buf,
    size_t len)
{
	const char *at = strrchr(sd->cfg->smtp.from, '@');

	snprintf(buf, len, "rebond.outbox.%lld.%lld@%s", r->id,
	    (long long)r->created, at ? at + 1 : "localhost");
}

/*
 * A text that cannot be made (a template missing, unreadable, or with a
 * placeholder the row has no value for) is the configuration's fault:
 * the row waits, to be sent once the template is fixed, and the run
 * exits 78 (EX_CONFIG), not 0.
 */
static enum send_result
template_failed(struct sender *sd, const struct outbox_row *r,
    const char *err)
{
	log_error("notify: outbox=%lld channel=%s template=%s cannot be "
	    "written: %s (it waits; fix [smtp] templates or from_name)",
	    r->id, r->channel, r->template, err);
	if (sd->exit == EX_OK || sd->exit == EX_TEMPFAIL)
		sd->exit = EX_CONFIG;
	return SEND_TEMP;
}

/* Send one mail row. */
static enum send_result
send_mail(struct sender *sd, const struct outbox_row *r, json_t *vars,
    char *err, size_t errlen)
{
	const struct config *cfg = sd->cfg;
	struct mailmsg m = { 0 };
	char *subject = NULL, *body = NULL, *data = NULL, mid[512];
	char from[VERP_ADDRESS_MAX];
	enum send_result res = SEND_TEMP;
	size_t len;

	if (template_email(templates_dir(cfg), r->template, vars, &subject,
	    &body, err, errlen) == -1)
		return template_failed(sd, r, err);
	message_id(sd, r, mid, sizeof mid);
	m.from = cfg->smtp.from;
	m.from_name = cfg->smtp.from_name;
	m.to = r->destination;
	m.subject = subject;
	m.body = body;
	m.date = sd->now;
	m.message_id = mid;
	/* The destination is the row's; the rest is the configuration's
	 * and the template's: a mail they cannot make waits for a fix. */
	if (!mailmsg_valid_address(r->destination)) {
		snprintf(err, errlen, "refused: invalid recipient address");
		res = SEND_PERM;
		goto out;
	}
	if (mailmsg_build(&m, &data, &len, err, errlen) == -1) {
		res = template_failed(sd, r, err);
		goto out;
	}
	if (relay(sd) == -1) {
		snprintf(err, errlen, "relais SMTP indisponible");
		goto out;
	}
	/* Bounces of our own mail come back to the bounce mailbox, signed
	 * with the account and role of the destination when VERP is on. */
	if (sd->verp_key == NULL || r->account_id <= 0 ||
	    r->dest_role == ROLE_NONE ||
	    verp_encode(cfg->verp.return_path, r->account_id, r->dest_role,
	    r->destination, sd->verp_key, strlen(sd->verp_key), from,
	    sizeof from) == -1)
		snprintf(from, sizeof from, "%s", cfg->verp.return_path ?
		    cfg->verp.return_path : cfg->smtp.from);
	res = smtp_send(sd->smtp, from, r->destination, data, len, err,
	    errlen);
	if (smtp_error(sd->smtp) == SMTP_ERR_SENDER) {
		/* Not this recipient's fault, nor this mail's: all wait. */
		log_error("smtp: host=%s refuses the sender <%s>: %s; every "
		    "mail waits (check [smtp] from, [verp] return_path and the "
		    "relay's login)", cfg->smtp.ep.host, from, err);
		sd->relay_down = 1;
		if (sd->exit == EX_OK || sd->exit == EX_TEMPFAIL)
			sd->exit = EX_CONFIG;
		if (store_outbox_unreachable(sd->st, "email,admin,ops",
		    "relais SMTP : expéditeur refusé") == -1)
			sd->db_failed = 1;
	} else if (!smtp_usable(sd->smtp)) {
		char why[600];

		snprintf(why, sizeof why, "connection lost (%s)", err);
		relay_lost(sd, why);
	}
out:
	free(subject);
	free(body);
	free(data);
	return res;
}

/* Send one SMS row. */
static enum send_result
send_sms(struct sender *sd, const struct outbox_row *r, json_t *vars,
    char *err, size_t errlen)
{
	enum send_result res;
	char *text = NULL;

	if (template_sms(templates_dir(sd->cfg), r->template, vars, &text, err,
	    errlen) == -1)
		return template_failed(sd, r, err);
	/* Too long is the template's length with its values (a long
	 * platform_url): shortened, the SMS leaves; refused, it never would. */
	if (strlen(text) > SMS_MAX_BYTES) {
		snprintf(err, errlen, "the SMS text is %zu bytes, over %d: "
		    "shorten the template", strlen(text), SMS_MAX_BYTES);
		free(text);
		return template_failed(sd, r, err);
	}
	res = sms_send(sd->cfg->sms.command, sd->cfg->sms.timeout,
	    r->destination, text, err, errlen);
	if (res == SEND_TEMP && sd->exit == EX_OK)
		sd->exit = EX_TEMPFAIL;
	free(text);
	return res;
}

/* Try one row, and record the attempt. */
static void
send_row(struct sender *sd, const struct outbox_row *r)
{
	int sms = strcmp(r->channel, "sms") == 0;
	enum send_result res;
	char err[512] = "";
	json_t *vars;

	/* Not configured, or the relay is down: the row waits. */
	if (sms ? sd->cfg->sms.command == NULL :
	    sd->cfg->smtp.ep.host == NULL || sd->relay_down)
		return;
	vars = template_vars(sd, r);
	res = sms ? send_sms(sd, r, vars, err, sizeof err) :
	    send_mail(sd, r, vars, err, sizeof err);
	json_decref(vars);
	if (!sms && sd->relay_down && res == SEND_TEMP && sd->smtp == NULL)
		return;		/* counted by store_outbox_unreachable */
	if (res == SEND_OK)
		testpoint("notify-sent");
	if (store_outbox_done(sd->st, r->id, res, err) == -1) {
		sd->db_failed = 1;
		return;
	}
	switch (res) {
	case SEND_OK:
		sd->ns->sent++;
		log_info("notify: outbox=%lld channel=%s template=%s "
		    "account=%lld status=sent", r->id, r->channel, r->template,
		    r->account_id);
		break;
	case SEND_PERM:
		sd->ns->failed++;
		log_warning("notify: outbox=%lld channel=%s template=%s "
		    "account=%lld status=refused error=\"%s\"", r->id,
		    r->channel, r->template, r->account_id, err);
		break;
	default:
		sd->ns->deferred++;
		log_warning("notify: outbox=%lld channel=%s template=%s "
		    "account=%lld status=deferred error=\"%s\"", r->id,
		    r->channel, r->template, r->account_id, err);
		break;
	}
}

/* Every unsent row of channels, oldest first. */
static void
send_channels(struct sender *sd, const char *channels)
{
	char can[64], list[64], *ch, *save = NULL;
	long long after = 0;
	size_t len = 0;

	/*
	 * Only the channels that can send: rows of the others wait, and
	 * reading them all on every run (an unconfigured relay or SMS
	 * command lets them pile up) would make even an empty run slow.
	 */
	snprintf(list, sizeof list, "%s", channels);
	can[0] = '\0';
	for (ch = strtok_r(list, ",", &save); ch != NULL &&
	    len + strlen(ch) + 2 < sizeof can;
	    ch = strtok_r(NULL, ",", &save)) {
		if (strcmp(ch, "sms") == 0 ? sd->cfg->sms.command == NULL :
		    sd->cfg->smtp.ep.host == NULL)
			continue;
		len += (size_t)snprintf(can + len, sizeof can - len, "%s%s",
		    len > 0 ? "," : "", ch);
	}
	if (len == 0)
		return;
	channels = can;

	for (;;) {
		struct outbox_row *rows = NULL;
		size_t n = 0, i;

		if (sd->db_failed || store_outbox_next(sd->st, channels, after,
		    NOTIFY_BATCH, &rows, &n) == -1) {
			sd->db_failed = 1;
			return;
		}
		for (i = 0; i < n && !sd->db_failed; i++) {
			after = rows[i].id;
			send_row(sd, &rows[i]);
		}
		store_outbox_rows_free(rows, n);
		if (n < NOTIFY_BATCH)
			return;
	}
}

/* French words for a role, in the digest. */
static const char *
role_words(const char *role)
{
	if (strcmp(role, "primary") == 0)
		return "adresse principale";
	if (strcmp(role, "secondary") == 0)
		return "adresse professionnelle";
	if (strcmp(role, "pending") == 0)
		return "nouvelle adresse à valider";
	return "adresse d'invitation";
}

static const char *
cell(const struct store_table *t, size_t row, size_t col)
{
	const char *s = store_table_cell(t, row, col);

	return s ? s : "-";
}

/*
 * One admin digest for the problems no digest listed yet, queued in the
 * outbox in one transaction with the marks on those problems.
 */
static void
queue_digest(struct sender *sd)
{
	struct store_table *t = NULL;
	const char **ids = NULL;
	struct buf text;
	json_t *params;
	char date[16];
	size_t i;

	if (store_begin(sd->st) == -1) {
		sd->db_failed = 1;
		return;
	}
	if (store_digest_pending(sd->st, NOTIFY_DIGEST_MAX, &t) == -1)
		goto fail;
	if (t->nrows == 0) {
		store_rollback(sd->st);
		store_table_free(&t);
		return;
	}
	buf_init(&text, TEMPLATE_OUT_MAX_BYTES);
	ids = xcalloc(t->nrows + 1, sizeof *ids);
	for (i = 0; i < t->nrows; i++) {
		/* problem_id, account_id, address, role, category, what,
		 * action, notified, since */
		ids[i] = store_table_cell(t, i, 0);
		buf_printf(&text, "- Compte %s, %s %s (depuis le %s)\n"
		    "  %s\n  %s\n  À faire : %s\n\n", cell(t, i, 1),
		    role_words(cell(t, i, 3)), cell(t, i, 2), cell(t, i, 8),
		    cell(t, i, 5), cell(t, i, 7), cell(t, i, 6));
	}
	template_date(sd->now, date, sizeof date);
	params = json_object();
	json_object_set_new(params, "count",
	    json_integer((json_int_t)t->nrows));
	json_object_set_new(params, "problems", json_string(text.data ?
	    text.data : ""));
	json_object_set_new(params, "date", json_string(date));
	buf_free(&text);
	i = store_digest_queue(sd->st, sd->cfg->smtp.admin_to, params, ids,
	    t->nrows) == 0 && store_commit(sd->st) == 0;
	json_decref(params);
	if (!i)
		goto fail;
	log_info("notify: admin digest queued problems=%zu", t->nrows);
	free(ids);
	store_table_free(&t);
	return;
fail:
	store_rollback(sd->st);
	free(ids);
	store_table_free(&t);
	sd->db_failed = 1;
}

int
notify_run(const struct config *cfg, struct store *st, time_t now,
    const char *verp_key, struct notify_stats *ns)
{
	struct sender sd = { .cfg = cfg, .st = st, .ns = ns, .now = now,
		.exit = EX_OK, .verp_key = verp_key };
	long long purged;
	int got, upkeep_failed = 0;

	memset(ns, 0, sizeof *ns);
	if (store_try_lock(st, LOCK_KEY, &got) == -1)
		return EX_TEMPFAIL;
	if (!got) {
		log_info("notify: another run sends the notifications");
		return EX_OK;
	}
	/*
	 * A statement that fails with the connection still up (a platform
	 * constraint refusing what expiry writes, say) must not keep every
	 * warning and digest from leaving: it is logged, the run exits 75,
	 * and the notifications go.
	 */
	if (store_expire(st, cfg->policy.validation_days,
	    cfg->policy.invitation_days, &ns->validations_expired,
	    &ns->invitations_expired) == -1) {
		if (!store_connected(st)) {
			sd.db_failed = 1;
			goto out;
		}
		upkeep_failed = 1;
	}
	if (ns->validations_expired > 0 || ns->invitations_expired > 0)
		log_info("notify: expired validations=%d invitations=%d",
		    ns->validations_expired, ns->invitations_expired);
	if (store_decay_soft(st, cfg->policy.soft_window_days,
	    &ns->soft_decayed) == -1) {
		if (!store_connected(st)) {
			sd.db_failed = 1;
			goto out;
		}
		upkeep_failed = 1;
	}
	if (ns->soft_decayed > 0)
		log_info("notify: soft addresses back to ok=%d",
		    ns->soft_decayed);
	if (store_purge_sent(st, SENT_MAIL_DAYS, &purged) == -1) {
		if (!store_connected(st)) {
			sd.db_failed = 1;
			goto out;
		}
		upkeep_failed = 1;
	}
	send_channels(&sd, "email,sms");
	/* The digest tells who was warned: after the warnings, and only when
	 * it can leave now. */
	if (!sd.db_failed && cfg->smtp.admin_to != NULL &&
	    cfg->smtp.ep.host != NULL && !sd.relay_down) {
		queue_digest(&sd);
		send_channels(&sd, "admin");
	}
	send_channels(&sd, "ops");
out:
	smtp_close(&sd.smtp);
	store_unlock(st, LOCK_KEY);
	if (sd.db_failed)
		return EX_TEMPFAIL;
	if (upkeep_failed) {
		log_error("notify: deadlines, soft scores or sent mail not "
		    "updated (the database error above); the notifications "
		    "went");
		if (sd.exit == EX_OK)
			return EX_TEMPFAIL;
	}
	return sd.exit;
}
