/*
 * cmd_classify.c - offline classification of bounce files (cmd_classify.h).
 *
 * The main thread lists the files (directories expanded, in name order)
 * while the other threads (--jobs, one per CPU by default) already read
 * and classify them as they are found, each gathering the lines of its
 * file apart; once the list is made, the main thread reads files too, and
 * writes the lines of the files that are done in the files' order: the
 * output does not depend on the number of threads, and no thread waits
 * for another unless the next file to write is still being read. core/ is
 * reentrant once report_init() and classify_init() have built its tables;
 * each thread has its own buffers, parser and JSON values.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
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
 * JSON values are made once: twice as many (a power of two). */
#define JSON_CACHE	2048
/* Files read ahead of the next one to write, at most. */
#define WINDOW		4096
/* Threads at most (--jobs). */
#define JOBS_MAX	64
/* First size of a thread's input buffer. */
#define INPUT_FIRST	(256 * 1024)
/* Bytes of stdout's buffer when it is not a terminal. */
#define OUTPUT_BUFFER	(64 * 1024)
/* First size of the buffer a JSON line is written into. */
#define JSON_FIRST	4096

/* The keys of a --json line, in their order. */
enum key {
	K_FILE, K_RECIPIENT, K_ORIGINAL, K_REASON, K_CATEGORY, K_STATUS,
	K_REPLY_CODE, K_ACTION, K_DIAGNOSTIC, K_RULE, K_MATCHED, K_SOURCE,
	K_MESSAGE_ID, NKEYS
};
/* Each key as a line writes it: the object opened before the first,
 * a comma before the others, the colon after. */
#define KEY(s)	{ s, sizeof s - 1 }
static const struct {
	const char *json;
	size_t len;
} key_json[NKEYS] = {
	KEY("{\"file\":"), KEY(",\"recipient\":"),
	KEY(",\"original_recipient\":"), KEY(",\"reason\":"),
	KEY(",\"category\":"), KEY(",\"status\":"),
	KEY(",\"reply_code\":"), KEY(",\"action\":"),
	KEY(",\"diagnostic\":"), KEY(",\"rule\":"), KEY(",\"matched\":"),
	KEY(",\"source\":"), KEY(",\"message_id\":"),
};
#undef KEY

/* What one thread needs to read and classify. */
struct worker {
	int json;
	char *in;		/* the file being read */
	size_t incap;
	int atime;		/* O_NOATIME was refused */
	struct buf msg;		/* a message of a streamed mbox */
	struct buf lf;		/* an mbox with CR line ends, with LF */
	struct report_parser *parser;	/* its buffers kept */
	/*
	 * --json: the value of the current file name, a string reused for
	 * the values of a line, and the JSON of static values made once.
	 */
	char *file;		/* the file name's JSON */
	size_t filelen;
	json_t *str;		/* a string of ours, its value replaced */
	struct cached {
		const char *s;
		char *json;	/* its JSON */
		size_t len;
	} *cache;		/* JSON_CACHE of them */
	size_t ncache;
	char *jbuf;		/* where jansson writes a value */
	size_t jcap;
	struct buf *out;	/* where the lines go */
	pthread_t tid;
	struct pool *pl;
};

/* Why a path is not read, when it exists: said on stderr, exit 66. */
#define NOT_REGULAR	"not a regular file"
/* ... said on stderr, exit 0: no message is lost. */
#define LINK_TO_NOTHING	"a link to nothing, not read"
#define NOT_RECURSED	"a directory inside a directory, not read " \
			"(name it to read it)"

/*
 * A file to classify ("-": stdin; a FIFO or a character device named on
 * the command line, type DT_FIFO or DT_CHR: read as a stream like stdin).
 */
struct item {
	char *path;		/* as printed */
	const char *name;	/* relative to dfd */
	int dfd;		/* its directory, or AT_FDCWD */
	unsigned char type;	/* d_type, or DT_UNKNOWN */
	int err;		/* errno when it could not be read, or -1 */
	const char *why;	/* said instead of strerror(err) (static);
				 * without err, a notice */
	int taken;		/* a thread reads it (under mu) */
	int done;		/* read and classified (under mu) */
	struct buf out;		/* its lines */
};

/*
 * The work shared by the threads. The files are read as soon as they are
 * found (in the order of the directories), while the main thread goes on
 * listing them; it then writes their lines in the order of the names.
 */
struct pool {
	struct worker w[JOBS_MAX];
	int nw;
	int failed;		/* a path could not be read */
	struct item **order;	/* every file, in the order of the output
				 * (the main thread's until listed is set) */
	size_t norder, aorder;
	int *dfds;		/* directories opened for the items */
	size_t ndfds;
	/* under mu: */
	pthread_mutex_t mu;
	pthread_cond_t more;	/* a file can be taken, or quit */
	pthread_cond_t done;	/* a file is done */
	struct item **work;	/* every file, in the order found */
	size_t nwork, awork;
	size_t next;		/* the next file of work to take */
	size_t onext;		/* ... of order, once listed */
	size_t written;		/* files of order written so far */
	int listed;		/* order is complete */
	int quit;
};

static void
usage(void)
{
	fprintf(stderr, "usage: rebond classify [--json] [--jobs N] "
	    "PATH...|-\n");
}

/* ---- output ----------------------------------------------------------- */

/*
 * A line is written key by key: a key is one of key_json's (letters and
 * '_', nothing to escape), written as it is; its value is null, a
 * decimal integer, or a string encoded by jansson (json_dumpb of a JSON
 * string). Encoding a whole object, jansson walked the keys, checked the
 * object for loops and encoded the same names and static values again on
 * every line: an eighth of `classify --json`'s instructions. The bytes
 * are the same: tests/classify_inputs.sh checks every line against
 * jansson's own encoding of the object.
 */

/* v's JSON (jansson's) in w->jbuf; returns its length. */
static size_t
encode(struct worker *w, const json_t *v)
{
	size_t n;

	for (;;) {
		n = json_dumpb(v, w->jbuf, w->jcap, JSON_COMPACT |
		    JSON_ENCODE_ANY);
		if (n <= w->jcap)
			return n;
		/* (too long for the buffer: nothing was written) */
		w->jcap = n;
		w->jbuf = xrealloc(w->jbuf, w->jcap);
	}
}

/*
 * Printable ASCII without a quote or a backslash: jansson escapes none of
 * it, and writes it between quotes; checking that costs a tenth of
 * asking it. The JSON string of such an s in w->jbuf, and its length; 0
 * when s has any other byte.
 */
static size_t
encode_plain(struct worker *w, const char *s)
{
	size_t n = strlen(s);

	if (mem_json_plain(s, n) != n)
		return 0;
	if (n + 2 > w->jcap) {
		w->jcap = n + 2;
		w->jbuf = xrealloc(w->jbuf, w->jcap);
	}
	w->jbuf[0] = '"';
	memcpy(w->jbuf + 1, s, n);
	w->jbuf[n + 1] = '"';
	return n + 2;
}

/* The JSON string of s (valid UTF-8: report strings are sanitized) in
 * w->jbuf; returns its length. */
static size_t
encode_str(struct worker *w, const char *s)
{
	size_t n = encode_plain(w, s);

	if (n > 0)
		return n;
	if (json_string_setn_nocheck(w->str, s, strlen(s)) != 0)
		return 0;
	return encode(w, w->str);
}

/* Key k of the line, then its separator. */
static void
put_key(struct worker *w, enum key k)
{
	buf_append(w->out, key_json[k].json, key_json[k].len);
}

/* Key k and the string s (NULL: null). */
static void
put_str(struct worker *w, enum key k, const char *s)
{
	size_t n;

	put_key(w, k);
	if (s == NULL || (n = encode_str(w, s)) == 0)
		buf_append(w->out, "null", 4);
	else
		buf_append(w->out, w->jbuf, n);
}

/* Key k and the integer n (0: null). */
static void
put_int(struct worker *w, enum key k, int n)
{
	char d[16], *p = d + sizeof d;
	unsigned u = n < 0 ? 0u - (unsigned)n : (unsigned)n;

	put_key(w, k);
	if (n == 0) {
		buf_append(w->out, "null", 4);
		return;
	}
	/* (as "%d" writes it) */
	do
		*--p = (char)('0' + u % 10);
	while ((u /= 10) > 0);
	if (n < 0)
		*--p = '-';
	buf_append(w->out, p, (size_t)(d + sizeof d - p));
}

/* Key k and a static string s (same pointer, same value): its JSON is
 * made once, found again by the pointer's hash. */
static void
put_static(struct worker *w, enum key k, const char *s)
{
	struct cached *c;
	size_t i, n;

	if (s == NULL) {
		put_str(w, k, NULL);
		return;
	}
	i = ((uintptr_t)s >> 3) * 0x9e3779b97f4a7c15ULL >> 32;
	for (i &= JSON_CACHE - 1; w->cache[i].s != NULL;
	    i = (i + 1) & (JSON_CACHE - 1))
		if (w->cache[i].s == s) {
			put_key(w, k);
			buf_append(w->out, w->cache[i].json, w->cache[i].len);
			return;
		}
	/* (kept at most half full, so that a search ends soon) */
	if (w->ncache >= JSON_CACHE / 2 || (n = encode_str(w, s)) == 0) {
		put_str(w, k, s);
		return;
	}
	c = &w->cache[i];
	c->s = s;
	c->json = xmalloc(n);
	memcpy(c->json, w->jbuf, n);
	c->len = n;
	w->ncache++;
	put_key(w, k);
	buf_append(w->out, c->json, c->len);
}

/* One verdict line. rc may be NULL (message without recipient). */
static void
emit(struct worker *w, const char *file, const struct report *r,
    const struct report_rcpt *rc, const struct verdict *v)
{
	if (!w->json) {
		buf_printf(w->out, "%-36s %-34s %-15s %-10s %-7s %s\n", file,
		    rc && rc->address ? rc->address : "-", v->reason,
		    category_name(v->category), rc && rc->status ? rc->status :
		    "-", v->rule);
		return;
	}
	/* Strings of a report and matched are valid UTF-8 without control
	 * characters (str_sanitize). */
	buf_reserve(w->out, 512);
	put_key(w, K_FILE);
	buf_append(w->out, w->file, w->filelen);
	put_str(w, K_RECIPIENT, rc ? rc->address : NULL);
	put_str(w, K_ORIGINAL, rc ? rc->original : NULL);
	put_static(w, K_REASON, v->reason);
	put_static(w, K_CATEGORY, category_name(v->category));
	put_str(w, K_STATUS, rc ? rc->status : NULL);
	put_int(w, K_REPLY_CODE, rc ? rc->reply_code : 0);
	put_str(w, K_ACTION, rc ? rc->action : NULL);
	put_str(w, K_DIAGNOSTIC, rc ? rc->diagnostic : NULL);
	put_static(w, K_RULE, v->rule);
	put_str(w, K_MATCHED, v->matched[0] ? v->matched : NULL);
	put_static(w, K_SOURCE, rc ? rc->source : NULL);
	put_str(w, K_MESSAGE_ID, r->message_id);
	buf_append(w->out, "}\n", 2);
}

/* Parse, classify and describe one message. */
static void
one_message(struct worker *w, const char *file, const char *data, size_t len,
    int truncated)
{
	struct report *r = report_parser_parse(w->parser, data, len,
	    truncated);
	struct verdict one, *v = &one;
	size_t i, n = 0;

	if (w->json && (n = encode_plain(w, file)) == 0) {
		json_t *f = json_string(file);

		/* A name that is not UTF-8: its bad bytes shown as '?' (a
		 * JSON string cannot hold them). */
		if (f == NULL) {
			char *s = str_sanitize(file, strlen(file),
			    strlen(file));

			f = json_string(s);
			free(s);
		}
		n = f != NULL ? encode(w, f) : 0;
		json_decref(f);
		if (n == 0) {
			memcpy(w->jbuf, "null", 4);
			n = 4;
		}
	}
	if (w->json) {
		free(w->file);
		w->file = xmalloc(n);
		memcpy(w->file, w->jbuf, n);
		w->filelen = n;
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

/* stdin, or a stream named: one message, or an mbox. Returns 0 or -1. */
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
 * Open a file to read: without updating its access time where the system
 * lets us (our own files, or root), else as usual from then on. Returns
 * the descriptor, or -1 (errno set).
 */
static int
open_file(struct worker *w, int dfd, const char *name)
{
	int flags = O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC, fd;

#ifdef O_NOATIME
	if (!w->atime) {
		if ((fd = openat(dfd, name, flags | O_NOATIME)) >= 0 ||
		    errno != EPERM)
			return fd;
		w->atime = 1;
	}
#endif
	return openat(dfd, name, flags);
}

/*
 * A stream named on the command line (a FIFO, <(command), /dev/stdin, a
 * terminal), or "-" for stdin: read as stdin is. The open waits for a
 * FIFO's writer, as cat(1) does. Returns 0, or -1 with errno set.
 */
static int
do_named_stream(struct worker *w, const char *path)
{
	FILE *f;
	int fd, rc, e;

	if (strcmp(path, "-") == 0)
		return do_stream(w, "-", stdin);
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) < 0)
		return -1;
	if ((f = fdopen(fd, "r")) == NULL) {
		e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	errno = 0;
	rc = do_stream(w, path, f);
	e = errno;
	fclose(f);
	errno = e;
	return rc;
}

/*
 * One file: a message, or an mbox when it starts with a "From " line (a
 * Maildir file never does, an mbox always does). Returns 0, or -1 with
 * errno set, or with *why_r set (not a regular file: a FIFO or a device
 * found in a directory is not opened for reading). A link to nothing or
 * a directory, in a directory: 0, and *why_r says so.
 */
static int
do_file(struct worker *w, int dfd, const char *name, const char *path,
    unsigned char type, const char **why_r)
{
	struct stat st;
	ssize_t len;
	int fd, truncated;

	if ((fd = open_file(w, dfd, name)) < 0) {
		int e = errno;

		/* A link to nothing in a directory is no message (said, not
		 * an error); any other file that cannot be opened (a loop of
		 * links, a link to a file we may not read) is an error. */
		if (e == ENOENT && dfd != AT_FDCWD && type != DT_REG &&
		    fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode)) {
			*why_r = LINK_TO_NOTHING;
			return 0;
		}
		errno = e;
		return -1;
	}
	/* d_type saves an fstat() for a plain file; a link or an unknown
	 * type is looked at through the open file. */
	if (type != DT_REG) {
		if (fstat(fd, &st) < 0) {
			int e = errno;

			close(fd);
			errno = e;
			return -1;
		}
		if (!S_ISREG(st.st_mode)) {
			close(fd);
			if (S_ISDIR(st.st_mode) && dfd != AT_FDCWD) {
				/* (a link to one, or no d_type) */
				*why_r = NOT_RECURSED;
				return 0;
			}
			*why_r = NOT_REGULAR;
			return -1;
		}
	}
	if ((len = read_whole(w, fd, &truncated)) < 0) {
		int e = errno;

		close(fd);
		errno = e;
		return -1;
	}
	if (len >= 5 && memcmp(w->in, "From ", 5) == 0) {
		if (!truncated) {
			size_t n = (size_t)len;
			const char *m = report_lf_lines(&w->lf, w->in, &n);

			close(fd);
			mbox_split(w, path, m, n);
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

/* A new file to classify (path is taken). */
static struct item *
item_new(char *path, const char *name, int dfd, unsigned char type)
{
	struct item *it = xcalloc(1, sizeof *it);

	it->path = path;
	it->name = name;
	it->dfd = dfd;
	it->type = type;
	buf_init(&it->out, (size_t)-1);
	return it;
}

/* Files found: the threads may read them from now on. */
static void
publish(struct pool *pl, struct item **its, size_t n)
{
	if (n == 0)
		return;
	pthread_mutex_lock(&pl->mu);
	if (pl->nwork + n > pl->awork) {
		while (pl->nwork + n > pl->awork)
			pl->awork = pl->awork ? pl->awork * 2 : 256;
		pl->work = xreallocarray(pl->work, pl->awork,
		    sizeof *pl->work);
	}
	memcpy(pl->work + pl->nwork, its, n * sizeof *its);
	pl->nwork += n;
	pthread_cond_broadcast(&pl->more);
	pthread_mutex_unlock(&pl->mu);
}

/* The next file of the output (the main thread, while listing). */
static void
order_add(struct pool *pl, struct item *it)
{
	if (pl->norder == pl->aorder) {
		pl->aorder = pl->aorder ? pl->aorder * 2 : 256;
		pl->order = xreallocarray(pl->order, pl->aorder,
		    sizeof *pl->order);
	}
	pl->order[pl->norder++] = it;
}

/* A file found and placed: to be read, and written in its place. */
static void
item_add(struct pool *pl, char *path, const char *name, int dfd,
    unsigned char type)
{
	struct item *it = item_new(path, name, dfd, type);

	publish(pl, &it, 1);
	order_add(pl, it);
}

/*
 * A path that is not read, placed: its line on stderr says strerror(err),
 * or why when set (see struct item). Both are set before a thread can
 * take it.
 */
static void
item_not_read(struct pool *pl, char *path, int err, const char *why)
{
	struct item *it = item_new(path, path, AT_FDCWD, DT_UNKNOWN);

	it->err = err;
	it->why = why;
	publish(pl, &it, 1);
	order_add(pl, it);
}

/* A directory entry: its name and the type readdir() gave. */
struct entry {
	uint64_t key;	/* name_key(name) */
	char *full;	/* the directory's path, '/' and the name */
	const char *name;	/* the end of full */
	unsigned char type;
	struct item *it;	/* the file, or NULL: maybe a directory */
};

/* The first eight bytes of a name as a number that orders as strcmp()
 * does (the bytes after its end are zeros). */
static uint64_t
name_key(const char *s)
{
	uint64_t k = 0;
	int i;

	for (i = 0; i < 8 && s[i] != '\0'; i++)
		k |= (uint64_t)(unsigned char)s[i] << (56 - 8 * i);
	return k;
}

/* Files published at once, while reading a directory. */
#define PUBLISH_BATCH	64

/* Names in strcmp() order: most differ in their first eight bytes. */
static int
entry_cmp(const void *a, const void *b)
{
	const struct entry *x = a, *y = b;

	if (x->key != y->key)
		return x->key < y->key ? -1 : 1;
	return strcmp(x->name, y->name);
}

/* Is name, in the directory dfd, a directory (or a link to one)? */
static int
is_dir_at(int dfd, const char *name)
{
	struct stat st;

	return fstatat(dfd, name, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* Is name a Maildir's new/ or cur/? */
static int
is_maildir_sub(const char *name)
{
	return strcmp(name, "new") == 0 || strcmp(name, "cur") == 0;
}

/*
 * A directory: every regular file is one message (or an mbox), in name
 * order; nothing is recursed into (a notice names each directory in it,
 * in its place). When top is set (a directory named) and it holds new/
 * or cur/, it is a Maildir: the files of its cur/ and new/ only, read the
 * same way (its other files are the server's: dovecot-uidlist, indexes,
 * subscriptions, maildirfolder; tmp/ holds messages not yet delivered;
 * its folders are Maildirs of their own).
 * Returns 0 or -1 (errno set).
 */
static int
list_dir(struct pool *pl, const char *path, int top)
{
	DIR *d;
	struct dirent *de;
	struct entry *ents = NULL;
	struct item *batch[PUBLISH_BATCH];
	size_t n = 0, alloc = 0, i, plen = strlen(path), sep, nlen, nb = 0;
	int dfd, maildir;

	/* (no second '/' after a path that ends in one) */
	sep = plen > 0 && path[plen - 1] == '/' ? 0 : 1;
	if ((d = opendir(path)) == NULL)
		return -1;
	/* The files are opened relative to the directory. */
	if ((dfd = dup(dirfd(d))) < 0) {
		int e = errno;

		closedir(d);
		errno = e;
		return -1;
	}
	pl->dfds = xreallocarray(pl->dfds, pl->ndfds + 1, sizeof *pl->dfds);
	pl->dfds[pl->ndfds++] = dfd;
	maildir = top && (is_dir_at(dfd, "cur") || is_dir_at(dfd, "new"));
	while ((de = readdir(d)) != NULL) {
		struct entry *e;

		if (de->d_name[0] == '.' ||
		    (maildir && !is_maildir_sub(de->d_name)))
			continue;
		if (n == alloc) {
			alloc = alloc ? alloc * 2 : 64;
			ents = xreallocarray(ents, alloc, sizeof *ents);
		}
		e = &ents[n++];
		nlen = strlen(de->d_name);
		e->full = xmalloc(plen + sep + nlen + 1);
		memcpy(e->full, path, plen);
		e->full[plen] = '/';
		memcpy(e->full + plen + sep, de->d_name, nlen + 1);
		e->name = e->full + plen + sep;
		e->key = name_key(e->name);
		e->type = de->d_type;
		e->it = NULL;
		/* A file (not a directory; a Maildir keeps only its new/
		 * and cur/): read from now on, placed once the names are
		 * sorted. A FIFO, a socket or a device is not opened: an
		 * error. */
		if (!maildir && e->type != DT_DIR) {
			e->it = item_new(e->full, e->name, dfd, e->type);
			if (e->type == DT_FIFO || e->type == DT_CHR ||
			    e->type == DT_BLK || e->type == DT_SOCK) {
				e->it->err = -1;
				e->it->why = NOT_REGULAR;
			}
			batch[nb++] = e->it;
			if (nb == PUBLISH_BATCH) {
				publish(pl, batch, nb);
				nb = 0;
			}
		}
	}
	publish(pl, batch, nb);
	closedir(d);
	if (n > 0)
		qsort(ents, n, sizeof *ents, entry_cmp);
	for (i = 0; i < n; i++) {
		char *full = ents[i].full;

		if (ents[i].it != NULL)
			order_add(pl, ents[i].it);
		else if (!maildir)
			/* a directory: said, not read */
			item_not_read(pl, full, 0, NOT_RECURSED);
		else if (list_dir(pl, full, 0) < 0) {
			/* (new/ or cur/ that cannot be read: an error) */
			int e = errno;

			item_not_read(pl, full, e, NULL);
		} else
			free(full);
	}
	free(ents);
	return 0;
}

/* ---- the threads ------------------------------------------------------ */

/* Read and classify one file into its item. */
static void
item_run(struct worker *w, struct item *it)
{
	const char *why = NULL;

	w->out = &it->out;
	if (it->err != 0 || it->why != NULL)
		return;
	if (it->dfd == AT_FDCWD && (it->type == DT_FIFO ||
	    it->type == DT_CHR)) {
		if (do_named_stream(w, it->path) < 0)
			it->err = errno ? errno : EIO;
		return;
	}
	if (do_file(w, it->dfd, it->name, it->path, it->type, &why) < 0)
		it->err = why != NULL ? -1 : errno ? errno : EIO;
	it->why = why;
}

/*
 * The next file to read (under mu), or NULL when none may be taken: in
 * the order found while the list is being made, then in the order of the
 * output (the next file to write is never out of reach), at most WINDOW
 * files ahead of the writing.
 */
static struct item *
take(struct pool *pl)
{
	struct item *it;

	if (!pl->listed) {
		if (pl->next >= pl->nwork || pl->next >= WINDOW)
			return NULL;
		it = pl->work[pl->next++];
	} else {
		while (pl->onext < pl->norder && pl->order[pl->onext]->taken)
			pl->onext++;
		if (pl->onext >= pl->norder ||
		    pl->onext >= pl->written + WINDOW)
			return NULL;
		it = pl->order[pl->onext++];
		/* (the next one's flag, read by the next call: in the
		 * cache by then, not a miss while mu is held) */
		if (pl->onext < pl->norder)
			__builtin_prefetch(pl->order[pl->onext]);
	}
	it->taken = 1;
	return it;
}

/* Is it the next file to write (under mu)? */
static int
next_to_write(const struct pool *pl, const struct item *it)
{
	return pl->listed && pl->written < pl->norder &&
	    pl->order[pl->written] == it;
}

static void *
helper_main(void *arg)
{
	struct worker *w = arg;
	struct pool *pl = w->pl;
	struct item *it;

	pthread_mutex_lock(&pl->mu);
	for (;;) {
		if (pl->quit)
			break;
		if ((it = take(pl)) == NULL) {
			pthread_cond_wait(&pl->more, &pl->mu);
			continue;
		}
		pthread_mutex_unlock(&pl->mu);
		item_run(w, it);
		pthread_mutex_lock(&pl->mu);
		it->done = 1;
		if (next_to_write(pl, it))
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
	for (to = from; to < pl->norder && pl->order[to]->done; to++)
		;
	/* (take() looks no more at the files freed below) */
	if (pl->onext < to)
		pl->onext = to;
	pthread_mutex_unlock(&pl->mu);
	for (; from < to; from++) {
		struct item *it = pl->order[from];

		if (it->out.len > 0)
			fwrite(it->out.data, 1, it->out.len, stdout);
		if (it->err != 0 || it->why != NULL)
			fprintf(stderr, "rebond: %s: %s\n", it->path,
			    it->why != NULL ? it->why : strerror(it->err));
		if (it->err != 0)
			pl->failed = 1;
		buf_free(&it->out);
		free(it->path);
		free(it);
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
	struct item *it;

	pthread_mutex_lock(&pl->mu);
	pl->listed = 1;
	pthread_cond_broadcast(&pl->more);
	while (pl->written < pl->norder) {
		if ((it = take(pl)) != NULL) {
			pthread_mutex_unlock(&pl->mu);
			item_run(&pl->w[0], it);
			pthread_mutex_lock(&pl->mu);
			it->done = 1;
		} else if (!pl->order[pl->written]->done) {
			/* nothing to take: wait for the next to write */
			pthread_cond_wait(&pl->done, &pl->mu);
			continue;
		}
		if (pl->order[pl->written]->done) {
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
	buf_init(&w->lf, 0);
	/* (the lines say nothing of VERP addresses or dates) */
	w->parser = report_parser_new(REPORT_SKIP_TAGS | REPORT_SKIP_DATE);
	if (json) {
		w->cache = xcalloc(JSON_CACHE, sizeof *w->cache);
		w->str = json_string("");
		w->jcap = JSON_FIRST;
		w->jbuf = xmalloc(w->jcap);
	}
}

static void
worker_free(struct worker *w)
{
	size_t i;

	for (i = 0; w->cache != NULL && i < JSON_CACHE; i++)
		if (w->cache[i].s != NULL)
			free(w->cache[i].json);
	free(w->cache);
	json_decref(w->str);
	free(w->file);
	buf_free(&w->msg);
	buf_free(&w->lf);
	report_parser_free(&w->parser);
	free(w->in);
	free(w->jbuf);
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
	static char outbuf[OUTPUT_BUFFER];
	struct pool *pl = &pool;
	struct stat st;
	unsigned long long jobs = 0;
	size_t k;
	int i, first, json = 0, nw;
	long ncpu;

	for (i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0)
			json = 1;
		else if (strcmp(argv[i], "--jobs") == 0) {
			if (++i == argc ||
			    parse_uint(argv[i], 1, JOBS_MAX, &jobs) < 0) {
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
	/* Lines go out in large writes, unless someone watches them (glibc
	 * takes a size only with a buffer). */
	if (!isatty(STDOUT_FILENO))
		setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
	if (jobs == 0) {
		ncpu = sysconf(_SC_NPROCESSORS_ONLN);
		jobs = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (unsigned long long)ncpu;
	}
	memset(pl, 0, sizeof *pl);
	pthread_mutex_init(&pl->mu, NULL);
	pthread_cond_init(&pl->more, NULL);
	pthread_cond_init(&pl->done, NULL);
	/* Shared tables built before any thread reads them; the threads
	 * read the files as they are found. */
	report_init();
	classify_init();
	pl->nw = nw = (int)jobs;
	for (i = 0; i < nw; i++)
		worker_init(&pl->w[i], json);
	pool_start(pl);
	/* The list of files, in order. */
	for (i = first; i < argc; i++) {
		char *p = xstrdup(argv[i]);

		if (strcmp(p, "-") == 0)
			item_add(pl, p, p, AT_FDCWD, DT_FIFO);
		else if (stat(p, &st) < 0) {
			int e = errno;

			item_not_read(pl, p, e, NULL);
		} else if (S_ISFIFO(st.st_mode))
			item_add(pl, p, p, AT_FDCWD, DT_FIFO);
		else if (S_ISCHR(st.st_mode))
			item_add(pl, p, p, AT_FDCWD, DT_CHR);
		else if (S_ISREG(st.st_mode))
			item_add(pl, p, p, AT_FDCWD, DT_UNKNOWN);
		else if (!S_ISDIR(st.st_mode)) {
			/* a socket, a block device */
			item_not_read(pl, p, -1, NOT_REGULAR);
		} else if (list_dir(pl, p, 1) < 0) {
			int e = errno;

			item_not_read(pl, p, e, NULL);
		} else
			free(p);
	}
	pool_run(pl);
	pool_stop(pl);
	for (i = 0; i < nw; i++)
		worker_free(&pl->w[i]);
	for (k = 0; k < pl->ndfds; k++)
		close(pl->dfds[k]);
	free(pl->dfds);
	free(pl->order);
	free(pl->work);
	pthread_cond_destroy(&pl->more);
	pthread_cond_destroy(&pl->done);
	pthread_mutex_destroy(&pl->mu);
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "rebond: stdout: %s\n", strerror(errno));
		return EX_IOERR;
	}
	return pl->failed ? EX_NOINPUT : EX_OK;
}
