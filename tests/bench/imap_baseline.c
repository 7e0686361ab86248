/*
 * imap_baseline.c - the IMAP server's own speed, for tests/bench.
 *
 *   imap_baseline HOST PORT USER PASSWORD_FILE FOLDER BATCH [index]
 *   imap_baseline HOST PORT USER PASSWORD_FILE FOLDER BATCH move DEST
 *
 * A bare libetpan client (the library rebond uses): implicit TLS, LOGIN,
 * EXAMINE FOLDER, then `UID FETCH lo:hi BODY.PEEK[]` over 1:UIDNEXT-1 in
 * ranges of BATCH UIDs, keeping nothing. Prints one line:
 * "messages=N bytes=B seconds=S". With "index" it only SELECTs the folder
 * (Dovecot indexes new Maildir files then) and logs out. With "move DEST"
 * it SELECTs, fetches the same way, then moves the whole folder to DEST
 * in one `UID MOVE 1:*` (the cheapest way for the server): what any
 * client that must read and move every message costs at the least; the
 * line adds "move_seconds=M".
 *
 * The certificate is not verified: this measures, it does not protect.
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libetpan/libetpan.h>

static void
die(const char *what, int r)
{
	fprintf(stderr, "imap_baseline: %s failed (%d)\n", what, r);
	exit(1);
}

static double
now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int
main(int argc, char **argv)
{
	struct mailimap_fetch_type *ft;
	char pw[256];
	unsigned long long bytes = 0, msgs = 0;
	uint32_t lo, uidnext, batch;
	mailimap *m;
	double t0;
	FILE *f;
	double tm = 0;
	const char *dest = NULL;
	int r, index_only;

	if (argc < 7) {
		fprintf(stderr, "usage: imap_baseline HOST PORT USER "
		    "PASSWORD_FILE FOLDER BATCH [index | move DEST]\n");
		return 64;
	}
	index_only = argc > 7 && strcmp(argv[7], "index") == 0;
	if (argc > 8 && strcmp(argv[7], "move") == 0)
		dest = argv[8];
	batch = (uint32_t)strtoul(argv[6], NULL, 10);
	if (batch == 0)
		batch = 200;
	if ((f = fopen(argv[4], "r")) == NULL || fgets(pw, sizeof pw, f) ==
	    NULL) {
		perror(argv[4]);
		return 1;
	}
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	signal(SIGPIPE, SIG_IGN);

	t0 = now();
	m = mailimap_new(0, NULL);
	mailimap_set_timeout(m, 60);
	r = mailimap_ssl_connect(m, argv[1], (uint16_t)atoi(argv[2]));
	if (r != MAILIMAP_NO_ERROR && r != MAILIMAP_NO_ERROR_AUTHENTICATED &&
	    r != MAILIMAP_NO_ERROR_NON_AUTHENTICATED)
		die("connect", r);
	if ((r = mailimap_login(m, argv[3], pw)) != MAILIMAP_NO_ERROR)
		die("LOGIN", r);
	if (index_only) {
		if ((r = mailimap_select(m, argv[5])) != MAILIMAP_NO_ERROR)
			die("SELECT", r);
		printf("messages=%u uidnext=%u\n",
		    m->imap_selection_info->sel_exists,
		    m->imap_selection_info->sel_uidnext);
		mailimap_logout(m);
		mailimap_free(m);
		return 0;
	}
	if (dest != NULL) {
		/* (an existing folder is not an error here) */
		(void)mailimap_create(m, dest);
		if ((r = mailimap_select(m, argv[5])) != MAILIMAP_NO_ERROR)
			die("SELECT", r);
	} else if ((r = mailimap_examine(m, argv[5])) != MAILIMAP_NO_ERROR)
		die("EXAMINE", r);
	uidnext = m->imap_selection_info->sel_uidnext;
	ft = mailimap_fetch_type_new_fetch_att_list_empty();
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_uid());
	mailimap_fetch_type_new_fetch_att_list_add(ft,
	    mailimap_fetch_att_new_body_peek_section(mailimap_section_new(NULL)));
	for (lo = 1; lo < uidnext; lo += batch) {
		uint32_t hi = lo + batch - 1 < uidnext - 1 ? lo + batch - 1 :
		    uidnext - 1;
		struct mailimap_set *set = mailimap_set_new_interval(lo, hi);
		clist *res = NULL;
		clistiter *it, *a;

		r = mailimap_uid_fetch(m, set, ft, &res);
		mailimap_set_free(set);
		if (r == MAILIMAP_ERROR_FETCH)	/* empty range: nothing */
			continue;
		if (r != MAILIMAP_NO_ERROR)
			die("UID FETCH", r);
		for (it = clist_begin(res); it != NULL; it = clist_next(it)) {
			struct mailimap_msg_att *ma = clist_content(it);

			for (a = clist_begin(ma->att_list); a != NULL;
			    a = clist_next(a)) {
				struct mailimap_msg_att_item *item =
				    clist_content(a);
				struct mailimap_msg_att_static *st;

				if (item->att_type !=
				    MAILIMAP_MSG_ATT_ITEM_STATIC)
					continue;
				st = item->att_data.att_static;
				if (st->att_type ==
				    MAILIMAP_MSG_ATT_BODY_SECTION) {
					bytes += st->att_data.att_body_section->
					    sec_length;
					msgs++;
				}
			}
		}
		mailimap_fetch_list_free(res);
	}
	mailimap_fetch_type_free(ft);
	if (dest != NULL && uidnext > 1) {
		struct mailimap_set *set = mailimap_set_new_interval(1, 0);

		tm = now();
		if ((r = mailimap_uid_move(m, set, dest)) != MAILIMAP_NO_ERROR)
			die("UID MOVE", r);
		mailimap_set_free(set);
		tm = now() - tm;
	}
	mailimap_logout(m);
	mailimap_free(m);
	printf("messages=%llu bytes=%llu seconds=%.3f", msgs, bytes,
	    now() - t0);
	if (dest != NULL)
		printf(" move_seconds=%.3f", tm);
	printf("\n");
	return 0;
}
