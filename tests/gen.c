/* gen.c - generated bounces and their census (see gen.h). */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "live.h"

#define GEN_NACCOUNTS	400

static uint64_t rng;

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

unsigned
gen_below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

static struct gen_msg *msgs;

/* An address: an account's primary or secondary, or nobody's. */
static void
pick_address(char *out, size_t len)
{
	unsigned r = gen_below(10), k = 1 + gen_below(GEN_NACCOUNTS);

	if (r < 6)
		snprintf(out, len, "user%u@example.com", k);
	else if (r < 8)
		snprintf(out, len, "pro%u@corp.example", 3 * (1 + k / 3));
	else
		snprintf(out, len, "ghost%u@nowhere.example", k);
}

static const struct {
	const char *status, *action, *code, *text;
} failures[] = {
	{ "5.1.1", "failed", "550 5.1.1", "Recipient address rejected: "
	    "User unknown in virtual mailbox table" },
	{ "5.2.2", "failed", "552 5.2.2", "Mailbox full, over quota" },
	{ "4.4.7", "delayed", "421 4.4.7", "Message delayed, connection "
	    "timed out" },
};

/* A DSN for the recipients of m, failure f[i] each. */
static void
make_dsn(struct gen_msg *m, const char *date, const int *f)
{
	char per[4096] = "", text[2048] = "", line[600], diag[300];
	int i;

	for (i = 0; i < m->nrcpt; i++) {
		snprintf(diag, sizeof diag, "%s <%s>: %s", failures[f[i]].code,
		    m->rcpt[i], failures[f[i]].text);
		snprintf(line, sizeof line, "<%s>: %s\r\n", m->rcpt[i], diag);
		strncat(text, line, sizeof text - strlen(text) - 1);
		snprintf(line, sizeof line,
		    "Final-Recipient: rfc822; %s\r\n"
		    "Original-Recipient: rfc822;%s\r\n"
		    "Action: %s\r\n"
		    "Status: %s\r\n"
		    "Remote-MTA: dns; mx.%s\r\n"
		    "Diagnostic-Code: smtp; %s\r\n\r\n", m->rcpt[i], m->rcpt[i],
		    failures[f[i]].action, failures[f[i]].status,
		    strchr(m->rcpt[i], '@') + 1, diag);
		strncat(per, line, sizeof per - strlen(per) - 1);
	}
	cr_assert(asprintf(&m->data,
	    "Return-Path: <>\r\n"
	    "Date: %s\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.platform.example>\r\n"
	    "To: bounces@platform.example\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Message-ID: <%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"B-%s\"\r\n"
	    "\r\n"
	    "--B-%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "Your message could not be delivered to one or more recipients.\r\n"
	    "\r\n%s\r\n"
	    "--B-%s\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.platform.example\r\n"
	    "\r\n%s"
	    "--B-%s\r\n"
	    "Content-Type: text/rfc822-headers\r\n"
	    "\r\n"
	    "From: Platform <noreply@platform.example>\r\n"
	    "To: %s\r\n"
	    "Subject: Votre invitation\r\n"
	    "Message-ID: <orig-%s>\r\n"
	    "\r\n"
	    "--B-%s--\r\n", date, m->id, m->id, m->id, text, m->id, per, m->id,
	    m->rcpt[0], m->id, m->id) > 0);
}

/* Message i, dated some minutes before now. */
static void
make_msg(int i, time_t now)
{
	struct gen_msg *m = &msgs[i];
	char date[64];
	time_t t = now - (time_t)(GEN_NMSG - i) * 30;
	struct tm tm;
	int f[GEN_MAXRCPT] = { 0 }, k;
	unsigned r = gen_below(100);

	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(m->id, sizeof m->id, "crash-%04d.%08x@mx.platform.example",
	    i, (unsigned)(rng >> 32));
	if (r < 8) {
		/* Not a bounce: the review folder, no event. */
		m->nrcpt = 0;
		cr_assert(asprintf(&m->data,
		    "From: Newsletter <news@shop.example>\r\n"
		    "To: bounces@platform.example\r\n"
		    "Subject: Offer %d\r\n"
		    "Message-ID: <%s>\r\n"
		    "Date: %s\r\n"
		    "\r\n"
		    "Our best prices of the year, number %d.\r\n", i, m->id,
		    date, i) > 0);
		return;
	}
	if (r < 15) {
		/* An out-of-office reply: ignored, one event (its sender). */
		m->nrcpt = 1;
		snprintf(m->rcpt[0], sizeof m->rcpt[0], "user%u@example.com",
		    1 + gen_below(GEN_NACCOUNTS));
		cr_assert(asprintf(&m->data,
		    "Date: %s\r\n"
		    "From: User <%s>\r\n"
		    "To: noreply@platform.example\r\n"
		    "Subject: Absent du bureau\r\n"
		    "Message-ID: <%s>\r\n"
		    "Auto-Submitted: auto-replied\r\n"
		    "X-Autoreply: yes\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=us-ascii\r\n"
		    "\r\n"
		    "I am out of the office until Monday, with limited access "
		    "to my mail.\r\n", date, m->rcpt[0], m->id) > 0);
		return;
	}
	m->nrcpt = r < 85 ? 1 : 2 + (int)gen_below(GEN_MAXRCPT - 1);
	for (k = 0; k < m->nrcpt; k++) {
		int again, j;

		do {
			pick_address(m->rcpt[k], sizeof m->rcpt[k]);
			again = 0;
			for (j = 0; j < k; j++)
				again |= strcmp(m->rcpt[j], m->rcpt[k]) == 0;
		} while (again);
		f[k] = r < 60 ? 0 : r < 72 ? 1 : r < 85 ? 2 : (int)gen_below(3);
	}
	make_dsn(m, date, f);
}

void
gen_init(uint64_t seed)
{
	time_t now = time(NULL);
	int i;

	if (msgs != NULL)
		return;
	rng = seed;
	msgs = calloc(GEN_NMSG, sizeof *msgs);
	cr_assert_not_null(msgs);
	for (i = 0; i < GEN_NMSG; i++)
		make_msg(i, now);
}

void
gen_seed_accounts(const char *db)
{
	char sql[600];

	snprintf(sql, sizeof sql,
	    "INSERT INTO accounts (id, primary_email, secondary_email, phone) "
	    "SELECT g, 'user' || g || '@example.com', CASE WHEN g %% 3 = 0 "
	    "THEN 'pro' || g || '@corp.example' END, CASE WHEN g %% 2 = 0 "
	    "THEN '+3360000' || g END FROM generate_series(1, %d) g",
	    GEN_NACCOUNTS + 3);
	live_sql(db, sql);
}

static const char *const folder_dirs[GEN_NFOLDERS] = { "", ".Archive/",
	".Review/" };


/* The index of a message from its file's Message-ID, or -1. */
static int
file_index(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int idx = -1;

	if (f == NULL)
		return -2;	/* expunged while we looked: skip */
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] == '\n' || line[0] == '\r')
			break;
		if (strncasecmp(line, "Message-ID: <crash-", 19) == 0) {
			idx = atoi(line + 19);
			break;
		}
	}
	fclose(f);
	return idx >= 0 && idx < GEN_NMSG ? idx : -1;
}

static void
scan_folder(const char *user, int folder, struct census *c)
{
	static const char *const sub[] = { "cur", "new" };
	char dir[1024], path[2048];
	struct dirent *de;
	int s, idx;
	DIR *d;

	for (s = 0; s < 2; s++) {
		snprintf(dir, sizeof dir, "%s/%s/Maildir/%s%s",
		    live_env("REBOND_TEST_MAILHOME"), user, folder_dirs[folder],
		    sub[s]);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			idx = file_index(path);
			if (idx >= 0)
				c->where[idx][folder]++;
			else if (idx == -1)
				c->foreign++;
		}
		closedir(d);
	}
}

/* Folders on disk and rows in rebond.messages. */
void
gen_census(const char *user, const char *db, struct census *c)
{
	char *ids, *p;
	int f;

	memset(c, 0, sizeof *c);
	for (f = 0; f < GEN_NFOLDERS; f++)
		scan_folder(user, f, c);
	ids = live_sql_str(db, "SELECT string_agg(message_id, ',') FROM "
	    "rebond.messages");
	for (p = ids; p != NULL && *p != '\0';) {
		if (strncmp(p, "crash-", 6) == 0) {
			int idx = atoi(p + 6);

			if (idx >= 0 && idx < GEN_NMSG) {
				c->committed[idx]++;
				c->ncommitted++;
			}
		}
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	free(ids);
}

int
gen_check_moved_were_committed(const struct census *c, const char *when)
{
	int i, waiting = 0;

	for (i = 0; i < GEN_NMSG; i++) {
		int moved = c->where[i][GEN_ARCHIVE] + c->where[i][GEN_REVIEW];

		cr_assert(moved == 0 || c->committed[i], "%s: message %d was "
		    "moved but never committed", when, i);
		if (c->committed[i] && c->where[i][GEN_INBOX] > 0)
			waiting++;
	}
	cr_assert_eq(c->foreign, 0, "%s: %d unknown files", when, c->foreign);
	return waiting;
}

uint64_t
gen_seed(void)
{
	const char *s = getenv("REBOND_CRASH_SEED");

	if (s != NULL && *s != '\0')
		return strtoull(s, NULL, 0);
	return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

const struct gen_msg *
gen_msg(int i)
{
	cr_assert(msgs != NULL && i >= 0 && i < GEN_NMSG);
	return &msgs[i];
}

void
gen_deliver(const char *user, int n)
{
	int i;

	for (i = 0; i < n; i++)
		live_deliver(user, "INBOX", msgs[i].data, strlen(msgs[i].data));
}

char *
gen_setup(const char *name, int n)
{
	char *db;

	gen_init(gen_seed());
	db = strdup(live_db_migrated(name));
	gen_seed_accounts(db);
	live_mailbox(name);
	gen_deliver(name, n);
	return db;
}

int
gen_moved(const char *user)
{
	return live_count(user, "Archive") + live_count(user, "Review");
}

char *
gen_config(const char *name, const char *user, const char *db, int port,
    int batch)
{
	char extra[300];

	/* Moves after every batch (move_group = batch), not grouped: the
	 * crash tests want a commit-move window in every batch. */
	if (port > 0)
		snprintf(extra, sizeof extra, "[imap]\ntls = starttls\n"
		    "port = %d\nbatch = %d\nmove_group = %d\n[log]\n"
		    "level = debug\n", port, batch, batch);
	else
		snprintf(extra, sizeof extra, "[imap]\nbatch = %d\n"
		    "move_group = %d\n[log]\nlevel = debug\n", batch, batch);
	return strdup(live_config(name, user, db, extra));
}

/* A sorted dump of a query, for comparing two databases. */
static char *
dump(const char *db, const char *what)
{
	char sql[1000];

	snprintf(sql, sizeof sql, "SELECT coalesce(string_agg(x, E'\\n' "
	    "ORDER BY x), '') FROM (%s) AS t(x)", what);
	return live_sql_str(db, sql);
}

void
gen_same_as(const char *db, const char *ref, const char *what,
    const char *label)
{
	char *a = dump(db, what), *b = dump(ref, what);

	cr_assert(a != NULL && b != NULL);
	cr_assert(strcmp(a, b) == 0, "%s differ from the reference run "
	    "(%zu vs %zu bytes)", label, strlen(a), strlen(b));
	free(a);
	free(b);
}

void
gen_same_as_reference(const char *db, const char *ref)
{
	gen_same_as(db, ref, "SELECT message_id || ' ' || outcome || ' ' || "
	    "report_type || ' ' || recipients FROM rebond.messages",
	    "messages");
	gen_same_as(db, ref, "SELECT message_id || ' ' || rcpt_index || ' ' "
	    "|| coalesce(recipient, '-') || ' ' || category || ' ' || reason "
	    "|| ' ' || rule || ' ' || coalesce(account_id::text, '-') || ' ' "
	    "|| coalesce(role, '-') || ' ' || occurred_at FROM rebond.events",
	    "events");
	gen_same_as(db, ref, "SELECT id || ' ' || primary_state || ' ' || "
	    "secondary_state || ' ' || coalesce(login_alert, '-') FROM "
	    "accounts", "account states");
	/* Warnings to users and operators (not the admin digest: one per
	 * run), admin problems, operator alert counts. */
	gen_same_as(db, ref, "SELECT coalesce(account_id::text, '-') || ' ' "
	    "|| channel || ' ' || destination || ' ' || template || ' ' || "
	    "coalesce(ref, '-') FROM rebond.outbox WHERE channel IN "
	    "('email', 'sms', 'ops')", "warnings (rebond.outbox)");
	gen_same_as(db, ref, "SELECT account_id || ' ' || role || ' ' || "
	    "category || ' ' || coalesce(ref, '-') || ' ' || "
	    "(resolved_at IS NULL) FROM rebond.problems", "admin problems");
	gen_same_as(db, ref, "SELECT remote || ' ' || count FROM "
	    "rebond.ops_alerts", "operator alerts");
}

