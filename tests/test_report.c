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
#include "hdr.h"
#include "report.h"
#include "report_int.h"
#include "strutil.h"

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
	cr_assert_str_eq(r->rcpt[0].original, "alice@example.com");
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

Test(report, crlf_equals_lf)
{
	char *m = make_dsn(
	    "Content-Type: message/delivery-status\n\n"
	    "Reporting-MTA: dns; mx.example.net\n\n"
	    "Final-Recipient: rfc822; bob@example.org\n"
	    "Action: failed\nStatus: 5.2.2\n"
	    "Diagnostic-Code: smtp; 552 5.2.2 Mailbox\n full\n");
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
	cr_expect_str_eq(r->rcpt[0].original, "o'neil+x@example.com");
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
