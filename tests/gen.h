/*
 * gen.h - generated bounces for the reliability tests (crash, faults,
 * overlap), and a census of where each one is.
 *
 * gen_init(seed) builds GEN_NMSG distinct messages: DSNs with one to
 * three recipients (hard, quota, delayed), out-of-office replies and
 * mail that is no bounce (review folder), dated in the last hours, with
 * Message-IDs "crash-NNNN.<seed>@...". Recipients are the primary and
 * secondary addresses of gen_seed_accounts()'s accounts, or nobody's.
 * The census reads the Maildir folders and rebond.messages.
 */
#ifndef REBOND_TEST_GEN_H
#define REBOND_TEST_GEN_H

#include <stdint.h>

#define GEN_NMSG	2000
#define GEN_MAXRCPT	3

struct gen_msg {
	char *data;
	char id[80];			/* Message-ID without <> */
	int nrcpt;			/* expected events */
	char rcpt[GEN_MAXRCPT][64];	/* their recipients */
};

/* The seed: $REBOND_CRASH_SEED, else from the clock and the pid. */
uint64_t gen_seed(void);
/* Build the messages (once per process; later calls keep the first). */
void gen_init(uint64_t seed);
/* Message i (0 <= i < GEN_NMSG). */
const struct gen_msg *gen_msg(int i);
/* A number below n from the generator's stream (for test plans). */
unsigned gen_below(unsigned n);
/* Insert the accounts the recipients belong to into db. */
void gen_seed_accounts(const char *db);
/* Deliver messages 0..n-1 into user's INBOX. */
void gen_deliver(const char *user, int n);
/* A migrated database and a mailbox named name, with n messages. */
char *gen_setup(const char *name, int n);

enum { GEN_INBOX, GEN_ARCHIVE, GEN_REVIEW, GEN_NFOLDERS };

struct census {
	int where[GEN_NMSG][GEN_NFOLDERS];	/* copies per folder */
	int foreign;				/* files not ours */
	int committed[GEN_NMSG];		/* rebond.messages rows */
	int ncommitted;
};

/* Count where each message is, and which are in rebond.messages. */
void gen_census(const char *user, const char *db, struct census *c);
/*
 * Assert the invariant "nothing moved that is not committed" (when says
 * when, for the message). Returns how many committed messages still wait
 * in the bounce folder.
 */
int gen_check_moved_were_committed(const struct census *c,
    const char *when);
/*
 * A rebond.ini (see live_config) for user and db with batch, moving
 * after every batch (move_group = batch); port > 0 means STARTTLS on
 * that port (an extra Dovecot), else the harness's Dovecot. Log level debug: the batch lines say where a run was.
 * Returns a new string.
 */
char *gen_config(const char *name, const char *user, const char *db,
    int port, int batch);
/*
 * Assert that the query what (one text column) returns the same rows in
 * db and in ref; label names them in the failure.
 */
void gen_same_as(const char *db, const char *ref, const char *what,
    const char *label);
/*
 * gen_same_as for messages, events, account states and login alerts,
 * the warnings in rebond.outbox (not the admin digest: one per run),
 * the admin problems and the operator alerts.
 */
void gen_same_as_reference(const char *db, const char *ref);
/* Messages now in Archive + Review of user. */
int gen_moved(const char *user);

#endif
