/* table.c - aligned text tables for a terminal (see table.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "strutil.h"
#include "table.h"
#include "xalloc.h"

/* Decode one UTF-8 sequence at s (len > 0): code point, bytes used. */
static size_t
decode(const unsigned char *s, size_t len, unsigned long *cp_r)
{
	size_t n, i;
	unsigned long cp;

	if (s[0] < 0x80) {
		*cp_r = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0) {
		n = 2;
		cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		n = 3;
		cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		n = 4;
		cp = s[0] & 0x07;
	} else {
		*cp_r = '?';
		return 1;
	}
	if (n > len || !utf8_valid((const char *)s, n)) {
		*cp_r = '?';
		return 1;
	}
	for (i = 1; i < n; i++)
		cp = (cp << 6) | (s[i] & 0x3f);
	*cp_r = cp;
	return n;
}

/* Columns of one code point. */
static size_t
cp_width(unsigned long cp)
{
	/* Combining marks, zero-width joiners and variation selectors. */
	if ((cp >= 0x300 && cp <= 0x36f) || (cp >= 0x1ab0 && cp <= 0x1aff) ||
	    (cp >= 0x1dc0 && cp <= 0x1dff) || (cp >= 0x20d0 && cp <= 0x20ff) ||
	    (cp >= 0xfe20 && cp <= 0xfe2f) || (cp >= 0x200b && cp <= 0x200f) ||
	    (cp >= 0xfe00 && cp <= 0xfe0f))
		return 0;
	/* East Asian wide and fullwidth, emoji. */
	if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
	    (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
	    (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
	    (cp >= 0xffe0 && cp <= 0xffe6) ||
	    (cp >= 0x1f300 && cp <= 0x1faff) ||
	    (cp >= 0x20000 && cp <= 0x3fffd))
		return 2;
	return 1;
}

size_t
table_width(const char *s, size_t len)
{
	size_t w = 0, i = 0;
	unsigned long cp;

	while (i < len) {
		i += decode((const unsigned char *)s + i, len - i, &cp);
		w += cp_width(cp);
	}
	return w;
}

/* The longest prefix of s (whole characters) at most maxw wide. */
static size_t
prefix_fitting(const char *s, size_t len, size_t maxw, size_t *w_r)
{
	size_t w = 0, i = 0, n;
	unsigned long cp;

	while (i < len) {
		n = decode((const unsigned char *)s + i, len - i, &cp);
		if (w + cp_width(cp) > maxw)
			break;
		w += cp_width(cp);
		i += n;
	}
	*w_r = w;
	return i;
}

/* The text shown for a cell (new string) and its width. */
static char *
shown(const char *cell, size_t maxw, size_t *w_r)
{
	char *s = str_sanitize(cell ? cell : "", cell ? strlen(cell) : 0,
	    4096), *cut;
	size_t len = strlen(s), w = table_width(s, len), keep;

	if (maxw == 0 || w <= maxw) {
		*w_r = w;
		return s;
	}
	keep = prefix_fitting(s, len, maxw - 1, &w);
	cut = xmalloc(keep + sizeof "…");
	memcpy(cut, s, keep);
	memcpy(cut + keep, "…", sizeof "…");
	free(s);
	*w_r = w + 1;
	return cut;
}

/* Append s padded to width (plus the gap) unless it is the last column. */
static void
put_padded(struct buf *line, const char *s, size_t w, size_t width, int last)
{
	buf_puts(line, s);
	if (last)
		return;
	for (; w < width + 2; w++)
		buf_putc(line, ' ');
}

/* Print a line without its trailing blanks. */
static void
put_line(FILE *out, struct buf *line)
{
	size_t n = line->len;

	while (n > 0 && line->data[n - 1] == ' ')
		n--;
	fwrite(line->data ? line->data : "", 1, n, out);
	fputc('\n', out);
	buf_reset(line);
}

void
table_print(FILE *out, const char *const *headers, size_t ncols,
    const char *const *cells, size_t nrows, size_t maxw)
{
	char **text = xcalloc((nrows + 1) * ncols + 1, sizeof *text);
	size_t *tw = xcalloc((nrows + 1) * ncols + 1, sizeof *tw);
	size_t *width = xcalloc(ncols + 1, sizeof *width);
	struct buf line;
	size_t r, c, i;

	for (r = 0; r <= nrows; r++)
		for (c = 0; c < ncols; c++) {
			i = r * ncols + c;
			text[i] = shown(r == 0 ? headers[c] :
			    cells[(r - 1) * ncols + c], maxw, &tw[i]);
			if (tw[i] > width[c])
				width[c] = tw[i];
		}
	buf_init(&line, 1024 * 1024);
	for (r = 0; r <= nrows; r++) {
		for (c = 0; c < ncols; c++) {
			i = r * ncols + c;
			put_padded(&line, text[i], tw[i], width[c],
			    c + 1 == ncols);
		}
		put_line(out, &line);
		if (r == 0) {
			for (c = 0; c < ncols; c++) {
				for (i = 0; i < width[c]; i++)
					buf_puts(&line, "─");
				if (c + 1 < ncols)
					buf_puts(&line, "  ");
			}
			put_line(out, &line);
		}
	}
	buf_free(&line);
	for (i = 0; i < (nrows + 1) * ncols; i++)
		free(text[i]);
	free(text);
	free(tw);
	free(width);
}
