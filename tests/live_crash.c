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

#include "live.h"

#define NMSG		2000	/* bounces loaded */
#define NACCOUNTS	400
#define BATCH		20	/* small batches: many moments to kill */
#define NTARGETED	36	/* kills at named points */
#define NRANDOM		9	/* kills at random delays */
#define MAXRCPT		3

/* ---- a seeded generator of bounces ----------------------------------- */

static uint64_t rng;

static uint64_t
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned
below(unsigned n)
{
	return (unsigned)(rnd() % n);
}

enum kind { K_HARD, K_QUOTA, K_TRANSIENT, K_MULTI, K_JUNK, K_AUTOREPLY };

struct msg {
	char *data;
	char id[80];			/* Message-ID without <> */
	int nrcpt;			/* expected events */
	char rcpt[MAXRCPT][64];
};

static struct msg *msgs;

/* An address: an account's primary or secondary, or nobody's. */
static void
pick_address(char *out, size_t len)
{
	unsigned r = below(10), k = 1 + below(NACCOUNTS);

	if (r < 6)
		snprintf(out, len, "user%u@example.com", k);
	else if (r < 8)
		snprintf(out, len, "pro%u@corp.example", 3 * (1 + k / 3));
	else
		snprintf(out, len, "ghost%u@nowhere.example", k);
}

static const struct {
	const char *status, *action, *code, *text;
} failures[] = {
	{ "5.1.1", "failed", "550 5.1.1", "Recipient address rejected: "
	    "User unknown in virtual mailbox table" },
	{ "5.2.2", "failed", "552 5.2.2", "Mailbox full, over quota" },
	{ "4.4.7", "delayed", "421 4.4.7", "Message delayed, connection "
	    "timed out" },
};

/* A DSN for the recipients of m, failure f[i] each. */
static void
make_dsn(struct msg *m, const char *date, const int *f)
{
	char per[4096] = "", text[2048] = "", line[600], diag[300];
	int i;

	for (i = 0; i < m->nrcpt; i++) {
		snprintf(diag, sizeof diag, "%s <%s>: %s", failures[f[i]].code,
		    m->rcpt[i], failures[f[i]].text);
		snprintf(line, sizeof line, "<%s>: %s\r\n", m->rcpt[i], diag);
		strncat(text, line, sizeof text - strlen(text) - 1);
		snprintf(line, sizeof line,
		    "Final-Recipient: rfc822; %s\r\n"
		    "Original-Recipient: rfc822;%s\r\n"
		    "Action: %s\r\n"
		    "Status: %s\r\n"
		    "Remote-MTA: dns; mx.%s\r\n"
		    "Diagnostic-Code: smtp; %s\r\n\r\n", m->rcpt[i], m->rcpt[i],
		    failures[f[i]].action, failures[f[i]].status,
		    strchr(m->rcpt[i], '@') + 1, diag);
		strncat(per, line, sizeof per - strlen(per) - 1);
	}
	cr_assert(asprintf(&m->data,
	    "Return-Path: <>\r\n"
	    "Date: %s\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.platform.example>\r\n"
	    "To: bounces@platform.example\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Message-ID: <%s>\r\n"
	    "Auto-Submitted: auto-replied\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"B-%s\"\r\n"
	    "\r\n"
	    "--B-%s\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "Your message could not be delivered to one or more recipients.\r\n"
	    "\r\n%s\r\n"
	    "--B-%s\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.platform.example\r\n"
	    "\r\n%s"
	    "--B-%s\r\n"
	    "Content-Type: text/rfc822-headers\r\n"
	    "\r\n"
	    "From: Platform <noreply@platform.example>\r\n"
	    "To: %s\r\n"
	    "Subject: Votre invitation\r\n"
	    "Message-ID: <orig-%s>\r\n"
	    "\r\n"
	    "--B-%s--\r\n", date, m->id, m->id, m->id, text, m->id, per, m->id,
	    m->rcpt[0], m->id, m->id) > 0);
}

/* Message i, dated some minutes before now. */
static void
make_msg(int i, time_t now)
{
	struct msg *m = &msgs[i];
	char date[64];
	time_t t = now - (time_t)(NMSG - i) * 30;
	struct tm tm;
	int f[MAXRCPT] = { 0 }, k;
	unsigned r = below(100);

	gmtime_r(&t, &tm);
	strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
	snprintf(m->id, sizeof m->id, "crash-%04d.%08x@mx.platform.example",
	    i, (unsigned)(rng >> 32));
	if (r < 8) {
		/* Not a bounce: the review folder, no event. */
		m->nrcpt = 0;
		cr_assert(asprintf(&m->data,
		    "From: Newsletter <news@shop.example>\r\n"
		    "To: bounces@platform.example\r\n"
		    "Subject: Offer %d\r\n"
		    "Message-ID: <%s>\r\n"
		    "Date: %s\r\n"
		    "\r\n"
		    "Our best prices of the year, number %d.\r\n", i, m->id,
		    date, i) > 0);
		return;
	}
	if (r < 15) {
		/* An out-of-office reply: ignored, one event (its sender). */
		m->nrcpt = 1;
		snprintf(m->rcpt[0], sizeof m->rcpt[0], "user%u@example.com",
		    1 + below(NACCOUNTS));
		cr_assert(asprintf(&m->data,
		    "Date: %s\r\n"
		    "From: User <%s>\r\n"
		    "To: noreply@platform.example\r\n"
		    "Subject: Absent du bureau\r\n"
		    "Message-ID: <%s>\r\n"
		    "Auto-Submitted: auto-replied\r\n"
		    "X-Autoreply: yes\r\n"
		    "MIME-Version: 1.0\r\n"
		    "Content-Type: text/plain; charset=us-ascii\r\n"
		    "\r\n"
		    "I am out of the office until Monday, with limited access "
		    "to my mail.\r\n", date, m->rcpt[0], m->id) > 0);
		return;
	}
	m->nrcpt = r < 85 ? 1 : 2 + (int)below(MAXRCPT - 1);
	for (k = 0; k < m->nrcpt; k++) {
		int again;

		do {
			pick_address(m->rcpt[k], sizeof m->rcpt[k]);
			again = 0;
			for (int j = 0; j < k; j++)
				again |= strcmp(m->rcpt[j], m->rcpt[k]) == 0;
		} while (again);
		f[k] = r < 60 ? 0 : r < 72 ? 1 : r < 85 ? 2 : (int)below(3);
	}
	make_dsn(m, date, f);
}

static void
generate(uint64_t seed)
{
	time_t now = time(NULL);
	int i;

	rng = seed;
	msgs = calloc(NMSG, sizeof *msgs);
	cr_assert_not_null(msgs);
	for (i = 0; i < NMSG; i++)
		make_msg(i, now);
}

static void
seed_accounts(const char *db)
{
	char sql[600];

	snprintf(sql, sizeof sql,
	    "INSERT INTO accounts (id, primary_email, secondary_email, phone) "
	    "SELECT g, 'user' || g || '@example.com', CASE WHEN g %% 3 = 0 "
	    "THEN 'pro' || g || '@corp.example' END, CASE WHEN g %% 2 = 0 "
	    "THEN '+3360000' || g END FROM generate_series(1, %d) g",
	    NACCOUNTS + 3);
	live_sql(db, sql);
}

/* ---- where every message is ------------------------------------------ */

enum { F_INBOX, F_ARCHIVE, F_REVIEW, NFOLDERS };
static const char *const folder_dirs[NFOLDERS] = { "", ".Archive/",
	".Review/" };

struct census {
	int where[NMSG][NFOLDERS];	/* copies of message i per folder */
	int foreign;			/* files that are none of ours */
	int committed[NMSG];		/* has a rebond.messages row */
	int ncommitted;
};

/* The index of a message from its file's Message-ID, or -1. */
static int
file_index(const char *path)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	int idx = -1;

	if (f == NULL)
		return -2;	/* expunged while we looked: skip */
	while (fgets(line, sizeof line, f) != NULL) {
		if (line[0] == '\n' || line[0] == '\r')
			break;
		if (strncasecmp(line, "Message-ID: <crash-", 19) == 0) {
			idx = atoi(line + 19);
			break;
		}
	}
	fclose(f);
	return idx >= 0 && idx < NMSG ? idx : -1;
}

static void
scan_folder(const char *user, int folder, struct census *c)
{
	static const char *const sub[] = { "cur", "new" };
	char dir[1024], path[2048];
	struct dirent *de;
	int s, idx;
	DIR *d;

	for (s = 0; s < 2; s++) {
		snprintf(dir, sizeof dir, "%s/%s/Maildir/%s%s",
		    live_env("REBOND_TEST_MAILHOME"), user, folder_dirs[folder],
		    sub[s]);
		if ((d = opendir(dir)) == NULL)
			continue;
		while ((de = readdir(d)) != NULL) {
			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
			idx = file_index(path);
			if (idx >= 0)
				c->where[idx][folder]++;
			else if (idx == -1)
				c->foreign++;
		}
		closedir(d);
	}
}

/* Folders on disk and rows in rebond.messages. */
static void
take_census(const char *user, const char *db, struct census *c)
{
	char *ids, *p;
	int f;

	memset(c, 0, sizeof *c);
	for (f = 0; f < NFOLDERS; f++)
		scan_folder(user, f, c);
	ids = live_sql_str(db, "SELECT string_agg(message_id, ',') FROM "
	    "rebond.messages");
	for (p = ids; p != NULL && *p != '\0';) {
		if (strncmp(p, "crash-", 6) == 0) {
			int idx = atoi(p + 6);

			if (idx >= 0 && idx < NMSG) {
				c->committed[idx]++;
				c->ncommitted++;
			}
		}
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	free(ids);
}

/* The invariant after any kill: nothing moved that is not committed.
 * Returns how many committed messages still wait in the bounce folder. */
static int
check_moved_were_committed(const struct census *c, const char *when)
{
	int i, waiting = 0;

	for (i = 0; i < NMSG; i++) {
		int moved = c->where[i][F_ARCHIVE] + c->where[i][F_REVIEW];

		cr_assert(moved == 0 || c->committed[i], "%s: message %d was "
		    "moved but never committed", when, i);
		if (c->committed[i] && c->where[i][F_INBOX] > 0)
			waiting++;
	}
	cr_assert_eq(c->foreign, 0, "%s: %d unknown files", when, c->foreign);
	return waiting;
}

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

/* One more Dovecot (tests/servers.sh dovecot); returns its IMAP port. */
static int
extra_dovecot(const char *name, const char *caps)
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

static char *
config_for(const char *name, const char *user, const char *db, int port,
    int batch)
{
	char extra[300];

	if (port > 0)
		snprintf(extra, sizeof extra, "[imap]\ntls = starttls\n"
		    "port = %d\nbatch = %d\n[log]\nlevel = debug\n", port,
		    batch);
	else
		snprintf(extra, sizeof extra, "[imap]\nbatch = %d\n[log]\n"
		    "level = debug\n", batch);
	return strdup(live_config(name, user, db, extra));
}

static uint64_t
harness_seed(void)
{
	const char *s = getenv("REBOND_CRASH_SEED");

	if (s != NULL && *s != '\0')
		return strtoull(s, NULL, 0);
	return (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32);
}

/* A sorted dump of a query, for comparing two databases. */
static char *
dump(const char *db, const char *what)
{
	char sql[1000];

	snprintf(sql, sizeof sql, "SELECT coalesce(string_agg(x, E'\\n' "
	    "ORDER BY x), '') FROM (%s) AS t(x)", what);
	return live_sql_str(db, sql);
}

static void
same_in_both(const char *db, const char *ref, const char *what,
    const char *label)
{
	char *a = dump(db, what), *b = dump(ref, what);

	cr_assert(a != NULL && b != NULL);
	cr_assert(strcmp(a, b) == 0, "%s differ from the reference run "
	    "(%zu vs %zu bytes)", label, strlen(a), strlen(b));
	free(a);
	free(b);
}

Test(crash, exactly_once_under_kills, .timeout = 900)
{
	uint64_t seed = harness_seed();
	char *db, *ref, *cfg_move, *cfg_nomove, *cfg_ref, args[1200],
	    env[200], *sql;
	int landed[NWINDOWS] = { 0 }, per_point[NPOINTS] = { 0 };
	int kills = 0, random_kills = 0, runs = 0, i, k, st, port, waiting;
	int targeted;
	int dup_seen = 0, total_events = 0;
	struct census *c = calloc(1, sizeof *c);
	struct timespec t0, t1;
	size_t len;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fprintf(stderr, "crash: seed=0x%016llx (REBOND_CRASH_SEED replays "
	    "it)\n", (unsigned long long)seed);
	generate(seed);
	db = strdup(live_db_migrated("crash"));
	ref = strdup(live_db_migrated("crash_ref"));
	seed_accounts(db);
	seed_accounts(ref);
	live_mailbox("crash");
	live_mailbox("crash_ref");
	for (i = 0; i < NMSG; i++) {
		live_deliver("crash", "INBOX", msgs[i].data,
		    strlen(msgs[i].data));
		live_deliver("crash_ref", "INBOX", msgs[i].data,
		    strlen(msgs[i].data));
		total_events += msgs[i].nrcpt;
	}
	port = extra_dovecot("crash-nomove", "IMAP4rev1 LITERAL+ IDLE UIDPLUS");
	cfg_move = config_for("crash_move", "crash", db, 0, BATCH);
	cfg_nomove = config_for("crash_nomove", "crash", db, port, BATCH);
	cfg_ref = config_for("crash_ref", "crash_ref", ref, 0, BATCH);

	/* The reference: the same bytes, one run, never killed. */
	snprintf(args, sizeof args, "run -c %s", cfg_ref);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "reference run: %s",
	    live_err());
	cr_assert_eq(live_count("crash_ref", "INBOX"), 0);

	/* Kills at named points, each at its 1st or 2nd passage, and every
	 * fifth at a random delay; until enough landed or the mailbox is
	 * empty. */
	for (k = 0; k < 3 * (NTARGETED + NRANDOM); k++) {
		int is_random = k % 5 == 4;
		size_t p = below(NPOINTS);
		int nomove = points[p].nomove ? 1 : (int)below(2);
		const char *w;

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
			struct timespec d = { 0, (long)(20 + below(300)) *
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
			    points[p].point, 1 + below(2));
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
		take_census("crash", db, c);
		waiting = check_moved_were_committed(c, "after a kill");
		for (i = 0; i < NMSG; i++)
			if (c->where[i][F_INBOX] + c->where[i][F_ARCHIVE] +
			    c->where[i][F_REVIEW] > 1)
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
	take_census("crash", db, c);
	check_moved_were_committed(c, "at the end");
	for (i = 0; i < NMSG; i++) {
		cr_assert_eq(c->where[i][F_INBOX], 0, "message %d still in the "
		    "bounce folder", i);
		cr_assert_eq(c->where[i][F_ARCHIVE] + c->where[i][F_REVIEW], 1,
		    "message %d: %d in Archive, %d in Review", i,
		    c->where[i][F_ARCHIVE], c->where[i][F_REVIEW]);
		cr_assert_eq(c->committed[i], 1, "message %d: %d rows", i,
		    c->committed[i]);
	}
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    NMSG);

	/* Events: exactly the generated recipients, once each. */
	len = 200 + (size_t)total_events * 140;
	sql = malloc(len);
	cr_assert_not_null(sql);
	strcpy(sql, "CREATE TABLE public.expected (message_id text, "
	    "recipient text); INSERT INTO public.expected VALUES ");
	for (i = 0, k = 0; i < NMSG; i++)
		for (int r = 0; r < msgs[i].nrcpt; r++, k++) {
			char row[200];

			snprintf(row, sizeof row, "%s('%s', '%s')",
			    k ? "," : "", msgs[i].id, msgs[i].rcpt[r]);
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

	/* And the same as a run that was never killed. */
	same_in_both(db, ref, "SELECT message_id || ' ' || outcome || ' ' || "
	    "report_type || ' ' || recipients FROM rebond.messages",
	    "messages");
	same_in_both(db, ref, "SELECT message_id || ' ' || rcpt_index || ' ' "
	    "|| coalesce(recipient, '-') || ' ' || category || ' ' || reason "
	    "|| ' ' || rule || ' ' || coalesce(account_id::text, '-') || ' ' "
	    "|| coalesce(role, '-') || ' ' || occurred_at FROM rebond.events",
	    "events");
	same_in_both(db, ref, "SELECT id || ' ' || primary_state || ' ' || "
	    "secondary_state FROM accounts", "account states");

	clock_gettime(CLOCK_MONOTONIC, &t1);
	for (i = 0, targeted = 0; i < (int)NPOINTS; i++)
		targeted += per_point[i];
	fprintf(stderr, "SUMMARY: crash seed=0x%016llx messages=%d "
	    "events=%d kills=%d (targeted=%d random=%d) windows: "
	    "fetch-commit=%d commit-move=%d mid-move=%d outside=%d; points: "
	    "fetched=%d before-commit=%d committed=%d between-moves=%d "
	    "copied=%d flagged=%d; runs=%d; messages found in two folders "
	    "after a kill, then repaired=%d; lost=0 duplicated=0; %.1fs\n",
	    (unsigned long long)seed, NMSG, total_events, kills, targeted,
	    kills - targeted, landed[0], landed[1], landed[2], landed[3],
	    per_point[0], per_point[1], per_point[2], per_point[3],
	    per_point[4], per_point[5], runs, dup_seen,
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

/* A mailbox and a database named name, holding the first n bounces. */
static char *
small_setup(const char *name, int n)
{
	char *db;
	int i;

	if (msgs == NULL)
		generate(harness_seed());
	db = strdup(live_db_migrated(name));
	seed_accounts(db);
	live_mailbox(name);
	for (i = 0; i < n; i++)
		live_deliver(name, "INBOX", msgs[i].data, strlen(msgs[i].data));
	return db;
}

static int
moved(const char *user)
{
	return live_count(user, "Archive") + live_count(user, "Review");
}

/* A stop signal arriving during a batch: the batch is committed and moved,
 * then rebond exits 0; the next run does the rest. */
static void
stop_at_point(const char *name, const char *point, const char *sig,
    int batches)
{
	char *db = small_setup(name, 200), *cfg = config_for(name, name, db,
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
	cr_assert_eq(moved(name), batches * BATCH);
	cr_assert_eq(live_count(name, "INBOX"), 200 - batches * BATCH);
	st = live_rebond_env(NULL, args);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    200);
	cr_assert_eq(moved(name), 200);
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
		char *db = small_setup(name, 1000), *cfg = config_for(name,
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
		cr_assert_eq(moved(name), n, "%s: committed %d, moved %d", name,
		    n, moved(name));
		cr_assert_eq(live_count(name, "INBOX"), 1000 - n);
		st = live_rebond_env(NULL, args);
		cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s",
		    live_err());
		cr_assert_eq(moved(name), 1000);
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
	int port = extra_dovecot("copy-nomove",
	    "IMAP4rev1 LITERAL+ IDLE UIDPLUS");
	size_t i;

	for (i = 0; i < 2; i++) {
		char name[32], *db, *cfg, args[700], env[100];
		int st, before;

		snprintf(name, sizeof name, "copy_%s", points_nomove[i]);
		db = small_setup(name, 60);
		cfg = config_for(name, name, db, port, 100);
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
		cr_assert_eq(moved(name), 60, "%s", name);
		cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM "
		    "rebond.messages"), 60);
		free(cfg);
		free(db);
	}
}
