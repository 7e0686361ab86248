/* test_conf.c - rebond.ini loading, validation and the sample file. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf.h"

static char dir[64];
static char cfg_path[128], pw_path[128];

static void
setup(void)
{
	FILE *f;

	strcpy(dir, "/tmp/rebond-conf.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(cfg_path, sizeof cfg_path, "%s/rebond.ini", dir);
	snprintf(pw_path, sizeof pw_path, "%s/imap.pw", dir);
	f = fopen(pw_path, "w");
	cr_assert_not_null(f);
	fputs("s3cret\n", f);
	fclose(f);
	chmod(pw_path, 0600);
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

/* Write a config: the minimal valid one plus extra lines per section. */
static void
write_cfg(const char *imap_extra, const char *more, mode_t mode)
{
	FILE *f = fopen(cfg_path, "w");

	cr_assert_not_null(f);
	fprintf(f, "[imap]\nhost = imap.example.org\nuser = bounces\n"
	    "password_file = %s\n%s\n[database]\nconninfo = dbname=rebond\n%s",
	    pw_path, imap_extra, more);
	fclose(f);
	chmod(cfg_path, mode);
}

/* Load; return the config and the error text (caller frees). */
static struct config *
load(char **errs_r)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *err = open_memstream(&buf, &len);
	struct config *c = conf_load(cfg_path, err);

	fclose(err);
	*errs_r = buf;
	return c;
}

TestSuite(conf, .init = setup, .fini = teardown);

Test(conf, minimal_file_gets_defaults)
{
	char *errs;
	struct config *c;

	write_cfg("", "", 0600);
	c = load(&errs);
	cr_assert_not_null(c, "errors: %s", errs);
	cr_assert_str_eq(c->imap.ep.host, "imap.example.org");
	cr_assert_eq(c->imap.ep.tls, TLS_IMPLICIT);
	cr_assert_eq(conf_port(&c->imap.ep, 143, 993), 993);
	cr_assert_str_eq(c->imap.folder, "INBOX");
	cr_assert_str_eq(c->imap.archive_folder, "Archive");
	cr_assert_eq(c->imap.batch, 200);
	cr_assert_eq(c->imap.move_group, 10000);
	cr_assert_eq(c->imap.max_message_bytes, 1048576);
	cr_assert_eq(c->policy.validation_days, 14);
	cr_assert_eq(c->policy.invitation_days, 90);
	cr_assert_eq(c->policy.clear_secondary_on_hard, 0);
	cr_assert_null(c->imap.ep.ca_file);
	cr_assert_eq(c->verp.mode, VERP_OFF);
	conf_free(&c);
	cr_assert_null(c);
	free(errs);
}

struct bad_case {
	char imap[96];
	char more[96];
	char want[96];	/* substring of the error text */
};

static const struct bad_case bad_cases[] = {
	{ "colour = blue", "", "[imap] colour: unknown key" },
	{ "", "[imaps]\nhost = x\n", "[imaps]: unknown section" },
	{ "batch = 0", "", "batch = \"0\": expected a whole number from 1" },
	{ "batch = 010", "", "batch = \"010\"" },
	{ "move_group = 0", "", "move_group = \"0\": expected a whole number "
	  "from 1" },
	{ "timeout = 12abc", "", "timeout = \"12abc\"" },
	{ "port = 70000", "", "port = \"70000\"" },
	{ "tls = maybe", "", "tls = \"maybe\": expected one of implicit" },
	{ "tls = none", "", "tls = none: refused for host \"imap.example.org\"" },
	{ "ca_file = certs.pem", "", "ca_file = \"certs.pem\": expected an "
	  "absolute path" },
	{ "ca_file = /nonexistent/ca.pem", "", "/nonexistent/ca.pem" },
	{ "tls_fingerprint = md5:abc", "", "expected sha256:" },
	{ "", "[policy]\nclear_secondary_on_hard = perhaps\n",
	  "clear_secondary_on_hard = \"perhaps\": expected yes or no" },
	{ "", "[smtp]\nhost = smtp.example.org\n", "[smtp] from: required" },
	{ "", "[smtp]\nhost = smtp.example.org\nfrom = a@b.example\n",
	  "[smtp] platform_url: required when [smtp] host is set" },
	{ "", "[smtp]\nhost = smtp.example.org\nfrom = a@b.example\n",
	  "[smtp] admin_to: required when [smtp] host is set" },
	{ "", "[smtp]\nfrom = not an address\n", "expected an email address" },
	{ "", "[verp]\nmode = require\n", "[verp] mode = require needs" },
	{ "", "[smtp]\ntemplates = /nonexistent/tpl\n",
	  "templates = \"/nonexistent/tpl\": No such file" },
	{ "archive_folder = INBOX", "", "must differ from folder" },
	{ "", "[smtp]\nfrom_name = Plateforme \xc9" "ducation\n",
	  "[smtp] from_name: value is not UTF-8" },
};

Test(conf, each_bad_value_is_named)
{
	size_t i;

	for (i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		const struct bad_case *bc = &bad_cases[i];
		char *errs;
		struct config *c;

		write_cfg(bc->imap, bc->more, 0600);
		c = load(&errs);
		cr_assert_null(c, "case %zu (%s%s) loaded", i, bc->imap,
		    bc->more);
		cr_assert_not_null(strstr(errs, bc->want),
		    "case %zu: want \"%s\" in: %s", i, bc->want, errs);
		free(errs);
	}
}

/* A key above the first [section] would be read by nothing. */
Test(conf, key_outside_any_section_is_an_error)
{
	char *errs;
	struct config *c;
	FILE *f = fopen(cfg_path, "w");

	cr_assert_not_null(f);
	fprintf(f, "textfile = /var/lib/rebond.prom\n[imap]\n"
	    "host = imap.example.org\nuser = bounces\npassword_file = %s\n"
	    "[database]\nconninfo = dbname=rebond\n", pw_path);
	fclose(f);
	chmod(cfg_path, 0600);
	c = load(&errs);
	cr_assert_null(c, "loaded");
	cr_assert_not_null(strstr(errs, "textfile: key outside any section"),
	    "%s", errs);
	free(errs);
}

Test(conf, every_error_is_reported_not_just_the_first)
{
	char *errs, *p;
	struct config *c;
	int lines = 0;

	write_cfg("batch = 0\ntimeout = -1\nfoo = 1", "", 0600);
	c = load(&errs);
	cr_assert_null(c);
	for (p = errs; (p = strchr(p, '\n')) != NULL; p++)
		lines++;
	cr_assert_eq(lines, 3, "errors: %s", errs);
	free(errs);
}

Test(conf, tls_none_allowed_for_loopback_only)
{
	char *errs;
	struct config *c;

	write_cfg("tls = none", "", 0600);
	/* host = imap.example.org: refused (above); loopback: accepted. */
	{
		FILE *f = fopen(cfg_path, "w");

		fprintf(f, "[imap]\nhost = 127.0.0.1\nuser = u\n"
		    "password_file = %s\ntls = none\n[database]\n"
		    "conninfo = x\n", pw_path);
		fclose(f);
	}
	c = load(&errs);
	cr_assert_not_null(c, "errors: %s", errs);
	cr_assert_eq(conf_port(&c->imap.ep, 143, 993), 143);
	conf_free(&c);
	free(errs);
	cr_assert(conf_host_is_loopback("localhost"));
	cr_assert(conf_host_is_loopback("127.1.2.3"));
	cr_assert(conf_host_is_loopback("::1"));
	cr_assert(!conf_host_is_loopback("128.0.0.1"));
	cr_assert(!conf_host_is_loopback("localhost.example.org"));
}

Test(conf, readable_config_or_password_file_is_refused)
{
	char *errs;
	struct config *c;

	write_cfg("", "", 0644);
	c = load(&errs);
	cr_assert_null(c);
	cr_assert_not_null(strstr(errs, "mode 0644 lets group or others"),
	    "%s", errs);
	free(errs);

	write_cfg("", "", 0600);
	chmod(pw_path, 0640);
	c = load(&errs);
	cr_assert_null(c);
	cr_assert_not_null(strstr(errs, "imap.pw: mode 0640"), "%s", errs);
	free(errs);
	cr_assert_null(conf_read_secret(pw_path, stderr));
	chmod(pw_path, 0600);
	{
		char *pw = conf_read_secret(pw_path, stderr);

		cr_assert_str_eq(pw, "s3cret");
		free(pw);
	}
}

/* What the README says about ';' and '#' in values. */
Test(conf, quoted_value_keeps_comment_characters)
{
	char *errs;
	struct config *c;

	write_cfg("", "[smtp]\nfrom_name = \"Plateforme #1; Paris\"\n"
	    "platform_url = https://x.example/#/home\n", 0600);
	c = load(&errs);
	cr_assert_not_null(c, "%s", errs);
	cr_assert_str_eq(c->smtp.from_name, "Plateforme #1; Paris");
	cr_assert_str_eq(c->smtp.platform_url, "https://x.example/");
	conf_free(&c);
	free(errs);
}

/* check-config reads every secret file, as the user it runs as. */
Test(conf, check_files_reads_the_secrets)
{
	char *errs;
	struct config *c;
	FILE *f;

	write_cfg("", "", 0600);
	c = load(&errs);
	cr_assert_not_null(c, "%s", errs);
	free(errs);
	f = open_memstream(&errs, &(size_t){ 0 });
	cr_assert_eq(conf_check_files(c, f), 0);
	fclose(f);
	cr_assert_str_empty(errs);
	free(errs);
	/* A metrics directory that does not exist. */
	conf_free(&c);
	write_cfg("", "[metrics]\ntextfile = /nonexistent/dir/rebond.prom\n",
	    0600);
	c = load(&errs);
	cr_assert_not_null(c, "%s", errs);
	free(errs);
	f = open_memstream(&errs, &(size_t){ 0 });
	cr_assert_eq(conf_check_files(c, f), 1);
	fclose(f);
	cr_assert_not_null(strstr(errs, "directory /nonexistent/dir: No such "
	    "file"), "%s", errs);
	free(errs);
	f = fopen(pw_path, "w");	/* emptied, mode kept */
	cr_assert_not_null(f);
	fclose(f);
	f = open_memstream(&errs, &(size_t){ 0 });
	cr_assert_eq(conf_check_files(c, f), 2);
	fclose(f);
	cr_assert_not_null(strstr(errs, "imap.pw: empty"), "%s", errs);
	free(errs);
	conf_free(&c);
}

/* A short VERP key is refused: whoever guesses it signs every tag. */
Test(conf, verp_secret_has_a_minimum_length)
{
	char path[160];
	FILE *f;
	char *k;

	snprintf(path, sizeof path, "%s/verp.key", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("x\n", f);
	fclose(f);
	chmod(path, 0600);
	f = open_memstream(&k, &(size_t){ 0 });
	cr_assert_null(conf_read_verp_secret(path, f));
	fclose(f);
	cr_assert_not_null(strstr(k, "1 bytes is too short (16 at least"),
	    "%s", k);
	free(k);
	f = fopen(path, "w");
	fputs("0123456789abcdef\n", f);
	fclose(f);
	k = conf_read_verp_secret(path, stderr);
	cr_assert_str_eq(k, "0123456789abcdef");
	free(k);
}

Test(conf, errors_never_show_the_password)
{
	char *errs;
	struct config *c;

	write_cfg("batch = x", "", 0600);
	c = load(&errs);
	cr_assert_null(c);
	cr_assert_null(strstr(errs, "s3cret"));
	free(errs);
}

/* etc/rebond.ini.sample is generated from the table: they must agree. */
Test(conf, sample_file_matches_the_table)
{
	char path[512], *want = NULL, *got = NULL;
	size_t wl = 0, gl = 0;
	const char *src = getenv("REBOND_SRCDIR");
	FILE *f, *out;
	int c;

	snprintf(path, sizeof path, "%s/etc/rebond.ini.sample",
	    src ? src : ".");
	f = fopen(path, "r");
	cr_assert_not_null(f, "cannot open %s", path);
	out = open_memstream(&want, &wl);
	while ((c = fgetc(f)) != EOF)
		fputc(c, out);
	fclose(out);
	fclose(f);
	out = open_memstream(&got, &gl);
	conf_write_sample(out);
	fclose(out);
	cr_assert_str_eq(got, want, "regenerate etc/rebond.ini.sample with "
	    "`rebond check-config --sample`");
	free(want);
	free(got);
}
