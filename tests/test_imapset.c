/* test_imapset.c - the length of UID sets on a command line (imap.h):
 * imap_setlen_add counts exactly what a set's text takes, and
 * imap_set_span cuts where one command line ends. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "imap.h"

/* The set's text, written out the plain way: runs as "a:b", commas. */
static size_t
set_text(const uint32_t *u, size_t n, char *out, size_t outsz)
{
	size_t i = 0, j, len = 0;

	out[0] = '\0';
	while (i < n) {
		for (j = i; j + 1 < n && u[j + 1] == u[j] + 1; j++)
			continue;
		if (j == i)
			len += (size_t)snprintf(out + len, outsz - len, "%s%u",
			    i ? "," : "", u[i]);
		else
			len += (size_t)snprintf(out + len, outsz - len,
			    "%s%u:%u", i ? "," : "", u[i], u[j]);
		i = j + 1;
	}
	return len;
}

/* Ascending UIDs with gaps of every kind: runs, singles, digit counts
 * changing inside a run (9:10, 99999:100000), the largest UIDs. */
static size_t
make_uids(uint32_t *u, size_t cap, unsigned seed)
{
	uint32_t v = 1;
	size_t n = 0;

	srand(seed);
	while (n < cap) {
		u[n++] = v;
		switch (rand() % 4) {
		case 0:
			v += 1;		/* a run goes on */
			break;
		case 1:
			v += 2 + (uint32_t)(rand() % 9);
			break;
		default:
			v += 1 + (uint32_t)(rand() % 100000);
			break;
		}
		if (n == cap / 2)
			v = UINT32_MAX - (uint32_t)(cap - n) * 3;
	}
	return n;
}

Test(imapset, length_is_the_text_length)
{
	static uint32_t u[20000];
	static char text[20000 * 24];
	unsigned seed;

	for (seed = 1; seed <= 20; seed++) {
		struct imap_setlen sl = { 0, 0, 0 };
		size_t n = make_uids(u, sizeof u / sizeof u[0], seed), k, len;

		for (k = 0; k < n; k++) {
			len = imap_setlen_add(&sl, u[k]);
			if (k % 997 == 0 || k == n - 1)
				cr_assert_eq(len, set_text(u, k + 1, text,
				    sizeof text), "seed %u, %zu uids", seed,
				    k + 1);
		}
	}
	{
		static const uint32_t edge[] = { 9, 10, 99999, 100000,
		    4294967294u, 4294967295u };
		char t[128];

		for (size_t k = 1; k <= 6; k++) {
			struct imap_setlen sl = { 0, 0, 0 };
			size_t len = 0;

			for (size_t i = 0; i < k; i++)
				len = imap_setlen_add(&sl, edge[i]);
			cr_assert_eq(len, set_text(edge, k, t, sizeof t),
			    "%s", t);
		}
	}
}

Test(imapset, span_is_one_command_line)
{
	static uint32_t u[20000];
	static char text[20000 * 24];
	unsigned seed;

	for (seed = 1; seed <= 20; seed++) {
		size_t n = make_uids(u, sizeof u / sizeof u[0], seed), off = 0,
		    k, parts = 0;

		while (off < n) {
			k = imap_set_span(u + off, n - off);
			cr_assert_gt(k, 0);
			cr_assert_leq(set_text(u + off, k, text, sizeof text),
			    IMAP_SET_BYTES);
			/* the next UID would not have fitted */
			if (off + k < n)
				cr_assert_gt(set_text(u + off, k + 1, text,
				    sizeof text), IMAP_SET_BYTES);
			off += k;
			parts++;
		}
		cr_assert_gt(parts, 1, "seed %u: the set fitted in one line",
		    seed);
	}
	/* One long run is one short line. */
	for (size_t i = 0; i < 20000; i++)
		u[i] = (uint32_t)i + 1;
	cr_assert_eq(imap_set_span(u, 20000), 20000);
	cr_assert_eq(imap_set_span(u, 0), 0);
}
