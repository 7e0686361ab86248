/*
 * live_faults.c - issue 5: a bad environment is a temporary failure.
 *
 * Dovecot stopped in the middle of a run, PostgreSQL stopped in the
 * middle of a run (-m immediate), an IMAP server that accepts the
 * connection and then says nothing, a closed IMAP port, an unreachable
 * PostgreSQL: each run exits 75 with exactly one `error` line naming the
 * failure (plus the summary line), has moved nothing it had not
 * committed, and the next run finishes the work.
 *
 * Each test stops only servers of its own (tests/servers.sh dovecot /
 * postgres start extra ones), so the tests can run in parallel.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "live.h"

#define BATCH 20

static double
now_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/*
 * The run failed as a temporary failure should: exit 75, one `error`
 * line containing want, the summary (status=failed exit=75). Returns
 * the error line, for the test's own checks.
 */
static void
check_one_error(int st, const char *err, const char *want,
    const char *what)
{
	const char *p, *line = NULL;
	int n = 0;

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 75, "%s: status %d: %s",
	    what, st, err);
	for (p = err; (p = strstr(p, "rebond: error: ")) != NULL; p++) {
		if (strncmp(p + 15, "run: mailbox=", 13) == 0)
			continue;	/* the summary */
		line = p;
		n++;
	}
	cr_assert_eq(n, 1, "%s: %d error lines: %s", what, n, err);
	cr_assert(strstr(line, want) != NULL && strstr(line, want) <
	    line + strcspn(line, "\n"), "%s: the error line does not say "
	    "\"%s\": %s", what, want, err);
	cr_assert_not_null(strstr(err, "status=failed exit=75 "), "%s: %s",
	    what, err);
}

/* Run args to the end; assert exit 0 and an empty bounce folder, every
 * message once, one row each. */
static void
finish(const char *user, const char *db, const char *args, int n)
{
	struct census *c = calloc(1, sizeof *c);
	int st = live_rebond_env(NULL, args), i;

	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: next run: %s",
	    user, live_err());
	cr_assert_eq(live_count(user, "INBOX"), 0, "%s", user);
	gen_census(user, db, c);
	gen_check_moved_were_committed(c, user);
	for (i = 0; i < n; i++)
		cr_assert_eq(c->where[i][GEN_ARCHIVE] + c->where[i][GEN_REVIEW],
		    1, "%s: message %d", user, i);
	cr_assert_eq(c->ncommitted, n, "%s", user);
	free(c);
}

/* Wait until the run started as pid has committed a batch. */
static void
wait_first_commit(const char *db, int pid)
{
	int i;

	for (i = 0; i < 2000; i++) {
		struct timespec d = { 0, 5000000L };

		if (live_sql_int(db, "SELECT count(*) FROM rebond.messages") >
		    0)
			return;
		cr_assert_eq(kill(pid, 0), 0, "the run ended too early");
		nanosleep(&d, NULL);
	}
	cr_assert_fail("no commit after 10 s");
}

static void
servers(const char *verb, const char *name)
{
	char cmd[800];

	snprintf(cmd, sizeof cmd, "%s/tests/servers.sh %s %s %s",
	    live_env("REBOND_SRCDIR"), verb, live_dir(), name);
	cr_assert_eq(system(cmd), 0, "%s", cmd);
}

Test(faults, dovecot_stopped_mid_run_exits_75_then_next_run_finishes,
    .timeout = 180)
{
	int port = live_dovecot("fault-imap", "");
	char *db = gen_setup("f_imap", 1000), *cfg = gen_config("f_imap",
	    "f_imap", db, port, BATCH), args[700];
	struct census *c = calloc(1, sizeof *c);
	int pid, st;

	snprintf(args, sizeof args, "run -c %s", cfg);
	pid = live_rebond_start(NULL, args, 0);
	wait_first_commit(db, pid);
	servers("dovecot-stop", "fault-imap");
	st = live_rebond_wait(pid, 0);
	check_one_error(st, live_err(), "imap: host=localhost", "dovecot");
	cr_assert_gt(live_count("f_imap", "INBOX"), 0, "the run finished");
	gen_census("f_imap", db, c);
	gen_check_moved_were_committed(c, "dovecot stopped");
	fprintf(stderr, "SUMMARY: fault=dovecot-stopped exit=%d "
	    "committed=%d left=%d error=\"%.*s\"\n", WEXITSTATUS(st),
	    c->ncommitted, live_count("f_imap", "INBOX"),
	    (int)strcspn(strstr(live_err(), "error: imap"), "\n"),
	    strstr(live_err(), "error: imap"));
	servers("dovecot-start", "fault-imap");
	finish("f_imap", db, args, 1000);
	free(c);
	free(cfg);
	free(db);
}

Test(faults, postgresql_stopped_mid_run_exits_75_then_next_run_finishes,
    .timeout = 180)
{
	char host[400] = "", port[16] = "", *db, *cfg, args[700], extra[300];
	struct census *c = calloc(1, sizeof *c);
	int pid, st;

	live_pg_cluster("fault", host, sizeof host, port, sizeof port);
	db = strdup(live_migrate(live_db_at(host, port, "f_pg")));
	gen_init(gen_seed());
	gen_seed_accounts(db);
	live_mailbox("f_pg");
	gen_deliver("f_pg", 1000);
	snprintf(extra, sizeof extra, "[imap]\nbatch = %d\n", BATCH);
	cfg = strdup(live_config("f_pg", "f_pg", db, extra));
	snprintf(args, sizeof args, "run -c %s", cfg);

	pid = live_rebond_start(NULL, args, 0);
	wait_first_commit(db, pid);
	servers("pg-crash", "pg-fault");
	st = live_rebond_wait(pid, 0);
	check_one_error(st, live_err(), "database: ", "postgresql");
	servers("pg-start", "pg-fault");
	cr_assert_gt(live_count("f_pg", "INBOX"), 0, "the run finished");
	gen_census("f_pg", db, c);
	gen_check_moved_were_committed(c, "postgresql stopped");
	fprintf(stderr, "SUMMARY: fault=postgresql-stopped exit=%d "
	    "committed=%d left=%d error=\"%.*s\"\n", WEXITSTATUS(st),
	    c->ncommitted, live_count("f_pg", "INBOX"),
	    (int)strcspn(strstr(live_err(), "error: database"), "\n"),
	    strstr(live_err(), "error: database"));
	finish("f_pg", db, args, 1000);
	free(c);
	free(cfg);
	free(db);
}

/* A TCP server on 127.0.0.1 that accepts and never writes; its port
 * and pid. */
static FILE *
silent_server(int *port_r, int *pid_r)
{
	static const char script[] =
	    "import os, socket, time\n"
	    "s = socket.socket()\n"
	    "s.bind(('127.0.0.1', 0))\n"
	    "s.listen(16)\n"
	    "print(os.getpid(), s.getsockname()[1], flush=True)\n"
	    "held = []\n"
	    "s.settimeout(1)\n"
	    "end = time.time() + 120\n"
	    "while time.time() < end:\n"
	    "    try:\n"
	    "        held.append(s.accept()[0])\n"
	    "    except socket.timeout:\n"
	    "        pass\n";
	char path[600], cmd[800];
	FILE *f, *p;

	snprintf(path, sizeof path, "%s/silent.py", live_dir());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "exec /usr/bin/python3 %s", path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%d %d", pid_r, port_r), 2);
	return p;
}

Test(faults, silent_imap_server_times_out_with_75, .timeout = 120)
{
	static const char *const modes[] = { "implicit", "starttls" };
	char *db = gen_setup("f_silent", 30), *cfg, extra[300], args[700];
	int port, pid, st, i;
	FILE *p = silent_server(&port, &pid);

	for (i = 0; i < 2; i++) {
		double t0, dt;

		snprintf(extra, sizeof extra, "[imap]\nport = %d\n"
		    "tls = %s\ntimeout = 2\n", port, modes[i]);
		snprintf(args, sizeof args, "run -c %s", live_config("f_silent",
		    "f_silent", db, extra));
		t0 = now_s();
		st = live_rebond_env(NULL, args);
		dt = now_s() - t0;
		check_one_error(st, live_err(), "within timeout=2s", modes[i]);
		/* One timeout, not two: no LOGOUT on a dead stream. */
		cr_assert(dt >= 1.9 && dt < 3.9, "%s: %.2fs", modes[i], dt);
		cr_assert_eq(live_count("f_silent", "INBOX"), 30);
		fprintf(stderr, "SUMMARY: fault=silent-server tls=%s exit=%d "
		    "duration=%.1fs error=\"%.*s\"\n", modes[i],
		    WEXITSTATUS(st), dt,
		    (int)strcspn(strstr(live_err(), "error: imap"), "\n"),
		    strstr(live_err(), "error: imap"));
	}
	kill(pid, SIGTERM);
	pclose(p);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    0);
	cfg = gen_config("f_silent", "f_silent", db, 0, BATCH);
	snprintf(args, sizeof args, "run -c %s", cfg);
	finish("f_silent", db, args, 30);
	free(cfg);
	free(db);
}

/* A port nobody listens on: bound, then closed. */
static int
closed_port(void)
{
	FILE *p = popen("/usr/bin/python3 -c 'import socket; s = "
	    "socket.socket(); s.bind((\"127.0.0.1\", 0)); "
	    "print(s.getsockname()[1])'", "r");
	int port = 0;

	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%d", &port), 1);
	pclose(p);
	return port;
}

Test(faults, closed_imap_port_exits_75, .timeout = 60)
{
	char *db = gen_setup("f_closed", 30), *cfg, extra[300], args[700];
	int st;

	snprintf(extra, sizeof extra, "[imap]\nport = %d\n", closed_port());
	snprintf(args, sizeof args, "run -c %s", live_config("f_closed",
	    "f_closed", db, extra));
	st = live_rebond_env(NULL, args);
	check_one_error(st, live_err(), "cannot connect", "closed port");
	fprintf(stderr, "SUMMARY: fault=closed-imap-port exit=%d "
	    "error=\"%.*s\"\n", WEXITSTATUS(st),
	    (int)strcspn(strstr(live_err(), "error: imap"), "\n"),
	    strstr(live_err(), "error: imap"));
	cr_assert_eq(live_count("f_closed", "INBOX"), 30);
	cfg = gen_config("f_closed", "f_closed", db, 0, BATCH);
	snprintf(args, sizeof args, "run -c %s", cfg);
	finish("f_closed", db, args, 30);
	free(cfg);
	free(db);
}

Test(faults, unreachable_postgresql_exits_75, .timeout = 60)
{
	char *db = gen_setup("f_nodb", 30), *cfg, bad[300], args[700];
	int st;

	snprintf(bad, sizeof bad, "host=127.0.0.1 port=%d user=postgres "
	    "dbname=f_nodb connect_timeout=2", closed_port());
	snprintf(args, sizeof args, "run -c %s", live_config("f_nodb",
	    "f_nodb", bad, NULL));
	st = live_rebond_env(NULL, args);
	check_one_error(st, live_err(), "database: connect failed",
	    "no database");
	fprintf(stderr, "SUMMARY: fault=postgresql-unreachable exit=%d "
	    "error=\"%.*s\"\n", WEXITSTATUS(st),
	    (int)strcspn(strstr(live_err(), "error: database"), "\n"),
	    strstr(live_err(), "error: database"));
	cr_assert_eq(live_count("f_nodb", "INBOX"), 30);
	cfg = gen_config("f_nodb", "f_nodb", db, 0, BATCH);
	snprintf(args, sizeof args, "run -c %s", cfg);
	finish("f_nodb", db, args, 30);
	free(cfg);
	free(db);
}

/* The value of the sample line starting with key in the textfile. */
static double
prom(const char *path, const char *key)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	double v = -1;
	size_t kl = strlen(key);

	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ')
			v = atof(line + kl + 1);
	fclose(f);
	cr_assert_geq(v, 0, "no sample %s in %s", key, path);
	return v;
}

/* The textfile after a good run and a failed one: counters add up, the
 * failure is counted, the last success stays. Each series is labelled
 * with its mailbox as user@host/folder: one collector reads the files of
 * every mailbox. */
#define MB "f_prom@localhost/INBOX"
Test(faults, metrics_textfile_counts_runs_errors_and_last_success,
    .timeout = 60)
{
	char *db = gen_setup("f_prom", 40), extra[600], prompath[300],
	    args[700];
	double ok_at;
	int st;

	snprintf(prompath, sizeof prompath, "%s/f_prom.prom", live_dir());
	snprintf(extra, sizeof extra, "[metrics]\ntextfile = %s\n", prompath);
	snprintf(args, sizeof args, "run -c %s", live_config("f_prom",
	    "f_prom", db, extra));
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_eq(prom(prompath, "rebond_messages_total{mailbox=\"" MB
	    "\"}"), 40);
	cr_assert_eq(prom(prompath, "rebond_messages_moved_total{mailbox="
	    "\"" MB "\",folder=\"archive\"}") + prom(prompath,
	    "rebond_messages_moved_total{mailbox=\"" MB "\",folder="
	    "\"review\"}"), 40);
	cr_assert_gt(prom(prompath, "rebond_bounces_total{mailbox=\"" MB "\","
	    "category=\"hard\"}"), 0);
	ok_at = prom(prompath, "rebond_last_success_timestamp_seconds{"
	    "mailbox=\"" MB "\"}");
	cr_assert_gt(ok_at, 0);

	/* The same mailbox, its server gone. */
	snprintf(extra, sizeof extra, "[imap]\nport = %d\n[metrics]\n"
	    "textfile = %s\n", closed_port(), prompath);
	snprintf(args, sizeof args, "run -c %s", live_config("f_prom",
	    "f_prom", db, extra));
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 75, "%s", live_err());
	cr_assert_eq(prom(prompath, "rebond_runs_total{mailbox=\"" MB "\","
	    "status=\"ok\"}"), 1);
	cr_assert_eq(prom(prompath, "rebond_runs_total{mailbox=\"" MB "\","
	    "status=\"failed\"}"), 1);
	cr_assert_eq(prom(prompath, "rebond_errors_total{mailbox=\"" MB
	    "\"}"), 1);
	cr_assert_eq(prom(prompath, "rebond_last_run_exit_code{mailbox="
	    "\"" MB "\"}"), 75);
	cr_assert_eq(prom(prompath, "rebond_last_success_timestamp_seconds{"
	    "mailbox=\"" MB "\"}"), ok_at);
	cr_assert_eq(prom(prompath, "rebond_messages_total{mailbox=\"" MB
	    "\"}"), 40);
	free(db);
}
