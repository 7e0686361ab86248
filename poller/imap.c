/* imap.c - the bounce mailbox over IMAP with libetpan (see imap.h). */
#include "config.h"

#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>

#include "buf.h"
#include "imap.h"
#include "log.h"
#include "strutil.h"
#include "testpoint.h"
#include "tls.h"
#include "xalloc.h"

/* A command sent and not yet handed over: imap_fetch_send's UID FETCH
 * or imap_move_send's UID MOVE. */
struct inflight {
	int active;
	int move;		/* UID MOVE, else UID FETCH */
	uint32_t *uids;		/* what was asked, ascending */
	size_t n, max_bytes;
	int read, rc;		/* answer already read (by settle), result */
	struct imap_msg *msgs;
	size_t nmsgs;
};

struct imap {
	mailimap *m;
	char *host;
	int broken;		/* stream unusable: close it, no LOGOUT */
	int has_move;
	int has_uidplus;
	unsigned timeout;	/* seconds, for the log */
	enum imap_error error;
	struct inflight fetch;
};

static int settle(struct imap *im);

enum imap_error
imap_error(const struct imap *im)
{
	return im ? im->error : IMAP_ERR_TEMP;
}

/* The server's last human text, safe for a log line. */
static char *
server_text(const struct imap *im)
{
	const char *t = im->m->imap_response ? im->m->imap_response : "";

	return str_sanitize(t, strlen(t), 200);
}

/* Log a failed command and remember what kind of failure it was. */
static int
fail(struct imap *im, const char *what, int r, enum imap_error kind)
{
	char *text = server_text(im);

	if (r == MAILIMAP_ERROR_STREAM || r == MAILIMAP_ERROR_FATAL ||
	    r == MAILIMAP_ERROR_PARSE || r == MAILIMAP_ERROR_CONNECTION_REFUSED ||
	    r == MAILIMAP_ERROR_SSL)
		im->broken = 1;
	if (r == MAILIMAP_ERROR_STREAM)
		log_error("imap: host=%s %s failed: connection lost, or no "
		    "answer within timeout=%us", im->host, what, im->timeout);
	else if (r == MAILIMAP_ERROR_CONNECTION_REFUSED)
		log_error("imap: host=%s %s failed: cannot connect (refused "
		    "or unreachable)", im->host, what);
	else if (r == MAILIMAP_ERROR_SSL)
		log_error("imap: host=%s %s failed: TLS handshake failed, or "
		    "no answer within timeout=%us", im->host, what,
		    im->timeout);
	else
		log_error("imap: host=%s %s failed: code=%d response=\"%s\"",
		    im->host, what, r, text);
	free(text);
	im->error = kind;
	return -1;
}

static int
connected(int r)
{
	return r == MAILIMAP_NO_ERROR || r == MAILIMAP_NO_ERROR_AUTHENTICATED ||
	    r == MAILIMAP_NO_ERROR_NON_AUTHENTICATED;
}

/* Refresh the capability list (after STARTTLS, after LOGIN). */
static int
capability(struct imap *im)
{
	struct mailimap_capability_data *cap = NULL;
	int r = mailimap_capability(im->m, &cap);

	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "CAPABILITY", r, IMAP_ERR_TEMP);
	mailimap_capability_data_free(cap);
	return 0;
}

int
imap_open(const struct endpoint *ep, const char *password, struct imap **im_r)
{
	struct imap *im = xcalloc(1, sizeof *im);
	char err[512];
	unsigned port = conf_port(ep, 143, 993);
	int r;

	*im_r = im;
	im->host = xstrdup(ep->host);
	im->timeout = ep->timeout;
	im->m = mailimap_new(0, NULL);
	mailimap_set_timeout(im->m, ep->timeout);
	if (ep->tls == TLS_IMPLICIT)
		r = mailimap_ssl_connect_with_callback(im->m, ep->host,
		    (uint16_t)port, tls_set_sni, im->host);
	else
		r = mailimap_socket_connect(im->m, ep->host, (uint16_t)port);
	if (!connected(r)) {
		im->broken = 1;
		return fail(im, "connect", r, IMAP_ERR_TEMP);
	}
	if (ep->tls == TLS_STARTTLS) {
		/* A greeting need not list the capabilities (RFC 3501,
		 * Exchange's does not): then ask for them. */
		if (im->m->imap_connection_info == NULL ||
		    im->m->imap_connection_info->imap_capability == NULL) {
			struct mailimap_capability_data *caps = NULL;

			r = mailimap_capability(im->m, &caps);
			if (r != MAILIMAP_NO_ERROR) {
				im->broken = 1;
				return fail(im, "CAPABILITY", r,
				    IMAP_ERR_TEMP);
			}
			mailimap_capability_data_free(caps);
		}
		if (!mailimap_has_extension(im->m, "STARTTLS")) {
			/* Never fall back to plain text. */
			log_error("imap: host=%s does not offer STARTTLS; "
			    "refusing to continue without TLS", im->host);
			im->broken = 1;
			im->error = IMAP_ERR_TLS;
			return -1;
		}
		r = mailimap_socket_starttls_with_callback(im->m, tls_set_sni,
		    im->host);
		if (r != MAILIMAP_NO_ERROR) {
			im->broken = 1;
			return fail(im, "STARTTLS", r, IMAP_ERR_TLS);
		}
	}
	if (ep->tls != TLS_NONE) {
		if (tls_verify(im->m->imap_stream, ep->host, ep->ca_file,
		    ep->tls_fingerprint, err, sizeof err) == -1) {
			log_error("imap: host=%s certificate refused: %s "
			    "(ca_file=%s)", im->host, err,
			    ep->ca_file ? ep->ca_file : "system");
			im->broken = 1;
			im->error = IMAP_ERR_TLS;
			return -1;
		}
		if (ep->tls == TLS_STARTTLS && capability(im) == -1)
			return -1;
	}
	r = mailimap_login(im->m, ep->user, password);
	if (r == MAILIMAP_ERROR_LOGIN)
		return fail(im, "LOGIN", r, IMAP_ERR_AUTH);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "LOGIN", r, IMAP_ERR_TEMP);
	/* Dovecot announces MOVE and UIDPLUS only after LOGIN. */
	if (capability(im) == -1)
		return -1;
	im->has_move = mailimap_has_extension(im->m, "MOVE");
	im->has_uidplus = mailimap_has_uidplus(im->m);
	return 0;
}

void
imap_close(struct imap **pp)
{
	struct imap *im = *pp;

	if (im == NULL)
		return;
	/* An answer still on the wire: LOGOUT would read it as its own. */
	if (im->fetch.active && !im->fetch.read)
		im->broken = 1;
	free(im->fetch.uids);
	imap_msgs_free(im->fetch.msgs, im->fetch.nmsgs);
	if (im->m != NULL) {
		if (im->broken && im->m->imap_stream != NULL) {
			mailstream_close(im->m->imap_stream);
			im->m->imap_stream = NULL;
		} else if (im->m->imap_stream != NULL)
			mailimap_logout(im->m);
		mailimap_free(im->m);
	}
	free(im->host);
	free(im);
	*pp = NULL;
}

int
imap_ensure_folder(struct imap *im, const char *folder)
{
	clist *l = NULL;
	int r, n;

	if (settle(im) == -1)
		return -1;
	r = mailimap_list(im->m, "", folder, &l);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "LIST", r, IMAP_ERR_TEMP);
	n = clist_count(l);
	mailimap_list_result_free(l);
	if (n > 0)
		return 0;
	r = mailimap_create(im->m, folder);
	if (r == MAILIMAP_NO_ERROR)
		return 0;
	if (r != MAILIMAP_ERROR_CREATE)
		return fail(im, "CREATE", r, IMAP_ERR_TEMP);
	/* Someone may have created it meanwhile. */
	l = NULL;
	if (mailimap_list(im->m, "", folder, &l) == MAILIMAP_NO_ERROR &&
	    clist_count(l) > 0) {
		mailimap_list_result_free(l);
		return 0;
	}
	if (l != NULL)
		mailimap_list_result_free(l);
	return fail(im, "CREATE", r, IMAP_ERR_TEMP);
}

/*
 * Did the server refuse a SELECT or EXAMINE because the folder does not
 * exist? RFC 5530's [NONEXISTENT], or the words of servers that do not
 * send it: a mistake to fix, not a failure to retry.
 */
static int
folder_missing(const struct imap *im, int r)
{
	const char *atom = im->m->imap_response_info != NULL ?
	    im->m->imap_response_info->rsp_atom : NULL;
	const char *t = im->m->imap_response;

	if (r != MAILIMAP_ERROR_SELECT && r != MAILIMAP_ERROR_EXAMINE)
		return 0;
	if (atom != NULL && strcasecmp(atom, "NONEXISTENT") == 0)
		return 1;
	return t != NULL && (strcasestr(t, "doesn't exist") != NULL ||
	    strcasestr(t, "does not exist") != NULL ||
	    strcasestr(t, "no such mailbox") != NULL ||
	    strcasestr(t, "not found") != NULL);
}

int
imap_select(struct imap *im, const char *folder, int readonly,
    uint32_t *uidvalidity_r, uint32_t *exists_r)
{
	int r;

	if (settle(im) == -1)
		return -1;
	r = readonly ? mailimap_examine(im->m, folder) :
	    mailimap_select(im->m, folder);
	if (r != MAILIMAP_NO_ERROR) {
		if (folder_missing(im, r)) {
			fail(im, readonly ? "EXAMINE" : "SELECT", r,
			    IMAP_ERR_NO_FOLDER);
			log_error("imap: host=%s folder \"%s\" does not exist "
			    "(check the folder named in the configuration or "
			    "on the command line)", im->host, folder);
			return -1;
		}
		return fail(im, readonly ? "EXAMINE" : "SELECT", r,
		    IMAP_ERR_TEMP);
	}
	*uidvalidity_r = im->m->imap_selection_info->sel_uidvalidity;
	*exists_r = im->m->imap_selection_info->sel_exists;
	return 0;
}

static int
cmp_uid(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* UID SEARCH key (freed here): sorted UIDs. */
static int
search(struct imap *im, struct mailimap_search_key *key, uint32_t **uids_r,
    size_t *n_r)
{
	clist *res = NULL;
	clistiter *it;
	uint32_t *uids;
	size_t n = 0;
	int r;

	*uids_r = NULL;
	*n_r = 0;
	if (settle(im) == -1) {
		mailimap_search_key_free(key);
		return -1;
	}
	r = mailimap_uid_search(im->m, NULL, key, &res);
	mailimap_search_key_free(key);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "UID SEARCH", r, IMAP_ERR_TEMP);
	uids = xcalloc((size_t)clist_count(res) + 1, sizeof *uids);
	for (it = clist_begin(res); it != NULL; it = clist_next(it))
		uids[n++] = *(uint32_t *)clist_content(it);
	mailimap_search_result_free(res);
	qsort(uids, n, sizeof *uids, cmp_uid);
	*uids_r = uids;
	*n_r = n;
	return 0;
}

int
imap_search_all(struct imap *im, uint32_t **uids_r, size_t *n_r)
{
	return search(im, mailimap_search_key_new_all(), uids_r, n_r);
}

int
imap_search_since(struct imap *im, time_t since, uint32_t **uids_r,
    size_t *n_r)
{
	struct tm tm;

	if (since <= 0)
		return imap_search_all(im, uids_r, n_r);
	if (gmtime_r(&since, &tm) == NULL) {
		log_error("imap: date out of range for SENTSINCE");
		im->error = IMAP_ERR_TEMP;
		return -1;
	}
	return search(im, mailimap_search_key_new_sentsince(
	    mailimap_date_new(tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900)),
	    uids_r, n_r);
}

/* The SEARCH key for "maybe message i" (imap_search_like); NULL if its
 * size cannot match anything. */
static struct mailimap_search_key *
like_key(size_t size, const char *message_id)
{
	struct mailimap_search_key *key;

	if (size == 0 || size >= UINT32_MAX)
		return NULL;
	key = mailimap_search_key_new_multiple_empty();
	mailimap_search_key_multiple_add(key,
	    mailimap_search_key_new_larger((uint32_t)size - 1));
	mailimap_search_key_multiple_add(key,
	    mailimap_search_key_new_smaller((uint32_t)size + 1));
	if (message_id != NULL)
		mailimap_search_key_multiple_add(key,
		    mailimap_search_key_new_header(xstrdup("Message-ID"),
		    xstrdup(message_id)));
	return key;
}

/* The keys lo..hi-1 ORed as a balanced tree (shallow: servers limit the
 * nesting); NULL when none. Consumes the keys. */
static struct mailimap_search_key *
or_tree(struct mailimap_search_key **keys, size_t lo, size_t hi)
{
	struct mailimap_search_key *a, *b;
	size_t mid;

	if (lo >= hi)
		return NULL;
	if (hi - lo == 1)
		return keys[lo];
	mid = lo + (hi - lo) / 2;
	a = or_tree(keys, lo, mid);
	b = or_tree(keys, mid, hi);
	if (a == NULL || b == NULL)
		return a != NULL ? a : b;
	return mailimap_search_key_new_or(a, b);
}

int
imap_search_like(struct imap *im, const size_t *sizes,
    const char *const *message_ids, size_t n, uint32_t **uids_r, size_t *n_r)
{
	struct mailimap_search_key **keys, *key;
	uint32_t *all = NULL, *got;
	size_t i = 0, k, e, est, nall = 0, ngot, j;

	*uids_r = NULL;
	*n_r = 0;
	keys = xcalloc(n + 1, sizeof *keys);
	while (i < n) {
		/* As many keys as one command line holds (a key's text:
		 * OR (LARGER n SMALLER n HEADER Message-ID "..."), the
		 * value quoted, at worst every byte escaped). */
		for (k = 0, est = 0; i < n; i++) {
			e = 64 + (message_ids[i] != NULL ?
			    2 * strlen(message_ids[i]) : 0);
			if (k > 0 && est + e > IMAP_SET_BYTES)
				break;
			if ((keys[k] = like_key(sizes[i], message_ids[i])) !=
			    NULL) {
				k++;
				est += e;
			}
		}
		if ((key = or_tree(keys, 0, k)) == NULL)
			continue;
		if (search(im, key, &got, &ngot) == -1) {
			free(keys);
			free(all);
			return -1;
		}
		all = xreallocarray(all, nall + ngot + 1, sizeof *all);
		memcpy(all + nall, got, ngot * sizeof *got);
		nall += ngot;
		free(got);
	}
	free(keys);
	/* Ascending, each once (a message may match keys of two lines). */
	if (nall > 0) {
		qsort(all, nall, sizeof *all, cmp_uid);
		for (i = 1, j = 1; i < nall; i++)
			if (all[i] != all[j - 1])
				all[j++] = all[i];
		nall = j;
	}
	*uids_r = all;
	*n_r = nall;
	return 0;
}

static size_t
digits(uint32_t v)
{
	size_t d = 1;

	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

/* The text of a run: "a" or "a:b". */
static size_t
run_len(uint32_t first, uint32_t last)
{
	return digits(first) + (last != first ? 1 + digits(last) : 0);
}

size_t
imap_setlen_add(struct imap_setlen *sl, uint32_t uid)
{
	if (sl->first != 0 && uid == sl->last + 1) {
		sl->last = uid;
	} else {
		if (sl->first != 0)
			sl->closed += run_len(sl->first, sl->last) + 1;
		sl->first = sl->last = uid;
	}
	return sl->closed + run_len(sl->first, sl->last);
}

size_t
imap_set_span(const uint32_t *uids, size_t n)
{
	struct imap_setlen sl = { 0, 0, 0 };
	size_t k;

	for (k = 0; k < n; k++)
		if (imap_setlen_add(&sl, uids[k]) > IMAP_SET_BYTES && k > 0)
			break;
	return k;
}

/* A UID set for a sorted array, consecutive runs as intervals. */
static struct mailimap_set *
uid_set(const uint32_t *uids, size_t n)
{
	struct mailimap_set *set = mailimap_set_new_empty();
	size_t i = 0, j;

	while (i < n) {
		j = i;
		while (j + 1 < n && uids[j + 1] == uids[j] + 1)
			j++;
		if (j == i)
			mailimap_set_add_single(set, uids[i]);
		else
			mailimap_set_add_interval(set, uids[i], uids[j]);
		i = j + 1;
	}
	return set;
}

/* Pull UID, RFC822.SIZE and the body section out of one FETCH item. */
static void
msg_atts(struct mailimap_msg_att *ma, uint32_t *uid, size_t *size,
    const char **body, size_t *blen, int *has_body)
{
	clistiter *a;

	*has_body = 0;
	for (a = clist_begin(ma->att_list); a != NULL; a = clist_next(a)) {
		struct mailimap_msg_att_item *item = clist_content(a);
		struct mailimap_msg_att_static *st;

		if (item->att_type != MAILIMAP_MSG_ATT_ITEM_STATIC)
			continue;
		st = item->att_data.att_static;
		switch (st->att_type) {
		case MAILIMAP_MSG_ATT_UID:
			*uid = st->att_data.att_uid;
			break;
		case MAILIMAP_MSG_ATT_RFC822_SIZE:
			*size = st->att_data.att_rfc822_size;
			break;
		case MAILIMAP_MSG_ATT_BODY_SECTION:
			*body = st->att_data.att_body_section->sec_body_part;
			*blen = st->att_data.att_body_section->sec_length;
			*has_body = 1;
			break;
		default:
			break;
		}
	}
}

/* Sort parallel arrays of UIDs and sizes by UID (insertion sort: the
 * input is sorted already, or nearly). */
static void
sort_listing(uint32_t *uids, size_t *sizes, size_t n)
{
	size_t i, j;

	for (i = 1; i < n; i++) {
		uint32_t u = uids[i];
		size_t z = sizes[i];

		for (j = i; j > 0 && uids[j - 1] > u; j--) {
			uids[j] = uids[j - 1];
			sizes[j] = sizes[j - 1];
		}
		uids[j] = u;
		sizes[j] = z;
	}
}

static int
cmp_msg(const void *a, const void *b)
{
	return cmp_uid(&((const struct imap_msg *)a)->uid,
	    &((const struct imap_msg *)b)->uid);
}

uint32_t
imap_uidnext(const struct imap *im)
{
	return im->m->imap_selection_info != NULL ?
	    im->m->imap_selection_info->sel_uidnext : 0;
}

int
imap_list(struct imap *im, uint32_t from, uint32_t to, time_t since,
    uint32_t **uids_r, size_t **sizes_r, size_t *n_r)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set;
	clist *res = NULL;
	clistiter *it;
	uint32_t *uids = NULL, *sel = NULL;
	size_t *sizes = NULL, k = 0, cap = 0, nsel = 0, off = 0, cnt;
	int r;

	*uids_r = NULL;
	*sizes_r = NULL;
	*n_r = 0;
	if (settle(im) == -1)
		return -1;
	if (from == 0 || to < from)
		return 0;
	if (since > 0) {
		struct mailimap_search_key *key;
		struct tm tm;

		if (gmtime_r(&since, &tm) == NULL) {
			log_error("imap: date out of range for SENTSINCE");
			im->error = IMAP_ERR_TEMP;
			return -1;
		}
		key = mailimap_search_key_new_multiple_empty();
		mailimap_search_key_multiple_add(key,
		    mailimap_search_key_new_uid(mailimap_set_new_interval(from,
		    to)));
		mailimap_search_key_multiple_add(key,
		    mailimap_search_key_new_sentsince(mailimap_date_new(
		    tm.tm_mday, tm.tm_mon + 1, tm.tm_year + 1900)));
		if (search(im, key, &sel, &nsel) == -1)
			return -1;
		if (nsel == 0) {
			free(sel);
			return 0;
		}
	}
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_rfc822_size());
	/* The window in one FETCH; the messages a date selected, in as
	 * many as their set needs. */
	do {
		if (sel != NULL) {
			cnt = imap_set_span(sel + off, nsel - off);
			set = uid_set(sel + off, cnt);
			off += cnt;
		} else
			set = mailimap_set_new_interval(from, to);
		r = mailimap_uid_fetch(im->m, set, ft, &res);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR) {
			mailimap_fetch_type_free(ft);
			free(sel);
			free(uids);
			free(sizes);
			return fail(im, "UID FETCH RFC822.SIZE", r,
			    IMAP_ERR_TEMP);
		}
		if (k + (size_t)clist_count(res) + 1 > cap) {
			cap = k + (size_t)clist_count(res) + 1;
			uids = xreallocarray(uids, cap, sizeof *uids);
			sizes = xreallocarray(sizes, cap, sizeof *sizes);
		}
		for (it = clist_begin(res); it != NULL; it = clist_next(it)) {
			uint32_t uid = 0;
			size_t size = 0, blen = 0;
			const char *body = NULL;
			int has_body;

			msg_atts(clist_content(it), &uid, &size, &body, &blen,
			    &has_body);
			if (uid < from || uid > to)
				continue;  /* "n:*" and unsolicited FETCHes */
			uids[k] = uid;
			sizes[k++] = size;
		}
		mailimap_fetch_list_free(res);
		res = NULL;
	} while (off < nsel);	/* (no date: nsel = 0, one FETCH) */
	mailimap_fetch_type_free(ft);
	free(sel);
	/* Servers answer in sequence order, which is UID order; but a
	 * server is hostile until proven otherwise. */
	sort_listing(uids, sizes, k);
	*uids_r = uids;
	*sizes_r = sizes;
	*n_r = k;
	return 0;
}

/* The UID of message number seq (0: the last one, "*"), and its number;
 * *uid_r = 0 if there is no such message. */
static int
uid_at(struct imap *im, uint32_t seq, uint32_t *uid_r, uint32_t *seq_r)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set;
	clist *res = NULL;
	clistiter *it;
	int r;

	*uid_r = 0;
	*seq_r = 0;
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_uid());
	set = mailimap_set_new_single(seq);
	r = mailimap_fetch(im->m, set, ft, &res);
	mailimap_set_free(set);
	mailimap_fetch_type_free(ft);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "FETCH UID", r, IMAP_ERR_TEMP);
	for (it = clist_begin(res); it != NULL; it = clist_next(it)) {
		struct mailimap_msg_att *ma = clist_content(it);
		uint32_t uid = 0;
		size_t size = 0, blen = 0;
		const char *body = NULL;
		int has_body;

		msg_atts(ma, &uid, &size, &body, &blen, &has_body);
		if (uid != 0 && (seq == 0 || ma->att_number == seq)) {
			*uid_r = uid;
			*seq_r = ma->att_number;
		}
	}
	mailimap_fetch_list_free(res);
	return 0;
}

int
imap_next_uid(struct imap *im, uint32_t from, uint32_t *uid_r)
{
	uint32_t lo = 1, hi, uid, seq, hiuid;

	*uid_r = 0;
	if (settle(im) == -1)
		return -1;
	if (uid_at(im, 0, &hiuid, &hi) == -1)
		return -1;
	if (hiuid < from)
		return 0;
	/* Message numbers grow with UIDs: the first at or above from is
	 * in lo..hi, and hi's UID is hiuid. */
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;

		if (uid_at(im, mid, &uid, &seq) == -1)
			return -1;
		if (uid == 0) {
			/* Renumbered under us (another client expunged):
			 * no jump; the caller walks on from `from`. */
			*uid_r = from;
			return 0;
		}
		if (uid >= from) {
			hi = mid;
			hiuid = uid;
		} else
			lo = mid + 1;
	}
	*uid_r = hiuid;
	return 0;
}

/* Copy the bodies of a FETCH answer into an array of imap_msg. */
static void
collect(clist *res, const uint32_t *uids, size_t n, size_t max_bytes,
    struct imap_msg **msgs_r, size_t *n_r)
{
	struct imap_msg *msgs;
	clistiter *it;
	size_t k = 0, i, j;

	msgs = xcalloc((size_t)clist_count(res) + 1, sizeof *msgs);
	for (it = clist_begin(res); it != NULL; it = clist_next(it)) {
		uint32_t uid = 0;
		size_t size = 0, blen = 0;
		const char *body = NULL;
		int has_body;

		msg_atts(clist_content(it), &uid, &size, &body, &blen,
		    &has_body);
		if (uid == 0 || bsearch(&uid, uids, n, sizeof *uids,
		    cmp_uid) == NULL)
			continue;	/* unsolicited FETCH (flag change) */
		/*
		 * No body: an unsolicited FETCH (another session changed
		 * flags), or BODY[] NIL, Dovecot's answer for a message
		 * another session expunged since our SEARCH. Neither is a
		 * message: taken for an empty one, it would be recorded
		 * under the digest of nothing. Skip it; if the message is
		 * still there, the next run takes it. (An empty message has
		 * an empty body, not NIL.)
		 */
		if (!has_body || body == NULL) {
			log_debug("imap: uid=%u: FETCH without a body "
			    "(expunged by another session?): skipped", uid);
			continue;
		}
		if (blen > max_bytes)
			blen = max_bytes;	/* a server that ignores <0.n> */
		msgs[k].uid = uid;
		msgs[k].size = size;
		msgs[k].data = xmalloc(blen + 1);
		if (blen > 0)
			memcpy(msgs[k].data, body, blen);
		msgs[k].data[blen] = '\0';
		msgs[k].len = blen;
		msgs[k].truncated = size > blen;
		k++;
	}
	qsort(msgs, k, sizeof *msgs, cmp_msg);
	/* One entry per message, whatever the server repeated. */
	for (i = j = 0; i < k; i++) {
		if (j > 0 && msgs[i].uid == msgs[j - 1].uid) {
			free(msgs[i].data);
			continue;
		}
		msgs[j++] = msgs[i];
	}
	*msgs_r = msgs;
	*n_r = j;
}

/* Append uids (ascending) to cmd as an IMAP set, as libetpan writes it:
 * runs of consecutive UIDs as intervals. */
static void
put_set(struct buf *cmd, const uint32_t *uids, size_t n)
{
	size_t i = 0, j;

	while (i < n) {
		for (j = i; j + 1 < n && uids[j + 1] == uids[j] + 1; j++)
			continue;
		if (j == i)
			buf_printf(cmd, "%s%u", i ? "," : "", uids[i]);
		else
			buf_printf(cmd, "%s%u:%u", i ? "," : "", uids[i],
			    uids[j]);
		i = j + 1;
	}
}

/* Send a tagged command (cmd ends with CRLF) without waiting for its
 * answer; it becomes the command in flight. */
static int
send_inflight(struct imap *im, const char *what, struct buf *cmd, int move,
    const uint32_t *uids, size_t n, size_t max_bytes)
{
	struct inflight *f = &im->fetch;
	int r;

	if (f->active) {
		log_error("imap: a command is already in flight");
		abort();
	}
	r = mailimap_send_current_tag(im->m);
	if (r == MAILIMAP_NO_ERROR &&
	    (mailstream_write(im->m->imap_stream, cmd->data, cmd->len) !=
	    (ssize_t)cmd->len || mailstream_flush(im->m->imap_stream) == -1))
		r = MAILIMAP_ERROR_STREAM;
	buf_free(cmd);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, what, r, IMAP_ERR_TEMP);
	f->active = 1;
	f->move = move;
	f->read = 0;
	f->uids = xreallocarray(NULL, n, sizeof *f->uids);
	memcpy(f->uids, uids, n * sizeof *uids);
	f->n = n;
	f->max_bytes = max_bytes;
	return 0;
}

int
imap_fetch_send(struct imap *im, const uint32_t *uids, size_t n,
    size_t max_bytes)
{
	struct buf cmd;

	if (settle(im) == -1)
		return -1;
	if (im->fetch.active) {
		log_error("imap: a command is already in flight");
		abort();
	}
	if (n == 0)
		return 0;	/* nothing to ask; recv gives nothing */
	if (imap_set_span(uids, n) < n) {
		log_error("imap: UID FETCH of %zu messages would pass a "
		    "command line", n);
		abort();
	}
	if (im->m->imap_state != MAILIMAP_STATE_SELECTED)
		return fail(im, "UID FETCH", MAILIMAP_ERROR_BAD_STATE,
		    IMAP_ERR_TEMP);
	buf_init(&cmd, 64 + n * 22);
	buf_puts(&cmd, "UID FETCH ");
	put_set(&cmd, uids, n);
	buf_printf(&cmd, " (UID RFC822.SIZE BODY.PEEK[]<0.%zu>)\r\n",
	    max_bytes);
	return send_inflight(im, "UID FETCH", &cmd, 0, uids, n, max_bytes);
}

int
imap_move_send(struct imap *im, const uint32_t *uids, size_t n,
    const char *folder)
{
	struct buf cmd;
	const char *p;

	if (settle(im) == -1)
		return -1;
	if (!im->has_move || im->fetch.active)
		return 0;
	/* A quoted string; anything else (8-bit names need modified
	 * UTF-7) goes the synchronous way, through libetpan. */
	for (p = folder; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p >= 0x7f)
			return 0;
	if (n == 0)
		return 1;
	if (imap_set_span(uids, n) < n) {
		log_error("imap: UID MOVE of %zu messages would pass a "
		    "command line", n);
		abort();
	}
	if (im->m->imap_state != MAILIMAP_STATE_SELECTED)
		return fail(im, "UID MOVE", MAILIMAP_ERROR_BAD_STATE,
		    IMAP_ERR_TEMP);
	buf_init(&cmd, 64 + n * 22 + 2 * strlen(folder));
	buf_puts(&cmd, "UID MOVE ");
	put_set(&cmd, uids, n);
	buf_puts(&cmd, " \"");
	for (p = folder; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			buf_putc(&cmd, '\\');
		buf_putc(&cmd, *p);
	}
	buf_puts(&cmd, "\"\r\n");
	if (send_inflight(im, "UID MOVE", &cmd, 1, uids, n, 0) == -1)
		return -1;
	return 1;
}

/* Read the answer of the command in flight (what libetpan's
 * mailimap_uid_fetch and mailimap_uid_move do after sending). */
static int
read_inflight(struct imap *im)
{
	struct inflight *f = &im->fetch;
	const char *what = f->move ? "UID MOVE" : "UID FETCH";
	struct mailimap_response *resp = NULL;
	clist *res;
	int r, state;

	f->read = 1;
	f->rc = -1;
	if (mailimap_read_line(im->m) == NULL)
		return fail(im, what, MAILIMAP_ERROR_STREAM, IMAP_ERR_TEMP);
	r = mailimap_parse_response(im->m, &resp);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, what, r, IMAP_ERR_TEMP);
	res = im->m->imap_response_info->rsp_fetch_list;
	im->m->imap_response_info->rsp_fetch_list = NULL;
	state = resp->rsp_resp_done->rsp_data.rsp_tagged->rsp_cond_state->
	    rsp_type;
	mailimap_response_free(resp);
	if (f->move) {
		if (res != NULL)
			mailimap_fetch_list_free(res);
		if (state != MAILIMAP_RESP_COND_STATE_OK)
			return fail(im, what, MAILIMAP_ERROR_UID_MOVE,
			    IMAP_ERR_TEMP);
		f->rc = 0;
		return 0;
	}
	/* Like libetpan: a NO with some messages (others expunged
	 * meanwhile) still delivers those. */
	if (state != MAILIMAP_RESP_COND_STATE_OK &&
	    (res == NULL || clist_count(res) == 0)) {
		if (res != NULL)
			mailimap_fetch_list_free(res);
		return fail(im, what, MAILIMAP_ERROR_UID_FETCH, IMAP_ERR_TEMP);
	}
	if (res != NULL) {
		collect(res, f->uids, f->n, f->max_bytes, &f->msgs,
		    &f->nmsgs);
		mailimap_fetch_list_free(res);
	}
	f->rc = 0;
	return 0;
}

/* Before any other command: read the answer of the command in flight
 * and keep it for imap_fetch_recv or imap_wait. */
static int
settle(struct imap *im)
{
	if (!im->fetch.active || im->fetch.read)
		return 0;
	return read_inflight(im);
}

int
imap_fetch_recv(struct imap *im, struct imap_msg **msgs_r, size_t *n_r)
{
	struct inflight *f = &im->fetch;
	int rc;

	*msgs_r = NULL;
	*n_r = 0;
	if (!f->active)
		return 0;
	if (f->move) {
		log_error("imap: a move in flight, not a fetch");
		abort();
	}
	if (!f->read)
		read_inflight(im);
	rc = f->rc;
	if (rc == 0) {
		*msgs_r = f->msgs;
		*n_r = f->nmsgs;
	} else
		imap_msgs_free(f->msgs, f->nmsgs);
	free(f->uids);
	memset(f, 0, sizeof *f);
	return rc;
}

int
imap_wait(struct imap *im, int block)
{
	struct inflight *f = &im->fetch;
	int rc;

	if (!f->active)
		return 1;
	if (!f->move) {
		log_error("imap: a fetch in flight, not a move");
		abort();
	}
	if (!f->read) {
		struct pollfd pfd;

		pfd.fd = mailstream_low_get_fd(mailstream_get_low(
		    im->m->imap_stream));
		pfd.events = POLLIN;
		/* Not yet answered: the socket is silent (TLS keeps nothing
		 * back here: the previous answer was read whole). */
		if (!block && poll(&pfd, 1, 0) == 0)
			return 0;
		read_inflight(im);
	}
	rc = f->rc;
	free(f->uids);
	memset(f, 0, sizeof *f);
	return rc == 0 ? 1 : -1;
}

int
imap_fetch(struct imap *im, const uint32_t *uids, size_t n, size_t max_bytes,
    struct imap_msg **msgs_r, size_t *n_r)
{
	struct mailimap_fetch_type *ft;
	struct mailimap_set *set;
	clist *res = NULL;
	int r;

	*msgs_r = NULL;
	*n_r = 0;
	if (settle(im) == -1)
		return -1;
	if (n == 0)
		return 0;
	if (imap_set_span(uids, n) < n) {
		log_error("imap: UID FETCH of %zu messages would pass a "
		    "command line", n);
		abort();
	}
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_rfc822_size());
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_body_peek_section_partial(
	    mailimap_section_new(NULL), 0, (uint32_t)max_bytes));
	set = uid_set(uids, n);
	r = mailimap_uid_fetch(im->m, set, ft, &res);
	mailimap_set_free(set);
	mailimap_fetch_type_free(ft);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "UID FETCH", r, IMAP_ERR_TEMP);
	collect(res, uids, n, max_bytes, msgs_r, n_r);
	mailimap_fetch_list_free(res);
	return 0;
}

void
imap_msgs_free(struct imap_msg *msgs, size_t n)
{
	size_t i;

	if (msgs == NULL)
		return;
	for (i = 0; i < n; i++)
		free(msgs[i].data);
	free(msgs);
}

static int expunge_set(struct imap *, const uint32_t *, size_t);

/* imap_move of uids that fit in one command. */
static int
move_set(struct imap *im, const uint32_t *uids, size_t n, const char *folder)
{
	struct mailimap_set *set;
	int r;

	set = uid_set(uids, n);
	if (im->has_move) {
		r = mailimap_uid_move(im->m, set, folder);
		mailimap_set_free(set);
		if (r != MAILIMAP_NO_ERROR)
			return fail(im, "UID MOVE", r, IMAP_ERR_TEMP);
		return 0;
	}
	if (!im->has_uidplus) {
		mailimap_set_free(set);
		log_error("imap: host=%s has neither MOVE nor UIDPLUS: "
		    "refusing to expunge (it could remove other clients' "
		    "deleted messages)", im->host);
		im->error = IMAP_ERR_UNSUPPORTED;
		return -1;
	}
	r = mailimap_uid_copy(im->m, set, folder);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "UID COPY", r, IMAP_ERR_TEMP);
	/* A crash from here to the expunge leaves a copy in both folders:
	 * run.c finds such copies by digest on the next run. */
	testpoint("copied");
	return expunge_set(im, uids, n);
}

int
imap_move(struct imap *im, const uint32_t *uids, size_t n, const char *folder)
{
	size_t k;

	if (settle(im) == -1)
		return -1;
	for (; n > 0; uids += k, n -= k) {
		k = imap_set_span(uids, n);
		if (move_set(im, uids, k, folder) == -1)
			return -1;
	}
	return 0;
}

int
imap_expunge(struct imap *im, const uint32_t *uids, size_t n)
{
	size_t k;

	if (settle(im) == -1)
		return -1;
	for (; n > 0; uids += k, n -= k) {
		k = imap_set_span(uids, n);
		if (expunge_set(im, uids, k) == -1)
			return -1;
	}
	return 0;
}

/* imap_expunge of uids that fit in one command. */
static int
expunge_set(struct imap *im, const uint32_t *uids, size_t n)
{
	struct mailimap_set *set;
	struct mailimap_flag_list *fl;
	struct mailimap_store_att_flags *sf;
	int r;

	if (!im->has_uidplus) {
		log_error("imap: host=%s lacks UIDPLUS: refusing to expunge "
		    "(it could remove other clients' deleted messages)",
		    im->host);
		im->error = IMAP_ERR_UNSUPPORTED;
		return -1;
	}
	set = uid_set(uids, n);
	fl = mailimap_flag_list_new_empty();
	mailimap_flag_list_add(fl, mailimap_flag_new_deleted());
	sf = mailimap_store_att_flags_new_add_flags_silent(fl);
	r = mailimap_uid_store(im->m, set, sf);
	mailimap_store_att_flags_free(sf);
	if (r != MAILIMAP_NO_ERROR) {
		mailimap_set_free(set);
		return fail(im, "UID STORE", r, IMAP_ERR_TEMP);
	}
	testpoint("flagged");
	r = mailimap_uid_expunge(im->m, set);
	mailimap_set_free(set);
	if (r != MAILIMAP_NO_ERROR)
		return fail(im, "UID EXPUNGE", r, IMAP_ERR_TEMP);
	return 0;
}


int
imap_has_move(const struct imap *im)
{
	return im->has_move;
}
