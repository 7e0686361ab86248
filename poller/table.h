/*
 * table.h - text tables for a terminal (rebond report), aligned by what
 * the eye sees: a UTF-8 character is one column, a combining mark none,
 * a wide (CJK, emoji) character two.
 */
#ifndef REBOND_TABLE_H
#define REBOND_TABLE_H

#include <stddef.h>
#include <stdio.h>

/* Columns that (s, len) takes in a terminal (invalid bytes: one each). */
size_t table_width(const char *s, size_t len);

/*
 * Print headers and nrows rows of ncols cells (row-major; NULL prints as
 * empty) as an aligned table: a header line, a rule, one line per row,
 * columns two spaces apart, no trailing blanks. A cell wider than maxw
 * columns (0: no limit) is cut and ends with "…". Control characters and
 * invalid UTF-8 in cells show as '?'.
 */
void table_print(FILE *out, const char *const *headers, size_t ncols,
    const char *const *cells, size_t nrows, size_t maxw);

#endif
