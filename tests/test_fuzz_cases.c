/*
 * test_fuzz_cases.c - every input the fuzzer ever crashed on (and every
 * hostile shape worth keeping) parses and classifies without harm.
 * Run under ./configure --enable-sanitizers to see ASan/UBSan reports.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classify.h"
#include "report.h"

static char *
slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	fclose(f);
	*len_r = (size_t)n;
	return buf;
}

Test(fuzz_cases, every_saved_case_gets_a_verdict)
{
	const char *src = getenv("REBOND_SRCDIR");
	char dir[1024], path[2048];
	struct dirent *de;
	DIR *d;
	int n = 0;

	snprintf(dir, sizeof dir, "%s/tests/fuzz/cases", src ? src : ".");
	d = opendir(dir);
	cr_assert_not_null(d, "%s", dir);
	while ((de = readdir(d)) != NULL) {
		struct report *r;
		struct verdict v;
		size_t len, i;
		char *buf;

		if (de->d_name[0] == '.' || strcmp(de->d_name, "README") == 0)
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		buf = slurp(path, &len);
		r = report_parse(buf, len, 0);
		cr_assert_not_null(r, "%s", de->d_name);
		if (r->nrcpt == 0) {
			classify_message(r, &v);
			cr_assert_not_null(v.rule, "%s", de->d_name);
		}
		for (i = 0; i < r->nrcpt; i++) {
			classify_rcpt(r, i, &v);
			cr_assert_not_null(v.reason, "%s rcpt %zu", de->d_name,
			    i);
			cr_assert_not_null(v.rule, "%s rcpt %zu", de->d_name,
			    i);
		}
		report_free(&r);
		free(buf);
		n++;
	}
	closedir(d);
	cr_assert(n > 0, "no case in %s", dir);
}
