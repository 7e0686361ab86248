/*
 * strutil.h - small string helpers shared by core/ and poller/.
 *
 * All of them work on (data, len) where mail is involved: mail may hold
 * NULs and is never trusted to be terminated.
 */
#ifndef REBOND_STRUTIL_H
#define REBOND_STRUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

/*
 * Strict unsigned number: decimal digits only (no sign, no space, no
 * leading zero except "0" itself, no base prefix), min <= value <= max.
 * Returns 0 and sets *v_r, or -1 (and leaves *v_r alone).
 */
int parse_uint(const char *s, unsigned long long min, unsigned long long max,
    unsigned long long *v_r);

/* ASCII lowercase in place; returns s. */
char *str_lower(char *s);
/* Remove leading and trailing ASCII white space in place; returns s. */
char *str_trim(char *s);
/*
 * Addresses are compared by their key, the same everywhere (and in SQL:
 * rebond.addr_key of sql/009_address_key.sql): the ASCII white space
 * around them trimmed, their ASCII letters lowercased, every other byte
 * as it is (a non-ASCII capital is not folded: the database's lower()
 * would fold it by its locale, C by none).
 *
 * addr_span: the key's bytes in s before lowercasing (*len_r of them from
 * the returned pointer); s may be NULL (length 0).
 * addr_same: do a and b have the same key? (NULL is no address; two
 * blank addresses are not the same.)
 * addr_key: the key, allocated; NULL for NULL.
 */
const char *addr_span(const char *s, size_t *len_r);
int addr_same(const char *a, const char *b);
char *addr_key(const char *s);
/* Case-insensitive (ASCII) search of needle in (hay, hlen); NULL if absent. */
const char *mem_casefind_n(const char *hay, size_t hlen, const char *needle,
    size_t nlen);
/* mem_casefind_n with the needle's length counted (by the compiler, for
 * a literal). */
static inline const char *
mem_casefind(const char *hay, size_t hlen, const char *needle)
{
	return mem_casefind_n(hay, hlen, needle, strlen(needle));
}
/*
 * Offset of the first byte of (s, len) that is a, b or c (give the same
 * byte twice for two), or len when there is none.
 */
size_t mem_find3(const char *s, size_t len, int a, int b, int c);
/*
 * Length of the leading run of (s, len) that a JSON string holds as it is:
 * printable ASCII but the quote and the backslash.
 */
size_t mem_json_plain(const char *s, size_t len);
/* How many bytes of (s, len) are c. */
size_t mem_count(const char *s, size_t len, int c);

/* The eight bytes w with their ASCII capitals in small letters. */
static inline uint64_t
str_lower8(uint64_t w)
{
	uint64_t a = w & 0x7f7f7f7f7f7f7f7fULL;
	/* a byte from 'A' (0x41) to 'Z' (0x5a), high bit clear */
	uint64_t cap = (a + 0x3f3f3f3f3f3f3f3fULL) &
	    ~(a + 0x2525252525252525ULL) & ~w & 0x8080808080808080ULL;

	return w | (cap >> 2);
}

/*
 * Case-insensitive (ASCII) prefix test of (s, len). Inline: with a
 * literal prefix, its length and its small letters are constants.
 */
static inline int
mem_caseprefix_n(const char *s, size_t len, const char *prefix, size_t n)
{
	size_t i = 0;
	uint64_t a, b;

	if (n > len)
		return 0;
	/* Eight bytes at a time, the last eight overlapping. */
	if (n >= 8) {
		for (; i + 8 < n; i += 8) {
			memcpy(&a, s + i, 8);
			memcpy(&b, prefix + i, 8);
			if (str_lower8(a) != str_lower8(b))
				return 0;
		}
		memcpy(&a, s + n - 8, 8);
		memcpy(&b, prefix + n - 8, 8);
		return str_lower8(a) == str_lower8(b);
	}
	for (; i < n; i++) {
		unsigned char c = (unsigned char)s[i],
		    d = (unsigned char)prefix[i];

		if (c != d && ((c | 0x20) != (d | 0x20) ||
		    (unsigned char)((c | 0x20) - 'a') > 'z' - 'a'))
			return 0;
	}
	return 1;
}

/* mem_caseprefix_n with the prefix's length counted. */
static inline int
mem_caseprefix(const char *s, size_t len, const char *prefix)
{
	return mem_caseprefix_n(s, len, prefix, strlen(prefix));
}
/* Length (1..4) of the valid UTF-8 sequence at s, its code point in
 * *cp_r; 0 for an invalid or cut sequence. */
size_t utf8_decode(const unsigned char *s, size_t len, unsigned *cp_r);
/* 1 if (s, len) is valid UTF-8 (no overlongs, no surrogates). */
int utf8_valid(const char *s, size_t len);
/*
 * Copy (s, len) into a new string fit for a log line or a database text
 * column: invalid UTF-8 bytes and control characters (NUL, CR, LF, ...)
 * become '?', at most max bytes are kept (never cutting a UTF-8 sequence).
 */
char *str_sanitize(const char *s, size_t len, size_t max);
/* As str_sanitize, but LF is kept and CR dropped: multi-line text. */
char *str_sanitize_text(const char *s, size_t len, size_t max);

#endif
