/*
 * live_run.c - `rebond run` end to end against real Dovecot and
 * PostgreSQL: rows recorded, accounts flagged, messages moved only after
 * COMMIT, a second run changes nothing, TLS verified before LOGIN.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "live.h"

/* Two accounts: alice (primary), bob (primary) with carol as secondary. */
static void
seed_accounts(const char *db)
{
	live_sql(db,
	    "INSERT INTO accounts (id, primary_email, secondary_email, phone) "
	    "VALUES (1, 'Alice@Example.com', NULL, '+33600000001'),"
	    " (2, 'bob@example.org', ' carol@example.net ', NULL)");
}

static void
deliver_dsn(const char *user, const char *rcpt, const char *status,
    const char *diag, int seq)
{
	char *m = live_dsn(rcpt, status, diag, seq);

	live_deliver(user, "INBOX", m, strlen(m));
	free(m);
}

static const char junk[] =
    "From: Newsletter <news@shop.example>\r\n"
    "To: bounces@platform.example\r\n"
    "Subject: Black Friday!\r\n"
    "Message-ID: <news-1@shop.example>\r\n"
    "Date: Thu, 26 Nov 2026 05:00:00 +0000\r\n"
    "\r\n"
    "Our best prices of the year.\r\n";

Test(run, records_flags_and_archives_then_second_run_changes_nothing,
    .timeout = 60)
{
	const char *db = live_db_migrated("run_basic");
	const char *cfg;
	char args[600];
	int rc;

	seed_accounts(db);
	live_mailbox("run_basic");
	deliver_dsn("run_basic", "alice@example.com", "5.1.1",
	    "550 5.1.1 <alice@example.com>: Recipient address rejected: "
	    "User unknown in virtual mailbox table", 1);
	deliver_dsn("run_basic", "carol@example.net", "5.2.2",
	    "552 5.2.2 Mailbox full", 2);
	deliver_dsn("run_basic", "nobody@example.com", "5.1.1",
	    "550 5.1.1 No such user", 3);
	live_deliver("run_basic", "INBOX", junk, strlen(junk));
	cfg = live_config("run_basic", "run_basic", db, NULL);
	snprintf(args, sizeof args, "run -c %s", cfg);

	rc = live_rebond(args);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "messages=4"), "%s", live_err());

	/* Database: one row per message, one event per recipient. */
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    4);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE outcome = 'review'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    3);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE recipient = 'alice@example.com' AND account_id = 1 AND "
	    "role = 'primary' AND category = 'hard' AND status = '5.1.1' AND "
	    "reply_code = 550 AND rule <> ''"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE recipient = 'carol@example.net' AND account_id = 2 AND "
	    "role = 'secondary' AND category = 'quota'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE recipient = 'nobody@example.com' AND account_id IS NULL"),
	    1);
	/* Event time is the bounce's own Date:, not the run's clock. */
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE occurred_at = '2026-11-26 06:01:00+00'"), 1);
	/* Accounts: the bounced address's state is its category. */
	{
		char *s = live_sql_str(db, "SELECT primary_state || ',' || "
		    "secondary_state FROM accounts WHERE id = 1");

		cr_assert_str_eq(s, "hard,ok");
		free(s);
		s = live_sql_str(db, "SELECT primary_state || ',' || "
		    "secondary_state FROM accounts WHERE id = 2");
		cr_assert_str_eq(s, "ok,quota");
		free(s);
	}
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state_since IS NOT NULL"), 1);

	/* IMAP: folders created, each message in exactly one place. */
	cr_assert_eq(live_count("run_basic", "INBOX"), 0);
	cr_assert_eq(live_count("run_basic", "Archive"), 3);
	cr_assert_eq(live_count("run_basic", "Review"), 1);

	/* A second run: nothing new, nothing moved. */
	rc = live_rebond(args);
	cr_assert_eq(rc, 0, "second run exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "messages=0"), "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    4);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    3);
	cr_assert_eq(live_count("run_basic", "Archive"), 3);
	cr_assert_eq(live_count("run_basic", "Review"), 1);
}

/* A message that comes back (restored from a backup, copied back by
 * hand) is recognised by its digest: never applied twice, and since its
 * copy is already in the archive, only removed from the bounce folder. */
Test(run, reappearing_message_is_moved_not_reapplied, .timeout = 60)
{
	const char *db = live_db_migrated("run_again");
	char *m = live_dsn("alice@example.com", "5.1.1", "550 5.1.1 unknown",
	    7);
	char args[600];
	int rc;

	seed_accounts(db);
	live_mailbox("run_again");
	live_deliver("run_again", "INBOX", m, strlen(m));
	snprintf(args, sizeof args, "run -c %s",
	    live_config("run_again", "run_again", db, NULL));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	/* The same bytes arrive again, e.g. restored from a backup. */
	live_deliver("run_again", "INBOX", m, strlen(m));
	live_sql(db, "UPDATE accounts SET primary_state = 'ok', "
	    "primary_state_since = NULL");
	rc = live_rebond(args);
	cr_assert_eq(rc, 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "already=1"), "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "primary_state = 'ok'"), 2, "the old bounce was applied again");
	cr_assert_not_null(strstr(live_err(), "already in Archive"), "%s",
	    live_err());
	cr_assert_eq(live_count("run_again", "INBOX"), 0);
	cr_assert_eq(live_count("run_again", "Archive"), 1);
	free(m);
}

Test(run, dry_run_writes_and_moves_nothing, .timeout = 60)
{
	const char *db = live_db_migrated("run_dry");
	char args[600];
	int rc;

	seed_accounts(db);
	live_mailbox("run_dry");
	deliver_dsn("run_dry", "alice@example.com", "5.1.1",
	    "550 5.1.1 User unknown", 1);
	snprintf(args, sizeof args, "run --dry-run -c %s",
	    live_config("run_dry", "run_dry", db, NULL));
	rc = live_rebond(args);
	cr_assert_eq(rc, 0, "%s", live_err());
	cr_assert_not_null(strstr(live_out(), "recipient=alice@example.com "
	    "reason=userunknown category=hard rule="), "%s", live_out());
	cr_assert_not_null(strstr(live_out(), "account=1 role=primary "
	    "set=primary_state:hard"), "%s", live_out());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    0);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "primary_state <> 'ok'"), 0);
	cr_assert_eq(live_count("run_dry", "INBOX"), 1);
	/* Its summary line cannot be taken for a real run's in the logs. */
	cr_assert_not_null(strstr(live_err(), "dry_run=1"), "%s", live_err());
}

Test(run, held_lock_means_another_run_is_working, .timeout = 60)
{
	const char *db = live_db_migrated("run_lock");
	char args[600], key[300];
	PGconn *c;
	PGresult *r;
	const char *params[1] = { key };

	live_mailbox("run_lock");
	deliver_dsn("run_lock", "alice@example.com", "5.1.1", "550 unknown",
	    1);
	snprintf(args, sizeof args, "run -c %s",
	    live_config("run_lock", "run_lock", db, NULL));
	snprintf(key, sizeof key, "rebond run run_lock@localhost/INBOX");
	c = PQconnectdb(db);
	cr_assert_eq(PQstatus(c), CONNECTION_OK);
	r = PQexecParams(c, "SELECT pg_advisory_lock(hashtextextended($1, 0))",
	    1, NULL, params, NULL, NULL, 0);
	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK);
	PQclear(r);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "another run holds the lock"),
	    "%s", live_err());
	cr_assert_eq(live_count("run_lock", "INBOX"), 1);
	PQfinish(c);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_count("run_lock", "INBOX"), 0);
}

Test(run, unmigrated_database_is_a_configuration_error, .timeout = 60)
{
	const char *db = live_db("run_nomig");
	char args[600];
	int rc;

	live_mailbox("run_nomig");
	snprintf(args, sizeof args, "run -c %s",
	    live_config("run_nomig", "run_nomig", db, NULL));
	rc = live_rebond(args);
	cr_assert_eq(rc, 78, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "run rebond migrate"), "%s",
	    live_err());
}

/* A folder that does not exist is a mistake to fix (78), not a failure
 * that the next run would retry (75); a replay of one too. */
Test(run, missing_folder_is_a_configuration_error, .timeout = 60)
{
	const char *db = live_db_migrated("run_nofolder");
	char args[700];
	int rc;

	live_mailbox("run_nofolder");
	snprintf(args, sizeof args, "run -c %s", live_config("run_nofolder",
	    "run_nofolder", db, "[imap]\nfolder = Bounces\n"));
	rc = live_rebond(args);
	cr_assert_eq(rc, 78, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "folder \"Bounces\" does not "
	    "exist"), "%s", live_err());
	snprintf(args, sizeof args, "replay -c %s --folder Nope --dry-run",
	    live_config("run_nofolder2", "run_nofolder", db, NULL));
	rc = live_rebond(args);
	cr_assert_eq(rc, 78, "exit %d: %s", rc, live_err());
}

/*
 * Databases of one fresh cluster migrating at once each create or find
 * the group roles (003, 011): none may fail. Rounds of two, the roles
 * dropped between rounds so that each round races for them again (011
 * failed 5 pairs in 40 with "role rebond_sender does not exist" when its
 * GRANTs came right after its CREATE ROLE).
 */
Test(run, concurrent_migrations_of_a_fresh_cluster, .timeout = 240)
{
	char cmd[800], host[400] = "", port[16] = "", admin[600], ci[2][600],
	    args[2][1400], name[2][32];
	int round, i, pid[2], st;

	live_pg_cluster("mig", host, sizeof host, port, sizeof port);
	snprintf(admin, sizeof admin, "host=%s port=%s user=postgres "
	    "dbname=postgres", host, port);
	for (round = 0; round < 20; round++) {
		for (i = 0; i < 2; i++) {
			snprintf(name[i], sizeof name[i], "mig_%d_%d", round, i);
			snprintf(ci[i], sizeof ci[i], "%s",
			    live_db_at(host, port, name[i]));
			snprintf(args[i], sizeof args[i], "migrate --conninfo "
			    "'%s' --sql-dir %s/sql", ci[i],
			    live_env("REBOND_SRCDIR"));
		}
		for (i = 0; i < 2; i++)
			pid[i] = live_rebond_start(NULL, args[i], i);
		for (i = 0; i < 2; i++) {
			st = live_rebond_wait(pid[i], i);
			cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
			    "round %d, database %d: %s", round, i, live_err());
		}
		for (i = 0; i < 2; i++) {
			snprintf(cmd, sizeof cmd, "DROP DATABASE %s", name[i]);
			live_sql(admin, cmd);
		}
		live_sql(admin, "DROP ROLE rebond_sender, rebond_job, "
		    "rebond_admin");
	}
}

/* The database refuses the login: 77, as a refused IMAP login; it does
 * not exist: 78. Neither is for the next run to retry (75). */
Test(run, database_login_refused_is_77_missing_database_78,
    .timeout = 60)
{
	char ci[600], args[800];
	int rc;

	live_mailbox("run_dbauth");
	snprintf(ci, sizeof ci, "host=%s port=%s user=no_such_role "
	    "dbname=postgres", live_env("REBOND_TEST_PGHOST"),
	    live_env("REBOND_TEST_PGPORT"));
	snprintf(args, sizeof args, "run -c %s",
	    live_config("run_dbauth", "run_dbauth", ci, NULL));
	rc = live_rebond(args);
	cr_assert_eq(rc, 77, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "no_such_role"), "%s",
	    live_err());
	snprintf(ci, sizeof ci, "host=%s port=%s user=postgres "
	    "dbname=no_such_db", live_env("REBOND_TEST_PGHOST"),
	    live_env("REBOND_TEST_PGPORT"));
	snprintf(args, sizeof args, "run -c %s",
	    live_config("run_dbauth2", "run_dbauth", ci, NULL));
	rc = live_rebond(args);
	cr_assert_eq(rc, 78, "exit %d: %s", rc, live_err());
	snprintf(args, sizeof args, "report --conninfo '%s'", ci);
	rc = live_rebond(args);
	cr_assert_eq(rc, 78, "report exit %d: %s", rc, live_err());
}

Test(run, migrate_is_idempotent, .timeout = 60)
{
	const char *db = live_db_migrated("run_mig");
	char args[600];

	cr_assert_not_null(strstr(live_out(), "applied)"), "%s",
	    live_out());
	snprintf(args, sizeof args, "migrate --conninfo '%s' --sql-dir %s/sql",
	    db, live_env("REBOND_SRCDIR"));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_not_null(strstr(live_out(), "(0 migrations applied)"), "%s",
	    live_out());
	cr_assert(live_sql_int(db, "SELECT max(version) FROM "
	    "rebond.schema_version") >= 1);
}

/*
 * A platform that had its accounts table, with its own index under a name
 * 001 uses (CREATE UNIQUE INDEX ON accounts (primary_email) is named
 * accounts_primary_email_idx): 001 left it alone, and 009, which drops
 * 001's lower(btrim()) indexes, keeps it too; rebond's key indexes exist.
 */
Test(run, migrate_keeps_the_platforms_own_indexes, .timeout = 60)
{
	const char *db = live_db("run_own_idx");
	char path[700], args[600], *sql, *a, *b;

	/* The platform's table: 001's own CREATE TABLE, run before. */
	snprintf(path, sizeof path, "%s/sql/001_schema.sql",
	    live_env("REBOND_SRCDIR"));
	sql = live_slurp(path);
	cr_assert_not_null(sql, "%s", path);
	a = strstr(sql, "CREATE TABLE IF NOT EXISTS public.accounts (");
	cr_assert_not_null(a);
	b = strstr(a, "\n);");
	cr_assert_not_null(b);
	b[3] = '\0';
	live_sql(db, a);
	free(sql);
	live_sql(db, "CREATE UNIQUE INDEX ON accounts (primary_email)");
	live_sql(db, "CREATE INDEX accounts_secondary_email_idx ON accounts "
	    "(secondary_email)");
	snprintf(args, sizeof args, "migrate --conninfo '%s' --sql-dir %s/sql",
	    db, live_env("REBOND_SRCDIR"));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM pg_indexes WHERE "
	    "indexname = 'accounts_primary_email_idx' AND indexdef LIKE "
	    "'CREATE UNIQUE INDEX %(primary_email)'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM pg_indexes WHERE "
	    "indexname = 'accounts_secondary_email_idx' AND indexdef LIKE "
	    "'%(secondary_email)'"), 1);
	/* 001's pending index was 001's: gone; the keys' are there. */
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM pg_indexes WHERE "
	    "indexname = 'accounts_pending_email_idx'"), 0);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM pg_indexes WHERE "
	    "indexname LIKE 'accounts_%_email_key_idx' AND indexdef LIKE "
	    "'%rebond.addr_key%'"), 3);
	live_sql(db, "INSERT INTO accounts (primary_email) VALUES "
	    "('dup@own-idx.example')");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts"), 1);
}

/*
 * An account the platform deleted before sql/010 left its open problems
 * in the admin queue and its unsent mails waiting: 010 resolves and
 * cancels them once (the rows of no account, the admins', stay).
 */
Test(run, migrate_forgets_accounts_deleted_before, .timeout = 60)
{
	static const char *const names[] = { "001_schema", "002_policy",
	    "003_roles", "004_replay", "005_deadlines", "006_alerts_soft",
	    "007_soft_index", "008_locks", "009_address_key" };
	const char *db = live_db("run_mig_del");
	char dir[600], from[700], to[700], args[1400];
	size_t i;

	/* The migrations up to 009, as a database has them before 010. */
	snprintf(dir, sizeof dir, "%s/sql-009", live_dir());
	cr_assert(mkdir(dir, 0700) == 0 || errno == EEXIST, "%s", dir);
	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		snprintf(from, sizeof from, "%s/sql/%s.sql",
		    live_env("REBOND_SRCDIR"), names[i]);
		snprintf(to, sizeof to, "%s/%s.sql", dir, names[i]);
		cr_assert(symlink(from, to) == 0 || errno == EEXIST, "%s", to);
	}
	snprintf(args, sizeof args, "migrate --conninfo '%s' --sql-dir %s", db,
	    dir);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT max(version) FROM "
	    "rebond.schema_version"), 9);
	live_sql(db, "INSERT INTO accounts (id, primary_email) VALUES "
	    "(1, 'gone@mig-del.example'), (2, 'kept@mig-del.example')");
	live_sql(db, "INSERT INTO rebond.problems (account_id, role, category, "
	    "address, since) VALUES (1, 'primary', 'hard', "
	    "'gone@mig-del.example', now()), (2, 'primary', 'hard', "
	    "'kept@mig-del.example', now())");
	live_sql(db, "INSERT INTO rebond.outbox (account_id, channel, "
	    "destination, template) VALUES (1, 'sms', '+33600000001', 'hard'), "
	    "(2, 'sms', '+33600000002', 'hard'), "
	    "(NULL, 'admin', 'admins@mig-del.example', 'admin_digest')");
	live_sql(db, "INSERT INTO rebond.email_changes (account_id, new_email, "
	    "token_sha256, deadline) VALUES (1, 'gone@mig-del-new.example', "
	    "'x', now() + interval '1 day')");
	live_sql(db, "DELETE FROM accounts WHERE id = 1");
	live_migrate(db);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM "
	    "rebond.schema_version WHERE version = 10"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.admin_queue "
	    "WHERE account_id = 1"), 0);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.admin_queue "
	    "WHERE account_id = 2"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox "
	    "WHERE cancelled_at IS NOT NULL"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox "
	    "WHERE cancelled_at IS NOT NULL AND account_id = 1"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM "
	    "rebond.email_changes WHERE status = 'cancelled'"), 1);
}

/* A password on the command line is for every local user to read: the
 * connection string is refused before anything connects. */
Test(run, migrate_refuses_a_password_on_the_command_line, .timeout = 60)
{
	char args[600];
	int rc;

	snprintf(args, sizeof args, "migrate --conninfo 'host=127.0.0.1 "
	    "dbname=nothing password=s3cret' --sql-dir %s/sql",
	    live_env("REBOND_SRCDIR"));
	rc = live_rebond(args);
	cr_assert_eq(rc, 64, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "holds a password"), "%s",
	    live_err());
	cr_assert_null(strstr(live_err(), "s3cret"), "%s", live_err());
	snprintf(args, sizeof args, "migrate --conninfo 'host=127.0.0.1 "
	    "bad' --sql-dir %s/sql", live_env("REBOND_SRCDIR"));
	rc = live_rebond(args);
	cr_assert_eq(rc, 64, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "--conninfo:"), "%s",
	    live_err());
}

/*
 * rebond as cron starts it: no --stderr, stderr a file (not a terminal).
 * journal: JOURNAL_STREAM names that file, as systemd names its stream.
 * Returns the exit status; what rebond printed is in err.
 */
static int
cron_run(const char *cfg, int journal, char *err, size_t len)
{
	char cmd[4096], path[512];
	FILE *f;
	size_t n;
	int st;

	snprintf(path, sizeof path, "%s/cron-err.%d", live_dir(),
	    (int)getpid());
	if (journal)
		snprintf(cmd, sizeof cmd, ": >%s && JOURNAL_STREAM=$(stat -c "
		    "%%d:%%i %s) exec %s run -c %s >>%s 2>>%s </dev/null",
		    path, path, live_env("REBOND_BIN"), cfg, path, path);
	else
		snprintf(cmd, sizeof cmd, ": >%s && unset JOURNAL_STREAM && "
		    "exec %s run -c %s >>%s 2>>%s </dev/null", path,
		    live_env("REBOND_BIN"), cfg, path, path);
	st = system(cmd);
	cr_assert(st != -1 && WIFEXITED(st), "%s", cmd);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	n = fread(err, 1, len - 1, f);
	err[n] = '\0';
	fclose(f);
	unlink(path);
	return WEXITSTATUS(st);
}

/* Quiet when all is well, loud when not: cron mails output only. */
Test(run, under_cron_errors_are_printed_and_success_is_silent,
    .timeout = 60)
{
	const char *db = live_db_migrated("run_cron");
	char err[8192];
	int rc;

	seed_accounts(db);
	live_mailbox("run_cron");
	deliver_dsn("run_cron", "alice@example.com", "5.1.1",
	    "550 5.1.1 user unknown", 1);
	rc = cron_run(live_config("run_cron", "run_cron", db, NULL), 0, err,
	    sizeof err);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, err);
	cr_assert_str_empty(err, "a good run printed: %s", err);
	cr_assert_eq(live_count("run_cron", "Archive"), 1);

	deliver_dsn("run_cron", "alice@example.com", "5.1.1",
	    "550 5.1.1 user unknown", 2);
	rc = cron_run(live_config("run_cron_down", "run_cron",
	    "host=127.0.0.1 port=1 user=postgres dbname=run_cron "
	    "connect_timeout=2", NULL), 0, err, sizeof err);
	cr_assert_eq(rc, 75, "exit %d: %s", rc, err);
	cr_assert_not_null(strstr(err, "rebond: error: database: connect "
	    "failed"), "%s", err);
	cr_assert_not_null(strstr(err, "status=failed"), "%s", err);
	cr_assert_null(strstr(err, "info:"), "%s", err);

	/* Under systemd the journal has the lines already. */
	rc = cron_run(live_config("run_cron_down", "run_cron",
	    "host=127.0.0.1 port=1 user=postgres dbname=run_cron "
	    "connect_timeout=2", NULL), 1, err, sizeof err);
	cr_assert_eq(rc, 75, "exit %d: %s", rc, err);
	cr_assert_str_empty(err, "printed to the journal's stream: %s", err);
	cr_assert_eq(live_count("run_cron", "INBOX"), 1);
}

/* A server without MOVE: UID COPY + STORE \Deleted + UID EXPUNGE. */
Test(run, fallback_without_move, .timeout = 60)
{
	const char *db = live_db_migrated("run_nomove");
	char args[900], cmd[600], extra[200];
	FILE *p;
	int port = 0;

	snprintf(cmd, sizeof cmd, "%s/tests/servers.sh dovecot %s nomove "
	    "'IMAP4rev1 LITERAL+ IDLE UIDPLUS'", live_env("REBOND_SRCDIR"),
	    live_dir());
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "export REBOND_TEST_NOMOVE_PORT=%d", &port), 1);
	pclose(p);
	seed_accounts(db);
	live_mailbox("run_nomove");
	deliver_dsn("run_nomove", "alice@example.com", "5.1.1",
	    "550 5.1.1 User unknown", 1);
	live_deliver("run_nomove", "INBOX", junk, strlen(junk));
	snprintf(extra, sizeof extra, "[imap]\ntls = starttls\nport = %d\n",
	    port);
	snprintf(args, sizeof args, "run -c %s",
	    live_config("run_nomove", "run_nomove", db, extra));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_count("run_nomove", "INBOX"), 0);
	cr_assert_eq(live_count("run_nomove", "Archive"), 1);
	cr_assert_eq(live_count("run_nomove", "Review"), 1);
}
