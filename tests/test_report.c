/*
 * test_report.c - the bounce parser: DSN fields, encodings, line ends,
 * several recipients, dates, and every cap (hostile input yields a report,
 * never a crash or unbounded memory).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "classify.h"
#include "hdr.h"
#include "report.h"
#include "report_int.h"
#include "strutil.h"
#include "xalloc.h"

static const char dsn_head[] =
    "From: MAILER-DAEMON@mx.example.net\n"
    "To: bounces+7.primary.abc@platform.example.com\n"
    "Subject: Undelivered Mail Returned to Sender\n"
    "Date: Tue, 24 Nov 2026 09:14:03 +0100\n"
    "Message-ID: <b1@mx.example.net>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: multipart/report; report-type=delivery-status;\n"
    "\tboundary=\"BB\"\n"
    "\n"
    "--BB\n"
    "Content-Type: text/plain\n"
    "\n"
    "Delivery failed.\n"
    "\n";

/* A DSN with the given delivery-status part (headers + body). */
static char *
make_dsn(const char *status_part)
{
	struct buf b;

	buf_init(&b, 16 * 1024 * 1024);
	buf_puts(&b, dsn_head);
	buf_puts(&b, "--BB\n");
	buf_puts(&b, status_part);
	buf_puts(&b, "\n--BB--\n");
	return buf_steal(&b);
}

/* Replace every LF by CRLF. */
static char *
to_crlf(const char *s)
{
	struct buf b;

	buf_init(&b, 2 * strlen(s) + 1);
	for (; *s != '\0'; s++) {
		if (*s == '\n')
			buf_putc(&b, '\r');
		buf_putc(&b, *s);
	}
	return buf_steal(&b);
}

/* Every string of a report is valid UTF-8 without control characters. */
static void
assert_clean(const struct report *r, const char *name)
{
	size_t i;

#define CLEAN(s) do { if ((s) != NULL) { \
	cr_assert(utf8_valid((s), strlen(s)), "%s: invalid UTF-8 in " #s, \
	    name); \
	for (const char *q = (s); *q != '\0'; q++) \
		cr_assert((unsigned char)*q >= 0x20 && *q != 0x7f, \
		    "%s: control char in " #s, name); } } while (0)
	CLEAN(r->message_id);
	CLEAN(r->subject);
	CLEAN(r->from);
	CLEAN(r->reporting_mta);
	CLEAN(r->orig_message_id);
	for (i = 0; i < r->ntag_addrs; i++)
		CLEAN(r->tag_addrs[i]);
	for (i = 0; i < r->nrcpt; i++) {
		CLEAN(r->rcpt[i].address);
		CLEAN(r->rcpt[i].original);
		CLEAN(r->rcpt[i].action);
		CLEAN(r->rcpt[i].status);
		CLEAN(r->rcpt[i].remote_mta);
		CLEAN(r->rcpt[i].diagnostic);
		CLEAN(r->rcpt[i].feedback_type);
	}
#undef CLEAN
	cr_assert_not_null(r->text, "%s: text is never NULL", name);
	cr_assert(utf8_valid(r->text, strlen(r->text)), "%s: text", name);
	cr_assert_leq(r->nrcpt, CAP_RECIPIENTS, "%s: recipients cap", name);
}

Test(report, dsn_fields_folded)
{
	char *m = make_dsn(
	    "Content-Type: message/delivery-status\n"
	    "\n"
	    "Reporting-MTA: dns; mx.example.net\n"
	    "\n"
	    "Final-Recipient: rfc822; Alice@Example.COM\n"
	    "Original-Recipient: rfc822;alice@example.com\n"
	    "Action: Failed\n"
	    "Status: 5.1.1\n"
	    "Remote-MTA: dns; mail.example.com\n"
	    "Diagnostic-Code: smtp; 550 5.1.1 <alice@example.com>: Recipient\n"
	    "    address rejected: User unknown\n");
	struct report *r = report_parse(m, strlen(m), 0);

	cr_assert_eq(r->type, REPORT_DSN);
	cr_assert_eq(r->nrcpt, 1);
	cr_assert_str_eq(r->rcpt[0].address, "alice@example.com");
	/* Original-Recipient the same address: not repeated. */
	cr_assert_null(r->rcpt[0].original);
	cr_assert_str_eq(r->rcpt[0].action, "failed");
	cr_assert_str_eq(r->rcpt[0].status, "5.1.1");
	cr_assert_eq(r->rcpt[0].reply_code, 550);
	cr_assert_str_eq(r->rcpt[0].remote_mta, "mail.example.com");
	cr_assert_str_eq(r->rcpt[0].diagnostic, "550 5.1.1 "
	    "<alice@example.com>: Recipient address rejected: User unknown");
	cr_assert_str_eq(r->rcpt[0].source, "dsn");
	cr_assert_str_eq(r->reporting_mta, "mx.example.net");
	cr_assert_str_eq(r->message_id, "b1@mx.example.net");
	cr_assert_str_eq(r->from, "mailer-daemon@mx.example.net");
	/* 2026-11-24 08:14:03 UTC */
	cr_assert_eq((long long)r->date, 1795508043LL);
	assert_clean(r, "dsn_fields_folded");
	report_free(&r);
	cr_assert_null(r);
	free(m);
}

/* Bob's full mailbox, its diagnostic folded. */
static const char bob_quota[] =
    "Content-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.example.net\n\n"
    "Final-Recipient: rfc822; bob@example.org\n"
    "Action: failed\nStatus: 5.2.2\n"
    "Diagnostic-Code: smtp; 552 5.2.2 Mailbox\n full\n";

Test(report, crlf_equals_lf)
{
	char *m = make_dsn(bob_quota);
	char *c = to_crlf(m);
	struct report *a = report_parse(m, strlen(m), 0);
	struct report *b = report_parse(c, strlen(c), 0);

	cr_assert_eq(a->nrcpt, 1);
	cr_assert_eq(b->nrcpt, 1);
	cr_assert_str_eq(a->rcpt[0].address, b->rcpt[0].address);
	cr_assert_str_eq(a->rcpt[0].diagnostic, "552 5.2.2 Mailbox full");
	cr_assert_str_eq(b->rcpt[0].diagnostic, "552 5.2.2 Mailbox full");
	cr_assert_eq(a->date, b->date);
	report_free(&a);
	report_free(&b);
	free(m);
	free(c);
}

/* Lines ended by a bare CR (old Mac mail programs), or by two (a CRLF
 * message converted so), read as LF lines; a lone CR inside an LF
 * message stays what it is. */
Test(report, cr_lines_equal_lf)
{
	char *m = make_dsn(bob_quota);
	char *cr = xstrdup(m), *crcr = to_crlf(m), *q;
	struct report *a = report_parse(m, strlen(m), 0), *b, *c;
	struct buf keep;
	const char *same;
	size_t n;

	for (q = cr; *q != '\0'; q++)
		if (*q == '\n')
			*q = '\r';
	for (q = crcr; *q != '\0'; q++)
		if (*q == '\n')
			*q = '\r';
	b = report_parse(cr, strlen(cr), 0);
	c = report_parse(crcr, strlen(crcr), 0);
	cr_assert_eq(a->nrcpt, 1);
	cr_assert_eq(b->nrcpt, 1, "CR lines");
	cr_assert_eq(c->nrcpt, 1, "CR CR lines");
	cr_assert_str_eq(b->rcpt[0].address, "bob@example.org");
	cr_assert_str_eq(c->rcpt[0].address, "bob@example.org");
	cr_assert_str_eq(b->rcpt[0].diagnostic, "552 5.2.2 Mailbox full");
	cr_assert_str_eq(c->rcpt[0].diagnostic, "552 5.2.2 Mailbox full");
	cr_assert_str_eq(b->rcpt[0].status, "5.2.2");
	cr_assert_eq(a->date, b->date);
	cr_assert_eq(a->date, c->date);
	cr_assert_str_eq(a->text, b->text);
	/* An LF message with a CR in it is left alone. */
	buf_init(&keep, 1024);
	n = strlen("Subject: a\rb\nX: y\n\nbody\n");
	same = report_lf_lines(&keep, "Subject: a\rb\nX: y\n\nbody\n", &n);
	cr_assert_str_eq(same, "Subject: a\rb\nX: y\n\nbody\n");
	buf_free(&keep);
	report_free(&a);
	report_free(&b);
	report_free(&c);
	free(m);
	free(cr);
	free(crcr);
}

Test(report, base64_and_qp_parts)
{
	/* "Final-Recipient: rfc822; c@example.net\nAction: failed\n
	 *  Status: 5.1.1\n" in base64 */
	char *m = make_dsn(
	    "Content-Type: message/delivery-status\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldAoKRmluYWwtUmVjaXBp\n"
	    "ZW50OiByZmM4MjI7IGNAZXhhbXBsZS5uZXQKQWN0aW9uOiBmYWlsZWQKU3RhdHVz\n"
	    "OiA1LjEuMQo=\n");
	struct report *r = report_parse(m, strlen(m), 0);

	cr_assert_eq(r->nrcpt, 1, "base64 DSN part");
	cr_assert_str_eq(r->rcpt[0].address, "c@example.net");
	cr_assert_str_eq(r->rcpt[0].status, "5.1.1");
	report_free(&r);
	free(m);

	m = make_dsn(
	    "Content-Type: message/delivery-status\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "Final-Recipient: rfc822; d@example.net\n"
	    "Action: failed\n"
	    "Status: 5.2.2\n"
	    "Diagnostic-Code: smtp; 552 Bo=C3=AEte pleine, quota d=C3=A9pass=\n"
	    "=C3=A9\n");
	r = report_parse(m, strlen(m), 0);
	cr_assert_eq(r->nrcpt, 1, "QP DSN part");
	cr_assert_str_eq(r->rcpt[0].diagnostic,
	    "552 Bo\xc3\xaete pleine, quota d\xc3\xa9pass\xc3\xa9");
	report_free(&r);
	free(m);
}

Test(report, several_recipients)
{
	char *m = make_dsn(
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.net\n"
	    "   \n"	/* white-space-only separator */
	    "Final-Recipient: rfc822; a1@example.com\n"
	    "Action: failed\nStatus: 5.1.1\n"
	    "\n"
	    "this line is junk\n"
	    "Final-Recipient: rfc822; a2@example.com\n"
	    "Action: delayed\nStatus: 4.2.2\n"
	    /* no blank line before the next one */
	    "Final-Recipient: rfc822; a3@example.com\n"
	    "Action: delivered\nStatus: 2.0.0\n");
	struct report *r = report_parse(m, strlen(m), 0);

	cr_assert_eq(r->nrcpt, 3);
	cr_assert_str_eq(r->rcpt[0].address, "a1@example.com");
	cr_assert_str_eq(r->rcpt[1].address, "a2@example.com");
	cr_assert_str_eq(r->rcpt[1].action, "delayed");
	cr_assert_str_eq(r->rcpt[2].address, "a3@example.com");
	cr_assert_str_eq(r->rcpt[2].status, "2.0.0");
	report_free(&r);
	free(m);
}

Test(report, rfc2047_subject_and_tags)
{
	static const char m[] =
	    "From: \"Postmaster\" <postmaster@example.org>\n"
	    "To: bounces+9.secondary.ffe@platform.example.com,\n"
	    " \"Other, Name\" <other@platform.example.com>\n"
	    "Delivered-To: bounces+9.secondary.ffe@platform.example.com\n"
	    "Subject: =?iso-8859-1?q?Non_remis_=E0_son_destinataire?=\n"
	    "Date: 1 Dec 2026 23:30:00 -0230\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "hello\n";
	struct report *r = report_parse(m, sizeof m - 1, 0);

	cr_assert_str_eq(r->subject, "Non remis \xc3\xa0 son destinataire");
	cr_assert_eq(r->ntag_addrs, 2);
	cr_assert_str_eq(r->tag_addrs[0],
	    "bounces+9.secondary.ffe@platform.example.com");
	cr_assert_str_eq(r->tag_addrs[1], "other@platform.example.com");
	/* 2026-12-02 02:00:00 UTC */
	cr_assert_eq((long long)r->date, 1796176800LL);
	report_free(&r);
}

Test(report, bad_dates_are_zero)
{
	static const char *const dates[] = {
		"Date: yesterday\n", "Date: 31 Feb 1969 00:00:00 +0000\n",
		"Date: \n", "Date: Mon, 99 Jan 2026 00:00:00 +0000\n",
	};
	size_t k;

	for (k = 0; k < sizeof dates / sizeof dates[0]; k++) {
		char m[256];
		struct report *r;

		snprintf(m, sizeof m, "From: a@example.com\n%s\nbody\n",
		    dates[k]);
		r = report_parse(m, strlen(m), 0);
		cr_assert_eq(r->date, 0, "'%s'", dates[k]);
		report_free(&r);
	}
}

Test(report, deep_multipart, .timeout = 20)
{
	struct buf b;
	struct report *r;
	int i;

	buf_init(&b, 16 * 1024 * 1024);
	buf_puts(&b, "From: x@example.com\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/mixed; boundary=\"b0\"\n\n");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "--b%d\nContent-Type: multipart/mixed; "
		    "boundary=\"b%d\"\n\n", i, i + 1);
	buf_puts(&b, "--b1000\nContent-Type: text/plain\n\nuser unknown\n");
	for (i = 1000; i >= 0; i--)
		buf_printf(&b, "--b%d--\n", i);
	r = report_parse(b.data, b.len, 0);
	cr_assert(r->flags & (REPORT_F_CAP_DEPTH | REPORT_F_CAP_PARTS),
	    "1000-deep: flags %#x", r->flags);
	assert_clean(r, "deep_multipart");
	report_free(&r);
	buf_free(&b);
}

Test(report, many_recipients, .timeout = 20)
{
	struct buf b;
	struct report *r;
	char *m;
	int i;

	buf_init(&b, 16 * 1024 * 1024);
	buf_puts(&b, "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.net\n\n");
	for (i = 0; i < 10000; i++)
		buf_printf(&b, "Final-Recipient: rfc822; u%d@example.com\n"
		    "Action: failed\nStatus: 5.1.1\n\n", i);
	m = make_dsn(b.data);
	r = report_parse(m, strlen(m), 0);
	cr_assert_eq(r->nrcpt, CAP_RECIPIENTS);
	cr_assert(r->flags & REPORT_F_CAP_RCPTS);
	assert_clean(r, "many_recipients");
	report_free(&r);
	buf_free(&b);
	free(m);
}

Test(report, nuls_and_invalid_utf8)
{
	static const char m[] =
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "Subject: Undeliv\0ered \xff\xfe mail\n"
	    "X-Failed-Recipients: zed@exa\xc3\x28mple.com, ok@example.com\n"
	    "Content-Type: text/plain; charset=utf-8\n"
	    "\n"
	    "This message was created automatically by mail delivery "
	    "software.\n\n"
	    "A message that you sent could not be delivered to one or more of "
	    "its\nrecipients. This is a permanent error. The following "
	    "address(es) failed:\n\n"
	    "  ok@example.com\n    \0\x80 mailbox is full\n";
	struct report *r = report_parse(m, sizeof m - 1, 0);

	assert_clean(r, "nuls_and_invalid_utf8");
	cr_assert_geq(r->nrcpt, 1);
	report_free(&r);
}

Test(report, missing_boundary_falls_back_to_text)
{
	static const char m[] =
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "Subject: Undelivered Mail\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"NOPE\"\n"
	    "\n"
	    "Final-Recipient: rfc822; lost@example.com\n"
	    "Status: 5.1.1\n";
	struct report *r = report_parse(m, sizeof m - 1, 0);

	cr_assert(r->flags & REPORT_F_BAD_MIME, "flags %#x", r->flags);
	cr_assert_not_null(strstr(r->text, "lost@example.com"));
	report_free(&r);
}

/*
 * A Content-Type value is parsed as it was sent (RFC 2045), not first
 * decoded as a phrase of RFC 2047 words and converted from US-ASCII, which
 * turned the 8-bit bytes of this boundary into '?': its delimiters were
 * then lost, and the DSN read as text.
 */
Test(report, content_type_parsed_as_sent)
{
	static const char m[] =
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "Subject: Undelivered Mail\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"caf\xc3\xa9-BB\"\n"
	    "\n"
	    "--caf\xc3\xa9-BB\n"
	    "Content-Type: text/plain\n"
	    "\n"
	    "Delivery failed.\n"
	    "\n"
	    "--caf\xc3\xa9-BB\n"
	    "Content-Type: message/delivery-status\n"
	    "\n"
	    "Reporting-MTA: dns; mx.example.net\n"
	    "\n"
	    "Final-Recipient: rfc822; full@example.com\n"
	    "Action: failed\n"
	    "Status: 5.2.2\n"
	    "\n"
	    "--caf\xc3\xa9-BB--\n";
	struct report *r = report_parse(m, sizeof m - 1, 0);

	cr_assert_eq(r->flags & REPORT_F_BAD_MIME, 0, "flags %#x", r->flags);
	cr_assert_eq(r->nrcpt, 1);
	cr_assert_str_eq(r->rcpt[0].address, "full@example.com");
	cr_assert_str_eq(r->rcpt[0].source, "dsn");
	cr_assert_str_eq(r->rcpt[0].status, "5.2.2");
	cr_assert_null(strstr(r->text, "Final-Recipient"), "text: %s", r->text);
	assert_clean(r, "content_type_parsed_as_sent");
	report_free(&r);
}

/*
 * ... and so a Content-Type folded or with tabs after a token still names
 * its type: libetpan takes a line end, a CR or a tab for a character of
 * the token before it ("plain\n"), unless the copy it parses makes them
 * spaces. LF and CRLF.
 */
Test(report, content_type_folded_after_a_token)
{
	static const char *const ct[] = {
		"text/plain\n   charset=\"us-ascii\"",
		"text/plain\t",
		"text/plain\t; charset=us-ascii",
		"text/plain;\n\tcharset=us-ascii\t",
	};
	size_t i;
	int crlf;

	for (i = 0; i < sizeof ct / sizeof ct[0]; i++)
		for (crlf = 0; crlf < 2; crlf++) {
			struct buf b;
			struct report *r;
			char *m;

			buf_init(&b, 64 * 1024);
			buf_puts(&b, "From: MAILER-DAEMON@mx.example.net\n"
			    "Subject: Undelivered Mail\n"
			    "MIME-Version: 1.0\n"
			    "Content-Type: multipart/report; "
			    "report-type=delivery-status; boundary=\"BB\"\n"
			    "\n--BB\nContent-Type: ");
			buf_puts(&b, ct[i]);
			buf_puts(&b, "\n\nThe mail system\n\n"
			    "<full@example.com>: host mx.example.com said: 552 "
			    "5.2.2 Mailbox full (in reply to RCPT TO command)\n"
			    "\n--BB\nContent-Type: message/rfc822\n\n"
			    "From: a@platform.example\nTo: full@example.com\n"
			    "Subject: hi\n\nhello\n--BB--\n");
			m = crlf ? to_crlf(b.data) : buf_steal(&b);
			r = report_parse(m, strlen(m), 0);
			cr_expect_not_null(strstr(r->text, "Mailbox full"),
			    "case %zu crlf %d: text part not read: '%s'", i,
			    crlf, r->text);
			cr_expect_eq(r->nrcpt, 1, "case %zu crlf %d", i, crlf);
			report_free(&r);
			free(m);
			buf_free(&b);
		}
}

/* An Amazon SES notification mailed as it is, or in an SNS envelope. */
static struct report *
ses_parse(const char *body)
{
	struct buf b;
	struct report *r;

	buf_init(&b, 64 * 1024);
	buf_puts(&b, "From: SES <no-reply@sns.amazonaws.com>\n"
	    "To: bounces@platform.example.com\n"
	    "Subject: AWS Notification Message\n"
	    "Message-ID: <ses-1@email.amazonses.com>\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: text/plain; charset=UTF-8\n\n");
	buf_puts(&b, body);
	r = report_parse(b.data, b.len, 0);
	buf_free(&b);
	return r;
}

Test(report, ses_notifications)
{
	struct report *r;

	/* SES's own object, its long line split by sendmail ("!\n "). */
	r = ses_parse("{\"notificationType\":\"Bounce\",\"bounce\":{"
	    "\"bounceType\":\"Permanent\",\"bouncedRecipients\":[{"
	    "\"emailAddress\":\"Gone@Example.org\",\"action\":\"failed\","
	    "\"status\":\"5.1.1\",\"diagnosticCode\":\"smtp; 550 5.1.1 user "
	    "unk!\n nown\"}]},\"mail\":{\"destination\":[\"gone@example.org\"]}}\n");
	cr_assert_eq(r->nrcpt, 1);
	cr_expect_str_eq(r->rcpt[0].address, "gone@example.org");
	cr_expect_str_eq(r->rcpt[0].source, "ses-json");
	cr_expect_str_eq(r->rcpt[0].action, "failed");
	cr_expect_str_eq(r->rcpt[0].status, "5.1.1");
	cr_expect_str_eq(r->rcpt[0].diagnostic, "550 5.1.1 user unknown");
	cr_expect_eq(r->rcpt[0].reply_code, 550);
	report_free(&r);

	/* A '!' before a line end not followed by a space is text. */
	r = ses_parse("{\"notificationType\":\"Bounce\",\"bounce\":{"
	    "\"bouncedRecipients\":[{\"emailAddress\":\"no@example.org\","
	    "\"diagnosticCode\":\"smtp; 550 5.1.1 no!\n\"}]}}\n");
	cr_assert_eq(r->nrcpt, 1);
	cr_expect_str_eq(r->rcpt[0].diagnostic, "550 5.1.1 no!");
	report_free(&r);

	/* The same in an SNS envelope: the object is the "Message" string. */
	r = ses_parse("{\n"
	    "  \"Type\" : \"Notification\",\n"
	    "  \"MessageId\" : \"02f86d9b-eecf-573d-b47d-3d1850750c30\",\n"
	    "  \"Message\" : \"{\\\"notificationType\\\":\\\"Bounce\\\","
	    "\\\"bounce\\\":{\\\"bouncedRecipients\\\":[{\\\"emailAddress\\\":"
	    "\\\"full@example.org\\\",\\\"action\\\":\\\"failed\\\","
	    "\\\"status\\\":\\\"5.2.2\\\",\\\"diagnosticCode\\\":\\\"smtp; 552 "
	    "5.2.2 Mailbox full\\\"}]}}\",\n"
	    "  \"Timestamp\" : \"2016-10-21T06:58:02.294Z\"\n"
	    "}\n\n--\nIf you wish to stop receiving notifications...\n");
	cr_assert_eq(r->nrcpt, 1);
	cr_expect_str_eq(r->rcpt[0].address, "full@example.org");
	cr_expect_str_eq(r->rcpt[0].status, "5.2.2");
	cr_expect_str_eq(r->rcpt[0].diagnostic, "552 5.2.2 Mailbox full");
	report_free(&r);

	/* Event publishing names the kind "eventType"; a complaint. */
	r = ses_parse("{\"eventType\":\"Complaint\",\"complaint\":{"
	    "\"complaintFeedbackType\":\"abuse\",\"complainedRecipients\":["
	    "{\"emailAddress\":\"angry@example.org\"}]}}\n");
	cr_assert_eq(r->nrcpt, 1);
	cr_expect_str_eq(r->rcpt[0].address, "angry@example.org");
	cr_expect_str_eq(r->rcpt[0].feedback_type, "abuse");
	report_free(&r);

	/* A delivery: each recipient delivered, with the reply. */
	r = ses_parse("{\"notificationType\":\"Delivery\",\"delivery\":{"
	    "\"recipients\":[\"a@example.org\",\"b@example.org\"],"
	    "\"smtpResponse\":\"250 2.6.0 Message received\"}}\n");
	cr_assert_eq(r->nrcpt, 2);
	cr_expect_str_eq(r->rcpt[1].address, "b@example.org");
	cr_expect_str_eq(r->rcpt[1].action, "delivered");
	cr_expect_str_eq(r->rcpt[1].diagnostic, "250 2.6.0 Message received");
	report_free(&r);

	/* Broken JSON: no recipient, no crash. */
	r = ses_parse("{\"notificationType\":\"Bounce\",\"bounce\":{"
	    "\"bouncedRecipients\":[{\"emailAddress\":\"x@example.org\"\n");
	cr_expect_eq(r->nrcpt, 0);
	report_free(&r);
}

Test(report, truncated_base64)
{
	char *m = make_dsn(
	    "Content-Type: message/delivery-status\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "UmVwb3J0aW5nLU1UQTogZG5zOyBteC5leGFtcGxlLm5ldAoKRmluYWwtUmVjaXBp\n"
	    "ZW50OiByZmM4MjI7IGNAZXhhbXBsZS5u");
	struct report *r = report_parse(m, strlen(m), 1);

	cr_assert(r->flags & REPORT_F_TRUNCATED);
	assert_clean(r, "truncated_base64");
	report_free(&r);
	free(m);
}

Test(report, huge_header_is_capped, .timeout = 20)
{
	struct buf b;
	struct report *r;
	int i;

	buf_init(&b, 16 * 1024 * 1024);
	for (i = 0; i < 20000; i++)
		buf_printf(&b, "X-Junk-%d: %0200d\n", i, i);
	buf_puts(&b, "Subject: late\n\nbody\n");
	r = report_parse(b.data, b.len, 0);
	cr_assert(r->flags & REPORT_F_CAP_HEADER, "flags %#x", r->flags);
	assert_clean(r, "huge_header_is_capped");
	report_free(&r);
	buf_free(&b);
}

Test(report, empty_and_garbage)
{
	static const char *const inputs[] = {
		"", "\n", "\n\n\n", "no header here", ":\n:\n\n",
		"Content-Type: multipart/mixed\n\n--\n--\n",
		"Content-Type: message/rfc822\n\n",
		"Content-Type: multipart/report; boundary=x\n\n--x\n\n--x--",
	};
	size_t k;

	for (k = 0; k < sizeof inputs / sizeof inputs[0]; k++) {
		struct report *r = report_parse(inputs[k],
		    strlen(inputs[k]), 0);

		cr_assert_not_null(r, "input %zu", k);
		assert_clean(r, inputs[k]);
		report_free(&r);
	}
	report_free(NULL);
}

Test(report, random_bytes_survive, .timeout = 30)
{
	unsigned seed = 12345;
	char data[4096];
	int round;
	size_t i;

	for (round = 0; round < 300; round++) {
		struct report *r;

		for (i = 0; i < sizeof data; i++) {
			seed = seed * 1103515245u + 12345u;
			data[i] = (char)(seed >> 16);
		}
		/* Give the parser something to chew on. */
		memcpy(data, "Content-Type: multipart/report; boundary=q\n"
		    "\n--q\nContent-Type: message/delivery-status\n\n", 88);
		r = report_parse(data, sizeof data, 0);
		assert_clean(r, "random");
		report_free(&r);
	}
}

/*
 * An apostrophe is atext (RFC 5322): it belongs to a local part. A
 * structured DSN field keeps the whole addr-spec; in free text a quote
 * ends an address only at its edge.
 */
/* What may be taken for an address: every word of a notice's lines is
 * tried. */
Test(report, addr_plausible)
{
	static const struct {
		const char *s;
		size_t n;	/* 0: strlen */
		int want;
	} cases[] = {
		{ "a@example.net", 0, 1 },
		{ "first.last+tag@mail.example.co.jp", 0, 1 },
		{ "x@#example.net", 0, 1 },	/* typed by a user */
		{ "\xc3\xa9l\xc3\xa8ve@example.fr", 0, 1 },	/* UTF-8 */
		{ "a@[192.0.2.1]", 0, 1 },
		{ "a@[IPv6:2001:db8::1]", 0, 1 },
		{ "a@", 0, 0 }, { "@example.net", 0, 0 },
		{ "a@b@example.net", 0, 0 }, { "ab", 0, 0 },
		{ "a b@example.net", 0, 0 }, { "a@exam ple.net", 0, 0 },
		{ "<a@example.net>", 0, 0 }, { "a@example.net,", 0, 0 },
		{ "(a@example.net)", 0, 0 }, { "a\"b@example.net", 0, 0 },
		{ "a@exa\\mple.net", 0, 0 }, { "a@example.net;", 0, 0 },
		{ "a@exam\x7fple.net", 0, 0 }, { "a\x01@example.net", 0, 0 },
		{ "a@exam\0ple.net", 15, 0 },
		{ "smtp:a@example.net", 0, 0 }, { "[SMTP:a@example.net]", 0, 0 },
		{ "a[1]@example.net", 0, 0 },
		{ "a@example.net/path", 0, 0 }, { "a@example.net?x=1", 0, 0 },
		{ "a@example.net&b", 0, 0 }, { "a@example.net:25", 0, 0 },
		{ "a@.example.net", 0, 0 }, { "a@example.net.", 0, 0 },
		{ "a@[192.0.2.1", 0, 0 },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		size_t n = cases[k].n ? cases[k].n : strlen(cases[k].s);

		cr_expect_eq(addr_plausible(cases[k].s, n), cases[k].want,
		    "case %zu (%s): want %d", k, cases[k].s, cases[k].want);
	}
}

/* status_find as RFC 3463 reads: a class 2, 4 or 5 not after a digit or a
 * dot, a dot, one to three digits, a dot, one to three digits not followed
 * by a digit or by a dot and a digit; the first such code. */
static int
naive_status(const char *s, size_t n, char out[16])
{
	size_t i, j, k, d2, d3;

	for (i = 0; i + 5 <= n; i++) {
		if ((s[i] != '2' && s[i] != '4' && s[i] != '5') ||
		    s[i + 1] != '.' || (i > 0 && ((s[i - 1] >= '0' &&
		    s[i - 1] <= '9') || s[i - 1] == '.')))
			continue;
		for (j = i + 2, d2 = 0; j < n && s[j] >= '0' && s[j] <= '9' &&
		    d2 < 3; j++, d2++)
			;
		if (d2 == 0 || j >= n || s[j] != '.')
			continue;
		for (k = j + 1, d3 = 0; k < n && s[k] >= '0' && s[k] <= '9' &&
		    d3 < 3; k++, d3++)
			;
		if (d3 == 0 || (k < n && ((s[k] >= '0' && s[k] <= '9') ||
		    (s[k] == '.' && k + 1 < n && s[k + 1] >= '0' &&
		    s[k + 1] <= '9'))))
			continue;
		memcpy(out, s + i, k - i);
		out[k - i] = '\0';
		return 1;
	}
	return 0;
}

/* The search from dot to dot finds what the definition does, the text
 * cut anywhere (a code at the very start or end, cut in its middle),
 * over 200,000 strings of the bytes codes are made of. */
Test(report, status_find_agrees)
{
	static const char alpha[] = "2455..0119 x";
	static const char *const fixed[] = {
		"5.1.1", "x5.1.1", "15.1.1", ".5.1.1", "5.1.1.2", "5.1.1.x",
		"5.1.1234", "5.1234.1", "2.0.0 then 5.7.1", "4.4.7.", "5.1.",
		"smtp; 550 5.1.1 <a@b>", "4.", "",
	};
	char s[24], want[16], got[16];
	unsigned seed = 3464;
	size_t k, n, cut;
	int w, g;

	for (k = 0; k < sizeof fixed / sizeof fixed[0]; k++) {
		n = strlen(fixed[k]);
		for (cut = 0; cut <= n; cut++) {
			w = naive_status(fixed[k], cut, want);
			g = status_find(fixed[k], cut, got);
			cr_assert_eq(g, w, "'%.*s'", (int)cut, fixed[k]);
			if (w)
				cr_assert_str_eq(got, want);
		}
	}
	for (k = 0; k < 200000; k++) {
		n = 1 + k % sizeof s;
		for (cut = 0; cut < n; cut++) {
			seed = seed * 1103515245u + 12345u;
			s[cut] = alpha[(seed >> 16) % (sizeof alpha - 1)];
		}
		w = naive_status(s, n, want);
		g = status_find(s, n, got);
		cr_assert_eq(g, w, "'%.*s'", (int)n, s);
		if (w)
			cr_assert_str_eq(got, want, "'%.*s'", (int)n, s);
	}
}

/* The reply code of a diagnostic: at its start, after the words that
 * introduce one, or just before a status code; none otherwise, even where
 * digits could make one that none of those ways reaches. */
Test(report, reply_code_find_cases)
{
	static const struct {
		const char *s;
		int want;
	} cases[] = {
		{ "550 5.1.1 user unknown", 550 },
		{ "  #421 try again later", 421 },
		{ "host mx.example.net said: 552 mailbox full", 552 },
		{ "the server returned 554 denied", 554 },
		{ "SMTP error: 451 local error", 451 },
		{ "x said: 550", 550 },
		{ "x said:550", 550 },
		{ "said: 5.1.1 unknown, 550 5.1.1 unknown", 550 },
		{ "mailbox unavailable 550-5.1.1 unknown", 550 },
		{ "mailbox unavailable (550 5.1.1) unknown", 550 },
		{ "no code here at all", 0 },
		{ "port 25 refused after 2500 ms", 0 },
		{ "said: 999 odd", 0 },
		{ "550", 550 },
		{ "55", 0 },
		{ "", 0 },
	};
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++)
		cr_expect_eq(reply_code_find(cases[k].s, strlen(cases[k].s)),
		    cases[k].want, "'%s': want %d", cases[k].s,
		    cases[k].want);
}

/* Quoted-printable decoded a byte at a time, as libetpan does. */
static char *
naive_qp(const char *p, size_t n, size_t *len_r)
{
	char *out = malloc(2 * n + 1), *o = out;
	size_t i = 0;

	while (i < n) {
		char c = p[i];

		if (c == '\n' || c == '\r') {
			*o++ = '\r';
			*o++ = '\n';
			i += c == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : 1;
		} else if (c != '=') {
			*o++ = c;
			i++;
		} else if (i + 1 >= n) {
			*o++ = '=';
			i++;
		} else if (p[i + 1] == '\n') {
			i += 2;
		} else if (p[i + 1] == '\r') {
			if (i + 2 >= n)
				break;
			i += p[i + 2] == '\n' ? 3 : 2;
		} else if (i + 2 >= n) {
			*o++ = p[i + 1];
			i += 2;
		} else {
			const char *hex = "0123456789ABCDEF", *h, *l;
			char hi = p[i + 1], lo = p[i + 2];

			/* (small letters too; anything else counts 0) */
			if (hi >= 'a' && hi <= 'f')
				hi = (char)(hi - 32);
			if (lo >= 'a' && lo <= 'f')
				lo = (char)(lo - 32);
			h = hi != '\0' ? strchr(hex, hi) : NULL;
			l = lo != '\0' ? strchr(hex, lo) : NULL;
			*o++ = (char)((h ? h - hex : 0) << 4 | (l ? l - hex : 0));
			i += 3;
		}
	}
	*len_r = (size_t)(o - out);
	return out;
}

/* The decoder that stores sixteen bytes at a time writes what a byte at a
 * time does: "=XX", soft breaks, bare CRs and LFs, an '=' at the very end,
 * across and at the ends of the 16-byte blocks, over 100,000 strings. */
Test(report, qp_decode_agrees)
{
	static const char alpha[] = "==\r\n3Dd0gF <p>x";
	static const char *const fixed[] = {
		"plain text longer than sixteen bytes, with no escape at all",
		"<td style=3D\"x\">caf=C3=A9</td>=\r\nnext line=\nend=",
		"=", "=\r", "=4", "=zz", "a\rb\nc\r\nd", "",
	};
	char s[48];
	unsigned seed = 2045;
	size_t k, n, wl, gl;

	for (k = 0; k < sizeof fixed / sizeof fixed[0] + 100000; k++) {
		const char *in = s;
		char *want, *got;

		if (k < sizeof fixed / sizeof fixed[0]) {
			in = fixed[k];
			n = strlen(in);
		} else {
			size_t i;

			n = k % sizeof s;
			for (i = 0; i < n; i++) {
				seed = seed * 1103515245u + 12345u;
				s[i] = alpha[(seed >> 16) % (sizeof alpha - 1)];
			}
		}
		want = naive_qp(in, n, &wl);
		got = qp_decode(in, n, &gl);
		cr_assert(wl == gl && memcmp(want, got, wl) == 0,
		    "'%.*s': %zu bytes, want %zu", (int)n, in, gl, wl);
		free(want);
		free(got);
	}
}

/* ct_spaces against its definition, a byte at a time: every mix of
 * tabs, CRs and LFs at every offset of the blocks, a CR at the end. */
Test(report, ct_spaces_agrees)
{
	static const char alpha[] = "\t\r\nab ";
	char s[48], want[48];
	unsigned seed = 2231;
	size_t k, n, i, from;

	for (k = 0; k < 200000; k++) {
		n = k % sizeof s;
		for (i = 0; i < n; i++) {
			seed = seed * 1103515245u + 12345u;
			s[i] = alpha[(seed >> 16) % (sizeof alpha - 1)];
		}
		from = n > 0 ? (seed >> 8) % (n + 1) : 0;
		memcpy(want, s, n);
		for (i = from; i < n; i++)
			if (want[i] == '\t' || (want[i] == '\r' && i + 1 < n &&
			    want[i + 1] != '\n'))
				want[i] = ' ';
		ct_spaces(s, from, n);
		cr_assert(memcmp(want, s, n) == 0, "case %zu", k);
	}
}

/* ct_strict: what it takes, its type and boundary; each refusal also
 * past the first sixteen bytes (read sixteen at a time). */
Test(report, ct_strict_cases)
{
	static const struct {
		const char *v, *type, *bd;	/* type NULL: refused */
	} c[] = {
		{ "Text/Plain", "text/plain", "" },
		{ " text/plain ;\tcharset=us-ascii ", "text/plain", "" },
		{ "multipart/report; report-type=delivery-status; "
		  "boundary=\"0123456789abcdefg=x\"", "multipart/report",
		  "0123456789abcdefg=x" },
		{ "multipart/mixed; boundary=abc=", NULL, NULL },
		{ "multipart/mixed; boundary=\"abc def\"", NULL, NULL },
		{ "multipart/mixed; boundary=a; boundary=b", NULL, NULL },
		{ "multipart/mixed; boundary=\"0123456789abc=?x\"", NULL,
		  NULL },
		{ "multipart/mixed; b=\"=?x\"", NULL, NULL },
		{ "text/plain; charset=\"0123456789abcd\xc3\xa9\"", NULL,
		  NULL },
		{ "text/plain; name=\"0123456789abcdef\\b\"", NULL, NULL },
		{ "text/plain; name=\"0123456789abcdef\x01\"", NULL, NULL },
		{ "text/plain; name=\"0123456789abcdef\x7f\"", "text/plain",
		  "" },
		{ "text/plain; name=\"0123456789abcdef\tx\"", "text/plain",
		  "" },
		{ "text/plain (comment)", NULL, NULL },
		{ "text", NULL, NULL },
		{ "text/", NULL, NULL },
		{ "text/plain; charset", NULL, NULL },
		{ "text/plain; charset=\"open", NULL, NULL },
	};
	char type[128], bd[BOUNDARY_BYTES], v[160];
	size_t i, k;

	for (i = 0; i < sizeof c / sizeof c[0]; i++) {
		int ok = ct_strict(c[i].v, strlen(c[i].v), type, sizeof type,
		    bd);

		cr_expect_eq(ok, c[i].type != NULL, "%s", c[i].v);
		if (ok && c[i].type != NULL) {
			cr_expect_str_eq(type, c[i].type, "%s", c[i].v);
			cr_expect_str_eq(bd, c[i].bd, "%s", c[i].v);
		}
	}
	/* "=?" and each refused byte at every offset of a long value */
	for (k = 0; k < 4; k++)
		for (i = 0; i < 40; i++) {
			static const char *const bad[] = { "=?", "\\", "\x01",
			    "\xe9" };

			snprintf(v, sizeof v, "text/plain; name=\"%.*s%s%s\"",
			    (int)i, "0123456789012345678901234567890123456789",
			    bad[k], "abc");
			cr_expect_eq(ct_strict(v, strlen(v), type, sizeof type,
			    bd), 0, "%s", v);
		}
}

Test(report, apostrophe_in_local_part)
{
	static const struct {
		const char *name, *in, *want;
	} cases[] = {
		{ "bare", "o'neil+x@example.com", "o'neil+x@example.com" },
		{ "quoted token", "to 'bob@example.com' failed",
		  "bob@example.com" },
		{ "quoted o'neil", "to 'o'neil@example.com' failed",
		  "o'neil@example.com" },
		{ "angle", "<O'Neil@Example.COM>", "o'neil@example.com" },
		{ "after another @", "from a@example.org to o'neil@example.com",
		  "a@example.org" },
		{ "quote before @", "x y'@example.com", "" },
		{ "double quote", "\"d'arcy@example.com\"",
		  "d'arcy@example.com" },
	};
	char out[CAP_ADDRESS_BYTES + 1];
	size_t k;

	for (k = 0; k < sizeof cases / sizeof cases[0]; k++) {
		size_t n = addr_extract(cases[k].in, strlen(cases[k].in), out,
		    sizeof out);

		cr_expect_str_eq(n ? out : "", cases[k].want,
		    "%s: got '%s', want '%s'", cases[k].name, n ? out : "",
		    cases[k].want);
	}
	cr_expect_gt(addr_spec_value(" <o'neil+x@example.com> ", 24, out,
	    sizeof out), 0);
	cr_expect_str_eq(out, "o'neil+x@example.com", "structured value");
	cr_expect_gt(addr_spec_value("o'neil@example.com (Pat)", 24, out,
	    sizeof out), 0);
	cr_expect_str_eq(out, "o'neil@example.com", "value with comment");
}

Test(report, apostrophe_in_dsn_and_notice)
{
	char *m = make_dsn(
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.net\n\n"
	    "Final-Recipient: rfc822; o'neil+x@example.com\n"
	    "Original-Recipient: rfc822;<O'Neil+x@example.com>\n"
	    "Action: failed\nStatus: 5.1.1\n");
	static const char notice[] =
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "Subject: failure notice\n\n"
	    "Hi. This is the qmail-send program at mx.example.net.\n"
	    "I'm afraid I wasn't able to deliver your message to the "
	    "following addresses.\n\n"
	    "<d'arcy@example.org>:\n"
	    "Sorry, no mailbox here by that name. (#5.1.1)\n";
	static const char inline_notice[] =
	    "From: MAILER-DAEMON@mx.example.net\n"
	    "Subject: Undeliverable\n\n"
	    "Your message could not be delivered to o'hara@example.org "
	    "because the mailbox does not exist.\n";
	struct report *r = report_parse(m, strlen(m), 0);

	cr_assert_eq(r->nrcpt, 1);
	cr_expect_str_eq(r->rcpt[0].address, "o'neil+x@example.com");
	cr_expect_null(r->rcpt[0].original);
	report_free(&r);
	free(m);
	r = report_parse(notice, sizeof notice - 1, 0);
	cr_assert_eq(r->nrcpt, 1, "qmail notice");
	cr_expect_str_eq(r->rcpt[0].address, "d'arcy@example.org");
	report_free(&r);
	r = report_parse(inline_notice, sizeof inline_notice - 1, 0);
	cr_assert_eq(r->nrcpt, 1, "inline notice");
	cr_expect_str_eq(r->rcpt[0].address, "o'hara@example.org");
	report_free(&r);
}

/* A header block keeps only the fields asked for, values in one arena
 * (right after several parses into the same block), and still finds the
 * end of the block. */
Test(report, header_fields_filtered)
{
	static const char *const only[] = { "to", "subject", NULL };
	static const char h1[] =
	    "Received: from a\n by b\n with c\n"
	    "To: <a@example.com>\n"
	    "Subject: one\n two\n"
	    "\n"
	    "body\n";
	static const char g[] =
	    "\n  \nAction: failed\nStatus: 5.1.1\n\n"
	    "Action: delayed\nX-Junk: 1\nStatus: 4.0.0\n";
	struct hdr_block b;
	size_t off = 0, i = 0;
	int k;

	hdr_init(&b);
	b.only = only;
	cr_assert_eq(hdr_parse(h1, sizeof h1 - 1, &off, HDR_HEADER, &b), 3);
	cr_assert_eq(b.n, 2);
	cr_assert_str_eq(hdr_get(&b, "to"), "<a@example.com>");
	cr_assert_str_eq(hdr_get(&b, "subject"), "one two");
	cr_assert_null(hdr_get(&b, "received"));
	cr_assert(!b.capped);
	cr_assert_str_eq(h1 + off, "body\n");
	hdr_free(&b);

	/* groups parsed one after the other into the same block */
	hdr_init(&b);
	off = 0;
	while (off < sizeof g - 1)
		if (hdr_parse(g, sizeof g - 1, &off, HDR_GROUP, &b) == 0)
			break;
	cr_assert_eq(b.n, 5);
	k = hdr_next(&b, "status", &i);
	cr_assert_geq(k, 0);
	cr_assert_str_eq(b.f[k].value, "5.1.1");
	k = hdr_next(&b, "status", &i);
	cr_assert_geq(k, 0);
	cr_assert_str_eq(b.f[k].value, "4.0.0");
	cr_assert_str_eq(hdr_get(&b, "x-junk"), "1");
	hdr_free(&b);
}

/* hdr_field_in: 1 for a field of the list (any case), 0 for another
 * field, -1 for a line that starts none (as hdr_parse reads names). */
Test(report, hdr_field_in_cases)
{
	static const char *const list[] = { "from", "x-y", "to", NULL };
	static const struct {
		const char *line;
		int want;
	} c[] = {
		{ "From: a", 1 }, { "FROM:a", 1 }, { "x-Y: 1", 1 },
		{ "To:", 1 }, { "t:", 0 }, { "Fro: a", 0 }, { "Fromm: a", 0 },
		{ "Tot: a", 0 }, { "X-From: a", 0 }, { "Subject: from", 0 },
		{ "From : a", -1 }, { " From: a", -1 }, { "\tTo: a", -1 },
		{ ": a", -1 }, { "From", -1 }, { "", -1 },
		{ "Fr\xc3\xb6m: a", -1 },
		{ "F\x01rom: a", -1 }, { "To\x7f: a", -1 },
	};
	char longname[HDR_NAME_BYTES + 8];
	size_t i;

	for (i = 0; i < sizeof c / sizeof c[0]; i++)
		cr_expect_eq(hdr_field_in(c[i].line, strlen(c[i].line), list),
		    c[i].want, "%s", c[i].line);
	/* the name read only up to the line's length given */
	cr_expect_eq(hdr_field_in("To: a", 2, list), -1);
	cr_expect_eq(hdr_field_in("To: a", 3, list), 1);
	/* a name as long as hdr_parse reads, and one longer */
	memset(longname, 'a', sizeof longname);
	longname[HDR_NAME_BYTES - 1] = ':';
	cr_expect_eq(hdr_field_in(longname, sizeof longname, list), 0);
	longname[HDR_NAME_BYTES - 1] = 'a';
	longname[HDR_NAME_BYTES] = ':';
	cr_expect_eq(hdr_field_in(longname, sizeof longname, list), -1);
}

/* Transfer encodings as libetpan decodes them: QP soft breaks and line
 * ends, bad hex, a truncated base64 group. */
Test(report, transfer_decoding)
{
	char *m = make_dsn(
	    "Content-Type: message/delivery-status\n"
	    "Content-Transfer-Encoding: quoted-printable\n\n"
	    "Final-Recipient: rfc822; q@example.net\n"
	    "Action: failed\n"
	    "Status: 5.1.1\n"
	    "Diagnostic-Code: smtp; 550 a=3Db=\n"
	    "c =5Z d\n");
	struct report *r = report_parse(m, strlen(m), 0);

	cr_assert_eq(r->nrcpt, 1);
	/* "=5Z" (not hex): the bad digit counts as 0 */
	cr_expect_str_eq(r->rcpt[0].diagnostic, "550 a=bc P d");
	report_free(&r);
	free(m);
	/* "Final-Recipient: rfc822; b@example.net\nAction: failed\n
	 *  Status: 5.2.2\n" in base64, its last group cut short */
	m = make_dsn(
	    "Content-Type: message/delivery-status\n"
	    "Content-Transfer-Encoding: base64\n\n"
	    "RmluYWwtUmVjaXBpZW50OiByZmM4MjI7IGJAZXhhbXBsZS5uZXQKQWN0aW9uOiBm\n"
	    "YWlsZWQKU3RhdHVzOiA1LjIuMgo\n");
	r = report_parse(m, strlen(m), 0);
	cr_assert_eq(r->nrcpt, 1, "base64");
	cr_expect_str_eq(r->rcpt[0].address, "b@example.net");
	cr_expect_str_eq(r->rcpt[0].status, "5.2.2");
	report_free(&r);
	free(m);
}

/* The returned original keeps only its header in the MIME parser's copy:
 * its Message-ID is read, a huge body is not scanned. */
Test(report, original_header_read_body_skipped, .timeout = 20)
{
	struct buf b;
	struct report *r;
	size_t i;

	buf_init(&b, 64 * 1024 * 1024);
	buf_puts(&b, dsn_head);
	buf_puts(&b, "--BB\nContent-Type: message/delivery-status\n\n"
	    "Final-Recipient: rfc822; o@example.org\nAction: failed\n"
	    "Status: 5.1.1\n\n"
	    "--BB\nContent-Type: message/rfc822\n\n"
	    "Message-ID: <orig-1@example.org>\nFrom: a@example.org\n"
	    "Content-Type: multipart/mixed; boundary=\"IN\"\n\n");
	for (i = 0; i < 200000; i++)
		buf_puts(&b, "--IN\nContent-Type: text/plain\n\nx\n");
	buf_puts(&b, "--BB--\n");
	r = report_parse(b.data, b.len, 0);
	cr_assert_eq(r->nrcpt, 1);
	cr_expect_str_eq(r->orig_message_id, "orig-1@example.org");
	cr_expect_eq(r->flags & REPORT_F_CAP_PARTS, 0, "the original's "
	    "parts are not the bounce's");
	report_free(&r);
	buf_free(&b);
}

/* ---- the copy without the parts nobody reads ------------------------- */

/* Are two reports the same in every field? (name: the case) */
static void
same_report(const struct report *a, const struct report *b,
    const char *name)
{
#define SAME_STR(x, y, what) do { \
	if ((x) == NULL || (y) == NULL) \
		cr_assert((x) == (y), "%s: %s", name, what); \
	else \
		cr_assert_str_eq((x), (y), "%s: %s", name, what); \
} while (0)
	size_t i;

	cr_assert_eq(a->type, b->type, "%s: type", name);
	cr_assert_eq(a->flags, b->flags, "%s: flags", name);
	cr_assert_eq(a->date, b->date, "%s: date", name);
	SAME_STR(a->message_id, b->message_id, "message_id");
	SAME_STR(a->subject, b->subject, "subject");
	SAME_STR(a->from, b->from, "from");
	SAME_STR(a->agent, b->agent, "agent");
	SAME_STR(a->reporting_mta, b->reporting_mta, "reporting_mta");
	SAME_STR(a->orig_message_id, b->orig_message_id, "orig_message_id");
	cr_assert_eq(a->ntag_addrs, b->ntag_addrs, "%s: tags", name);
	for (i = 0; i < a->ntag_addrs; i++)
		SAME_STR(a->tag_addrs[i], b->tag_addrs[i], "tag");
	cr_assert_eq(a->text_len, b->text_len, "%s: text_len", name);
	SAME_STR(a->text, b->text, "text");
	cr_assert_eq(a->nrcpt, b->nrcpt, "%s: nrcpt", name);
	for (i = 0; i < a->nrcpt; i++) {
		const struct report_rcpt *x = &a->rcpt[i], *y = &b->rcpt[i];

		SAME_STR(x->address, y->address, "address");
		SAME_STR(x->original, y->original, "original");
		SAME_STR(x->action, y->action, "action");
		SAME_STR(x->status, y->status, "status");
		cr_assert_eq(x->reply_code, y->reply_code, "%s: reply", name);
		SAME_STR(x->remote_mta, y->remote_mta, "remote_mta");
		SAME_STR(x->diagnostic, y->diagnostic, "diagnostic");
		SAME_STR(x->feedback_type, y->feedback_type, "feedback_type");
		SAME_STR(x->diagnostic_type, y->diagnostic_type, "diag type");
		SAME_STR(x->source, y->source, "source");
	}
#undef SAME_STR
}

/* report_parse and report_parse_whole agree on (data, len). */
static void
check_same(const char *data, size_t len, const char *name)
{
	struct report *a = report_parse(data, len, 0);
	struct report *b = report_parse_whole(data, len, 0);

	same_report(a, b, name);
	report_free(&a);
	report_free(&b);
}

/*
 * Messages whose structure libetpan reads in its own ways: a delimiter
 * right after another, a close delimiter first, a multipart left open,
 * text that looks like a delimiter, a boundary that starts another, a
 * folded or odd part header, an HTML part that is the only text...
 */
static const char *const strip_cases[] = {
	/* the common shape: text, its HTML, an image, a report, the
	 * original with a body of its own */
	"Content-Type: multipart/report; report-type=delivery-status;\n"
	" boundary=\"R1\"\n\n"
	"--R1\nContent-Type: multipart/related; boundary=\"R2\"\n\n"
	"--R2\nContent-Type: multipart/alternative; boundary=\"R3\"\n\n"
	"--R3\nContent-Type: text/plain; charset=UTF-8\n\n"
	"Your message to a@example.net was not delivered: user unknown.\n\n"
	"--R3\nContent-Type: text/html; charset=UTF-8\n\n<html>\n<b>x</b>\n"
	"- a line with a dash\n</html>\n\n--R3--\n"
	"--R2\nContent-Type: image/png; name=\"icon.png\"\n"
	"Content-Transfer-Encoding: base64\n\niVBORw0KGgo=\nAAAA\n\n--R2--\n"
	"--R1\nContent-Type: message/delivery-status\n\n"
	"Final-Recipient: rfc822; a@example.net\nAction: failed\n"
	"Status: 5.1.1\n\n"
	"--R1\nContent-Type: message/rfc822\n\nFrom: s@example.org\n"
	"Message-ID: <o1@example.org>\n\nbody\n--R1--\n",
	/* the same report inside a multipart/mixed: the original is not
	 * at the top */
	"Content-Type: multipart/mixed; boundary=M\n\n"
	"--M\nContent-Type: multipart/report; boundary=R\n\n"
	"--R\nContent-Type: text/plain\n\nFailed: b@example.net\n"
	"--R\nContent-Type: message/rfc822\n\nFrom: s@example.org\n"
	"Message-ID: <o2@example.org>\nTo: b@example.net\n\n"
	"line\n--fake\n\nmore\n"
	"--R\nContent-Type: text/rfc822-headers\n"
	"Content-Transfer-Encoding: base64\n\nRnJvbTogeEB5Cg==\n--R--\n"
	"--M\nContent-Type: application/pdf\n\nJVBERi0=\n--M--\n",
	/* two delimiters in a row; a part of empty lines */
	"Content-Type: multipart/mixed; boundary=B\n\n"
	"--B\n--B\nContent-Type: image/gif\n\nGIF89a\n"
	"--B\nContent-Type: text/plain\n\nUser unknown: c@example.net\n"
	"--B\n\n\n--B\nContent-Type: image/gif\n\nGIF\n--B--\n",
	/* a close delimiter first */
	"Content-Type: multipart/mixed; boundary=C\n\n"
	"--C--\n--C\nContent-Type: image/gif\n\nGIF\n"
	"--C\nContent-Type: text/plain\n\nNo such user d@example.net\n",
	/* an inner multipart never closed, with an image in it */
	"Content-Type: multipart/mixed; boundary=O\n\n"
	"--O\nContent-Type: multipart/related; boundary=I\n\n"
	"--I\nContent-Type: text/plain\n\nMailbox full: e@example.net\n"
	"--I\nContent-Type: image/png\n\nPNG\n- dash\nPNG\n"
	"--O\nContent-Type: text/plain\n\nsecond\n--O--\n",
	/* ... two of them, the HTML alternative in the inner one with a
	 * line that starts with '-' */
	"Content-Type: multipart/mixed; boundary=O\n\n"
	"--O\nContent-Type: multipart/related; boundary=R\n\n"
	"--R\nContent-Type: multipart/alternative; boundary=I\n\n"
	"--I\nContent-Type: text/plain\n\nUser unknown: m@example.net\n\n"
	"--I\nContent-Type: text/html\n\n<p>\n-x\n</p>\n"
	"--O\nContent-Type: text/plain\n\nsecond\n--O--\n",
	/* text that starts like a delimiter; a boundary that starts
	 * another */
	"Content-Type: multipart/mixed; boundary=AB\n\n"
	"--AB\nContent-Type: text/plain\n\n--ABX not a delimiter\n"
	"f@example.net: unknown\n"
	"--AB\nContent-Type: multipart/alternative; boundary=ABC\n\n"
	"--ABC\nContent-Type: text/plain\n\nx\n--ABC\n"
	"Content-Type: text/html\n\n<p>x</p>\n--ABC--\n--AB--\n",
	/* part headers: a fold first, a junk line, two Content-Types,
	 * a comment, an encoded word, a boundary on its own line */
	"Content-Type: multipart/mixed; boundary=H\n\n"
	"--H\n folded\nContent-Type: image/png\n\nPNG\n"
	"--H\nContent-Type: image/png\njunk\n\nPNG\n"
	"--H\nContent-Type: image/png\nContent-Type: text/plain\n\n"
	"Recipient address rejected: g@example.net\n"
	"--H\nContent-Type: (c) image/png\n\nPNG\n"
	"--H\nContent-Type: image/png; name==?utf-8?q?a?=\n\nPNG\n"
	"--H\nContent-Type: multipart/alternative;\nboundary=\"K\"\n\n"
	"--K\nContent-Type: text/html\n\n<p>h@example.net unknown</p>\n"
	"--K--\n--H--\n",
	/* the HTML part is the only text: read after all */
	"Content-Type: multipart/alternative; boundary=T\n\n"
	"--T\nContent-Type: text/plain\n\n\n"
	"--T\nContent-Type: text/html\n\n<p>i@example.net: no such user</p>\n"
	"--T--\n",
	"Content-Type: multipart/alternative; boundary=T\n\n"
	"--T\nContent-Type: text/html\n\n<p>j@example.net: no such user</p>\n"
	"--T\nContent-Type: text/plain\n\nk@example.net: no such user\n"
	"--T--\n",
	/* a line that starts like a top delimiter before an original
	 * (mime_copy reads it as one) */
	"Content-Type: multipart/report; boundary=Q\n\n"
	"--Q\nContent-Type: text/plain\n\nn@example.net: unknown\n"
	"--QX\nContent-Type: message/rfc822\n\nFrom: a@example.org\n\n"
	"body of the original\n--Q\nContent-Type: image/png\n\nPNG\n--Q--\n",
	/*
	 * Boundaries longer than the copy's own names ("_rebond_NN"), quoted
	 * or not, type and parameters in any case, nested; then text that
	 * starts like the copy's names (the copy must not make it a
	 * delimiter)
	 */
	"Content-Type: Multipart/Report; report-type=delivery-status;\n"
	" Boundary=\"----=_Part_4711_1234567890.1700000000000\"\n\n"
	"------=_Part_4711_1234567890.1700000000000\n"
	"Content-Type: multipart/alternative;\n"
	"\tboundary=\"000000000000a1b2c3d4e5f6a7b8\"\n\n"
	"--000000000000a1b2c3d4e5f6a7b8\nContent-Type: text/plain\n\n"
	"p@example.net: user unknown\n"
	"--000000000000a1b2c3d4e5f6a7b8\nContent-Type: text/html\n\n"
	"<p>p@example.net: user unknown</p>\n"
	"--000000000000a1b2c3d4e5f6a7b8--\n"
	"------=_Part_4711_1234567890.1700000000000\n"
	"Content-Type: message/delivery-status\n\n"
	"Final-Recipient: rfc822; p@example.net\nAction: failed\n"
	"Status: 5.1.1\n\n"
	"------=_Part_4711_1234567890.1700000000000\n"
	"Content-Type: message/rfc822\n\nFrom: s@example.org\n"
	"Message-ID: <o3@example.org>\n\nbody\n"
	"------=_Part_4711_1234567890.1700000000000--\n",
	"Content-Type: multipart/mixed; boundary=long_token_boundary_A1\n\n"
	"--long_token_boundary_A1\n"
	"Content-Type: multipart/related; boundary=\"long/quoted:B2\"; "
	"type=\"text/plain\"\n\n"
	"--long/quoted:B2\nContent-Type: text/plain; charset=\"us-ascii\"\n\n"
	"Delivery to q@example.net failed: mailbox full\n\n"
	"--long/quoted:B2\nContent-Type: image/png\n\nPNG\n"
	"--long/quoted:B2--\n"
	"--long_token_boundary_A1\nContent-Type: text/plain\n\n"
	"a second text\n--long_token_boundary_A1--\n",
	"Content-Type: multipart/mixed; boundary=\"long=_boundary_C3\"\n\n"
	"--long=_boundary_C3\n"
	"Content-Type: multipart/alternative; boundary=long_boundary_D4\n\n"
	"--long_boundary_D4\nContent-Type: text/plain\n\n"
	"--_rebond_00\n--_rebond_01--\nr@example.net: user unknown\n"
	"--long_boundary_D4\nContent-Type: text/html\n\n<p>x</p>\n"
	"--long_boundary_D4--\n--long=_boundary_C3--\n",
	/* a part header of a field the copy leaves out, and nothing
	 * else (the copy would make it empty, which libetpan reads
	 * otherwise): an original that lost its Content-Type */
	"Content-Type: multipart/report; boundary=R\n\n"
	"--R\nContent-Type: text/plain\n\ns@example.net: failed\n"
	"--R\nContent-Description: Undelivered Message\n\n"
	"To: s@example.net\nContent-Type: multipart/alternative; "
	"boundary=\"A\"\n\n--A\nContent-Type: text/plain\n\ninner text\n"
	"--A--\n--R--\n",
	/* delimiters with white space after them; a regular delimiter
	 * after the close one */
	"Content-Type: multipart/mixed; boundary=W\n\n"
	"--W \t\nContent-Type: image/png\n\nPNG\n"
	"--W\t\nContent-Type: text/plain\n\nl@example.net unknown\n"
	"--W--  \nepilogue\n--W\nContent-Type: text/plain\n\nafter\n",
	/* an HTML notice, the only text, read from the message itself
	 * (libetpan sees it empty): quoted-printable, a line that starts
	 * like a delimiter, the text before the DSN and after a nested
	 * one; then in lines the copy would rewrite ("Content-Type:"
	 * folded, "Content-Description:"), where the copy doubts */
	"Content-Type: multipart/report; report-type=delivery-status;\n"
	" boundary=\"H1\"\n\n"
	"--H1\nContent-Type: text/html; charset=UTF-8\n"
	"Content-Transfer-Encoding: quoted-printable\n\n"
	"<html><body style=3D\"x\"><p>Delivery to t@example.net failed:=\n"
	" mailbox unavailable</p>\n--not a delimiter\n</body></html>\n\n"
	"--H1\nContent-Type: message/delivery-status\n\n"
	"Reporting-MTA: dns; mx.example.net\n\n"
	"Final-Recipient: rfc822; t@example.net\nAction: failed\n"
	"Status: 5.2.1\n\n--H1--\n",
	"Content-Type: multipart/mixed; boundary=H2\n\n"
	"--H2\nContent-Type: multipart/alternative; boundary=H3\n\n"
	"--H3\nContent-Type: text/html\n\n<p>u@example.net: quota</p>\n"
	"Content-Type: text/plain;\n\tcharset=us-ascii\n<p>more</p>\n"
	"--H3--\n--H2\nContent-Type: text/html\n\n"
	"Content-Description: a line of the body\n<p>v@example.net</p>\n"
	"--H2--\n",
	/* more HTML parts than are read from the message: the others
	 * from libetpan's parse; HTML before the plain text */
	"Content-Type: multipart/mixed; boundary=H4\n\n"
	"--H4\nContent-Type: text/html\n\n<p>w1@example.net one</p>\n"
	"--H4\nContent-Type: text/html\n\n<p>two</p>\n"
	"--H4\nContent-Type: text/html\n\n<p>three</p>\n"
	"--H4\nContent-Type: text/html\n\n<p>four</p>\n"
	"--H4\nContent-Type: text/html\n\n<p>five: no such user</p>\n"
	"--H4--\n",
	"Content-Type: multipart/alternative; boundary=H5\n\n"
	"--H5\nContent-Type: text/html\n\n<p>x1@example.net html</p>\n"
	"--H5\nContent-Type: text/plain\n\nx1@example.net: user unknown\n"
	"--H5--\n",
};

Test(report, strip_copy_reads_the_same, .timeout = 60)
{
	char name[64];
	size_t k, i, j, n;

	for (k = 0; k < sizeof strip_cases / sizeof strip_cases[0]; k++) {
		const char *c = strip_cases[k];
		char *lf, *crlf;
		struct buf b;

		buf_init(&b, 1024 * 1024);
		buf_puts(&b, "From: MAILER-DAEMON@mx.example.net\n"
		    "Subject: Undelivered Mail\nMIME-Version: 1.0\n");
		buf_puts(&b, c);
		lf = buf_steal(&b);
		crlf = to_crlf(lf);
		snprintf(name, sizeof name, "case %zu", k);
		check_same(lf, strlen(lf), name);
		snprintf(name, sizeof name, "case %zu crlf", k);
		check_same(crlf, strlen(crlf), name);
		/* each line left out, and each line twice */
		n = strlen(lf);
		for (i = 0; i < n; i = j + 1) {
			struct buf v;

			for (j = i; j < n && lf[j] != '\n'; j++)
				;
			buf_init(&v, 2 * n + 2);
			buf_append(&v, lf, i);
			buf_append(&v, lf + j + 1, n - (j < n ? j + 1 : n));
			snprintf(name, sizeof name, "case %zu without %zu", k,
			    i);
			check_same(v.data, v.len, name);
			buf_reset(&v);
			buf_append(&v, lf, j < n ? j + 1 : n);
			buf_append(&v, lf + i, (j < n ? j + 1 : n) - i);
			buf_append(&v, lf + (j < n ? j + 1 : n), n - (j < n ?
			    j + 1 : n));
			snprintf(name, sizeof name, "case %zu twice %zu", k, i);
			check_same(v.data, v.len, name);
			buf_free(&v);
		}
		free(lf);
		free(crlf);
	}
}

/*
 * Of a returned original's header, the copy libetpan parses keeps only
 * the fields that are read. A message/global-headers part is read the
 * same way, from a copy of all of it: the report must be the same either
 * way, whatever the header does (folds, a line of blanks, a line that is
 * not a field, a mbox "From " line, more than CAP_HEADER_BYTES), at the
 * top of the report and below it, with both copies (report_parse and
 * report_parse_whole).
 */
static char *
with_original(const char *type, const char *header, int nested)
{
	struct buf b;

	buf_init(&b, 16 * 1024 * 1024);
	buf_puts(&b, dsn_head);
	buf_puts(&b, "--BB\nContent-Type: message/delivery-status\n\n"
	    "Final-Recipient: rfc822; o@example.net\nAction: failed\n"
	    "Status: 5.1.1\n\n");
	if (nested)
		buf_puts(&b, "--BB\nContent-Type: multipart/mixed; "
		    "boundary=\"N\"\n\n--N\n");
	else
		buf_puts(&b, "--BB\n");
	buf_printf(&b, "Content-Type: %s\n\n", type);
	buf_puts(&b, header);
	buf_puts(&b, "\nThe body of the original.\n");
	if (nested)
		buf_puts(&b, "--N--\n");
	buf_puts(&b, "--BB--\n");
	return buf_steal(&b);
}

/* Append the line s to b; *at moves past it, its end counted CRLF when
 * crlf is set. */
static void
put_line(struct buf *b, size_t *at, int crlf, const char *s)
{
	buf_puts(b, s);
	*at += strlen(s) + (crlf != 0);
}

Test(report, original_header_filtered_reads_the_same, .timeout = 60)
{
	static const char *const headers[] = {
		/* fields nobody reads, folded, then the ones read */
		"Received: from mx1.example.org (mx1.example.org "
		"[192.0.2.1])\n\tby mx2.example.net with ESMTPS id 1\n"
		"\tfor <wrong@example.net>; Tue, 24 Nov 2026 09:14:00 +0100\n"
		"DKIM-Signature: v:1; a:rsa-sha256; d:example.org\n"
		" To: folded-into-dkim@example.net\n"
		"Return-Path: <bounces+42.alt.abc@platform.example.com>\n"
		"To: Bob <bob@example.net>\nX-Mailer: x\n"
		"Message-ID:\n <orig-a@example.org>\nSubject: Hello\n"
		"From: s@example.org\n",
		/* a line of blanks ends the header */
		"Received: from x\n \t \nMessage-ID: <orig-b@example.org>\n"
		"To: b@example.net\n",
		/* so does a line that is not a field */
		"Received: from x\nthis line is not a field\n"
		"Message-ID: <orig-c@example.org>\n",
		/* a mbox "From " line first */
		"From sender@example.org Tue Nov 24 09:00:00 2026\n"
		"Received: from x\nMessage-ID: <orig-d@example.org>\n",
		/* a fold first: no header at all */
		" folded first\nMessage-ID: <orig-e@example.org>\n",
	};
	const char *const types[] = { "message/rfc822", "text/rfc822-headers" };
	char name[96], *big[4];
	struct buf h;
	size_t k, t, nested, crlf, n;

	/* past CAP_HEADER_BYTES: read up to the cap, not after (at: where
	 * the next line starts as hdr.c counts, after a mbox "From " line,
	 * with the line ends of the case: big[1] and big[3] are made CRLF) */
	for (k = 0; k < 4; k++) {
		static const char rcvd[] = "Received: from relay.example.org "
		    "by mx.example.net with ESMTP id 0123456789abcdef; Tue\n";
		size_t at = 0;

		crlf = k % 2;
		buf_init(&h, 1024 * 1024);
		if (k >= 2)
			buf_puts(&h, "From sender@example.org Tue Nov 24 09:00:00"
			    " 2026 with a long line of text after it to count "
			    "its bytes out of the cap, for sure\n");
		put_line(&h, &at, crlf, "To: early@example.net\n");
		/* (the Message-ID less than the "From " line's length before
		 * the cap) */
		while (at + strlen(rcvd) + crlf < CAP_HEADER_BYTES - 30)
			put_line(&h, &at, crlf, rcvd);
		put_line(&h, &at, crlf, "Message-ID: <orig-cap@example.org>\n");
		while (at <= CAP_HEADER_BYTES)
			put_line(&h, &at, crlf, rcvd);
		/* (the first line past the cap) */
		buf_puts(&h, "Return-Path: <bounces+43.alt.abc@platform."
		    "example.com>\nSubject: late\n");
		big[k] = buf_steal(&h);
	}
	for (k = 0; k < sizeof headers / sizeof headers[0] + 2; k++)
	for (t = 0; t < 2; t++)
	for (nested = 0; nested < 2; nested++)
	for (crlf = 0; crlf < 2; crlf++) {
		const char *hd = k < sizeof headers / sizeof headers[0] ?
		    headers[k] : big[2 * (k - sizeof headers / sizeof
		    headers[0]) + crlf];
		char *kept = with_original(types[t], hd, (int)nested);
		char *all = with_original("message/global-headers", hd,
		    (int)nested);
		struct report *a, *b;

		if (crlf) {
			char *x = to_crlf(kept), *y = to_crlf(all);

			free(kept);
			free(all);
			kept = x;
			all = y;
		}
		for (n = 0; n < 2; n++) {
			snprintf(name, sizeof name, "header %zu, %s%s%s%s", k,
			    types[t], nested ? ", nested" : "",
			    crlf ? ", crlf" : "", n ? ", whole" : "");
			a = n ? report_parse_whole(kept, strlen(kept), 0) :
			    report_parse(kept, strlen(kept), 0);
			b = n ? report_parse_whole(all, strlen(all), 0) :
			    report_parse(all, strlen(all), 0);
			same_report(a, b, name);
			/* (and it is read: the same is not nothing) */
			if (k == 0)
				cr_assert_str_eq(a->orig_message_id,
				    "orig-a@example.org", "%s", name);
			if (k >= sizeof headers / sizeof headers[0])
				cr_assert_str_eq(a->orig_message_id,
				    "orig-cap@example.org", "%s", name);
			if (k == 1 || k == 2 || k == 4)
				cr_assert_null(a->orig_message_id, "%s", name);
			report_free(&a);
			report_free(&b);
		}
		free(kept);
		free(all);
	}
	for (k = 0; k < 4; k++)
		free(big[k]);
}

/* A parser that leaves the VERP addresses and the date out: the rest of
 * the report is the same. */
Test(report, parser_skips_tags_and_date)
{
	struct report_parser *p;
	struct report *a, *b;
	char *m = make_dsn("Content-Type: message/delivery-status\n\n"
	    "Final-Recipient: rfc822; x@example.net\nAction: failed\n"
	    "Status: 5.1.1\n");
	char name[64];
	size_t k;

	p = report_parser_new(REPORT_SKIP_TAGS | REPORT_SKIP_DATE);
	a = report_parser_parse(p, m, strlen(m), 0);
	b = report_parse(m, strlen(m), 0);
	cr_assert_eq(a->ntag_addrs, 0);
	cr_assert_eq(a->date, 0);
	cr_assert_neq(b->ntag_addrs, 0, "the test has tag addresses");
	cr_assert_neq(b->date, 0, "the test has a date");
	for (k = 0; k < sizeof strip_cases / sizeof strip_cases[0]; k++) {
		struct report *c, *d;
		size_t t;

		c = report_parser_parse(p, strip_cases[k],
		    strlen(strip_cases[k]), 0);
		d = report_parse(strip_cases[k], strlen(strip_cases[k]), 0);
		for (t = 0; t < d->ntag_addrs; t++)
			free(d->tag_addrs[t]);
		d->ntag_addrs = 0;
		d->date = 0;
		snprintf(name, sizeof name, "case %zu", k);
		same_report(c, d, name);
		report_free(&c);
		report_free(&d);
	}
	report_free(&a);
	report_free(&b);
	report_parser_free(&p);
	free(m);
}

/* One parser for many messages: nothing of one is left in the next. */
Test(report, parser_kept_between_messages)
{
	struct report_parser *p = report_parser_new(0);
	char name[64];
	size_t k, round;

	for (round = 0; round < 2; round++)
		for (k = 0; k < sizeof strip_cases / sizeof strip_cases[0];
		    k++) {
			const char *c = strip_cases[k];
			struct report *a, *b;

			a = report_parser_parse(p, c, strlen(c), 0);
			b = report_parse_whole(c, strlen(c), 0);
			snprintf(name, sizeof name, "round %zu case %zu", round,
			    k);
			same_report(a, b, name);
			report_free(&a);
			report_free(&b);
		}
	report_parser_free(&p);
	cr_assert_null(p);
}

/*
 * Where non-standard notices name the failed recipient, one case per
 * layout: the recipients found (in order, comma-separated), the address
 * mailed when the notice gives another (original), a word the
 * diagnostic must hold. The notices are written after the layouts of
 * MailEnable, HotPOP, Exchange 5.5 (X.400), Exim, sendmail, Demon,
 * MDaemon, IMail, mail.ru and others; addresses that must not come out
 * (a contact, the original's list headers, "mailto:" links) are in them.
 */
struct ncase {
	const char *name;
	const char *head;	/* header fields (From, Subject...) */
	const char *body;
	const char *want;	/* recipients, "a,b"; "" for none */
	const char *original;	/* of the first recipient, or NULL */
	const char *diag;	/* a word of its diagnostic, or NULL */
};

/* Exim's notice, up to its addresses. */
#define EXIM_INTRO \
	"This message was created automatically by mail delivery " \
	"software.\n\nA message that you sent could not be delivered to " \
	"one or more of its\nrecipients. This is a permanent error. The " \
	"following address(es) failed:\n\n"

static const struct ncase notice_cases[] = {
	{ "mailenable bracketed SMTP: address",
	  "From: \"Delivery Subsystem\" <POSTMASTER@mx.example.net>\n"
	  "Subject: Message Delivery Failure\n",
	  "MailEnable: Message could not be delivered to some recipients.\n"
	  "The following recipient(s) could not be reached:\n\n"
	  "\tRecipient: [SMTP:anna@example.com]\n"
	  "\tReason: Remote SMTP Server Returned: 550 Requested action not "
	  "taken: mailbox unavailable\n\n",
	  "anna@example.com", NULL, "550 Requested" },
	{ "a contact address is not a recipient",
	  "From: MAILER-DAEMON@pop.example.net\n"
	  "Subject: Returned mail\n",
	  "Undeliverable Address: ben@example.com\n\n"
	  "Reason: The email you sent to the address specified\n"
	  "above has been returned because the recipient is over disk "
	  "quota.\n\n"
	  "System Contact: postmaster@pop.example.net\n",
	  "ben@example.com", NULL, "disk quota" },
	{ "exchange 5.5 X.400 address, not the original's To",
	  "From: System Administrator <postmaster@example.com>\n"
	  "Subject: Undeliverable: Results\n",
	  "Your message\n\n"
	  "  To:      team@lists.example.org\n"
	  "  Subject: Results\n\n"
	  "did not reach the following recipient(s):\n\n"
	  "c=US;a= ;p=Org;o=Site;dda:SMTP=carl@example.COM; on Fri, 4 Oct "
	  "2002\n"
	  "    The recipient name is not recognized\n",
	  "carl@example.com", NULL, NULL },
	{ "exim: an undisclosed address generated from one",
	  "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
	  "Subject: Mail delivery failed: returning message to sender\n",
	  EXIM_INTRO
	  "  an undisclosed address\n"
	  "    (generated from dina@example.com)\n",
	  "dina@example.com", NULL, NULL },
	{ "sendmail: expanded from the address mailed",
	  "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
	  "Subject: Returned mail: Too many hops\n",
	  "   ----- The following addresses had permanent fatal errors -----\n"
	  "erin@mail.example.net\n"
	  "    (expanded from: erin@example.com)\n\n"
	  "   ----- Transcript of session follows -----\n"
	  "554 Too many hops 26 (25 max)\n",
	  "erin@mail.example.net", "erin@example.com", NULL },
	{ "expanded from, below the reason; not a second recipient",
	  "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
	  "Subject: Returned mail: see transcript for details\n",
	  "   ----- The following addresses had permanent fatal errors -----\n"
	  "lena@example.com\n"
	  "    (reason: 553 Sender Policy Framework (SPF) fail)\n"
	  "    (expanded from: <Lena.K@example.org>)\n\n"
	  "   ----- Transcript of session follows -----\n"
	  "... while talking to mx.example.com.:\n"
	  ">>> DATA\n"
	  "<<< 553 Sender Policy Framework (SPF) fail\n",
	  "lena@example.com", "lena.k@example.org", "SPF" },
	{ "a quoted address; the returned list headers are not read",
	  "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
	  "Subject: Mail delivery failure\n",
	  "The following message, addressed to 'fred@example.com',\n"
	  "failed because it has not been collected after 30 days\n\n"
	  "---- START OF RETURNED MESSAGE ----\n"
	  "From: news@platform.example.com\n"
	  "List-Subscribe: <http://lists.example.org/listinfo/news>,\n"
	  "\t<mailto:news-request@lists.example.org?subject=subscribe>\n"
	  "List-Post:\n"
	  "\t<mailto:news@lists.example.org>\n",
	  "fred@example.com", NULL, NULL },
	{ "mdaemon: address, dash, reason",
	  "From: MDaemon@mx.example.net\n"
	  "Subject: Warning: gina@example.com - User unknown!\n",
	  "gina@example.com - no such user here.\n\n"
	  "There is no user by that name at this server.\n",
	  "gina@example.com", NULL, "no such user" },
	{ "blanks doubled after the marker",
	  "From: \"Postmaster\" <postmaster@mx.example.net>\n"
	  "Subject: Undeliverable Mail\n",
	  "undeliverable  to hank@example.com\n\n"
	  "Original message follows.\n",
	  "hank@example.com", NULL, NULL },
	{ "a double-dash bullet",
	  "From: \"Mail Delivery System\" <mailer-daemon@mx.example.net>\n"
	  "Subject: Email Delivery Failure\n",
	  "This is a delivery failure notification message indicating that\n"
	  "an email addressed to email address :\n"
	  "-- ivy@example.com\n"
	  "could not be delivered. The problem appears to be :\n"
	  "-- Recipient server unavailable or busy\n",
	  "ivy@example.com", NULL, NULL },
	{ "From: <> is a mail system, even auto-replied",
	  "From: <>\n"
	  "Auto-Submitted: auto-replied\n",
	  "You sent mail to jack@example.com. That's not a valid user "
	  "here.\n",
	  "jack@example.com", NULL, NULL },
	{ "local mailbox ... is unavailable",
	  "From: Mail Delivery System <Mailer-Daemon@mx.example.ru>\n"
	  "Subject: Undelivered\n",
	  "  Message was not accepted -- invalid mailbox.\n"
	  " Local mailbox kim@example.ru is unavailable: user not found\n",
	  "kim@example.ru", NULL, NULL },
	{ "a header attached after a rule line is the original's",
	  "From: \"Mail System\" <>\n"
	  "Subject: Mail Error\n",
	  "Your mail cannot be delivered to the following address(es):\n\n"
	  " dylan \"(0), ErrMsg=mail box space not enough, account=dylan \"\n\n"
	  "---- Header of the source mail attached ----\n\n"
	  "From: <chris@example.org>\n"
	  "List-Post: <mailto:list@lists.example.org>\n"
	  "Cc: <list@lists.example.org>\n",
	  "", NULL, NULL },
	{ "an alias cut short by a list archive is none",
	  "From: Mail Delivery System <Mailer-Daemon@mx.example.net>\n"
	  "Subject: Mail delivery failed: returning message to sender\n",
	  EXIM_INTRO
	  "  mona@example.com\n"
	  "    (generated from list@mona...)\n"
	  "    SMTP error from remote mail server after RCPT TO:"
	  "<mona@example.com>:\n"
	  "    550 5.1.1 No such user\n",
	  "mona@example.com", NULL, "550 5.1.1" },
	{ "a domain no host could have, as typed",
	  "From: Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>\n"
	  "Subject: Returned mail: see transcript for details\n",
	  "   ----- The following addresses had permanent fatal errors -----\n"
	  "<nina@#example.net>\n"
	  "    (reason: 550 Host unknown)\n",
	  "nina@#example.net", NULL, "host unknown" },
	{ "no address: nothing made up from links",
	  "From: MAILER-DAEMON@mx.example.net\n"
	  "Subject: Undelivered Mail\n",
	  "Your message could not be delivered.\n"
	  "See <mailto:help@example.net?subject=bounce> for help.\n",
	  "", NULL, NULL },
};

Test(report, notice_recipients)
{
	size_t i, k;

	for (i = 0; i < sizeof notice_cases / sizeof notice_cases[0]; i++) {
		const struct ncase *c = &notice_cases[i];
		struct buf m, got;
		struct report *r;

		buf_init(&m, 1 << 20);
		buf_puts(&m, c->head);
		buf_puts(&m, "To: bounces@platform.example.com\n"
		    "Message-ID: <n1@mx.example.net>\n\n");
		buf_puts(&m, c->body);
		r = report_parse(m.data, m.len, 0);
		buf_init(&got, 1 << 16);
		for (k = 0; k < r->nrcpt; k++) {
			if (k > 0)
				buf_putc(&got, ',');
			buf_puts(&got, r->rcpt[k].address ?
			    r->rcpt[k].address : "-");
		}
		buf_putc(&got, '\0');
		cr_expect_str_eq(got.data, c->want, "%s: got \"%s\"",
		    c->name, got.data);
		if (r->nrcpt > 0 && c->original != NULL)
			cr_expect(r->rcpt[0].original != NULL &&
			    strcmp(r->rcpt[0].original, c->original) == 0,
			    "%s: original %s", c->name, r->rcpt[0].original ?
			    r->rcpt[0].original : "(none)");
		else if (r->nrcpt > 0)
			cr_expect_null(r->rcpt[0].original, "%s: original %s",
			    c->name, r->rcpt[0].original);
		if (r->nrcpt > 0 && c->diag != NULL)
			cr_expect(r->rcpt[0].diagnostic != NULL &&
			    mem_casefind(r->rcpt[0].diagnostic,
			    strlen(r->rcpt[0].diagnostic), c->diag) != NULL,
			    "%s: diagnostic \"%s\"", c->name,
			    r->rcpt[0].diagnostic ? r->rcpt[0].diagnostic :
			    "(none)");
		cr_expect_neq(r->type, REPORT_AUTOREPLY, "%s: auto-reply",
		    c->name);
		assert_clean(r, c->name);
		report_free(&r);
		buf_free(&got);
		buf_free(&m);
	}
}

/*
 * A DSN whose report names nobody (Postfix: "Delivery report
 * unavailable") about a message to one address: that address, of whom
 * nothing is known (undefined); to two, nobody.
 */
/*
 * A bounce forwarded as an attachment (a gateway that wraps the DSN it
 * got, or a person who forwards one): a message that names nobody, whose
 * first part is a delivery report, is read as that report. One level
 * only; a message that names its own recipients is read as it is.
 */
static char *
wrapped(const char *inner_rcpt, const char *outer_type, int twice)
{
	struct buf b;

	buf_init(&b, 1 << 20);
	buf_puts(&b, "From: postmaster@gw.example.net\n"
	    "To: bounces@platform.example.com\n"
	    "Subject: Delivery Status Notification (Failure)\n"
	    "Message-ID: <outer@gw.example.net>\nMIME-Version: 1.0\n");
	buf_printf(&b, "Content-Type: %s; boundary=\"OUT\"\n\n", outer_type);
	if (twice)
		buf_puts(&b, "--OUT\nContent-Type: message/rfc822\n\n"
		    "From: postmaster@gw2.example.net\nMIME-Version: 1.0\n"
		    "Content-Type: multipart/report; "
		    "report-type=delivery-status; boundary=\"MID\"\n\n"
		    "--MID\nContent-Type: text/plain\n\nForwarded.\n\n");
	buf_puts(&b, twice ? "--MID\n" : "--OUT\n");
	buf_puts(&b, "Content-Type: message/rfc822\n\n"
	    "From: Mail Delivery System <MAILER-DAEMON@mx.example.org>\n"
	    "To: bounces@platform.example.com\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "Message-ID: <inner@mx.example.org>\nMIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"IN\"\n\n"
	    "--IN\nContent-Type: text/plain\n\n"
	    "Your message could not be delivered.\n\n"
	    "--IN\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.org\n\n");
	if (inner_rcpt != NULL)
		buf_printf(&b, "Final-Recipient: rfc822; %s\nAction: failed\n"
		    "Status: 5.1.1\n\n", inner_rcpt);
	buf_puts(&b, "--IN\nContent-Type: message/rfc822\n\n"
	    "From: news@platform.example.com\n"
	    "To: zoe@example.org, yan@example.org\n"
	    "Message-ID: <orig-w@platform.example.com>\nSubject: hi\n\n"
	    "hello\n\n--IN--\n");
	if (twice)
		buf_puts(&b, "\n--MID--\n");
	buf_puts(&b, "\n--OUT\nContent-Type: text/plain\n\n"
	    "This message was forwarded by the gateway.\n\n--OUT--\n");
	return buf_steal(&b);
}

Test(report, forwarded_bounce_read_in_place_of_its_wrapper)
{
	char name[64];
	size_t crlf, whole;

	for (crlf = 0; crlf < 2; crlf++)
	for (whole = 0; whole < 2; whole++) {
		char *m = wrapped("zoe@example.org", "multipart/mixed", 0);
		char *none = wrapped(NULL, "multipart/mixed", 0);
		char *deep = wrapped("zoe@example.org", "multipart/mixed", 1);
		struct report *r;

		if (crlf) {
			char *x = to_crlf(m), *y = to_crlf(none),
			    *z = to_crlf(deep);

			free(m);
			free(none);
			free(deep);
			m = x;
			none = y;
			deep = z;
		}
		snprintf(name, sizeof name, "%s%s", crlf ? "crlf" : "lf",
		    whole ? ", whole copy" : "");
		r = whole ? report_parse_whole(m, strlen(m), 0) :
		    report_parse(m, strlen(m), 0);
		cr_assert_eq(r->nrcpt, 1, "%s", name);
		cr_expect_str_eq(r->rcpt[0].address, "zoe@example.org", "%s",
		    name);
		cr_expect_str_eq(r->rcpt[0].status, "5.1.1", "%s", name);
		cr_expect_str_eq(r->orig_message_id,
		    "orig-w@platform.example.com", "%s", name);
		cr_expect_str_eq(r->message_id, "inner@mx.example.org", "%s",
		    name);
		report_free(&r);
		/* the report inside names nobody (and its original went to
		 * two): the wrapper stays */
		r = whole ? report_parse_whole(none, strlen(none), 0) :
		    report_parse(none, strlen(none), 0);
		cr_expect_str_eq(r->message_id, "outer@gw.example.net", "%s",
		    name);
		report_free(&r);
		/* two wrappers: one level only, nothing read through both */
		r = whole ? report_parse_whole(deep, strlen(deep), 0) :
		    report_parse(deep, strlen(deep), 0);
		cr_expect_str_eq(r->message_id, "outer@gw.example.net", "%s",
		    name);
		report_free(&r);
		free(m);
		free(none);
		free(deep);
	}
}

/* A bounce whose returned original happens to be a delivery report is
 * read as itself when it names its recipient. */
Test(report, bounce_of_a_report_is_not_unwrapped)
{
	char *m = make_dsn("Content-Type: message/delivery-status\n\n"
	    "Final-Recipient: rfc822; outer@example.net\nAction: failed\n"
	    "Status: 5.2.2\n\n"
	    "--BB\nContent-Type: message/rfc822\n\n"
	    "From: MAILER-DAEMON@mx.example.org\n"
	    "Content-Type: multipart/report; report-type=delivery-status; "
	    "boundary=\"IN\"\n\n"
	    "--IN\nContent-Type: message/delivery-status\n\n"
	    "Final-Recipient: rfc822; inner@example.org\nAction: failed\n"
	    "Status: 5.1.1\n\n--IN--\n");
	struct report *r = report_parse(m, strlen(m), 0);

	cr_assert_eq(r->nrcpt, 1);
	cr_expect_str_eq(r->rcpt[0].address, "outer@example.net");
	report_free(&r);
	free(m);
}

Test(report, dsn_naming_nobody_gives_the_one_addressee)
{
	static const char head[] =
	    "From: MAILER-DAEMON@mx.example.net (Mail Delivery System)\n"
	    "Subject: Undelivered Mail Returned to Sender\n"
	    "MIME-Version: 1.0\n"
	    "Content-Type: multipart/report; report-type=delivery-status;\n"
	    "\tboundary=\"BB\"\n\n"
	    "--BB\nContent-Type: text/plain\n\n"
	    "I'm sorry to have to inform you that your message could not\n"
	    "be delivered to one or more recipients.\n\n"
	    "\t--- Delivery report unavailable ---\n\n"
	    "--BB\nContent-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.net\n"
	    "X-Postfix-Queue-ID: B1C79423C925\n\n"
	    "--BB\nContent-Type: message/rfc822\n\n"
	    "From: <news@platform.example.com>\n";
	const char *const to[] = { "To: olive@example.org\n",
	    "To: olive@example.org, pat@example.org\n" };
	size_t k;

	for (k = 0; k < 2; k++) {
		struct buf m;
		struct report *r;
		struct verdict v;

		buf_init(&m, 1 << 16);
		buf_puts(&m, head);
		buf_puts(&m, to[k]);
		buf_puts(&m, "Subject: news\n\nhello\n\n--BB--\n");
		r = report_parse(m.data, m.len, 0);
		if (k == 0) {
			cr_assert_eq(r->nrcpt, 1);
			cr_expect_str_eq(r->rcpt[0].address,
			    "olive@example.org");
			cr_expect_str_eq(r->rcpt[0].source, "original-to");
			classify_rcpt(r, 0, &v);
			cr_expect_str_eq(v.reason, "undefined", "rule %s",
			    v.rule);
		} else {
			cr_expect_eq(r->nrcpt, 0, "two addressees: nobody");
		}
		report_free(&r);
		buf_free(&m);
	}
}
