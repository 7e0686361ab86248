/* store.c - PostgreSQL side of rebond (see store.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "log.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

struct store {
	PGconn *conn;
	/* Between store_pipeline_start and _finish: statements are sent,
	 * not run; what each one was, for the log. */
	int pipelined;
	int pipe_failed;	/* a failure already logged: stay quiet */
	const char **sent;
	size_t nsent, cap;
};

/* Log a libpq failure on one line (libpq messages end with "\n"). */
static int
db_fail(struct store *st, const char *what, const PGresult *res)
{
	const char *m = res ? PQresultErrorMessage(res) : "";
	char *s;

	if (m == NULL || *m == '\0')
		m = PQerrorMessage(st->conn);
	s = str_sanitize(m, strcspn(m, "\n"), 400);
	log_error("database: %s failed: %s", what, s);
	free(s);
	return -1;
}

/* Send sql without waiting (pipeline mode): store_pipeline_finish reads
 * its answer. */
static int
send_only(struct store *st, const char *what, const char *sql, int nparams,
    const char *const *params)
{
	if (PQsendQueryParams(st->conn, sql, nparams, NULL, params, NULL, NULL,
	    0) != 1) {
		st->pipe_failed = 1;
		return db_fail(st, what, NULL);
	}
	if (st->nsent == st->cap) {
		st->cap = st->cap ? 2 * st->cap : 16;
		st->sent = xreallocarray(st->sent, st->cap, sizeof *st->sent);
	}
	st->sent[st->nsent++] = what;
	return 0;
}

/* Run sql with text parameters; keep the result in *res_r if asked. */
static int
exec(struct store *st, const char *what, const char *sql, int nparams,
    const char *const *params, PGresult **res_r)
{
	PGresult *res;
	ExecStatusType s;

	if (st->pipelined) {
		if (res_r != NULL) {
			/* Rows cannot wait: a caller's mistake. */
			log_error("database: %s cannot be pipelined", what);
			abort();
		}
		return send_only(st, what, sql, nparams, params);
	}
	res = PQexecParams(st->conn, sql, nparams, NULL, params, NULL, NULL,
	    0);
	s = PQresultStatus(res);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		db_fail(st, what, res);
		PQclear(res);
		return -1;
	}
	if (res_r != NULL)
		*res_r = res;
	else
		PQclear(res);
	return 0;
}

/* Server notices ("schema already exists, skipping") are debug lines. */
static void
notice(void *arg, const char *message)
{
	char *s = str_sanitize(message, strcspn(message, "\n"), 300);

	(void)arg;
	log_debug("database: %s", s);
	free(s);
}

PGconn *
store_conn(struct store *st)
{
	return st->conn;
}

int
store_open(const char *conninfo, struct store **st_r)
{
	struct store *st = xcalloc(1, sizeof *st);

	*st_r = NULL;
	st->conn = PQconnectdb(conninfo);
	if (PQstatus(st->conn) != CONNECTION_OK) {
		db_fail(st, "connect", NULL);
		PQfinish(st->conn);
		free(st);
		return -1;
	}
	PQsetNoticeProcessor(st->conn, notice, NULL);
	if (PQsetClientEncoding(st->conn, "UTF8") != 0) {
		db_fail(st, "set client encoding", NULL);
		PQfinish(st->conn);
		free(st);
		return -1;
	}
	*st_r = st;
	return 0;
}

void
store_close(struct store **pp)
{
	if (*pp == NULL)
		return;
	free((*pp)->sent);
	PQfinish((*pp)->conn);
	free(*pp);
	*pp = NULL;
}

int
store_schema_version(struct store *st, int *version_r)
{
	PGresult *res;
	unsigned long long v;

	if (exec(st, "schema version check",
	    "SELECT to_regclass('rebond.schema_version') IS NOT NULL",
	    0, NULL, &res) == -1)
		return -1;
	if (strcmp(PQgetvalue(res, 0, 0), "t") != 0) {
		/* An empty database: nothing applied yet. */
		PQclear(res);
		*version_r = 0;
		return 0;
	}
	PQclear(res);
	if (exec(st, "schema version check",
	    "SELECT coalesce(max(version), 0) FROM rebond.schema_version",
	    0, NULL, &res) == -1)
		return -1;
	if (PQntuples(res) != 1 ||
	    parse_uint(PQgetvalue(res, 0, 0), 0, 1000000, &v) == -1) {
		PQclear(res);
		log_error("database: unexpected schema version");
		return -1;
	}
	PQclear(res);
	*version_r = (int)v;
	return 0;
}

/* Read a whole (small, trusted) file. */
static char *
slurp(const char *path)
{
	struct buf b;
	char chunk[8192];
	size_t n;
	FILE *f = fopen(path, "r");

	if (f == NULL)
		return NULL;
	buf_init(&b, 16 * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return buf_steal(&b);
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Migration number of a file name "NNN_name.sql", or 0 if not one. */
static int
migration_number(const char *name)
{
	unsigned long long v;
	char num[8];
	size_t i, len = strlen(name);

	if (len < 9 || strcmp(name + len - 4, ".sql") != 0)
		return 0;
	for (i = 0; i < 3; i++)
		num[i] = name[i];
	num[3] = '\0';
	if (name[3] != '_')
		return 0;
	while (num[0] == '0' && num[1] != '\0')
		memmove(num, num + 1, strlen(num));
	if (parse_uint(num, 1, 999, &v) == -1)
		return 0;
	return (int)v;
}

int
store_migrate(struct store *st, const char *sqldir, int *applied_r)
{
	char **names = NULL, path[4096], vbuf[16];
	size_t n = 0, i;
	struct dirent *de;
	int current = 0, rc = -1;
	DIR *d;

	*applied_r = 0;
	if ((d = opendir(sqldir)) == NULL) {
		log_error("migrate: cannot open %s: %s", sqldir,
		    strerror(errno));
		return -1;
	}
	while ((de = readdir(d)) != NULL)
		if (migration_number(de->d_name) > 0) {
			names = xreallocarray(names, n + 1, sizeof *names);
			names[n++] = xstrdup(de->d_name);
		}
	closedir(d);
	qsort(names, n, sizeof *names, cmp_str);
	if (exec(st, "migration lock",
	    "SELECT pg_advisory_lock(hashtextextended('rebond migrate', 0))",
	    0, NULL, NULL) == -1)
		goto out;
	if (exec(st, "schema creation", "CREATE SCHEMA IF NOT EXISTS rebond",
	    0, NULL, NULL) == -1 ||
	    exec(st, "schema_version table",
	    "CREATE TABLE IF NOT EXISTS rebond.schema_version ("
	    " version integer PRIMARY KEY,"
	    " name text NOT NULL,"
	    " applied_at timestamptz NOT NULL DEFAULT now())",
	    0, NULL, NULL) == -1 ||
	    store_schema_version(st, &current) == -1)
		goto unlock;
	for (i = 0; i < n; i++) {
		int num = migration_number(names[i]);
		const char *params[2];
		PGresult *res;
		char *sql;

		if (num <= current)
			continue;
		snprintf(path, sizeof path, "%s/%s", sqldir, names[i]);
		if ((sql = slurp(path)) == NULL) {
			log_error("migrate: cannot read %s: %s", path,
			    strerror(errno));
			goto unlock;
		}
		if (store_begin(st) == -1) {
			free(sql);
			goto unlock;
		}
		/* A migration file holds several statements: simple query. */
		res = PQexec(st->conn, sql);
		free(sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK &&
		    PQresultStatus(res) != PGRES_TUPLES_OK) {
			db_fail(st, names[i], res);
			PQclear(res);
			store_rollback(st);
			goto unlock;
		}
		PQclear(res);
		snprintf(vbuf, sizeof vbuf, "%d", num);
		params[0] = vbuf;
		params[1] = names[i];
		if (exec(st, "record migration",
		    "INSERT INTO rebond.schema_version (version, name) "
		    "VALUES ($1::integer, $2)", 2, params, NULL) == -1 ||
		    store_commit(st) == -1) {
			store_rollback(st);
			goto unlock;
		}
		log_info("migrate: applied=%s", names[i]);
		(*applied_r)++;
	}
	rc = 0;
unlock:
	exec(st, "migration unlock",
	    "SELECT pg_advisory_unlock(hashtextextended('rebond migrate', 0))",
	    0, NULL, NULL);
out:
	for (i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc;
}

int
store_try_lock(struct store *st, const char *key, int *got_r)
{
	PGresult *res;
	const char *params[1] = { key };

	if (exec(st, "advisory lock",
	    "SELECT pg_try_advisory_lock(hashtextextended($1, 0))", 1, params,
	    &res) == -1)
		return -1;
	*got_r = strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return 0;
}

int
store_begin(struct store *st)
{
	return exec(st, "BEGIN", "BEGIN", 0, NULL, NULL);
}

int
store_commit(struct store *st)
{
	if (exec(st, "COMMIT", "COMMIT", 0, NULL, NULL) == -1)
		return -1;
	/* Pipelined: end the pipeline and push it to the server now, so
	 * that it works while the caller does. */
	if (st->pipelined &&
	    (PQpipelineSync(st->conn) != 1 || PQflush(st->conn) != 0)) {
		st->pipe_failed = 1;
		return db_fail(st, "COMMIT", NULL);
	}
	return 0;
}

int
store_pipeline_start(struct store *st)
{
	if (PQenterPipelineMode(st->conn) != 1)
		return db_fail(st, "pipeline mode", NULL);
	st->pipelined = 1;
	st->pipe_failed = 0;
	st->nsent = 0;
	return 0;
}

int
store_pipeline_finish(struct store *st)
{
	PGresult *res;
	size_t i;
	int rc = st->pipe_failed ? -1 : 0;

	if (!st->pipelined)
		return 0;
	st->pipelined = 0;
	/* Without store_commit, the pipeline still needs its end. */
	if (st->nsent > 0 && strcmp(st->sent[st->nsent - 1], "COMMIT") != 0 &&
	    (PQpipelineSync(st->conn) != 1 || PQflush(st->conn) != 0) &&
	    rc == 0)
		rc = db_fail(st, "pipeline", NULL);
	for (i = 0; i < st->nsent && rc == 0 &&
	    PQstatus(st->conn) == CONNECTION_OK; i++) {
		ExecStatusType s;

		res = PQgetResult(st->conn);
		s = PQresultStatus(res);
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
			/* The first failure says why; the rest were skipped. */
			if (s != PGRES_PIPELINE_ABORTED)
				db_fail(st, st->sent[i], res);
			rc = -1;
		}
		PQclear(res);
		/* Each statement's results end with a NULL. */
		while ((res = PQgetResult(st->conn)) != NULL)
			PQclear(res);
	}
	/* Up to the end of the pipeline, then out of pipeline mode. */
	for (i = 0; i < 2 * st->nsent + 4; i++) {
		res = PQgetResult(st->conn);
		if (res == NULL) {
			if (PQstatus(st->conn) != CONNECTION_OK)
				break;
			continue;
		}
		if (PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			PQclear(res);
			break;
		}
		PQclear(res);
	}
	st->nsent = 0;
	if (PQexitPipelineMode(st->conn) != 1 && rc == 0)
		rc = db_fail(st, "pipeline mode", NULL);
	if (rc == 0 && PQstatus(st->conn) != CONNECTION_OK)
		rc = db_fail(st, "COMMIT", NULL);
	return rc;
}

void
store_rollback(struct store *st)
{
	PGresult *res = PQexec(st->conn, "ROLLBACK");

	PQclear(res);
}

int
store_seen(struct store *st, char (*digests)[65], size_t n,
    enum outcome *outcomes_r)
{
	json_t *arr = json_array();
	const char *params[1];
	PGresult *res;
	char *js;
	size_t i;
	int row, rows;

	for (i = 0; i < n; i++) {
		outcomes_r[i] = OUTCOME_NONE;
		json_array_append_new(arr, json_string(digests[i]));
	}
	js = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	params[0] = js;
	if (exec(st, "lookup of processed messages",
	    "SELECT digest, outcome FROM rebond.messages WHERE digest = ANY("
	    "ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
	    1, params, &res) == -1) {
		free(js);
		return -1;
	}
	free(js);
	rows = PQntuples(res);
	for (row = 0; row < rows; row++) {
		const char *d = PQgetvalue(res, row, 0);
		const char *o = PQgetvalue(res, row, 1);
		enum outcome oc = strcmp(o, "review") == 0 ? OUTCOME_REVIEW :
		    strcmp(o, "ignored") == 0 ? OUTCOME_IGNORED :
		    OUTCOME_ARCHIVED;

		for (i = 0; i < n; i++)
			if (strcmp(digests[i], d) == 0)
				outcomes_r[i] = oc;
	}
	PQclear(res);
	return 0;
}

static char *
dup_or_null(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL :
	    xstrdup(PQgetvalue(res, row, col));
}

static time_t
epoch_or_zero(const PGresult *res, int row, int col)
{
	unsigned long long v;

	if (PQgetisnull(res, row, col) ||
	    parse_uint(PQgetvalue(res, row, col), 0, ~0ULL >> 1, &v) == -1)
		return 0;
	return (time_t)v;
}

int
store_lookup(struct store *st, const char *const *addrs, size_t n,
    struct account **accounts_r, size_t *n_r)
{
	json_t *arr = json_array();
	const char *params[1];
	struct account *a;
	PGresult *res;
	char *js;
	size_t i;
	int row, rows;

	*accounts_r = NULL;
	*n_r = 0;
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(addrs[i]));
	js = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	params[0] = js;
	if (exec(st, "account lookup",
	    "WITH w AS (SELECT ARRAY(SELECT jsonb_array_elements_text("
	    "$1::jsonb)) AS a) "
	    "SELECT id, primary_email, secondary_email, pending_email, phone,"
	    " status, primary_state, secondary_state,"
	    " extract(epoch FROM primary_state_since)::bigint,"
	    " extract(epoch FROM secondary_state_since)::bigint "
	    "FROM public.accounts, w "
	    "WHERE lower(btrim(primary_email)) = ANY(w.a)"
	    " OR lower(btrim(secondary_email)) = ANY(w.a)"
	    " OR lower(btrim(pending_email)) = ANY(w.a) "
	    "ORDER BY id FOR UPDATE OF accounts",
	    1, params, &res) == -1) {
		free(js);
		return -1;
	}
	free(js);
	rows = PQntuples(res);
	a = xcalloc((size_t)rows + 1, sizeof *a);
	for (row = 0; row < rows; row++) {
		unsigned long long id;

		if (parse_uint(PQgetvalue(res, row, 0), 0, ~0ULL >> 1,
		    &id) == -1)
			id = 0;
		a[row].id = (long long)id;
		a[row].primary_email = dup_or_null(res, row, 1);
		a[row].secondary_email = dup_or_null(res, row, 2);
		a[row].pending_email = dup_or_null(res, row, 3);
		a[row].phone = dup_or_null(res, row, 4);
		a[row].status = dup_or_null(res, row, 5);
		if (policy_state_parse(PQgetvalue(res, row, 6),
		    &a[row].primary_state) == -1)
			a[row].primary_state = STATE_OK;
		if (policy_state_parse(PQgetvalue(res, row, 7),
		    &a[row].secondary_state) == -1)
			a[row].secondary_state = STATE_OK;
		a[row].primary_since = epoch_or_zero(res, row, 8);
		a[row].secondary_since = epoch_or_zero(res, row, 9);
	}
	PQclear(res);
	*accounts_r = a;
	*n_r = (size_t)rows;
	return 0;
}

void
store_accounts_free(struct account *a, size_t n)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(a[i].primary_email);
		free(a[i].secondary_email);
		free(a[i].pending_email);
		free(a[i].phone);
		free(a[i].status);
	}
	free(a);
}

/* Run sql with one JSON array parameter, unless the array is empty. */
static int
exec_json(struct store *st, const char *what, const char *sql, json_t *arr)
{
	const char *params[1];
	char *js;
	int rc;

	if (arr == NULL || json_array_size(arr) == 0)
		return 0;
	js = json_dumps(arr, JSON_COMPACT);
	if (js == NULL) {
		log_error("database: %s: cannot encode the batch", what);
		return -1;
	}
	params[0] = js;
	rc = exec(st, what, sql, 1, params, NULL);
	free(js);
	return rc;
}

int
store_write_batch(struct store *st, json_t *events, json_t *messages,
    json_t *accounts)
{
	if (exec_json(st, "insert of events",
	    "INSERT INTO rebond.events (occurred_at, mailbox, uidvalidity, uid,"
	    " digest, rcpt_index, message_id, recipient, account_id, role,"
	    " action, status, reply_code, diagnostic, remote_mta, reason,"
	    " category, rule, matched, verified, replayed) "
	    "SELECT to_timestamp(e.occurred_at), e.mailbox, e.uidvalidity,"
	    " e.uid, e.digest, e.rcpt_index, e.message_id, e.recipient,"
	    " e.account_id, e.role, e.action, e.status, e.reply_code,"
	    " e.diagnostic, e.remote_mta, e.reason, e.category, e.rule,"
	    " e.matched, coalesce(e.verified, false),"
	    " coalesce(e.replayed, false) "
	    "FROM jsonb_to_recordset($1::jsonb) AS e(occurred_at double "
	    "precision, mailbox text, uidvalidity bigint, uid bigint,"
	    " digest text, rcpt_index integer, message_id text,"
	    " recipient text, account_id bigint, role text, action text,"
	    " status text, reply_code integer, diagnostic text,"
	    " remote_mta text, reason text, category text, rule text,"
	    " matched text, verified boolean, replayed boolean) "
	    "ON CONFLICT (digest, rcpt_index) DO NOTHING", events) == -1)
		return -1;
	if (exec_json(st, "update of accounts",
	    "UPDATE public.accounts AS a SET"
	    " primary_state = u.primary_state,"
	    " primary_state_since = to_timestamp(u.primary_state_since),"
	    " secondary_state = u.secondary_state,"
	    " secondary_state_since = to_timestamp(u.secondary_state_since) "
	    "FROM jsonb_to_recordset($1::jsonb) AS u(id bigint,"
	    " primary_state text, primary_state_since double precision,"
	    " secondary_state text, secondary_state_since double precision) "
	    "WHERE a.id = u.id"
	    /* The ids again, as an array: so the planner probes the primary
	     * key instead of scanning every account for each batch (it
	     * cannot see how few rows jsonb_to_recordset gives). */
	    " AND a.id = ANY(ARRAY(SELECT (e->>'id')::bigint"
	    " FROM jsonb_array_elements($1::jsonb) AS e))", accounts) == -1)
		return -1;
	if (exec_json(st, "insert of messages",
	    "INSERT INTO rebond.messages (digest, mailbox, uidvalidity, uid,"
	    " message_id, bounce_date, outcome, report_type, recipients,"
	    " flags) "
	    "SELECT m.digest, m.mailbox, m.uidvalidity, m.uid, m.message_id,"
	    " to_timestamp(m.bounce_date), m.outcome, m.report_type,"
	    " m.recipients, m.flags "
	    "FROM jsonb_to_recordset($1::jsonb) AS m(digest text,"
	    " mailbox text, uidvalidity bigint, uid bigint, message_id text,"
	    " bounce_date double precision, outcome text, report_type text,"
	    " recipients integer, flags integer) "
	    "ON CONFLICT (digest) DO NOTHING", messages) == -1)
		return -1;
	return 0;
}

int
store_last_uidvalidity(struct store *st, const char *mailbox,
    unsigned long long *uidvalidity_r)
{
	const char *params[1] = { mailbox };
	PGresult *res;

	*uidvalidity_r = 0;
	if (exec(st, "last UIDVALIDITY",
	    "SELECT uidvalidity FROM rebond.messages WHERE mailbox = $1 "
	    "ORDER BY processed_at DESC LIMIT 1", 1, params, &res) == -1)
		return -1;
	if (PQntuples(res) == 1 && parse_uint(PQgetvalue(res, 0, 0), 0,
	    UINT32_MAX, uidvalidity_r) == -1)
		*uidvalidity_r = 0;
	PQclear(res);
	return 0;
}
