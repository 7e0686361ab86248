/*
 * store.h - rebond's PostgreSQL side (libpq).
 *
 * Mail-derived text reaches SQL only as parameters: batches travel as one
 * JSON parameter each (jsonb_to_recordset), so a whole batch is a handful
 * of statements in one transaction. Every function logs one line on a
 * database failure and returns -1 (a bad environment: exit 75).
 */
#ifndef REBOND_STORE_H
#define REBOND_STORE_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "policy.h"
#include "send.h"

/* The schema version this build needs: the highest sql/NNN_*.sql. */
#define STORE_SCHEMA_VERSION 12

/* messages.outcome */
enum outcome {
	OUTCOME_NONE = -1,	/* not processed yet */
	OUTCOME_ARCHIVED = 0,
	OUTCOME_REVIEW,
	OUTCOME_IGNORED,
};

struct store;

/*
 * Connect with a libpq conninfo. Returns 0 and *st_r, or, the error
 * logged, a sysexits code: EX_NOPERM (77) when the server refuses the
 * login (password, role, pg_hba.conf), EX_CONFIG (78) for a database
 * that does not exist, EX_UNAVAILABLE (69) when libpq cannot be loaded,
 * EX_TEMPFAIL (75) otherwise.
 */
int store_open(const char *conninfo, struct store **st_r);
void store_close(struct store **pp);
/*
 * The session's TimeZone (the database's or the role's setting, else the
 * server's), e.g. "Europe/Paris", into out. Returns 0 or -1 (logged).
 */
int store_timezone(struct store *st, char *out, size_t outsz);
/* Highest applied migration (0 for an empty database). */
int store_schema_version(struct store *st, int *version_r);
/*
 * Apply every sql/NNN_*.sql of sqldir above the current version, each in
 * its own transaction, recording it in rebond.schema_version.
 * *applied_r counts the files applied.
 */
int store_migrate(struct store *st, const char *sqldir, int *applied_r);
/* pg_try_advisory_lock on a text key; *got_r is 1 if we hold it now. */
int store_try_lock(struct store *st, const char *key, int *got_r);
int store_begin(struct store *st);
int store_commit(struct store *st);
/*
 * Send instead of run: between store_pipeline_start and
 * store_pipeline_finish, store_write_batch and store_commit only send
 * their statements (libpq pipeline mode), so that the server writes and
 * commits a batch while the caller works on the next one. Statements
 * that return rows are refused (abort). store_pipeline_finish waits for
 * every answer: 0 when all succeeded, COMMIT included; -1 (logged) when
 * one failed, and then the transaction is to be rolled back.
 */
int store_pipeline_start(struct store *st);
int store_pipeline_finish(struct store *st);
/* Roll back; never fails loudly (used on error paths). */
void store_rollback(struct store *st);
/*
 * For each of n hex digests, the outcome recorded for it, or
 * OUTCOME_NONE when that message was never processed. Inside a
 * transaction: first locks the digests until it ends, so that two
 * processes meeting the same message never both apply it.
 */
int store_seen(struct store *st, char (*digests)[65], size_t n,
    enum outcome *outcomes_r);
/*
 * Every account whose primary, secondary or pending address (trimmed,
 * case-insensitive) is one of the n addresses, or whose id is one of the
 * nids ids (named by VERP tags), locked FOR UPDATE until the transaction
 * ends. *accounts_r is an array (store_accounts_free).
 */
int store_lookup(struct store *st, const char *const *addrs, size_t n,
    const long long *ids, size_t nids,
    struct account **accounts_r, size_t *n_r);
void store_accounts_free(struct account *a, size_t n);
/*
 * The policy's history of the accounts (a, n), filled in place: the
 * latest warning per account and category (rebond.outbox; one refused
 * for good or cancelled does not count), and the days
 * since soft_start with a transient failure of each address
 * (rebond.events). Two statements for the whole batch.
 */
int store_history(struct store *st, struct account *a, size_t n,
    time_t soft_start);
/* A mail the platform sent (rebond.sent_mail, 011). */
struct sent_mail {
	char *message_id;
	char *recipient;
};
/*
 * The recorded recipients of n Message-IDs: *sent_r is a new array of
 * *nsent_r rows, in no order. Free it with store_sent_free().
 */
int store_sent_lookup(struct store *st, const char *const *mids, size_t n,
    struct sent_mail **sent_r, size_t *nsent_r);
void store_sent_free(struct sent_mail *sent, size_t n);
/* Drop rows of rebond.sent_mail older than keep_days. */
int store_purge_sent(struct store *st, unsigned keep_days,
    long long *purged_r);
/*
 * The operator alert state of n remote domains: *ops_r is a new array of
 * n entries, in the order of remotes (notified 0 when never alerted).
 * Free it with store_ops_free() (also on error).
 */
int store_ops_lookup(struct store *st, const char *const *remotes, size_t n,
    struct ops_alert **ops_r);
void store_ops_free(struct ops_alert *ops, size_t n);

/*
 * The rows of one batch, each a JSON array of objects (NULL or empty:
 * nothing to write). Keys are the columns of:
 *   events    rebond.events (times as epoch seconds)
 *   messages  rebond.messages
 *   accounts  {id, primary_state, primary_state_since, secondary_state,
 *             secondary_state_since, login_alert, login_alert_address,
 *             clear_secondary, clear_pending}
 *   outbox    rebond.outbox {account_id, channel, destination, template,
 *             category, params, ref}
 *   problems  rebond.problems {account_id, role, category, address,
 *             since, ref, warning_id | warning_ref, reason, auto_cleared}
 *             (at most one per account and role)
 *   ops       rebond.ops_alerts {remote, remote_mta, diagnostic,
 *             first_seen, last_seen, count, notified_at} (one per remote)
 */
struct batch_rows {
	json_t *events;
	json_t *messages;
	json_t *accounts;
	json_t *outbox;
	json_t *problems;
	json_t *ops;
};

/*
 * Write one batch, in the caller's transaction: rows already present
 * (same digest, same ref) are skipped; an open problem of the same
 * account and role is replaced; operator alert counts add up.
 */
int store_write_batch(struct store *st, const struct batch_rows *rows);
/* Release an advisory lock taken by store_try_lock(). */
int store_unlock(struct store *st, const char *key);

/*
 * rebond.expire_deadlines(): a pending change or an invitation without a
 * deadline gets now + validation_days / invitation_days; those past their
 * deadline become problems for the admins. Autocommit.
 */
int store_expire(struct store *st, unsigned validation_days,
    unsigned invitation_days, int *validations_r, int *invitations_r);

/*
 * rebond.decay_soft(): soft addresses without a transient failure for
 * window_days are ok again (*decayed_r of them). Autocommit.
 */
int store_decay_soft(struct store *st, unsigned window_days,
    int *decayed_r);

/* One notification to send (rebond.outbox). */
struct outbox_row {
	long long id;
	long long account_id;	/* 0: none (admin, ops) */
	char *channel;		/* email, sms, admin, ops */
	char *destination;
	char *template;
	json_t *params;		/* an object; for ops, with the counts */
	time_t created;
	enum role dest_role;	/* destination's role in the account, or
				 * ROLE_NONE */
};

/*
 * Up to max unsent rows of the channels (comma-separated) with an id
 * above after, oldest first. Free with store_outbox_rows_free().
 */
int store_outbox_next(struct store *st, const char *channels, long long after,
    unsigned max, struct outbox_row **rows_r, size_t *n_r);
void store_outbox_rows_free(struct outbox_row *rows, size_t n);
/*
 * Record one attempt of row id (autocommit): sent (sent_at; a validation
 * token is removed), or failed with error (failed_at when permanent).
 */
int store_outbox_done(struct store *st, long long id, enum send_result r,
    const char *error);
/* Count a failed attempt on every unsent row of channels. */
int store_outbox_unreachable(struct store *st, const char *channels,
    const char *error);

/* A query result as strings (NULL for SQL NULL). */
struct store_table {
	size_t ncols, nrows;
	char **names;
	char **cells;		/* row-major */
};
const char *store_table_cell(const struct store_table *t, size_t row,
    size_t col);
void store_table_free(struct store_table **pp);
/*
 * The admin queue: problem_id, account_id, address, role, category, what,
 * action, notified, since (JJ/MM/AAAA), oldest first.
 */
int store_admin_queue(struct store *st, struct store_table **t_r);
/*
 * Problems no admin digest listed yet (at most max): problem_id,
 * account_id, address, role, category, what, action, notified, since.
 * Call in a transaction that then runs store_digest_queue().
 */
int store_digest_pending(struct store *st, unsigned max,
    struct store_table **t_r);
/* Queue the admin digest (params for its template) listing the n
 * problems (ids as text), and mark them listed. */
int store_digest_queue(struct store *st, const char *admin_to, json_t *params,
    const char *const *problem_ids, size_t n);

/*
 * The UIDVALIDITY recorded with the last message processed from mailbox,
 * or 0 when none was.
 */
int store_last_uidvalidity(struct store *st, const char *mailbox,
    unsigned long long *uidvalidity_r);
/*
 * replay --rescore: rows (array of {digest, rcpt_index, message_id,
 * recipient, reason, category, rule}; an object with a digest only for a
 * message in which today's rules find no recipient) are today's verdicts
 * for messages recorded earlier. Every one that differs from the
 * recorded event, and every recorded event with no verdict today, is
 * inserted into rebond.rescores (once). *diffs_r gets them all, as an
 * array of objects (json_decref); *added_r how many were new.
 */
int store_rescore(struct store *st, json_t *rows, const char *version,
    json_t **diffs_r, long long *added_r);
/*
 * A connection string given on the command line of rebond cmd must not
 * hold a password: every local user reads /proc/PID/cmdline. Returns 0,
 * or, the error printed on stderr, EX_USAGE (a password, or not a
 * connection string) or EX_UNAVAILABLE (libpq cannot be loaded).
 */
int store_conninfo_no_password(const char *conninfo, const char *cmd);
/* 1 while the connection is up (a statement may have failed on it). */
int store_connected(const struct store *st);

#endif
