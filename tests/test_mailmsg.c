/*
 * test_mailmsg.c - notification mails: no address, name, subject or
 * template value can add a header (CR/LF injection); RFC 2047 subjects and
 * quoted-printable bodies decode back to the text; templates render
 * strictly.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <jansson.h>
#include <libetpan/libetpan.h>

#include "mailmsg.h"
#include "template.h"

#define T0 ((time_t)1795680000)

static struct mailmsg
base(void)
{
	struct mailmsg m = {
		.from = "noreply@platform.example",
		.from_name = "Plateforme",
		.to = "alice@example.org",
		.subject = "Votre adresse",
		.body = "Bonjour,\n\nUn texte.\n",
		.date = T0,
		.message_id = "rebond.outbox.1.2@platform.example",
	};

	return m;
}

/* The header block of a built message, and its field names in order. */
static size_t
header_names(const char *data, char names[][32], size_t max)
{
	const char *end = strstr(data, "\r\n\r\n"), *p = data;
	size_t n = 0;

	cr_assert_not_null(end, "no end of header");
	while (p < end) {
		const char *eol = strstr(p, "\r\n");
		size_t k;

		cr_assert(eol != NULL && eol <= end);
		cr_assert(memchr(p, '\n', (size_t)(eol - p)) == NULL,
		    "bare LF in the header");
		cr_assert(memchr(p, '\r', (size_t)(eol - p)) == NULL,
		    "bare CR in the header");
		cr_assert((size_t)(eol - p) <= 78, "header line of %d bytes",
		    (int)(eol - p));
		if (*p != ' ' && *p != '\t') {
			for (k = 0; p + k < eol && p[k] != ':' && k < 31; k++)
				names[n][k] = p[k];
			names[n][k] = '\0';
			cr_assert(n + 1 < max);
			n++;
		}
		p = eol + 2;
	}
	return n;
}

static char *
build_ok(const struct mailmsg *m, size_t *len_r)
{
	char err[256], *data;

	cr_assert_eq(mailmsg_build(m, &data, len_r, err, sizeof err), 0,
	    "refused: %s", err);
	cr_assert_eq(strlen(data), *len_r);
	return data;
}

Test(mailmsg, headers_are_exactly_the_expected_ones)
{
	static const char *const want[] = { "From", "To", "Subject", "Date",
		"Message-ID", "MIME-Version", "Content-Type",
		"Content-Transfer-Encoding", "Auto-Submitted" };
	struct mailmsg m = base();
	char names[32][32];
	size_t len, n, i;
	char *data = build_ok(&m, &len);

	n = header_names(data, names, 32);
	cr_assert_eq(n, 9, "%zu header fields", n);
	for (i = 0; i < n; i++)
		cr_assert_str_eq(names[i], want[i]);
	cr_assert_not_null(strstr(data, "From: \"Plateforme\" "
	    "<noreply@platform.example>\r\n"));
	cr_assert_not_null(strstr(data, "To: <alice@example.org>\r\n"));
	cr_assert_not_null(strstr(data,
	    "Date: Thu, 26 Nov 2026 08:00:00 +0000\r\n"));
	cr_assert_not_null(strstr(data, "Message-ID: "
	    "<rebond.outbox.1.2@platform.example>\r\n"));
	cr_assert_not_null(strstr(data, "Auto-Submitted: auto-generated\r\n"));
	cr_assert_not_null(strstr(data,
	    "Content-Type: text/plain; charset=UTF-8\r\n"));
	free(data);
}

/* CR/LF (or any control character) in any header value: refused. */
struct inj {
	char name[40];
	char field[12];		/* from, from_name, to, subject, id */
	char value[80];
};

ParameterizedTestParameters(mailmsg, injection_refused)
{
	static struct inj cases[] = {
		{ "to with CRLF Bcc", "to",
		  "alice@example.org\r\nBcc: evil@attacker.example" },
		{ "to with LF", "to", "alice@example.org\nBcc: x@y.example" },
		{ "to with bare CR", "to", "alice@example.org\rX: y" },
		{ "to with angle", "to", "a@b.example>\r\n" },
		{ "to with space", "to", "alice @example.org" },
		{ "to without @", "to", "alice" },
		{ "from with CRLF", "from",
		  "noreply@platform.example\r\nBcc: e@v.example" },
		{ "name with CRLF", "from_name",
		  "Plateforme\r\nBcc: evil@attacker.example" },
		{ "name with LF", "from_name", "Plate\nforme" },
		{ "name with NUL-like control", "from_name", "Plate\x01" },
		{ "subject with CRLF", "subject",
		  "Bonjour\r\nBcc: evil@attacker.example" },
		{ "subject with TAB", "subject", "a\tb" },
		{ "subject invalid UTF-8", "subject", "caf\xe9" },
		{ "message-id with CRLF", "id", "a@b\r\nBcc: c@d" },
	};

	return cr_make_param_array(struct inj, cases,
	    sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct inj *c, mailmsg, injection_refused)
{
	struct mailmsg m = base();
	char err[256] = "", *data = (char *)"x";
	size_t len = 1;

	if (strcmp(c->field, "to") == 0)
		m.to = c->value;
	else if (strcmp(c->field, "from") == 0)
		m.from = c->value;
	else if (strcmp(c->field, "from_name") == 0)
		m.from_name = c->value;
	else if (strcmp(c->field, "subject") == 0)
		m.subject = c->value;
	else
		m.message_id = c->value;
	cr_assert_eq(mailmsg_build(&m, &data, &len, err, sizeof err), -1,
	    "%s: accepted", c->name);
	cr_assert_null(data, "%s: output on refusal", c->name);
	cr_assert_eq(len, 0, "%s", c->name);
	cr_assert_not_null(strstr(err, "refused"), "%s: %s", c->name, err);
}

/* A value with CR/LF through a template lands in the subject line only. */
Test(mailmsg, template_value_cannot_add_a_header)
{
	char dir[] = "/tmp/rebond-tpl.XXXXXX", path[128], err[256];
	char *subject, *body, *data, names[32][32];
	struct mailmsg m = base();
	json_t *vars = json_object();
	size_t len, n, i;
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/hard.email", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("Subject: Adresse {{address}}\n\nBonjour {{address}}.\n", f);
	fclose(f);
	json_object_set_new(vars, "address", json_string(
	    "a@b.example\r\nBcc: evil@attacker.example\r\n\r\nspam"));
	cr_assert_eq(template_email(dir, "hard", vars, &subject, &body, err,
	    sizeof err), 0, "%s", err);
	cr_assert_null(strpbrk(subject, "\r\n"), "line break in subject");
	m.subject = subject;
	m.body = body;
	data = build_ok(&m, &len);
	n = header_names(data, names, 32);
	cr_assert_eq(n, 9, "a header was added: %zu fields", n);
	for (i = 0; i < n; i++)
		cr_assert_str_neq(names[i], "Bcc");
	free(data);
	free(subject);
	free(body);
	json_decref(vars);
	unlink(path);
	rmdir(dir);
}

/* Decode a header value's encoded words back to UTF-8 (libetpan). */
static char *
decode_words(const char *data, const char *field)
{
	const char *p = strstr(data, field), *e;
	char *raw, *out = NULL;
	size_t idx = 0, k = 0, i;

	cr_assert_not_null(p, "%s missing", field);
	p += strlen(field);
	e = p;
	/* Up to the end of the field, unfolded. */
	while (!(e[0] == '\r' && e[1] == '\n' && e[2] != ' '))
		e++;
	raw = calloc(1, (size_t)(e - p) + 1);
	for (i = 0; p + i < e; i++)
		if (p[i] != '\r' && p[i] != '\n')
			raw[k++] = p[i];
	cr_assert_eq(mailmime_encoded_phrase_parse("us-ascii", raw, k, &idx,
	    "utf-8", &out), MAILIMF_NO_ERROR);
	free(raw);
	return out;
}

Test(mailmsg, utf8_subject_and_name_are_encoded_words)
{
	struct mailmsg m = base();
	const char *subj = "Votre boîte « été » est pleine : libérez de la "
	    "place, même sur un très long sujet qui dépasse une ligne";
	char *data, *back;
	size_t len;

	m.subject = subj;
	m.from_name = "Plateforme Éducation";
	data = build_ok(&m, &len);
	cr_assert_not_null(strstr(data, "Subject: =?UTF-8?B?"));
	back = decode_words(data, "Subject: ");
	cr_assert_str_eq(back, subj);
	free(back);
	back = decode_words(data, "From: ");
	cr_assert_not_null(strstr(back, "Plateforme Éducation"), "%s", back);
	free(back);
	free(data);
}

Test(mailmsg, body_is_quoted_printable_and_decodes_back)
{
	struct mailmsg m = base();
	const char *body = "Bonjour,\n\nVotre boîte est pleine.   \n"
	    ".Une ligne qui commence par un point.\n"
	    "Une très longue ligne, bien plus longue que soixante-seize "
	    "caractères, avec des accents éèà et un signe = égal.\n";
	char *data, *out = NULL, *want;
	const char *b, *p;
	size_t len, idx = 0, outlen = 0, i, k = 0;

	m.body = body;
	data = build_ok(&m, &len);
	b = strstr(data, "\r\n\r\n") + 4;
	for (p = b; *p != '\0'; p = strstr(p, "\r\n") + 2) {
		cr_assert((size_t)(strstr(p, "\r\n") - p) <= 76,
		    "body line over 76 characters");
		for (i = 0; p + i < strstr(p, "\r\n"); i++)
			cr_assert((unsigned char)p[i] < 0x80, "8-bit byte");
	}
	cr_assert_eq(mailmime_part_parse(b, strlen(b), &idx,
	    MAILMIME_MECHANISM_QUOTED_PRINTABLE, &out, &outlen),
	    MAILIMF_NO_ERROR);
	want = calloc(1, 2 * strlen(body) + 1);
	for (i = 0; body[i] != '\0'; i++) {
		if (body[i] == '\n')
			want[k++] = '\r';
		want[k++] = body[i];
	}
	cr_assert_eq(outlen, k, "decoded %zu bytes, want %zu", outlen, k);
	cr_assert(memcmp(out, want, k) == 0, "decoded body differs");
	mailmime_decoded_part_free(out);
	free(want);
	free(data);
}

Test(mailmsg, address_validity)
{
	cr_assert(mailmsg_valid_address("a.b+c@d-e.example"));
	cr_assert(!mailmsg_valid_address("a@b@c"));
	cr_assert(!mailmsg_valid_address("@b.example"));
	cr_assert(!mailmsg_valid_address("a@"));
	cr_assert(!mailmsg_valid_address("a\"b@c.example"));
	cr_assert(!mailmsg_valid_address("é@c.example"));
	cr_assert(!mailmsg_valid_address(NULL));
}

/* Templates: strict placeholders. */
struct tcase {
	char name[40];
	char text[80];
	char want[80];		/* "" : an error */
};

ParameterizedTestParameters(template, render)
{
	static struct tcase cases[] = {
		{ "plain", "Bonjour", "Bonjour" },
		{ "one value", "a {{x}} b", "a X b" },
		{ "number", "{{n}} jours", "7 jours" },
		{ "twice", "{{x}}{{x}}", "XX" },
		{ "value with CRLF, one line", "[{{bad}}]", "[a??b]" },
		{ "unknown", "{{nope}}", "" },
		{ "unterminated", "a {{x", "" },
		{ "bad name", "{{X}}", "" },
		{ "empty name", "{{}}", "" },
		{ "single braces kept", "{x} }}", "{x} }}" },
	};

	return cr_make_param_array(struct tcase, cases,
	    sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct tcase *c, template, render)
{
	json_t *vars = json_object();
	char err[200] = "", *out;

	json_object_set_new(vars, "x", json_string("X"));
	json_object_set_new(vars, "n", json_integer(7));
	json_object_set_new(vars, "bad", json_string("a\r\nb"));
	out = template_render(c->text, strlen(c->text), vars, TEMPLATE_LINE,
	    err, sizeof err);
	if (c->want[0] == '\0') {
		cr_assert_null(out, "%s: rendered '%s'", c->name, out);
		cr_assert(err[0] != '\0', "%s: no reason", c->name);
	} else {
		cr_assert_not_null(out, "%s: %s", c->name, err);
		cr_assert_str_eq(out, c->want, "%s", c->name);
	}
	free(out);
	json_decref(vars);
}

Test(template, shipped_templates_render)
{
	static const char *const mails[] = { "hard", "quota", "spf", "spam",
		"validation", "invitation", "admin_digest", "ops_alert" };
	static const char *const sms[] = { "hard", "quota", "spf", "spam" };
	const char *dir = TEMPLATES_DIR;
	json_t *vars = json_object();
	char err[256], *s, *b;
	size_t i;

	/* Every placeholder any shipped template uses. */
	json_object_set_new(vars, "address", json_string("a@b.example"));
	json_object_set_new(vars, "role", json_string("principale"));
	json_object_set_new(vars, "date", json_string("26/11/2026"));
	json_object_set_new(vars, "platform_url",
	    json_string("https://p.example"));
	json_object_set_new(vars, "token", json_string("abc"));
	json_object_set_new(vars, "deadline", json_string("10/12/2026"));
	json_object_set_new(vars, "count", json_integer(3));
	json_object_set_new(vars, "problems", json_string("- un\n- deux\n"));
	json_object_set_new(vars, "remote", json_string("example.com"));
	json_object_set_new(vars, "first_seen", json_string("x"));
	json_object_set_new(vars, "last_seen", json_string("x"));
	json_object_set_new(vars, "remote_mta", json_string("mx"));
	json_object_set_new(vars, "diagnostic", json_string("550 blocked"));
	json_object_set_new(vars, "renotify_days", json_integer(7));
	for (i = 0; i < sizeof mails / sizeof mails[0]; i++) {
		cr_assert_eq(template_email(dir, mails[i], vars, &s, &b, err,
		    sizeof err), 0, "%s.email: %s", mails[i], err);
		cr_assert(s[0] != '\0' && b[0] != '\0', "%s", mails[i]);
		cr_assert_null(strstr(b, "{{"), "%s: placeholder left",
		    mails[i]);
		free(s);
		free(b);
	}
	for (i = 0; i < sizeof sms / sizeof sms[0]; i++) {
		cr_assert_eq(template_sms(dir, sms[i], vars, &s, err,
		    sizeof err), 0, "%s.sms: %s", sms[i], err);
		cr_assert(strlen(s) <= 480, "%s.sms too long", sms[i]);
		cr_assert_null(strchr(s, '\n'), "%s.sms: line break", sms[i]);
		free(s);
	}
	cr_assert_eq(template_sms(dir, "../etc/passwd", vars, &s, err,
	    sizeof err), -1, "a path as template name");
	cr_assert_eq(template_sms(dir, "missing", vars, &s, err, sizeof err),
	    -1);
	json_decref(vars);
}
