/* cmd_report.c - the admin queue as a table (see cmd_report.h). */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "cmd_report.h"
#include "conf.h"
#include "log.h"
#include "store.h"
#include "table.h"

static void
usage(void)
{
	fprintf(stderr, "usage: rebond report [-c FILE | --conninfo STR] "
	    "[--wide] [--stderr]\n");
}

int
cmd_report(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "conninfo", required_argument, NULL, 'd' },
		{ "wide", no_argument, NULL, 'w' },
		{ "stderr", no_argument, NULL, 'e' },
		{ NULL, 0, NULL, 0 },
	};
	/* n°: the problem_id that rebond.dismiss_problem takes. */
	static const char *const headers[] = { "n°", "compte", "adresse",
		"rôle", "catégorie", "problème", "action", "prévenu",
		"depuis" };
	struct store_table *t = NULL;
	struct config *cfg = NULL;
	struct store *st = NULL;
	const char *path = getenv("REBOND_CONFIG"), *conninfo = NULL;
	int ch, wide = 0, version, rc = EX_TEMPFAIL;

	if (path == NULL || *path == '\0')
		path = CONF_DEFAULT_PATH;
	while ((ch = getopt_long(argc, argv, "c:d:we", lo, NULL)) != -1)
		switch (ch) {
		case 'c':
			path = optarg;
			break;
		case 'd':
			conninfo = optarg;
			break;
		case 'w':
			wide = 1;
			break;
		case 'e':
			break;
		default:
			usage();
			return EX_USAGE;
		}
	if (optind != argc) {
		usage();
		return EX_USAGE;
	}
	/* An admin reads the queue with his own role: --conninfo, no need
	 * for the job's configuration (and its IMAP password). */
	if (conninfo != NULL) {
		if ((rc = store_conninfo_no_password(conninfo, "report")) != 0)
			return rc;
		log_open(LOG_TARGET_STDERR, LOG_INFO, LOG_MAIL);
	} else {
		if ((cfg = conf_load(path, stderr)) == NULL) {
			fprintf(stderr, "rebond: configuration %s has errors\n",
			    path);
			return EX_CONFIG;
		}
		log_open(LOG_TARGET_STDERR, cfg->log.level, cfg->log.facility);
		conninfo = cfg->database.conninfo;
	}
	if ((rc = store_open(conninfo, &st)) != 0)
		goto out;
	rc = EX_TEMPFAIL;
	if (store_schema_version(st, &version) == -1)
		goto out;
	if (version != STORE_SCHEMA_VERSION) {
		log_error("database: schema version %d, this rebond needs %d: "
		    "run rebond migrate", version, STORE_SCHEMA_VERSION);
		rc = EX_CONFIG;
		goto out;
	}
	if (store_admin_queue(st, &t) == -1)
		goto out;
	if (t->nrows == 0)
		printf("File d'attente vide : aucun problème ouvert.\n");
	else {
		table_print(stdout, headers, t->ncols,
		    (const char *const *)t->cells, t->nrows,
		    wide ? 0 : REPORT_COLUMN_MAX);
		printf("%zu problème(s) ouvert(s).\n", t->nrows);
	}
	rc = fflush(stdout) == 0 ? EX_OK : EX_IOERR;
out:
	store_table_free(&t);
	store_close(&st);
	conf_free(&cfg);
	return rc;
}
