/* strutil.c - small string helpers (see strutil.h). */
#include <stdint.h>
#include <string.h>

#include "strutil.h"
#include "xalloc.h"

int
parse_uint(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *v_r)
{
	unsigned long long v = 0;
	const char *p;

	if (s == NULL || *s == '\0')
		return -1;
	if (s[0] == '0' && s[1] != '\0')
		return -1;
	for (p = s; *p != '\0'; p++) {
		unsigned d;

		if (*p < '0' || *p > '9')
			return -1;
		d = (unsigned)(*p - '0');
		if (v > (~0ULL - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	if (v < min || v > max)
		return -1;
	*v_r = v;
	return 0;
}

char *
str_lower(char *s)
{
	char *p;

	for (p = s; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p + ('a' - 'A'));
	return s;
}

static int
is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' ||
	    c == '\v' || c == '\f';
}

char *
str_trim(char *s)
{
	size_t n = strlen(s), i = 0;

	while (n > 0 && is_space(s[n - 1]))
		n--;
	while (i < n && is_space(s[i]))
		i++;
	memmove(s, s + i, n - i);
	s[n - i] = '\0';
	return s;
}

static int
lower(int c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

int
mem_caseprefix(const char *s, size_t len, const char *prefix)
{
	size_t i;

	for (i = 0; prefix[i] != '\0'; i++)
		if (i >= len || lower((unsigned char)s[i]) !=
		    lower((unsigned char)prefix[i]))
			return 0;
	return 1;
}

const char *
mem_casefind(const char *hay, size_t hlen, const char *needle)
{
	size_t nlen = strlen(needle);
	const char *end, *a, *b, *q, *p = hay;
	int lo, up;

	if (nlen == 0)
		return hay;
	if (nlen > hlen)
		return NULL;
	end = hay + hlen - nlen + 1;	/* last start + 1 */
	lo = lower((unsigned char)needle[0]);
	up = lo >= 'a' && lo <= 'z' ? lo - ('a' - 'A') : lo;
	/* Next occurrence of each case of the first byte, kept between
	 * rounds so that the haystack is scanned once. */
	a = memchr(p, lo, (size_t)(end - p));
	b = up != lo ? memchr(p, up, (size_t)(end - p)) : NULL;
	while (a != NULL || b != NULL) {
		q = a == NULL ? b : b == NULL ? a : a < b ? a : b;
		if (mem_caseprefix(q, hlen - (size_t)(q - hay), needle))
			return q;
		p = q + 1;
		if (q == a)
			a = p < end ? memchr(p, lo, (size_t)(end - p)) : NULL;
		if (q == b)
			b = p < end ? memchr(p, up, (size_t)(end - p)) : NULL;
	}
	return NULL;
}

/* Length of the valid UTF-8 sequence at s (1..4), or 0 if invalid. */
static size_t
utf8_seq(const unsigned char *s, size_t len)
{
	unsigned c = s[0], need, cp, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		need = 1, cp = c & 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		need = 2, cp = c & 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		need = 3, cp = c & 0x07;
	else
		return 0;
	if (len < need + 1)
		return 0;
	for (i = 1; i <= need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return need + 1;
}

int
utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;

	while (i < len) {
		n = utf8_seq((const unsigned char *)s + i, len - i);
		if (n == 0)
			return 0;
		i += n;
	}
	return 1;
}

static char *
sanitize(const char *s, size_t len, size_t max, int text)
{
	char *out = xmalloc((len < max ? len : max) + 1);
	size_t i = 0, o = 0, n;

	while (i < len) {
		unsigned char c;

		/* Eight printable ASCII bytes at a time: no byte below
		 * 0x20, none at 0x7f or above. */
		while (i + 8 <= len && o + 8 <= max) {
			uint64_t w;

			memcpy(&w, s + i, 8);
			if (((w - 0x2020202020202020ULL) |
			    (w + 0x0101010101010101ULL) | w) &
			    0x8080808080808080ULL)
				break;
			memcpy(out + o, s + i, 8);
			o += 8;
			i += 8;
		}
		if (i >= len)
			break;
		c = (unsigned char)s[i];
		/* Printable ASCII, the common case, needs no decoding. */
		if (c >= 0x20 && c < 0x7f) {
			if (o + 1 > max)
				break;
			out[o++] = (char)c;
			i++;
			continue;
		}
		n = utf8_seq((const unsigned char *)s + i, len - i);
		if (text && (c == '\n' || c == '\r')) {
			if (c == '\n') {
				if (o + 1 > max)
					break;
				out[o++] = '\n';
			}
			i++;
			continue;
		}
		if (n == 0 || (n == 1 && (c < 0x20 || c == 0x7f))) {
			if (o + 1 > max)
				break;
			/* Tabs become spaces; other controls are shown. */
			out[o++] = c == '\t' ? ' ' : '?';
			i++;
			continue;
		}
		if (o + n > max)
			break;
		memcpy(out + o, s + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return out;
}

char *
str_sanitize(const char *s, size_t len, size_t max)
{
	return sanitize(s, len, max, 0);
}

char *
str_sanitize_text(const char *s, size_t len, size_t max)
{
	return sanitize(s, len, max, 1);
}
