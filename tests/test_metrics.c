/* test_metrics.c - the Prometheus textfile: counters add up across runs,
 * a failure keeps the last success, the file is replaced atomically. */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"

static char dir[64], path[128];

static void
setup(void)
{
	strcpy(dir, "/tmp/rebond-metrics.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/rebond.prom", dir);
	log_open(LOG_TARGET_STDERR, LOG_ERR, LOG_MAIL);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* The value of the sample line starting with key (asserted present). */
static double
sample(const char *key)
{
	char line[1024];
	FILE *f = fopen(path, "r");
	double v = -1;
	size_t kl = strlen(key);

	cr_assert_not_null(f, "%s", path);
	while (fgets(line, sizeof line, f) != NULL)
		if (strncmp(line, key, kl) == 0 && line[kl] == ' ') {
			v = atof(line + kl + 1);
			break;
		}
	fclose(f);
	cr_assert_geq(v, 0, "no sample %s", key);
	return v;
}

static int
entries(void)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	cr_assert_not_null(d);
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

Test(metrics, counters_add_up_and_a_failure_keeps_the_last_success,
    .init = setup, .fini = teardown)
{
	struct run_stats st = { 0 };
	struct stat sb;

	st.messages = 10;
	st.archived = 8;
	st.review = 2;
	st.category[CAT_HARD] = 6;
	st.category[CAT_QUOTA] = 3;
	cr_assert_eq(metrics_write(path, "INBOX", &st, EX_OK, 1.5, 1000), 0);
	cr_assert_eq(sample("rebond_messages_total{mailbox=\"INBOX\"}"), 10);
	cr_assert_eq(sample("rebond_bounces_total{mailbox=\"INBOX\","
	    "category=\"hard\"}"), 6);
	cr_assert_eq(sample("rebond_bounces_total{mailbox=\"INBOX\","
	    "category=\"spf\"}"), 0);
	cr_assert_eq(sample("rebond_last_success_timestamp_seconds{"
	    "mailbox=\"INBOX\"}"), 1000);
	cr_assert_eq(sample("rebond_last_run_duration_seconds{"
	    "mailbox=\"INBOX\"}"), 1.5);

	/* A failed run: counted, the last success stays. */
	memset(&st, 0, sizeof st);
	st.messages = 5;
	st.category[CAT_HARD] = 5;
	cr_assert_eq(metrics_write(path, "INBOX", &st, EX_TEMPFAIL, 2.0, 2000),
	    0);
	cr_assert_eq(sample("rebond_messages_total{mailbox=\"INBOX\"}"), 15);
	cr_assert_eq(sample("rebond_bounces_total{mailbox=\"INBOX\","
	    "category=\"hard\"}"), 11);
	cr_assert_eq(sample("rebond_errors_total{mailbox=\"INBOX\"}"), 1);
	cr_assert_eq(sample("rebond_runs_total{mailbox=\"INBOX\","
	    "status=\"failed\"}"), 1);
	cr_assert_eq(sample("rebond_runs_total{mailbox=\"INBOX\","
	    "status=\"ok\"}"), 1);
	cr_assert_eq(sample("rebond_last_run_exit_code{mailbox=\"INBOX\"}"),
	    75);
	cr_assert_eq(sample("rebond_last_run_timestamp_seconds{"
	    "mailbox=\"INBOX\"}"), 2000);
	cr_assert_eq(sample("rebond_last_success_timestamp_seconds{"
	    "mailbox=\"INBOX\"}"), 1000);

	/* Stopped by a signal: counted apart, a success all the same. */
	memset(&st, 0, sizeof st);
	st.stopped = 1;
	cr_assert_eq(metrics_write(path, "INBOX", &st, EX_OK, 0.1, 3000), 0);
	cr_assert_eq(sample("rebond_runs_total{mailbox=\"INBOX\","
	    "status=\"stopped\"}"), 1);
	cr_assert_eq(sample("rebond_last_success_timestamp_seconds{"
	    "mailbox=\"INBOX\"}"), 3000);

	/* Replaced by rename: no temporary file left, readable by all. */
	cr_assert_eq(entries(), 1);
	cr_assert_eq(stat(path, &sb), 0);
	cr_assert_eq(sb.st_mode & 0777, 0644);
}

/* An instance that never succeeded still has the gauge an alert reads
 * (time() - rebond_last_success_timestamp_seconds > 1800). */
Test(metrics, never_succeeded_reads_as_zero, .init = setup,
    .fini = teardown)
{
	struct run_stats st = { 0 };

	cr_assert_eq(metrics_write(path, "INBOX", &st, EX_TEMPFAIL, 0.2, 500),
	    0);
	cr_assert_eq(metrics_write(path, "INBOX", &st, EX_CONFIG, 0.2, 800),
	    0);
	cr_assert_eq(sample("rebond_last_success_timestamp_seconds{"
	    "mailbox=\"INBOX\"}"), 0);
	cr_assert_eq(sample("rebond_last_run_exit_code{mailbox=\"INBOX\"}"),
	    78);
}

Test(metrics, format_is_prometheus_text_with_escaped_labels,
    .init = setup, .fini = teardown)
{
	struct run_stats st = { 0 };
	char line[1024];
	FILE *f;
	int samples = 0, helps = 0, types = 0;

	cr_assert_eq(metrics_write(path, "Bounces/\"a\\b\"", &st, EX_OK, 0.2,
	    1), 0);
	cr_assert_eq(sample("rebond_messages_total{mailbox="
	    "\"Bounces/\\\"a\\\\b\\\"\"}"), 0);
	f = fopen(path, "r");
	cr_assert_not_null(f);
	while (fgets(line, sizeof line, f) != NULL) {
		cr_assert(line[strlen(line) - 1] == '\n');
		if (strncmp(line, "# HELP rebond_", 14) == 0)
			helps++;
		else if (strncmp(line, "# TYPE rebond_", 14) == 0) {
			types++;
			cr_assert(strstr(line, " counter\n") != NULL ||
			    strstr(line, " gauge\n") != NULL, "%s", line);
		} else {
			cr_assert_eq(strncmp(line, "rebond_", 7), 0, "%s",
			    line);
			cr_assert_not_null(strstr(line, "} "), "%s", line);
			samples++;
		}
	}
	fclose(f);
	cr_assert_eq(helps, types);
	cr_assert_eq(helps, 9);
	cr_assert_eq(samples, 3 + 1 + 2 + CAT_COUNT + 1 + 4);
}

Test(metrics, unwritable_directory_is_a_warning_not_a_crash,
    .init = setup, .fini = teardown)
{
	struct run_stats st = { 0 };

	cr_assert_eq(metrics_write("/nonexistent-dir/rebond.prom", "INBOX",
	    &st, EX_OK, 0.1, 1), -1);
}
