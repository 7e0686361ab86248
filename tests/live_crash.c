/*
 * live_crash.c - issue 5: every bounce is applied exactly once, however
 * often and wherever `rebond run` dies.
 *
 * The harness loads 2,000 generated bounces (seeded: the seed is printed,
 * REBOND_CRASH_SEED replays a run), then kills `rebond run` with SIGKILL
 * again and again: at named moments (REBOND_TEST_KILLPOINT, see
 * poller/testpoint.h) covering the three windows - between fetch and
 * commit, between commit and move, in the middle of a move (with MOVE,
 * and with the COPY + EXPUNGE fallback of a server without MOVE) - and at
 * random delays. After every kill it checks the invariant "nothing moved
 * that is not committed"; at the end, after normal runs have emptied the
 * mailbox, it checks that every message is in exactly one folder, that
 * rebond.messages has one row per message, and that no event is missing
 * or duplicated, against the generator and against a reference run of
 * the same bytes that was never killed (events, outcomes, account
 * states).
 *
 * The other tests: SIGTERM and SIGINT finish the current batch and exit
 * 0; a kill between COPY and EXPUNGE leaves no duplicate in the archive.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "gen.h"
#include "live.h"

#define BATCH		20	/* small batches: many moments to kill */
#define NTARGETED	36	/* kills at named points */
#define NRANDOM		9	/* kills at random delays */

/* ---- the harness ----------------------------------------------------- */

/* The windows of the issue, and the named points that fall in each. */
static const struct {
	const char *point;
	const char *window;
	int nomove;		/* only reached without MOVE */
} points[] = {
	{ "fetched", "fetch-commit", 0 },
	{ "before-commit", "fetch-commit", 0 },
	{ "committed", "commit-move", 0 },
	{ "between-moves", "mid-move", 0 },
	{ "copied", "mid-move", 1 },
	{ "flagged", "mid-move", 1 },
};
#define NPOINTS (sizeof points / sizeof points[0])

static const char *const windows[] = { "fetch-commit", "commit-move",
	"mid-move", "outside" };
#define NWINDOWS 4

static int
window_index(const char *w)
{
	int i;

	for (i = 0; i < NWINDOWS; i++)
		if (strcmp(windows[i], w) == 0)
			return i;
	return NWINDOWS - 1;
}

/* The window a random kill landed in, from the last debug line logged
 * ("run: batch ... fetched|committed|moved"). */
static const char *
observed_window(const char *err)
{
	const char *last = NULL, *p;
	char line[200];
	size_t n;

	for (p = err; (p = strstr(p, "run: batch ")) != NULL; p++)
		last = p;
	if (last == NULL)
		return "outside";
	n = strcspn(last, "\n");
	snprintf(line, sizeof line, "%.*s", (int)n, last);
	if (strstr(line, " moved") != NULL)
		return "outside";
	if (strstr(line, " committed") != NULL)
		return "commit-move";
	return "fetch-commit";
}

Test(crash, exactly_once_under_kills, .timeout = 900)
{
	uint64_t seed = gen_seed();
	char *db, *ref, *cfg_move, *cfg_nomove, *cfg_ref, args[1200],
	    env[200], *sql;
	int landed[NWINDOWS] = { 0 }, per_point[NPOINTS] = { 0 };
	int kills = 0, random_kills = 0, runs = 0, i, k, st, port, waiting;
	int targeted, r, attempts = 0;
	long long warnings;
	size_t order[NPOINTS] = { 0, 1, 2, 3, 4, 5 };
	int dup_seen = 0, total_events = 0;
	struct census *c = calloc(1, sizeof *c);
	struct timespec t0, t1;
	size_t len;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fprintf(stderr, "crash: seed=0x%016llx (REBOND_CRASH_SEED replays "
	    "it)\n", (unsigned long long)seed);
	gen_init(seed);
	db = strdup(live_db_migrated("crash"));
	ref = strdup(live_db_migrated("crash_ref"));
	gen_seed_accounts(db);
	gen_seed_accounts(ref);
	live_mailbox("crash");
	live_mailbox("crash_ref");
	for (i = 0; i < GEN_NMSG; i++) {
		live_deliver("crash", "INBOX", gen_msg(i)->data,
		    strlen(gen_msg(i)->data));
		live_deliver("crash_ref", "INBOX", gen_msg(i)->data,
		    strlen(gen_msg(i)->data));
		total_events += gen_msg(i)->nrcpt;
	}
	port = live_dovecot("crash-nomove", "IMAP4rev1 LITERAL+ IDLE UIDPLUS");
	cfg_move = gen_config("crash_move", "crash", db, 0, BATCH);
	cfg_nomove = gen_config("crash_nomove", "crash", db, port, BATCH);
	cfg_ref = gen_config("crash_ref", "crash_ref", ref, 0, BATCH);

	/* The reference: the same bytes, one run, never killed. */
	snprintf(args, sizeof args, "run -c %s", cfg_ref);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reference run: %s",
	    live_err());
	cr_assert_eq(live_count("crash_ref", "INBOX"), 0);

	/* Kills at named points, each at its 1st or 2nd passage, every
	 * point in turn (in a seeded order, reshuffled each round), and
	 * every fifth at a random delay; until enough landed or the
	 * mailbox is empty. */
	for (k = 0; k < 3 * (NTARGETED + NRANDOM); k++) {
		int is_random = k % 5 == 4;
		size_t p;
		int nomove;
		const char *w;

		if (!is_random && attempts++ % NPOINTS == 0)
			for (i = NPOINTS - 1; i > 0; i--) {
				size_t j = gen_below((unsigned)i + 1), t;

				t = order[i];
				order[i] = order[j];
				order[j] = t;
			}
		p = is_random ? 0 : order[(attempts - 1) % NPOINTS];
		nomove = points[p].nomove ? 1 : (int)gen_below(2);

		if (kills - random_kills >= NTARGETED &&
		    random_kills >= NRANDOM)
			break;
		if (is_random ? random_kills >= NRANDOM :
		    kills - random_kills >= NTARGETED)
			continue;
		if (live_count("crash", "INBOX") == 0)
			break;
		snprintf(args, sizeof args, "run -c %s",
		    nomove ? cfg_nomove : cfg_move);
		runs++;
		if (is_random) {
			int pid = live_rebond_start(NULL, args, 1);
			struct timespec d = { 0, (long)(20 + gen_below(300)) *
			    1000000L };

			nanosleep(&d, NULL);
			kill(pid, SIGKILL);
			st = live_rebond_wait(pid, 1);
			if (!WIFSIGNALED(st)) {
				cr_assert(WIFEXITED(st) &&
				    WEXITSTATUS(st) == 0, "run %d: %s", runs,
				    live_err());
				continue;	/* finished before the kill */
			}
			random_kills++;
			w = observed_window(live_err());
		} else {
			snprintf(env, sizeof env, "REBOND_TEST_KILLPOINT=%s:%u",
			    points[p].point, 1 + gen_below(2));
			st = live_rebond_env(env, args);
			if (!WIFSIGNALED(st)) {
				/* The point was not reached that often. */
				cr_assert(WIFEXITED(st) &&
				    WEXITSTATUS(st) == 0, "run %d (%s): %s",
				    runs, env, live_err());
				continue;
			}
			cr_assert_not_null(strstr(live_err(), "testpoint: "
			    "name="), "run %d: killed elsewhere: %s", runs,
			    live_err());
			w = points[p].window;
			per_point[p]++;
		}
		cr_assert_eq(WTERMSIG(st), SIGKILL);
		kills++;
		landed[window_index(w)]++;
		gen_census("crash", db, c);
		waiting = gen_check_moved_were_committed(c, "after a kill");
		for (i = 0; i < GEN_NMSG; i++)
			if (c->where[i][GEN_INBOX] + c->where[i][GEN_ARCHIVE] +
			    c->where[i][GEN_REVIEW] > 1)
				dup_seen++;	/* repaired by a later run */
		fprintf(stderr, "crash: kill=%d run=%d %s point=%s window=%s "
		    "committed=%d waiting=%d inbox=%d\n", kills, runs,
		    is_random ? "random" : "targeted", is_random ? "-" :
		    points[p].point, w, c->ncommitted, waiting,
		    live_count("crash", "INBOX"));
	}

	/* Normal runs, alternating servers, until the mailbox is empty. */
	for (i = 0; i < 10 && live_count("crash", "INBOX") > 0; i++) {
		snprintf(args, sizeof args, "run -c %s",
		    i % 2 ? cfg_nomove : cfg_move);
		runs++;
		st = live_rebond_env(NULL, args);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		    "final run %d: %s", i, live_err());
	}
	/* One more, on the server without MOVE: nothing left to do. */
	snprintf(args, sizeof args, "run -c %s", cfg_nomove);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "messages=0 "), "%s",
	    live_err());

	/* Every message in exactly one folder, one row each. */
	gen_census("crash", db, c);
	gen_check_moved_were_committed(c, "at the end");
	for (i = 0; i < GEN_NMSG; i++) {
		cr_assert_eq(c->where[i][GEN_INBOX], 0, "message %d still in the "
		    "bounce folder", i);
		cr_assert_eq(c->where[i][GEN_ARCHIVE] + c->where[i][GEN_REVIEW], 1,
		    "message %d: %d in Archive, %d in Review", i,
		    c->where[i][GEN_ARCHIVE], c->where[i][GEN_REVIEW]);
		cr_assert_eq(c->committed[i], 1, "message %d: %d rows", i,
		    c->committed[i]);
	}
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    GEN_NMSG);

	/* Events: exactly the generated recipients, once each. */
	len = 200 + (size_t)total_events * 140;
	sql = malloc(len);
	cr_assert_not_null(sql);
	strcpy(sql, "CREATE TABLE public.expected (message_id text, "
	    "recipient text); INSERT INTO public.expected VALUES ");
	for (i = 0, k = 0; i < GEN_NMSG; i++)
		for (r = 0; r < gen_msg(i)->nrcpt; r++, k++) {
			char row[200];

			snprintf(row, sizeof row, "%s('%s', '%s')",
			    k ? "," : "", gen_msg(i)->id, gen_msg(i)->rcpt[r]);
			strcat(sql, row);
		}
	live_sql(db, sql);
	free(sql);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM public.expected e "
	    "WHERE NOT EXISTS (SELECT 1 FROM rebond.events v WHERE "
	    "v.message_id = e.message_id AND v.recipient = e.recipient)"), 0,
	    "missing events");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM (SELECT 1 FROM "
	    "rebond.events GROUP BY message_id, recipient HAVING count(*) > 1)"
	    " d"), 0, "duplicated events");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events v "
	    "WHERE NOT EXISTS (SELECT 1 FROM public.expected e WHERE "
	    "v.message_id = e.message_id AND v.recipient = e.recipient)"), 0,
	    "unexpected events");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    total_events);

	/* Warnings: nobody warned twice for one category (the renotify
	 * window is days, the whole test minutes). */
	warnings = live_sql_int(db, "SELECT count(*) FROM rebond.outbox WHERE "
	    "channel IN ('email', 'sms')");
	cr_assert_gt(warnings, 0, "no warning at all");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM (SELECT 1 FROM "
	    "rebond.outbox WHERE channel IN ('email', 'sms') GROUP BY "
	    "account_id, category HAVING count(*) > 1) d"), 0,
	    "an account warned twice for one category");

	/* And the same as a run that was never killed: messages, events,
	 * accounts, warnings, admin problems, operator alerts. */
	gen_same_as_reference(db, ref);

	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0, targeted = 0; i < (int)NPOINTS; i++)
		targeted += per_point[i];
	fprintf(stderr, "SUMMARY: crash seed=0x%016llx messages=%d "
	    "events=%d kills=%d (targeted=%d random=%d) windows: "
	    "fetch-commit=%d commit-move=%d mid-move=%d outside=%d; points: "
	    "fetched=%d before-commit=%d committed=%d between-moves=%d "
	    "copied=%d flagged=%d; runs=%d; messages found in two folders "
	    "after a kill, then repaired=%d; warnings=%lld; lost=0 "
	    "duplicated=0; %.1fs\n",
	    (unsigned long long)seed, GEN_NMSG, total_events, kills, targeted,
	    kills - targeted, landed[0], landed[1], landed[2], landed[3],
	    per_point[0], per_point[1], per_point[2], per_point[3],
	    per_point[4], per_point[5], runs, dup_seen, warnings,
	    (double)(t1.tv_sec - t0.tv_sec) +
	    (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	cr_assert_geq(kills, 20, "only %d kills landed", kills);
	cr_assert_gt(landed[0], 0, "no kill between fetch and commit");
	cr_assert_gt(landed[1], 0, "no kill between commit and move");
	cr_assert_gt(landed[2], 0, "no kill in the middle of a move");
	free(cfg_move);
	free(cfg_nomove);
	free(cfg_ref);
	free(db);
	free(ref);
	free(c);
}

/* ---- clean stops, interrupted copies ---------------------------------- */

/* A stop signal arriving during a batch: the batch is committed and moved,
 * then rebond exits 0; the next run does the rest. */
static void
stop_at_point(const char *name, const char *point, const char *sig,
    int batches)
{
	char *db = gen_setup(name, 200), *cfg = gen_config(name, name, db,
	    0, BATCH), args[700], env[100], want[64];
	int st;

	snprintf(args, sizeof args, "run -c %s", cfg);
	snprintf(env, sizeof env, "REBOND_TEST_KILLPOINT=%s:%d:%s", point,
	    batches, sig);
	st = live_rebond_env(env, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s", env,
	    live_err());
	snprintf(want, sizeof want, "signal=%s: stopping", sig);
	cr_assert_not_null(strstr(live_err(), want), "%s", live_err());
	snprintf(want, sizeof want, "status=stopped exit=0 messages=%d ",
	    batches * BATCH);
	cr_assert_not_null(strstr(live_err(), want), "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    batches * BATCH);
	cr_assert_eq(gen_moved(name), batches * BATCH);
	cr_assert_eq(live_count(name, "INBOX"), 200 - batches * BATCH);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    200);
	cr_assert_eq(gen_moved(name), 200);
	free(cfg);
	free(db);
}

Test(crash, sigterm_during_a_batch_finishes_it_then_exits_0, .timeout = 120)
{
	stop_at_point("stop_term", "fetched", "TERM", 3);
}

Test(crash, sigint_before_commit_finishes_the_batch_then_exits_0,
    .timeout = 120)
{
	stop_at_point("stop_int", "before-commit", "INT", 2);
}

/*
 * The same signals sent from outside while rebond is busy (most likely
 * blocked in a read from Dovecot or PostgreSQL): a signal handler would
 * interrupt libetpan's select() and break the stream mid-batch, which is
 * why they are held until the batch ends.
 */
Test(crash, external_sigterm_and_sigint_stop_cleanly, .timeout = 180)
{
	static const struct {
		const char *name;
		int sig;
		const char *want;
	} cases[] = {
		{ "ext_term", SIGTERM, "signal=TERM" },
		{ "ext_int", SIGINT, "signal=INT" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		const char *name = cases[i].name;
		char *db = gen_setup(name, 1000), *cfg = gen_config(name,
		    name, db, 0, BATCH), args[700];
		int pid, st, n, waited;

		snprintf(args, sizeof args, "run -c %s", cfg);
		pid = live_rebond_start(NULL, args, 2);
		/* Wait for the first commit, then signal at once. */
		for (waited = 0; waited < 3000; waited++) {
			struct timespec d = { 0, 5000000L };

			if (live_sql_int(db, "SELECT count(*) FROM "
			    "rebond.messages") > 0)
				break;
			nanosleep(&d, NULL);
		}
		kill(pid, cases[i].sig);
		st = live_rebond_wait(pid, 2);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s",
		    name, live_err());
		cr_assert_not_null(strstr(live_err(), cases[i].want), "%s: %s",
		    name, live_err());
		cr_assert_not_null(strstr(live_err(), "status=stopped"),
		    "%s: %s", name, live_err());
		n = (int)live_sql_int(db, "SELECT count(*) FROM "
		    "rebond.messages");
		cr_assert(n > 0 && n < 1000, "%s: %d committed", name, n);
		cr_assert_eq(n % BATCH, 0, "%s: a partial batch (%d)", name, n);
		cr_assert_eq(gen_moved(name), n, "%s: committed %d, moved %d",
		    name, n, gen_moved(name));
		cr_assert_eq(live_count(name, "INBOX"), 1000 - n);
		st = live_rebond_env(NULL, args);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s",
		    live_err());
		cr_assert_eq(gen_moved(name), 1000);
		cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM "
		    "rebond.messages"), 1000);
		free(cfg);
		free(db);
	}
}

/*
 * Without MOVE: killed after UID COPY (or after STORE \Deleted), the
 * messages are in both folders; the next run finds the copies by digest
 * and only expunges them from the bounce folder.
 */
Test(crash, interrupted_copy_leaves_a_single_copy, .timeout = 120)
{
	static const char *const points_nomove[] = { "copied", "flagged" };
	int port = live_dovecot("copy-nomove",
	    "IMAP4rev1 LITERAL+ IDLE UIDPLUS");
	size_t i;

	for (i = 0; i < 2; i++) {
		char name[32], *db, *cfg, args[700], env[100];
		int st, before;

		snprintf(name, sizeof name, "copy_%s", points_nomove[i]);
		db = gen_setup(name, 60);
		cfg = gen_config(name, name, db, port, 100);
		snprintf(args, sizeof args, "run -c %s", cfg);
		snprintf(env, sizeof env, "REBOND_TEST_KILLPOINT=%s:1",
		    points_nomove[i]);
		st = live_rebond_env(env, args);
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL, "%s: %s",
		    name, live_err());
		before = live_count(name, "Archive");
		cr_assert_gt(before, 0, "%s: nothing copied", name);
		cr_assert_eq(live_count(name, "INBOX"), 60, "%s", name);
		st = live_rebond_env(NULL, args);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s: %s",
		    name, live_err());
		cr_assert_not_null(strstr(live_err(), "already in Archive"),
		    "%s: %s", name, live_err());
		cr_assert_eq(live_count(name, "INBOX"), 0, "%s", name);
		cr_assert_eq(live_count(name, "Archive"), before,
		    "%s: %d copies in Archive, %d expected", name,
		    live_count(name, "Archive"), before);
		cr_assert_eq(gen_moved(name), 60, "%s", name);
		cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM "
		    "rebond.messages"), 60);
		free(cfg);
		free(db);
	}
}

/*
 * With the default move_group, moves wait for many batches (issue 7): a
 * run killed after its third COMMIT has moved nothing; the next run
 * recognises the 60 committed messages by digest, applies nothing twice,
 * and moves everything; every SIGTERM-stopped run moves what it
 * committed before it exits.
 */
Test(crash, grouped_moves_wait_and_apply_once, .timeout = 120)
{
	char *db = gen_setup("group", 100), *ref = gen_setup("group_ref", 100);
	char *cfg = strdup(live_config("group", "group", db,
	    "[imap]\nbatch = 20\n[log]\nlevel = debug\n"));
	char *cfg_ref = strdup(live_config("group_ref", "group_ref", ref,
	    "[imap]\nbatch = 20\n"));
	struct census *c = calloc(1, sizeof *c);
	char args[700];
	int st, i;

	snprintf(args, sizeof args, "run -c %s", cfg_ref);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());

	snprintf(args, sizeof args, "run -c %s", cfg);
	st = live_rebond_env("REBOND_TEST_KILLPOINT=committed:3", args);
	cr_assert(WIFSIGNALED(st), "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    60);
	cr_assert_eq(live_count("group", "INBOX"), 100, "moved before the "
	    "group was complete");

	st = live_rebond_env("REBOND_TEST_KILLPOINT=fetched:2:TERM", args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "already=40 "), "%s",
	    live_err());
	cr_assert_eq(live_count("group", "INBOX"), 60, "%s", live_err());

	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "messages=60 "), "%s",
	    live_err());
	cr_assert_not_null(strstr(live_err(), "already=20 "), "%s",
	    live_err());
	gen_census("group", db, c);
	gen_check_moved_were_committed(c, "at the end");
	for (i = 0; i < 100; i++)
		cr_assert_eq(c->where[i][GEN_ARCHIVE] + c->where[i][GEN_REVIEW],
		    1, "message %d", i);
	cr_assert_eq(c->ncommitted, 100);
	gen_same_as_reference(db, ref);
	free(c);
	free(cfg);
	free(cfg_ref);
	free(db);
	free(ref);
}

/*
 * Large groups move on a second IMAP session while the first one fetches
 * (issue 7). Killed as the first group is seen moved (others committed,
 * waiting), then run again: every message in one folder, recorded once,
 * the same as a run never killed.
 */
Test(crash, moves_on_a_second_session_apply_once, .timeout = 300)
{
	char *db = gen_setup("mover", GEN_NMSG), *ref = gen_setup("mover_ref",
	    GEN_NMSG);
	char *cfg = strdup(live_config("mover", "mover", db, "[imap]\n"
	    "batch = 100\nmove_group = 1000\n[log]\nlevel = debug\n"));
	char *cfg_ref = strdup(live_config("mover_ref", "mover_ref", ref,
	    "[imap]\nbatch = 100\nmove_group = 1000\n[log]\nlevel = debug\n"));
	struct census *c = calloc(1, sizeof *c);
	char args[700];
	int st, i;

	snprintf(args, sizeof args, "run -c %s", cfg_ref);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "moves on a second IMAP "
	    "session"), "%s", live_err());
	cr_assert_eq(live_count("mover_ref", "INBOX"), 0);

	snprintf(args, sizeof args, "run -c %s", cfg);
	st = live_rebond_env("REBOND_TEST_KILLPOINT=moved:1", args);
	cr_assert(WIFSIGNALED(st), "%s", live_err());
	gen_census("mover", db, c);
	gen_check_moved_were_committed(c, "after the kill");
	cr_assert_eq(gen_moved("mover"), 1000, "the first group");
	cr_assert_geq(c->ncommitted, 1000);

	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	gen_census("mover", db, c);
	gen_check_moved_were_committed(c, "at the end");
	for (i = 0; i < GEN_NMSG; i++)
		cr_assert_eq(c->where[i][GEN_INBOX] + c->where[i][GEN_ARCHIVE] +
		    c->where[i][GEN_REVIEW], 1, "message %d", i);
	cr_assert_eq(c->ncommitted, GEN_NMSG, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    GEN_NMSG);
	gen_same_as_reference(db, ref);
	free(c);
	free(cfg);
	free(cfg_ref);
	free(db);
	free(ref);
}
