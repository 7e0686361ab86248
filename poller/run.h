/*
 * run.h - one run over the bounce mailbox: fetch, parse, classify,
 * decide, commit, then move (DESIGN.md "Data flow of one run").
 *
 * Invariant: nothing is moved on IMAP before the database has committed
 * what was learned from it. A message already recorded (same digest) is
 * never applied twice: it is only moved where its first run sent it.
 */
#ifndef REBOND_RUN_H
#define REBOND_RUN_H

#include <time.h>

#include "conf.h"
#include "reason.h"

struct run_opts {
	int dry_run;		/* decide and print, write and move nothing */
	int replay;		/* rebond replay: read folder, move nothing */
	const char *folder;	/* replay: the folder (EXAMINE) */
	time_t since;		/* replay: bounces dated since (0: all) */
	int rescore;		/* replay: classify recorded messages again */
};

struct run_stats {
	unsigned long messages;		/* fetched */
	unsigned long archived;		/* moved to the archive folder */
	unsigned long review;		/* moved to the review folder */
	unsigned long ignored;		/* autoreplies, success DSNs */
	unsigned long already;		/* recorded by an earlier run */
	unsigned long recipients;
	unsigned long category[CAT_COUNT];
	unsigned long errors;
	unsigned long rescored;		/* replay: verdicts that changed */
	int stopped;			/* SIGTERM/SIGINT: stopped early */
	int busy;			/* another run holds the mailbox */
};

/*
 * The cron job. Returns a sysexits code: 0 (also when another run holds
 * the mailbox), 75 for a temporary IMAP/database failure, 76 for a TLS
 * verification failure, 77 for a refused login, 78 for configuration.
 */
int run_poll(const struct config *cfg, const struct run_opts *opts,
    struct run_stats *stats);

/*
 * rebond replay: the same pipeline over opts->folder, opened read-only
 * (EXAMINE); nothing is moved. Messages already recorded (digest) are
 * skipped, or with opts->rescore classified again and every changed
 * verdict recorded in rebond.rescores (accounts untouched). New events
 * are marked replayed; their time is the bounce's own date, so the
 * policy does not take an old bounce for fresh evidence. Exit codes as
 * run_poll (there is no lock: digests are locked per batch instead).
 */
int run_replay(const struct config *cfg, const struct run_opts *opts,
    struct run_stats *stats);

/* Ask a running run_poll to stop after the current batch (signals). */
void run_request_stop(void);

#endif
