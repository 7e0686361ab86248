/* main.c - rebond's command line: wires the modules, maps errors to exits. */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <libpq-fe.h>

#include "cmd_classify.h"
#include "cmd_report.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "run.h"
#include "store.h"
#include "strutil.h"
#include "verp.h"
#include "version.h"

static int log_stderr;

#ifdef HAVE_JEMALLOC
/*
 * jemalloc's settings (read at its start; $MALLOC_CONF adds to them).
 * Pages freed are given back to the system after a second, and at once
 * rather than lazily (MADV_FREE pages still count in the RSS): with
 * jemalloc's defaults, a run's peak RSS grew by 13% from 10,000 to
 * 100,000 messages (tests/bench/mailbox-bench.sh), 5% with these, and
 * classify, which frees in bursts well under a second apart, is as fast.
 */
const char *malloc_conf = "dirty_decay_ms:1000,muzzy_decay_ms:0";
#endif

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: rebond run [-c FILE] [--dry-run] [--stderr]\n"
	    "       rebond replay [-c FILE] --folder F [--since YYYY-MM-DD] "
	    "[--rescore] [--dry-run]\n"
	    "       rebond migrate [-c FILE | --conninfo STR] [--sql-dir DIR]\n"
	    "       rebond check-config [-c FILE] [--sample]\n"
	    "       rebond classify [--json] [--jobs N] PATH...|-\n"
	    "       rebond report [-c FILE | --conninfo STR] [--wide]\n"
	    "       rebond verp [-c FILE] ACCOUNT_ID primary|secondary|pending|invitation [ADDRESS]\n"
	    "       rebond --version\n"
	    "The configuration is -c FILE, else $REBOND_CONFIG, else %s.\n",
	    CONF_DEFAULT_PATH);
}

static const char *
config_path(const char *opt)
{
	const char *env = getenv("REBOND_CONFIG");

	if (opt != NULL)
		return opt;
	if (env != NULL && *env != '\0')
		return env;
	return CONF_DEFAULT_PATH;
}

/* Load the configuration, or print every error and return NULL. */
static struct config *
load_config(const char *path)
{
	struct config *cfg = conf_load(path, stderr);

	if (cfg == NULL)
		fprintf(stderr, "rebond: configuration %s has errors\n", path);
	return cfg;
}

static void
start_logging(const struct config *cfg)
{
	log_open(log_stderr ? LOG_TARGET_STDERR : LOG_TARGET_AUTO,
	    cfg ? cfg->log.level : LOG_INFO,
	    cfg ? cfg->log.facility : LOG_MAIL);
}

static void
on_stop_signal(int sig)
{
	(void)sig;
	run_request_stop();
}

/*
 * SIGTERM and SIGINT ask for a clean stop: the current batch is finished
 * (committed and moved), then rebond exits. They stay blocked, and the
 * run looks for them between batches (run.c): delivered at once, they
 * would interrupt libetpan's select() and break the IMAP stream in the
 * middle of a batch. The handler only matters if they get unblocked.
 */
static void
hold_stop_signals(void)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGTERM, &sa, NULL) == -1 ||
	    sigaction(SIGINT, &sa, NULL) == -1)
		log_warning("run: cannot install signal handlers");
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		log_warning("run: cannot block SIGTERM/SIGINT");
}

static double
elapsed(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (double)(t1.tv_sec - t0->tv_sec) +
	    (double)(t1.tv_nsec - t0->tv_nsec) / 1e9;
}

/*
 * The one summary line of a run or a replay: what it did, per category,
 * and how long it took (info; error when it failed).
 */
static void
summary(const struct config *cfg, const char *what, const char *folder,
    int rc, const struct run_stats *st, double secs, int dry_run)
{
	char rescored[40] = "";

	if (strcmp(what, "replay") == 0)
		snprintf(rescored, sizeof rescored, " rescored=%lu",
		    st->rescored);
	log_msg(rc == EX_OK ? LOG_INFO : LOG_ERR,
	    "%s: mailbox=%s status=%s exit=%d messages=%lu archived=%lu "
	    "review=%lu ignored=%lu already=%lu recipients=%lu hard=%lu "
	    "quota=%lu blocked=%lu spf=%lu spam=%lu transient=%lu "
	    "complaint=%lu autoreply=%lu delivered=%lu unknown=%lu%s "
	    "errors=%lu duration=%.3fs imap=%s@%s%s", what, folder,
	    rc != EX_OK ? "failed" : st->stopped ? "stopped" : "ok", rc,
	    st->messages, st->archived, st->review, st->ignored, st->already,
	    st->recipients, st->category[CAT_HARD], st->category[CAT_QUOTA],
	    st->category[CAT_BLOCKED], st->category[CAT_SPF],
	    st->category[CAT_SPAM], st->category[CAT_TRANSIENT],
	    st->category[CAT_COMPLAINT], st->category[CAT_AUTOREPLY],
	    st->category[CAT_DELIVERED], st->category[CAT_UNKNOWN], rescored,
	    st->errors + (rc != EX_OK && st->errors == 0), secs,
	    cfg->imap.ep.user, cfg->imap.ep.host,
	    dry_run ? " dry_run=1 (nothing written, nothing moved)" : "");
}

static int
cmd_run(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "stderr", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts opts = { 0 };
	struct run_stats st;
	struct config *cfg;
	struct timespec t0;
	const char *path = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:ne", lo, NULL)) != -1)
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'n':
			opts.dry_run = 1;
			break;
		case 'e':
			log_stderr = 1;
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((cfg = load_config(config_path(path))) == NULL)
		return EX_CONFIG;
	start_logging(cfg);
	hold_stop_signals();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_poll(cfg, &opts, &st);
	if (!st.busy) {
		double secs = elapsed(&t0);

		summary(cfg, "run", cfg->imap.folder, rc, &st, secs,
		    opts.dry_run);
		if (!opts.dry_run && cfg->metrics.textfile != NULL) {
			/* One file per mailbox, all read by one collector:
			 * the label tells their series apart. */
			char label[1024];

			snprintf(label, sizeof label, "%s@%s/%s",
			    cfg->imap.ep.user, cfg->imap.ep.host,
			    cfg->imap.folder);
			metrics_write(cfg->metrics.textfile, label, &st, rc,
			    secs, time(NULL));
		}
	}
	conf_free(&cfg);
	return rc;
}

/* Two or four digits of a date, leading zero allowed; 0 or -1. */
static int
date_part(const char *s, size_t len, unsigned long long min,
    unsigned long long max, unsigned long long *v_r)
{
	char part[5];

	if (len >= sizeof part)
		return -1;
	memcpy(part, s, len);
	part[len] = '\0';
	if (len > 1 && part[0] == '0')
		memmove(part, part + 1, len);	/* "01" -> "1" */
	return parse_uint(part, min, max, v_r);
}

/* A day "YYYY-MM-DD" (UTC) as the time of its first second; 0 or -1. */
static int
parse_day(const char *s, time_t *t_r)
{
	unsigned long long y, m, d;
	struct tm tm;

	if (strlen(s) != 10 || s[4] != '-' || s[7] != '-' ||
	    date_part(s, 4, 1970, 9999, &y) == -1 ||
	    date_part(s + 5, 2, 1, 12, &m) == -1 ||
	    date_part(s + 8, 2, 1, 31, &d) == -1)
		return -1;
	memset(&tm, 0, sizeof tm);
	tm.tm_year = (int)y - 1900;
	tm.tm_mon = (int)m - 1;
	tm.tm_mday = (int)d;
	*t_r = timegm(&tm);
	/* timegm normalises 2026-02-31: refuse what it had to change. */
	if (gmtime_r(t_r, &tm) == NULL || tm.tm_mday != (int)d ||
	    tm.tm_mon != (int)m - 1)
		return -1;
	return 0;
}

static int
cmd_replay(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "folder", required_argument, NULL, 'f' },
		{ "since", required_argument, NULL, 's' },
		{ "rescore", no_argument, NULL, 'r' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "stderr", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	struct run_opts opts = { .replay = 1 };
	struct run_stats st;
	struct config *cfg;
	struct timespec t0;
	const char *path = NULL;
	int ch, rc;

	while ((ch = getopt_long(argc, argv, "c:f:s:rne", lo, NULL)) != -1)
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'f':
			opts.folder = optarg;
			break;
		case 's':
			if (parse_day(optarg, &opts.since) == -1) {
				fprintf(stderr, "rebond: replay: --since "
				    "\"%s\": expected a date YYYY-MM-DD\n",
				    optarg);
				return EX_USAGE;
			}
			break;
		case 'r':
			opts.rescore = 1;
			break;
		case 'n':
			opts.dry_run = 1;
			break;
		case 'e':
			log_stderr = 1;
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	if (optind != argc || opts.folder == NULL || *opts.folder == '\0') {
		usage(stderr);
		return EX_USAGE;
	}
	if ((cfg = load_config(config_path(path))) == NULL)
		return EX_CONFIG;
	start_logging(cfg);
	hold_stop_signals();
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = run_replay(cfg, &opts, &st);
	summary(cfg, "replay", opts.folder, rc, &st, elapsed(&t0),
	    opts.dry_run);
	conf_free(&cfg);
	return rc;
}

static int
cmd_migrate(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "conninfo", required_argument, NULL, 'd' },
		{ "sql-dir", required_argument, NULL, 's' },
		{ "stderr", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL, *conninfo = NULL, *sqldir;
	struct config *cfg = NULL;
	struct store *st = NULL;
	int ch, applied = 0, version = 0, rc;

	sqldir = getenv("REBOND_SQLDIR");
	if (sqldir == NULL || *sqldir == '\0')
		sqldir = PKGDATADIR "/sql";
	while ((ch = getopt_long(argc, argv, "c:d:s:e", lo, NULL)) != -1)
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			conninfo = optarg;
			break;
		case 's':
			sqldir = optarg;
			break;
		case 'e':
			log_stderr = 1;
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if (conninfo != NULL &&
	    (rc = store_conninfo_no_password(conninfo, "migrate")) != 0)
		return rc;
	if (conninfo == NULL) {
		if ((cfg = load_config(config_path(path))) == NULL)
			return EX_CONFIG;
		conninfo = cfg->database.conninfo;
	}
	log_open(LOG_TARGET_STDERR, cfg ? cfg->log.level : LOG_INFO,
	    LOG_MAIL);
	if ((rc = store_open(conninfo, &st)) == 0) {
		if (store_migrate(st, sqldir, &applied) == -1 ||
		    store_schema_version(st, &version) == -1)
			rc = EX_TEMPFAIL;
		else
			printf("schema version %d (%d migration%s applied)\n",
			    version, applied, applied == 1 ? "" : "s");
	}
	store_close(&st);
	conf_free(&cfg);
	return rc;
}

static int
cmd_check_config(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "sample", no_argument, NULL, 'S' },
		{ "stderr", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = NULL;
	struct config *cfg;
	int ch;

	while ((ch = getopt_long(argc, argv, "c:e", lo, NULL)) != -1)
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'e':
			break;
		case 'S':
			conf_write_sample(stdout);
			return EX_OK;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	if (optind != argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((cfg = load_config(config_path(path))) == NULL)
		return EX_CONFIG;
	if (conf_check_files(cfg, stderr) > 0) {
		fprintf(stderr, "rebond: configuration %s has errors\n",
		    cfg->path);
		conf_free(&cfg);
		return EX_CONFIG;
	}
	printf("configuration OK: %s\n", cfg->path);
	conf_free(&cfg);
	return EX_OK;
}

/*
 * The address account id has now in role, from the database, into out
 * (outsz bytes). Returns EX_OK, or an exit code (the error printed).
 */
static int
verp_current_address(const struct config *cfg, long long id, enum role role,
    char *out, size_t outsz)
{
	struct store *st = NULL;
	struct account *acc = NULL;
	const char *a = NULL;
	size_t nacc = 0;
	int version, rc = EX_TEMPFAIL;

	if ((rc = store_open(cfg->database.conninfo, &st)) != 0)
		goto out;
	rc = EX_TEMPFAIL;
	if (store_schema_version(st, &version) == -1)
		goto out;
	if (version != STORE_SCHEMA_VERSION) {
		fprintf(stderr, "rebond: verp: database schema version %d, this "
		    "rebond needs %d: run rebond migrate\n", version,
		    STORE_SCHEMA_VERSION);
		rc = EX_CONFIG;
		goto out;
	}
	if (store_begin(st) == -1)
		goto out;
	if (store_lookup(st, NULL, 0, &id, 1, &acc, &nacc) == -1) {
		store_rollback(st);
		goto out;
	}
	store_rollback(st);	/* (nothing written: the locks go) */
	rc = EX_DATAERR;
	if (nacc == 0) {
		fprintf(stderr, "rebond: verp: no account %lld\n", id);
		goto out;
	}
	a = role == ROLE_SECONDARY ? acc[0].secondary_email :
	    role == ROLE_PENDING ? acc[0].pending_email : acc[0].primary_email;
	if (a != NULL)
		a += strspn(a, " \t");
	if (a == NULL || *a == '\0') {
		fprintf(stderr, "rebond: verp: account %lld has no %s "
		    "address\n", id, policy_role_name(role));
		goto out;
	}
	if (strlen(a) >= outsz) {
		fprintf(stderr, "rebond: verp: account %lld: its %s address "
		    "is too long to sign\n", id, policy_role_name(role));
		goto out;
	}
	strcpy(out, a);
	rc = EX_OK;
out:
	store_accounts_free(acc, nacc);
	store_close(&st);
	return rc;
}

/*
 * rebond verp ACCOUNT_ID ROLE [ADDRESS]: the signed return path of a mail
 * to ADDRESS, the account's address in that role; without ADDRESS, the
 * one the account has now (read from the database).
 */
static int
cmd_verp(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "stderr", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	static const enum role roles[] = { ROLE_PRIMARY, ROLE_SECONDARY,
		ROLE_PENDING, ROLE_INVITATION };
	char addr[VERP_ADDRESS_MAX], to[VERP_SIGNED_MAX + 1], *secret = NULL;
	const char *path = NULL;
	unsigned long long id;
	struct config *cfg;
	enum role role = ROLE_NONE;
	size_t i;
	int ch, rc = EX_CONFIG;

	while ((ch = getopt_long(argc, argv, "c:e", lo, NULL)) != -1)
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'e':
			break;
		default:
			usage(stderr);
			return EX_USAGE;
		}
	if (argc - optind != 2 && argc - optind != 3) {
		usage(stderr);
		return EX_USAGE;
	}
	if (parse_uint(argv[optind], 1, 0x7fffffffffffffffULL, &id) == -1) {
		fprintf(stderr, "rebond: verp: \"%s\": expected an account "
		    "id (a positive whole number)\n", argv[optind]);
		return EX_USAGE;
	}
	for (i = 0; i < sizeof roles / sizeof roles[0]; i++)
		if (strcmp(argv[optind + 1], policy_role_name(roles[i])) == 0)
			role = roles[i];
	if (role == ROLE_NONE) {
		fprintf(stderr, "rebond: verp: \"%s\": expected primary, "
		    "secondary, pending or invitation\n", argv[optind + 1]);
		return EX_USAGE;
	}
	if (argc - optind == 3) {
		const char *a = argv[optind + 2];

		for (i = 0; a[i] != '\0'; i++)
			if ((unsigned char)a[i] < 0x20 || a[i] == 0x7f)
				break;
		if (a[i] != '\0' || strchr(a, '@') == NULL ||
		    i > VERP_SIGNED_MAX) {
			fprintf(stderr, "rebond: verp: \"%s\": expected the "
			    "address the mail goes to (local@domain)\n", a);
			return EX_USAGE;
		}
		strcpy(to, a);
	}
	if ((cfg = load_config(config_path(path))) == NULL)
		return EX_CONFIG;
	if (cfg->verp.secret_file == NULL || cfg->verp.return_path == NULL) {
		fprintf(stderr, "rebond: verp: [verp] secret_file and "
		    "return_path must be set in %s\n", cfg->path);
		goto out;
	}
	if (argc - optind == 2 && (rc = verp_current_address(cfg,
	    (long long)id, role, to, sizeof to)) != EX_OK)
		goto out;
	rc = EX_CONFIG;
	if ((secret = conf_read_verp_secret(cfg->verp.secret_file,
	    stderr)) == NULL)
		goto out;
	if (verp_encode(cfg->verp.return_path, (long long)id, role, to, secret,
	    strlen(secret), addr, sizeof addr) == -1) {
		fprintf(stderr, "rebond: verp: cannot tag \"%s\" (a plain "
		    "local@domain without '+' is needed)\n",
		    cfg->verp.return_path);
		goto out;
	}
	printf("%s\n", addr);
	rc = EX_OK;
out:
	if (secret != NULL) {
		memset(secret, 0, strlen(secret));
		free(secret);
	}
	conf_free(&cfg);
	return rc;
}

static const struct command {
	const char *name;
	int (*fn)(int, char **);
} commands[] = {
	{ "run", cmd_run },
	{ "replay", cmd_replay },
	{ "migrate", cmd_migrate },
	{ "check-config", cmd_check_config },
	{ "classify", cmd_classify },
	{ "report", cmd_report },
	{ "verp", cmd_verp },
};

int
main(int argc, char **argv)
{
	size_t i;

	/* libetpan writes to sockets without MSG_NOSIGNAL. */
	signal(SIGPIPE, SIG_IGN);
	/* The SMS command's exit status is read with waitpid(): a SIGCHLD
	 * ignored by whoever started us would throw it away. */
	signal(SIGCHLD, SIG_DFL);
	if (argc < 2) {
		usage(stderr);
		return EX_USAGE;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("%s\n", rebond_version());
		return EX_OK;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return EX_OK;
	}
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return commands[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "rebond: unknown command \"%s\"\n", argv[1]);
	usage(stderr);
	return EX_USAGE;
}
