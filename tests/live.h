/*
 * live.h - helpers for live tests: the throwaway servers that
 * tests/harness.sh started (see tests/servers.sh), a database and an IMAP
 * mailbox per test, rebond run as a separate process.
 *
 * Every helper asserts (criterion) on failure, so tests stay short.
 */
#ifndef REBOND_TEST_LIVE_H
#define REBOND_TEST_LIVE_H

#include <stddef.h>

/* Value of a REBOND_TEST_* variable set by servers.sh (asserted). */
const char *live_env(const char *name);
/* Scratch directory of this test binary (from the harness). */
const char *live_dir(void);

/* A new empty database `name`; returns its conninfo (static storage,
 * valid for the next 7 calls). */
const char *live_db(const char *name);
/* The same on the PostgreSQL at host (a socket directory) and port. */
const char *live_db_at(const char *host, const char *port, const char *name);
/*
 * Start one more PostgreSQL cluster, pg-NAME (tests/servers.sh postgres),
 * stopped with the others; its socket directory and port into host and
 * port.
 */
void live_pg_cluster(const char *name, char *host, size_t hostlen,
    char *port, size_t portlen);
/* live_db + `rebond migrate` on it. */
const char *live_db_migrated(const char *name);
/* `rebond migrate` on the database conninfo; returns conninfo. */
const char *live_migrate(const char *conninfo);
/* Run sql; assert it succeeds. */
void live_sql(const char *conninfo, const char *sql);
/* First column of the first row as a number (asserted to exist). */
long long live_sql_int(const char *conninfo, const char *sql);
/* First column of the first row, or NULL for SQL NULL (free()). */
char *live_sql_str(const char *conninfo, const char *sql);

/*
 * One more Dovecot sharing the mail homes (tests/servers.sh dovecot
 * DIR NAME CAPS: CAPS, if not empty, replaces its capability list);
 * returns its plain/STARTTLS port. Stopped with the others.
 */
int live_dovecot(const char *name, const char *caps);

/* A new, empty IMAP mailbox for user (INBOX only). */
void live_mailbox(const char *user);
/* Create folder (Maildir++) in user's mailbox. */
void live_folder(const char *user, const char *folder);
/* Deliver (data, len) into folder ("INBOX" or a folder name). */
void live_deliver(const char *user, const char *folder, const char *data,
    size_t len);
/* Deliver a file (e.g. a fixture) into folder. */
void live_deliver_file(const char *user, const char *folder,
    const char *path);
/* Messages now in folder (-1 if the folder does not exist). */
int live_count(const char *user, const char *folder);
/* Make Dovecot number the next messages of user's INBOX from next (a
 * dovecot-uidlist header written before the folder is first opened). */
void live_uid_start(const char *user, unsigned long next);
/* The whole file at path, NUL-terminated (free()); NULL if it cannot be
 * opened. */
char *live_slurp(const char *path);

/*
 * A standard RFC 3464 DSN for rcpt with status and diagnostic, with a
 * distinct Message-ID (seq). Returns a new string (free()).
 */
char *live_dsn(const char *rcpt, const char *status, const char *diag,
    int seq);

/*
 * Write a rebond.ini named name for user and conninfo (implicit TLS to
 * localhost with the test CA), followed by the lines of extra (which may
 * add sections). Mode 0600. Returns its path (static storage).
 */
const char *live_config(const char *name, const char *user,
    const char *conninfo, const char *extra);

/*
 * Run the rebond binary with the argument string args (split on spaces
 * by /bin/sh: keep it simple). Returns the exit status; stdout and
 * stderr (logs) are kept for live_out()/live_err().
 */
int live_rebond(const char *args);
const char *live_out(void);
/* The SHA-256 pin (64 hex digits) of the servers' test certificate, as
 * openssl computes it, into out (len >= 65). */
void live_server_pin(char *out, size_t len);
/* Peak resident set size of the last live_rebond() process, in KiB. */
long live_maxrss_kb(void);
const char *live_err(void);

/*
 * Start the rebond binary in the background with the argument string
 * args and, unless NULL, the environment assignments env ("A=1 B=2").
 * slot (0..31) keeps the output files of concurrent runs apart.
 * Returns its pid (the pid of rebond itself: signals reach it).
 */
int live_rebond_start(const char *env, const char *args, int slot);
/*
 * Wait for a run started by live_rebond_start; returns the raw wait
 * status (a run killed by a signal is not an error here); its output is
 * then in live_out()/live_err().
 */
int live_rebond_wait(int pid, int slot);
/* live_rebond_start + live_rebond_wait. */
int live_rebond_env(const char *env, const char *args);

#endif
