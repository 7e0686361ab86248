/*
 * live_overlap.c - issue 5: overlapping runs and a changed UIDVALIDITY.
 *
 * Four `rebond run` started at once on one mailbox: one does the work,
 * the three others exit 0 at once with one line saying so, and the
 * totals are those of a single run (compared with a reference mailbox
 * holding the same bytes). A UIDVALIDITY change (Dovecot's index and
 * uidlist removed, so every message gets a new UID) after a run killed
 * between COMMIT and MOVE: the messages are recognised by digest and
 * never applied twice.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "gen.h"
#include "live.h"

#define NRUNS 4

/* The duration=... of the summary line in err, or -1. */
static double
summary_duration(const char *err)
{
	const char *p = strstr(err, " duration=");

	return p != NULL ? atof(p + 10) : -1;
}

Test(overlap, four_runs_at_once_one_works_totals_of_one_run, .timeout = 180)
{
	char *db = gen_setup("ovl", 1000), *ref = gen_setup("ovl_ref", 1000);
	char *cfg = gen_config("ovl", "ovl", db, 0, 50);
	char *cfg_ref = gen_config("ovl_ref", "ovl_ref", ref, 0, 50);
	char args[700], err[NRUNS][4096];
	int pid[NRUNS], st[NRUNS], i, workers = 0, busy = 0;
	double worked = 0;

	snprintf(args, sizeof args, "run -c %s", cfg_ref);
	st[0] = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st[0]) && WEXITSTATUS(st[0]) == 0, "%s",
	    live_err());

	snprintf(args, sizeof args, "run -c %s", cfg);
	for (i = 0; i < NRUNS; i++)
		pid[i] = live_rebond_start(NULL, args, i);
	for (i = 0; i < NRUNS; i++) {
		st[i] = live_rebond_wait(pid[i], i);
		snprintf(err[i], sizeof err[i], "%s", live_err());
		cr_assert(WIFEXITED(st[i]) && WEXITSTATUS(st[i]) == 0,
		    "run %d: %s", i, err[i]);
	}
	for (i = 0; i < NRUNS; i++) {
		if (strstr(err[i], "status=busy: another run holds the lock")) {
			/* One line, nothing else. */
			cr_assert_eq(strchr(err[i], '\n'), err[i] +
			    strlen(err[i]) - 1, "run %d: %s", i, err[i]);
			busy++;
		} else {
			cr_assert_not_null(strstr(err[i], "status=ok exit=0 "
			    "messages=1000 "), "run %d: %s", i, err[i]);
			worked = summary_duration(err[i]);
			workers++;
		}
	}
	cr_assert_eq(workers, 1, "%d runs worked", workers);
	cr_assert_eq(busy, NRUNS - 1);
	cr_assert_gt(worked, 0.0);
	cr_assert_eq(live_count("ovl", "INBOX"), 0);
	cr_assert_eq(live_count("ovl", "Archive"), live_count("ovl_ref",
	    "Archive"));
	cr_assert_eq(live_count("ovl", "Review"), live_count("ovl_ref",
	    "Review"));
	gen_same_as_reference(db, ref);
	fprintf(stderr, "SUMMARY: overlap runs=%d worked=1 (%.2fs) busy=%d "
	    "exit=0 each; totals equal to a single run\n", NRUNS, worked,
	    busy);
	free(cfg);
	free(cfg_ref);
	free(db);
	free(ref);
}

/* UIDVALIDITY of user's INBOX, asked of Dovecot (doveadm). */
static long long
uidvalidity(const char *user)
{
	char cmd[1200], line[200];
	long long v = -1;
	FILE *p;

	snprintf(cmd, sizeof cmd, "doveadm -c %s mailbox status -u %s "
	    "uidvalidity INBOX 2>&1", live_env("REBOND_TEST_DOVECOT_CONF"),
	    user);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	while (fgets(line, sizeof line, p) != NULL)
		if (strstr(line, "uidvalidity=") != NULL)
			v = atoll(strstr(line, "uidvalidity=") + 12);
	pclose(p);
	cr_assert_gt(v, 0, "%s", cmd);
	return v;
}

/*
 * Remove Dovecot's record of UIDs for user's INBOX (the uidlist, the
 * indexes and the mailbox list index, which also remembers UIDVALIDITY;
 * not the UIDVALIDITY counter): the next session sees the same files
 * under new UIDs and a new UIDVALIDITY. The session of a killed run may
 * still be closing and write its indexes back: try until the UIDVALIDITY
 * really changed.
 */
static void
forget_uids(const char *user, long long old)
{
	char cmd[1200];
	int i;

	snprintf(cmd, sizeof cmd, "cd %s/%s/Maildir && rm -f dovecot-uidlist "
	    "dovecot.index dovecot.index.log dovecot.index.log.2 "
	    "dovecot.index.cache dovecot.list.index dovecot.list.index.log "
	    "dovecot.list.index.log.2", live_env("REBOND_TEST_MAILHOME"),
	    user);
	for (i = 0; i < 20; i++) {
		struct timespec d = { 0, 200000000L };

		cr_assert_eq(system(cmd), 0, "%s", cmd);
		if (uidvalidity(user) != old)
			return;
		nanosleep(&d, NULL);
	}
	cr_assert_fail("UIDVALIDITY of %s stays %lld", user, old);
}

Test(overlap, uidvalidity_change_after_a_crash_applies_nothing_twice,
    .timeout = 120)
{
	char *db = gen_setup("uidv", 100), *ref = gen_setup("uidv_ref", 100);
	char *cfg = gen_config("uidv", "uidv", db, 0, 20);
	char *cfg_ref = gen_config("uidv_ref", "uidv_ref", ref, 0, 20);
	char args[700];
	struct census *c = calloc(1, sizeof *c);
	int st, i;

	snprintf(args, sizeof args, "run -c %s", cfg_ref);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());

	/* Killed after the 3rd COMMIT: 60 recorded, 40 moved. */
	snprintf(args, sizeof args, "run -c %s", cfg);
	st = live_rebond_env("REBOND_TEST_KILLPOINT=committed:3", args);
	cr_assert(WIFSIGNALED(st), "%s", live_err());
	cr_assert_eq(live_count("uidv", "INBOX"), 60);
	cr_assert_eq(live_sql_int(db, "SELECT count(DISTINCT uidvalidity) "
	    "FROM rebond.messages"), 1);

	forget_uids("uidv", live_sql_int(db, "SELECT min(uidvalidity) FROM "
	    "rebond.messages"));
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_not_null(strstr(live_err(), "UIDVALIDITY changed"), "%s",
	    live_err());
	cr_assert_not_null(strstr(live_err(), "messages=60 "), "%s",
	    live_err());
	cr_assert_not_null(strstr(live_err(), "already=20 "), "%s",
	    live_err());
	/* New UIDs under a new UIDVALIDITY: the rows say so. */
	cr_assert_eq(live_sql_int(db, "SELECT count(DISTINCT uidvalidity) "
	    "FROM rebond.messages"), 2);
	gen_census("uidv", db, c);
	gen_check_moved_were_committed(c, "after the change");
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
