/* live.c - helpers for live tests (see live.h). */
#include "config.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <dirent.h>
#include <fcntl.h>
#include <pwd.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "live.h"

static char out_buf[65536], err_buf[65536];
static long last_maxrss_kb;

const char *
live_env(const char *name)
{
	const char *v = getenv(name);

	cr_assert(v != NULL && *v != '\0', "%s is not set: run live tests "
	    "through tests/harness.sh (make check)", name);
	return v;
}

const char *
live_dir(void)
{
	return live_env("REBOND_TEST_DIR");
}

static void
quiet(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

static PGconn *
connect_or_die(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);

	cr_assert_eq(PQstatus(c), CONNECTION_OK, "connect %s: %s", conninfo,
	    PQerrorMessage(c));
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

const char *
live_db(const char *name)
{
	return live_db_at(live_env("REBOND_TEST_PGHOST"),
	    live_env("REBOND_TEST_PGPORT"), name);
}

void
live_pg_cluster(const char *name, char *host, size_t hostlen, char *port,
    size_t portlen)
{
	char cmd[800], line[1000], *h, *p;
	FILE *f;

	snprintf(cmd, sizeof cmd, "%s/tests/servers.sh postgres %s pg-%s",
	    live_env("REBOND_SRCDIR"), live_dir(), name);
	f = popen(cmd, "r");
	cr_assert_not_null(f, "%s", cmd);
	cr_assert_not_null(fgets(line, sizeof line, f), "%s", cmd);
	pclose(f);
	/* "export REBOND_TEST_PG_<NAME>_HOST=dir ..._PORT=n" */
	h = strstr(line, "_HOST=");
	p = strstr(line, "_PORT=");
	cr_assert(h != NULL && p != NULL, "%s", line);
	h += 6;
	p += 6;
	snprintf(host, hostlen, "%.*s", (int)strcspn(h, " \n"), h);
	snprintf(port, portlen, "%.*s", (int)strcspn(p, " \n"), p);
}

const char *
live_db_at(const char *host, const char *port, const char *name)
{
	/* A few slots, so a test can hold several databases at once. */
	static char slots[8][512];
	static unsigned next;
	char *conninfo = slots[next++ % 8];
	char admin[512], sql[256];
	PGconn *c;
	PGresult *r;

	snprintf(admin, sizeof admin, "host=%s port=%s user=postgres "
	    "dbname=postgres", host, port);
	c = connect_or_die(admin);
	snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS \"%s\"", name);
	PQclear(PQexec(c, sql));
	snprintf(sql, sizeof sql, "CREATE DATABASE \"%s\"", name);
	r = PQexec(c, sql);
	cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
	snprintf(conninfo, sizeof slots[0], "host=%s port=%s user=postgres "
	    "dbname=%s", host, port, name);
	return conninfo;
}

const char *
live_db_migrated(const char *name)
{
	return live_migrate(live_db(name));
}

const char *
live_migrate(const char *ci)
{
	char args[1024];
	int rc;

	snprintf(args, sizeof args, "migrate --conninfo '%s' --sql-dir %s/sql",
	    ci, live_env("REBOND_SRCDIR"));
	rc = live_rebond(args);
	cr_assert_eq(rc, 0, "migrate failed (%d): %s", rc, live_err());
	return ci;
}

void
live_sql(const char *conninfo, const char *sql)
{
	PGconn *c = connect_or_die(conninfo);
	PGresult *r = PQexec(c, sql);
	ExecStatusType s = PQresultStatus(r);

	cr_assert(s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	PQclear(r);
	PQfinish(c);
}

char *
live_sql_str(const char *conninfo, const char *sql)
{
	PGconn *c = connect_or_die(conninfo);
	PGresult *r = PQexec(c, sql);
	char *v = NULL;

	cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql,
	    PQerrorMessage(c));
	cr_assert(PQntuples(r) >= 1, "%s: no row", sql);
	if (!PQgetisnull(r, 0, 0))
		v = strdup(PQgetvalue(r, 0, 0));
	PQclear(r);
	PQfinish(c);
	return v;
}

long long
live_sql_int(const char *conninfo, const char *sql)
{
	char *s = live_sql_str(conninfo, sql);
	long long v;

	cr_assert_not_null(s, "%s: NULL", sql);
	v = strtoll(s, NULL, 10);
	free(s);
	return v;
}

/* Give a path to the user the mail server runs as (when we are root). */
static void
give(const char *path)
{
	struct passwd *pw;
	struct group *gr;

	if (geteuid() != 0)
		return;
	pw = getpwnam(live_env("REBOND_TEST_MAILUSER"));
	gr = getgrnam(live_env("REBOND_TEST_MAILGROUP"));
	cr_assert(pw && gr, "no mail user");
	cr_assert_eq(chown(path, pw->pw_uid, gr->gr_gid), 0, "chown %s: %s",
	    path, strerror(errno));
}

static void
mkdir_given(const char *path)
{
	cr_assert(mkdir(path, 0755) == 0 || errno == EEXIST, "mkdir %s: %s",
	    path, strerror(errno));
	give(path);
}

/* The Maildir directory of a folder (Maildir++ layout). */
static void
folder_dir(const char *user, const char *folder, char *out, size_t len)
{
	if (strcmp(folder, "INBOX") == 0)
		snprintf(out, len, "%s/%s/Maildir",
		    live_env("REBOND_TEST_MAILHOME"), user);
	else
		snprintf(out, len, "%s/%s/Maildir/.%s",
		    live_env("REBOND_TEST_MAILHOME"), user, folder);
}

void
live_mailbox(const char *user)
{
	char p[1024];
	const char *sub[] = { "cur", "new", "tmp" };
	size_t i;

	snprintf(p, sizeof p, "rm -rf '%s/%s'", live_env("REBOND_TEST_MAILHOME"),
	    user);
	cr_assert_eq(system(p), 0);
	snprintf(p, sizeof p, "%s/%s", live_env("REBOND_TEST_MAILHOME"), user);
	mkdir_given(p);
	folder_dir(user, "INBOX", p, sizeof p);
	mkdir_given(p);
	for (i = 0; i < 3; i++) {
		char q[1100];

		snprintf(q, sizeof q, "%s/%s", p, sub[i]);
		mkdir_given(q);
	}
}

char *
live_slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (f == NULL)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = calloc(1, (size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	return buf;
}

void
live_uid_start(const char *user, unsigned long next)
{
	char dir[1024], path[1100];
	FILE *f;

	folder_dir(user, "INBOX", dir, sizeof dir);
	snprintf(path, sizeof path, "%s/dovecot-uidlist", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fprintf(f, "3 V%ld N%lu\n", (long)time(NULL), next);
	fclose(f);
	give(path);
}

void
live_folder(const char *user, const char *folder)
{
	char p[1024], q[1100];
	const char *sub[] = { "cur", "new", "tmp" };
	size_t i;

	folder_dir(user, folder, p, sizeof p);
	mkdir_given(p);
	for (i = 0; i < 3; i++) {
		snprintf(q, sizeof q, "%s/%s", p, sub[i]);
		mkdir_given(q);
	}
}

void
live_deliver(const char *user, const char *folder, const char *data,
    size_t len)
{
	static unsigned seq;
	char dir[1024], tmp[1200], dst[1200];
	size_t i;
	FILE *f;

	folder_dir(user, folder, dir, sizeof dir);
	snprintf(tmp, sizeof tmp, "%s/tmp/%ld.M%uP%d.rebondtest", dir,
	    (long)time(NULL), seq, (int)getpid());
	snprintf(dst, sizeof dst, "%s/new/%ld.M%uP%d.rebondtest", dir,
	    (long)time(NULL), seq, (int)getpid());
	seq++;
	f = fopen(tmp, "w");
	cr_assert_not_null(f, "%s: %s", tmp, strerror(errno));
	/* Maildir files hold CRLF-less text; Dovecot serves CRLF. */
	for (i = 0; i < len; i++)
		if (!(data[i] == '\r' && i + 1 < len && data[i + 1] == '\n'))
			fputc(data[i], f);
	fclose(f);
	give(tmp);
	cr_assert_eq(rename(tmp, dst), 0, "rename %s: %s", tmp,
	    strerror(errno));
}

void
live_deliver_file(const char *user, const char *folder, const char *path)
{
	char *buf;
	long n;
	FILE *f = fopen(path, "rb");

	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	live_deliver(user, folder, buf, (size_t)n);
	free(buf);
}

static int
count_dir(const char *path)
{
	struct dirent *de;
	DIR *d = opendir(path);
	int n = 0;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

int
live_count(const char *user, const char *folder)
{
	char dir[1024], p[1100];
	int a, b;

	folder_dir(user, folder, dir, sizeof dir);
	snprintf(p, sizeof p, "%s/cur", dir);
	a = count_dir(p);
	snprintf(p, sizeof p, "%s/new", dir);
	b = count_dir(p);
	if (a < 0 && b < 0)
		return -1;
	return (a > 0 ? a : 0) + (b > 0 ? b : 0);
}

char *
live_dsn(const char *rcpt, const char *status, const char *diag, int seq)
{
	char *s = NULL;
	const char *domain = strchr(rcpt, '@') ? strchr(rcpt, '@') + 1 : "x";

	cr_assert(asprintf(&s,
	    "Return-Path: <>\r\n"
	    "Date: Thu, 26 Nov 2026 06:%02d:00 +0000\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.platform.example>\r\n"
	    "To: bounces@platform.example\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Message-ID: <dsn-%d-%s@mx.platform.example>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"BOUNDARY-%d\"\r\n"
	    "\r\n"
	    "This is a MIME-encapsulated message.\r\n"
	    "\r\n"
	    "--BOUNDARY-%d\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "I'm sorry to have to inform you that your message could not\r\n"
	    "be delivered to one or more recipients.\r\n"
	    "\r\n"
	    "<%s>: host mx.%s said: %s\r\n"
	    "\r\n"
	    "--BOUNDARY-%d\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.platform.example\r\n"
	    "Arrival-Date: Thu, 26 Nov 2026 06:00:00 +0000\r\n"
	    "\r\n"
	    "Final-Recipient: rfc822; %s\r\n"
	    "Original-Recipient: rfc822;%s\r\n"
	    "Action: %s\r\n"
	    "Status: %s\r\n"
	    "Remote-MTA: dns; mx.%s\r\n"
	    "Diagnostic-Code: smtp; %s\r\n"
	    "\r\n"
	    "--BOUNDARY-%d\r\n"
	    "Content-Type: text/rfc822-headers\r\n"
	    "\r\n"
	    "From: Platform <noreply@platform.example>\r\n"
	    "To: %s\r\n"
	    "Subject: Votre invitation\r\n"
	    "Message-ID: <orig-%d@platform.example>\r\n"
	    "\r\n"
	    "--BOUNDARY-%d--\r\n",
	    seq % 60, seq, status, seq, seq, rcpt, domain, diag, seq, rcpt,
	    rcpt, status[0] == '4' ? "delayed" : "failed", status, domain,
	    diag, seq, rcpt, seq, seq) > 0);
	return s;
}

const char *
live_config(const char *name, const char *user, const char *conninfo,
    const char *extra)
{
	static char path[512];
	char pw[512];
	FILE *f;

	snprintf(pw, sizeof pw, "%s/imap.pw", live_dir());
	if (access(pw, F_OK) != 0) {
		f = fopen(pw, "w");
		cr_assert_not_null(f);
		fputs("secret\n", f);
		fclose(f);
		chmod(pw, 0600);
	}
	snprintf(path, sizeof path, "%s/%s.ini", live_dir(), name);
	f = fopen(path, "w");
	cr_assert_not_null(f, "%s: %s", path, strerror(errno));
	fprintf(f,
	    "[imap]\n"
	    "host = localhost\n"
	    "port = %s\n"
	    "tls = implicit\n"
	    "ca_file = %s\n"
	    "user = %s\n"
	    "password_file = %s\n"
	    "timeout = 10\n"
	    "[database]\n"
	    "conninfo = %s\n"
	    "%s\n",
	    live_env("REBOND_TEST_DOVECOT_SPORT"), live_env("REBOND_TEST_CA"),
	    user, pw, conninfo, extra ? extra : "");
	fclose(f);
	chmod(path, 0600);
	return path;
}

static void
slurp_into(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f == NULL)
		return;
	n = fread(buf, 1, size - 1, f);
	buf[n] = '\0';
	fclose(f);
}

int
live_rebond(const char *args)
{
	char cmd[4096], o[512], e[512];
	struct rusage ru;
	pid_t pid;
	int st;

	snprintf(o, sizeof o, "%s/out.%d", live_dir(), (int)getpid());
	snprintf(e, sizeof e, "%s/err.%d", live_dir(), (int)getpid());
	snprintf(cmd, sizeof cmd, "exec %s %s --stderr >%s 2>%s </dev/null",
	    live_env("REBOND_BIN"), args, o, e);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		/* Sanitizer builds: a small quarantine, so that peak RSS
		 * says something about rebond rather than about ASan. */
		const char *asan = getenv("ASAN_OPTIONS");
		char opts[1024];

		snprintf(opts, sizeof opts, "%s%squarantine_size_mb=4",
		    asan ? asan : "", asan && *asan ? ":" : "");
		setenv("ASAN_OPTIONS", opts, 1);
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	cr_assert_eq(wait4(pid, &st, 0, &ru), pid, "wait4: %s",
	    strerror(errno));
	last_maxrss_kb = ru.ru_maxrss;
	slurp_into(o, out_buf, sizeof out_buf);
	slurp_into(e, err_buf, sizeof err_buf);
	unlink(o);
	unlink(e);
	cr_assert(WIFEXITED(st), "rebond %s: killed by signal %d", args,
	    WIFSIGNALED(st) ? WTERMSIG(st) : 0);
	return WEXITSTATUS(st);
}

void
live_server_pin(char *out, size_t len)
{
	char cmd[512];
	FILE *p;
	size_t n;

	snprintf(cmd, sizeof cmd, "openssl x509 -in %s/cert.pem -outform DER "
	    "| sha256sum | cut -c1-64", live_dir());
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_not_null(fgets(out, (int)len, p));
	pclose(p);
	n = strcspn(out, "\n");
	out[n] = '\0';
	cr_assert_eq(n, 64, "pin: %s", out);
}

long
live_maxrss_kb(void)
{
	return last_maxrss_kb;
}

const char *
live_out(void)
{
	return out_buf;
}

const char *
live_err(void)
{
	return err_buf;
}

/* Output files of slot. */
static void
slot_files(int slot, char *o, char *e, size_t len)
{
	snprintf(o, len, "%s/out.%d.%d", live_dir(), (int)getpid(), slot);
	snprintf(e, len, "%s/err.%d.%d", live_dir(), (int)getpid(), slot);
}

int
live_rebond_start(const char *env, const char *args, int slot)
{
	char cmd[4096], o[512], e[512];
	pid_t pid;

	cr_assert(slot >= 0 && slot < 32, "slot %d", slot);
	slot_files(slot, o, e, sizeof o);
	/* exec: the shell becomes rebond, so pid is rebond's. */
	snprintf(cmd, sizeof cmd, "exec env %s %s %s --stderr >%s 2>%s "
	    "</dev/null", env ? env : "", live_env("REBOND_BIN"), args, o, e);
	pid = fork();
	cr_assert(pid >= 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
		_exit(127);
	}
	return (int)pid;
}

/*
 * After rebond was killed: wait (10 s at most) until PostgreSQL has seen
 * its connection close and dropped its advisory locks. The kernel closes
 * the socket at once, but a busy backend notices later; a run started in
 * between finds the mailbox "busy" and does nothing, as it should, which
 * is not what the test that killed the other wants to look at.
 */
static void
settle_after_kill(void)
{
	const char *host = getenv("REBOND_TEST_PGHOST"),
	    *port = getenv("REBOND_TEST_PGPORT");
	char admin[512];
	PGconn *c;
	int i;

	if (host == NULL || port == NULL)
		return;
	snprintf(admin, sizeof admin, "host=%s port=%s user=postgres "
	    "dbname=postgres", host, port);
	c = connect_or_die(admin);
	for (i = 0; i < 100; i++) {
		PGresult *r = PQexec(c, "SELECT count(*) FROM pg_locks "
		    "WHERE locktype = 'advisory'");
		int held = PQresultStatus(r) == PGRES_TUPLES_OK &&
		    strcmp(PQgetvalue(r, 0, 0), "0") != 0;
		struct timespec d = { 0, 100000000L };

		PQclear(r);
		if (!held)
			break;
		nanosleep(&d, NULL);
	}
	PQfinish(c);
}

int
live_rebond_wait(int pid, int slot)
{
	char o[512], e[512];
	int st;

	slot_files(slot, o, e, sizeof o);
	cr_assert_eq(waitpid((pid_t)pid, &st, 0), (pid_t)pid, "waitpid: %s",
	    strerror(errno));
	if (WIFSIGNALED(st))
		settle_after_kill();
	slurp_into(o, out_buf, sizeof out_buf);
	slurp_into(e, err_buf, sizeof err_buf);
	unlink(o);
	unlink(e);
	return st;
}

int
live_rebond_env(const char *env, const char *args)
{
	return live_rebond_wait(live_rebond_start(env, args, 0), 0);
}

int
live_dovecot(const char *name, const char *caps)
{
	char cmd[800], line[512], *v;
	FILE *p;
	int port = 0;

	snprintf(cmd, sizeof cmd, "%s/tests/servers.sh dovecot %s %s '%s'",
	    live_env("REBOND_SRCDIR"), live_dir(), name, caps);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (fgets(line, sizeof line, p) != NULL &&
	    (v = strstr(line, "_PORT=")) != NULL)
		port = atoi(v + 6);
	pclose(p);
	cr_assert_gt(port, 0, "%s: no port", cmd);
	return port;
}
