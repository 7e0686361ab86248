/*
 * live_verp.c - signed VERP return paths through a real run: a valid tag
 * names the account for certain; with [verp] mode = require, forged or
 * untagged DSNs change no account and go to review.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <time.h>

#include "live.h"

static char secret_path[512];

/* The [verp] section, with a secret file (mode 0600). */
static const char *
verp_section(const char *mode)
{
	static char extra[1024];
	char tmp[560];
	FILE *f;

	snprintf(secret_path, sizeof secret_path, "%s/verp.secret",
	    live_dir());
	/* Tests run in parallel, and rebond reads the file: renamed into
	 * place whole, never seen empty. */
	snprintf(tmp, sizeof tmp, "%s.%d", secret_path, (int)getpid());
	f = fopen(tmp, "w");
	cr_assert_not_null(f);
	fputs("a-long-random-secret-for-tests\n", f);
	fclose(f);
	chmod(tmp, 0600);
	cr_assert_eq(rename(tmp, secret_path), 0, "%s", tmp);
	snprintf(extra, sizeof extra, "[verp]\nmode = %s\nsecret_file = %s\n"
	    "return_path = bounces@platform.example\n", mode, secret_path);
	return extra;
}

/* The tagged return path of a mail to address, the address of account id
 * in role, from `rebond verp`. */
static char *
tag_for(const char *cfg, int id, const char *role, const char *address)
{
	char args[900], *s, *nl;

	snprintf(args, sizeof args, "verp -c %s %d %s %s", cfg, id, role,
	    address);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	s = strdup(live_out());
	nl = strchr(s, '\n');
	if (nl != NULL)
		*nl = '\0';
	cr_assert(strncmp(s, "bounces+", 8) == 0, "%s", s);
	return s;
}

/* m (freed) with its header line that starts with name replaced by
 * "name value" (a new string). */
static char *
set_header(char *m, const char *name, const char *value)
{
	char *at = strstr(m, name), *end, *out;

	cr_assert_not_null(at, "%s", name);
	end = strstr(at, "\r\n");
	cr_assert_not_null(end);
	cr_assert(asprintf(&out, "%.*s%s%s%s", (int)(at - m), m, name, value,
	    end) > 0);
	free(m);
	return out;
}

/* A DSN for rcpt (status, diag) that came back to the address `to`,
 * dated when (0: live_dsn's date). */
static void
deliver_dsn(const char *user, const char *to, const char *rcpt,
    const char *status, const char *diag, int seq, time_t when)
{
	char *m = set_header(live_dsn(rcpt, status, diag, seq), "\r\nTo: ",
	    to);

	if (when != 0) {
		char date[64];
		struct tm tm;

		gmtime_r(&when, &tm);
		strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000",
		    &tm);
		m = set_header(m, "\r\nDate: ", date);
	}
	live_deliver(user, "INBOX", m, strlen(m));
	free(m);
}

/* A hard DSN for rcpt that came back to the address `to`. */
static void
deliver_to(const char *user, const char *to, const char *rcpt, int seq)
{
	deliver_dsn(user, to, rcpt, "5.1.1", "550 5.1.1 User unknown", seq, 0);
}

#define TRANSIENT "4.4.7", "Delivery time expired"

static void
seed(const char *db)
{
	live_sql(db, "INSERT INTO accounts (id, primary_email, "
	    "secondary_email) VALUES (1, 'alice@example.com', NULL), "
	    "(2, 'bob@example.org', 'bob@work.example')");
}

/* prefer: the tag decides, even when the bounced address is another
 * (a forward), and the event says it was verified. */
Test(verp, valid_tag_names_the_account, .timeout = 60)
{
	const char *db = live_db_migrated("verp_prefer");
	const char *cfg;
	char args[700], *tag, *s;

	seed(db);
	live_mailbox("verp_prefer");
	cfg = live_config("verp_prefer", "verp_prefer", db,
	    verp_section("prefer"));
	tag = tag_for(cfg, 2, "secondary", "bob@work.example");
	/* The work address forwarded to a dead mailbox elsewhere. */
	deliver_to("verp_prefer", tag, "bob.forward@elsewhere.example", 1);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	s = live_sql_str(db, "SELECT account_id || ' ' || role || ' ' || "
	    "verified FROM rebond.events");
	cr_assert_str_eq(s, "2 secondary true");
	free(s);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 2 AND secondary_state = 'hard' AND primary_state = 'ok'"), 1);
	cr_assert_eq(live_count("verp_prefer", "Archive"), 1);
	free(tag);
}

/* require: forged DSNs (no tag, a tag with a wrong signature, a tag
 * signed for another account) change nothing; a valid one does. */
Test(verp, forged_bounces_change_no_account, .timeout = 60)
{
	const char *db = live_db_migrated("verp_require");
	const char *cfg;
	char args[700], *tag, *forged, *p;

	seed(db);
	live_mailbox("verp_require");
	cfg = live_config("verp_require", "verp_require", db,
	    verp_section("require"));
	tag = tag_for(cfg, 1, "primary", "alice@example.com");
	forged = strdup(tag);
	p = strchr(forged, '@') - 1;
	*p = *p == 'a' ? 'b' : 'a';	/* one character of the HMAC */
	deliver_to("verp_require", "bounces@platform.example",
	    "alice@example.com", 1);
	deliver_to("verp_require", forged, "alice@example.com", 2);
	deliver_to("verp_require", "bounces+2.primary.aaaaaaaaaaaaaaaa@"
	    "platform.example", "bob@example.org", 3);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "primary_state <> 'ok' OR secondary_state <> 'ok' OR "
	    "login_alert IS NOT NULL"), 0, "a forged DSN changed an account");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox"),
	    0, "a forged DSN warned someone");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE NOT verified AND account_id IS NULL"), 3);
	cr_assert_eq(live_count("verp_require", "Review"), 3);
	cr_assert_not_null(strstr(live_err(), "does not verify"), "%s",
	    live_err());

	/* The genuine bounce, tagged by the platform, is applied. */
	deliver_to("verp_require", tag, "alice@example.com", 4);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state = 'hard'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE verified AND account_id = 1"), 1);
	cr_assert_eq(live_count("verp_require", "Archive"), 1);
	free(forged);
	free(tag);
}

/*
 * require, without a tag: a bounce whose returned original carries a
 * Message-ID the platform recorded sending to that recipient
 * (rebond.sent_mail) is applied; the same Message-ID recorded for
 * another recipient, or one not recorded, goes to review. The platform's
 * role may record, not read; each run drops rows past 30 days.
 */
Test(verp, recorded_message_id_verifies_without_a_tag, .timeout = 60)
{
	const char *db = live_db_migrated("verp_mid");
	const char *cfg;
	char args[700];

	seed(db);
	live_mailbox("verp_mid");
	cfg = live_config("verp_mid", "verp_mid", db, verp_section("require"));
	/* live_dsn's original is <orig-SEQ@platform.example>. */
	live_sql(db, "SET ROLE rebond_sender; "
	    "INSERT INTO rebond.sent_mail (message_id, recipient) VALUES "
	    "('orig-11@platform.example', ' Alice@Example.com'), "
	    "('orig-12@platform.example', 'carol@example.net'); RESET ROLE");
	live_sql(db, "INSERT INTO rebond.sent_mail (message_id, recipient, "
	    "sent_at) VALUES ('old@platform.example', 'x@example.com', "
	    "now() - interval '31 days')");
	deliver_to("verp_mid", "bounces@platform.example",
	    "alice@example.com", 11);
	deliver_to("verp_mid", "bounces@platform.example",
	    "bob@example.org", 12);
	deliver_to("verp_mid", "bounces@platform.example",
	    "bob@example.org", 13);
	/* A dry run says what vouched for each recipient. */
	snprintf(args, sizeof args, "run --dry-run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_not_null(strstr(live_out(), "recipient=alice@example.com "
	    "reason=userunknown category=hard"), "%s", live_out());
	cr_assert_not_null(strstr(live_out(), "verified=sent_mail"), "%s",
	    live_out());
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state = 'hard'"), 1, "recorded: applied");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 2 AND primary_state = 'ok' AND secondary_state = 'ok'"), 1,
	    "not recorded for bob: applied all the same");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE verified AND account_id = 1"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE NOT verified AND account_id IS NULL"), 2);
	cr_assert_eq(live_count("verp_mid", "Archive"), 1);
	cr_assert_eq(live_count("verp_mid", "Review"), 2);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.sent_mail "
	    "WHERE message_id = 'old@platform.example'"), 0, "not purged");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.sent_mail"),
	    2);
	cr_assert_eq(live_sql_int(db, "SELECT (has_table_privilege("
	    "'rebond_sender', 'rebond.sent_mail', 'SELECT') OR "
	    "has_table_privilege('rebond_sender', 'rebond.sent_mail', "
	    "'DELETE'))::int"), 0, "the platform's role reads or deletes");
}

/* The tag signs the address: the late bounce of a mail sent to an address
 * the account has replaced since carries a genuine tag, and still does
 * not touch the new address; a mail to the new address does. */
Test(verp, late_bounce_of_a_replaced_address_changes_nothing, .timeout = 60)
{
	const char *db = live_db_migrated("verp_late");
	const char *cfg;
	char args[700], *old_tag, *new_tag, *s;

	live_sql(db, "INSERT INTO accounts (id, primary_email) VALUES "
	    "(3, 'carol@old.example')");
	live_mailbox("verp_late");
	cfg = live_config("verp_late", "verp_late", db,
	    verp_section("prefer"));
	old_tag = tag_for(cfg, 3, "primary", "carol@old.example");
	/* Carol moves to a new address; a mail sent to the old one before
	 * comes back days later. */
	live_sql(db, "UPDATE accounts SET primary_email = "
	    "'Carol@New.example' WHERE id = 3");
	deliver_to("verp_late", old_tag, "carol@old.example", 1);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 3 AND primary_state = 'ok' AND login_alert IS NULL"), 1,
	    "the late bounce of the old address flagged the new one");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox"),
	    0);
	s = live_sql_str(db, "SELECT coalesce(account_id::text, 'none') || "
	    "' ' || verified FROM rebond.events");
	cr_assert_str_eq(s, "none false");
	free(s);
	cr_assert_not_null(strstr(live_err(), "tag=3.primary does not "
	    "verify"), "%s", live_err());

	/* A mail to the new address (stored in another case) that bounces
	 * is hers for certain. */
	new_tag = tag_for(cfg, 3, "primary", "carol@new.example");
	cr_assert_str_neq(new_tag, old_tag);
	/* Without an address, `rebond verp` signs the one the account has
	 * now in that role (from the database). */
	snprintf(args, sizeof args, "verp -c %s 3 primary", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(strncmp(live_out(), new_tag, strlen(new_tag)), 0,
	    "%s / %s", live_out(), new_tag);
	snprintf(args, sizeof args, "verp -c %s 3 secondary", cfg);
	cr_assert_eq(live_rebond(args), 65);
	cr_assert_not_null(strstr(live_err(), "account 3 has no secondary "
	    "address"), "%s", live_err());
	snprintf(args, sizeof args, "verp -c %s 99 primary", cfg);
	cr_assert_eq(live_rebond(args), 65);
	cr_assert_not_null(strstr(live_err(), "no account 99"), "%s",
	    live_err());
	snprintf(args, sizeof args, "run -c %s", cfg);
	deliver_to("verp_late", new_tag, "carol@new.example", 2);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 3 AND primary_state = 'hard'"), 1, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE verified AND account_id = 3 AND role = 'primary'"), 1);
	cr_assert_eq(live_count("verp_late", "Archive"), 2);
	free(old_tag);
	free(new_tag);
}

/* require: forged transient failures, backdated to other days, are
 * recorded without an account and do not count toward the soft limit
 * of the address they name. */
Test(verp, forged_failures_do_not_count_toward_soft, .timeout = 60)
{
	const char *db = live_db_migrated("verp_soft");
	char extra[1200], args[700], *tag;
	const char *cfg;
	time_t now = time(NULL);

	seed(db);
	live_mailbox("verp_soft");
	snprintf(extra, sizeof extra, "%s[policy]\nsoft_limit = 2\n",
	    verp_section("require"));
	cfg = live_config("verp_soft", "verp_soft", db, extra);
	deliver_dsn("verp_soft", "bounces@platform.example",
	    "alice@example.com", TRANSIENT, 1, now - 3 * 86400);
	deliver_dsn("verp_soft", "bounces@platform.example",
	    "alice@example.com", TRANSIENT, 2, now - 2 * 86400);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE category = 'transient' AND NOT verified AND account_id "
	    "IS NULL"), 2);
	/* One genuine failure today: one day, below the limit. */
	tag = tag_for(cfg, 1, "primary", "alice@example.com");
	deliver_dsn("verp_soft", tag, "alice@example.com", TRANSIENT, 3,
	    now - 60);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE category = 'transient' AND verified AND account_id = 1"),
	    1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state = 'ok'"), 1, "forged failures made "
	    "alice soft");
	free(tag);
}

/* The envelope sender (X-MailFrom) of the mail the plain sink got for
 * rcpt, or NULL (free()). */
static char *
sink_mail_from(const char *rcpt)
{
	char path[1024], want[300], cmd[1400], line[600];
	FILE *p;
	char *from = NULL;

	snprintf(want, sizeof want, "X-RcptTo: %s", rcpt);
	snprintf(path, sizeof path, "%s/new",
	    live_env("REBOND_TEST_SMTP_MAILDIR"));
	snprintf(cmd, sizeof cmd, "grep -l -x -F '%s' %s/* 2>/dev/null | "
	    "head -1 | xargs -r grep -m1 '^X-MailFrom: '", want, path);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	if (fgets(line, sizeof line, p) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		from = strdup(line + strlen("X-MailFrom: "));
	}
	pclose(p);
	return from;
}

/* rebond's own warnings leave with a signed return path: when one
 * bounces in turn, the account and role are certain even under
 * mode = require. */
Test(verp, own_warnings_are_signed_and_their_bounces_verify, .timeout = 60)
{
	const char *db = live_db_migrated("verp_own");
	char extra[2048], args[700], *tag, *from;
	const char *cfg;

	live_sql(db, "INSERT INTO accounts (id, primary_email, "
	    "secondary_email) VALUES (7, 'zoe@example.com', "
	    "'zoe@work-verp.example')");
	live_mailbox("verp_own");
	snprintf(extra, sizeof extra, "%s[smtp]\nhost = 127.0.0.1\n"
	    "port = %s\ntls = none\nfrom = noreply@platform.example\n"
	    "platform_url = https://platform.example\n"
	    "admin_to = admins@platform.example\n"
	    "templates = %s/etc/templates\n", verp_section("require"),
	    live_env("REBOND_TEST_SMTP_PORT"), live_env("REBOND_SRCDIR"));
	cfg = live_config("verp_own", "verp_own", db, extra);
	tag = tag_for(cfg, 7, "primary", "zoe@example.com");
	deliver_to("verp_own", tag, "zoe@example.com", 1);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.outbox "
	    "WHERE destination = 'zoe@work-verp.example' AND sent_at IS NOT "
	    "NULL"), 1, "%s", live_err());
	from = sink_mail_from("zoe@work-verp.example");
	cr_assert_not_null(from, "no warning reached the sink");
	cr_assert(strncmp(from, "bounces+7.secondary.", 20) == 0, "%s", from);

	/* The warning bounces: its DSN comes back to that address. */
	deliver_to("verp_own", from, "zoe@work-verp.example", 2);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 7 AND primary_state = 'hard' AND secondary_state = 'hard'"),
	    1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE verified AND role = 'secondary' AND account_id = 7"), 1);
	free(from);
	free(tag);
}

/* A DSN that came back to `to`, for n recipients (hard), with the
 * returned original's header block orig (CRLF lines). */
static char *
multi_dsn(const char *to, const char *const *rcpts, size_t n,
    const char *status, const char *diag, const char *orig, int seq)
{
	char *s = NULL, *blocks = strdup(""), *t;
	size_t i;

	for (i = 0; i < n; i++) {
		cr_assert(asprintf(&t, "%sFinal-Recipient: rfc822; %s\r\n"
		    "Action: %s\r\nStatus: %s\r\nDiagnostic-Code: smtp; %s\r\n\r\n",
		    blocks, rcpts[i], status[0] == '4' ? "delayed" : "failed",
		    status, diag) > 0);
		free(blocks);
		blocks = t;
	}
	cr_assert(asprintf(&s,
	    "Return-Path: <>\r\n"
	    "Date: Thu, 26 Nov 2026 07:%02d:00 +0000\r\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.platform.example>\r\n"
	    "To: %s\r\n"
	    "Subject: Undelivered Mail Returned to Sender\r\n"
	    "Message-ID: <multi-%d@mx.platform.example>\r\n"
	    "MIME-Version: 1.0\r\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\r\n"
	    "\tboundary=\"B-%d\"\r\n"
	    "\r\n"
	    "--B-%d\r\n"
	    "Content-Type: text/plain; charset=us-ascii\r\n"
	    "\r\n"
	    "Delivery failed.\r\n"
	    "\r\n"
	    "--B-%d\r\n"
	    "Content-Type: message/delivery-status\r\n"
	    "\r\n"
	    "Reporting-MTA: dns; mx.platform.example\r\n"
	    "\r\n"
	    "%s"
	    "--B-%d\r\n"
	    "Content-Type: text/rfc822-headers\r\n"
	    "\r\n"
	    "%s"
	    "\r\n"
	    "--B-%d--\r\n", seq % 60, to, seq, seq, seq, seq, blocks, seq, orig,
	    seq) > 0);
	free(blocks);
	return s;
}

static void
deliver_m(const char *user, char *m)
{
	live_deliver(user, "INBOX", m, strlen(m));
	free(m);
}

/*
 * require, one bounce for two recipients, the Message-ID recorded for
 * alice only: alice's failure is applied; bob's changes nothing and,
 * unverified, sends the bounce to a human (review), not to the archive.
 */
Test(verp, partly_verified_bounce_goes_to_review, .timeout = 60)
{
	const char *db = live_db_migrated("verp_part");
	const char *cfg, *r[] = { "alice@example.com", "bob@example.org" };
	char args[700];

	seed(db);
	live_mailbox("verp_part");
	cfg = live_config("verp_part", "verp_part", db,
	    verp_section("require"));
	live_sql(db, "INSERT INTO rebond.sent_mail (message_id, recipient) "
	    "VALUES ('m-21@platform.example', 'alice@example.com')");
	deliver_m("verp_part", multi_dsn("bounces@platform.example", r, 2,
	    "5.1.1", "550 5.1.1 User unknown",
	    "From: noreply@platform.example\r\nTo: alice@example.com, "
	    "bob@example.org\r\nMessage-ID: <m-21@platform.example>\r\n",
	    21));
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state = 'hard'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 2 AND primary_state = 'ok'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE recipient = 'bob@example.org' AND account_id IS NULL AND "
	    "NOT verified"), 1);
	cr_assert_eq(live_count("verp_part", "Review"), 1);
	cr_assert_eq(live_count("verp_part", "Archive"), 0);
}

/*
 * require: a recorded Message-ID vouches for the address it was sent to,
 * found as the DSN's Original-Recipient behind a forward; it does not
 * vouch for the Final-Recipient the DSN names beside it, even when that
 * one is another account's address.
 */
Test(verp, recorded_original_recipient_vouches_for_itself_only,
    .timeout = 60)
{
	const char *db = live_db_migrated("verp_orig");
	const char *cfg;
	char args[700], *m;

	seed(db);
	live_mailbox("verp_orig");
	cfg = live_config("verp_orig", "verp_orig", db,
	    verp_section("require"));
	live_sql(db, "INSERT INTO rebond.sent_mail (message_id, recipient) "
	    "VALUES ('orig-21@platform.example', 'alice@example.com'), "
	    "('orig-22@platform.example', 'carol@example.net')");
	/* alice's mail, forwarded: the account by the address mailed. */
	m = set_header(live_dsn("alice.fwd@forward.example", "5.1.1",
	    "550 5.1.1 User unknown", 21), "\r\nOriginal-Recipient: ",
	    "rfc822; alice@example.com");
	live_deliver("verp_orig", "INBOX", m, strlen(m));
	free(m);
	/* carol's mail, said to have failed at bob's address: not bob's. */
	m = set_header(live_dsn("bob@example.org", "5.1.1",
	    "550 5.1.1 User unknown", 22), "\r\nOriginal-Recipient: ",
	    "rfc822; carol@example.net");
	live_deliver("verp_orig", "INBOX", m, strlen(m));
	free(m);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state = 'hard'"), 1, "alice's: applied");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 2 AND primary_state = 'ok'"), 1, "bob's address flagged");
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE account_id = 2"), 0);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE verified AND account_id = 1 AND recipient = "
	    "'alice.fwd@forward.example'"), 1);
}

/*
 * A mail to several recipients has one Message-ID, which each of them
 * reads: it cannot vouch for one of them. rebond.sent_mail keeps one
 * recipient per Message-ID.
 */
Test(verp, a_message_id_names_one_recipient, .timeout = 60)
{
	const char *db = live_db_migrated("verp_shared");

	live_sql(db, "INSERT INTO rebond.sent_mail (message_id, recipient) "
	    "VALUES ('news-1@platform.example', 'alice@example.com')");
	cr_assert_eq(live_sql_int(db, "WITH i AS (INSERT INTO rebond.sent_mail "
	    "(message_id, recipient) VALUES ('news-1@platform.example', "
	    "'bob@example.org') ON CONFLICT DO NOTHING RETURNING 1) "
	    "SELECT count(*) FROM i"), 0, "a second recipient recorded");
}

/*
 * bob's own valid tag (from the Return-Path of a mail he received) on
 * bounces that name alice: they are bob's (a forward, as far as rebond
 * can tell), and count nothing toward alice's soft score; one genuine
 * delayed bounce of hers then stays under the limit.
 */
Test(verp, own_tag_on_anothers_bounce_counts_nothing_for_her,
    .timeout = 60)
{
	const char *db = live_db_migrated("verp_soft2");
	char extra[1200], args[700], *bobtag, *alicetag;
	const char *cfg;
	time_t now = time(NULL);

	seed(db);
	live_mailbox("verp_soft2");
	snprintf(extra, sizeof extra, "%s[policy]\nsoft_limit = 3\n",
	    verp_section("require"));
	cfg = live_config("verp_soft2", "verp_soft2", db, extra);
	bobtag = tag_for(cfg, 2, "primary", "bob@example.org");
	deliver_dsn("verp_soft2", bobtag, "alice@example.com", TRANSIENT, 1,
	    now - 3 * 86400);
	deliver_dsn("verp_soft2", bobtag, "alice@example.com", TRANSIENT, 2,
	    now - 2 * 86400);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	alicetag = tag_for(cfg, 1, "primary", "alice@example.com");
	deliver_dsn("verp_soft2", alicetag, "alice@example.com", TRANSIENT, 3,
	    now - 60);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state = 'ok'"), 1, "alice soft: %s",
	    live_sql_str(db, "SELECT string_agg(recipient || ' ' || "
	    "coalesce(account_id::text, '-'), '; ') FROM rebond.events"));
	free(bobtag);
	free(alicetag);
}

/*
 * An unsubscribed account keeps its dead address; an active account
 * that has the same address (a new sign-up) is the one the bounce is
 * about.
 */
Test(verp, a_live_account_before_a_retired_one, .timeout = 60)
{
	const char *db = live_db_migrated("verp_unsub");
	const char *cfg;
	char args[700];

	live_sql(db, "INSERT INTO accounts (id, primary_email, status) VALUES "
	    "(1, 'dana@example.com', 'unsubscribed'), "
	    "(5, 'dana@example.com', 'active')");
	live_mailbox("verp_unsub");
	cfg = live_config("verp_unsub", "verp_unsub", db, "");
	deliver_to("verp_unsub", "bounces@platform.example",
	    "dana@example.com", 61);
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 5 AND primary_state = 'hard'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT account_id FROM "
	    "rebond.events"), 5);
}

/*
 * A tag signs one address: in a bounce naming two recipients, bob's tag
 * vouches for bob's failure only; alice's, unverified, changes nothing
 * and the bounce goes to review.
 */
Test(verp, tag_vouches_for_its_own_address_only, .timeout = 60)
{
	const char *db = live_db_migrated("verp_two");
	const char *cfg, *r[] = { "alice@example.com", "bob@example.org" };
	char args[700], *bobtag;

	seed(db);
	live_mailbox("verp_two");
	cfg = live_config("verp_two", "verp_two", db,
	    verp_section("require"));
	bobtag = tag_for(cfg, 2, "primary", "bob@example.org");
	deliver_m("verp_two", multi_dsn(bobtag, r, 2, "5.1.1",
	    "550 5.1.1 User unknown", "Message-ID: <x-1@platform.example>\r\n",
	    22));
	snprintf(args, sizeof args, "run -c %s", cfg);
	cr_assert_eq(live_rebond(args), 0, "%s", live_err());
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 2 AND primary_state = 'hard'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM accounts WHERE "
	    "id = 1 AND primary_state = 'ok'"), 1);
	cr_assert_eq(live_sql_int(db, "SELECT count(*) FROM rebond.events "
	    "WHERE recipient = 'alice@example.com' AND account_id IS NULL AND "
	    "NOT verified"), 1);
	cr_assert_eq(live_count("verp_two", "Review"), 1);
	free(bobtag);
}
