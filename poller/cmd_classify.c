/*
 * cmd_classify.c - offline classification of bounce files (cmd_classify.h).
 *
 * The files to read are listed first (directories expanded, in name
 * order); then several threads (--jobs, one per CPU by default) take them
 * one by one, each gathering the lines of its file apart, and the main
 * thread, which reads files too, writes the lines of the files that are
 * done in the files' order: the output does not depend on the number of
 * threads, and no thread waits for another unless the next file to write
 * is still being read. core/ is reentrant once report_init() and
 * classify_init() have built its tables; each thread has its own buffers
 * and JSON values.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
#include "strutil.h"
#include "xalloc.h"

/* Distinct static strings (reasons, categories, rule ids, sources) whose
 * JSON values are made once. */
#define JSON_CACHE	256
/* Files read ahead of the next one to write, at most. */
#define WINDOW		4096
/* Threads at most (--jobs). */
#define JOBS_MAX	64
/* First size of a thread's input buffer. */
#define INPUT_FIRST	(256 * 1024)

/* What one thread needs to read and classify. */
struct worker {
	int json;
	char *in;		/* the file being read */
	size_t incap;
	struct buf msg;		/* a message of a streamed mbox */
	/*
	 * --json: one object, reused line after line (its keys stay, the
	 * values are replaced), and the JSON strings of static values
	 * made once.
	 */
	json_t *line;
	json_t *file;		/* the current file name's value */
	struct {
		const char *s;
		json_t *j;
	} cache[JSON_CACHE];
	size_t ncache;
	struct buf *out;	/* where the lines go */
	pthread_t tid;
	struct pool *pl;
};

/* A file to classify ("-": stdin). */
struct item {
	char *path;		/* as printed */
	const char *name;	/* relative to dfd */
	int dfd;		/* its directory, or AT_FDCWD */
	unsigned char type;	/* d_type, or DT_UNKNOWN */
	int err;		/* errno when it could not be read */
	int done;		/* read and classified (under mu) */
	struct buf out;		/* its lines */
};

/* The work shared by the threads. */
struct pool {
	struct worker w[JOBS_MAX];
	int nw;
	int failed;		/* a path could not be read */
	struct item *items;	/* every file, in order */
	size_t n, alloc;
	int *dfds;		/* directories opened for the items */
	size_t ndfds;
	/* under mu: */
	pthread_mutex_t mu;
	pthread_cond_t more;	/* a file can be taken, or quit */
	pthread_cond_t done;	/* a file is done */
	size_t next;		/* the next file to take */
	size_t written;		/* files written so far */
	int quit;
};

static void
usage(void)
{
	fprintf(stderr, "usage: rebond classify [--json] [--jobs N] "
	    "PATH...|-\n");
}

/* ---- output ----------------------------------------------------------- */

/* The JSON value of a static string (same pointer, same value). */
static json_t *
json_static(struct worker *w, const char *s)
{
	size_t i;

	if (s == NULL)
		return json_null();
	for (i = 0; i < w->ncache; i++)
		if (w->cache[i].s == s)
			return json_incref(w->cache[i].j);
	if (w->ncache == JSON_CACHE)
		return json_string(s);
	w->cache[w->ncache].s = s;
	w->cache[w->ncache].j = json_string(s);
	return json_incref(w->cache[w->ncache++].j);
}

/* A string of a report: valid UTF-8 without control characters. */
static json_t *
json_report_str(const char *s)
{
	return s != NULL ? json_string_nocheck(s) : json_null();
}

/* Gather what jansson writes into the worker's output. */
static int
json_out(const char *buffer, size_t size, void *data)
{
	struct worker *w = data;

	buf_append(w->out, buffer, size);
	return 0;
}

/* One verdict line. rc may be NULL (message without recipient). */
static void
emit(struct worker *w, const char *file, const struct report *r,
    const struct report_rcpt *rc, const struct verdict *v)
{
	json_t *o = w->line;

	if (!w->json) {
		buf_printf(w->out, "%-36s %-34s %-15s %-10s %-7s %s\n", file,
		    rc && rc->address ? rc->address : "-", v->reason,
		    category_name(v->category), rc && rc->status ? rc->status :
		    "-", v->rule);
		return;
	}
	/* The order of the keys is the order of their first setting. */
	json_object_set(o, "file", w->file);
	json_object_set_new(o, "recipient", json_report_str(rc ?
	    rc->address : NULL));
	json_object_set_new(o, "reason", json_static(w, v->reason));
	json_object_set_new(o, "category", json_static(w,
	    category_name(v->category)));
	json_object_set_new(o, "status", json_report_str(rc ? rc->status :
	    NULL));
	json_object_set_new(o, "reply_code", rc && rc->reply_code ?
	    json_integer(rc->reply_code) : json_null());
	json_object_set_new(o, "action", json_report_str(rc ? rc->action :
	    NULL));
	json_object_set_new(o, "diagnostic", json_report_str(rc ?
	    rc->diagnostic : NULL));
	json_object_set_new(o, "rule", json_static(w, v->rule));
	/* matched is sanitized (str_sanitize), like the report's strings */
	json_object_set_new(o, "matched", json_report_str(v->matched[0] ?
	    v->matched : NULL));
	json_object_set_new(o, "source", json_static(w, rc ? rc->source :
	    NULL));
	json_object_set_new(o, "message_id", json_report_str(r->message_id));
	json_dump_callback(o, json_out, w, JSON_COMPACT | JSON_PRESERVE_ORDER);
	buf_putc(w->out, '\n');
}

/* Parse, classify and describe one message. */
static void
one_message(struct worker *w, const char *file, const char *data, size_t len,
    int truncated)
{
	struct report *r = report_parse(data, len, truncated);
	struct verdict one, *v = &one;
	size_t i;

	if (w->json) {
		json_decref(w->file);
		w->file = json_string(file);
	}
	if (r->nrcpt > 1)
		v = xreallocarray(NULL, r->nrcpt, sizeof *v);
	classify_report(r, v);
	if (r->nrcpt == 0)
		emit(w, file, r, NULL, &v[0]);
	for (i = 0; i < r->nrcpt; i++)
		emit(w, file, r, &r->rcpt[i], &v[i]);
	if (v != &one)
		free(v);
	report_free(&r);
}

/* ---- input ------------------------------------------------------------ */

/*
 * An mbox: split on lines that start with "From ". Reads the stream line
 * by line; each message is capped at CAP_MESSAGE_BYTES_MAX. started: the
 * first separator line was already consumed.
 */
static void
mbox_stream(struct worker *w, const char *file, FILE *f, int started)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int truncated = 0;

	buf_reset(&w->msg);
	while ((n = getline(&line, &cap, f)) >= 0) {
		if (n >= 5 && memcmp(line, "From ", 5) == 0) {
			if (started)
				one_message(w, file, w->msg.data ?
				    w->msg.data : "", w->msg.len, truncated);
			buf_reset(&w->msg);
			started = 1;
			truncated = 0;
			continue;
		}
		if (buf_append(&w->msg, line, (size_t)n) < 0)
			truncated = 1;
	}
	if (started)
		one_message(w, file, w->msg.data ? w->msg.data : "",
		    w->msg.len, truncated);
	free(line);
}

/* stdin: one message, or an mbox. Returns 0 or -1. */
static int
do_stream(struct worker *w, const char *file, FILE *f)
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
		mbox_stream(w, file, f, 1);
		return ferror(f) ? -1 : 0;
	}
	buf_reset(&w->msg);
	buf_append(&w->msg, chunk, n);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(&w->msg, chunk, n) < 0) {
			truncated = 1;
			break;
		}
	if (ferror(f))
		return -1;
	one_message(w, file, w->msg.data ? w->msg.data : "", w->msg.len,
	    truncated);
	return 0;
}

/* An mbox already in memory: the messages between "From " lines. */
static void
mbox_split(struct worker *w, const char *file, const char *p, size_t len)
{
	size_t off = 0, start = 0;
	int started = 0;

	while (off < len) {
		const char *nl = memchr(p + off, '\n', len - off);
		size_t next = nl ? (size_t)(nl - p) + 1 : len;

		if (len - off >= 5 && memcmp(p + off, "From ", 5) == 0) {
			if (started)
				one_message(w, file, p + start, off - start,
				    0);
			started = 1;
			start = next;
		}
		off = next;
	}
	if (started)
		one_message(w, file, p + start, len - start, 0);
}

/*
 * Read the open regular file fd whole, up to the cap, into w->in: one
 * read() for a file that fits (a short read is the end of a regular
 * file). Returns the length, or -1 (errno set).
 */
static ssize_t
read_whole(struct worker *w, int fd, int *truncated_r)
{
	size_t len = 0;
	ssize_t n;
	char one;

	*truncated_r = 0;
	for (;;) {
		if (len == w->incap) {
			if (w->incap >= CAP_MESSAGE_BYTES_MAX) {
				/* Full: is there more? */
				while ((n = read(fd, &one, 1)) < 0 &&
				    errno == EINTR)
					;
				*truncated_r = n > 0;
				break;
			}
			w->incap = w->incap ? w->incap * 2 : INPUT_FIRST;
			if (w->incap > CAP_MESSAGE_BYTES_MAX)
				w->incap = CAP_MESSAGE_BYTES_MAX;
			w->in = xrealloc(w->in, w->incap);
		}
		n = read(fd, w->in + len, w->incap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		if (n == 0)
			break;
		len += (size_t)n;
		if (len < w->incap)
			break;
	}
	return (ssize_t)len;
}

/*
 * One file: a message, or an mbox when it starts with a "From " line (a
 * Maildir file never does, an mbox always does). Not a regular file:
 * skipped. Returns 0, or -1 with errno set.
 */
static int
do_file(struct worker *w, int dfd, const char *name, const char *path,
    unsigned char type)
{
	struct stat st;
	ssize_t len;
	int fd, truncated;

	if ((fd = openat(dfd, name, O_RDONLY | O_NONBLOCK | O_NOCTTY |
	    O_CLOEXEC)) < 0)
		/* a link to nothing in a directory is no message */
		return type == DT_REG || dfd == AT_FDCWD ? -1 : 0;
	/* d_type saves an fstat() for a plain file; a link or an unknown
	 * type is looked at through the open file. */
	if (type != DT_REG && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
		close(fd);
		return 0;
	}
	if ((len = read_whole(w, fd, &truncated)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (len >= 5 && memcmp(w->in, "From ", 5) == 0) {
		if (!truncated) {
			close(fd);
			mbox_split(w, path, w->in, (size_t)len);
		} else {
			/* Larger than a message may be: stream it. */
			FILE *f;

			if (lseek(fd, 0, SEEK_SET) < 0 ||
			    (f = fdopen(fd, "r")) == NULL) {
				close(fd);
				return -1;
			}
			mbox_stream(w, path, f, 0);
			fclose(f);
		}
		return 0;
	}
	close(fd);
	one_message(w, path, w->in, (size_t)len, truncated);
	return 0;
}

/* ---- the list of files ----------------------------------------------- */

static struct item *
item_add(struct pool *pl, char *path, const char *name, int dfd,
    unsigned char type)
{
	struct item *it;

	if (pl->n == pl->alloc) {
		pl->alloc = pl->alloc ? pl->alloc * 2 : 256;
		pl->items = xreallocarray(pl->items, pl->alloc,
		    sizeof *pl->items);
	}
	it = &pl->items[pl->n++];
	memset(it, 0, sizeof *it);
	it->path = path;
	it->name = name;
	it->dfd = dfd;
	it->type = type;
	buf_init(&it->out, (size_t)-1);
	return it;
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
 * way when maildir is set; nothing else is recursed into. Returns 0 or
 * -1 (errno set).
 */
static int
list_dir(struct pool *pl, const char *path, int maildir)
{
	DIR *d;
	struct dirent *de;
	struct entry *ents = NULL;
	struct stat st;
	size_t n = 0, alloc = 0, i, plen = strlen(path);
	int dfd;

	if ((d = opendir(path)) == NULL)
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
	/* The files are opened relative to the directory, later. */
	dfd = dup(dirfd(d));
	closedir(d);
	if (dfd < 0) {
		int e = errno;

		for (i = 0; i < n; i++)
			free(ents[i].name);
		free(ents);
		errno = e;
		return -1;
	}
	pl->dfds = xreallocarray(pl->dfds, pl->ndfds + 1, sizeof *pl->dfds);
	pl->dfds[pl->ndfds++] = dfd;
	if (n > 0)
		qsort(ents, n, sizeof *ents, entry_cmp);
	for (i = 0; i < n; i++) {
		size_t flen = plen + strlen(ents[i].name) + 2;
		char *full = xmalloc(flen);
		int sub = maildir && (strcmp(ents[i].name, "new") == 0 ||
		    strcmp(ents[i].name, "cur") == 0);

		if (plen > 0 && path[plen - 1] == '/')
			snprintf(full, flen, "%s%s", path, ents[i].name);
		else
			snprintf(full, flen, "%s/%s", path, ents[i].name);
		if (ents[i].type == DT_DIR || (sub && ents[i].type != DT_REG &&
		    fstatat(dfd, ents[i].name, &st, 0) == 0 &&
		    S_ISDIR(st.st_mode))) {
			if (sub && list_dir(pl, full, 0) < 0) {
				int e = errno;

				item_add(pl, full, full, AT_FDCWD,
				    DT_DIR)->err = e;
			} else
				free(full);
			continue;
		}
		/* the name is the end of the path */
		item_add(pl, full, full + flen - 1 - strlen(ents[i].name),
		    dfd, ents[i].type);
	}
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	return 0;
}

/* ---- the threads ------------------------------------------------------ */

/* Read and classify one file into its item. */
static void
item_run(struct worker *w, struct item *it)
{
	w->out = &it->out;
	if (it->err != 0)
		return;
	if (strcmp(it->path, "-") == 0 && it->dfd == AT_FDCWD &&
	    it->type == DT_FIFO) {
		if (do_stream(w, "-", stdin) < 0)
			it->err = errno ? errno : EIO;
		return;
	}
	if (do_file(w, it->dfd, it->name, it->path, it->type) < 0)
		it->err = errno ? errno : EIO;
}

/* The next file to take (under mu), or (size_t)-1 when none may be. */
static size_t
take(struct pool *pl)
{
	if (pl->next < pl->n && pl->next < pl->written + WINDOW)
		return pl->next++;
	return (size_t)-1;
}

static void *
helper_main(void *arg)
{
	struct worker *w = arg;
	struct pool *pl = w->pl;
	size_t i;

	pthread_mutex_lock(&pl->mu);
	for (;;) {
		if (pl->quit)
			break;
		if ((i = take(pl)) == (size_t)-1) {
			pthread_cond_wait(&pl->more, &pl->mu);
			continue;
		}
		pthread_mutex_unlock(&pl->mu);
		item_run(w, &pl->items[i]);
		pthread_mutex_lock(&pl->mu);
		pl->items[i].done = 1;
		if (i == pl->written)
			pthread_cond_signal(&pl->done);
	}
	pthread_mutex_unlock(&pl->mu);
	return NULL;
}

/* Write the files done, in order, from pl->written on; free them. */
static void
write_done(struct pool *pl)
{
	size_t from, to;

	pthread_mutex_lock(&pl->mu);
	from = pl->written;
	for (to = from; to < pl->n && pl->items[to].done; to++)
		;
	pthread_mutex_unlock(&pl->mu);
	for (; from < to; from++) {
		struct item *it = &pl->items[from];

		if (it->out.len > 0)
			fwrite(it->out.data, 1, it->out.len, stdout);
		if (it->err != 0) {
			fprintf(stderr, "rebond: %s: %s\n", it->path,
			    strerror(it->err));
			pl->failed = 1;
		}
		buf_free(&it->out);
		free(it->path);
		it->path = NULL;
	}
	pthread_mutex_lock(&pl->mu);
	if (to > pl->written) {
		pl->written = to;
		/* the window moved */
		pthread_cond_broadcast(&pl->more);
	}
	pthread_mutex_unlock(&pl->mu);
}

/* Read, classify and write every file of the list (the main thread's
 * part). */
static void
pool_run(struct pool *pl)
{
	size_t i;

	pthread_mutex_lock(&pl->mu);
	pthread_cond_broadcast(&pl->more);
	while (pl->written < pl->n) {
		if ((i = take(pl)) != (size_t)-1) {
			pthread_mutex_unlock(&pl->mu);
			item_run(&pl->w[0], &pl->items[i]);
			pthread_mutex_lock(&pl->mu);
			pl->items[i].done = 1;
		} else if (!pl->items[pl->written].done) {
			/* nothing to take: wait for the next to write */
			pthread_cond_wait(&pl->done, &pl->mu);
			continue;
		}
		if (pl->items[pl->written].done) {
			pthread_mutex_unlock(&pl->mu);
			write_done(pl);
			pthread_mutex_lock(&pl->mu);
		}
	}
	pthread_mutex_unlock(&pl->mu);
}

/* ---- the command ------------------------------------------------------ */

static void
worker_init(struct worker *w, int json)
{
	memset(w, 0, sizeof *w);
	w->json = json;
	buf_init(&w->msg, CAP_MESSAGE_BYTES_MAX);
	if (json)
		w->line = json_object();
}

static void
worker_free(struct worker *w)
{
	size_t i;

	for (i = 0; i < w->ncache; i++)
		json_decref(w->cache[i].j);
	json_decref(w->line);
	json_decref(w->file);
	buf_free(&w->msg);
	free(w->in);
}

/* Start the helper threads of pl (nw - 1 of them; fewer when the system
 * refuses more). */
static void
pool_start(struct pool *pl)
{
	int i;

	for (i = 1; i < pl->nw; i++) {
		pl->w[i].pl = pl;
		if (pthread_create(&pl->w[i].tid, NULL, helper_main,
		    &pl->w[i]) != 0)
			break;
	}
	pl->nw = i;
}

static void
pool_stop(struct pool *pl)
{
	int i;

	pthread_mutex_lock(&pl->mu);
	pl->quit = 1;
	pthread_cond_broadcast(&pl->more);
	pthread_mutex_unlock(&pl->mu);
	for (i = 1; i < pl->nw; i++)
		pthread_join(pl->w[i].tid, NULL);
}

int
cmd_classify(int argc, char **argv)
{
	static struct pool pool;
	struct pool *pl = &pool;
	struct stat st;
	unsigned long long jobs = 0;
	size_t k;
	int i, first, json = 0, nw;
	long ncpu;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--jobs") == 0 && i + 1 < argc) {
			if (parse_uint(argv[++i], 1, JOBS_MAX, &jobs) < 0) {
				fprintf(stderr, "rebond classify: --jobs "
				    "takes a number from 1 to %d\n", JOBS_MAX);
				return EX_USAGE;
			}
		} else if (strcmp(argv[i], "--") == 0) {
			i++;
			break;
		} else if (argv[i][0] == '-' && argv[i][1] != '\0') {
			fprintf(stderr, "rebond classify: unknown option %s\n",
			    argv[i]);
			usage();
			return EX_USAGE;
		} else
			break;
	}
	first = i;
	if (first >= argc) {
		usage();
		return EX_USAGE;
	}
	if (jobs == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned long long)ncpu;
	}
	memset(pl, 0, sizeof *pl);
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->more, NULL);
	pthread_cond_init(&pl->done, NULL);
	/* The list of files, in order. */
	for (i = first; i < argc; i++) {
		char *p = xstrdup(argv[i]);

		if (strcmp(p, "-") == 0)
			item_add(pl, p, p, AT_FDCWD, DT_FIFO);
		else if (stat(p, &st) < 0) {
			int e = errno;

			item_add(pl, p, p, AT_FDCWD, DT_UNKNOWN)->err = e;
		} else if (!S_ISDIR(st.st_mode))
			item_add(pl, p, p, AT_FDCWD, DT_UNKNOWN);
		else if (list_dir(pl, p, 1) < 0) {
			int e = errno;

			item_add(pl, p, NULL, AT_FDCWD, DT_DIR)->err = e;
		} else
			free(p);
	}
	/* Shared tables built before any thread reads them. */
	report_init();
	classify_init();
	pl->nw = (int)jobs;
	if ((size_t)pl->nw > pl->n)
		pl->nw = pl->n > 0 ? (int)pl->n : 1;
	nw = pl->nw;
	for (i = 0; i < nw; i++)
		worker_init(&pl->w[i], json);
	pool_start(pl);
	pool_run(pl);
	pool_stop(pl);
	for (i = 0; i < nw; i++)
		worker_free(&pl->w[i]);
	for (k = 0; k < pl->ndfds; k++)
		close(pl->dfds[k]);
	free(pl->dfds);
	free(pl->items);
	pthread_cond_destroy(&pl->more);
	pthread_cond_destroy(&pl->done);
	pthread_mutex_destroy(&pl->mu);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "rebond: stdout: %s\n", strerror(errno));
		return EX_IOERR;
	}
	return pl->failed ? EX_NOINPUT : EX_OK;
}
