/* test_strutil.c - parse_uint, buffers with a ceiling, sanitizing. */
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <string.h>

#include "buf.h"
#include "strutil.h"

struct uint_case {
	char in[24];
	unsigned long long min, max;
	int ok;
	unsigned long long want;
};

ParameterizedTestParameters(strutil, parse_uint)
{
	static struct uint_case cases[] = {
		{ "0", 0, 10, 1, 0 },
		{ "10", 0, 10, 1, 10 },
		{ "11", 0, 10, 0, 0 },
		{ "010", 0, 100, 0, 0 },	/* no octal, no leading zero */
		{ "0x10", 0, 100, 0, 0 },
		{ "12abc", 0, 100, 0, 0 },
		{ "-1", 0, 100, 0, 0 },
		{ " 1", 0, 100, 0, 0 },
		{ "", 0, 100, 0, 0 },
		{ "5", 6, 100, 0, 0 },
		{ "18446744073709551615", 0, ~0ULL, 1, ~0ULL },
		{ "18446744073709551616", 0, ~0ULL, 0, 0 },
	};
	return cr_make_param_array(struct uint_case, cases,
	    sizeof cases / sizeof cases[0]);
}

ParameterizedTest(struct uint_case *c, strutil, parse_uint)
{
	unsigned long long v = 4242;
	int rc = parse_uint(c->in, c->min, c->max, &v);

	cr_assert_eq(rc == 0, c->ok, "'%s': rc %d", c->in, rc);
	cr_assert_eq(v, c->ok ? c->want : 4242, "'%s': value %llu", c->in, v);
}

Test(strutil, buf_ceiling_truncates_visibly)
{
	struct buf b;

	buf_init(&b, 5);
	cr_assert_eq(buf_puts(&b, "abc"), 0);
	cr_assert_eq(buf_puts(&b, "defg"), -1);
	cr_assert_str_eq(b.data, "abcde");
	cr_assert(b.truncated);
	cr_assert_eq(buf_printf(&b, "%d", 1), -1);
	cr_assert_eq(b.len, 5);
	buf_free(&b);
}

Test(strutil, sanitize_controls_and_bad_utf8)
{
	char *s = str_sanitize("a\r\nb\0c\xff\tz\xc3\xa9", 11, 100);

	cr_assert_str_eq(s, "a??b?c? z\xc3\xa9");
	free(s);
	/* Never cut a UTF-8 sequence in half. */
	s = str_sanitize("ab\xc3\xa9", 4, 3);
	cr_assert_str_eq(s, "ab");
	free(s);
}

Test(strutil, casefind)
{
	const char hay[] = "Diagnostic: USER Unknown\0after";

	cr_assert_eq(mem_casefind(hay, sizeof hay - 1, "user unknown"), hay + 12);
	cr_assert_eq(mem_casefind(hay, sizeof hay - 1, "after"), hay + 25);
	cr_assert_null(mem_casefind(hay, 10, "unknown"));
	cr_assert(utf8_valid("\xc3\xa9", 2));
	cr_assert(!utf8_valid("\xc0\xaf", 2));	/* overlong */
	cr_assert(!utf8_valid("\xed\xa0\x80", 3));	/* surrogate */
}

/* The eight-bytes-at-a-time path of sanitize agrees with the slow one,
 * wherever the odd byte falls and whatever the ceiling. */
Test(strutil, sanitize_long_runs)
{
	char in[64], want[64];
	size_t pos, max;

	for (pos = 0; pos < 40; pos++)
		for (max = 1; max < 40; max += 7) {
			char *s;
			size_t k;

			memset(in, 'x', sizeof in);
			in[pos] = pos % 3 == 0 ? '\n' : pos % 3 == 1 ?
			    (char)0x7f : (char)0xff;
			for (k = 0; k < 40 && k < max; k++)
				want[k] = k == pos ? '?' : 'x';
			want[k] = '\0';
			s = str_sanitize(in, 40, max);
			cr_expect_str_eq(s, want, "pos %zu max %zu", pos, max);
			free(s);
		}
	{
		char *t = str_sanitize_text("abcdefgh\r\nijklmnop\tq", 20, 100);

		cr_expect_str_eq(t, "abcdefgh\nijklmnop q");
		free(t);
	}
}

Test(strutil, buf_reserve_keeps_the_ceiling)
{
	struct buf b;

	buf_init(&b, 10);
	buf_reserve(&b, 1000);
	cr_assert_leq(b.cap, 64, "reserved past the ceiling: %zu", b.cap);
	cr_assert_eq(buf_puts(&b, "0123456789abc"), -1);
	cr_assert_eq(b.len, 10);
	buf_free(&b);
	buf_init(&b, 1 << 20);
	buf_reserve(&b, 5000);
	cr_assert_geq(b.cap, 5001);
	cr_assert_eq(buf_puts(&b, "x"), 0);
	buf_free(&b);
}
