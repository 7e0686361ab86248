/*
 * cmd_classify.c - offline classification of bounce files (cmd_classify.h).
 *
 * The files of a directory are read and classified by several threads
 * (--jobs, one per CPU by default), in batches: each file's lines are
 * gathered apart and written in the files' order once the batch is done,
 * so the output does not depend on the number of threads. core/ is
 * reentrant once classify_init() has built its tables; each thread has
 * its own buffers and JSON values.
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
/* Files read and classified between two writes to stdout. */
#define BATCH		256
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
};

/* A file to classify. */
struct item {
	char *path;		/* as printed */
	const char *name;	/* relative to the batch's directory */
	unsigned char type;	/* d_type, or DT_UNKNOWN */
	int err;		/* errno when it could not be read */
	struct buf out;		/* its lines */
};

/* The work shared by the threads. */
struct pool {
	struct worker w[JOBS_MAX];
	int nw;
	int json;
	int failed;		/* a path could not be read */
	/* the batch */
	struct item items[BATCH];
	size_t nitems;
	int dfd;		/* directory of the items' names */
	size_t next;		/* the next item to take */
	int quit;
	pthread_mutex_t mu;
	pthread_barrier_t start, done;
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

/* ---- the threads ------------------------------------------------------ */

/* Take the items of the batch one by one until none is left. */
static void
work(struct pool *pl, struct worker *w)
{
	size_t i;

	for (;;) {
		pthread_mutex_lock(&pl->mu);
		i = pl->next++;
		pthread_mutex_unlock(&pl->mu);
		if (i >= pl->nitems)
			return;
		w->out = &pl->items[i].out;
		if (do_file(w, pl->dfd, pl->items[i].name, pl->items[i].path,
		    pl->items[i].type) < 0)
			pl->items[i].err = errno ? errno : EIO;
	}
}

/* What a helper thread is given: the pool and its worker. */
struct helper {
	struct pool *pl;
	struct worker *w;
};

static void *
helper_main(void *arg)
{
	struct helper *h = arg;

	for (;;) {
		pthread_barrier_wait(&h->pl->start);
		if (h->pl->quit)
			return NULL;
		work(h->pl, h->w);
		pthread_barrier_wait(&h->pl->done);
	}
}

/* Classify the batch (every thread), then write it in order. */
static void
batch_run(struct pool *pl)
{
	size_t i;

	if (pl->nitems == 0)
		return;
	pl->next = 0;
	if (pl->nw > 1)
		pthread_barrier_wait(&pl->start);
	work(pl, &pl->w[0]);
	if (pl->nw > 1)
		pthread_barrier_wait(&pl->done);
	for (i = 0; i < pl->nitems; i++) {
		struct item *it = &pl->items[i];

		if (it->out.len > 0)
			fwrite(it->out.data, 1, it->out.len, stdout);
		if (it->err != 0) {
			fprintf(stderr, "rebond: %s: %s\n", it->path,
			    strerror(it->err));
			pl->failed = 1;
		}
		buf_free(&it->out);
		free(it->path);
	}
	pl->nitems = 0;
}

/* Add a file to the batch (the batch runs when full). */
static void
batch_add(struct pool *pl, int dfd, char *path, const char *name,
    unsigned char type)
{
	struct item *it;

	if (pl->nitems > 0 && pl->dfd != dfd)
		batch_run(pl);
	pl->dfd = dfd;
	it = &pl->items[pl->nitems++];
	it->path = path;
	it->name = name;
	it->type = type;
	it->err = 0;
	buf_init(&it->out, (size_t)-1);
	if (pl->nitems == BATCH)
		batch_run(pl);
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
do_dir(struct pool *pl, const char *path, int maildir)
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
	if ((dfd = dup(dirfd(d))) < 0) {
		int e = errno;

		closedir(d);
		for (i = 0; i < n; i++)
			free(ents[i].name);
		free(ents);
		errno = e;
		return -1;
	}
	closedir(d);
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
			if (sub) {
				batch_run(pl);
				if (do_dir(pl, full, 0) < 0) {
					fprintf(stderr, "rebond: %s: %s\n",
					    full, strerror(errno));
					pl->failed = 1;
				}
			}
			free(full);
			continue;
		}
		/* the path is the item's; its name is a suffix of it */
		batch_add(pl, dfd, full, full + flen - 1 -
		    strlen(ents[i].name), ents[i].type);
	}
	batch_run(pl);
	close(dfd);
	for (i = 0; i < n; i++)
		free(ents[i].name);
	free(ents);
	return 0;
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

/* Start the helper threads of pl (nw - 1 of them). Returns 0 or -1. */
static int
pool_start(struct pool *pl, struct helper *h)
{
	int i;

	if (pl->nw <= 1)
		return 0;
	if (pthread_barrier_init(&pl->start, NULL, (unsigned)pl->nw) != 0 ||
	    pthread_barrier_init(&pl->done, NULL, (unsigned)pl->nw) != 0)
		return -1;
	for (i = 1; i < pl->nw; i++) {
		h[i].pl = pl;
		h[i].w = &pl->w[i];
		if (pthread_create(&pl->w[i].tid, NULL, helper_main, &h[i]) !=
		    0) {
			/* Run with the threads started so far. */
			pthread_barrier_destroy(&pl->start);
			pthread_barrier_destroy(&pl->done);
			pl->nw = i;
			pthread_barrier_init(&pl->start, NULL, (unsigned)i);
			pthread_barrier_init(&pl->done, NULL, (unsigned)i);
			return 0;
		}
	}
	return 0;
}

static void
pool_stop(struct pool *pl)
{
	int i;

	if (pl->nw <= 1)
		return;
	pl->quit = 1;
	pthread_barrier_wait(&pl->start);
	for (i = 1; i < pl->nw; i++)
		pthread_join(pl->w[i].tid, NULL);
	pthread_barrier_destroy(&pl->start);
	pthread_barrier_destroy(&pl->done);
}

int
cmd_classify(int argc, char **argv)
{
	static struct pool pool;
	struct pool *pl = &pool;
	struct helper helpers[JOBS_MAX];
	struct stat st;
	unsigned long long jobs = 0;
	int i, first, json = 0;
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
	pl->json = json;
	pl->nw = (int)jobs;
	pthread_mutex_init(&pl->mu, NULL);
	/* Shared tables built before any thread reads them. */
	report_init();
	classify_init();
	for (i = 0; i < pl->nw; i++)
		worker_init(&pl->w[i], json);
	if (pool_start(pl, helpers) < 0)
		pl->nw = 1;
	for (i = first; i < argc; i++) {
		const char *p = argv[i];

		if (strcmp(p, "-") == 0) {
			struct buf out;

			batch_run(pl);
			buf_init(&out, (size_t)-1);
			pl->w[0].out = &out;
			if (do_stream(&pl->w[0], "-", stdin) < 0) {
				fprintf(stderr, "rebond: stdin: %s\n",
				    strerror(errno));
				pl->failed = 1;
			}
			if (out.len > 0)
				fwrite(out.data, 1, out.len, stdout);
			buf_free(&out);
			continue;
		}
		if (stat(p, &st) < 0) {
			batch_run(pl);
			fprintf(stderr, "rebond: %s: %s\n", p, strerror(errno));
			pl->failed = 1;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			batch_run(pl);
			if (do_dir(pl, p, 1) < 0) {
				fprintf(stderr, "rebond: %s: %s\n", p,
				    strerror(errno));
				pl->failed = 1;
			}
		} else {
			char *path = xstrdup(p);

			batch_add(pl, AT_FDCWD, path, path, DT_UNKNOWN);
		}
	}
	batch_run(pl);
	pool_stop(pl);
	for (i = 0; i < pl->nw; i++)
		worker_free(&pl->w[i]);
	pthread_mutex_destroy(&pl->mu);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "rebond: stdout: %s\n", strerror(errno));
		return EX_IOERR;
	}
	return pl->failed ? EX_NOINPUT : EX_OK;
}
