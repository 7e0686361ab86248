/*
 * live_replay.c - issue 5: `rebond replay --folder F [--since DATE]
 * [--rescore] [--dry-run]`.
 *
 * A replay EXAMINEs the folder (read-only, nothing moved, no flag set),
 * runs the same pipeline, records only what is new (replayed = true),
 * skips what is recorded, and is idempotent. --since keeps the bounces
 * dated since a day, --rescore records what today's rules say
 * differently (and changes no account), --dry-run writes nothing and
 * prints each decision with its rule. Event times are the bounces' own
 * dates. A replay and a run meeting the same messages apply each once
 * (same messages and events as a single run).
 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "gen.h"
#include "live.h"

static void
deliver_range(const char *user, const char *folder, int from, int to)
{
	int i;

	for (i = from; i < to; i++)
		live_deliver(user, folder, gen_msg(i)->data,
		    strlen(gen_msg(i)->data));
}

/* Run rebond with args; assert exit 0. */
static void
ok(const char *args)
{
	int st = live_rebond_env(NULL, args);

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "rebond %s: %s",
	    args, live_err());
}

/* Files in folder whose Maildir flags include \Seen (",S"). */
static int
seen_flags(const char *user, const char *folder)
{
	char dir[1024];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof dir, "%s/%s/Maildir/.%s/cur",
	    live_env("REBOND_TEST_MAILHOME"), user, folder);
	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		const char *f = strstr(de->d_name, ":2,");

		if (f != NULL && strchr(f, 'S') != NULL)
			n++;
	}
	closedir(d);
	return n;
}

/* Decision lines of a dry run over messages from..to-1: one per
 * recipient, one for a message without any. */
static int
decisions_of(int from, int to)
{
	int i, n = 0;

	for (i = from; i < to; i++)
		n += gen_msg(i)->nrcpt > 0 ? gen_msg(i)->nrcpt : 1;
	return n;
}

/* Expected events (recipients) of messages from..to-1. */
static int
events_of(int from, int to)
{
	int i, n = 0;

	for (i = from; i < to; i++)
		n += gen_msg(i)->nrcpt;
	return n;
}

Test(replay, examines_records_new_skips_recorded_moves_nothing,
    .timeout = 120)
{
	char *db = gen_setup("rp_basic", 10), *cfg = gen_config("rp_basic",
	    "rp_basic", db, 0, 7), args[800];

	/* 0..9 arrive and are processed by the cron job. */
	snprintf(args, sizeof args, "run -c %s", cfg);
	ok(args);
	cr_assert_eq(live_count("rp_basic", "INBOX"), 0);
	/* A folder holding 0..29: ten known, twenty never seen. */
	live_folder("rp_basic", "Old");
	deliver_range("rp_basic", "Old", 0, 30);

	snprintf(args, sizeof args, "replay -c %s --folder Old", cfg);
	ok(args);
	cr_assert_not_null(strstr(live_err(), "replay: mailbox=Old status=ok "
	    "exit=0 messages=30 archived=0 review=0 "), "%s", live_err());
	cr_assert_not_null(strstr(live_err(), " already=10 "), "%s",
	    live_err());
	cr_assert_eq(live_count("rp_basic", "Old"), 30, "replay moved mail");
	cr_assert_eq(seen_flags("rp_basic", "Old"), 0, "replay set \\Seen");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    30);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE mailbox = 'Old'"), 20);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE replayed"), events_of(10, 30));
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE NOT replayed"), events_of(0, 10));

	/* Again: everything is recorded, nothing changes. */
	ok(args);
	cr_assert_not_null(strstr(live_err(), " already=30 "), "%s",
	    live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    events_of(0, 30));
	cr_assert_eq(live_count("rp_basic", "Old"), 30);
	free(cfg);
	free(db);
}

Test(replay, dry_run_prints_each_decision_and_writes_nothing, .timeout = 60)
{
	char *db = gen_setup("rp_dry", 5), *cfg = gen_config("rp_dry",
	    "rp_dry", db, 0, 50), args[800], *acc0, *acc1;
	int i, lines = 0;
	const char *p;

	snprintf(args, sizeof args, "run -c %s", cfg);
	ok(args);
	live_folder("rp_dry", "Old");
	deliver_range("rp_dry", "Old", 0, 12);
	acc0 = live_sql_str(db, "SELECT string_agg(id || primary_state || "
	    "secondary_state, ',' ORDER BY id) FROM accounts");
	snprintf(args, sizeof args, "replay --dry-run -c %s --folder Old",
	    cfg);
	ok(args);
	for (p = live_out(); (p = strstr(p, " rule=")) != NULL; p++)
		lines++;
	cr_assert_eq(lines, decisions_of(5, 12), "%s", live_out());
	for (i = 0, p = live_out(); (p = strstr(p, "skip=recorded")) != NULL;
	    p++)
		i++;
	cr_assert_eq(i, 5, "%s", live_out());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    5);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    events_of(0, 5));
	acc1 = live_sql_str(db, "SELECT string_agg(id || primary_state || "
	    "secondary_state, ',' ORDER BY id) FROM accounts");
	cr_assert_str_eq(acc0, acc1, "a dry run changed accounts");
	cr_assert_eq(live_count("rp_dry", "Old"), 12);
	free(acc0);
	free(acc1);
	free(cfg);
	free(db);
}

/* A DSN for rcpt dated date (RFC 5322), Message-ID <id>. */
static char *
dated_dsn(const char *rcpt, const char *date, const char *id)
{
	char *m = NULL;

	cr_assert(asprintf(&m,
	    "Date: %s\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.platform.example>\r\n"
	    "To: bounces@platform.example\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Message-ID: <%s>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"B\"\r\n"
	    "\r\n"
	    "--B\r\n"
	    "Content-Type: text/plain\r\n"
	    "\r\n"
	    "<%s>: host mx.example.com said: 550 5.1.1 User unknown\r\n"
	    "\r\n"
	    "--B\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.platform.example\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; %s\r\n"
	    "Action: failed\r\n"
	    "Status: 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <%s>: User unknown\r\n"
	    "\r\n"
	    "--B--\r\n", date, id, rcpt, rcpt, rcpt) > 0);
	return m;
}

Test(replay, since_keeps_recent_bounces_and_times_are_the_bounces,
    .timeout = 60)
{
	char *db = gen_setup("rp_since", 0), *cfg = gen_config("rp_since",
	    "rp_since", db, 0, 50), args[800], *m, *t;

	live_folder("rp_since", "Old");
	m = dated_dsn("user1@example.com", "Fri, 10 Jan 2020 10:00:00 +0000",
	    "old-2020@mx");
	live_deliver("rp_since", "Old", m, strlen(m));
	free(m);
	m = dated_dsn("user2@example.com", "Sun, 01 Jun 2025 12:30:00 +0000",
	    "mid-2025@mx");
	live_deliver("rp_since", "Old", m, strlen(m));
	free(m);

	snprintf(args, sizeof args, "replay -c %s --folder Old --since "
	    "2025-01-01", cfg);
	ok(args);
	cr_assert_not_null(strstr(live_err(), " messages=1 "), "%s",
	    live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    1);
	/* The event's time is the bounce's, not the replay's. */
	t = live_sql_str(db, "SELECT to_char(occurred_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD HH24:MI') FROM rebond.events");
	cr_assert_str_eq(t, "2025-06-01 12:30");
	free(t);

	/* Without --since, the 2020 bounce comes too. */
	snprintf(args, sizeof args, "replay -c %s --folder Old", cfg);
	ok(args);
	cr_assert_not_null(strstr(live_err(), " messages=2 "), "%s",
	    live_err());
	cr_assert_not_null(strstr(live_err(), " already=1 "), "%s",
	    live_err());
	t = live_sql_str(db, "SELECT to_char(min(occurred_at) AT TIME ZONE "
	    "'UTC', 'YYYY-MM-DD') FROM rebond.events");
	cr_assert_str_eq(t, "2020-01-10");
	free(t);

	cr_assert_eq(live_rebond("replay -c x --folder Old --since "
	    "2025-02-30"), 64, "%s", live_err());
	cr_assert_eq(live_rebond("replay -c x --since 2025-02-01"), 64);
	free(cfg);
	free(db);
}

Test(replay, rescore_records_what_changed_and_changes_no_account,
    .timeout = 60)
{
	char *db = gen_setup("rp_rescore", 0), *cfg = gen_config("rp_rescore",
	    "rp_rescore", db, 0, 50), args[800], *m, *acc0, *acc1, *s;

	live_folder("rp_rescore", "Old");
	m = dated_dsn("user1@example.com", "Sun, 01 Jun 2025 12:30:00 +0000",
	    "rescore-1@mx");
	live_deliver("rp_rescore", "Old", m, strlen(m));
	/* A byte-identical copy: one message, rescored once. */
	live_deliver("rp_rescore", "Old", m, strlen(m));
	free(m);
	m = dated_dsn("user2@example.com", "Sun, 01 Jun 2025 12:31:00 +0000",
	    "rescore-2@mx");
	live_deliver("rp_rescore", "Old", m, strlen(m));
	free(m);
	snprintf(args, sizeof args, "replay -c %s --folder Old", cfg);
	ok(args);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE category = 'hard'"), 2);
	/* As if older rules had called the first one a full mailbox. */
	live_sql(db, "UPDATE rebond.events SET category = 'quota', reason = "
	    "'mailboxfull', rule = 'old-rule' WHERE message_id = "
	    "'rescore-1@mx'");
	acc0 = live_sql_str(db, "SELECT string_agg(id || primary_state || "
	    "secondary_state, ',' ORDER BY id) FROM accounts");

	/* Dry run: the change is printed, nothing written. */
	snprintf(args, sizeof args, "replay --dry-run --rescore -c %s "
	    "--folder Old", cfg);
	ok(args);
	cr_assert_not_null(strstr(live_out(), "recipient=user1@example.com "
	    "old=quota/mailboxfull/old-rule new=hard/userunknown/"), "%s",
	    live_out());
	cr_assert_null(strstr(live_out(), "user2@"), "%s", live_out());
	cr_assert_null(strstr(strstr(live_out(), "old=quota/") + 1,
	    "old=quota/"), "printed twice: %s", live_out());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.rescores"),
	    0);

	snprintf(args, sizeof args, "replay --rescore -c %s --folder Old",
	    cfg);
	ok(args);
	cr_assert_not_null(strstr(live_err(), " rescored=1 "), "%s",
	    live_err());
	s = live_sql_str(db, "SELECT recipient || ' ' || old_category || '>' "
	    "|| new_category || ' ' || new_reason FROM rebond.rescores");
	cr_assert_str_eq(s, "user1@example.com quota>hard userunknown");
	free(s);
	/* Recorded once, however often replayed; events and accounts
	 * untouched. */
	ok(args);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.rescores"),
	    1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    2);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE category = 'quota'"), 1);
	acc1 = live_sql_str(db, "SELECT string_agg(id || primary_state || "
	    "secondary_state, ',' ORDER BY id) FROM accounts");
	cr_assert_str_eq(acc0, acc1, "a rescore changed accounts");
	free(acc0);
	free(acc1);
	free(cfg);
	free(db);
}

/* The number after key in the summary line of err. */
static long
field(const char *err, const char *key)
{
	const char *p = strstr(err, " status=ok exit=0 ");

	cr_assert_not_null(p, "no summary in %s", err);
	p = strstr(p, key);
	cr_assert_not_null(p, "no %s in %s", key, err);
	return strtol(p + strlen(key), NULL, 10);
}

/*
 * A run and a replay of the same folder at the same time: each message
 * is applied by exactly one of them (the digests are locked per batch),
 * and the totals are those of a single run.
 */
Test(replay, concurrent_with_a_run_applies_each_message_once,
    .timeout = 120)
{
	char *db = gen_setup("rp_conc", 600), *ref = gen_setup("rp_conc_ref",
	    600), args[800], err_run[4096], err_replay[4096];
	/* Log level info: the summary lines, not a line per batch. */
	char *cfg = strdup(live_config("rp_conc", "rp_conc", db,
	    "[imap]\nbatch = 40\n"));
	char *cfg_ref = strdup(live_config("rp_conc_ref", "rp_conc_ref", ref,
	    "[imap]\nbatch = 40\n"));
	int pr, pp, st, i;
	long fresh;

	snprintf(args, sizeof args, "run -c %s", cfg_ref);
	ok(args);
	snprintf(args, sizeof args, "run -c %s", cfg);
	pr = live_rebond_start(NULL, args, 0);
	/* The replay starts once the run has committed its first batch:
	 * they then overlap for most of the folder. */
	for (i = 0; i < 2000 && live_sql_int(db, "SELECT count(*) FROM "
	    "rebond.messages") == 0; i++) {
		struct timespec d = { 0, 5000000L };

		nanosleep(&d, NULL);
	}
	snprintf(args, sizeof args, "replay -c %s --folder INBOX", cfg);
	pp = live_rebond_start(NULL, args, 1);
	st = live_rebond_wait(pr, 0);
	snprintf(err_run, sizeof err_run, "%s", live_err());
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err_run);
	st = live_rebond_wait(pp, 1);
	snprintf(err_replay, sizeof err_replay, "%s", live_err());
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", err_replay);

	fresh = field(err_run, " messages=") - field(err_run, " already=") +
	    field(err_replay, " messages=") - field(err_replay, " already=");
	cr_assert_eq(fresh, 600, "messages applied: %ld (rows %lld, events "
	    "%lld, want %d)\nrun: %s\nreplay: %s", fresh, live_sql_int(db,
	    "SELECT count(*) FROM rebond.messages"), live_sql_int(db,
	    "SELECT count(*) FROM rebond.events"), events_of(0, 600), err_run,
	    err_replay);
	/* No phantom rows: a message the run moved away under the
	 * replay's feet is skipped by the replay, not taken for an empty
	 * one. */
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    600);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    events_of(0, 600));
	/* Whatever the replay recorded, the run moves where it said. */
	snprintf(args, sizeof args, "run -c %s", cfg);
	ok(args);
	cr_assert_eq(live_count("rp_conc", "INBOX"), 0);
	cr_assert_eq(gen_moved("rp_conc"), 600);
	gen_same_as(db, ref, "SELECT message_id || ' ' || outcome FROM "
	    "rebond.messages", "messages");
	gen_same_as(db, ref, "SELECT message_id || ' ' || rcpt_index || ' ' "
	    "|| category || ' ' || rule FROM rebond.events", "events");
	fprintf(stderr, "SUMMARY: replay concurrent with run: run new=%ld "
	    "replay new=%ld total=%ld of 600\n", field(err_run, " messages=") -
	    field(err_run, " already="), field(err_replay, " messages=") -
	    field(err_replay, " already="), fresh);
	free(cfg);
	free(cfg_ref);
	free(db);
	free(ref);
}

/* State letter of process pid ('T' when stopped), from /proc. */
static char
proc_state(int pid)
{
	char path[64], buf[512], *p;
	FILE *f;
	size_t n;

	snprintf(path, sizeof path, "/proc/%d/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return '?';
	n = fread(buf, 1, sizeof buf - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' ? p[2] : '?';
}

/*
 * The messages of a replay's batch are moved away (by a run) between
 * their sizes and their bodies: Dovecot answers BODY[] NIL for them,
 * and the replay skips them instead of recording empty messages.
 */
Test(replay, messages_moved_away_under_a_replay_are_skipped, .timeout = 60)
{
	char *db = gen_setup("rp_gone", 30), *cfg = gen_config("rp_gone",
	    "rp_gone", db, 0, 50), args[800];
	int pid, st, i;

	snprintf(args, sizeof args, "replay -c %s --folder INBOX", cfg);
	pid = live_rebond_start("REBOND_TEST_KILLPOINT=sized:1:STOP", args,
	    1);
	for (i = 0; i < 1000 && proc_state(pid) != 'T'; i++) {
		struct timespec d = { 0, 5000000L };

		nanosleep(&d, NULL);
	}
	cr_assert_eq(proc_state(pid), 'T', "the replay did not stop");
	snprintf(args, sizeof args, "run -c %s", cfg);
	ok(args);
	cr_assert_eq(live_count("rp_gone", "INBOX"), 0);
	kill(pid, SIGCONT);
	st = live_rebond_wait(pid, 1);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "replay: mailbox=INBOX "
	    "status=ok exit=0 messages=0 "), "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "FETCH without a body"), "%s",
	    live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    30);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE message_id IS NULL"), 0);
	free(cfg);
	free(db);
}

/*
 * Replayed bounces carry their own dates: an old one is recorded as of
 * its date and warns nobody, its problem saying why; a fresh one warns
 * as a run would. The replay itself sends
 * nothing: what it queued leaves with the next run.
 */
Test(replay, an_old_backlog_warns_nobody, .timeout = 60)
{
	char *db = gen_setup("rp_old", 0), *cfg = gen_config("rp_old",
	    "rp_old", db, 0, 50), args[800], *m, today[64], *t;
	time_t now = time(NULL);
	struct tm tm;

	gmtime_r(&now, &tm);
	strftime(today, sizeof today, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	live_folder("rp_old", "Old");
	/* Both accounts have a secondary address to be warned at. */
	m = dated_dsn("user6@example.com", "Fri, 10 Jan 2020 10:00:00 +0000",
	    "old-1@mx");
	live_deliver("rp_old", "Old", m, strlen(m));
	free(m);
	m = dated_dsn("user3@example.com", today, "fresh-1@mx");
	live_deliver("rp_old", "Old", m, strlen(m));
	free(m);
	snprintf(args, sizeof args, "replay -c %s --folder Old", cfg);
	ok(args);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE replayed AND category = 'hard'"), 2);
	t = live_sql_str(db, "SELECT to_char(occurred_at AT TIME ZONE 'UTC', "
	    "'YYYY-MM-DD') FROM rebond.events WHERE message_id = 'old-1@mx'");
	cr_assert_str_eq(t, "2020-01-10");
	free(t);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox o "
	    "JOIN accounts a ON a.id = o.account_id WHERE o.channel IN "
	    "('email', 'sms') AND a.primary_email = 'user6@example.com'"), 0,
	    "a 2020 bounce warned a user");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.problems p "
	    "JOIN accounts a ON a.id = p.account_id WHERE p.reason = "
	    "'old_bounce' AND a.primary_email = 'user6@example.com'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox o "
	    "JOIN accounts a ON a.id = o.account_id WHERE o.channel IN "
	    "('email', 'sms') AND a.primary_email = 'user3@example.com'"), 1,
	    "today's bounce warned nobody");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox "
	    "WHERE sent_at IS NOT NULL"), 0);
	free(cfg);
	free(db);
}
