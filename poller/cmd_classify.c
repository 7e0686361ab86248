/* cmd_classify.c - offline classification of bounce files (cmd_classify.h). */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include <jansson.h>

#include "buf.h"
#include "caps.h"
#include "classify.h"
#include "cmd_classify.h"
#include "reason.h"
#include "report.h"
#include "xalloc.h"

struct run {
	int json;
	int failed;		/* a path could not be read */
	struct buf msg;		/* the message being read, reused */
};

static void
usage(void)
{
	fprintf(stderr, "usage: rebond classify [--json] PATH...|-\n");
}

/* Print one verdict line. rc may be NULL (message without recipient). */
static void
emit(struct run *run, const char *file, const struct report *r,
    const struct report_rcpt *rc, const struct verdict *v)
{
	if (run->json) {
		json_t *o = json_object();
		char *s;

#define SETS(k, val) json_object_set_new(o, k, (val) ? json_string(val) : \
	json_null())
		SETS("file", file);
		SETS("recipient", rc ? rc->address : NULL);
		SETS("reason", v->reason);
		SETS("category", category_name(v->category));
		SETS("status", rc ? rc->status : NULL);
		json_object_set_new(o, "reply_code", rc && rc->reply_code ?
		    json_integer(rc->reply_code) : json_null());
		SETS("action", rc ? rc->action : NULL);
		SETS("diagnostic", rc ? rc->diagnostic : NULL);
		SETS("rule", v->rule);
		SETS("matched", v->matched[0] ? v->matched : NULL);
		SETS("source", rc ? rc->source : NULL);
		SETS("message_id", r->message_id);
#undef SETS
		s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (s != NULL) {
			fputs(s, stdout);
			putchar('\n');
			free(s);
		}
		json_decref(o);
		return;
	}
	printf("%-36s %-34s %-15s %-10s %-7s %s\n", file,
	    rc && rc->address ? rc->address : "-", v->reason,
	    category_name(v->category), rc && rc->status ? rc->status : "-",
	    v->rule);
}

/* Parse, classify and print one message. */
static void
one_message(struct run *run, const char *file, const char *data, size_t len,
    int truncated)
{
	struct report *r = report_parse(data, len, truncated);
	struct verdict v;
	size_t i;

	if (r->nrcpt == 0) {
		classify_message(r, &v);
		emit(run, file, r, NULL, &v);
	}
	for (i = 0; i < r->nrcpt; i++) {
		classify_rcpt(r, i, &v);
		emit(run, file, r, &r->rcpt[i], &v);
	}
	report_free(&r);
}

/*
 * An mbox: split on lines that start with "From ". Reads the stream line
 * by line; each message is capped at CAP_MESSAGE_BYTES_MAX. started: the
 * first separator line was already consumed.
 */
static void
mbox_stream(struct run *run, const char *file, FILE *f, int started)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int truncated = 0;

	buf_reset(&run->msg);
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n >= 5 && memcmp(line, "From ", 5) == 0) {
			if (started)
				one_message(run, file, run->msg.data ?
				    run->msg.data : "", run->msg.len,
				    truncated);
			buf_reset(&run->msg);
			started = 1;
			truncated = 0;
			continue;
		}
		if (buf_append(&run->msg, line, (size_t)n) < 0)
			truncated = 1;
	}
	if (started)
		one_message(run, file, run->msg.data ? run->msg.data : "",
		    run->msg.len, truncated);
	free(line);
}

/* stdin: one message, or an mbox. Returns 0 or -1. */
static int
do_stream(struct run *run, const char *file, FILE *f)
{
	char chunk[65536];
	size_t n;
	int truncated = 0;

	n = fread(chunk, 1, 5, f);
	if (n == 5 && memcmp(chunk, "From ", 5) == 0) {
		int c;

		/* Skip the rest of the first separator line. */
		while ((c = getc(f)) != EOF && c != '\n')
			;
		mbox_stream(run, file, f, 1);
		return ferror(f) ? -1 : 0;
	}
	buf_reset(&run->msg);
	buf_append(&run->msg, chunk, n);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(&run->msg, chunk, n) < 0) {
			truncated = 1;
			break;
		}
	if (ferror(f))
		return -1;
	one_message(run, file, run->msg.data ? run->msg.data : "",
	    run->msg.len, truncated);
	return 0;
}

/*
 * A regular file: one message, or an mbox when mbox is set and the file
 * starts with a "From " line (files in a directory too: a Maildir file
 * never starts with one, an mbox dropped in a directory always does).
 * Returns 0 or -1 (errno set).
 */
static int
do_file(struct run *run, const char *path, int mbox)
{
	char head[5];
	ssize_t n;
	int fd, truncated = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	n = read(fd, head, sizeof head);
	if (mbox && n == 5 && memcmp(head, "From ", 5) == 0) {
		FILE *f = fdopen(fd, "r");

		if (f == NULL) {
			close(fd);
			return -1;
		}
		rewind(f);
		mbox_stream(run, path, f, 0);
		fclose(f);
		return 0;
	}
	if (n < 0) {
		close(fd);
		return -1;
	}
	/* One message: read it whole (up to the cap) in one buffer. */
	buf_reset(&run->msg);
	buf_append(&run->msg, head, (size_t)n);
	for (;;) {
		char chunk[65536];

		n = read(fd, chunk, sizeof chunk);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			close(fd);
			return -1;
		}
		if (n == 0)
			break;
		if (buf_append(&run->msg, chunk, (size_t)n) < 0) {
			truncated = 1;
			break;
		}
	}
	close(fd);
	one_message(run, path, run->msg.data ? run->msg.data : "",
	    run->msg.len, truncated);
	return 0;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * A directory: every regular file is one message, in name order. Its
 * new/ and cur/ subdirectories (a Maildir) are read the same way when
 * maildir is set; nothing else is recursed into.
 */
static int
do_dir(struct run *run, const char *path, int maildir)
{
	DIR *d = opendir(path);
	struct dirent *e;
	char **names = NULL, *full;
	size_t n = 0, alloc = 0, i, plen = strlen(path);
	struct stat st;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			names = xreallocarray(names, alloc, sizeof *names);
		}
		names[n++] = xstrdup(e->d_name);
	}
	closedir(d);
	if (n > 0)
		qsort(names, n, sizeof *names, name_cmp);
	for (i = 0; i < n; i++) {
		size_t flen = plen + strlen(names[i]) + 2;

		full = xmalloc(flen);
		if (plen > 0 && path[plen - 1] == '/')
			snprintf(full, flen, "%s%s", path, names[i]);
		else
			snprintf(full, flen, "%s/%s", path, names[i]);
		if (stat(full, &st) == 0) {
			if (S_ISREG(st.st_mode)) {
				if (do_file(run, full, 1) < 0) {
					fprintf(stderr, "rebond: %s: %s\n",
					    full, strerror(errno));
					run->failed = 1;
				}
			} else if (S_ISDIR(st.st_mode) && maildir &&
			    (strcmp(names[i], "new") == 0 ||
			    strcmp(names[i], "cur") == 0)) {
				if (do_dir(run, full, 0) < 0) {
					fprintf(stderr, "rebond: %s: %s\n",
					    full, strerror(errno));
					run->failed = 1;
				}
			}
		}
		free(full);
		free(names[i]);
	}
	free(names);
	return 0;
}

int
cmd_classify(int argc, char **argv)
{
	struct run run;
	struct stat st;
	int i, first = 1, rc = EX_OK;

	memset(&run, 0, sizeof run);
	buf_init(&run.msg, CAP_MESSAGE_BYTES_MAX);
	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			run.json = 1;
		else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "rebond classify: unknown option %s\n",
			    argv[i]);
			usage();
			buf_free(&run.msg);
			return EX_USAGE;
		} else
			break;
	}
	first = i;
	if (first >= argc) {
		usage();
		buf_free(&run.msg);
		return EX_USAGE;
	}
	for (i = first; i < argc; i++) {
		const char *p = argv[i];

		if (strcmp(p, "-") == 0) {
			if (do_stream(&run, "-", stdin) < 0) {
				fprintf(stderr, "rebond: stdin: %s\n",
				    strerror(errno));
				run.failed = 1;
			}
			continue;
		}
		if (stat(p, &st) < 0) {
			fprintf(stderr, "rebond: %s: %s\n", p, strerror(errno));
			run.failed = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode) ? do_dir(&run, p, 1) < 0 :
		    do_file(&run, p, 1) < 0) {
			fprintf(stderr, "rebond: %s: %s\n", p, strerror(errno));
			run.failed = 1;
		}
	}
	buf_free(&run.msg);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "rebond: stdout: %s\n", strerror(errno));
		return EX_IOERR;
	}
	if (run.failed)
		rc = EX_NOINPUT;
	return rc;
}
