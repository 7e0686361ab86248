/* metrics.c - the Prometheus textfile (see metrics.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"
#include "metrics.h"
#include "reason.h"
#include "strutil.h"
#include "xalloc.h"

#define KEY_BYTES	512
#define LINE_BYTES	1024

/* One counter: its sample key "name{labels}" and its value. */
struct counter {
	char key[KEY_BYTES];
	unsigned long long value;
};

struct counters {
	struct counter *c;
	size_t n;
};

/* mailbox as a label value: \ " and newline escaped. */
static void
escape_label(const char *s, char *out, size_t size)
{
	size_t o = 0;

	for (; *s != '\0' && o + 3 < size; s++) {
		if (*s == '\\' || *s == '"') {
			out[o++] = '\\';
			out[o++] = *s;
		} else if (*s == '\n') {
			out[o++] = '\\';
			out[o++] = 'n';
		} else
			out[o++] = *s;
	}
	out[o] = '\0';
}

static void
add(struct counters *cs, const char *mbox, const char *name,
    const char *label, const char *lvalue, unsigned long long v)
{
	struct counter *c;

	cs->c = xreallocarray(cs->c, cs->n + 1, sizeof *cs->c);
	c = &cs->c[cs->n++];
	if (label != NULL)
		snprintf(c->key, sizeof c->key, "%s{mailbox=\"%s\",%s=\"%s\"}",
		    name, mbox, label, lvalue);
	else
		snprintf(c->key, sizeof c->key, "%s{mailbox=\"%s\"}", name,
		    mbox);
	c->value = v;
}

/* The value of key in the old file (a counter or a whole gauge), or 0. */
static unsigned long long
old_value(char **lines, size_t n, const char *key)
{
	size_t i, kl = strlen(key);
	unsigned long long v;

	for (i = 0; i < n; i++)
		if (strncmp(lines[i], key, kl) == 0 && lines[i][kl] == ' ' &&
		    parse_uint(lines[i] + kl + 1, 0, ~0ULL >> 1, &v) == 0)
			return v;
	return 0;
}

/* The sample lines of the file at path (none if it does not exist). */
static char **
read_old(const char *path, size_t *n_r)
{
	char line[LINE_BYTES], **lines = NULL;
	size_t n = 0;
	FILE *f = fopen(path, "r");

	*n_r = 0;
	if (f == NULL)
		return NULL;
	while (fgets(line, sizeof line, f) != NULL && n < 10000) {
		line[strcspn(line, "\n")] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		lines = xreallocarray(lines, n + 1, sizeof *lines);
		lines[n++] = xstrdup(line);
	}
	fclose(f);
	*n_r = n;
	return lines;
}

static const struct {
	const char *name, *type, *help;
} heads[] = {
	{ "rebond_runs_total", "counter",
	  "Runs of rebond run, by result (ok, stopped, failed)." },
	{ "rebond_messages_total", "counter",
	  "Messages fetched and processed (new or already recorded)." },
	{ "rebond_messages_moved_total", "counter",
	  "Messages moved out of the bounce folder, by destination." },
	{ "rebond_bounces_total", "counter",
	  "Bounced recipients classified, by category." },
	{ "rebond_errors_total", "counter",
	  "Runs that ended in an error (IMAP, database, configuration)." },
	{ "rebond_last_run_duration_seconds", "gauge",
	  "Duration of the last run." },
	{ "rebond_last_run_timestamp_seconds", "gauge",
	  "When the last run ended." },
	{ "rebond_last_run_exit_code", "gauge",
	  "Exit code of the last run (0, 69, 75, 76, 77, 78)." },
	{ "rebond_last_success_timestamp_seconds", "gauge",
	  "When the last run that exited 0 ended (0: none yet)." },
};

/* Write the help and type lines of metric name. */
static void
head(FILE *f, const char *name)
{
	size_t i;

	for (i = 0; i < sizeof heads / sizeof heads[0]; i++)
		if (strcmp(heads[i].name, name) == 0)
			fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name,
			    heads[i].help, name, heads[i].type);
}

/* Write f's counters and gauges. */
static void
write_all(FILE *f, const struct counters *cs, const char *mbox,
    int exit_code, double duration, time_t now, unsigned long long success)
{
	const char *last = "";
	size_t i, nl, lastn = 0;

	for (i = 0; i < cs->n; i++) {
		/* Help and type once, before a metric's first sample. */
		nl = strcspn(cs->c[i].key, "{");
		if (lastn != nl || strncmp(last, cs->c[i].key, nl) != 0) {
			char name[KEY_BYTES];

			snprintf(name, sizeof name, "%.*s", (int)nl,
			    cs->c[i].key);
			head(f, name);
			last = cs->c[i].key;
			lastn = nl;
		}
		fprintf(f, "%s %llu\n", cs->c[i].key, cs->c[i].value);
	}
	head(f, "rebond_last_run_duration_seconds");
	fprintf(f, "rebond_last_run_duration_seconds{mailbox=\"%s\"} %.3f\n",
	    mbox, duration);
	head(f, "rebond_last_run_timestamp_seconds");
	fprintf(f, "rebond_last_run_timestamp_seconds{mailbox=\"%s\"} %lld\n",
	    mbox, (long long)now);
	head(f, "rebond_last_run_exit_code");
	fprintf(f, "rebond_last_run_exit_code{mailbox=\"%s\"} %d\n", mbox,
	    exit_code);
	/* 0 until a run succeeds: an alert on its age fires for an
	 * instance that never worked, too. */
	head(f, "rebond_last_success_timestamp_seconds");
	fprintf(f, "rebond_last_success_timestamp_seconds{mailbox="
	    "\"%s\"} %llu\n", mbox, success);
}

/* fsync the directory holding path, so that the rename is durable. */
static int
sync_dir(const char *path)
{
	char *copy = xstrdup(path);
	int fd, rc = -1;

	fd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(copy);
	return rc;
}

int
metrics_write(const char *path, const char *mailbox,
    const struct run_stats *st, int exit_code, double duration, time_t now)
{
	static const char *const status[] = { "ok", "stopped", "failed" };
	char mbox[KEY_BYTES / 4], tmp[4096], key[KEY_BYTES], **old;
	struct counters cs = { NULL, 0 };
	unsigned long long success;
	size_t nold, i;
	FILE *f = NULL;
	int fd = -1, rc = -1, which;

	escape_label(mailbox, mbox, sizeof mbox);
	which = exit_code != EX_OK ? 2 : st->stopped ? 1 : 0;
	for (i = 0; i < 3; i++)
		add(&cs, mbox, "rebond_runs_total", "status", status[i],
		    i == (size_t)which);
	add(&cs, mbox, "rebond_messages_total", NULL, NULL, st->messages);
	add(&cs, mbox, "rebond_messages_moved_total", "folder", "archive",
	    st->archived);
	add(&cs, mbox, "rebond_messages_moved_total", "folder", "review",
	    st->review);
	for (i = 0; i < CAT_COUNT; i++)
		add(&cs, mbox, "rebond_bounces_total", "category",
		    category_name((enum category)i), st->category[i]);
	add(&cs, mbox, "rebond_errors_total", NULL, NULL,
	    st->errors + (exit_code != EX_OK && st->errors == 0));

	old = read_old(path, &nold);
	for (i = 0; i < cs.n; i++)
		cs.c[i].value += old_value(old, nold, cs.c[i].key);
	snprintf(key, sizeof key,
	    "rebond_last_success_timestamp_seconds{mailbox=\"%s\"}", mbox);
	success = exit_code == EX_OK ? (unsigned long long)now :
	    old_value(old, nold, key);

	if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path,
	    (long)getpid()) >= sizeof tmp) {
		tmp[0] = '\0';
		log_warning("metrics: textfile path too long: %s", path);
		goto out;
	}
	fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd == -1 || fchmod(fd, 0644) == -1 ||
	    (f = fdopen(fd, "w")) == NULL) {
		log_warning("metrics: cannot create %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	fd = -1;
	write_all(f, &cs, mbox, exit_code, duration, now, success);
	if (fflush(f) != 0 || ferror(f) || fsync(fileno(f)) == -1) {
		log_warning("metrics: cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	if (fclose(f) != 0) {
		f = NULL;
		log_warning("metrics: cannot write %s: %s", tmp,
		    strerror(errno));
		goto out;
	}
	f = NULL;
	if (rename(tmp, path) == -1) {
		log_warning("metrics: cannot rename %s to %s: %s", tmp, path,
		    strerror(errno));
		goto out;
	}
	tmp[0] = '\0';
	if (sync_dir(path) == -1)
		log_warning("metrics: cannot sync the directory of %s: %s",
		    path, strerror(errno));
	rc = 0;
out:
	if (f != NULL)
		fclose(f);
	if (fd != -1)
		close(fd);
	if (tmp[0] != '\0')
		unlink(tmp);
	for (i = 0; i < nold; i++)
		free(old[i]);
	free(old);
	free(cs.c);
	return rc;
}
