/* strutil.c - small string helpers (see strutil.h). */
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

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

const char *
addr_span(const char *s, size_t *len_r)
{
	size_t n;

	if (s == NULL) {
		*len_r = 0;
		return "";
	}
	while (is_space(*s))
		s++;
	n = strlen(s);
	while (n > 0 && is_space(s[n - 1]))
		n--;
	*len_r = n;
	return s;
}

int
addr_same(const char *a, const char *b)
{
	size_t la, lb, i;

	if (a == NULL || b == NULL)
		return 0;
	a = addr_span(a, &la);
	b = addr_span(b, &lb);
	if (la == 0 || la != lb)
		return 0;
	for (i = 0; i < la; i++)
		if (lower((unsigned char)a[i]) != lower((unsigned char)b[i]))
			return 0;
	return 1;
}

char *
addr_key(const char *s)
{
	const char *p;
	char *k;
	size_t n, i;

	if (s == NULL)
		return NULL;
	p = addr_span(s, &n);
	k = xmalloc(n + 1);
	for (i = 0; i < n; i++)
		k[i] = (char)lower((unsigned char)p[i]);
	k[n] = '\0';
	return k;
}

size_t
mem_count(const char *s, size_t len, int c)
{
	size_t i = 0, k = 0;

#ifdef __SSE2__
	const __m128i vc = _mm_set1_epi8((char)c), zero = _mm_setzero_si128();

	while (i + 16 <= len) {
		/* (each byte of acc counts to 255 at most: then summed) */
		__m128i acc = zero;
		size_t end = len - i > 255 * 16 ? i + 255 * 16 : len, j;

		for (j = i; j + 16 <= end; j += 16)
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(_mm_loadu_si128(
			    (const __m128i *)(const void *)(s + j)), vc));
		acc = _mm_sad_epu8(acc, zero);
		k += (size_t)_mm_cvtsi128_si32(acc) +
		    (size_t)_mm_cvtsi128_si32(_mm_srli_si128(acc, 8));
		i = j;
	}
#endif
	for (; i < len; i++)
		k += s[i] == (char)c;
	return k;
}

size_t
mem_json_plain(const char *s, size_t len)
{
	size_t i = 0;

#ifdef __SSE2__
	for (; i + 16 <= len; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)
		    (s + i));
		/* (below 0x20 as signed bytes: from 0x80 too) */
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmplt_epi8(x, _mm_set1_epi8(0x20)),
		    _mm_cmpeq_epi8(x, _mm_set1_epi8(0x7f))),
		    _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('"')),
		    _mm_cmpeq_epi8(x, _mm_set1_epi8('\\')))));

		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i < len; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x20 || c >= 0x7f || c == '"' || c == '\\')
			break;
	}
	return i;
}

size_t
mem_find3(const char *s, size_t len, int a, int b, int c)
{
	size_t i = 0;

#ifdef __SSE2__
	const __m128i va = _mm_set1_epi8((char)a);
	const __m128i vb = _mm_set1_epi8((char)b);
	const __m128i vc = _mm_set1_epi8((char)c);

	for (; i + 16 <= len; i += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)
		    (s + i));
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, va), _mm_cmpeq_epi8(x, vb)),
		    _mm_cmpeq_epi8(x, vc)));

		if (m != 0)
			return i + (size_t)__builtin_ctz(m);
	}
#endif
	for (; i < len; i++)
		if (s[i] == (char)a || s[i] == (char)b || s[i] == (char)c)
			return i;
	return len;
}

/* (s, n) equal to (t, n) once both are lowercased (ASCII)? */
static int
caseeq(const char *s, const char *t, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (lower((unsigned char)s[i]) != lower((unsigned char)t[i]))
			return 0;
	return 1;
}

/*
 * The first start at which both the first and the last byte of the
 * needle match (in either case) is checked in full; on x86-64, sixteen
 * starts are sifted at once that way.
 */
const char *
mem_casefind_n(const char *hay, size_t hlen, const char *needle, size_t nlen)
{
	size_t i = 0, last;
	int f, fu, l, lu;

	if (nlen == 0)
		return hay;
	if (nlen > hlen)
		return NULL;
	last = hlen - nlen;	/* the last start */
	f = lower((unsigned char)needle[0]);
	fu = f >= 'a' && f <= 'z' ? f - ('a' - 'A') : f;
	l = lower((unsigned char)needle[nlen - 1]);
	lu = l >= 'a' && l <= 'z' ? l - ('a' - 'A') : l;
#ifdef __SSE2__
	{
		const __m128i vf = _mm_set1_epi8((char)f);
		const __m128i vfu = _mm_set1_epi8((char)fu);
		const __m128i vl = _mm_set1_epi8((char)l);
		const __m128i vlu = _mm_set1_epi8((char)lu);

		/* starts i .. i + 15, all at most last */
		for (; i + 15 <= last; i += 16) {
			__m128i a = _mm_loadu_si128((const __m128i *)(const
			    void *)(hay + i));
			__m128i b = _mm_loadu_si128((const __m128i *)(const
			    void *)(hay + i + nlen - 1));
			unsigned m = (unsigned)_mm_movemask_epi8(_mm_and_si128(
			    _mm_or_si128(_mm_cmpeq_epi8(a, vf),
			    _mm_cmpeq_epi8(a, vfu)),
			    _mm_or_si128(_mm_cmpeq_epi8(b, vl),
			    _mm_cmpeq_epi8(b, vlu))));

			while (m != 0) {
				size_t j = i + (size_t)__builtin_ctz(m);

				if (nlen <= 2 || caseeq(hay + j + 1, needle + 1,
				    nlen - 2))
					return hay + j;
				m &= m - 1;
			}
		}
	}
#endif
	for (; i <= last; i++) {
		int c = (unsigned char)hay[i];
		int d = (unsigned char)hay[i + nlen - 1];

		if ((c == f || c == fu) && (d == l || d == lu) &&
		    (nlen <= 2 || caseeq(hay + i + 1, needle + 1, nlen - 2)))
			return hay + i;
	}
	return NULL;
}

/*
 * Length of the valid UTF-8 sequence at s (1..4, at most len bytes) and
 * its code point in *cp_r, or 0 if it is not one (overlong forms,
 * surrogates and code points past U+10FFFF are not).
 */
size_t
utf8_decode(const unsigned char *s, size_t len, unsigned *cp_r)
{
	unsigned c = s[0], need, cp, i;

	if (c < 0x80) {
		*cp_r = c;
		return 1;
	}
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
	*cp_r = cp;
	return need + 1;
}

int
utf8_valid(const char *s, size_t len)
{
	size_t i = 0, n;
	unsigned cp;
	uint64_t w;

	while (i < len) {
		/* eight ASCII bytes at a time */
		while (i + 8 <= len) {
			memcpy(&w, s + i, 8);
			if (w & 0x8080808080808080ULL)
				break;
			i += 8;
		}
		if (i >= len)
			break;
		n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
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
	unsigned cp;

	while (i < len) {
		unsigned char c;

#ifdef __SSE2__
		/* Sixteen printable ASCII bytes at a time: above 0x1f as
		 * signed bytes (none from 0x80 then), not 0x7f; or a line
		 * feed in text. */
		while (i + 16 <= len && o + 16 <= max) {
			__m128i x = _mm_loadu_si128((const __m128i *)
			    (const void *)(s + i));
			__m128i ok = _mm_andnot_si128(_mm_cmpeq_epi8(x,
			    _mm_set1_epi8(0x7f)), _mm_cmpgt_epi8(x,
			    _mm_set1_epi8(0x1f)));
			unsigned m;

			if (text)
				ok = _mm_or_si128(ok, _mm_cmpeq_epi8(x,
				    _mm_set1_epi8('\n')));
			m = (unsigned)_mm_movemask_epi8(ok);
			/* (o <= i: the whole block fits in out) */
			_mm_storeu_si128((__m128i *)(void *)(out + o), x);
			if (m != 0xffff) {
				/* the bytes before the first other one */
				m = (unsigned)__builtin_ctz(~m);
				o += m;
				i += m;
				break;
			}
			o += 16;
			i += 16;
		}
#endif
		/* Eight printable ASCII bytes at a time: none below 0x20
		 * (but a line feed in text), none at 0x7f or above. */
		while (i + 8 <= len && o + 8 <= max) {
			uint64_t w, lf = 0;

			memcpy(&w, s + i, 8);
			if (text) {
				/* the line feeds, exactly */
				uint64_t z = w ^ 0x0a0a0a0a0a0a0a0aULL;

				lf = ~(((z & 0x7f7f7f7f7f7f7f7fULL) +
				    0x7f7f7f7f7f7f7f7fULL) | z |
				    0x7f7f7f7f7f7f7f7fULL);
			}
			if (((w + 0x0101010101010101ULL) | w |
			    ~((w + 0x6060606060606060ULL) | lf)) &
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
		if (text && (c == '\n' || c == '\r')) {
			if (c == '\n') {
				if (o + 1 > max)
					break;
				out[o++] = '\n';
			}
			i++;
			continue;
		}
		n = utf8_decode((const unsigned char *)s + i, len - i, &cp);
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
