/* store.c - PostgreSQL side of rebond (see store.h). */
#include "config.h"

#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <libpq-fe.h>

#include "buf.h"
#include "log.h"
#include "store.h"
#include "strutil.h"
#include "xalloc.h"

/*
 * libpq is loaded when the database is first needed (pq_load), not when
 * rebond starts: with OpenSSL, Kerberos and LDAP, which it brings, its
 * relocation takes 3.5 ms at every start of `rebond classify` and of
 * the other commands that never reach a database (Postfix loads its
 * pgsql tables on demand the same way). Its functions are called
 * through these pointers, of the types libpq-fe.h declares.
 */
#define PQ_SYMBOLS(X) \
	X(PQclear) X(PQconnectdb) X(PQconnectionNeedsPassword) \
	X(PQconninfoFree) X(PQconninfoParse) X(PQenterPipelineMode) \
	X(PQerrorMessage) X(PQexec) X(PQexecParams) X(PQexitPipelineMode) \
	X(PQfinish) X(PQflush) X(PQfname) X(PQfreemem) X(PQgetResult) \
	X(PQgetisnull) X(PQgetvalue) X(PQnfields) X(PQntuples) \
	X(PQpipelineSync) X(PQresultErrorMessage) X(PQresultStatus) \
	X(PQsendQueryParams) X(PQsetClientEncoding) X(PQsetNoticeProcessor) \
	X(PQstatus)
#define PQ_POINTER(name) static __typeof__(name) *sym_##name;
PQ_SYMBOLS(PQ_POINTER)
#undef PQ_POINTER

static pthread_once_t pq_once = PTHREAD_ONCE_INIT;
static char pq_error[256];	/* why it could not be loaded */

static void
pq_load_once(void)
{
	void *h;
	const char *e;

	if ((h = dlopen(LIBPQ_SONAME, RTLD_NOW | RTLD_LOCAL)) == NULL) {
		e = dlerror();
		snprintf(pq_error, sizeof pq_error, "%s",
		    e != NULL ? e : LIBPQ_SONAME ": not loaded");
		return;
	}
	/* (POSIX's way to a function pointer from dlsym) */
#define PQ_RESOLVE(name) \
	if (pq_error[0] == '\0' && \
	    (*(void **)&sym_##name = dlsym(h, #name)) == NULL) \
		snprintf(pq_error, sizeof pq_error, "%s has no %s", \
		    LIBPQ_SONAME, #name);
	PQ_SYMBOLS(PQ_RESOLVE)
#undef PQ_RESOLVE
}

/* Load libpq once; 0, or -1 with *why_r saying why not. */
static int
pq_load(const char **why_r)
{
	pthread_once(&pq_once, pq_load_once);
	*why_r = pq_error;
	return pq_error[0] == '\0' ? 0 : -1;
}

/* First key of the per-digest transaction locks ("rebd"), and of the
 * per-remote ones ("rebr"). */
#define STORE_DIGEST_LOCK_CLASS "1919246948"
#define STORE_REMOTE_LOCK_CLASS "1919246962"

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
	const char *m = res ? sym_PQresultErrorMessage(res) : "";
	char *s;

	if (m == NULL || *m == '\0')
		m = sym_PQerrorMessage(st->conn);
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
	if (sym_PQsendQueryParams(st->conn, sql, nparams, NULL, params, NULL,
	    NULL, 0) != 1) {
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
	res = sym_PQexecParams(st->conn, sql, nparams, NULL, params, NULL, NULL,
	    0);
	s = sym_PQresultStatus(res);

	if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
		db_fail(st, what, res);
		sym_PQclear(res);
		return -1;
	}
	if (res_r != NULL)
		*res_r = res;
	else
		sym_PQclear(res);
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

int
store_conninfo_no_password(const char *conninfo, const char *cmd)
{
	PQconninfoOption *opts, *o;
	const char *why;
	char *msg = NULL;
	int rc = 0;

	if (pq_load(&why) == -1) {
		fprintf(stderr, "rebond %s: cannot load libpq: %s\n", cmd,
		    why);
		return EX_UNAVAILABLE;
	}
	if ((opts = sym_PQconninfoParse(conninfo, &msg)) == NULL) {
		fprintf(stderr, "rebond %s: --conninfo: %s", cmd,
		    msg != NULL ? msg : "out of memory\n");
		sym_PQfreemem(msg);
		return EX_USAGE;
	}
	for (o = opts; o->keyword != NULL; o++)
		if (strcmp(o->keyword, "password") == 0 && o->val != NULL &&
		    o->val[0] != '\0') {
			fprintf(stderr, "rebond %s: --conninfo holds a "
			    "password, which the process list shows to every "
			    "local user: put it in ~/.pgpass, PGPASSFILE or a "
			    "service file\n", cmd);
			rc = EX_USAGE;
		}
	sym_PQconninfoFree(opts);
	return rc;
}

int
store_connected(const struct store *st)
{
	return sym_PQstatus(st->conn) == CONNECTION_OK;
}

/*
 * What a refused connection calls for. The server's refusal of who we are
 * (a password refused or missing, a role that does not exist, no
 * pg_hba.conf line) is 77, as a refused IMAP login; a database that does
 * not exist, 78; the rest (down, starting up, too many connections) 75,
 * for the next run. libpq gives no SQLSTATE for a failed connection: its
 * message is all there is.
 */
static int
connect_exit(PGconn *conn)
{
	const char *m = sym_PQerrorMessage(conn);

	if (sym_PQconnectionNeedsPassword(conn) ||
	    strstr(m, "authentication failed") != NULL ||
	    strstr(m, "no pg_hba.conf entry") != NULL ||
	    (strstr(m, "role \"") != NULL &&
	    strstr(m, "\" does not exist") != NULL))
		return EX_NOPERM;
	if (strstr(m, "database \"") != NULL &&
	    strstr(m, "\" does not exist") != NULL)
		return EX_CONFIG;
	return EX_TEMPFAIL;
}

int
store_open(const char *conninfo, struct store **st_r)
{
	struct store *st;
	const char *why;
	int rc;

	*st_r = NULL;
	if (pq_load(&why) == -1) {
		log_error("database: cannot load libpq: %s", why);
		return EX_UNAVAILABLE;
	}
	st = xcalloc(1, sizeof *st);
	st->conn = sym_PQconnectdb(conninfo);
	if (sym_PQstatus(st->conn) != CONNECTION_OK) {
		db_fail(st, "connect", NULL);
		rc = connect_exit(st->conn);
		sym_PQfinish(st->conn);
		free(st);
		return rc;
	}
	sym_PQsetNoticeProcessor(st->conn, notice, NULL);
	if (sym_PQsetClientEncoding(st->conn, "UTF8") != 0) {
		db_fail(st, "set client encoding", NULL);
		sym_PQfinish(st->conn);
		free(st);
		return EX_TEMPFAIL;
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
	sym_PQfinish((*pp)->conn);
	free(*pp);
	*pp = NULL;
}

int
store_timezone(struct store *st, char *out, size_t outsz)
{
	PGresult *res;
	const char *v;
	int rc = -1;

	if (exec(st, "time zone", "SELECT current_setting('TimeZone')", 0,
	    NULL, &res) == -1)
		return -1;
	v = sym_PQntuples(res) == 1 ? sym_PQgetvalue(res, 0, 0) : "";
	if (*v == '\0' || strlen(v) >= outsz)
		log_error("database: unexpected TimeZone \"%s\"", v);
	else {
		strcpy(out, v);
		rc = 0;
	}
	sym_PQclear(res);
	return rc;
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
	if (strcmp(sym_PQgetvalue(res, 0, 0), "t") != 0) {
		/* An empty database: nothing applied yet. */
		sym_PQclear(res);
		*version_r = 0;
		return 0;
	}
	sym_PQclear(res);
	if (exec(st, "schema version check",
	    "SELECT coalesce(max(version), 0) FROM rebond.schema_version",
	    0, NULL, &res) == -1)
		return -1;
	if (sym_PQntuples(res) != 1 ||
	    parse_uint(sym_PQgetvalue(res, 0, 0), 0, 1000000, &v) == -1) {
		sym_PQclear(res);
		log_error("database: unexpected schema version");
		return -1;
	}
	sym_PQclear(res);
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
		res = sym_PQexec(st->conn, sql);
		free(sql);
		if (sym_PQresultStatus(res) != PGRES_COMMAND_OK &&
		    sym_PQresultStatus(res) != PGRES_TUPLES_OK) {
			db_fail(st, names[i], res);
			sym_PQclear(res);
			store_rollback(st);
			goto unlock;
		}
		sym_PQclear(res);
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
	*got_r = strcmp(sym_PQgetvalue(res, 0, 0), "t") == 0;
	sym_PQclear(res);
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
	    (sym_PQpipelineSync(st->conn) != 1 || sym_PQflush(st->conn) != 0)) {
		st->pipe_failed = 1;
		return db_fail(st, "COMMIT", NULL);
	}
	return 0;
}

int
store_pipeline_start(struct store *st)
{
	if (sym_PQenterPipelineMode(st->conn) != 1)
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
	    (sym_PQpipelineSync(st->conn) != 1 || sym_PQflush(st->conn) != 0) &&
	    rc == 0)
		rc = db_fail(st, "pipeline", NULL);
	for (i = 0; i < st->nsent && rc == 0 &&
	    sym_PQstatus(st->conn) == CONNECTION_OK; i++) {
		ExecStatusType s;

		res = sym_PQgetResult(st->conn);
		s = sym_PQresultStatus(res);
		if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
			/* The first failure says why; the rest were skipped. */
			if (s != PGRES_PIPELINE_ABORTED)
				db_fail(st, st->sent[i], res);
			rc = -1;
		}
		sym_PQclear(res);
		/* Each statement's results end with a NULL. */
		while ((res = sym_PQgetResult(st->conn)) != NULL)
			sym_PQclear(res);
	}
	/* Up to the end of the pipeline, then out of pipeline mode. */
	for (i = 0; i < 2 * st->nsent + 4; i++) {
		res = sym_PQgetResult(st->conn);
		if (res == NULL) {
			if (sym_PQstatus(st->conn) != CONNECTION_OK)
				break;
			continue;
		}
		if (sym_PQresultStatus(res) == PGRES_PIPELINE_SYNC) {
			sym_PQclear(res);
			break;
		}
		sym_PQclear(res);
	}
	st->nsent = 0;
	if (sym_PQexitPipelineMode(st->conn) != 1 && rc == 0)
		rc = db_fail(st, "pipeline mode", NULL);
	if (rc == 0 && sym_PQstatus(st->conn) != CONNECTION_OK)
		rc = db_fail(st, "COMMIT", NULL);
	return rc;
}

void
store_rollback(struct store *st)
{
	PGresult *res = sym_PQexec(st->conn, "ROLLBACK");

	sym_PQclear(res);
}

/*
 * Transaction locks on the strings of keys (a JSON array), in key order
 * (no deadlock between transactions that share some), under class: the
 * two-int form keeps them apart from the runs' (bigint) mailbox locks.
 */
static int
lock_keys(struct store *st, const char *what, const char *class,
    const char *keys)
{
	char sql[256];
	const char *params[1] = { keys };

	snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%s, k) FROM "
	    "(SELECT DISTINCT hashtext(x) AS k FROM "
	    "jsonb_array_elements_text($1::jsonb) AS x ORDER BY 1) AS s",
	    class);
	return exec(st, what, sql, 1, params, NULL);
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
	/*
	 * Whoever processes a digest holds its lock until COMMIT, so a run
	 * and a replay (or two mailboxes) that meet the same message take
	 * turns: the second one's lookup below, a new statement, then sees
	 * the first one's rows and skips it.
	 */
	if (lock_keys(st, "lock of the batch's digests",
	    STORE_DIGEST_LOCK_CLASS, js) == -1) {
		free(js);
		return -1;
	}
	if (exec(st, "lookup of processed messages",
	    "SELECT digest, outcome FROM rebond.messages WHERE digest = ANY("
	    "ARRAY(SELECT jsonb_array_elements_text($1::jsonb)))",
	    1, params, &res) == -1) {
		free(js);
		return -1;
	}
	free(js);
	rows = sym_PQntuples(res);
	for (row = 0; row < rows; row++) {
		const char *d = sym_PQgetvalue(res, row, 0);
		const char *o = sym_PQgetvalue(res, row, 1);
		enum outcome oc = strcmp(o, "review") == 0 ? OUTCOME_REVIEW :
		    strcmp(o, "ignored") == 0 ? OUTCOME_IGNORED :
		    OUTCOME_ARCHIVED;

		for (i = 0; i < n; i++)
			if (strcmp(digests[i], d) == 0)
				outcomes_r[i] = oc;
	}
	sym_PQclear(res);
	return 0;
}

static char *
dup_or_null(const PGresult *res, int row, int col)
{
	return sym_PQgetisnull(res, row, col) ? NULL :
	    xstrdup(sym_PQgetvalue(res, row, col));
}

static time_t
epoch_or_zero(const PGresult *res, int row, int col)
{
	unsigned long long v;

	if (sym_PQgetisnull(res, row, col) ||
	    parse_uint(sym_PQgetvalue(res, row, col), 0, ~0ULL >> 1, &v) == -1)
		return 0;
	return (time_t)v;
}

int
store_lookup(struct store *st, const char *const *addrs, size_t n,
    const long long *ids, size_t nids, struct account **accounts_r,
    size_t *n_r)
{
	json_t *arr = json_array(), *iarr = json_array();
	const char *params[2];
	struct account *a;
	PGresult *res;
	char *js, *jids;
	size_t i;
	int row, rows;

	*accounts_r = NULL;
	*n_r = 0;
	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(addrs[i]));
	for (i = 0; i < nids; i++)
		json_array_append_new(iarr, json_integer(ids[i]));
	js = json_dumps(arr, JSON_COMPACT);
	jids = json_dumps(iarr, JSON_COMPACT);
	json_decref(arr);
	json_decref(iarr);
	params[0] = js;
	params[1] = jids;
	if (exec(st, "account lookup",
	    "WITH w AS (SELECT ARRAY(SELECT jsonb_array_elements_text("
	    "$1::jsonb)) AS a, ARRAY(SELECT jsonb_array_elements_text("
	    "$2::jsonb)::bigint) AS ids) "
	    "SELECT id, primary_email, secondary_email, pending_email, phone,"
	    " status, primary_state, secondary_state,"
	    " extract(epoch FROM primary_state_since)::bigint,"
	    " extract(epoch FROM secondary_state_since)::bigint,"
	    " login_alert, login_alert_address "
	    "FROM public.accounts, w "
	    "WHERE rebond.addr_key(primary_email) = ANY(w.a)"
	    " OR rebond.addr_key(secondary_email) = ANY(w.a)"
	    " OR rebond.addr_key(pending_email) = ANY(w.a)"
	    " OR id = ANY(w.ids) "
	    "ORDER BY id FOR UPDATE OF accounts",
	    2, params, &res) == -1) {
		free(js);
		free(jids);
		return -1;
	}
	free(jids);
	free(js);
	rows = sym_PQntuples(res);
	a = xcalloc((size_t)rows + 1, sizeof *a);
	for (row = 0; row < rows; row++) {
		unsigned long long id;

		if (parse_uint(sym_PQgetvalue(res, row, 0), 0, ~0ULL >> 1,
		    &id) == -1)
			id = 0;
		a[row].id = (long long)id;
		a[row].primary_email = dup_or_null(res, row, 1);
		a[row].secondary_email = dup_or_null(res, row, 2);
		a[row].pending_email = dup_or_null(res, row, 3);
		a[row].phone = dup_or_null(res, row, 4);
		a[row].status = dup_or_null(res, row, 5);
		if (policy_state_parse(sym_PQgetvalue(res, row, 6),
		    &a[row].primary_state) == -1)
			a[row].primary_state = STATE_OK;
		if (policy_state_parse(sym_PQgetvalue(res, row, 7),
		    &a[row].secondary_state) == -1)
			a[row].secondary_state = STATE_OK;
		a[row].primary_since = epoch_or_zero(res, row, 8);
		a[row].secondary_since = epoch_or_zero(res, row, 9);
		if (sym_PQgetisnull(res, row, 10) || policy_alert_parse(
		    sym_PQgetvalue(res, row, 10), &a[row].login_alert) == -1)
			a[row].login_alert = ALERT_NONE;
		a[row].login_alert_address = dup_or_null(res, row, 11);
	}
	sym_PQclear(res);
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
	for (i = 0; i < n; i++)
		policy_account_clear(&a[i]);
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

/* A JSON array of the n strings, as text (free()). */
static char *
json_strings(const char *const *v, size_t n)
{
	json_t *arr = json_array();
	char *js;
	size_t i;

	for (i = 0; i < n; i++)
		json_array_append_new(arr, json_string(v[i]));
	js = json_dumps(arr, JSON_COMPACT);
	json_decref(arr);
	return js;
}

/* The latest warning per account and category. */
static int
history_warned(struct store *st, struct account *a, size_t n)
{
	json_t *ids = json_array(), *index;
	const char *params[1];
	PGresult *res;
	char *js;
	size_t i;
	int row, rows;

	for (i = 0; i < n; i++)
		json_array_append_new(ids, json_integer(a[i].id));
	js = json_dumps(ids, JSON_COMPACT);
	json_decref(ids);
	if (js == NULL) {
		log_error("database: cannot encode the account ids");
		return -1;
	}
	params[0] = js;
	if (exec(st, "lookup of earlier warnings",
	    "SELECT DISTINCT ON (account_id, category) account_id, category,"
	    " id, extract(epoch FROM created_at)::bigint, channel, "
	    "destination FROM rebond.outbox "
	    "WHERE account_id = ANY(ARRAY(SELECT jsonb_array_elements_text("
	    "$1::jsonb)::bigint)) AND channel IN ('email', 'sms')"
	    " AND category IS NOT NULL AND cancelled_at IS NULL"
	    " AND failed_at IS NULL "
	    "ORDER BY account_id, category, created_at DESC",
	    1, params, &res) == -1) {
		free(js);
		return -1;
	}
	free(js);
	/* Accounts by id (the rows come ordered by account_id). */
	index = json_object();
	for (i = 0; i < n; i++) {
		char key[32];

		snprintf(key, sizeof key, "%lld", a[i].id);
		json_object_set_new(index, key, json_integer((json_int_t)i));
	}
	rows = sym_PQntuples(res);
	for (row = 0; row < rows; row++) {
		unsigned long long oid;
		enum warn_kind k;
		json_t *at = json_object_get(index,
		    sym_PQgetvalue(res, row, 0));
		struct warned *w;

		if (at == NULL ||
		    policy_warn_parse(sym_PQgetvalue(res, row, 1), &k) == -1 ||
		    parse_uint(sym_PQgetvalue(res, row, 2), 1, ~0ULL >> 1,
		    &oid) == -1)
			continue;
		w = &a[json_integer_value(at)].warned[k];
		w->at = epoch_or_zero(res, row, 3);
		w->id = (long long)oid;
		w->ref[0] = '\0';
		w->channel = strcmp(sym_PQgetvalue(res, row, 4), "sms") == 0 ?
		    CHANNEL_SMS : CHANNEL_EMAIL;
		snprintf(w->dest, sizeof w->dest, "%s",
		    sym_PQgetvalue(res, row, 5));
	}
	json_decref(index);
	sym_PQclear(res);
	return 0;
}

static void
add_day(struct soft_days *d, long day)
{
	d->day = xreallocarray(d->day, d->n + 1, sizeof *d->day);
	d->day[d->n++] = day;
}

/* "account_id/address key": what a transient failure counts toward. */
static void
soft_key(char *buf, size_t len, long long id, const char *key)
{
	snprintf(buf, len, "%lld/%s", id, key);
}

/*
 * Days with a transient failure of each address, since start: only the
 * failures recorded for that account (a bounce applied to another
 * account, e.g. by that account's own valid tag, says nothing of this
 * one's address).
 */
static int
history_soft(struct store *st, struct account *a, size_t n, time_t start)
{
	char **addrs = xcalloc(2 * n + 1, sizeof *addrs), *js = NULL,
	    sbuf[32], key[600];
	json_t *index = json_object();	/* id/address -> 2 * account + role */
	const char *params[2];
	PGresult *res;
	size_t i, na = 0;
	int row, rows, rc = -1;

	for (i = 0; i < n; i++) {
		if (a[i].primary_email != NULL) {
			addrs[na] = addr_key(a[i].primary_email);
			soft_key(key, sizeof key, a[i].id, addrs[na++]);
			json_object_set_new(index, key,
			    json_integer((json_int_t)(2 * i)));
		}
		if (a[i].secondary_email != NULL) {
			addrs[na] = addr_key(a[i].secondary_email);
			soft_key(key, sizeof key, a[i].id, addrs[na++]);
			if (json_object_get(index, key) == NULL)
				json_object_set_new(index, key,
				    json_integer((json_int_t)(2 * i + 1)));
		}
	}
	if ((js = json_strings((const char *const *)addrs, na)) == NULL) {
		log_error("database: cannot encode the addresses");
		goto out;
	}
	snprintf(sbuf, sizeof sbuf, "%lld", (long long)start);
	params[0] = js;
	params[1] = sbuf;
	if (exec(st, "lookup of transient failures",
	    "SELECT DISTINCT account_id::text || '/' || recipient,"
	    " floor(extract(epoch FROM occurred_at) / 86400)::bigint "
	    "FROM rebond.events "
	    "WHERE category = 'transient' AND recipient = ANY(ARRAY("
	    "SELECT jsonb_array_elements_text($1::jsonb)))"
	    " AND occurred_at >= to_timestamp($2::bigint)"
	    /* (applied to an account: not a forged, unverified one) */
	    " AND account_id IS NOT NULL",
	    2, params, &res) == -1)
		goto out;
	rows = sym_PQntuples(res);
	for (row = 0; row < rows; row++) {
		json_t *at = json_object_get(index,
		    sym_PQgetvalue(res, row, 0));
		char *end;
		long day = strtol(sym_PQgetvalue(res, row, 1), &end, 10);
		size_t v;

		if (at == NULL || *end != '\0')
			continue;
		v = (size_t)json_integer_value(at);
		add_day(v % 2 ? &a[v / 2].soft_secondary :
		    &a[v / 2].soft_primary, day);
	}
	sym_PQclear(res);
	rc = 0;
out:
	json_decref(index);
	free(js);
	for (i = 0; i < na; i++)
		free(addrs[i]);
	free(addrs);
	return rc;
}

int
store_history(struct store *st, struct account *a, size_t n,
    time_t soft_start)
{
	if (n == 0)
		return 0;
	if (history_warned(st, a, n) == -1 ||
	    history_soft(st, a, n, soft_start) == -1)
		return -1;
	return 0;
}

int
store_ops_lookup(struct store *st, const char *const *remotes, size_t n,
    struct ops_alert **ops_r)
{
	struct ops_alert *ops = xcalloc(n + 1, sizeof *ops);
	const char *params[1];
	PGresult *res;
	char *js;
	size_t i;
	int row, rows;

	*ops_r = ops;
	for (i = 0; i < n; i++)
		ops[i].remote = xstrdup(remotes[i]);
	if (n == 0)
		return 0;
	if ((js = json_strings(remotes, n)) == NULL) {
		log_error("database: cannot encode the remote domains");
		return -1;
	}
	params[0] = js;
	/*
	 * One operator alert per remote, even when two mailboxes' runs see
	 * it blocked at once: each batch locks its remotes (after its
	 * digests and accounts, as every batch does) until it commits; the
	 * other's lookup, a new statement, then sees its notified_at.
	 */
	if (lock_keys(st, "lock of the batch's remote domains",
	    STORE_REMOTE_LOCK_CLASS, js) == -1) {
		free(js);
		return -1;
	}
	if (exec(st, "lookup of operator alerts",
	    "SELECT remote, extract(epoch FROM notified_at)::bigint "
	    "FROM rebond.ops_alerts WHERE remote = ANY(ARRAY("
	    "SELECT jsonb_array_elements_text($1::jsonb)))",
	    1, params, &res) == -1) {
		free(js);
		return -1;
	}
	free(js);
	rows = sym_PQntuples(res);
	for (row = 0; row < rows; row++)
		for (i = 0; i < n; i++)
			if (strcmp(ops[i].remote,
			    sym_PQgetvalue(res, row, 0)) == 0)
				ops[i].notified = epoch_or_zero(res, row, 1);
	sym_PQclear(res);
	return 0;
}

int
store_sent_lookup(struct store *st, const char *const *mids, size_t n,
    struct sent_mail **sent_r, size_t *nsent_r)
{
	struct sent_mail *sent = NULL;
	const char *params[1];
	PGresult *res;
	char *js;
	int row, rows;

	*sent_r = NULL;
	*nsent_r = 0;
	if (n == 0)
		return 0;
	if ((js = json_strings(mids, n)) == NULL) {
		log_error("database: cannot encode the Message-IDs");
		return -1;
	}
	params[0] = js;
	if (exec(st, "lookup of sent mail",
	    "SELECT message_id, recipient FROM rebond.sent_mail "
	    "WHERE message_id = ANY(ARRAY("
	    "SELECT jsonb_array_elements_text($1::jsonb)))",
	    1, params, &res) == -1) {
		free(js);
		return -1;
	}
	free(js);
	rows = sym_PQntuples(res);
	sent = xcalloc((size_t)rows + 1, sizeof *sent);
	for (row = 0; row < rows; row++) {
		sent[row].message_id = xstrdup(sym_PQgetvalue(res, row, 0));
		sent[row].recipient = xstrdup(sym_PQgetvalue(res, row, 1));
	}
	sym_PQclear(res);
	*sent_r = sent;
	*nsent_r = (size_t)rows;
	return 0;
}

void
store_sent_free(struct sent_mail *sent, size_t n)
{
	size_t i;

	for (i = 0; sent != NULL && i < n; i++) {
		free(sent[i].message_id);
		free(sent[i].recipient);
	}
	free(sent);
}

int
store_purge_sent(struct store *st, unsigned keep_days, long long *purged_r)
{
	char kbuf[16];
	const char *params[1] = { kbuf };
	PGresult *res;
	unsigned long long d = 0;

	*purged_r = 0;
	snprintf(kbuf, sizeof kbuf, "%u", keep_days);
	if (exec(st, "purge of sent mail",
	    "SELECT rebond.purge_sent_mail($1::integer)", 1, params,
	    &res) == -1)
		return -1;
	if (sym_PQntuples(res) != 1 ||
	    parse_uint(sym_PQgetvalue(res, 0, 0), 0, 1ull << 62, &d) == -1)
		d = 0;
	sym_PQclear(res);
	*purged_r = (long long)d;
	return 0;
}

void
store_ops_free(struct ops_alert *ops, size_t n)
{
	size_t i;

	if (ops == NULL)
		return;
	for (i = 0; i < n; i++)
		free(ops[i].remote);
	free(ops);
}

int
store_write_batch(struct store *st, const struct batch_rows *b)
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
	    "ON CONFLICT (digest, rcpt_index) DO NOTHING", b->events) == -1)
		return -1;
	/* Accounts first: the trigger resolves the problems of an emptied
	 * secondary before this batch's problems go in. */
	if (exec_json(st, "update of accounts",
	    "UPDATE public.accounts AS a SET"
	    " primary_state = u.primary_state,"
	    " primary_state_since = to_timestamp(u.primary_state_since),"
	    " secondary_state = u.secondary_state,"
	    " secondary_state_since = to_timestamp(u.secondary_state_since),"
	    " login_alert = u.login_alert,"
	    " login_alert_address = u.login_alert_address,"
	    " secondary_email = CASE WHEN u.clear_secondary THEN NULL"
	    "  ELSE a.secondary_email END,"
	    " pending_email = CASE WHEN u.clear_pending THEN NULL"
	    "  ELSE a.pending_email END,"
	    " pending_deadline = CASE WHEN u.clear_pending THEN NULL"
	    "  ELSE a.pending_deadline END "
	    "FROM jsonb_to_recordset($1::jsonb) AS u(id bigint,"
	    " primary_state text, primary_state_since double precision,"
	    " secondary_state text, secondary_state_since double precision,"
	    " login_alert text, login_alert_address text,"
	    " clear_secondary boolean, clear_pending boolean) "
	    "WHERE a.id = u.id"
	    /* The ids again, as an array: so the planner probes the primary
	     * key instead of scanning every account for each batch (it
	     * cannot see how few rows jsonb_to_recordset gives). */
	    " AND a.id = ANY(ARRAY(SELECT (e->>'id')::bigint"
	    " FROM jsonb_array_elements($1::jsonb) AS e))", b->accounts) == -1)
		return -1;
	if (exec_json(st, "update of bounced address changes",
	    "UPDATE rebond.email_changes AS c SET status = 'bounced',"
	    " closed_at = now() "
	    "FROM jsonb_to_recordset($1::jsonb) AS u(id bigint,"
	    " clear_pending boolean) "
	    "WHERE u.clear_pending AND c.account_id = u.id"
	    " AND c.status = 'pending'", b->accounts) == -1)
		return -1;
	if (exec_json(st, "insert of notifications",
	    "INSERT INTO rebond.outbox (account_id, channel, destination,"
	    " template, category, params, ref) "
	    "SELECT o.account_id, o.channel, o.destination, o.template,"
	    " o.category, coalesce(o.params, '{}'), o.ref "
	    "FROM jsonb_to_recordset($1::jsonb) AS o(account_id bigint,"
	    " channel text, destination text, template text, category text,"
	    " params jsonb, ref text) "
	    "ON CONFLICT (ref) DO NOTHING", b->outbox) == -1)
		return -1;
	if (exec_json(st, "insert of problems",
	    "INSERT INTO rebond.problems AS p (account_id, role, category,"
	    " address, since, ref, warning_id, reason, auto_cleared,"
	    " resolved_at, resolution) "
	    "SELECT j.account_id, j.role, j.category, j.address,"
	    " to_timestamp(j.since), j.ref,"
	    " coalesce(j.warning_id, (SELECT o.id FROM rebond.outbox o"
	    "  WHERE o.ref = j.warning_ref)),"
	    " j.reason, coalesce(j.auto_cleared, false),"
	    " CASE WHEN j.auto_cleared THEN now() END,"
	    " CASE WHEN j.auto_cleared THEN 'auto_cleared' END "
	    "FROM jsonb_to_recordset($1::jsonb) AS j(account_id bigint,"
	    " role text, category text, address text,"
	    " since double precision, ref text, warning_id bigint,"
	    " warning_ref text, reason text, auto_cleared boolean) "
	    "ON CONFLICT (account_id, role) WHERE resolved_at IS NULL "
	    "DO UPDATE SET category = EXCLUDED.category,"
	    " address = EXCLUDED.address, since = EXCLUDED.since,"
	    " ref = EXCLUDED.ref, warning_id = EXCLUDED.warning_id,"
	    " reason = EXCLUDED.reason, auto_cleared = EXCLUDED.auto_cleared,"
	    " resolved_at = EXCLUDED.resolved_at,"
	    " resolution = EXCLUDED.resolution, digest_id = NULL,"
	    " created_at = now()", b->problems) == -1)
		return -1;
	if (exec_json(st, "update of operator alerts",
	    "INSERT INTO rebond.ops_alerts AS a (remote, remote_mta,"
	    " last_diagnostic, first_seen, last_seen, count, notified_at) "
	    "SELECT j.remote, j.remote_mta, j.diagnostic,"
	    " to_timestamp(j.first_seen), to_timestamp(j.last_seen), j.count,"
	    " to_timestamp(j.notified_at) "
	    "FROM jsonb_to_recordset($1::jsonb) AS j(remote text,"
	    " remote_mta text, diagnostic text, first_seen double precision,"
	    " last_seen double precision, count bigint,"
	    " notified_at double precision) "
	    "ON CONFLICT (remote) DO UPDATE SET"
	    " remote_mta = coalesce(EXCLUDED.remote_mta, a.remote_mta),"
	    " last_diagnostic = coalesce(EXCLUDED.last_diagnostic,"
	    "  a.last_diagnostic),"
	    " first_seen = least(a.first_seen, EXCLUDED.first_seen),"
	    " last_seen = greatest(a.last_seen, EXCLUDED.last_seen),"
	    " count = a.count + EXCLUDED.count,"
	    " notified_at = coalesce(EXCLUDED.notified_at, a.notified_at)",
	    b->ops) == -1)
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
	    "ON CONFLICT (digest) DO NOTHING", b->messages) == -1)
		return -1;
	return 0;
}

int
store_unlock(struct store *st, const char *key)
{
	const char *params[1] = { key };

	return exec(st, "advisory unlock",
	    "SELECT pg_advisory_unlock(hashtextextended($1, 0))", 1, params,
	    NULL);
}

int
store_expire(struct store *st, unsigned validation_days,
    unsigned invitation_days, int *validations_r, int *invitations_r)
{
	char vbuf[16], ibuf[16];
	const char *params[2] = { vbuf, ibuf };
	PGresult *res;
	unsigned long long v = 0, i = 0;

	*validations_r = *invitations_r = 0;
	snprintf(vbuf, sizeof vbuf, "%u", validation_days);
	snprintf(ibuf, sizeof ibuf, "%u", invitation_days);
	if (exec(st, "expiry of deadlines",
	    "SELECT validations, invitations FROM "
	    "rebond.expire_deadlines($1::integer, $2::integer)",
	    2, params, &res) == -1)
		return -1;
	if (sym_PQntuples(res) == 1) {
		if (parse_uint(sym_PQgetvalue(res, 0, 0), 0, 1u << 30,
		    &v) == -1)
			v = 0;
		if (parse_uint(sym_PQgetvalue(res, 0, 1), 0, 1u << 30,
		    &i) == -1)
			i = 0;
	}
	sym_PQclear(res);
	*validations_r = (int)v;
	*invitations_r = (int)i;
	return 0;
}

int
store_decay_soft(struct store *st, unsigned window_days, int *decayed_r)
{
	char wbuf[16];
	const char *params[1] = { wbuf };
	PGresult *res;
	unsigned long long d = 0;

	*decayed_r = 0;
	snprintf(wbuf, sizeof wbuf, "%u", window_days);
	if (exec(st, "decay of soft scores",
	    "SELECT decayed FROM rebond.decay_soft($1::integer)",
	    1, params, &res) == -1)
		return -1;
	if (sym_PQntuples(res) != 1 ||
	    parse_uint(sym_PQgetvalue(res, 0, 0), 0, 1u << 30, &d) == -1)
		d = 0;
	sym_PQclear(res);
	*decayed_r = (int)d;
	return 0;
}

int
store_outbox_next(struct store *st, const char *channels, long long after,
    unsigned max, struct outbox_row **rows_r, size_t *n_r)
{
	char abuf[32], mbuf[16];
	const char *params[3] = { channels, abuf, mbuf };
	struct outbox_row *rows;
	PGresult *res;
	int row, nrows;

	*rows_r = NULL;
	*n_r = 0;
	snprintf(abuf, sizeof abuf, "%lld", after);
	snprintf(mbuf, sizeof mbuf, "%u", max);
	/* An operator alert shows the counts as they are when it leaves. */
	if (exec(st, "lookup of notifications to send",
	    "SELECT o.id, coalesce(o.account_id, 0), o.channel,"
	    " o.destination, o.template, (o.params || CASE WHEN"
	    " o.channel = 'ops' THEN coalesce((SELECT jsonb_build_object("
	    "'count', a.count, 'first_seen', to_char(a.first_seen,"
	    " 'DD/MM/YYYY HH24:MI'), 'last_seen', to_char(a.last_seen,"
	    " 'DD/MM/YYYY HH24:MI'), 'remote_mta', coalesce(a.remote_mta,"
	    " '-'), 'diagnostic', coalesce(a.last_diagnostic, '-'))"
	    " FROM rebond.ops_alerts a WHERE a.remote = o.params->>'remote'),"
	    " '{}') ELSE '{}' END)::text,"
	    " extract(epoch FROM o.created_at)::bigint,"
	    /* The role of the destination in its account, for VERP. */
	    " (SELECT CASE"
	    " WHEN rebond.addr_key(ac.primary_email) ="
	    " rebond.addr_key(o.destination)"
	    " THEN CASE WHEN ac.status = 'invited' THEN 'invitation'"
	    " ELSE 'primary' END"
	    " WHEN rebond.addr_key(ac.secondary_email) ="
	    " rebond.addr_key(o.destination) THEN 'secondary'"
	    " WHEN rebond.addr_key(ac.pending_email) ="
	    " rebond.addr_key(o.destination) THEN 'pending' END"
	    " FROM public.accounts ac WHERE ac.id = o.account_id) "
	    "FROM rebond.outbox o "
	    "WHERE o.sent_at IS NULL AND o.failed_at IS NULL"
	    " AND o.cancelled_at IS NULL"
	    " AND o.channel = ANY(string_to_array($1, ','))"
	    " AND o.id > $2::bigint "
	    "ORDER BY o.id LIMIT $3::integer", 3, params, &res) == -1)
		return -1;
	nrows = sym_PQntuples(res);
	rows = xcalloc((size_t)nrows + 1, sizeof *rows);
	for (row = 0; row < nrows; row++) {
		unsigned long long id, acc;
		struct outbox_row *r = &rows[row];

		if (parse_uint(sym_PQgetvalue(res, row, 0), 1, ~0ULL >> 1,
		    &id) == -1 ||
		    parse_uint(sym_PQgetvalue(res, row, 1), 0, ~0ULL >> 1,
		    &acc) == -1)
			id = acc = 0;
		r->id = (long long)id;
		r->account_id = (long long)acc;
		r->channel = xstrdup(sym_PQgetvalue(res, row, 2));
		r->destination = xstrdup(sym_PQgetvalue(res, row, 3));
		r->template = xstrdup(sym_PQgetvalue(res, row, 4));
		r->params = json_loads(sym_PQgetvalue(res, row, 5), 0, NULL);
		if (r->params == NULL || !json_is_object(r->params)) {
			json_decref(r->params);
			r->params = json_object();
		}
		r->created = epoch_or_zero(res, row, 6);
		r->dest_role = ROLE_NONE;
		if (!sym_PQgetisnull(res, row, 7))
			policy_role_parse(sym_PQgetvalue(res, row, 7),
			    &r->dest_role);
	}
	sym_PQclear(res);
	*rows_r = rows;
	*n_r = (size_t)nrows;
	return 0;
}

void
store_outbox_rows_free(struct outbox_row *rows, size_t n)
{
	size_t i;

	if (rows == NULL)
		return;
	for (i = 0; i < n; i++) {
		free(rows[i].channel);
		free(rows[i].destination);
		free(rows[i].template);
		json_decref(rows[i].params);
	}
	free(rows);
}

int
store_outbox_done(struct store *st, long long id, enum send_result r,
    const char *error)
{
	char ibuf[32];
	const char *params[2] = { ibuf, error ? error : "" };
	char *clean = NULL;
	int rc;

	snprintf(ibuf, sizeof ibuf, "%lld", id);
	if (r == SEND_OK)
		/* Sent: the validation token has no business staying here. */
		return exec(st, "record of a sent notification",
		    "UPDATE rebond.outbox SET sent_at = now(),"
		    " attempts = attempts + 1, last_error = NULL,"
		    " params = params - 'token' WHERE id = $1::bigint",
		    1, params, NULL);
	clean = str_sanitize(params[1], strlen(params[1]), 400);
	params[1] = clean;
	rc = exec(st, "record of a failed notification",
	    r == SEND_PERM ?
	    "UPDATE rebond.outbox SET attempts = attempts + 1,"
	    " last_error = $2, failed_at = now() WHERE id = $1::bigint" :
	    "UPDATE rebond.outbox SET attempts = attempts + 1,"
	    " last_error = $2 WHERE id = $1::bigint", 2, params, NULL);
	free(clean);
	return rc;
}

int
store_outbox_unreachable(struct store *st, const char *channels,
    const char *error)
{
	char *clean = str_sanitize(error, strlen(error), 400);
	const char *params[2] = { channels, clean };
	int rc;

	rc = exec(st, "record of an unreachable relay",
	    "UPDATE rebond.outbox SET attempts = attempts + 1, last_error = $2 "
	    "WHERE sent_at IS NULL AND failed_at IS NULL"
	    " AND cancelled_at IS NULL"
	    " AND channel = ANY(string_to_array($1, ','))", 2, params, NULL);
	free(clean);
	return rc;
}

/* A whole result as a table of strings (NULL for SQL NULL). */
static struct store_table *
table_of(const PGresult *res)
{
	struct store_table *t = xcalloc(1, sizeof *t);
	int r, c;

	t->ncols = (size_t)sym_PQnfields(res);
	t->nrows = (size_t)sym_PQntuples(res);
	t->names = xcalloc(t->ncols + 1, sizeof *t->names);
	t->cells = xcalloc(t->ncols * t->nrows + 1, sizeof *t->cells);
	for (c = 0; c < (int)t->ncols; c++)
		t->names[c] = xstrdup(sym_PQfname(res, c));
	for (r = 0; r < (int)t->nrows; r++)
		for (c = 0; c < (int)t->ncols; c++)
			t->cells[(size_t)r * t->ncols + (size_t)c] =
			    dup_or_null(res, r, c);
	return t;
}

void
store_table_free(struct store_table **pp)
{
	struct store_table *t = *pp;
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncols; i++)
		free(t->names[i]);
	for (i = 0; i < t->ncols * t->nrows; i++)
		free(t->cells[i]);
	free(t->names);
	free(t->cells);
	free(t);
	*pp = NULL;
}

const char *
store_table_cell(const struct store_table *t, size_t row, size_t col)
{
	return t->cells[row * t->ncols + col];
}

int
store_admin_queue(struct store *st, struct store_table **t_r)
{
	PGresult *res;

	*t_r = NULL;
	if (exec(st, "lookup of the admin queue",
	    "SELECT problem_id::text, account_id::text, address, role,"
	    " category, what, action,"
	    " notified, to_char(since, 'DD/MM/YYYY') "
	    "FROM rebond.admin_queue ORDER BY since, problem_id",
	    0, NULL, &res) == -1)
		return -1;
	*t_r = table_of(res);
	sym_PQclear(res);
	return 0;
}

int
store_digest_pending(struct store *st, unsigned max,
    struct store_table **t_r)
{
	char mbuf[16];
	const char *params[1] = { mbuf };
	PGresult *res;

	*t_r = NULL;
	snprintf(mbuf, sizeof mbuf, "%u", max);
	if (exec(st, "lookup of new problems",
	    "SELECT d.problem_id::text, d.account_id::text, d.address, d.role,"
	    " d.category, d.what, d.action, d.notified,"
	    " to_char(d.since, 'DD/MM/YYYY') "
	    "FROM rebond.problem_details d "
	    "WHERE d.digest_id IS NULL "
	    "ORDER BY d.problem_id LIMIT $1::integer", 1, params, &res) == -1)
		return -1;
	*t_r = table_of(res);
	sym_PQclear(res);
	return 0;
}

int
store_digest_queue(struct store *st, const char *admin_to, json_t *params,
    const char *const *problem_ids, size_t n)
{
	char *pj = json_dumps(params, JSON_COMPACT), *ij;
	const char *p[3];
	PGresult *res;
	int rc = -1;

	ij = json_strings(problem_ids, n);
	if (pj == NULL || ij == NULL) {
		log_error("database: cannot encode the admin digest");
		goto out;
	}
	p[0] = admin_to;
	p[1] = pj;
	p[2] = ij;
	if (exec(st, "insert of the admin digest",
	    "WITH d AS (INSERT INTO rebond.outbox (channel, destination,"
	    " template, params) VALUES ('admin', $1, 'admin_digest', $2::jsonb)"
	    " RETURNING id) "
	    "UPDATE rebond.problems p SET digest_id = d.id FROM d "
	    "WHERE p.id = ANY(ARRAY(SELECT jsonb_array_elements_text("
	    "$3::jsonb)::bigint)) AND p.digest_id IS NULL", 3, p, &res) == -1)
		goto out;
	sym_PQclear(res);
	rc = 0;
out:
	free(pj);
	free(ij);
	return rc;
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
	if (sym_PQntuples(res) == 1 && parse_uint(sym_PQgetvalue(res, 0, 0), 0,
	    UINT32_MAX, uidvalidity_r) == -1)
		*uidvalidity_r = 0;
	sym_PQclear(res);
	return 0;
}

int
store_rescore(struct store *st, json_t *rows, const char *version,
    json_t **diffs_r, long long *added_r)
{
	const char *params[2] = { NULL, version };
	unsigned long long added;
	json_error_t jerr;
	PGresult *res;
	char *js;

	*diffs_r = NULL;
	*added_r = 0;
	if ((js = json_dumps(rows, JSON_COMPACT)) == NULL) {
		log_error("database: rescore: cannot encode the batch");
		return -1;
	}
	params[0] = js;
	if (exec(st, "rescore",
	    "WITH n AS (SELECT * FROM jsonb_to_recordset($1::jsonb) AS n("
	    " digest text, rcpt_index integer, message_id text,"
	    " recipient text, reason text, category text, rule text)),"
	    " o AS (SELECT e.digest, e.rcpt_index, e.message_id, e.recipient,"
	    " e.reason, e.category, e.rule FROM rebond.events e"
	    " WHERE e.digest IN (SELECT digest FROM n)),"
	    " d AS (SELECT coalesce(n.digest, o.digest) AS digest,"
	    " coalesce(n.rcpt_index, o.rcpt_index) AS rcpt_index,"
	    " coalesce(n.message_id, o.message_id) AS message_id,"
	    " coalesce(n.recipient, o.recipient) AS recipient,"
	    " o.reason AS old_reason, o.category AS old_category,"
	    " o.rule AS old_rule, n.reason AS new_reason,"
	    " n.category AS new_category, n.rule AS new_rule"
	    " FROM (SELECT * FROM n WHERE rcpt_index IS NOT NULL) AS n"
	    " FULL JOIN o ON n.digest = o.digest"
	    " AND n.rcpt_index = o.rcpt_index"
	    " WHERE (o.reason, o.category, o.rule) IS DISTINCT FROM"
	    " (n.reason, n.category, n.rule)),"
	    " ins AS (INSERT INTO rebond.rescores (version, digest,"
	    " rcpt_index, message_id, recipient, old_reason, old_category,"
	    " old_rule, new_reason, new_category, new_rule)"
	    " SELECT $2, digest, rcpt_index, message_id, recipient,"
	    " old_reason, old_category, old_rule, new_reason, new_category,"
	    " new_rule FROM d ON CONFLICT DO NOTHING RETURNING 1) "
	    "SELECT coalesce((SELECT json_agg(d ORDER BY digest, rcpt_index)"
	    " FROM d), '[]'), (SELECT count(*) FROM ins)",
	    2, params, &res) == -1) {
		free(js);
		return -1;
	}
	free(js);
	*diffs_r = json_loads(sym_PQgetvalue(res, 0, 0), 0, &jerr);
	if (*diffs_r == NULL || !json_is_array(*diffs_r) ||
	    parse_uint(sym_PQgetvalue(res, 0, 1), 0, ~0ULL >> 1,
	    &added) == -1) {
		log_error("database: rescore: unexpected result");
		json_decref(*diffs_r);
		*diffs_r = NULL;
		sym_PQclear(res);
		return -1;
	}
	sym_PQclear(res);
	*added_r = (long long)added;
	return 0;
}
