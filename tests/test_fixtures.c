/*
 * test_fixtures.c - every tests/fixtures/NAME.eml against its golden
 * NAME.expected: one line per recipient, "recipient<TAB>reason<TAB>
 * category" ("-" as recipient for a message without one), in order.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "classify.h"
#include "reason.h"
#include "report.h"

#ifndef FIXTURES_DIR
#define FIXTURES_DIR "tests/fixtures"
#endif

/* The fixtures directory: $REBOND_SRCDIR/tests/fixtures, else the one
 * compiled in. */
static void
fixtures_dir(char *out, size_t outsz)
{
	const char *src = getenv("REBOND_SRCDIR");

	if (src != NULL && *src != '\0')
		snprintf(out, outsz, "%s/tests/fixtures", src);
	else
		snprintf(out, outsz, "%s", FIXTURES_DIR);
}

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[8192];
	size_t n;

	if (f == NULL)
		return NULL;
	buf_init(&b, 64 * 1024 * 1024);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	*len_r = b.len;
	return buf_steal(&b);
}

/* What the classifier says about one .eml, in the golden format. */
static char *
verdict_lines(const char *data, size_t len)
{
	struct report *r = report_parse(data, len, 0);
	struct verdict v;
	struct buf out;
	size_t i;

	buf_init(&out, 1024 * 1024);
	if (r->nrcpt == 0) {
		classify_message(r, &v);
		buf_printf(&out, "-\t%s\t%s\n", v.reason,
		    category_name(v.category));
	}
	for (i = 0; i < r->nrcpt; i++) {
		classify_rcpt(r, i, &v);
		buf_printf(&out, "%s\t%s\t%s\n", r->rcpt[i].address ?
		    r->rcpt[i].address : "-", v.reason,
		    category_name(v.category));
	}
	report_free(&r);
	return buf_steal(&out);
}

Test(fixtures, golden_files)
{
	char dir[4096], path[4200], *eml, *want, *got;
	struct dirent *e;
	size_t len, wlen;
	int count = 0;
	DIR *d;

	fixtures_dir(dir, sizeof dir);
	d = opendir(dir);
	cr_assert_not_null(d, "cannot open fixtures directory %s", dir);
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);

		if (nl < 5 || strcmp(e->d_name + nl - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		eml = slurp(path, &len);
		cr_assert_not_null(eml, "%s: unreadable", e->d_name);
		snprintf(path, sizeof path, "%s/%.*s.expected", dir,
		    (int)(nl - 4), e->d_name);
		want = slurp(path, &wlen);
		cr_assert_not_null(want, "%s: no golden file %s", e->d_name,
		    path);
		got = verdict_lines(eml, len);
		cr_expect_str_eq(got, want, "%s:\n got:\n%s want:\n%s",
		    e->d_name, got, want);
		free(got);
		free(want);
		free(eml);
		count++;
	}
	closedir(d);
	cr_assert_gt(count, 0, "no fixtures in %s", dir);
}

/* The same fixtures with CRLF line ends (as IMAP delivers them) give the
 * same verdicts. */
Test(fixtures, crlf_same_as_lf)
{
	char dir[4096], path[4200], *eml, *lf, *crlf;
	struct dirent *e;
	struct buf b;
	size_t len, i;
	DIR *d;

	fixtures_dir(dir, sizeof dir);
	d = opendir(dir);
	cr_assert_not_null(d);
	while ((e = readdir(d)) != NULL) {
		size_t nl = strlen(e->d_name);

		if (nl < 5 || strcmp(e->d_name + nl - 4, ".eml") != 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		eml = slurp(path, &len);
		cr_assert_not_null(eml);
		buf_init(&b, 2 * len + 1);
		for (i = 0; i < len; i++) {
			if (eml[i] == '\n' && (i == 0 || eml[i - 1] != '\r'))
				buf_putc(&b, '\r');
			buf_putc(&b, eml[i]);
		}
		lf = verdict_lines(eml, len);
		crlf = verdict_lines(b.data, b.len);
		cr_expect_str_eq(crlf, lf, "%s: CRLF differs", e->d_name);
		free(lf);
		free(crlf);
		buf_free(&b);
		free(eml);
	}
	closedir(d);
}
