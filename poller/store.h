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

#include <jansson.h>
#include <libpq-fe.h>

#include "policy.h"

/* The schema version this build needs: the highest sql/NNN_*.sql. */
#define STORE_SCHEMA_VERSION 1

/* messages.outcome */
enum outcome {
	OUTCOME_NONE = -1,	/* not processed yet */
	OUTCOME_ARCHIVED = 0,
	OUTCOME_REVIEW,
	OUTCOME_IGNORED,
};

struct store;

/* Connect with a libpq conninfo. Returns 0 and *st_r, or -1. */
int store_open(const char *conninfo, struct store **st_r);
void store_close(struct store **pp);
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
 * OUTCOME_NONE when that message was never processed.
 */
int store_seen(struct store *st, char (*digests)[65], size_t n,
    enum outcome *outcomes_r);
/*
 * Every account whose primary, secondary or pending address (trimmed,
 * case-insensitive) is one of the n addresses, locked FOR UPDATE until the
 * transaction ends. *accounts_r is an array (store_accounts_free).
 */
int store_lookup(struct store *st, const char *const *addrs, size_t n,
    struct account **accounts_r, size_t *n_r);
void store_accounts_free(struct account *a, size_t n);
/*
 * Write one batch: events (array of objects, keys = rebond.events
 * columns), messages (keys = rebond.messages columns) and account
 * states (array of {id, primary_state, primary_state_since,
 * secondary_state, secondary_state_since}). Rows already present
 * (same digest) are skipped. NULL arrays are skipped.
 */
int store_write_batch(struct store *st, json_t *events, json_t *messages,
    json_t *accounts);
/*
 * The UIDVALIDITY recorded with the last message processed from mailbox,
 * or 0 when none was.
 */
int store_last_uidvalidity(struct store *st, const char *mailbox,
    unsigned long long *uidvalidity_r);
/* The connection, for modules that extend the store. */
PGconn *store_conn(struct store *st);

#endif
