/*
 * live_hostile.c - hostile mail through the whole pipeline: every message
 * gets a verdict and a folder, memory stays bounded, SQL sees mail text
 * only as parameters, and no password or body reaches a log line.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "live.h"

static void
deliver_buf(const char *user, struct buf *b)
{
	live_deliver(user, "INBOX", b->data, b->len);
	buf_free(b);
}

static const char dsn_head[] =
    "From: MAILER-DAEMON@mx.example.org\r\n"
    "To: bounces@platform.example\r\n"
    "Subject: Delivery Status Notification (Failure)\r\n"
    "MIME-Version: 1.0\r\n"
    "Content-Type: multipart/report; report-type=delivery-status; "
    "boundary=\"b1\"\r\n\r\n"
    "--b1\r\nContent-Type: text/plain\r\n\r\nDelivery failed.\r\n"
    "--b1\r\nContent-Type: message/delivery-status\r\n\r\n"
    "Reporting-MTA: dns; mx.example.org\r\n";

/* The seven hostile shapes of the issue, one message each. */
static void
deliver_hostile(const char *user)
{
	struct buf b;
	int i;

	/* 1. 50 MiB: a DSN followed by a huge attachment. */
	buf_init(&b, 60u * 1024 * 1024);
	buf_puts(&b, dsn_head);
	buf_puts(&b, "\r\nFinal-Recipient: rfc822; big@example.com\r\n"
	    "Action: failed\r\nStatus: 5.1.1\r\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
	    "--b1\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n");
	while (b.len < 50u * 1024 * 1024)
		buf_puts(&b, "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB"
		    "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n");
	buf_puts(&b, "--b1--\r\n");
	deliver_buf(user, &b);

	/* 2. 1,000-deep multipart. */
	buf_init(&b, 1024 * 1024);
	buf_puts(&b, "From: x@example.net\r\nSubject: deep\r\n");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "Content-Type: multipart/mixed; boundary=\"d%d\""
		    "\r\n\r\n--d%d\r\n", i, i);
	buf_puts(&b, "Content-Type: text/plain\r\n\r\n550 user unknown\r\n");
	deliver_buf(user, &b);

	/* 3. 10,000 recipients. */
	buf_init(&b, 4u * 1024 * 1024);
	buf_puts(&b, dsn_head);
	for (i = 0; i < 10000; i++)
		buf_printf(&b, "\r\nFinal-Recipient: rfc822; r%d@example.com\r\n"
		    "Action: failed\r\nStatus: 5.1.1\r\n", i);
	buf_puts(&b, "\r\n--b1--\r\n");
	deliver_buf(user, &b);

	/* 4. NUL bytes in the report. */
	buf_init(&b, 4096);
	buf_puts(&b, dsn_head);
	buf_append(&b, "\r\nFinal-Recipient: rfc822; n\0ul@example.com\r\n"
	    "Action: failed\r\nStatus: 5.\0" "1.1\r\n\r\n--b1--\r\n", 80);
	deliver_buf(user, &b);

	/* 5. Invalid UTF-8 in headers and diagnostic. */
	buf_init(&b, 4096);
	buf_puts(&b, dsn_head);
	buf_puts(&b, "\r\nFinal-Recipient: rfc822; utf@example.com\r\n"
	    "Action: failed\r\nStatus: 5.2.2\r\n"
	    "Diagnostic-Code: smtp; 552 bo\xeete pleine \xff\xfe\xc0\xaf\r\n"
	    "\r\n--b1--\r\n");
	deliver_buf(user, &b);

	/* 6. Missing boundaries. */
	buf_init(&b, 4096);
	buf_puts(&b, "From: MAILER-DAEMON@mx.example.org\r\nSubject: x\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"never-there\"\r\n\r\nFinal-Recipient: rfc822; "
	    "nob@example.com\r\nAction: failed\r\nStatus: 5.1.1\r\n");
	deliver_buf(user, &b);

	/* 7. Truncated base64 delivery-status part. */
	buf_init(&b, 4096);
	buf_puts(&b, "From: MAILER-DAEMON@mx.example.org\r\nSubject: x\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"b\"\r\n\r\n--b\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "Content-Transfer-Encoding: base64\r\n\r\n"
	    "UmVwb3J0aW5nLU1UQTogZG5zOyB4DQoNCkZpbmFsLVJlY2lwaWVudDogcmZjODIy"
	    "OyB0cnVuY0BleGFtcGxlLmNvbQ0KQWN0aW9uOiBmYWlsZWQNClN0YXR1czogNS4x"
	    "Lj");
	deliver_buf(user, &b);
}

Test(hostile, every_shape_gets_a_verdict_with_bounded_memory, .timeout = 120)
{
	const char *db = live_db_migrated("hostile_shapes");
	const char *small = live_db_migrated("hostile_small");
	char args[600], *m;
	long rss, base;
	int rc;

	/* The same build over one ordinary bounce: the memory baseline
	 * (sanitizer builds have a large constant overhead). */
	live_mailbox("hostile_small");
	m = live_dsn("alice@example.com", "5.1.1", "550 5.1.1 unknown", 1);
	live_deliver("hostile_small", "INBOX", m, strlen(m));
	free(m);
	snprintf(args, sizeof args, "run -c %s",
	    live_config("hostile_small", "hostile_small", small, NULL));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	base = live_maxrss_kb();

	live_mailbox("hostile_shapes");
	deliver_hostile("hostile_shapes");
	snprintf(args, sizeof args, "run -c %s",
	    live_config("hostile_shapes", "hostile_shapes", db,
	    "[imap]\nmax_message_bytes = 1048576\n"));
	rc = live_rebond(args);
	rss = live_maxrss_kb();
	cr_log_info("peak RSS: %ld KiB for the hostile mailbox, %ld KiB for "
	    "one ordinary bounce", rss, base);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, live_err());
	/* Each message has its row and is in exactly one folder. */
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    7);
	cr_assert_eq(live_count("hostile_shapes", "INBOX"), 0);
	cr_assert_eq(live_count("hostile_shapes", "Archive") +
	    live_count("hostile_shapes", "Review"), 7);
	/* The 50 MiB message was fetched as its first MiB, and flagged. */
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE flags & 1 = 1"), 1, "REPORT_F_TRUNCATED not recorded");
	/* Recipients are capped (CAP_RECIPIENTS), not 10,000 rows. */
	cr_assert(live_sql_int(db, "SELECT max(c) FROM (SELECT count(*) AS c "
	    "FROM rebond.events GROUP BY digest) x") <= 512);
	{
		char *all = live_sql_str(db, "SELECT string_agg(m.uid || ':' || "
		    "m.outcome || ',' || m.report_type || ',rcpts=' || "
		    "m.recipients || ',flags=' || m.flags || ',' || "
		    "coalesce((SELECT string_agg(e.recipient || '=' || "
		    "e.category, ' ' ORDER BY e.rcpt_index) FROM (SELECT * FROM "
		    "rebond.events x WHERE x.digest = m.digest ORDER BY "
		    "rcpt_index LIMIT 2) e), '-'), ' | ' ORDER BY m.uid) "
		    "FROM rebond.messages m");

		fprintf(stderr, "SUMMARY: hostile peak RSS %ld KiB (one "
		    "ordinary bounce: %ld KiB); verdicts: %s\n", rss, base, all);
		free(all);
	}
	/* Each shape's own verdict (UIDs in the order delivered). */
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages m "
	    "JOIN rebond.events e USING (digest) WHERE m.uid = 1 AND "
	    "m.flags & 1 = 1 AND e.recipient = 'big@example.com' AND "
	    "e.category = 'hard'"), 1, "50 MiB: the DSN at its start");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE uid = 2 AND outcome = 'review' AND flags & 4 = 4"), 1,
	    "1,000-deep: depth cap, review");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE uid = 3 AND flags & 16 = 16"), 1, "recipient cap flag");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE recipient = 'utf@example.com' AND category = 'quota'"), 1,
	    "invalid UTF-8: still read");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages m "
	    "JOIN rebond.events e USING (digest) WHERE m.uid = 6 AND "
	    "m.flags & 64 = 64 AND e.recipient = 'nob@example.com'"), 1,
	    "missing boundary: read as text");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE uid = 7 AND outcome = 'review'"), 1,
	    "truncated base64: no status, review");
	/* Stored text is valid UTF-8 without NULs (PostgreSQL accepted it).
	 * Memory: fetching the 50 MiB message whole would add over 50 MiB
	 * to the baseline; a bounded fetch adds a few. */
#ifndef __SANITIZE_ADDRESS__
	/* (ASan's allocator keeps large blocks: the bound is for real
	 * builds; the sanitizer build checks the memory errors instead.) */
	cr_assert(rss < base + 32 * 1024, "peak RSS %ld KiB, baseline %ld KiB",
	    rss, base);
#endif
}

/*
 * Recipients bound a batch too: 100 messages of 512 recipients each (the
 * cap per message) fit in one fetched batch, and would make 51,200 rows
 * in one transaction and as many verdicts in memory; the batch is worked
 * in pieces of BATCH_RECIPIENTS (2,048: four such messages), every
 * recipient still recorded once, and a copy of a message goes with it.
 */
Test(hostile, many_recipients_split_the_batch, .timeout = 180)
{
	const char *db = live_db_migrated("hostile_rcpts");
	const char *small = live_db_migrated("hostile_rcpts_small");
	char args[600], *m;
	const char *p;
	long rss, base;
	int i, k, pieces = 0, most = 0, rc;

	live_mailbox("hostile_rcpts_small");
	m = live_dsn("alice@example.com", "5.1.1", "550 5.1.1 unknown", 1);
	live_deliver("hostile_rcpts_small", "INBOX", m, strlen(m));
	free(m);
	snprintf(args, sizeof args, "run -c %s", live_config(
	    "hostile_rcpts_small", "hostile_rcpts_small", small, NULL));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	base = live_maxrss_kb();

	live_mailbox("hostile_rcpts");
	/* (the 101st message: the same bytes as the first) */
	for (i = 0; i <= 100; i++) {
		struct buf b;

		buf_init(&b, 1024 * 1024);
		buf_puts(&b, dsn_head);
		for (k = 0; k < 512; k++)
			buf_printf(&b, "\r\nFinal-Recipient: rfc822; "
			    "m%d.r%d@example.com\r\nAction: failed\r\n"
			    "Status: 5.1.1\r\n", i % 100, k);
		buf_puts(&b, "\r\n--b1--\r\n");
		deliver_buf("hostile_rcpts", &b);
	}
	snprintf(args, sizeof args, "run -c %s", live_config("hostile_rcpts",
	    "hostile_rcpts", db, "[log]\nlevel = debug\n"));
	rc = live_rebond(args);
	rss = live_maxrss_kb();
	cr_assert_eq(rc, 0, "exit %d: %s", rc, live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events"),
	    51200);
	cr_assert_eq(live_sql_int(db, "SELECT count(DISTINCT recipient) FROM "
	    "rebond.events"), 51200);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages"),
	    100);
	cr_assert_eq(live_count("hostile_rcpts", "INBOX"), 0);
	cr_assert_eq(live_count("hostile_rcpts", "Archive"), 101);
	/* The copy went with its twin, not as a message of an earlier
	 * transaction. */
	cr_assert_not_null(strstr(live_err(), " messages=101 archived=101 "
	    "review=0 ignored=0 already=0 "), "%s", live_err());
	/* Committed in pieces of four messages. */
	for (p = live_err(); (p = strstr(p, "batch committed messages="));
	    p++) {
		int got = atoi(p + strlen("batch committed messages="));

		pieces++;
		if (got > most)
			most = got;
	}
	cr_log_info("many recipients: %d transactions, at most %d messages "
	    "each; peak RSS %ld KiB (one ordinary bounce: %ld KiB)", pieces,
	    most, rss, base);
	fprintf(stderr, "SUMMARY: 100 messages x 512 recipients: %d "
	    "transactions of at most %d messages, peak RSS %ld KiB (one "
	    "ordinary bounce: %ld KiB)\n", pieces, most, rss, base);
	/* (four, and the first piece carries the copy) */
	cr_assert_eq(most, 5, "%s", live_err());
	cr_assert_geq(pieces, 25);
#ifndef __SANITIZE_ADDRESS__
	cr_assert(rss < base + 32 * 1024, "peak RSS %ld KiB, baseline %ld KiB",
	    rss, base);
#endif
}

/*
 * Servers limit their command lines (RFC 7162 asks clients for about
 * 8 KB; Dovecot's imap_max_line_length), and long-lived mailboxes have
 * large UIDs: out-of-office replies (archive) between mails that are no
 * bounce (review) are as many separate UIDs of ten digits per folder:
 * 4,000 messages, the last 3,000 moved in one group, 16 KB of UID set
 * each. Against a server that takes 9 KB lines
 * and has no MOVE (the moves wait for the end of the run: one group), the
 * copies, flags and expunges go in several commands, and the run
 * finishes (a line too long: the server refused it, exit 75, and every
 * next run stopped at the same place).
 */
Test(hostile, long_uid_sets_fit_the_server_line, .timeout = 180)
{
	int port = live_dovecot("shortline", "IMAP4rev1 LITERAL+ IDLE UIDPLUS");
	const char *db = live_db_migrated("hostile_line");
	char conf[1024], cmd[1200], extra[300], args[600], *m;
	const char *p;
	FILE *f;
	int i, rc, most = 0;

	/* 9 KB lines (our sets: 8,000 bytes at most, plus the command). */
	snprintf(conf, sizeof conf, "%s/shortline/dovecot.conf", live_dir());
	f = fopen(conf, "a");
	cr_assert_not_null(f);
	fputs("imap_max_line_length = 9k\n", f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "%s/tests/servers.sh dovecot-stop %s "
	    "shortline && %s/tests/servers.sh dovecot-start %s shortline",
	    live_env("REBOND_SRCDIR"), live_dir(), live_env("REBOND_SRCDIR"),
	    live_dir());
	cr_assert_eq(system(cmd), 0, "%s", cmd);

	live_mailbox("hostile_line");
	live_uid_start("hostile_line", 4000000000ul);
	for (i = 0; i < 4000; i++) {
		if (i % 2 == 0) {
			cr_assert(asprintf(&m, "From: someone%d@example.com\r\n"
			    "To: bounces@platform.example\r\n"
			    "Subject: Absent\r\n"
			    "Auto-Submitted: auto-replied\r\n"
			    "Message-ID: <line-ar-%d@example.com>\r\n\r\n"
			    "Je suis absent.\r\n", i, i) > 0);
		} else {
			cr_assert(asprintf(&m, "From: someone%d@example.com\r\n"
			    "To: bounces@platform.example\r\n"
			    "Subject: Question\r\n"
			    "Message-ID: <line-q-%d@example.com>\r\n\r\n"
			    "Bonjour, une question.\r\n", i, i) > 0);
		}
		live_deliver("hostile_line", "INBOX", m, strlen(m));
		free(m);
	}
	snprintf(extra, sizeof extra, "[imap]\ntls = starttls\nport = %d\n"
	    "move_group = 5000\n[log]\nlevel = debug\n", port);
	snprintf(args, sizeof args, "run -c %s", live_config("hostile_line",
	    "hostile_line", db, extra));
	rc = live_rebond(args);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, live_err());
	cr_assert_eq(live_count("hostile_line", "INBOX"), 0, "%s", live_err());
	cr_assert_eq(live_count("hostile_line", "Archive"), 2000, "%s",
	    live_err());
	cr_assert_eq(live_count("hostile_line", "Review"), 2000, "%s",
	    live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.messages "
	    "WHERE uid >= 4000000000"), 4000);
	cr_assert_not_null(strstr(live_err(), " messages=4000 archived=2000 "
	    "review=2000 "), "%s", live_err());
	/* A group of moves long enough: over 1,800 messages, 900 UIDs of a
	 * folder and more, 9.9 KB of set at least. */
	for (p = live_err(); (p = strstr(p, "batch moved messages=")); p++)
		if (atoi(p + strlen("batch moved messages=")) > most)
			most = atoi(p + strlen("batch moved messages="));
	cr_assert_gt(most, 1800, "%s", live_err());
}

/* Quotes, backslashes and SQL in addresses and diagnostics are data. */
Test(hostile, sql_metacharacters_are_only_data, .timeout = 60)
{
	const char *db = live_db_migrated("hostile_sql");
	const char *diag = "550 5.1.1 '; DROP TABLE accounts; -- \\\\ \\' "
	    "$$ E'\\\\x00' unknown";
	char *m, args[600], *s;

	live_sql(db, "INSERT INTO accounts (id, primary_email) VALUES "
	    "(1, 'o''neil+x@example.com')");
	live_mailbox("hostile_sql");
	m = live_dsn("o'neil+x@example.com", "5.1.1", diag, 1);
	live_deliver("hostile_sql", "INBOX", m, strlen(m));
	free(m);
	snprintf(args, sizeof args, "run -c %s",
	    live_config("hostile_sql", "hostile_sql", db, NULL));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts"), 1);
	s = live_sql_str(db, "SELECT diagnostic FROM rebond.events");
	cr_assert_not_null(strstr(s, "'; DROP TABLE accounts; -- \\\\ \\'"),
	    "stored: %s", s);
	free(s);
	s = live_sql_str(db, "SELECT recipient || ' ' || role || ' ' || "
	    "category FROM rebond.events");
	cr_assert_str_eq(s, "o'neil+x@example.com primary hard");
	free(s);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "primary_state = 'hard'"), 1);
}

/* Debug logging of a whole run never shows the password or a body. */
Test(hostile, no_password_or_body_in_logs, .timeout = 60)
{
	const char *db = live_db_migrated("hostile_logs");
	char *m, args[600];

	live_mailbox("hostile_logs");
	m = live_dsn("alice@example.com", "5.1.1",
	    "550 5.1.1 BODYMARKER-7f3a unknown", 1);
	live_deliver("hostile_logs", "INBOX", m, strlen(m));
	free(m);
	snprintf(args, sizeof args, "run -c %s",
	    live_config("hostile_logs", "hostile_logs", db,
	    "[log]\nlevel = debug\n"));
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert(strlen(live_err()) > 0);
	/* The IMAP password of the test configs is "secret". */
	cr_assert_null(strstr(live_err(), "secret"), "%s", live_err());
	cr_assert_null(strstr(live_err(), "I'm sorry to have to inform"),
	    "%s", live_err());
	cr_assert_null(strstr(live_out(), "secret"), "%s", live_out());
}
