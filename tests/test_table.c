/* test_table.c - terminal widths of UTF-8 text and aligned tables. */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

Test(table, widths)
{
	cr_assert_eq(table_width("abc", 3), 3);
	cr_assert_eq(table_width("été", strlen("été")), 3);
	cr_assert_eq(table_width("e\xcc\x81t\xcc\x81", 6), 2, "combining");
	cr_assert_eq(table_width("日本", strlen("日本")), 4, "wide");
	cr_assert_eq(table_width("\xff" "a", 2), 2, "invalid byte");
	cr_assert_eq(table_width("« prévenu »", strlen("« prévenu »")), 11);
}

/* Column starts of each line, by display width, are the same. */
Test(table, columns_align_with_accents)
{
	static const char *const h[] = { "rôle", "adresse", "prévenu" };
	static const char *const cells[] = {
		"primary", "élodie@exemple.fr", "prévenu le 26/11/2026 (SMS)",
		"secondary", "bob@example.org", "non prévenu : aucun moyen",
	};
	char *buf = NULL, *line, *save = NULL;
	size_t len = 0, n = 0, col2 = 0;
	FILE *f = open_memstream(&buf, &len);

	table_print(f, h, 3, cells, 2, 0);
	fclose(f);
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save), n++) {
		const char *p = n == 1 ? NULL : strstr(line, n == 0 ?
		    "prévenu" : n == 2 ? "prévenu le" : "non prévenu");
		size_t w;

		cr_assert(line[strlen(line) - 1] != ' ', "trailing blank");
		if (p == NULL)
			continue;
		w = table_width(line, (size_t)(p - line));
		if (col2 == 0)
			col2 = w;
		cr_assert_eq(w, col2, "line %zu: column at %zu, want %zu", n,
		    w, col2);
	}
	cr_assert_eq(n, 4, "header, rule, two rows");
	free(buf);
}

Test(table, long_cells_are_cut_and_controls_shown)
{
	static const char *const h[] = { "a", "b" };
	static const char *const cells[] = { "évidemment très long", "x\001y" };
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	table_print(f, h, 2, cells, 1, 6);
	fclose(f);
	cr_assert_not_null(strstr(buf, "évide…"), "%s", buf);
	cr_assert_not_null(strstr(buf, "x?y"), "%s", buf);
	free(buf);
}
