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

/* An mbox already in memory: the messages between "From " lines. */
static void
mbox_split(struct run *run, const char *file, const char *p, size_t len)
{
	size_t off = 0, start = 0;
	int started = 0;

	while (off < len) {
		const char *nl = memchr(p + off, '\n', len - off);
		size_t next = nl ? (size_t)(nl - p) + 1 : len;

		if (len - off >= 5 && memcmp(p + off, "From ", 5) == 0) {
			if (started)
				one_message(run, file, p + start, off - start,
				    0);
			started = 1;
			start = next;
		}
		off = next;
	}
	if (started)
		one_message(run, file, p + start, len - start, 0);
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
	ssize_t n;
	int fd, truncated = 0;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	/* Read it whole, up to the cap, in one buffer. */
	buf_reset(&run->msg);
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
	if (mbox && run->msg.len >= 5 &&
	    memcmp(run->msg.data, "From ", 5) == 0) {
		if (!truncated) {
			/* Split in place: one_message does not touch msg. */
			mbox_split(run, path, run->msg.data, run->msg.len);
		} else {
			/* Larger than a message may be: stream it. */
			FILE *f;

			if (lseek(fd, 0, SEEK_SET) < 0 ||
			    (f = fdopen(fd, "r")) == NULL) {
				close(fd);
				return -1;
			}
			mbox_stream(run, path, f, 0);
			fclose(f);
			return 0;
		}
		close(fd);
		return 0;
	}
	close(fd);
	one_message(run, path, run->msg.data ? run->msg.data : "",
	    run->msg.len, truncated);
	return 0;
}

/* A directory entry: its name and the type readdir() gave. */
struct entry {
	char *name;
	unsigned char type;
};

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name,
	    ((const struct entry *)b)->name);
}

/*
 * A directory: every regular file is one message (or an mbox), in name
 * order. Its new/ and cur/ subdirectories (a Maildir) are read the same
 * way when maildir is set; nothing else is recursed into.
 */
static int
do_dir(struct run *run, const char *path, int maildir)
{
	DIR *d = opendir(path);
	struct dirent *de;
	struct entry *ents = NULL;
	char *full;
	size_t n = 0, alloc = 0, i, plen = strlen(path);
	struct stat st;

	if (d == NULL)
		return -1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			ents = xreallocarray(ents, alloc, sizeof *ents);
		}
		ents[n].name = xstrdup(de->d_name);
		ents[n].type = de->d_type;
		n++;
	}
	closedir(d);
	if (n > 0)
		qsort(ents, n, sizeof *ents, entry_cmp);
	for (i = 0; i < n; i++) {
		size_t flen = plen + strlen(ents[i].name) + 2;
		int reg, dir;

		full = xmalloc(flen);
		if (plen > 0 && path[plen - 1] == '/')
			snprintf(full, flen, "%s%s", path, ents[i].name);
		else
			snprintf(full, flen, "%s/%s", path, ents[i].name);
		/* d_type saves a stat() per file; links and unknown types
		 * are looked up. */
		reg = ents[i].type == DT_REG;
		dir = ents[i].type == DT_DIR;
		if (!reg && !dir && stat(full, &st) == 0) {
			reg = S_ISREG(st.st_mode);
			dir = S_ISDIR(st.st_mode);
		}
		if (reg) {
			if (do_file(run, full, 1) < 0) {
				fprintf(stderr, "rebond: %s: %s\n", full,
				    strerror(errno));
				run->failed = 1;
			}
		} else if (dir && maildir &&
		    (strcmp(ents[i].name, "new") == 0 ||
		    strcmp(ents[i].name, "cur") == 0)) {
			if (do_dir(run, full, 0) < 0) {
				fprintf(stderr, "rebond: %s: %s\n", full,
				    strerror(errno));
				run->failed = 1;
			}
		}
		free(full);
		free(ents[i].name);
	}
	free(ents);
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
