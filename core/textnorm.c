/* textnorm.c - text normalization for the rules (see textnorm.h). */
#include <stdint.h>
#include <string.h>

#include "strutil.h"
#include "textnorm.h"

/*
 * Folding of U+00A0..U+017F (Latin-1 Supplement and Latin Extended-A) to
 * ASCII, indexed by code point - 0xA0. "" drops the character, NULL keeps
 * it as it is. Lowercase forms only: uppercase letters fold to the same
 * ASCII letters, which are then lowercased.
 */
static const char *const latin[0x180 - 0xa0] = {
	/* A0 */ " ", "!", "c", "l", "", "y", "|", "s", "", "(c)", "a", "\"",
	"", "-", "(r)", "",
	/* B0 */ "", "", "2", "3", "'", "u", "", ".", "", "1", "o", "\"",
	"", "", "", "?",
	/* C0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e",
	"i", "i", "i", "i",
	/* D0 */ "d", "n", "o", "o", "o", "o", "o", "x", "o", "u", "u", "u",
	"u", "y", "th", "ss",
	/* E0 */ "a", "a", "a", "a", "a", "a", "ae", "c", "e", "e", "e", "e",
	"i", "i", "i", "i",
	/* F0 */ "d", "n", "o", "o", "o", "o", "o", "/", "o", "u", "u", "u",
	"u", "y", "th", "y",
	/* 100 */ "a", "a", "a", "a", "a", "a", "c", "c", "c", "c", "c", "c",
	"c", "c", "d", "d",
	/* 110 */ "d", "d", "e", "e", "e", "e", "e", "e", "e", "e", "e", "e",
	"g", "g", "g", "g",
	/* 120 */ "g", "g", "g", "g", "h", "h", "h", "h", "i", "i", "i", "i",
	"i", "i", "i", "i",
	/* 130 */ "i", "i", "ij", "ij", "j", "j", "k", "k", "k", "l", "l", "l",
	"l", "l", "l", "l",
	/* 140 */ "l", "l", "l", "n", "n", "n", "n", "n", "n", "n", "n", "n",
	"o", "o", "o", "o",
	/* 150 */ "o", "o", "oe", "oe", "r", "r", "r", "r", "r", "r", "s", "s",
	"s", "s", "s", "s",
	/* 160 */ "s", "s", "t", "t", "t", "t", "t", "t", "u", "u", "u", "u",
	"u", "u", "u", "u",
	/* 170 */ "u", "u", "u", "u", "w", "w", "y", "y", "y", "z", "z", "z",
	"z", "z", "z", "s",
};

/* Replacement for code points outside Latin-1/Extended-A, or NULL. */
static const char *
fold_other(unsigned cp)
{
	switch (cp) {
	case 0x2018: case 0x2019: case 0x201b: case 0x2032:
		return "'";
	case 0x201c: case 0x201d: case 0x201e: case 0x2033:
		return "\"";
	case 0x2010: case 0x2011: case 0x2012: case 0x2013: case 0x2014:
	case 0x2015: case 0x2212:
		return "-";
	case 0x2026:
		return "...";
	case 0x2002: case 0x2003: case 0x2009: case 0x200a: case 0x202f:
	case 0x3000: case 0xfeff: case 0x200b:
		return " ";
	}
	return NULL;
}

/* What each ASCII byte becomes: lowercase, 0 for white space and
 * controls. */
static const unsigned char ascii[128] = {
	[' '] = 0,
#define R(c) [c] = c
	R('!'), R('"'), R('#'), R('$'), R('%'), R('&'), R('\''), R('('),
	R(')'), R('*'), R('+'), R(','), R('-'), R('.'), R('/'),
	R('0'), R('1'), R('2'), R('3'), R('4'), R('5'), R('6'), R('7'),
	R('8'), R('9'), R(':'), R(';'), R('<'), R('='), R('>'), R('?'),
	R('@'), R('['), R('\\'), R(']'), R('^'), R('_'), R('`'),
	R('a'), R('b'), R('c'), R('d'), R('e'), R('f'), R('g'), R('h'),
	R('i'), R('j'), R('k'), R('l'), R('m'), R('n'), R('o'), R('p'),
	R('q'), R('r'), R('s'), R('t'), R('u'), R('v'), R('w'), R('x'),
	R('y'), R('z'), R('{'), R('|'), R('}'), R('~'),
#undef R
#define U(c) [c] = c + 32
	U('A'), U('B'), U('C'), U('D'), U('E'), U('F'), U('G'), U('H'),
	U('I'), U('J'), U('K'), U('L'), U('M'), U('N'), U('O'), U('P'),
	U('Q'), U('R'), U('S'), U('T'), U('U'), U('V'), U('W'), U('X'),
	U('Y'), U('Z'),
#undef U
};

/*
 * Are the eight bytes of w (in memory order) printable ASCII or spaces,
 * with no two spaces side by side, and not a space first after one
 * (space)? Then normalizing them only lowercases them.
 */
static int
plain8(uint64_t w, int space)
{
	const uint64_t ones = 0x0101010101010101ULL;
	const uint64_t high = 0x8080808080808080ULL;
	uint64_t z, sp;
	unsigned char first;

	/* a byte below 0x20, at 0x7f or above */
	if (((w - 0x20 * ones) | (w + ones) | w) & high)
		return 0;
	/* the spaces, exactly (high bit of each byte that is one) */
	z = w ^ 0x20 * ones;
	sp = ~(((z & 0x7f * ones) + 0x7f * ones) | z | 0x7f * ones);
	/* two spaces side by side, whatever the byte order */
	if ((sp & (sp << 8)) || (sp & (sp >> 8)))
		return 0;
	memcpy(&first, &w, 1);
	return !(space && first == ' ');
}

size_t
textnorm(const char *s, size_t n, char *out, size_t outsz)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, o = 0, len, k;
	unsigned cp;
	int space = 1;	/* drop leading white space */
	const char *rep;

	if (outsz == 0)
		return 0;
	while (i < n) {
		/* Eight bytes of printable ASCII with single spaces, not a
		 * space after a space: lowercased as they are. */
		if (i + 8 <= n && o + 8 < outsz) {
			uint64_t w, m, up;

			memcpy(&w, s + i, 8);
			if (plain8(w, space)) {
				/* bytes from 'A' to 'Z' get 0x20 */
				up = (w + 0x3f3f3f3f3f3f3f3fULL) &
				    ~(w + 0x2525252525252525ULL) &
				    0x8080808080808080ULL;
				w |= up >> 2;
				memcpy(out + o, &w, 8);
				o += 8;
				i += 8;
				m = (unsigned char)s[i - 1];
				space = m == ' ';
				continue;
			}
		}
		/* ASCII, the common case: a table says what each byte
		 * becomes (0: white space or a control). */
		if (u[i] < 0x80) {
			unsigned char m = ascii[u[i]];

			if (m != 0) {
				if (o + 1 >= outsz)
					break;
				out[o++] = (char)m;
				space = 0;
			} else if (!space && o + 1 < outsz) {
				out[o++] = ' ';
				space = 1;
			}
			i++;
			continue;
		}
		len = utf8_decode(u + i, n - i, &cp);
		if (len == 0 || cp < 0x20 || cp == 0x7f || cp == ' ') {
			/* White space, controls, invalid bytes: one space. */
			i += len ? len : 1;
			if (!space && o + 1 < outsz) {
				out[o++] = ' ';
				space = 1;
			}
			continue;
		}
		rep = NULL;
		if (cp >= 0xa0 && cp < 0x180)
			rep = latin[cp - 0xa0];
		else if (cp >= 0x180)
			rep = fold_other(cp);
		if (cp < 0x80) {
			if (o + 1 >= outsz)
				break;
			out[o++] = (char)(cp >= 'A' && cp <= 'Z' ? cp + 32 :
			    cp);
			space = 0;
		} else if (rep != NULL) {
			size_t rl = strlen(rep);

			if (rl == 1 && rep[0] == ' ') {
				if (!space && o + 1 < outsz) {
					out[o++] = ' ';
					space = 1;
				}
			} else if (rl > 0) {
				if (o + rl >= outsz)
					break;
				for (k = 0; k < rl; k++)
					out[o++] = rep[k];
				space = 0;
			}
		} else {
			if (o + len >= outsz)
				break;
			memcpy(out + o, s + i, len);
			o += len;
			space = 0;
		}
		i += len;
	}
	while (o > 0 && out[o - 1] == ' ')
		o--;
	out[o] = '\0';
	return o;
}
