/*
 * imap.h - the bounce mailbox over IMAP (libetpan), verified TLS first.
 *
 * imap_open() connects with implicit TLS or STARTTLS (or plain text to a
 * loopback host when configured), verifies the certificate chain and the
 * host name before LOGIN, and refuses any downgrade. All functions log
 * one line on failure and return -1; imap_error() then says what kind of
 * failure it was, for the exit code.
 */
#ifndef REBOND_IMAP_H
#define REBOND_IMAP_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "conf.h"

enum imap_error {
	IMAP_ERR_NONE = 0,
	IMAP_ERR_TEMP,		/* network, timeout, server trouble: retry */
	IMAP_ERR_TLS,		/* certificate or host name refused */
	IMAP_ERR_AUTH,		/* login refused */
	IMAP_ERR_UNSUPPORTED,	/* server lacks what a safe move needs */
	IMAP_ERR_NO_FOLDER,	/* the folder to read does not exist */
};

/* One fetched message. data holds at most max_bytes bytes. */
struct imap_msg {
	uint32_t uid;
	size_t size;		/* RFC822.SIZE, the whole message */
	char *data;		/* what was fetched (owned) */
	size_t len;
	int truncated;		/* size > len: only a prefix was fetched */
};

struct imap;

/* Connect, verify TLS, log in. Returns 0 and sets *im_r, or -1. */
int imap_open(const struct endpoint *ep, const char *password,
    struct imap **im_r);
/* The kind of the last failure. */
enum imap_error imap_error(const struct imap *im);
/* Close the session (LOGOUT unless the connection is broken); NULL-safe. */
void imap_close(struct imap **pp);
/* Create folder unless it exists. */
int imap_ensure_folder(struct imap *im, const char *folder);
/* SELECT (or EXAMINE when readonly) folder. */
int imap_select(struct imap *im, const char *folder, int readonly,
    uint32_t *uidvalidity_r, uint32_t *exists_r);
/* UIDs of every message in the selected folder, ascending (free()). */
int imap_search_all(struct imap *im, uint32_t **uids_r, size_t *n_r);
/*
 * Like imap_search_all, restricted to messages whose Date: is on or after
 * the (UTC) day of since (SENTSINCE); since <= 0 means every message.
 */
int imap_search_since(struct imap *im, time_t since, uint32_t **uids_r,
    size_t *n_r);
/*
 * UIDs in the selected folder that may be one of n messages: RFC822.SIZE
 * sizes[i] and, unless message_ids[i] is NULL, a Message-ID header
 * containing message_ids[i]. The candidates for "the same message" (the
 * caller compares digests), all in one UID SEARCH.
 */
int imap_search_like(struct imap *im, const size_t *sizes,
    const char *const *message_ids, size_t n, uint32_t **uids_r, size_t *n_r);
/*
 * Command lines stay short: RFC 7162 (section 4) asks clients to keep
 * them to about 8,192 octets, and servers refuse longer ones (Dovecot's
 * imap_max_line_length, 64 KiB by default; others less). A UID set whose
 * text would pass IMAP_SET_BYTES, or search keys that would, go in
 * several commands: imap_move, imap_expunge, imap_list, imap_fetch and
 * imap_search_like split them themselves; the callers of imap_fetch_send
 * and imap_move_send keep their sets to imap_set_span.
 */
#define IMAP_SET_BYTES 8000
/* The text length of a UID set being built, one ascending UID at a time
 * (start zeroed). */
struct imap_setlen {
	uint32_t first, last;	/* the open run (0: none yet) */
	size_t closed;		/* the text of the runs before it */
};
/* Add uid (above the last one added); returns the set's text length
 * with it. */
size_t imap_setlen_add(struct imap_setlen *sl, uint32_t uid);
/* How many of the n ascending uids (at least one) fit in one set of at
 * most IMAP_SET_BYTES of text. */
size_t imap_set_span(const uint32_t *uids, size_t n);
/* UIDNEXT of the folder selected last (0 if the server did not say). */
uint32_t imap_uidnext(const struct imap *im);
/*
 * UIDs and RFC822.SIZEs of the messages with from <= UID <= to in the
 * selected folder, ascending (free() both arrays): one UID FETCH, whose
 * answer takes memory in proportion to to - from, not to the folder.
 * since > 0: only messages whose Date: is on or after since's (UTC) day
 * (a UID SEARCH SENTSINCE of the window first).
 */
int imap_list(struct imap *im, uint32_t from, uint32_t to, time_t since,
    uint32_t **uids_r, size_t **sizes_r, size_t *n_r);
/*
 * The lowest UID at or above from in the selected folder (0 if none): a
 * binary search over message numbers, about log2(messages) tiny FETCHes,
 * to jump over a gap in the UIDs.
 */
int imap_next_uid(struct imap *im, uint32_t from, uint32_t *uid_r);
/*
 * Fetch BODY.PEEK[]<0.max_bytes> (\Seen untouched) of uids (ascending,
 * imap_set_span of them: one command).
 * *msgs_r gets one entry per message the server returned (a message
 * expunged meanwhile is missing), in uid order. Free with imap_msgs_free.
 */
int imap_fetch(struct imap *im, const uint32_t *uids, size_t n,
    size_t max_bytes, struct imap_msg **msgs_r, size_t *n_r);
/*
 * imap_fetch in two halves, so that the server reads and sends the next
 * batch while the caller works on the last one: send the UID FETCH now,
 * take its answer with imap_fetch_recv later. One fetch in flight at a
 * time; any other command first reads its answer and keeps it for
 * imap_fetch_recv. recv without a send gives nothing.
 */
int imap_fetch_send(struct imap *im, const uint32_t *uids, size_t n,
    size_t max_bytes);
int imap_fetch_recv(struct imap *im, struct imap_msg **msgs_r, size_t *n_r);
void imap_msgs_free(struct imap_msg *msgs, size_t n);
/* 1 if the server moves atomically (MOVE), 0 if imap_move copies. */
int imap_has_move(const struct imap *im);
/*
 * UID MOVE of uids (ascending, imap_set_span of them: one command) to
 * folder, sent now and answered later (imap_wait):
 * on a second session, the server moves while the first one fetches.
 * Returns 1 if sent, 0 if this way is not possible (no MOVE, a command
 * in flight, a folder name that is not printable ASCII: use
 * imap_move), -1 on failure.
 */
int imap_move_send(struct imap *im, const uint32_t *uids, size_t n,
    const char *folder);
/*
 * The answer to imap_move_send: with block, wait for it; else only look
 * whether it came. Returns 1 when no move is in flight any more (done),
 * 0 when it still is, -1 if it failed.
 */
int imap_wait(struct imap *im, int block);
/*
 * Move uids to folder: UID MOVE, or UID COPY + STORE \Deleted + UID
 * EXPUNGE when the server lacks MOVE but has UIDPLUS. Without either the
 * move is refused (a bare EXPUNGE could remove others' messages).
 */
int imap_move(struct imap *im, const uint32_t *uids, size_t n,
    const char *folder);
/* Remove uids from the selected folder: STORE \Deleted + UID EXPUNGE
 * (refused without UIDPLUS). */
int imap_expunge(struct imap *im, const uint32_t *uids, size_t n);

#endif
