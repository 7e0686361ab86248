/* test_strutil.c - parse_uint, buffers with a ceiling, sanitizing. */
#include <ctype.h>
#include <criterion/criterion.h>
#include <criterion/parameterized.h>
#include <stdlib.h>
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

/* A naive case-insensitive search, to check the fast one against. */
static const char *
naive_casefind(const char *hay, size_t hlen, const char *needle)
{
	size_t nlen = strlen(needle), i, j;

	for (i = 0; i + nlen <= hlen; i++) {
		for (j = 0; j < nlen; j++)
			if (tolower((unsigned char)hay[i + j]) !=
			    tolower((unsigned char)needle[j]))
				break;
		if (j == nlen)
			return hay + i;
	}
	return NULL;
}

/* The sixteen-starts-at-once search agrees with a naive one wherever the
 * needle falls (across and at the ends of the 16-byte blocks), whatever
 * its length, with first/last-byte decoys around it and a haystack cut
 * short before the end of a match. */
Test(strutil, casefind_blocks)
{
	static const char *const needles[] = {
		"u", "Us", "USER", "user unknown", "-x:", "u\xc3\xa9u",
	};
	char hay[80];
	size_t k, pos, cut;

	for (k = 0; k < sizeof needles / sizeof needles[0]; k++)
		for (pos = 0; pos < 50; pos++)
			for (cut = 0; cut <= sizeof hay; cut += 7) {
				size_t nl = strlen(needles[k]), i;
				const char *want, *got;

				for (i = 0; i < sizeof hay; i++)
					hay[i] = "uxsrUXn -"[i % 9];
				memcpy(hay + pos, needles[k], nl);
				want = naive_casefind(hay, cut, needles[k]);
				got = mem_casefind(hay, cut, needles[k]);
				cr_assert_eq(got, want, "needle %s at %zu, hay "
				    "cut at %zu", needles[k], pos, cut);
			}
}

/* The eight-bytes-at-a-time prefix test agrees with tolower() byte by
 * byte: every byte value at every offset of prefixes of 1 to 32 bytes
 * (the byte loop below eight, one to four blocks from eight, the last
 * overlapping), the text cut short anywhere. Only the 26 ASCII letters
 * fold: not @ [ ` {, which differ from a letter or each other by the
 * same bit, nor bytes from 0x80 (0xc1 and 0xe1 do too). */
Test(strutil, caseprefix_blocks)
{
	static const char *const prefixes[] = {
		"abcdefghijklmnopqrstuvwxyz@[`{-:",
		"@[`{\xe1\xda:-abcdefghijklmnopqrstuvwxyz",
		"z{\xfa`a@\xc1[",
	};
	size_t k, n, pos, cut;
	int c;

	for (k = 0; k < sizeof prefixes / sizeof prefixes[0]; k++)
		for (n = 1; n <= 32 && n <= strlen(prefixes[k]); n++) {
			char p[33], up[33], s[33];

			memcpy(p, prefixes[k], n);
			p[n] = '\0';
			for (pos = 0; pos <= n; pos++)
				up[pos] = (char)toupper((unsigned char)p[pos]);
			for (pos = 0; pos < n; pos++)
				for (c = 0; c < 256; c++) {
					unsigned char d = (unsigned char)p[pos];
					int want = c == d || (isalpha(c) &&
					    tolower(c) == tolower(d));

					memcpy(s, up, sizeof s);
					s[pos] = (char)c;
					cr_assert_eq(mem_caseprefix(s, n, p), want,
					    "byte 0x%02x for 0x%02x, %zu bytes of "
					    "prefix %zu", c, d, n, k);
				}
			for (cut = 0; cut < n; cut++)
				cr_assert_eq(mem_caseprefix(up, cut, p), 0,
				    "%zu bytes of %zu", cut, n);
			cr_assert(mem_caseprefix(up, n, p));
		}
	cr_assert(mem_caseprefix("Content-Type: x", 15, "content-type:"));
	cr_assert(!mem_caseprefix("Content-Typo: x", 15, "content-type:"));
	cr_assert(mem_caseprefix("", 0, ""));
}

/* The sixteen-at-a-time run of what JSON holds as it is ends where a
 * byte-by-byte one does: every byte value at every offset of 40 bytes
 * (across and at the ends of the 16-byte blocks), cut anywhere. */
Test(strutil, json_plain_blocks)
{
	char s[40];
	size_t pos, cut;
	int c;

	for (pos = 0; pos < sizeof s; pos++)
		for (c = 0; c < 256; c++) {
			int plain = c >= 0x20 && c < 0x7f && c != '"' &&
			    c != '\\';

			memset(s, 'a', sizeof s);
			s[pos] = (char)c;
			for (cut = 0; cut <= sizeof s; cut += cut < pos + 2 ?
			    1 : 7) {
				size_t want = !plain && pos < cut ? pos : cut;

				cr_assert_eq(mem_json_plain(s, cut), want,
				    "byte 0x%02x at %zu, %zu bytes", c, pos,
				    cut);
			}
		}
	cr_assert_eq(mem_json_plain("plain text ~", 12), 12);
	cr_assert_eq(mem_json_plain("a\"b", 3), 1);
}

/* Counting sixteen bytes at a time agrees with counting one by one: at
 * every length up to 70, and past 255 blocks of sixteen (where a byte's
 * count would wrap) with every byte the one counted. */
Test(strutil, count_blocks)
{
	static char big[10000];
	char s[70];
	size_t len, i, want;

	for (len = 0; len <= sizeof s; len++) {
		for (i = 0; i < len; i++)
			s[i] = "\nab\n\ncd"[(i * 7 + len) % 7];
		for (want = 0, i = 0; i < len; i++)
			want += s[i] == '\n';
		cr_assert_eq(mem_count(s, len, '\n'), want, "%zu bytes", len);
	}
	memset(big, '\n', sizeof big);
	cr_assert_eq(mem_count(big, sizeof big, '\n'), sizeof big);
	cr_assert_eq(mem_count(big, 4097, '\n'), 4097);
	big[4095] = 'x';
	cr_assert_eq(mem_count(big, sizeof big, '\n'), sizeof big - 1);
	cr_assert_eq(mem_count(big, sizeof big, 'x'), 1);
	cr_assert_eq(mem_count("\xff\xff", 2, 0xff), 2);
}

/* The eight-ASCII-bytes-at-a-time path of utf8_valid: a bad or a good
 * sequence anywhere around the block edges. */
Test(strutil, utf8_valid_blocks)
{
	char s[40];
	size_t pos;

	for (pos = 0; pos + 3 <= sizeof s; pos++) {
		memset(s, 'a', sizeof s);
		memcpy(s + pos, "\xe2\x82\xac", 3);	/* euro sign */
		cr_assert(utf8_valid(s, sizeof s), "good at %zu", pos);
		cr_assert(!utf8_valid(s, pos + 2), "cut at %zu", pos);
		s[pos + 1] = 'a';
		cr_assert(!utf8_valid(s, sizeof s), "bad at %zu", pos);
	}
}

/* Code points and lengths; overlongs, surrogates, past U+10FFFF, stray
 * continuation bytes and cut sequences are 0. */
Test(strutil, utf8_decode_table)
{
	static const struct {
		const char *s;
		size_t len, want;
		unsigned cp;
	} t[] = {
		{ "A", 1, 1, 0x41 },
		{ "\xc3\xa9", 2, 2, 0xe9 },			/* é */
		{ "\xe2\x82\xac", 3, 3, 0x20ac },		/* € */
		{ "\xf0\x9f\x98\x80", 4, 4, 0x1f600 },
		{ "\xf4\x8f\xbf\xbf", 4, 4, 0x10ffff },
		{ "\xc0\xaf", 2, 0, 0 },			/* overlong '/' */
		{ "\xe0\x80\xaf", 3, 0, 0 },		/* overlong */
		{ "\xf0\x80\x80\xaf", 4, 0, 0 },		/* overlong */
		{ "\xed\xa0\x80", 3, 0, 0 },		/* surrogate */
		{ "\xf4\x90\x80\x80", 4, 0, 0 },		/* > U+10FFFF */
		{ "\x80", 1, 0, 0 },				/* continuation */
		{ "\xe2\x82", 2, 0, 0 },			/* cut */
		{ "\xe2\x28\xac", 3, 0, 0 },		/* bad second */
	};
	size_t i;

	for (i = 0; i < sizeof t / sizeof t[0]; i++) {
		unsigned cp = 0xdead;
		size_t n = utf8_decode((const unsigned char *)t[i].s, t[i].len,
		    &cp);

		cr_assert_eq(n, t[i].want, "case %zu: length %zu", i, n);
		if (n > 0)
			cr_assert_eq(cp, t[i].cp, "case %zu: U+%04X", i, cp);
	}
}

Test(strutil, find3)
{
	char s[70];
	size_t pos;

	memset(s, 'a', sizeof s);
	cr_assert_eq(mem_find3(s, sizeof s, '=', '\n', '\r'), sizeof s);
	cr_assert_eq(mem_find3(s, 0, 'a', 'a', 'a'), 0);
	for (pos = 0; pos < sizeof s; pos++) {
		memset(s, 'a', sizeof s);
		s[pos] = '\r';
		if (pos + 3 < sizeof s)
			s[pos + 3] = '=';
		cr_assert_eq(mem_find3(s, sizeof s, '=', '\n', '\r'), pos,
		    "at %zu", pos);
		cr_assert_eq(mem_find3(s, pos, '=', '\n', '\r'), pos,
		    "cut at %zu", pos);
	}
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
			/* (the bytes either side of the printable range,
			 * as signed bytes too) */
			in[pos] = "\n\x7f\xff\x80\x1f\x00"[pos % 6];
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
	/* Text: line feeds kept in the eight-byte blocks, anything else
	 * below 0x20 still looked at one byte at a time. */
	for (pos = 0; pos < 40; pos++)
		for (max = 1; max < 40; max += 7) {
			char *s;
			size_t k, o = 0;

			memset(in, 'x', sizeof in);
			in[pos] = "\n\r\t\x01"[pos % 4];
			in[(pos + 9) % 40] = '\n';
			for (k = 0; k < 40 && o < max; k++) {
				if (in[k] == '\r')
					continue;
				want[o++] = in[k] == '\t' ? ' ' : in[k] ==
				    '\x01' ? '?' : in[k];
			}
			want[o] = '\0';
			s = str_sanitize_text(in, 40, max);
			cr_expect_str_eq(s, want, "text: pos %zu max %zu", pos,
			    max);
			free(s);
		}
}

/* Appends of every size across the buffer's growth and up to its
 * ceiling: each the bytes it should, NUL-terminated, -1 once cut. */
Test(strutil, buf_appends_across_growth)
{
	char src[300], want[300];
	size_t max, n, len, i;
	struct buf b;

	for (i = 0; i < sizeof src; i++)
		src[i] = (char)('a' + i % 26);
	for (max = 0; max < 200; max += 7)
		for (n = 0; n < 70; n++) {
			buf_init(&b, max);
			cr_assert_eq(buf_append(&b, NULL, 0), 0);
			for (len = 0, i = 0; i < 300 / (n + 1); i++) {
				size_t fit = n < max - len ? n : max - len;
				int rc = n == 1 ? buf_putc(&b, src[len]) :
				    buf_append(&b, src + len, n);

				memcpy(want + len, src + len, fit);
				len += fit;
				cr_assert_eq(rc, fit == n ? 0 : -1,
				    "max %zu n %zu", max, n);
				cr_assert_eq(b.len, len);
				cr_assert_eq(b.truncated,
				    len == max && fit < n);
				if (b.data != NULL)
					cr_assert(memcmp(b.data, want, len) ==
					    0 && b.data[len] == '\0');
				if (len == max)
					break;
			}
			buf_free(&b);
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

/* Address keys: the way sql/009's rebond.addr_key compares (live_policy
 * addresses_match_by_one_key checks the two agree on a database). */
Test(strutil, address_keys)
{
	static const struct {
		const char *in, *key;
	} cases[] = {
		{ "Ann@Example.ORG", "ann@example.org" },
		{ " \t\r\n\v\fann@example.org \t\r\n\v\f", "ann@example.org" },
		{ "ÉLODIE@Exemple.fr", "Élodie@exemple.fr" },	/* É stays */
		{ "a b@x.example", "a b@x.example" },	/* inner blanks stay */
		{ " \t ", "" },
		{ "", "" },
	};
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *k = addr_key(cases[i].in);

		cr_assert_str_eq(k, cases[i].key, "addr_key(\"%s\")",
		    cases[i].in);
		free(k);
	}
	cr_assert_null(addr_key(NULL));
	cr_assert(addr_same(" Ann@Example.org\t", "ann@example.ORG"));
	cr_assert(addr_same("ann@example.org\r\n", "ANN@EXAMPLE.ORG"));
	cr_assert_not(addr_same("élodie@exemple.fr", "Élodie@exemple.fr"));
	cr_assert_not(addr_same("ann@example.org", "ann@example.org."));
	cr_assert_not(addr_same("ann@example.org", "nn@example.org"));
	/* No address is the same as no other. */
	cr_assert_not(addr_same("", ""));
	cr_assert_not(addr_same(" ", "\t"));
	cr_assert_not(addr_same(NULL, NULL));
	cr_assert_not(addr_same(NULL, "ann@example.org"));
}
