/*
 * live_policy.c - the help page, end to end: `rebond run` against real
 * Dovecot, PostgreSQL, an SMTP sink (aiosmtpd, plain and STARTTLS) and a
 * script as SMS command. Each test has its own database, mailbox, and
 * recipient addresses, so that tests can run in parallel on the shared
 * servers; mails are found in the sink by their recipient.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "live.h"

#define DAY 86400

/* Options of a test's configuration. */
struct cfgopt {
	const char *smtp_port;	/* NULL: the plain sink */
	const char *tls;	/* NULL: none */
	const char *ca;		/* NULL: the test CA */
	const char *host;	/* NULL: 127.0.0.1 */
	const char *policy;	/* extra [policy] lines */
	const char *user;	/* [smtp] user, password_file */
	const char *password_file;
	const char *timeout;	/* NULL: 10 */
	const char *pin;	/* [smtp] tls_fingerprint */
	const char *templates;	/* NULL: the source tree's */
	int no_sms;
};

/* A DSN for rcpt dated when, with a Message-ID unique to this process. */
static char *
dsn_at(const char *rcpt, const char *status, const char *diag, time_t when)
{
	static unsigned seq;
	const char *domain = strchr(rcpt, '@') ? strchr(rcpt, '@') + 1 : "x";
	char date[64], *s = NULL;
	struct tm tm;

	gmtime_r(&when, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	seq++;
	cr_assert(asprintf(&s,
	    "Return-Path: <>\r\n"
	    "Date: %s\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.platform.example>\r\n"
	    "To: bounces@platform.example\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Message-ID: <pol-%d-%u-%ld@mx.platform.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"B%u\"\r\n"
	    "\r\n"
	    "--B%u\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "<%s>: host mx.%s said: %s\r\n"
	    "\r\n"
	    "--B%u\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.platform.example\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; %s\r\n"
	    "Action: %s\r\n"
	    "Status: %s\r\n"
	    "Remote-MTA: dns; mx.%s\r\n"
	    "Diagnostic-Code: smtp; %s\r\n"
	    "\r\n"
	    "--B%u--\r\n",
	    date, (int)getpid(), seq, (long)when, seq, seq, rcpt, domain, diag,
	    seq, rcpt, status[0] == '4' ? "delayed" : "failed", status, domain,
	    diag, seq) > 0);
	return s;
}

static void
bounce(const char *user, const char *rcpt, const char *status,
    const char *diag, time_t when)
{
	char *m = dsn_at(rcpt, status, diag, when);

	live_deliver(user, "INBOX", m, strlen(m));
	free(m);
}

#define HARD "5.1.1", "550 5.1.1 <x>: Recipient address rejected: User unknown"
#define QUOTA "5.2.2", "552 5.2.2 Mailbox full: user is over quota"
#define SPF "5.7.23", "550 5.7.23 SPF check failed: message rejected " \
	"due to SPF policy"
#define SPAM "5.7.1", "554 5.7.1 Message rejected as SPAM (policy issue " \
	"or sender blocked)"
#define BLOCKED "5.7.1", "550 5.7.1 Service unavailable; Client host " \
	"[192.0.2.1] blocked using zen.spamhaus.org"
#define TRANSIENT "4.4.7", "Delivery time expired: connection timed out"

/* The test's configuration, with [smtp] and [sms] sections. */
static const char *
config(const char *name, const char *db, const struct cfgopt *o)
{
	char extra[4096];

	snprintf(extra, sizeof extra,
	    "[policy]\n%s\n"
	    "[smtp]\n"
	    "host = %s\n"
	    "port = %s\n"
	    "tls = %s\n"
	    "ca_file = %s\n"
	    "%s%s\n"
	    "%s%s\n"
	    "%s%s\n"
	    "timeout = %s\n"
	    "from = noreply@platform.example\n"
	    "from_name = Plateforme\n"
	    "admin_to = admins-%s@platform.example\n"
	    "ops_to = ops-%s@platform.example\n"
	    "templates = %s%s\n"
	    "platform_url = https://platform.example\n"
	    "[sms]\n"
	    "%scommand = /bin/sh %s/tests/sms_sink.sh %s/%s.sms\n"
	    "timeout = 10\n",
	    o && o->policy ? o->policy : "",
	    o && o->host ? o->host : "127.0.0.1",
	    o && o->smtp_port ? o->smtp_port :
	    live_env("REBOND_TEST_SMTP_PORT"),
	    o && o->tls ? o->tls : "none",
	    o && o->ca ? o->ca : live_env("REBOND_TEST_CA"),
	    o && o->user ? "user = " : "", o && o->user ? o->user : "",
	    o && o->password_file ? "password_file = " : "",
	    o && o->password_file ? o->password_file : "",
	    o && o->pin ? "tls_fingerprint = sha256:" : "",
	    o && o->pin ? o->pin : "",
	    o && o->timeout ? o->timeout : "10", name, name,
	    o && o->templates ? o->templates : live_env("REBOND_SRCDIR"),
	    o && o->templates ? "" : "/etc/templates",
	    o && o->no_sms ? ";" : "",
	    live_env("REBOND_SRCDIR"), live_dir(), name);
	return live_config(name, name, db, extra);
}

/* rebond run with this configuration; returns the exit status. */
static int
run(const char *cfg)
{
	char args[700];

	snprintf(args, sizeof args, "run -c %s", cfg);
	return live_rebond(args);
}

static void
run_ok(const char *cfg)
{
	int rc = run(cfg);

	cr_assert_eq(rc, 0, "rebond run exit %d: %s", rc, live_err());
}

/* Decode quoted-printable in place (soft breaks, =XX). */
static void
qp_decode(char *s)
{
	char *o = s;

	while (*s != '\0') {
		if (s[0] == '=' && s[1] == '\r' && s[2] == '\n')
			s += 3;
		else if (s[0] == '=' && s[1] == '\n')
			s += 2;
		else if (s[0] == '=' && s[1] != '\0' && s[2] != '\0') {
			char hex[3] = { s[1], s[2], 0 };

			*o++ = (char)strtol(hex, NULL, 16);
			s += 3;
		} else
			*o++ = *s++;
	}
	*o = '\0';
}

/*
 * Mails the sinks received for rcpt (both sinks). With body_r, the
 * headers and decoded body of the last one (free()).
 */
static int
sink(const char *rcpt, char **body_r)
{
	const char *dirs[] = { "REBOND_TEST_SMTP_MAILDIR",
		"REBOND_TEST_SMTPTLS_MAILDIR" };
	char want[300], path[1024];
	int n = 0;
	size_t d;

	snprintf(want, sizeof want, "X-RcptTo: %s\n", rcpt);
	if (body_r != NULL)
		*body_r = NULL;
	for (d = 0; d < 2; d++) {
		struct dirent *de;
		DIR *dir;

		snprintf(path, sizeof path, "%s/new", live_env(dirs[d]));
		if ((dir = opendir(path)) == NULL)
			continue;
		while ((de = readdir(dir)) != NULL) {
			char *m;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/new/%s",
			    live_env(dirs[d]), de->d_name);
			if ((m = live_slurp(path)) == NULL)
				continue;
			if (strstr(m, want) != NULL) {
				n++;
				if (body_r != NULL) {
					char *b = strstr(m, "\n\n");

					free(*body_r);
					if (b != NULL)
						qp_decode(b);
					*body_r = m;
					m = NULL;
				}
			}
			free(m);
		}
		closedir(dir);
	}
	return n;
}

/* What the SMS script received for this test ("" if nothing). */
static char *
sms_log(const char *name)
{
	char path[512], *s;

	snprintf(path, sizeof path, "%s/%s.sms", live_dir(), name);
	s = live_slurp(path);
	return s ? s : strdup("");
}

static void
sql_is(const char *db, const char *sql, const char *want)
{
	char *v = live_sql_str(db, sql);

	cr_assert_str_eq(v ? v : "(null)", want, "%s", sql);
	free(v);
}

/* Today as the database prints it in "prévenu le". */
static void
today(const char *db, char *out, size_t len)
{
	char *v = live_sql_str(db, "SELECT to_char(now(), 'DD/MM/YYYY')");

	snprintf(out, len, "%s", v);
	free(v);
}

/* A new database with the given accounts (SQL VALUES list). */
static const char *
setup(const char *name, const char *accounts)
{
	const char *db = live_db_migrated(name);
	char sql[4096];

	live_mailbox(name);
	if (accounts != NULL) {
		snprintf(sql, sizeof sql, "INSERT INTO accounts (id, "
		    "primary_email, secondary_email, phone) VALUES %s",
		    accounts);
		live_sql(db, sql);
	}
	return db;
}

/*
 * Another transaction (another mailbox's batch) runs hold on db and stays
 * open; `rebond run -c cfg` starts, and once it waits for a lock (in the
 * database, and whose query matches like), the other transaction commits.
 * Returns the run's exit status.
 */
static int
run_behind(const char *db, const char *cfg, const char *hold,
    const char *like, const char *what)
{
	char args[700], sql[300];
	PGconn *a;
	PGresult *r;
	int pid, st, i, waiting = 0;

	a = PQconnectdb(db);
	cr_assert_eq(PQstatus(a), CONNECTION_OK);
	r = PQexec(a, hold);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
	    PQerrorMessage(a));
	PQclear(r);
	snprintf(args, sizeof args, "run -c %s", cfg);
	pid = live_rebond_start(NULL, args, 0);
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE wait_event_type = 'Lock' AND datname = current_database() "
	    "AND query LIKE '%s'", like);
	for (i = 0; i < 200 && !waiting; i++) {
		waiting = live_sql_int(db, sql) > 0;
		if (!waiting)
			usleep(50000);
	}
	cr_assert(waiting, "the run never waited for %s", what);
	r = PQexec(a, "COMMIT");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
	    PQerrorMessage(a));
	PQclear(r);
	PQfinish(a);
	st = live_rebond_wait(pid, 0);
	return st;
}

/* The admin_queue row of an account and role, as "category|notified". */
static char *
queue_row(const char *db, int account, const char *role)
{
	char sql[300];

	snprintf(sql, sizeof sql, "SELECT coalesce((SELECT category || '|' || "
	    "notified FROM rebond.admin_queue WHERE account_id = %d AND "
	    "role = '%s'), 'none')", account, role);
	return live_sql_str(db, sql);
}

static void
queue_is(const char *db, int account, const char *role, const char *want)
{
	char *v = queue_row(db, account, role);

	cr_assert_str_eq(v, want, "admin queue of account %d (%s)", account,
	    role);
	free(v);
}

/* sql fails with sqlstate, and its message (hint included) holds msg. */
static void
sql_fails(const char *db, const char *sql, const char *sqlstate,
    const char *msg)
{
	PGconn *c = PQconnectdb(db);
	PGresult *r;
	const char *st, *m;

	cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
	r = PQexec(c, sql);
	st = PQresultErrorField(r, PG_DIAG_SQLSTATE);
	m = st ? PQresultErrorMessage(r) : "(succeeded)";
	cr_assert_str_eq(st ? st : "ok", sqlstate, "%s: %s", sql, m);
	cr_assert_not_null(strstr(m, msg), "%s: %s", sql, m);
	PQclear(r);
	PQfinish(c);
}

/* A result's SQLSTATE, "ok" for rows. */
static const char *
sqlstate(const PGresult *r)
{
	const char *st = PQresultErrorField(r, PG_DIAG_SQLSTATE);

	if (PQresultStatus(r) == PGRES_TUPLES_OK)
		return "ok";
	return st ? st : "?";
}

/*
 * Who waits for whom: hold runs in a transaction left open; call starts
 * on another connection; once call waits for a lock, probe (unless NULL:
 * a FOR UPDATE NOWAIT of a row call must not hold yet) runs on a third.
 * Then hold commits and call ends. The SQLSTATEs of probe and call ("ok"
 * when they succeeded) go to probe_r and call_r.
 */
static void
behind(const char *db, const char *hold, const char *call, const char *probe,
    char probe_r[8], char call_r[8])
{
	PGconn *a, *b, *c;
	PGresult *r;
	char sql[200];
	int i, waiting = 0;

	a = PQconnectdb(db);
	b = PQconnectdb(db);
	cr_assert(PQstatus(a) == CONNECTION_OK && PQstatus(b) ==
	    CONNECTION_OK);
	PQclear(PQexec(a, "BEGIN"));
	r = PQexec(a, hold);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", hold,
	    PQerrorMessage(a));
	PQclear(r);
	cr_assert_eq(PQsendQuery(b, call), 1, "%s", PQerrorMessage(b));
	snprintf(sql, sizeof sql, "SELECT count(*) FROM pg_stat_activity "
	    "WHERE pid = %d AND wait_event_type = 'Lock'", PQbackendPID(b));
	for (i = 0; i < 200 && !waiting; i++) {
		waiting = live_sql_int(db, sql) > 0;
		if (!waiting)
			usleep(50000);
	}
	cr_assert(waiting, "%s never waited for %s", call, hold);
	snprintf(probe_r, 8, "-");
	if (probe != NULL) {
		c = PQconnectdb(db);
		cr_assert_eq(PQstatus(c), CONNECTION_OK);
		PQclear(PQexec(c, "BEGIN"));
		r = PQexec(c, probe);
		snprintf(probe_r, 8, "%s", sqlstate(r));
		PQclear(r);
		PQfinish(c);	/* (rolls back) */
	}
	r = PQexec(a, "COMMIT");
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s",
	    PQerrorMessage(a));
	PQclear(r);
	PQfinish(a);
	snprintf(call_r, 8, "ok");
	while ((r = PQgetResult(b)) != NULL) {
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			snprintf(call_r, 8, "%s", sqlstate(r));
		PQclear(r);
	}
	PQfinish(b);
}

/* The digest mailed to this test's admins. */
static char *
digest(const char *name)
{
	char to[200], *m;

	snprintf(to, sizeof to, "admins-%s@platform.example", name);
	cr_assert_eq(sink(to, &m), 1, "one admin digest to %s", to);
	return m;
}

/*
 * One time zone for every date: the warning's "depuis le", the admin
 * queue's "prévenu le" and the digest all follow the database's
 * TimeZone. Two databases, 25 hours apart or more (UTC+14 and UTC-11):
 * the same bounce shows on a different day in each, and in each the mail
 * and the queue agree with the database.
 */
Test(policy, dates_follow_the_database_time_zone, .timeout = 90)
{
	/* (UTC+14, a POSIX rule with DST, as PostgreSQL accepts them; and
	 * a zone's name, UTC-11) */
	static const char *const zone[] = {
		"<+14>-14<+15>,M3.5.0,M10.5.0/3", "Pacific/Pago_Pago" };
	static const char *const name[] = { "tz_east", "tz_west" };
	char shown[2][16], sql[300], want[128], *mail, *v;
	time_t when = time(NULL) - 60;
	int k;

	for (k = 0; k < 2; k++) {
		char accounts[200], pro[64], addr[64];
		const char *db, *cfg;

		snprintf(addr, sizeof addr, "tom@%s.example", name[k]);
		snprintf(pro, sizeof pro, "tom.pro@%s-work.example", name[k]);
		snprintf(accounts, sizeof accounts, "(1, '%s', '%s', NULL)",
		    addr, pro);
		db = setup(name[k], accounts);

		snprintf(sql, sizeof sql, "ALTER DATABASE %s SET timezone = "
		    "'%s'", name[k], zone[k]);
		live_sql(db, sql);
		cfg = config(name[k], db, NULL);
		bounce(name[k], addr, HARD, when);
		run_ok(cfg);
		/* The day of the bounce, as the database shows it. */
		snprintf(sql, sizeof sql, "SELECT to_char(to_timestamp(%lld), "
		    "'DD/MM/YYYY')", (long long)when);
		v = live_sql_str(db, sql);
		snprintf(shown[k], sizeof shown[k], "%s", v);
		free(v);
		cr_assert_eq(sink(pro, &mail), 1, "%s", live_err());
		snprintf(want, sizeof want, "nous reviennent depuis le %s",
		    shown[k]);
		cr_assert_not_null(strstr(mail, want), "%s: want \"%s\" in %s",
		    zone[k], want, mail);
		free(mail);
		v = live_sql_str(db, "SELECT to_char(now(), 'DD/MM/YYYY')");
		snprintf(want, sizeof want, "hard|prévenu le %s (email)", v);
		free(v);
		queue_is(db, 1, "primary", want);
		mail = digest(name[k]);
		cr_assert_not_null(strstr(mail, want + strlen("hard|")),
		    "%s: %s", zone[k], mail);
		free(mail);
	}
	cr_assert_str_neq(shown[0], shown[1], "UTC+14 and UTC-11 on the "
	    "same day");
}

Test(policy, primary_hard_warned_by_email, .timeout = 60)
{
	const char *db = setup("ph_email", "(1, 'ann@ph-email.example', "
	    "'ann.pro@ph-email-work.example', '+33600000001')");
	const char *cfg = config("ph_email", db, NULL);
	char *mail, *s, d[16], want[128];

	bounce("ph_email", "ann@ph-email.example", HARD, time(NULL) - 60);
	run_ok(cfg);
	today(db, d, sizeof d);
	sql_is(db, "SELECT primary_state || ',' || secondary_state || ',' || "
	    "login_alert || ',' || login_alert_address FROM accounts",
	    "hard,ok,hard,ann@ph-email.example");
	cr_assert_eq(live_count("ph_email", "Archive"), 1);
	/* Warned on the secondary, by email; no SMS. */
	cr_assert_eq(sink("ann.pro@ph-email-work.example", &mail), 1);
	cr_assert_not_null(strstr(mail, "ann@ph-email.example nous reviennent"),
	    "%s", mail);
	cr_assert_not_null(strstr(mail,
	    "Auto-Submitted: auto-generated"));
	cr_assert_not_null(strstr(mail, "X-MailFrom: noreply@platform.example"));
	/* The text ends with its last line: no empty line added before the
	 * final dot (libetpan writes CRLF . CRLF after the data). */
	cr_assert(strlen(mail) > 2 && mail[strlen(mail) - 1] == '\n' &&
	    mail[strlen(mail) - 2] != '\n', "ends with an empty line: "
	    "...%s", mail + (strlen(mail) > 40 ? strlen(mail) - 40 : 0));
	free(mail);
	s = sms_log("ph_email");
	cr_assert_str_eq(s, "");
	free(s);
	/* The admin queue and the digest say who was warned, when, how. */
	snprintf(want, sizeof want, "hard|prévenu le %s (email)", d);
	queue_is(db, 1, "primary", want);
	mail = digest("ph_email");
	snprintf(want, sizeof want, "prévenu le %s (email)", d);
	cr_assert_not_null(strstr(mail, want), "%s", mail);
	cr_assert_not_null(strstr(mail, "Compte 1, adresse principale "
	    "ann@ph-email.example"), "%s", mail);
	cr_assert_not_null(strstr(mail, "changer l'email ou le désinscrire"),
	    "%s", mail);
	free(mail);
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE sent_at IS NULL",
	    "0");
}

Test(policy, primary_hard_warned_by_sms, .timeout = 60)
{
	const char *db = setup("ph_sms", "(1, 'bea@ph-sms.example', NULL, "
	    "'+33 6 00 00 00 02')");
	char *s, d[16], want[128];

	bounce("ph_sms", "bea@ph-sms.example", HARD, time(NULL) - 60);
	run_ok(config("ph_sms", db, NULL));
	today(db, d, sizeof d);
	s = sms_log("ph_sms");
	cr_assert_eq(strncmp(s, "+33600000002|", 13), 0, "number: %s", s);
	cr_assert_not_null(strstr(s, "votre adresse bea@ph-sms.example ne "
	    "reçoit plus nos messages"), "%s", s);
	cr_assert_eq(strchr(s, '\n') - s + 1, (long)strlen(s), "one SMS: %s",
	    s);
	free(s);
	snprintf(want, sizeof want, "hard|prévenu le %s (SMS)", d);
	queue_is(db, 1, "primary", want);
	sql_is(db, "SELECT login_alert FROM accounts", "hard");
}

/*
 * A template that cannot be found is the configuration's fault, and
 * loud: check-config names it; a run that needs it exits 78 and says
 * which row waits; the warning is not lost, it leaves with the first
 * run after the template is back.
 */
Test(policy, missing_template_exits_78_and_the_warning_waits, .timeout = 60)
{
	const char *db = setup("tpl_gone", "(1, 'gus@tpl-gone.example', NULL, "
	    "'+33 6 00 00 00 09')");
	struct cfgopt o = { 0 };
	char dir[600], cmd[3000], args[800], *s;
	const char *cfg;
	int rc;

	snprintf(dir, sizeof dir, "%s/tpl_gone_templates", live_dir());
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/etc/templates' "
	    "'%s' && rm '%s/hard.sms'", dir, live_env("REBOND_SRCDIR"), dir,
	    dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	o.templates = dir;
	cfg = config("tpl_gone", db, &o);
	snprintf(args, sizeof args, "check-config -c %s", cfg);
	rc = live_rebond(args);
	cr_assert_eq(rc, 78, "check-config exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "hard.sms: No such file"), "%s",
	    live_err());

	bounce("tpl_gone", "gus@tpl-gone.example", HARD, time(NULL) - 60);
	rc = run(cfg);
	cr_assert_eq(rc, 78, "run exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "template=hard cannot be "
	    "written"), "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "notify: status=failed"), "%s",
	    live_err());
	/* The bounce itself is done; the SMS waits. */
	cr_assert_eq(live_count("tpl_gone", "Archive"), 1);
	sql_is(db, "SELECT primary_state FROM accounts", "hard");
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE channel = 'sms' "
	    "AND sent_at IS NULL AND failed_at IS NULL", "1");
	s = sms_log("tpl_gone");
	cr_assert_str_eq(s, "");
	free(s);

	snprintf(cmd, sizeof cmd, "cp '%s/etc/templates/hard.sms' '%s/'",
	    live_env("REBOND_SRCDIR"), dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	run_ok(cfg);
	s = sms_log("tpl_gone");
	cr_assert_eq(strncmp(s, "+33600000009|", 13), 0, "%s", s);
	free(s);
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE channel = 'sms' "
	    "AND sent_at IS NOT NULL", "1");
}

/*
 * A template saved in Latin-1 (or with a tab in its Subject line) is the
 * operator's file, not the user's fault: check-config names it, the run
 * exits 78, the warning waits (not "refused" for good), and leaves once
 * the file is fixed.
 */
Test(policy, template_not_utf8_waits_and_check_config_names_it,
    .timeout = 60)
{
	const char *db = setup("tpl_l1", "(1, 'hal@tpl-l1.example', "
	    "'hal@tpl-l1-work.example', NULL)");
	struct cfgopt o = { .no_sms = 1 };
	char dir[600], cmd[6000], args[800], *m;
	const char *cfg;
	int rc;

	snprintf(dir, sizeof dir, "%s/tpl_l1_templates", live_dir());
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/etc/templates' "
	    "'%s' && iconv -f UTF-8 -t ISO-8859-1 '%s/hard.email' "
	    ">'%s/hard.l1' && mv '%s/hard.l1' '%s/hard.email' && "
	    "sed -i '1s/^Subject: /Subject: \t/' '%s/quota.email'", dir,
	    live_env("REBOND_SRCDIR"), dir, dir, dir, dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	o.templates = dir;
	cfg = config("tpl_l1", db, &o);
	snprintf(args, sizeof args, "check-config -c %s", cfg);
	rc = live_rebond(args);
	cr_assert_eq(rc, 78, "check-config exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "hard.email: not UTF-8"), "%s",
	    live_err());
	cr_assert_not_null(strstr(live_err(), "quota.email: a tab in the "
	    "Subject line"), "%s", live_err());

	bounce("tpl_l1", "hal@tpl-l1.example", HARD, time(NULL) - 60);
	rc = run(cfg);
	cr_assert_eq(rc, 78, "run exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "template=hard cannot be "
	    "written"), "%s", live_err());
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE template = "
	    "'hard' AND sent_at IS NULL AND failed_at IS NULL", "1");
	cr_assert_eq(sink("hal@tpl-l1-work.example", NULL), 0);

	snprintf(cmd, sizeof cmd, "cp '%s/etc/templates/hard.email' '%s/'",
	    live_env("REBOND_SRCDIR"), dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	run_ok(cfg);
	cr_assert_eq(sink("hal@tpl-l1-work.example", &m), 1);
	free(m);
}

/* An SMS text over the limit (the template with its values) waits for a
 * shorter template (exit 78); it is not refused for good. */
Test(policy, sms_too_long_waits_for_a_shorter_template, .timeout = 60)
{
	const char *db = setup("sms_long", "(1, 'ivy@sms-long.example', "
	    "NULL, '+33600000012')");
	struct cfgopt o = { 0 };
	char dir[600], cmd[5000], *s;
	const char *cfg;
	int rc;

	snprintf(dir, sizeof dir, "%s/sms_long_templates", live_dir());
	snprintf(cmd, sizeof cmd, "rm -rf '%s' && cp -r '%s/etc/templates' "
	    "'%s' && { cat '%s/hard.sms'; printf '%%0450d' 0; } "
	    ">'%s/hard.long' && mv '%s/hard.long' '%s/hard.sms'", dir,
	    live_env("REBOND_SRCDIR"), dir, dir, dir, dir, dir);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	o.templates = dir;
	cfg = config("sms_long", db, &o);
	bounce("sms_long", "ivy@sms-long.example", HARD, time(NULL) - 60);
	rc = run(cfg);
	cr_assert_eq(rc, 78, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "shorten the template"), "%s",
	    live_err());
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE channel = 'sms' "
	    "AND sent_at IS NULL AND failed_at IS NULL", "1");
	s = sms_log("sms_long");
	cr_assert_str_eq(s, "");
	free(s);
}

Test(policy, primary_hard_with_no_channel, .timeout = 60)
{
	const char *db = setup("ph_none", "(1, 'cid@ph-none.example', NULL, "
	    "NULL), (2, 'dan@ph-none.example', NULL, '+33600000003')");
	char *mail;

	bounce("ph_none", "cid@ph-none.example", HARD, time(NULL) - 60);
	/* A phone but no SMS command is no channel either; the admins
	 * read that the phone exists and what is missing. */
	bounce("ph_none", "dan@ph-none.example", HARD, time(NULL) - 50);
	run_ok(config("ph_none", db, &(struct cfgopt){
	    .no_sms = 1 }));
	queue_is(db, 1, "primary", "hard|non prévenu : aucun autre moyen de le "
	    "joindre (autre adresse absente ou en erreur, pas de téléphone)");
	queue_is(db, 2, "primary", "hard|non prévenu : pas d'autre adresse qui "
	    "fonctionne ; un téléphone est connu, mais l'envoi de SMS n'est pas "
	    "configuré ([sms] command)");
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE channel IN "
	    "('email', 'sms')", "0");
	sql_is(db, "SELECT string_agg(login_alert, ',') FROM accounts",
	    "hard,hard");
	mail = digest("ph_none");
	cr_assert_not_null(strstr(mail, "non prévenu : aucun autre moyen"),
	    "%s", mail);
	free(mail);
}

Test(policy, secondary_hard_warned_on_the_primary, .timeout = 60)
{
	const char *db = setup("sh", "(1, 'eve@sh.example', "
	    "'eve@sh-work.example', '+33600000004')");
	char *mail, d[16], want[128];

	bounce("sh", "eve@sh-work.example", HARD, time(NULL) - 60);
	run_ok(config("sh", db, NULL));
	today(db, d, sizeof d);
	sql_is(db, "SELECT primary_state || ',' || secondary_state || ',' || "
	    "secondary_email || ',' || login_alert_address FROM accounts",
	    "ok,hard,eve@sh-work.example,eve@sh-work.example");
	cr_assert_eq(sink("eve@sh.example", &mail), 1);
	cr_assert_not_null(strstr(mail, "adresse professionnelle"), "%s", mail);
	free(mail);
	snprintf(want, sizeof want, "hard|prévenu le %s (email)", d);
	queue_is(db, 1, "secondary", want);
	sql_is(db, "SELECT action FROM rebond.admin_queue", "Corriger "
	    "l'adresse professionnelle ou vider le champ");
	/* The admin corrects the field: the secondary's problem and login
	 * alert go; the state starts ok. */
	live_sql(db, "UPDATE accounts SET secondary_email = "
	    "'eve@sh-new.example'");
	sql_is(db, "SELECT secondary_state || ',' || coalesce(login_alert, "
	    "'none') FROM accounts", "ok,none");
	queue_is(db, 1, "secondary", "none");
}

Test(policy, secondary_emptied_automatically, .timeout = 60)
{
	const char *db = setup("sh_clear", "(1, 'fay@sh-clear.example', "
	    "'fay@sh-clear-work.example', NULL)");
	char *mail;

	bounce("sh_clear", "fay@sh-clear-work.example", HARD, time(NULL) - 60);
	run_ok(config("sh_clear", db, &(struct cfgopt){
	    .policy = "clear_secondary_on_hard = yes" }));
	sql_is(db, "SELECT coalesce(secondary_email, 'NULL') || ',' || "
	    "secondary_state || ',' || coalesce(login_alert, 'none') "
	    "FROM accounts", "NULL,ok,none");
	cr_assert_eq(sink("fay@sh-clear.example", NULL), 1, "warned");
	/* Nothing left to do for the admins, but the digest tells them. */
	queue_is(db, 1, "secondary", "none");
	mail = digest("sh_clear");
	cr_assert_not_null(strstr(mail, "vidée automatiquement"), "%s", mail);
	free(mail);
}

/* Adding or changing the secondary never clears a problem on the primary. */
Test(policy, new_secondary_keeps_the_primary_problem, .timeout = 60)
{
	const char *db = setup("keep", "(1, 'gus@keep.example', NULL, "
	    "'+33600000005')");

	bounce("keep", "gus@keep.example", HARD, time(NULL) - 60);
	run_ok(config("keep", db, NULL));
	live_sql(db, "UPDATE accounts SET secondary_email = "
	    "'gus@keep-work.example'");
	live_sql(db, "UPDATE accounts SET secondary_email = "
	    "'gus2@keep-work.example'");
	sql_is(db, "SELECT primary_state || ',' || login_alert || ',' || "
	    "login_alert_address FROM accounts", "hard,hard,gus@keep.example");
	sql_is(db, "SELECT count(*) FROM rebond.admin_queue WHERE "
	    "role = 'primary' AND category = 'hard'", "1");
}

/*
 * Both addresses die. The warning mailed to the secondary reached nobody:
 * an SMS follows. The login alert stays on the primary when the
 * secondary is fixed, and goes to the secondary when the primary changes
 * while the secondary is still dead.
 */
Test(policy, both_addresses_dead, .timeout = 60)
{
	const char *db = setup("both", "(1, 'kim@both.example', "
	    "'kim@both-work.example', '+33600000011'), (2, 'lou@both.example', "
	    "'lou@both-work.example', NULL)");
	const char *cfg = config("both", db, NULL);
	char *s, d[16], want[128];

	bounce("both", "kim@both.example", HARD, time(NULL) - 180);
	bounce("both", "lou@both.example", HARD, time(NULL) - 180);
	run_ok(cfg);
	cr_assert_eq(sink("kim@both-work.example", NULL), 1);
	cr_assert_eq(sink("lou@both-work.example", NULL), 1);
	bounce("both", "kim@both-work.example", HARD, time(NULL) - 60);
	bounce("both", "lou@both-work.example", HARD, time(NULL) - 60);
	run_ok(cfg);
	today(db, d, sizeof d);
	s = sms_log("both");
	cr_assert_eq(strncmp(s, "+33600000011|", 13), 0, "an SMS: %s", s);
	cr_assert_eq(strchr(s, '\n') - s + 1, (long)strlen(s), "one SMS: %s",
	    s);
	free(s);
	snprintf(want, sizeof want, "hard|prévenu le %s (SMS)", d);
	queue_is(db, 1, "secondary", want);
	/* lou has no phone: nobody can be told any more */
	queue_is(db, 2, "secondary", "hard|non prévenu : aucun autre moyen "
	    "de le joindre (autre adresse absente ou en erreur, pas de "
	    "téléphone)");
	sql_is(db, "SELECT string_agg(primary_state || ',' || secondary_state "
	    "|| ',' || login_alert || ',' || login_alert_address, ' ' ORDER BY "
	    "id) FROM accounts", "hard,hard,hard,kim@both.example "
	    "hard,hard,hard,lou@both.example");
	/* lou's secondary fixed: the primary's alert stands */
	live_sql(db, "UPDATE accounts SET secondary_email = "
	    "'lou@both-new.example' WHERE id = 2");
	sql_is(db, "SELECT login_alert || ',' || login_alert_address FROM "
	    "accounts WHERE id = 2", "hard,lou@both.example");
	/* kim's primary changed: the alert goes to the dead secondary,
	 * then nothing is left once that is fixed too */
	live_sql(db, "UPDATE accounts SET primary_email = "
	    "'kim@both-new.example' WHERE id = 1");
	sql_is(db, "SELECT primary_state || ',' || login_alert || ',' || "
	    "login_alert_address FROM accounts WHERE id = 1",
	    "ok,hard,kim@both-work.example");
	live_sql(db, "UPDATE accounts SET secondary_email = NULL WHERE id = 1");
	sql_is(db, "SELECT coalesce(login_alert, 'none') || ',' || "
	    "coalesce(login_alert_address, 'none') FROM accounts WHERE id = 1",
	    "none,none");
}

Test(policy, quota_spf_spam, .timeout = 60)
{
	const char *db = setup("qss", "(1, 'hal@qss-q.example', "
	    "'hal@qss-work.example', NULL), (2, 'ida@qss-f.example', "
	    "'ida@qss-work.example', NULL), (3, 'jon@qss-s.example', "
	    "'jon@qss-work.example', NULL)");
	char *m;

	bounce("qss", "hal@qss-q.example", QUOTA, time(NULL) - 60);
	bounce("qss", "ida@qss-f.example", SPF, time(NULL) - 60);
	bounce("qss", "jon@qss-s.example", SPAM, time(NULL) - 60);
	run_ok(config("qss", db, NULL));
	sql_is(db, "SELECT string_agg(primary_state || ':' || "
	    "coalesce(login_alert, '-'), ',' ORDER BY id) FROM accounts",
	    "quota:-,spf:-,spam:spam");
	cr_assert_eq(sink("hal@qss-work.example", &m), 1);
	cr_assert_not_null(strstr(m, "Libérez de la place"), "%s", m);
	free(m);
	cr_assert_eq(sink("ida@qss-work.example", &m), 1);
	cr_assert_not_null(strstr(m, "adresse réelle"), "%s", m);
	free(m);
	cr_assert_eq(sink("jon@qss-work.example", &m), 1);
	cr_assert_not_null(strstr(m, "marquez nos messages comme légitimes"),
	    "%s", m);
	free(m);
	sql_is(db, "SELECT string_agg(category, ',' ORDER BY account_id) FROM "
	    "rebond.admin_queue", "quota,spf,spam");
}

Test(policy, complaint_is_for_admins_only, .timeout = 60)
{
	const char *db = setup("cpl", "(1, 'erin@example.net', "
	    "'erin@cpl-work.example', '+33600000006')");
	char path[600], *s;

	snprintf(path, sizeof path, "%s/tests/fixtures/complaint-arf.eml",
	    live_env("REBOND_SRCDIR"));
	live_deliver_file("cpl", "INBOX", path);
	run_ok(config("cpl", db, NULL));
	sql_is(db, "SELECT primary_state || ',' || coalesce(login_alert, "
	    "'none') FROM accounts", "complaint,none");
	cr_assert_eq(sink("erin@cpl-work.example", NULL), 0, "no mail");
	s = sms_log("cpl");
	cr_assert_str_eq(s, "", "no SMS");
	free(s);
	queue_is(db, 1, "primary", "complaint|non prévenu : il a signalé nos "
	    "mails comme spam : on ne lui écrit pas");
}

/* Many blocked bounces: counted per remote domain, one alert mail. */
Test(policy, blocked_one_operator_alert, .timeout = 60)
{
	const char *db = setup("blk", "(1, 'lea@blk-remote.example', NULL, "
	    "'+33600000007')");
	const char *cfg = config("blk", db, NULL);
	char *m;
	int i;

	for (i = 0; i < 4; i++) {
		char rcpt[64];

		snprintf(rcpt, sizeof rcpt, "%s@blk-remote.example",
		    i == 0 ? "lea" : i == 1 ? "max" : i == 2 ? "ned" : "oli");
		bounce("blk", rcpt, BLOCKED, time(NULL) - 60 + i);
	}
	run_ok(cfg);
	sql_is(db, "SELECT remote || ',' || count || ',' || remote_mta FROM "
	    "rebond.ops_alerts", "blk-remote.example,4,mx.blk-remote.example");
	cr_assert_eq(sink("ops-blk@platform.example", &m), 1);
	cr_assert_not_null(strstr(m, "rejets comptés : 4"), "%s", m);
	cr_assert_not_null(strstr(m, "blocked using zen.spamhaus.org"), "%s",
	    m);
	free(m);
	/* No user flag, no admin queue. */
	sql_is(db, "SELECT primary_state FROM accounts", "ok");
	sql_is(db, "SELECT count(*) FROM rebond.problems", "0");
	cr_assert_eq(sink("admins-blk@platform.example", NULL), 0,
	    "no digest without a problem");
	/* More of them in the next run: counted, no second alert. */
	bounce("blk", "pia@blk-remote.example", BLOCKED, time(NULL) - 10);
	bounce("blk", "quy@blk-remote.example", BLOCKED, time(NULL) - 5);
	run_ok(cfg);
	sql_is(db, "SELECT count FROM rebond.ops_alerts", "6");
	cr_assert_eq(sink("ops-blk@platform.example", NULL), 1);
}

/*
 * Two mailboxes' runs see the same remote blocked at once: one operator
 * alert. A connection plays the other run's batch: it holds the remote's
 * lock (as a batch does, poller/store.c), has recorded the remote and
 * queued its alert, uncommitted. The run waits for it, then sees the
 * alert, and queues none (without the lock it read no row, and alerted
 * too).
 */
Test(policy, blocked_in_two_mailboxes_at_once_one_alert, .timeout = 60)
{
	const char *db = setup("blk_race", "(1, 'ray@blk-race.example', NULL, "
	    "NULL)");
	const char *cfg = config("blk_race", db, NULL);
	int st;

	bounce("blk_race", "ray@blk-race.example", BLOCKED, time(NULL) - 60);
	st = run_behind(db, cfg, "BEGIN; SELECT pg_advisory_xact_lock("
	    "1919246962, hashtext('blk-race.example')); INSERT INTO "
	    "rebond.ops_alerts (remote, first_seen, last_seen, count, "
	    "notified_at) VALUES ('blk-race.example', now(), now(), 1, now()); "
	    "INSERT INTO rebond.outbox (channel, destination, template, ref, "
	    "sent_at) VALUES ('ops', 'ops-blk_race@platform.example', "
	    "'ops_alert', 'ops:other-mailbox:0', now())", "%",
	    "the other batch");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	sql_is(db, "SELECT count FROM rebond.ops_alerts", "2");
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE channel = 'ops'",
	    "1");
	cr_assert_eq(live_count("blk_race", "Archive"), 1);
}

/* Transient failures: once a day, within the window, up to the limit. */
Test(policy, transient_below_and_above_the_limit, .timeout = 60)
{
	const char *db = setup("tr", "(1, 'rob@tr.example', "
	    "'rob@tr-work.example', '+33600000008')");
	const char *cfg = config("tr", db, &(struct cfgopt){
	    .policy = "soft_limit = 3\nsoft_window_days = 10" });
	time_t now = time(NULL);
	char *s;

	/* Two days in the window (one of them twice), one long ago. */
	bounce("tr", "rob@tr.example", TRANSIENT, now - 2 * DAY);
	bounce("tr", "rob@tr.example", TRANSIENT, now - 2 * DAY + 60);
	bounce("tr", "rob@tr.example", TRANSIENT, now - 1 * DAY);
	bounce("tr", "rob@tr.example", TRANSIENT, now - 40 * DAY);
	run_ok(cfg);
	sql_is(db, "SELECT primary_state FROM accounts", "ok");
	sql_is(db, "SELECT count(*) FROM rebond.events WHERE category = "
	    "'transient'", "4");
	queue_is(db, 1, "primary", "none");
	/* Another failure, the same day as one already counted: below. */
	bounce("tr", "rob@tr.example", TRANSIENT, now - 1 * DAY + 30);
	run_ok(cfg);
	sql_is(db, "SELECT primary_state FROM accounts", "ok");
	/* A third day: soft, and the admins see it. Nobody is warned. */
	bounce("tr", "rob@tr.example", TRANSIENT, now - 60);
	run_ok(cfg);
	sql_is(db, "SELECT primary_state FROM accounts", "soft");
	queue_is(db, 1, "primary", "soft|non prévenu : échecs temporaires : "
	    "pas d'avertissement prévu");
	cr_assert_eq(sink("rob@tr-work.example", NULL), 0);
	s = sms_log("tr");
	cr_assert_str_eq(s, "");
	free(s);
}

/* The soft score decays: a soft address with no transient failure for
 * soft_window_days is ok again, and its problem leaves the queue. */
Test(policy, soft_score_decays, .timeout = 60)
{
	const char *db = setup("decay", "(1, 'sue@decay.example', NULL, "
	    "NULL), (2, 'tom@decay.example', NULL, NULL)");
	const char *cfg = config("decay", db, &(struct cfgopt){
	    .policy = "soft_limit = 2\nsoft_window_days = 10" });
	time_t now = time(NULL);

	/* Two days of failures each: both soft. */
	bounce("decay", "sue@decay.example", TRANSIENT, now - 2 * DAY);
	bounce("decay", "sue@decay.example", TRANSIENT, now - 1 * DAY);
	bounce("decay", "tom@decay.example", TRANSIENT, now - 2 * DAY);
	bounce("decay", "tom@decay.example", TRANSIENT, now - 1 * DAY);
	run_ok(cfg);
	sql_is(db, "SELECT string_agg(primary_state, ',' ORDER BY id) FROM "
	    "accounts", "soft,soft");
	/* Time passes for sue: her failures are now older than the
	 * window; tom's are not. */
	live_sql(db, "UPDATE rebond.events SET occurred_at = occurred_at - "
	    "interval '20 days' WHERE recipient = 'sue@decay.example'");
	run_ok(cfg);
	sql_is(db, "SELECT string_agg(primary_state || ':' || "
	    "coalesce(primary_state_since::text, '-'), ',' ORDER BY id) "
	    "FROM accounts WHERE id = 1", "ok:-");
	sql_is(db, "SELECT primary_state FROM accounts WHERE id = 2", "soft");
	queue_is(db, 1, "primary", "none");
	sql_is(db, "SELECT resolution FROM rebond.problems WHERE "
	    "account_id = 1", "soft_decayed");
	queue_is(db, 2, "primary", "soft|non prévenu : échecs temporaires : "
	    "pas d'avertissement prévu");
}

/*
 * A run of another mailbox holds the account (its batch locks it), records
 * a fresh transient failure and commits while this run's decay waits for
 * that account: the decay must see the failure and leave the address
 * soft (it used to miss it: its snapshot predated the commit).
 */
Test(policy, decay_waits_for_a_batch_and_sees_its_failure, .timeout = 60)
{
	const char *db = setup("decay_race", "(1, 'amy@race.example', NULL, "
	    "NULL)");
	const char *cfg = config("decay_race", db, &(struct cfgopt){
	    .policy = "soft_limit = 2\nsoft_window_days = 10" });
	int st;

	/* Soft, from failures now out of the window: due to decay. */
	live_sql(db, "UPDATE accounts SET primary_state = 'soft', "
	    "primary_state_since = now() - interval '20 days' WHERE id = 1");
	live_sql(db, "INSERT INTO rebond.events (occurred_at, mailbox, "
	    "uidvalidity, uid, digest, rcpt_index, recipient, account_id, "
	    "role, reason, category, rule) VALUES (now() - interval "
	    "'20 days', 'INBOX', 1, 1, 'old', 0, 'amy@race.example', 1, "
	    "'primary', 'expired', 'transient', 'test')");
	/* The other mailbox's batch, still open; the run waits for that
	 * account's lock. */
	st = run_behind(db, cfg, "BEGIN; SELECT id FROM accounts WHERE id = 1 "
	    "FOR UPDATE; INSERT INTO rebond.events (occurred_at, mailbox, "
	    "uidvalidity, uid, digest, rcpt_index, recipient, account_id, "
	    "role, reason, category, rule) VALUES (now(), 'Other', 1, 1, "
	    "'fresh', 0, 'amy@race.example', 1, 'primary', 'expired', "
	    "'transient', 'test'); UPDATE accounts SET primary_state_since "
	    "= now() WHERE id = 1", "%decay_soft%", "the account");
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	sql_is(db, "SELECT primary_state FROM accounts WHERE id = 1", "soft");
}

/* A new invitation clears the primary's alert, not a dead secondary's. */
Test(policy, reinvite_keeps_the_alert_of_a_dead_secondary, .timeout = 60)
{
	const char *db = setup("reinv_alert", "(1, 'ida@reinv.example', "
	    "'ida@reinv-work.example', NULL), (2, 'joe@reinv.example', "
	    "NULL, NULL)");

	live_sql(db, "UPDATE accounts SET primary_state = 'hard', "
	    "secondary_state = 'hard', login_alert = 'hard', "
	    "login_alert_address = primary_email WHERE id = 1");
	live_sql(db, "UPDATE accounts SET primary_state = 'hard', "
	    "login_alert = 'hard', login_alert_address = primary_email "
	    "WHERE id = 2");
	live_sql(db, "SELECT rebond.reinvite(1, 'ida@reinv-new.example')");
	live_sql(db, "SELECT rebond.reinvite(2, 'joe@reinv-new.example')");
	sql_is(db, "SELECT string_agg(id || ':' || primary_state || ',' || "
	    "secondary_state || ',' || coalesce(login_alert || '@' || "
	    "login_alert_address, 'none'), ' ' ORDER BY id) FROM accounts",
	    "1:ok,hard,hard@ida@reinv-work.example 2:ok,ok,none");
}

/* The validation mail of a new primary bounced. */
/*
 * One address key in C and in SQL (sql/009): a stored address with a tab
 * around it, or a non-ASCII capital, is the account of the bounce that
 * names it (with lower(btrim()) in SQL both went to review: btrim took
 * spaces only, lower() folded É by the database's locale and C does
 * not); the lookup uses the key's index; and the platform's role, with
 * no right on the rebond schema, still changes an address (the trigger
 * that compares keys runs with its definer's rights).
 */
Test(policy, addresses_match_by_one_key, .timeout = 60)
{
	const char *db = setup("addr_key", "(1, E' Ann@AK-One.example\\t', "
	    "'ann.pro@ak-work.example', NULL), "
	    "(2, 'ÉLODIE@ak-two.example', 'elodie.pro@ak-work.example', NULL)");
	const char *cfg = config("addr_key", db, NULL);
	char *plan;

	/* SQL's key is C's (test_strutil address_keys). */
	sql_is(db, "SELECT rebond.addr_key(E' \\t\\r\\n\\x0b\\fAnn@Example.ORG "
	    "\\t') || '|' || rebond.addr_key('ÉLODIE@Exemple.fr') || '|' || "
	    "rebond.addr_key('a b@x.example')",
	    "ann@example.org|Élodie@exemple.fr|a b@x.example");
	bounce("addr_key", "ann@ak-one.example", HARD, time(NULL) - 60);
	bounce("addr_key", "ÉLodie@ak-two.example", HARD, time(NULL) - 60);
	run_ok(cfg);
	cr_assert_eq(live_count("addr_key", "Archive"), 2);
	cr_assert_eq(live_count("addr_key", "Review"), 0);
	sql_is(db, "SELECT string_agg(id || ':' || primary_state || ',' || "
	    "coalesce(login_alert, '-'), ' ' ORDER BY id) FROM accounts",
	    "1:hard,hard 2:hard,hard");
	sql_is(db, "SELECT string_agg(recipient || '=' || account_id, ' ' "
	    "ORDER BY account_id) FROM rebond.events",
	    "ann@ak-one.example=1 Élodie@ak-two.example=2");
	cr_assert_eq(sink("ann.pro@ak-work.example", NULL), 1);
	cr_assert_eq(sink("elodie.pro@ak-work.example", NULL), 1);

	/* The lookup finds an address by its key's index. */
	plan = live_sql_str(db, "SET enable_seqscan = off; SET "
	    "enable_bitmapscan = off; EXPLAIN SELECT id FROM accounts WHERE "
	    "rebond.addr_key(primary_email) = ANY(ARRAY['ann@ak-one.example'])");
	cr_assert_not_null(strstr(plan, "accounts_primary_email_key_idx"),
	    "%s", plan);
	free(plan);

	/* The platform's role: UPDATE on accounts, nothing of rebond's. */
	live_sql(db, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE "
	    "rolname = 'addr_key_platform') THEN CREATE ROLE "
	    "addr_key_platform; END IF; END $$");
	live_sql(db, "GRANT SELECT, UPDATE ON accounts TO addr_key_platform");
	live_sql(db, "SET ROLE addr_key_platform; UPDATE accounts SET "
	    "primary_email = 'ann@ak-new.example' WHERE id = 1; RESET ROLE");
	sql_is(db, "SELECT primary_state || ',' || coalesce(login_alert, '-') "
	    "FROM accounts WHERE id = 1", "ok,-");
	/* A change of blanks or ASCII case is no change. */
	live_sql(db, "SET ROLE addr_key_platform; UPDATE accounts SET "
	    "primary_email = E'\\tÉlodie@AK-two.example ' WHERE id = 2; "
	    "RESET ROLE");
	sql_is(db, "SELECT primary_state || ',' || coalesce(login_alert, '-') "
	    "FROM accounts WHERE id = 2", "hard,hard");
}

/*
 * A forward or an alias: the DSN's Final-Recipient (or the notice's
 * failed address) is not the address the platform mailed, which comes in
 * Original-Recipient (or "(expanded from: ...)"). The account is found
 * by the address mailed.
 */
Test(policy, forwarded_address_found_by_the_address_mailed, .timeout = 60)
{
	const char *db = setup("fwd", "(1, 'olga@fwd-one.example', NULL, "
	    "NULL), (2, 'paul@fwd-two.example', NULL, NULL)");
	const char *cfg = config("fwd", db, NULL);
	char *m = dsn_at("olga.smith@mail.fwd-isp.example", HARD,
	    time(NULL) - 60), *o;
	static const char notice[] =
	    "Return-Path: <>\r\n"
	    "From: Mail Delivery Subsystem <MAILER-DAEMON@fwd-two.example>\r\n"
	    "To: bounces@platform.example\r\n"
	    "Subject: Returned mail: see transcript for details\r\n"
	    "Message-ID: <fwd-notice@fwd-two.example>\r\n"
	    "\r\n"
	    "   ----- The following addresses had permanent fatal errors "
	    "-----\r\n"
	    "paul.p@inbox.fwd-isp.example\r\n"
	    "    (expanded from: paul@fwd-two.example)\r\n"
	    "\r\n"
	    "   ----- Transcript of session follows -----\r\n"
	    "... while talking to inbox.fwd-isp.example.:\r\n"
	    ">>> RCPT To:<paul.p@inbox.fwd-isp.example>\r\n"
	    "<<< 550 5.1.1 <paul.p@inbox.fwd-isp.example>... User unknown\r\n"
	    "550 5.1.1 paul.p@inbox.fwd-isp.example... User unknown\r\n";

	/* The DSN names the forward; Original-Recipient the address. */
	o = strstr(m, "Action: ");
	cr_assert_not_null(o);
	cr_assert(asprintf(&o, "%.*sOriginal-Recipient: rfc822; "
	    "Olga@fwd-one.example\r\n%s", (int)(o - m), m, o) > 0);
	live_deliver("fwd", "INBOX", o, strlen(o));
	live_deliver("fwd", "INBOX", notice, sizeof notice - 1);
	free(o);
	free(m);
	run_ok(cfg);
	cr_assert_eq(live_count("fwd", "Archive"), 2);
	cr_assert_eq(live_count("fwd", "Review"), 0);
	sql_is(db, "SELECT string_agg(id || ':' || primary_state, ' ' "
	    "ORDER BY id) FROM accounts", "1:hard 2:hard");
	sql_is(db, "SELECT string_agg(recipient || '=' || account_id, ' ' "
	    "ORDER BY account_id) FROM rebond.events",
	    "olga.smith@mail.fwd-isp.example=1 "
	    "paul.p@inbox.fwd-isp.example=2");
}

Test(policy, bounced_validation_mail, .timeout = 60)
{
	const char *db = setup("val", "(1, 'sam@val.example', NULL, NULL)");
	const char *cfg = config("val", db, NULL);
	char *m;

	free(live_sql_str(db, "SELECT rebond.change_primary_email(1, "
	    "'sam@val-new.example')"));
	run_ok(cfg);
	cr_assert_eq(sink("sam@val-new.example", &m), 1, "validation mail");
	cr_assert_not_null(strstr(m, "https://platform.example/valider?jeton="),
	    "%s", m);
	free(m);
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE params ? 'token'",
	    "0");
	bounce("val", "sam@val-new.example", HARD, time(NULL) - 30);
	run_ok(cfg);
	sql_is(db, "SELECT primary_email || ',' || primary_state || ',' || "
	    "coalesce(pending_email, 'NULL') || ',' || coalesce("
	    "pending_deadline::text, 'NULL') FROM accounts",
	    "sam@val.example,ok,NULL,NULL");
	sql_is(db, "SELECT status FROM rebond.email_changes", "bounced");
	queue_is(db, 1, "pending", "hard|non prévenu : c'est la nouvelle "
	    "adresse à valider qui ne reçoit pas nos mails");
	sql_is(db, "SELECT address FROM rebond.admin_queue",
	    "sam@val-new.example");
}

Test(policy, change_confirm_and_expire_a_primary, .timeout = 60)
{
	const char *db = setup("chg", "(1, 'tom@chg.example', NULL, "
	    "'+33600000009'), (2, 'uma@chg.example', NULL, NULL)");
	const char *cfg = config("chg", db, NULL);
	char *token, sql[300];

	/* Account 1: hard, then a new address, confirmed. */
	bounce("chg", "tom@chg.example", HARD, time(NULL) - 60);
	run_ok(cfg);
	sql_is(db, "SELECT login_alert FROM accounts WHERE id = 1", "hard");
	token = live_sql_str(db, "SELECT rebond.change_primary_email(1, "
	    "'tom@chg-new.example')");
	cr_assert_eq(strlen(token), 64);
	sql_is(db, "SELECT pending_email || ',' || (pending_deadline > now() + "
	    "interval '13 days') FROM accounts WHERE id = 1",
	    "tom@chg-new.example,true");
	/* The queue's row says who it is and what is under way. */
	sql_is(db, "SELECT login || ',' || phone || ',' || status || ',' || "
	    "pending_email || ',' || (pending_deadline > now()) FROM "
	    "rebond.admin_queue WHERE account_id = 1",
	    "tom@chg.example,+33600000009,active,tom@chg-new.example,true");
	sql_is(db, "SELECT rebond.confirm_primary_email('not-a-token')::text",
	    "false");
	snprintf(sql, sizeof sql, "SELECT rebond.confirm_primary_email('%s')"
	    "::text", token);
	sql_is(db, sql, "true");
	sql_is(db, sql, "false");	/* used */
	free(token);
	sql_is(db, "SELECT primary_email || ',' || primary_state || ',' || "
	    "coalesce(login_alert, 'none') || ',' || coalesce(pending_email, "
	    "'NULL') FROM accounts WHERE id = 1",
	    "tom@chg-new.example,ok,none,NULL");
	queue_is(db, 1, "primary", "none");
	/* Account 2: a change nobody validates in time. */
	free(live_sql_str(db, "SELECT rebond.change_primary_email(2, "
	    "'uma@chg-new.example', '1 second')"));
	sleep(2);
	run_ok(cfg);
	sql_is(db, "SELECT primary_email || ',' || coalesce(pending_email, "
	    "'NULL') FROM accounts WHERE id = 2", "uma@chg.example,NULL");
	sql_is(db, "SELECT status FROM rebond.email_changes WHERE "
	    "account_id = 2", "expired");
	queue_is(db, 2, "pending", "validation_expired|non prévenu : délai "
	    "dépassé");
	cr_assert_not_null(strstr(live_err(), "expired_validations=1"), "%s",
	    live_err());
}

/*
 * The platform's own CHECK on accounts.status refuses what expiry writes:
 * that error is loud (exit 75, the constraint named) but the warnings of
 * the run still leave.
 */
Test(policy, failed_expiry_does_not_stop_the_notifications, .timeout = 60)
{
	const char *db = setup("upk", "(1, 'abe@upk.example', NULL, "
	    "'+33 6 00 00 00 11'), (2, 'bea@upk.example', NULL, NULL)");
	const char *cfg = config("upk", db, NULL);
	char *s;
	int rc;

	live_sql(db, "SELECT rebond.reinvite(2, 'bea@upk-new.example', "
	    "'1 second')");
	live_sql(db, "ALTER TABLE accounts ADD CONSTRAINT upk_status CHECK "
	    "(status IN ('active', 'invited', 'unsubscribed'))");
	sleep(2);
	bounce("upk", "abe@upk.example", HARD, time(NULL) - 60);
	rc = run(cfg);
	cr_assert_eq(rc, 75, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "upk_status"), "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "the notifications went"), "%s",
	    live_err());
	s = sms_log("upk");
	cr_assert_eq(strncmp(s, "+33600000011|", 13), 0, "no SMS: %s", s);
	free(s);
	cr_assert_eq(sink("bea@upk-new.example", NULL), 1, "invitation");
	sql_is(db, "SELECT status FROM accounts WHERE id = 2", "invited");
}

/*
 * An admin whose session runs in another time zone (Tokyo for Paris)
 * changes an address: the validation mail gives the deadline's date in
 * the database's zone, as every other date rebond writes. The zone is
 * picked so that its date differs from the database's right now.
 */
Test(policy, deadline_date_in_the_databases_zone, .timeout = 60)
{
	const char *db = setup("dlz", "(1, 'kay@dlz.example', NULL, NULL)");
	const char *cfg = config("dlz", db, NULL);
	char sql[300], want[64], *d, *m;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	snprintf(sql, sizeof sql, "SET TimeZone = '%s'; SELECT "
	    "rebond.change_primary_email(1, 'kay@dlz-new.example')",
	    tm.tm_hour >= 10 ? "Etc/GMT-14" : "Etc/GMT+12");
	free(live_sql_str(db, sql));
	d = live_sql_str(db, "SELECT to_char(pending_deadline, 'DD/MM/YYYY') "
	    "FROM accounts WHERE id = 1");
	run_ok(cfg);
	cr_assert_eq(sink("kay@dlz-new.example", &m), 1);
	snprintf(want, sizeof want, "avant le %s", d);
	cr_assert_not_null(strstr(m, want), "want \"%s\" in: %s", want, m);
	free(m);
	free(d);
}

Test(policy, reinvite_and_its_expiry, .timeout = 60)
{
	const char *db = setup("inv", "(1, 'val@inv.example', NULL, NULL), "
	    "(2, 'wes@inv.example', NULL, NULL)");
	const char *cfg = config("inv", db, NULL);
	char *m;

	/* Account 1: unsubscribed, then invited again at a new address. */
	live_sql(db, "SELECT rebond.unsubscribe(1)");
	live_sql(db, "SELECT rebond.reinvite(1, 'val@inv-new.example')");
	sql_is(db, "SELECT status || ',' || primary_email || ',' || "
	    "(invitation_expires_at > now() + interval '89 days') FROM "
	    "accounts WHERE id = 1", "invited,val@inv-new.example,true");
	/* Account 2: invited for one second only. */
	live_sql(db, "SELECT rebond.reinvite(2, 'wes@inv-new.example', "
	    "'1 second')");
	run_ok(cfg);
	cr_assert_eq(sink("val@inv-new.example", &m), 1, "invitation mail");
	cr_assert_not_null(strstr(m, "invité à rejoindre la plateforme avec "
	    "l'adresse val@inv-new.example"), "%s", m);
	free(m);
	sleep(2);
	run_ok(cfg);
	sql_is(db, "SELECT string_agg(status, ',' ORDER BY id) FROM accounts",
	    "invited,invitation_expired");
	queue_is(db, 2, "invitation", "invitation_expired|non prévenu : délai "
	    "dépassé");
	/* The invitation of account 1 bounces: admins only. */
	bounce("inv", "val@inv-new.example", HARD, time(NULL) - 5);
	run_ok(cfg);
	queue_is(db, 1, "invitation", "hard|non prévenu : c'est l'adresse de "
	    "l'invitation qui ne reçoit pas nos mails");
	sql_is(db, "SELECT coalesce(login_alert, 'none') FROM accounts "
	    "WHERE id = 1", "none");
}

/* A pending change or an invitation the platform wrote itself, without
 * a deadline, gets one from [policy] validation_days / invitation_days. */
Test(policy, deadlines_from_the_configuration, .timeout = 60)
{
	const char *db = setup("dl", "(1, 'kim@dl.example', NULL, NULL), "
	    "(2, 'lou@dl.example', NULL, NULL)");
	struct cfgopt o = { .policy = "validation_days = 3\n"
	    "invitation_days = 30" };
	const char *cfg = config("dl", db, &o);

	live_sql(db, "UPDATE accounts SET pending_email = 'kim@dl-new.example' "
	    "WHERE id = 1");
	live_sql(db, "UPDATE accounts SET status = 'invited' WHERE id = 2");
	run_ok(cfg);
	sql_is(db, "SELECT pending_deadline BETWEEN now() + interval '2 days 23 "
	    "hours' AND now() + interval '3 days' FROM accounts WHERE id = 1",
	    "t");
	sql_is(db, "SELECT invitation_expires_at BETWEEN now() + interval '29 "
	    "days 23 hours' AND now() + interval '30 days' FROM accounts "
	    "WHERE id = 2", "t");
	/* Past the deadline: expired, for the admins. */
	live_sql(db, "UPDATE accounts SET pending_deadline = now() - interval "
	    "'1 hour', invitation_expires_at = now() - interval '1 hour'");
	run_ok(cfg);
	sql_is(db, "SELECT coalesce(pending_email, '-') || ',' || status FROM "
	    "accounts ORDER BY id LIMIT 1", "-,active");
	sql_is(db, "SELECT status FROM accounts WHERE id = 2",
	    "invitation_expired");
	queue_is(db, 2, "invitation", "invitation_expired|non prévenu : délai "
	    "dépassé");
}

/* A second run, the same bounce again, another bounce of the same kind
 * within renotify_days while the warning still reaches the user (an SMS):
 * never a second warning or digest line. */
Test(policy, no_duplicate_warnings, .timeout = 60)
{
	const char *db = setup("dup", "(1, 'xia@dup.example', "
	    "'xia@dup-work.example', '+33600000010')");
	const char *cfg = config("dup", db, NULL);
	char *m = dsn_at("xia@dup.example", HARD, time(NULL) - 60), *s;

	/* The secondary has a problem already: the warning is an SMS. */
	live_sql(db, "UPDATE accounts SET secondary_state = 'quota'");
	live_deliver("dup", "INBOX", m, strlen(m));
	run_ok(cfg);
	run_ok(cfg);
	/* The same bytes again (e.g. restored): recognised, not applied. */
	live_deliver("dup", "INBOX", m, strlen(m));
	free(m);
	run_ok(cfg);
	cr_assert_not_null(strstr(live_err(), "already=1"), "%s", live_err());
	/* A new hard bounce of the secondary, within renotify_days. */
	bounce("dup", "xia@dup-work.example", HARD, time(NULL) - 30);
	run_ok(cfg);
	cr_assert_eq(sink("xia@dup-work.example", NULL), 0, "no mail");
	s = sms_log("dup");
	cr_assert_eq(strncmp(s, "+33600000010|", 13), 0, "an SMS: %s", s);
	cr_assert_eq(strchr(s, '\n') - s + 1, (long)strlen(s), "one SMS: %s",
	    s);
	free(s);
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE channel IN "
	    "('email', 'sms')", "1");
	/* The secondary's problem points at the one warning. */
	sql_is(db, "SELECT count(DISTINCT warning_id) FROM rebond.problems",
	    "1");
	sql_is(db, "SELECT count(*) FROM rebond.admin_queue WHERE notified "
	    "LIKE 'prévenu le %'", "2");
	/* Two digests: the first problem, then the second; never twice. */
	sql_is(db, "SELECT count(*) FROM rebond.outbox WHERE channel = "
	    "'admin'", "2");
	cr_assert_eq(sink("admins-dup@platform.example", NULL), 2);
	sql_is(db, "SELECT count(*) FROM rebond.problems WHERE digest_id IS "
	    "NULL", "0");
}

/* The relay is down: the bounces are processed and moved all the same;
 * the warning waits, and leaves at the next run. */
Test(policy, relay_down_does_not_block_bounces, .timeout = 60)
{
	const char *db = setup("down", "(1, 'yan@down.example', "
	    "'yan@down-work.example', NULL)");
	int rc;

	bounce("down", "yan@down.example", HARD, time(NULL) - 60);
	/* Port 9 (discard) on loopback: nothing listens there. */
	rc = run(config("down", db, &(struct cfgopt){ .smtp_port = "9" }));
	cr_assert_eq(rc, 75, "exit %d: %s", rc, live_err());
	cr_assert_eq(live_count("down", "INBOX"), 0);
	cr_assert_eq(live_count("down", "Archive"), 1);
	sql_is(db, "SELECT primary_state FROM accounts", "hard");
	sql_is(db, "SELECT attempts || ',' || (sent_at IS NULL) || ',' || "
	    "last_error FROM rebond.outbox", "1,true,relais SMTP injoignable");
	queue_is(db, 1, "primary", "hard|non prévenu : envoi en attente (1 "
	    "essai(s), dernière erreur : relais SMTP injoignable)");
	/* The relay is back. */
	run_ok(config("down", db, NULL));
	cr_assert_eq(sink("yan@down-work.example", NULL), 1);
	sql_is(db, "SELECT attempts || ',' || (sent_at IS NOT NULL) FROM "
	    "rebond.outbox WHERE channel = 'email'", "2,true");
	cr_assert_eq(sink("admins-down@platform.example", NULL), 1);
}

/* STARTTLS with the certificate checked before anything is sent: a CA
 * that did not sign it, a host name it does not carry and a pin it does
 * not match are each refused; nothing goes out in clear. */
Test(policy, starttls_relay_verified, .timeout = 60)
{
	const char *db = setup("tls", "(1, 'zoe@tls.example', "
	    "'zoe@tls-work.example', NULL)");
	struct cfgopt wrong_ca = { .smtp_port =
	    live_env("REBOND_TEST_SMTPTLS_PORT"), .tls = "starttls",
	    .host = "localhost", .ca = live_env("REBOND_TEST_OTHER_CA") };
	struct cfgopt no_starttls = { .tls = "starttls", .host = "localhost" };
	struct cfgopt wrong_host = { .smtp_port =
	    live_env("REBOND_TEST_SMTPTLS_PORT"), .tls = "starttls",
	    .host = "127.0.0.1" };
	char pin[80], first;
	struct cfgopt pinned = { .smtp_port =
	    live_env("REBOND_TEST_SMTPTLS_PORT"), .tls = "starttls",
	    .host = "localhost", .pin = pin };
	int rc;

	bounce("tls", "zoe@tls.example", HARD, time(NULL) - 60);
	rc = run(config("tls", db, &wrong_ca));
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "certificate refused"), "%s",
	    live_err());
	cr_assert_eq(live_count("tls", "Archive"), 1, "bounce processed");
	/* The plain sink offers no STARTTLS: never sent in clear. */
	rc = run(config("tls", db, &no_starttls));
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "does not offer STARTTLS"), "%s",
	    live_err());
	cr_assert_eq(sink("zoe@tls-work.example", NULL), 0);
	/* The certificate names "localhost" only. */
	rc = run(config("tls", db, &wrong_host));
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "does not match"), "%s",
	    live_err());
	/* A pin one digit off: refused, though the chain verifies. */
	live_server_pin(pin, sizeof pin);
	first = pin[0];
	pin[0] = first == '0' ? '1' : '0';
	rc = run(config("tls", db, &pinned));
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "does not match the pinned one"),
	    "%s", live_err());
	cr_assert_eq(sink("zoe@tls-work.example", NULL), 0);
	pin[0] = first;
	run_ok(config("tls", db, &pinned));
	cr_assert_eq(sink("zoe@tls-work.example", NULL), 1);
	sql_is(db, "SELECT attempts || ',' || (sent_at IS NOT NULL) FROM "
	    "rebond.outbox WHERE channel = 'email'", "5,true");
}

Test(policy, report_prints_the_admin_queue, .timeout = 60)
{
	const char *db = setup("rep", "(1, 'abe@rep.example', NULL, "
	    "'+33600000011'), (2, 'bo@rep.example', NULL, NULL)");
	const char *cfg = config("rep", db, NULL);
	char args[600], d[16], want[64];
	const char *out;

	snprintf(args, sizeof args, "report -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_not_null(strstr(live_out(), "aucun problème ouvert"), "%s",
	    live_out());
	bounce("rep", "abe@rep.example", HARD, time(NULL) - 60);
	bounce("rep", "bo@rep.example", QUOTA, time(NULL) - 60);
	run_ok(cfg);
	today(db, d, sizeof d);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	out = live_out();
	cr_assert_not_null(strstr(out, "compte"), "%s", out);
	cr_assert_not_null(strstr(out, "abe@rep.example"), "%s", out);
	snprintf(want, sizeof want, "prévenu le %s (SMS)", d);
	cr_assert_not_null(strstr(out, want), "%s", out);
	cr_assert_not_null(strstr(out, "non prévenu : aucun autre"), "%s",
	    out);
	cr_assert_not_null(strstr(out, "2 problème(s) ouvert(s)"), "%s", out);
	/* Each row starts with the problem's number, for dismiss_problem. */
	cr_assert_eq(strncmp(out, "n°", strlen("n°")), 0, "%s", out);
	snprintf(want, sizeof want, "\n%lld ", live_sql_int(db, "SELECT "
	    "problem_id FROM rebond.admin_queue WHERE category = 'quota'"));
	cr_assert_not_null(strstr(out, want), "no row starts with %s: %s",
	    want + 1, out);
}

Test(policy, unsubscribe_keeps_the_row_and_cancels_warnings, .timeout = 60)
{
	const char *db = setup("uns", "(1, 'cy@uns.example', "
	    "'cy@uns-work.example', '+33600000012')");

	bounce("uns", "cy@uns.example", HARD, time(NULL) - 60);
	/* Processed with the relay down: the warning waits. */
	cr_assert_eq(run(config("uns", db, &(struct cfgopt){
	    .smtp_port = "9" })), 75);
	live_sql(db, "SELECT rebond.unsubscribe(1)");
	sql_is(db, "SELECT status || ',' || primary_email || ',' || "
	    "primary_state || ',' || coalesce(secondary_email, 'NULL') || ','"
	    " || coalesce(phone, 'NULL') FROM accounts",
	    "unsubscribed,cy@uns.example,hard,NULL,NULL");
	sql_is(db, "SELECT count(*) FROM rebond.events", "1");
	queue_is(db, 1, "primary", "none");
	run_ok(config("uns", db, NULL));
	cr_assert_eq(sink("cy@uns-work.example", NULL), 0, "cancelled");
	/* A later bounce of the dead address changes nothing. */
	bounce("uns", "cy@uns.example", HARD, time(NULL) - 10);
	run_ok(config("uns", db, NULL));
	sql_is(db, "SELECT count(*) FROM rebond.problems WHERE resolved_at IS "
	    "NULL", "0");
}

/*
 * A run replaces an open problem in place (same id): the admin who read
 * "quota" must not dismiss the "hard" that replaced it. The category
 * read goes with the dismissal (40001 if it changed); without it, hard,
 * spam and complaint are refused (the rest as before). A dismissal
 * clears the address's flag, and the login alert follows what is left:
 * the secondary's spam, or none.
 */
Test(policy, dismiss_names_the_category_the_admin_read, .timeout = 60)
{
	const char *db = setup("dis", "(1, 'di@dis.example', "
	    "'di@dis-work.example', NULL), (2, 'ed@dis.example', NULL, NULL), "
	    "(3, 'fa@dis.example', NULL, NULL)");
	const char *cfg = config("dis", db, NULL);
	long long p1, p2, p3;
	char sql[200];

	bounce("dis", "di@dis.example", QUOTA, time(NULL) - 120);
	bounce("dis", "ed@dis.example", HARD, time(NULL) - 120);
	bounce("dis", "fa@dis.example", QUOTA, time(NULL) - 120);
	run_ok(cfg);
	/* The admin reads the queue: account 1, quota. */
	p1 = live_sql_int(db, "SELECT problem_id FROM rebond.admin_queue "
	    "WHERE account_id = 1 AND category = 'quota'");
	p2 = live_sql_int(db, "SELECT problem_id FROM rebond.admin_queue "
	    "WHERE account_id = 2");
	p3 = live_sql_int(db, "SELECT problem_id FROM rebond.admin_queue "
	    "WHERE account_id = 3");
	/* Meanwhile a run: the primary is dead, same problem. */
	bounce("dis", "di@dis.example", HARD, time(NULL) - 60);
	run_ok(cfg);
	cr_assert_eq(live_sql_int(db, "SELECT problem_id FROM "
	    "rebond.admin_queue WHERE account_id = 1 AND category = 'hard'"),
	    p1);
	live_sql(db, "UPDATE accounts SET secondary_state = 'spam' "
	    "WHERE id = 1");
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld, "
	    "'quota')", p1);
	sql_fails(db, sql, "40001", "changed since it was read");
	/* A name that is no category: not "it changed" (40001, which
	 * some clients retry), but what the categories are. */
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld, "
	    "'hrad')", p1);
	sql_fails(db, sql, "22023", "'hrad' is not a category");
	sql_fails(db, sql, "22023", "The categories: autoreply, blocked, ");
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld, "
	    "NULL)", p1);
	sql_fails(db, sql, "22023", "the category seen is required");
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld)", p1);
	sql_fails(db, sql, "22023", "name the category you read");
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld)", p2);
	sql_fails(db, sql, "22023", "name the category you read");
	sql_is(db, "SELECT string_agg(id || ':' || primary_state || ',' || "
	    "coalesce(login_alert || '@' || login_alert_address, 'none'), ' ' "
	    "ORDER BY id) FROM accounts", "1:hard,hard@di@dis.example "
	    "2:hard,hard@ed@dis.example 3:quota,none");
	sql_is(db, "SELECT count(*) FROM rebond.admin_queue", "3");
	/* What the admin saw, named: dismissed; the alert follows. */
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld, "
	    "'hard')", p1);
	live_sql(db, sql);
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld, "
	    "'hard')", p2);
	live_sql(db, sql);
	/* A quota problem, the old way. */
	snprintf(sql, sizeof sql, "SELECT rebond.dismiss_problem(%lld)", p3);
	live_sql(db, sql);
	sql_is(db, "SELECT string_agg(id || ':' || primary_state || ',' || "
	    "coalesce(login_alert || '@' || login_alert_address, 'none'), ' ' "
	    "ORDER BY id) FROM accounts", "1:ok,spam@di@dis-work.example "
	    "2:ok,none 3:ok,none");
	sql_is(db, "SELECT count(*) FROM rebond.admin_queue", "0");
	sql_fails(db, sql, "P0002", "no open problem");
}

/*
 * A new primary (change_primary_email) or a new invitation (reinvite) at
 * another account's primary or pending address, the same by key: both
 * would log in with it. Refused, naming the other account; nothing
 * written. An account's own pending address may be asked again.
 */
Test(policy, admin_functions_refuse_another_accounts_address, .timeout = 60)
{
	const char *db = setup("taken", "(1, 'gil@taken.example', NULL, NULL), "
	    "(2, 'Hal@Taken.example', NULL, NULL), "
	    "(3, 'ivy@taken.example', NULL, NULL)");
	char st[8], cst[8];

	free(live_sql_str(db, "SELECT rebond.change_primary_email(3, "
	    "'ivy@taken-new.example')"));
	sql_fails(db, "SELECT rebond.change_primary_email(1, "
	    "' hal@taken.EXAMPLE')", "23505", "primary address of account 2");
	sql_fails(db, "SELECT rebond.change_primary_email(1, "
	    "'IVY@taken-new.example')", "23505",
	    "pending address of account 3");
	sql_fails(db, "SELECT rebond.reinvite(1, 'hal@taken.example')",
	    "23505", "primary address of account 2");
	sql_fails(db, "SELECT rebond.reinvite(1, 'ivy@taken-new.example ')",
	    "23505", "pending address of account 3");
	sql_is(db, "SELECT primary_email || ',' || status || ',' || "
	    "coalesce(pending_email, '-') FROM accounts WHERE id = 1",
	    "gil@taken.example,active,-");
	sql_is(db, "SELECT count(*) || ',' || count(DISTINCT account_id) FROM "
	    "rebond.outbox", "1,1");
	sql_is(db, "SELECT count(*) FROM rebond.email_changes", "1");
	free(live_sql_str(db, "SELECT rebond.change_primary_email(3, "
	    "'ivy@taken-new.example')"));
	live_sql(db, "SELECT rebond.reinvite(2, 'hal@taken.example')");
	/* Two admins give one address at once: the second waits for the
	 * first, then sees it. */
	behind(db, "SELECT rebond.change_primary_email(1, "
	    "'jay@taken-new.example')", "SELECT rebond.reinvite(2, "
	    "'JAY@taken-new.example')", NULL, st, cst);
	cr_assert_str_eq(cst, "23505");
	sql_is(db, "SELECT primary_email FROM accounts WHERE id = 2",
	    "hal@taken.example");
}

/*
 * A new primary is for an active account only: an invited account (or
 * one whose invitation expired) got stuck with a change nobody could
 * confirm, an unsubscribed one is not to be mailed. Refused, with a hint
 * to invite instead.
 */
Test(policy, change_primary_email_needs_an_active_account, .timeout = 60)
{
	const char *db = setup("inact", "(1, 'jo@inact.example', NULL, NULL), "
	    "(2, 'kai@inact.example', NULL, NULL), "
	    "(3, 'lea@inact.example', NULL, NULL)");
	char sql[200], hint[64];
	int i;

	live_sql(db, "SELECT rebond.reinvite(1, 'jo@inact-inv.example')");
	live_sql(db, "UPDATE accounts SET status = 'invitation_expired' "
	    "WHERE id = 2");
	live_sql(db, "SELECT rebond.unsubscribe(3)");
	for (i = 1; i <= 3; i++) {
		snprintf(sql, sizeof sql, "SELECT rebond.change_primary_email("
		    "%d, 'x%d@inact-new.example')", i, i);
		snprintf(hint, sizeof hint, "rebond.reinvite(%d, ", i);
		sql_fails(db, sql, "22023", "not active");
		sql_fails(db, sql, "22023", hint);
	}
	sql_is(db, "SELECT count(*) FROM rebond.email_changes", "0");
	sql_is(db, "SELECT count(*) FROM accounts WHERE pending_email IS NOT "
	    "NULL", "0");
}

/*
 * A change, or an invitation, that replaces an earlier one cancels the
 * earlier one's mail if it is not sent yet (its token dropped): only the
 * last address gets a mail.
 */
Test(policy, replaced_validation_and_invitation_mails_are_cancelled,
    .timeout = 60)
{
	const char *db = setup("repl", "(1, 'max@repl.example', NULL, NULL), "
	    "(2, 'ned@repl.example', NULL, NULL), "
	    "(3, 'oz@repl.example', NULL, NULL)");
	const char *cfg = config("repl", db, NULL);

	free(live_sql_str(db, "SELECT rebond.change_primary_email(1, "
	    "'max@repl-one.example')"));
	free(live_sql_str(db, "SELECT rebond.change_primary_email(1, "
	    "'max@repl-two.example')"));
	live_sql(db, "SELECT rebond.reinvite(2, 'ned@repl-one.example')");
	live_sql(db, "SELECT rebond.reinvite(2, 'ned@repl-two.example')");
	free(live_sql_str(db, "SELECT rebond.change_primary_email(3, "
	    "'oz@repl-one.example')"));
	live_sql(db, "SELECT rebond.reinvite(3, 'oz@repl-two.example')");
	sql_is(db, "SELECT string_agg(destination || ':' || template || ':' || "
	    "CASE WHEN cancelled_at IS NULL THEN 'unsent' ELSE 'cancelled' "
	    "END || (CASE WHEN params ? 'token' THEN '+token' ELSE '' END), "
	    "' ' ORDER BY id) FROM rebond.outbox",
	    "max@repl-one.example:validation:cancelled "
	    "max@repl-two.example:validation:unsent+token "
	    "ned@repl-one.example:invitation:cancelled "
	    "ned@repl-two.example:invitation:unsent "
	    "oz@repl-one.example:validation:cancelled "
	    "oz@repl-two.example:invitation:unsent");
	run_ok(cfg);
	cr_assert_eq(sink("max@repl-one.example", NULL), 0);
	cr_assert_eq(sink("max@repl-two.example", NULL), 1);
	cr_assert_eq(sink("ned@repl-one.example", NULL), 0);
	cr_assert_eq(sink("ned@repl-two.example", NULL), 1);
	cr_assert_eq(sink("oz@repl-one.example", NULL), 0);
	cr_assert_eq(sink("oz@repl-two.example", NULL), 1);
}

/*
 * The platform deletes an account (its role has no right on rebond's
 * schema): the account's open problems leave the admin queue, its unsent
 * warning and validation mail are cancelled, its pending change too.
 * Another account's problem stays.
 */
Test(policy, deleted_account_leaves_the_queue, .timeout = 60)
{
	const char *db = setup("del", "(1, 'pia@del.example', "
	    "'pia@del-work.example', NULL), (2, 'quy@del.example', NULL, "
	    "NULL)");

	bounce("del", "pia@del.example", HARD, time(NULL) - 60);
	bounce("del", "quy@del.example", HARD, time(NULL) - 60);
	/* Processed with the relay down: the warning waits. */
	cr_assert_eq(run(config("del", db, &(struct cfgopt){
	    .smtp_port = "9" })), 75);
	free(live_sql_str(db, "SELECT rebond.change_primary_email(1, "
	    "'pia@del-new.example')"));
	sql_is(db, "SELECT count(*) FROM rebond.admin_queue", "2");
	live_sql(db, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE "
	    "rolname = 'del_platform') THEN CREATE ROLE del_platform; END IF; "
	    "END $$");
	live_sql(db, "GRANT SELECT, DELETE ON accounts TO del_platform");
	live_sql(db, "SET ROLE del_platform; DELETE FROM accounts WHERE "
	    "id = 1; RESET ROLE");
	queue_is(db, 1, "primary", "none");
	sql_is(db, "SELECT count(*) FROM rebond.admin_queue WHERE "
	    "account_id = 2", "1");
	sql_is(db, "SELECT string_agg(DISTINCT resolution, ',') FROM "
	    "rebond.problems WHERE account_id = 1", "account_deleted");
	sql_is(db, "SELECT count(*) || ',' || count(cancelled_at) FROM "
	    "rebond.outbox WHERE account_id = 1", "2,2");
	sql_is(db, "SELECT status FROM rebond.email_changes", "cancelled");
	run_ok(config("del", db, NULL));
	cr_assert_eq(sink("pia@del-work.example", NULL), 0);
	cr_assert_eq(sink("pia@del-new.example", NULL), 0);
}

/*
 * confirm_primary_email locks the account, then the change, as a run's
 * batch (which marks a change bounced) and the admin functions do: while
 * another transaction holds the account, a confirmation waits without
 * holding the change (009 held it: a batch holding the account and
 * waiting for the change deadlocked with it).
 */
Test(policy, confirm_locks_the_account_before_the_change, .timeout = 60)
{
	const char *db = setup("conflock", "(1, 'rae@conflock.example', "
	    "NULL, NULL)");
	char *token, call[200], st[8], cst[8];

	token = live_sql_str(db, "SELECT rebond.change_primary_email(1, "
	    "'rae@conflock-new.example')");
	snprintf(call, sizeof call, "SELECT rebond.confirm_primary_email('%s')",
	    token);
	free(token);
	behind(db, "SELECT 1 FROM accounts WHERE id = 1 FOR UPDATE", call,
	    "SELECT 1 FROM rebond.email_changes WHERE account_id = 1 FOR "
	    "UPDATE NOWAIT", st, cst);
	cr_assert_str_eq(st, "ok", "the waiting confirmation held the change");
	cr_assert_str_eq(cst, "ok");
	sql_is(db, "SELECT primary_email || ',' || coalesce(pending_email, '-')"
	    " FROM accounts", "rae@conflock-new.example,-");
	sql_is(db, "SELECT status FROM rebond.email_changes", "confirmed");
}

/*
 * The deadlines lock accounts in id order, as a run's account lookup
 * does, not in the order of a scan: with account 1 held, expiring waits
 * for it without holding account 2, found first (stored first, earlier
 * deadline). Changes (002), invitations (002), deadlines from the
 * configuration (005).
 */
Test(policy, deadlines_lock_accounts_in_id_order, .timeout = 60)
{
	const char *db = live_db_migrated("dlorder");
	char st[8], cst[8];

	live_sql(db, "INSERT INTO accounts (id, primary_email, pending_email, "
	    "pending_deadline) VALUES (2, 'sol@dlorder.example', "
	    "'sol@dlorder-new.example', now() - interval '2 days')");
	live_sql(db, "INSERT INTO accounts (id, primary_email, pending_email, "
	    "pending_deadline) VALUES (1, 'tia@dlorder.example', "
	    "'tia@dlorder-new.example', now() - interval '1 day')");
	behind(db, "SELECT 1 FROM accounts WHERE id = 1 FOR UPDATE",
	    "SELECT rebond.expire_deadlines()", "SELECT 1 FROM accounts "
	    "WHERE id = 2 FOR UPDATE NOWAIT", st, cst);
	cr_assert_str_eq(st, "ok", "changes: account 2 locked first");
	cr_assert_str_eq(cst, "ok");
	live_sql(db, "INSERT INTO accounts (id, primary_email, status, "
	    "invitation_expires_at) VALUES (4, 'uli@dlorder.example', "
	    "'invited', now() - interval '2 days'), (3, 'vic@dlorder.example',"
	    " 'invited', now() - interval '1 day')");
	behind(db, "SELECT 1 FROM accounts WHERE id = 3 FOR UPDATE",
	    "SELECT rebond.expire_deadlines()", "SELECT 1 FROM accounts "
	    "WHERE id = 4 FOR UPDATE NOWAIT", st, cst);
	cr_assert_str_eq(st, "ok", "invitations: account 4 locked first");
	cr_assert_str_eq(cst, "ok");
	sql_is(db, "SELECT string_agg(id || ':' || status || ',' || "
	    "coalesce(pending_email, '-'), ' ' ORDER BY id) FROM accounts "
	    "WHERE id <= 4", "1:active,- 2:active,- 3:invitation_expired,- "
	    "4:invitation_expired,-");
	live_sql(db, "INSERT INTO accounts (id, primary_email, pending_email) "
	    "VALUES (6, 'wyn@dlorder.example', 'wyn@dlorder-new.example'), "
	    "(5, 'xia@dlorder.example', 'xia@dlorder-new.example')");
	behind(db, "SELECT 1 FROM accounts WHERE id = 5 FOR UPDATE",
	    "SELECT rebond.expire_deadlines(14, 90)", "SELECT 1 FROM "
	    "accounts WHERE id = 6 FOR UPDATE NOWAIT", st, cst);
	cr_assert_str_eq(st, "ok", "deadlines: account 6 locked first");
	cr_assert_str_eq(cst, "ok");
	sql_is(db, "SELECT count(*) FROM accounts WHERE pending_deadline > "
	    "now() + interval '13 days'", "2");
}

/* The job's role can run rebond, and nothing more; the admins' role can
 * read and call the functions, and nothing more. */
Test(policy, roles_are_least_privilege, .timeout = 60)
{
	const char *db = setup("roles", "(1, 'dee@roles.example', "
	    "'dee@roles-work.example', NULL)");
	char job[512], adm[512];
	const char *cfg;
	PGconn *c;
	PGresult *r;
	static const char *const denied_job[] = {
		"UPDATE accounts SET primary_email = 'x@y.example'",
		"UPDATE accounts SET phone = '1'",
		"DELETE FROM rebond.events",
		"CREATE TABLE rebond.evil (x int)",
		"DROP TABLE rebond.outbox",
		"SELECT rebond.unsubscribe(1)",
	};
	static const char *const denied_admin[] = {
		"UPDATE accounts SET primary_state = 'ok'",
		"INSERT INTO rebond.outbox (channel, destination, template) "
		"VALUES ('email', 'a@b.example', 'hard')",
		"DELETE FROM rebond.problems",
		"SELECT rebond.expire_deadlines()",
		"SELECT rebond.expire_deadlines(14, 90)",
	};
	size_t i;

	live_sql(db, "DO $$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE "
	    "rolname = 'roles_job') THEN CREATE ROLE roles_job LOGIN IN ROLE "
	    "rebond_job; END IF; IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE "
	    "rolname = 'roles_admin') THEN CREATE ROLE roles_admin LOGIN IN "
	    "ROLE rebond_admin; END IF; END $$");
	snprintf(job, sizeof job, "host=%s port=%s user=roles_job dbname=roles",
	    live_env("REBOND_TEST_PGHOST"), live_env("REBOND_TEST_PGPORT"));
	snprintf(adm, sizeof adm, "host=%s port=%s user=roles_admin "
	    "dbname=roles", live_env("REBOND_TEST_PGHOST"),
	    live_env("REBOND_TEST_PGPORT"));
	/* The whole job as rebond_job: batch, deadlines, outbox, report. */
	live_sql(db, "SELECT rebond.change_primary_email(1, "
	    "'dee@roles-new.example', '1 second')");
	sleep(2);
	bounce("roles", "dee@roles.example", HARD, time(NULL) - 60);
	bounce("roles", "eli@roles-blocked.example", BLOCKED, time(NULL) - 60);
	bounce("roles", "dee@roles-work.example", TRANSIENT, time(NULL) - 60);
	cfg = config("roles", job, &(struct cfgopt){
	    .policy = "clear_secondary_on_hard = yes" });
	run_ok(cfg);
	sql_is(db, "SELECT primary_state || ',' || coalesce(pending_email, "
	    "'NULL') FROM accounts", "hard,NULL");
	cr_assert_eq(sink("ops-roles@platform.example", NULL), 1);
	cr_assert_eq(sink("admins-roles@platform.example", NULL), 1);
	/* And the secondary emptied by the job (clear_secondary_on_hard). */
	bounce("roles", "dee@roles-work.example", HARD, time(NULL) - 30);
	run_ok(cfg);
	sql_is(db, "SELECT coalesce(secondary_email, 'NULL') FROM accounts",
	    "NULL");
	{
		char args[600];

		snprintf(args, sizeof args, "report -c %s", cfg);
		cr_assert_eq(live_rebond(args), 0, "%s", live_err());
		/* An admin, with his own role and no configuration file. */
		snprintf(args, sizeof args, "report --conninfo '%s'", adm);
		cr_assert_eq(live_rebond(args), 0, "%s", live_err());
		cr_assert_not_null(strstr(live_out(), "dee@roles.example"),
		    "%s", live_out());
		snprintf(args, sizeof args, "report --conninfo '%s "
		    "password=x'", adm);
		cr_assert_eq(live_rebond(args), 64, "%s", live_err());
	}
	c = PQconnectdb(job);
	cr_assert_eq(PQstatus(c), CONNECTION_OK);
	for (i = 0; i < sizeof denied_job / sizeof denied_job[0]; i++) {
		r = PQexec(c, denied_job[i]);
		cr_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE) ?
		    PQresultErrorField(r, PG_DIAG_SQLSTATE) : "ok", "42501",
		    "job may: %s", denied_job[i]);
		PQclear(r);
	}
	PQfinish(c);
	c = PQconnectdb(adm);
	cr_assert_eq(PQstatus(c), CONNECTION_OK);
	for (i = 0; i < sizeof denied_admin / sizeof denied_admin[0]; i++) {
		r = PQexec(c, denied_admin[i]);
		cr_assert_str_eq(PQresultErrorField(r, PG_DIAG_SQLSTATE) ?
		    PQresultErrorField(r, PG_DIAG_SQLSTATE) : "ok", "42501",
		    "admin may: %s", denied_admin[i]);
		PQclear(r);
	}
	r = PQexec(c, "SELECT count(*) FROM rebond.admin_queue");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s",
	    PQerrorMessage(c));
	PQclear(r);
	r = PQexec(c, "SELECT rebond.reinvite(1, 'dee@roles-inv.example')");
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s",
	    PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	sql_is(db, "SELECT status FROM accounts", "invited");
}

/* A free TCP port on 127.0.0.1. */
static int
free_port(void)
{
	FILE *p = popen("/usr/bin/python3 -c 'import socket; s=socket.socket(); "
	    "s.bind((\"127.0.0.1\",0)); print(s.getsockname()[1])'", "r");
	int port = 0;

	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%d", &port), 1);
	pclose(p);
	return port;
}

/*
 * Start a helper server in the background, as the mail user when we are
 * root, in REBOND_TEST_DIR/NAME (its working directory, where it writes
 * its PID in the file "pid"). The PID is copied to REBOND_TEST_DIR/
 * NAME.pid: tests/servers.sh stop kills it by that PID, whatever happens.
 */
static void
start_helper(const char *name, const char *cmd)
{
	char sh[4096], pid[700], top[700], dir[600];
	int i;

	snprintf(dir, sizeof dir, "%s/%s", live_dir(), name);
	snprintf(pid, sizeof pid, "%s/pid", dir);
	snprintf(top, sizeof top, "%s/%s.pid", live_dir(), name);
	snprintf(sh, sizeof sh, "mkdir -p %s && { [ \"$(id -u)\" != 0 ] || "
	    "chown %s %s; } && cd %s && %s setsid %s >%s/log 2>&1 &",
	    dir, live_env("REBOND_TEST_MAILUSER"), dir, dir,
	    geteuid() == 0 ? "runuser -u nobody --" : "", cmd, dir);
	cr_assert_eq(system(sh), 0, "%s", sh);
	/* A loaded machine (make -j2 check) can take seconds to start
	 * Python; the log says why a helper that never came up failed. */
	for (i = 0; i < 300 && access(pid, F_OK) != 0; i++)
		usleep(100000);
	if (access(pid, F_OK) != 0) {
		char log[700], buf[2048] = "";
		FILE *f;
		size_t n = 0;

		snprintf(log, sizeof log, "%s/log", dir);
		if ((f = fopen(log, "r")) != NULL) {
			n = fread(buf, 1, sizeof buf - 1, f);
			fclose(f);
		}
		buf[n] = '\0';
		cr_assert_fail("%s did not start within 30 s; its log:\n%s",
		    name, buf);
	}
	snprintf(sh, sizeof sh, "cp %s %s", pid, top);
	cr_assert_eq(system(sh), 0, "%s", sh);
}

/* The mails a directory of a helper sink holds; all of them, one after
 * the other, in *m_r. */
static int
maildir_mails(const char *dir, char **m_r)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	char *all = strdup(""), *m;
	size_t len = 0;
	int n = 0;

	*m_r = all;
	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		char p[1200];

		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if ((m = live_slurp(p)) == NULL)
			continue;
		all = realloc(all, len + strlen(m) + 1);
		cr_assert_not_null(all);
		memcpy(all + len, m, strlen(m) + 1);
		len += strlen(m);
		free(m);
		n++;
	}
	closedir(d);
	*m_r = all;
	return n;
}

static void
write_secret(const char *path, const char *secret)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fprintf(f, "%s\n", secret);
	fclose(f);
	chmod(path, 0600);
}

/*
 * Start tests/smtp_auth_sink.py as helper name on a free port (written
 * to port): AUTH required, user rebond, password s3cret; with refuse,
 * MAIL FROM is refused while the file name/refuse exists. The sink runs
 * as the mail user, who may not read the source tree (a clone in a mode
 * 0700 directory): a copy of its own in the test directory.
 */
static void
start_auth_sink(const char *name, char *port, size_t len, int refuse)
{
	char cmd[1400];

	snprintf(port, len, "%d", free_port());
	snprintf(cmd, sizeof cmd, "install -m 0644 %s/tests/smtp_auth_sink.py "
	    "%s/%s.py", live_env("REBOND_SRCDIR"), live_dir(), name);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/%s.py %s maildir "
	    "rebond s3cret pid%s", live_dir(), name, port,
	    refuse ? " refuse" : "");
	start_helper(name, cmd);
}

/* AUTH when configured, before any mail; a refused login is exit 77. */
Test(policy, smtp_auth, .timeout = 60)
{
	const char *db = setup("auth", "(1, 'ed@auth.example', "
	    "'ed@auth-work.example', NULL)");
	char port[16], pw[512], dir[600], *m;
	struct cfgopt o = { .smtp_port = port, .user = "rebond",
		.password_file = pw };
	const char *cfg;
	int rc;

	start_auth_sink("authsink", port, sizeof port, 0);
	snprintf(pw, sizeof pw, "%s/smtp.pw", live_dir());
	write_secret(pw, "wrong");
	cfg = config("auth", db, &o);
	bounce("auth", "ed@auth.example", HARD, time(NULL) - 60);
	rc = run(cfg);
	cr_assert_eq(rc, 77, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "AUTH: 535 5.7.8"), "%s",
	    live_err());
	cr_assert_eq(live_count("auth", "Archive"), 1, "bounce processed");
	snprintf(dir, sizeof dir, "%s/authsink/maildir/new", live_dir());
	cr_assert_eq(maildir_mails(dir, &m), 0, "mail without AUTH");
	free(m);
	write_secret(pw, "s3cret");
	run_ok(cfg);
	cr_assert_eq(maildir_mails(dir, &m), 2, "warning and digest");
	cr_assert_not_null(strstr(m, "X-Auth-User: rebond"), "%s", m);
	free(m);
}

/*
 * A relay that refuses our sender (here: the login does not own it) has
 * not refused the user: every mail waits, none is marked failed, the run
 * exits 78 and says what to fix; once the relay takes it, all go.
 */
Test(policy, relay_refusing_the_sender_keeps_every_mail, .timeout = 60)
{
	const char *db = setup("refsnd", "(1, 'ed@refsnd.example', "
	    "'ed@refsnd-work.example', NULL)");
	char port[16], pw[512], dir[600], refuse[600], *m;
	struct cfgopt o = { .smtp_port = port, .user = "rebond",
		.password_file = pw };
	const char *cfg;
	FILE *f;
	int rc;

	start_auth_sink("refsndsink", port, sizeof port, 1);
	snprintf(refuse, sizeof refuse, "%s/refsndsink/refuse", live_dir());
	cr_assert_not_null(f = fopen(refuse, "w"));
	fclose(f);
	snprintf(pw, sizeof pw, "%s/refsnd.pw", live_dir());
	write_secret(pw, "s3cret");
	cfg = config("refsnd", db, &o);
	bounce("refsnd", "ed@refsnd.example", HARD, time(NULL) - 60);
	rc = run(cfg);
	cr_assert_eq(rc, 78, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "refuses the sender"), "%s",
	    live_err());
	cr_assert_eq(live_count("refsnd", "Archive"), 1, "bounce processed");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox "
	    "WHERE failed_at IS NOT NULL"), 0, "a mail marked failed");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox "
	    "WHERE channel = 'email' AND sent_at IS NULL AND last_error LIKE "
	    "'MAIL FROM: 553 %'"), 1, "the warning waits, saying why: %s",
	    live_sql_str(db, "SELECT string_agg(channel || ' ' || template "
	    "|| ' ' || coalesce(last_error, '-'), '; ') FROM rebond.outbox"));
	snprintf(dir, sizeof dir, "%s/refsndsink/maildir/new", live_dir());
	cr_assert_eq(maildir_mails(dir, &m), 0);
	free(m);
	cr_assert_eq(unlink(refuse), 0);
	run_ok(cfg);
	cr_assert_eq(maildir_mails(dir, &m), 2, "warning and digest");
	free(m);
}

/* A relay that accepts the connection and says nothing: the run gives up
 * after [smtp] timeout, the bounces are done. */
Test(policy, silent_relay_times_out, .timeout = 60)
{
	const char *db = setup("silent", "(1, 'flo@silent.example', "
	    "'flo@silent-work.example', NULL)");
	char port[16], cmd[1024];
	const char *cfg;
	time_t t0;
	int rc;

	snprintf(port, sizeof port, "%d", free_port());
	snprintf(cmd, sizeof cmd, "/usr/bin/python3 -c 'import os, socket, "
	    "time; s = socket.socket(); s.bind((\"127.0.0.1\", %s)); "
	    "s.listen(5); open(\"pid.tmp\", \"w\").write(str(os.getpid()))"
	    "; os.rename(\"pid.tmp\", \"pid\"); time.sleep(3600)'", port);
	start_helper("silent", cmd);
	bounce("silent", "flo@silent.example", HARD, time(NULL) - 60);
	cfg = config("silent", db, &(struct cfgopt){ .smtp_port = port,
	    .timeout = "2" });
	t0 = time(NULL);
	rc = run(cfg);
	cr_assert_eq(rc, 75, "exit %d: %s", rc, live_err());
	cr_assert(time(NULL) - t0 <= 8, "took %lds", (long)(time(NULL) - t0));
	cr_assert_eq(live_count("silent", "Archive"), 1);
	sql_is(db, "SELECT attempts || ',' || (sent_at IS NULL) FROM "
	    "rebond.outbox", "1,true");
}

/* Wait until something listens on 127.0.0.1:port. */
static void
wait_port(const char *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	int i, fd, ok = 0;

	sa.sin_port = htons((uint16_t)atoi(port));
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	for (i = 0; i < 300 && !ok; i++) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		cr_assert(fd >= 0);
		ok = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
		close(fd);
		if (!ok)
			usleep(100000);
	}
	cr_assert(ok, "nothing listens on port %s", port);
}

/* Implicit TLS (SMTPS): verified as well, before anything is sent. */
Test(policy, implicit_tls_relay_verified, .timeout = 60)
{
	const char *db = setup("smtps", "(1, 'gil@smtps.example', "
	    "'gil@smtps-work.example', NULL)");
	char port[16], cmd[1536], dir[600], *m;
	struct cfgopt o = { .smtp_port = port, .tls = "implicit",
		.host = "localhost", .ca = live_env("REBOND_TEST_OTHER_CA") };
	int rc;

	snprintf(port, sizeof port, "%d", free_port());
	/* servers.sh keeps the test certificate (for "localhost") and a copy
	 * of its key that the mail user can read. */
	snprintf(cmd, sizeof cmd, "sh -c 'echo $$ >pid.tmp && mv pid.tmp pid "
	    "&& exec /usr/bin/python3 -m aiosmtpd -n -l 127.0.0.1:%s "
	    "--smtpscert %s/cert.pem --smtpskey %s/smtp/key.pem "
	    "-c aiosmtpd.handlers.Mailbox maildir'", port, live_dir(),
	    live_dir());
	start_helper("smtps", cmd);
	wait_port(port);
	bounce("smtps", "gil@smtps.example", HARD, time(NULL) - 60);
	rc = run(config("smtps", db, &o));
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "certificate refused"), "%s",
	    live_err());
	snprintf(dir, sizeof dir, "%s/smtps/maildir/new", live_dir());
	cr_assert_eq(maildir_mails(dir, &m), 0);
	free(m);
	o.ca = NULL;
	rc = run(config("smtps", db, &o));
	cr_assert_eq(rc, 0, "exit %d: %s", rc, live_err());
	cr_assert_eq(maildir_mails(dir, &m), 2, "warning and digest");
	cr_assert_not_null(strstr(m, "X-RcptTo: admins-smtps@platform.example"),
	    "%s", m);
	cr_assert_not_null(strstr(m, "X-RcptTo: gil@smtps-work.example"), "%s",
	    m);
	free(m);
}

/*
 * Killed after the relay accepted a warning, before it was marked sent:
 * the next run sends it again (at least once, never lost), with the same
 * Message-ID; everything else is exactly once.
 */
Test(policy, crash_after_send_resends_once_same_message_id, .timeout = 60)
{
	const char *db = setup("crash", "(1, 'hub@crash.example', "
	    "'hub@crash-work.example', NULL)");
	const char *cfg = config("crash", db, NULL);
	char args[700], *m, *id1, *id2;
	int st;

	bounce("crash", "hub@crash.example", HARD, time(NULL) - 60);
	snprintf(args, sizeof args, "run -c %s", cfg);
	st = live_rebond_env("REBOND_TEST_KILLPOINT=notify-sent:1", args);
	cr_assert(WIFSIGNALED(st), "not killed: %s", live_err());
	cr_assert_eq(live_count("crash", "Archive"), 1, "moved before sending");
	sql_is(db, "SELECT (sent_at IS NULL)::text FROM rebond.outbox",
	    "true");
	cr_assert_eq(sink("hub@crash-work.example", &m), 1);
	cr_assert_not_null(id1 = strstr(m, "Message-ID: "));
	id1 = strndup(id1, strcspn(id1, "\n"));
	free(m);
	run_ok(cfg);
	cr_assert_eq(sink("hub@crash-work.example", &m), 2, "sent again");
	cr_assert_not_null(id2 = strstr(m, "Message-ID: "));
	id2 = strndup(id2, strcspn(id2, "\n"));
	cr_assert_str_eq(id1, id2, "the same Message-ID");
	free(m);
	free(id1);
	free(id2);
	sql_is(db, "SELECT count(*) || ',' || count(sent_at) FROM "
	    "rebond.outbox WHERE channel = 'email'", "1,1");
	sql_is(db, "SELECT count(*) FROM rebond.problems", "1");
	cr_assert_eq(sink("admins-crash@platform.example", NULL), 1);
	run_ok(cfg);
	cr_assert_eq(sink("hub@crash-work.example", NULL), 2, "never a third");
}
