/*
 * report.c - parse a bounce into a report (see report.h).
 *
 * libetpan's MIME parser finds the structure; a tolerant line parser
 * (hdr.c) reads every header block and the machine-readable parts
 * (message/delivery-status, message/global-delivery-status,
 * text/rfc822-headers, message/feedback-report). Bounces without a DSN
 * part are handed to the notice scanners (notice.c).
 */
#include "config.h"

#include <errno.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <stddef.h>
#include <iconv.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libetpan/libetpan.h>

#include "buf.h"
#include "caps.h"
#include "hdr.h"
#include "notice.h"
#include "report.h"
#include "report_int.h"
#include "strutil.h"
#include "xalloc.h"

/* What message/rfc822 becomes in the copy libetpan reads (see
 * opaque_originals): same length, one opaque part. */
#define ORIGINAL_TYPE	"message/x-orig"

/* Addresses kept in tag_addrs. */
#define TAG_ADDRS_MAX	32

/* One recipient group being read from a delivery-status body. */
struct dsn_rec {
	char final[CAP_ADDRESS_BYTES + 1];
	char original[CAP_ADDRESS_BYTES + 1];
	const char *action, *status, *diag, *remote;
	int has_final, has_original;
};

/* ---- small helpers --------------------------------------------------- */

char *
report_str(const char *s, size_t n, size_t max)
{
	return str_sanitize(s, n, max);
}

void
report_set(char **dst, const char *s, size_t n, size_t max)
{
	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '\r' ||
	    *s == '\n'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	    s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	free(*dst);
	*dst = str_sanitize(s, n, max);
}

static int
lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

/*
 * The bytes an address may not hold (ADDR_NOT), in its local part
 * (ADDR_NOT_LOCAL) and in its domain (ADDR_NOT_DOMAIN), by table: the
 * words of every line of a notice are tried.
 */
#define ADDR_NOT	1
#define ADDR_NOT_LOCAL	2
#define ADDR_NOT_DOMAIN	4
#define N8(b)	[b] = ADDR_NOT, [b + 1] = ADDR_NOT, [b + 2] = ADDR_NOT, \
	[b + 3] = ADDR_NOT, [b + 4] = ADDR_NOT, [b + 5] = ADDR_NOT, \
	[b + 6] = ADDR_NOT, [b + 7] = ADDR_NOT
static const unsigned char addr_bad[256] = {
	/* white space and controls, and what ends an address */
	N8(0), N8(8), N8(16), N8(24), [' '] = ADDR_NOT, [127] = ADDR_NOT,
	['<'] = ADDR_NOT, ['>'] = ADDR_NOT, ['('] = ADDR_NOT,
	[')'] = ADDR_NOT, [','] = ADDR_NOT, [';'] = ADDR_NOT,
	['\\'] = ADDR_NOT, ['"'] = ADDR_NOT,
	/*
	 * The local part: no ':' ("smtp:x@y", "mailto:x@y") nor brackets
	 * ("[SMTP:x@y]"), which only quoting would allow. The domain (but
	 * an address literal): not a host name's either, but a platform
	 * may hold what its user typed, "x@#example.net": only a link's
	 * characters.
	 */
	[':'] = ADDR_NOT_LOCAL | ADDR_NOT_DOMAIN,
	['['] = ADDR_NOT_LOCAL | ADDR_NOT_DOMAIN,
	[']'] = ADDR_NOT_LOCAL | ADDR_NOT_DOMAIN,
	['?'] = ADDR_NOT_DOMAIN, ['='] = ADDR_NOT_DOMAIN,
	['&'] = ADDR_NOT_DOMAIN, ['/'] = ADDR_NOT_DOMAIN,
};
#undef N8

int
addr_plausible(const char *s, size_t n)
{
	const char *at;
	size_t i, local;
	unsigned bad = 0;

	if (n < 3 || n > CAP_ADDRESS_BYTES)
		return 0;
	at = memchr(s, '@', n);
	if (at == NULL)
		return 0;
	local = (size_t)(at - s);
	if (local == 0 || local + 1 >= n)
		return 0;
	if (memchr(at + 1, '@', n - local - 1) != NULL)
		return 0;
	for (i = 0; i < local; i++)
		bad |= addr_bad[(unsigned char)s[i]];
	if (bad & (ADDR_NOT | ADDR_NOT_LOCAL))
		return 0;
	bad = 0;
	for (i = local + 1; i < n; i++)
		bad |= addr_bad[(unsigned char)s[i]];
	if (bad & ADDR_NOT)
		return 0;
	/* The domain: labels and dots, or an address literal. */
	if (at[1] == '.' || s[n - 1] == '.')
		return 0;
	if (at[1] == '[')
		return s[n - 1] == ']';
	return !(bad & ADDR_NOT_DOMAIN);
}

/* Is c a character that ends a bare address token? (An apostrophe
 * only at the token's edge: see addr_quote_inner.) */
static int
addr_delim(unsigned char c)
{
	return c <= ' ' || c == '<' || c == '>' || c == '(' || c == ')' ||
	    c == ',' || c == ';' || c == '"' || c == '\'' || c == '[' ||
	    c == ']' || c == 127 || c == '{' || c == '}' || c == '`';
}

/* RFC 5322 atext (and UTF-8, RFC 6531), without the apostrophe. */
static int
atext_noquote(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c >= 0x80 || (c != '\'' &&
	    strchr("!#$%&*+-/=?^_`{|}~", c) != NULL && c != '\0');
}

int
addr_quote_inner(const char *s, size_t n, size_t i)
{
	return s[i] == '\'' && i > 0 && i + 1 < n &&
	    atext_noquote((unsigned char)s[i - 1]) &&
	    atext_noquote((unsigned char)s[i + 1]) &&
	    memchr(s, '@', i) == NULL;
}

size_t
addr_spec_value(const char *s, size_t n, char *out, size_t outsz)
{
	size_t i;

	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n >= 2 && s[0] == '<' && s[n - 1] == '>')
		s++, n -= 2;
	if (!addr_plausible(s, n) || memchr(s, '<', n) != NULL)
		return addr_extract(s, n, out, outsz);
	if (n + 1 > outsz)
		return 0;
	for (i = 0; i < n; i++)
		out[i] = (char)lc((unsigned char)s[i]);
	out[n] = '\0';
	return n;
}

size_t
addr_extract(const char *s, size_t n, char *out, size_t outsz)
{
	const char *lt, *gt, *at, *b, *e;
	size_t i, len;

	/* <addr-spec> first */
	lt = memchr(s, '<', n);
	while (lt != NULL) {
		gt = memchr(lt, '>', n - (size_t)(lt - s));
		if (gt == NULL)
			break;
		b = lt + 1;
		e = gt;
		/* <mailto:x@y> and <"x"@y> are seen in the wild. */
		if ((size_t)(e - b) > 7 && mem_caseprefix(b, (size_t)(e - b),
		    "mailto:"))
			b += 7;
		if (addr_plausible(b, (size_t)(e - b)))
			goto found;
		lt = memchr(gt, '<', n - (size_t)(gt - s));
	}
	/* then a bare token around an '@' */
	for (at = memchr(s, '@', n); at != NULL;
	    at = memchr(at + 1, '@', n - (size_t)(at + 1 - s))) {
		b = at;
		while (b > s && (!addr_delim((unsigned char)b[-1]) ||
		    (b - 1 > s && addr_quote_inner(b - 2,
		    (size_t)(at - (b - 2)), 1))))
			b--;
		e = at + 1;
		while (e < s + n && !addr_delim((unsigned char)*e))
			e++;
		while (e > at + 1 && (e[-1] == '.' || e[-1] == ':'))
			e--;
		if ((size_t)(e - b) > 7 && mem_caseprefix(b, (size_t)(e - b),
		    "mailto:"))
			b += 7;
		while (b < at && *b == ':')
			b++;
		if (addr_plausible(b, (size_t)(e - b)))
			goto found;
	}
	return 0;
found:
	len = (size_t)(e - b);
	if (len + 1 > outsz)
		return 0;
	for (i = 0; i < len; i++)
		out[i] = (char)lc((unsigned char)b[i]);
	out[len] = '\0';
	return len;
}

int
status_find(const char *s, size_t n, char out[16])
{
	const char *p, *end;
	size_t i, j, k, d2, d3;

	if (n < 5)
		return 0;
	end = s + n - 3;
	/* From each dot (at offsets 1 to n - 4) that follows a class. */
	for (p = s + 1; p < end && (p = memchr(p, '.', (size_t)(end - p))) !=
	    NULL; p++) {
		i = (size_t)(p - s) - 1;
		if (s[i] != '2' && s[i] != '4' && s[i] != '5')
			continue;
		if (i > 0 && ((s[i - 1] >= '0' && s[i - 1] <= '9') ||
		    s[i - 1] == '.'))
			continue;
		for (j = i + 2, d2 = 0; j < n && s[j] >= '0' && s[j] <= '9' &&
		    d2 < 3; j++, d2++)
			;
		if (d2 == 0 || j >= n || s[j] != '.')
			continue;
		for (k = j + 1, d3 = 0; k < n && s[k] >= '0' && s[k] <= '9' &&
		    d3 < 3; k++, d3++)
			;
		if (d3 == 0)
			continue;
		if (k < n && ((s[k] >= '0' && s[k] <= '9') || (s[k] == '.' &&
		    k + 1 < n && s[k + 1] >= '0' && s[k + 1] <= '9')))
			continue;
		memcpy(out, s + i, k - i);
		out[k - i] = '\0';
		return 1;
	}
	return 0;
}

int
status_find_error(const char *s, size_t n, char out[16])
{
	size_t off = 0;

	while (off < n && status_find(s + off, n - off, out)) {
		const char *p = strstr(s + off, out);

		if (out[0] != '2')
			return 1;
		if (p == NULL || (size_t)(p - s) >= n)
			break;
		off = (size_t)(p - s) + strlen(out);
	}
	return 0;
}

/* A reply code at s[0..2] followed by a space, '-', or the end? */
static int
code_at(const char *s, size_t n)
{
	int v;

	if (n < 3 || s[0] < '2' || s[0] > '5' || s[1] < '0' || s[1] > '5' ||
	    s[2] < '0' || s[2] > '9')
		return 0;
	if (n > 3 && s[3] != ' ' && s[3] != '-' && s[3] != '\t' &&
	    s[3] != ')' && s[3] != ',' && s[3] != '.')
		return 0;
	if (n > 4 && s[3] == '.' && s[4] >= '0' && s[4] <= '9')
		return 0;
	v = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
	return v;
}

int
reply_code_find(const char *s, size_t n)
{
	static const char *const after[] = {
		"said: ", "said:", "<<< ", "reply: ", "replied: ", "error: ",
		"responded: ", "response: ", "smtp error ", "returned ",
		"server returned ", "code: ",
	};
	const char *p;
	size_t i, k;
	int v;

	while (n > 0 && (*s == ' ' || *s == '\t' || *s == '#' || *s == '('))
		s++, n--;
	if ((v = code_at(s, n)) != 0)
		return v;
	/* Each way below ends at a code: none anywhere, none found. */
	for (i = 1; i + 3 <= n; i++)
		if (s[i] >= '2' && s[i] <= '5' && code_at(s + i, n - i) != 0)
			break;
	if (i + 3 > n)
		return 0;
	for (k = 0; k < sizeof after / sizeof after[0]; k++) {
		p = mem_casefind(s, n, after[k]);
		if (p == NULL)
			continue;
		p += strlen(after[k]);
		while (p < s + n && *p == ' ')
			p++;
		if ((v = code_at(p, n - (size_t)(p - s))) != 0)
			return v;
	}
	/* "... 550 5.1.1 ..." or "550-5.1.1": a code just before a status */
	for (i = 0; i + 9 <= n; i++) {
		if (i > 0 && s[i - 1] != ' ' && s[i - 1] != '(' &&
		    s[i - 1] != '[' && s[i - 1] != ':')
			continue;
		if ((v = code_at(s + i, n - i)) == 0)
			continue;
		if ((s[i + 3] == ' ' || s[i + 3] == '-') &&
		    (s[i + 4] == '2' || s[i + 4] == '4' || s[i + 4] == '5') &&
		    s[i + 5] == '.' && s[i] == s[i + 4])
			return v;
	}
	return 0;
}

/* ---- recipients ------------------------------------------------------ */

struct report_rcpt *
report_rcpt_find(struct report *r, const char *addr)
{
	size_t i;

	for (i = 0; i < r->nrcpt; i++)
		if (r->rcpt[i].address != NULL &&
		    strcasecmp(r->rcpt[i].address, addr) == 0)
			return &r->rcpt[i];
	return NULL;
}

struct report_rcpt *
report_rcpt_add(struct report *r, const char *addr, const char *source)
{
	struct report_rcpt *rc;
	char lower[CAP_ADDRESS_BYTES + 1];
	size_t n = strlen(addr), i;

	if (r->nrcpt >= CAP_RECIPIENTS) {
		r->flags |= REPORT_F_CAP_RCPTS;
		return NULL;
	}
	if (n > CAP_ADDRESS_BYTES)
		n = CAP_ADDRESS_BYTES;
	for (i = 0; i < n; i++)
		lower[i] = (char)lc((unsigned char)addr[i]);
	lower[n] = '\0';
	/* Grow by doubling; the cap bounds it. */
	if ((r->nrcpt & (r->nrcpt - 1)) == 0)
		r->rcpt = xreallocarray(r->rcpt, r->nrcpt ? r->nrcpt * 2 : 1,
		    sizeof *r->rcpt);
	rc = &r->rcpt[r->nrcpt++];
	memset(rc, 0, sizeof *rc);
	rc->address = report_str(lower, n, CAP_ADDRESS_BYTES);
	rc->source = source;
	return rc;
}

static void
tag_add(struct report *r, const char *addr)
{
	size_t i;

	for (i = 0; i < r->ntag_addrs; i++)
		if (strcmp(r->tag_addrs[i], addr) == 0)
			return;
	if (r->ntag_addrs >= TAG_ADDRS_MAX)
		return;
	/* Grow by doubling; TAG_ADDRS_MAX bounds it. */
	if ((r->ntag_addrs & (r->ntag_addrs - 1)) == 0)
		r->tag_addrs = xreallocarray(r->tag_addrs, r->ntag_addrs ?
		    r->ntag_addrs * 2 : 1, sizeof *r->tag_addrs);
	r->tag_addrs[r->ntag_addrs++] = report_str(addr, strlen(addr),
	    CAP_ADDRESS_BYTES);
}

/* Every address of an address-list field value. */
static void
tag_add_list(struct report *r, const char *v)
{
	char a[CAP_ADDRESS_BYTES + 1];
	size_t n, i, start = 0;
	int quote = 0, angle = 0;

	if (v == NULL)
		return;
	n = strlen(v);
	for (i = 0; i <= n; i++) {
		char c = i < n ? v[i] : ',';

		if (c == '"')
			quote = !quote;
		else if (c == '<' && !quote)
			angle = 1;
		else if (c == '>' && !quote)
			angle = 0;
		else if (c == ',' && !quote && !angle) {
			if (addr_extract(v + start, i - start, a, sizeof a))
				tag_add(r, a);
			start = i + 1;
		}
	}
}

/* ---- dates ----------------------------------------------------------- */

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static long long
days_from_civil(long long y, unsigned m, unsigned d)
{
	long long era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (long long)doe - 719468;
}

/* Date: value -> UTC seconds, or 0. */
static time_t
date_parse(const char *v)
{
	struct mailimf_date_time *dt = NULL;
	size_t idx = 0;
	long long t;
	int zone, zh, zm;

	if (v == NULL || mailimf_date_time_parse(v, strlen(v), &idx, &dt) !=
	    MAILIMF_NO_ERROR)
		return 0;
	if (dt->dt_year < 1970 || dt->dt_year > 9999 || dt->dt_month < 1 ||
	    dt->dt_month > 12 || dt->dt_day < 1 || dt->dt_day > 31 ||
	    dt->dt_hour < 0 || dt->dt_hour > 23 || dt->dt_min < 0 ||
	    dt->dt_min > 59 || dt->dt_sec < 0 || dt->dt_sec > 60) {
		mailimf_date_time_free(dt);
		return 0;
	}
	zone = dt->dt_zone;
	zh = (zone < 0 ? -zone : zone) / 100;
	zm = (zone < 0 ? -zone : zone) % 100;
	t = days_from_civil(dt->dt_year, (unsigned)dt->dt_month,
	    (unsigned)dt->dt_day) * 86400LL + dt->dt_hour * 3600LL +
	    dt->dt_min * 60LL + dt->dt_sec;
	if (zh <= 14 && zm < 60)
		t -= (zone < 0 ? -1 : 1) * (zh * 3600LL + zm * 60LL);
	mailimf_date_time_free(dt);
	if (t < 0)
		return 0;
	return (time_t)t;
}

/* ---- text ------------------------------------------------------------ */

/* ISO-8859-1 to UTF-8 (a direct mapping: no iconv needed). */
static void
latin1_append(struct buf *b, const char *s, size_t n)
{
	char *out = xmalloc(2 * n + 1), *o = out;
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c < 0x80) {
			*o++ = (char)c;
		} else {
			*o++ = (char)(0xc0 | (c >> 6));
			*o++ = (char)(0x80 | (c & 0x3f));
		}
	}
	buf_append(b, out, (size_t)(o - out));
	free(out);
}

static int
is_latin1(const char *cs)
{
	return strcasecmp(cs, "iso-8859-1") == 0 ||
	    strcasecmp(cs, "latin1") == 0 || strcasecmp(cs, "latin-1") == 0 ||
	    strcasecmp(cs, "iso8859-1") == 0 ||
	    strcasecmp(cs, "iso_8859-1") == 0;
}

static int
is_utf8_or_ascii(const char *cs)
{
	return strcasecmp(cs, "utf-8") == 0 || strcasecmp(cs, "utf8") == 0 ||
	    strcasecmp(cs, "us-ascii") == 0 || strcasecmp(cs, "ascii") == 0;
}

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * RFC 2047 for the charsets that need no conversion library (UTF-8,
 * US-ASCII, ISO-8859-1), the ones nearly all subjects use. Returns 0, or
 * -1 when an encoded word is in another charset (the caller then uses
 * libetpan's decoder).
 */
static int
rfc2047_simple(const char *v, struct buf *out)
{
	const char *p = v, *last_end = NULL;

	while (*p != '\0') {
		const char *q1, *q2, *q3, *end;
		char cs[32], enc;
		struct buf w;
		size_t csl, i;

		if (p[0] != '=' || p[1] != '?') {
			/* White space between two encoded words is dropped. */
			if (last_end != NULL && (*p == ' ' || *p == '\t')) {
				const char *t = p;

				while (*t == ' ' || *t == '\t')
					t++;
				if (t[0] == '=' && t[1] == '?') {
					p = t;
					continue;
				}
			}
			last_end = NULL;
			buf_putc(out, *p++);
			continue;
		}
		q1 = strchr(p + 2, '?');
		if (q1 == NULL || q1[1] == '\0' || q1[2] != '?')
			goto literal;
		q2 = q1 + 2;
		q3 = strstr(q2 + 1, "?=");
		if (q3 == NULL)
			goto literal;
		csl = (size_t)(q1 - (p + 2));
		if (csl == 0 || csl >= sizeof cs)
			goto literal;
		memcpy(cs, p + 2, csl);
		cs[csl] = '\0';
		if (strchr(cs, '*') != NULL)	/* RFC 2231 language */
			*strchr(cs, '*') = '\0';
		if (!is_utf8_or_ascii(cs) && !is_latin1(cs))
			return -1;
		enc = q1[1];
		end = q3;
		buf_init(&w, CAP_FIELD_BYTES);
		if (enc == 'Q' || enc == 'q') {
			for (i = 0; q2 + 1 + i < end; i++) {
				const char *c = q2 + 1 + i;

				if (*c == '_')
					buf_putc(&w, ' ');
				else if (*c == '=' && c + 2 < end + 1 &&
				    hexval(c[1]) >= 0 && hexval(c[2]) >= 0) {
					buf_putc(&w, hexval(c[1]) * 16 +
					    hexval(c[2]));
					i += 2;
				} else
					buf_putc(&w, *c);
			}
		} else if (enc == 'B' || enc == 'b') {
			static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
			    "abcdefghijklmnopqrstuvwxyz0123456789+/";
			unsigned acc = 0;
			int bits = 0;

			for (i = 0; q2 + 1 + i < end; i++) {
				const char *x = strchr(b64, q2[1 + i]);

				if (q2[1 + i] == '=' || x == NULL ||
				    q2[1 + i] == '\0')
					continue;
				acc = acc << 6 | (unsigned)(x - b64);
				bits += 6;
				if (bits >= 8) {
					bits -= 8;
					buf_putc(&w, (int)(acc >> bits) & 0xff);
				}
			}
		} else {
			buf_free(&w);
			goto literal;
		}
		if (is_latin1(cs))
			latin1_append(out, w.data ? w.data : "", w.len);
		else
			buf_append(out, w.data ? w.data : "", w.len);
		buf_free(&w);
		p = q3 + 2;
		last_end = p;
		continue;
literal:
		last_end = NULL;
		buf_putc(out, *p++);
	}
	return 0;
}

/*
 * Converters to UTF-8 are kept between messages: opening one loads
 * glibc's conversion module each time, which costs more than most
 * messages. A converter is taken out of the cache while in use (threads
 * parse at once) and reset before each use, so a conversion never
 * depends on the one before. The cache holds at most CONV_CACHE.
 */
#define CONV_CACHE	8

static struct {
	char charset[32];
	iconv_t cd;
} conv_cache[CONV_CACHE];
static size_t conv_n;
static pthread_mutex_t conv_mu = PTHREAD_MUTEX_INITIALIZER;

/* A converter from charset (libetpan's aliases applied) to UTF-8, or
 * (iconv_t)-1 for an unknown charset. */
static iconv_t
conv_take(const char *charset)
{
	static const struct {
		const char *name, *iconv_name;
	} alias[] = {
		{ "gb2312", "GBK" }, { "gb_2312-80", "GBK" },
		{ "iso-8859-8-i", "ISO-8859-8" },
		{ "iso_8859-8-i", "ISO-8859-8" },
		{ "iso8859-8-i", "ISO-8859-8" },
		{ "iso-8859-8-e", "ISO-8859-8" },
		{ "iso_8859-8-e", "ISO-8859-8" },
		{ "iso8859-8-e", "ISO-8859-8" },
		{ "ks_c_5601-1987", "EUCKR" },
		{ "iso-2022-jp", "ISO-2022-JP-2" },
	};
	iconv_t cd = (iconv_t)-1;
	size_t k;

	pthread_mutex_lock(&conv_mu);
	for (k = 0; k < conv_n; k++)
		if (strcasecmp(conv_cache[k].charset, charset) == 0) {
			cd = conv_cache[k].cd;
			conv_cache[k] = conv_cache[--conv_n];
			break;
		}
	pthread_mutex_unlock(&conv_mu);
	if (cd != (iconv_t)-1) {
		iconv(cd, NULL, NULL, NULL, NULL);	/* initial state */
		return cd;
	}
	for (k = 0; k < sizeof alias / sizeof alias[0]; k++)
		if (strcasecmp(charset, alias[k].name) == 0) {
			charset = alias[k].iconv_name;
			break;
		}
	return iconv_open("UTF-8", charset);
}

/* Give back a converter taken for charset. */
static void
conv_give(const char *charset, iconv_t cd)
{
	pthread_mutex_lock(&conv_mu);
	if (conv_n < CONV_CACHE && strlen(charset) <
	    sizeof conv_cache[0].charset) {
		memcpy(conv_cache[conv_n].charset, charset,
		    strlen(charset) + 1);
		conv_cache[conv_n++].cd = cd;
		cd = (iconv_t)-1;
	}
	pthread_mutex_unlock(&conv_mu);
	if (cd != (iconv_t)-1)
		iconv_close(cd);
}

/*
 * Convert (s, n) with cd into out (outsz bytes), '?' for what cannot be
 * converted, as libetpan does; returns the length written.
 */
static size_t
conv_run(iconv_t cd, const char *s, size_t n, char *out, size_t outsz)
{
	char *in = (char *)s, *o = out;
	size_t inleft = n, outleft = outsz;

	while (inleft > 0) {
		if (iconv(cd, &in, &inleft, &o, &outleft) != (size_t)-1)
			break;
		if (errno == E2BIG || outleft == 0)
			break;
		/* EILSEQ, EINVAL: one '?' for the byte */
		*o++ = '?';
		outleft--;
		in++;
		inleft--;
	}
	iconv(cd, NULL, NULL, &o, &outleft);	/* shift back to initial */
	return (size_t)(o - out);
}

/*
 * (s, n) from charset to UTF-8 in a new string (free() it), as libetpan's
 * charconv_buffer() would do (its charset aliases, '?' for what cannot be
 * converted). Returns 0, or -1 for an unknown charset.
 */
static int
to_utf8(const char *charset, const char *s, size_t n, char **out_r,
    size_t *len_r)
{
	iconv_t cd;
	char *out;

	if ((cd = conv_take(charset)) == (iconv_t)-1)
		return -1;
	/* (a code point takes at least one byte in, at most four out) */
	out = xmalloc(n * 4 + 16);
	*len_r = conv_run(cd, s, n, out, n * 4 + 15);
	out[*len_r] = '\0';
	*out_r = out;
	conv_give(charset, cd);
	return 0;
}

/* Convert (s, n) from charset to UTF-8 and append to text. */
static void
text_append(struct report *r, struct buf *text, const char *s, size_t n,
    const char *charset)
{
	char *conv = NULL;
	size_t clen = 0;

	if (n == 0)
		return;
	if (text->len > 0 && text->data[text->len - 1] != '\n')
		buf_putc(text, '\n');
	if (charset != NULL && is_latin1(charset) && !utf8_valid(s, n)) {
		latin1_append(text, s, n);
	} else if (charset != NULL && *charset != '\0' &&
	    strcasecmp(charset, "utf-8") != 0 &&
	    strcasecmp(charset, "us-ascii") != 0 &&
	    !utf8_valid(s, n) && to_utf8(charset, s, n, &conv, &clen) == 0) {
		buf_append(text, conv, clen);
		free(conv);
	} else if (charset != NULL && strncasecmp(charset, "iso-2022", 8) == 0
	    && to_utf8(charset, s, n, &conv, &clen) == 0) {
		buf_append(text, conv, clen);
		free(conv);
	} else {
		buf_append(text, s, n);
	}
	if (text->truncated)
		r->flags |= REPORT_F_CAP_TEXT;
}

/* Append the text of an HTML part: tags dropped, a few entities. */
static void
html_append(struct report *r, struct buf *text, const char *s, size_t n,
    const char *charset)
{
	/* (each tag gives at most one byte, each entity fewer bytes) */
	size_t cap = n < CAP_TEXT_BYTES ? n : CAP_TEXT_BYTES, i, o = 0;
	char *plain = xmalloc(cap + 1);
	int intag = 0, inskip = 0;

#define PUT(ch) do { if (o == CAP_TEXT_BYTES) goto full; \
	plain[o++] = (ch); } while (0)
	for (i = 0; i < n; i++) {
		char c = s[i];

		if (c == '<') {
			if (mem_caseprefix(s + i, n - i, "<style") ||
			    mem_caseprefix(s + i, n - i, "<script"))
				inskip = 1;
			else if (mem_caseprefix(s + i, n - i, "</style") ||
			    mem_caseprefix(s + i, n - i, "</script"))
				inskip = 0;
			if (mem_caseprefix(s + i, n - i, "<br") ||
			    mem_caseprefix(s + i, n - i, "<p") ||
			    mem_caseprefix(s + i, n - i, "</p") ||
			    mem_caseprefix(s + i, n - i, "<div") ||
			    mem_caseprefix(s + i, n - i, "<tr") ||
			    mem_caseprefix(s + i, n - i, "</td"))
				PUT('\n');
			intag = 1;
			continue;
		}
		if (intag) {
			if (c == '>')
				intag = 0;
			else	/* to the next '<' or '>' */
				i += mem_find3(s + i, n - i, '<', '>', '>') - 1;
			continue;
		}
		if (inskip) {
			/* to the next '<' */
			i += mem_find3(s + i, n - i, '<', '<', '<') - 1;
			continue;
		}
		if (c != '&') {
			/* a run of text, to the next '<' or '&' */
			size_t k = mem_find3(s + i, n - i, '<', '&', '&');

			if (k > CAP_TEXT_BYTES - o) {
				memcpy(plain + o, s + i, CAP_TEXT_BYTES - o);
				o = CAP_TEXT_BYTES;
				goto full;
			}
			memcpy(plain + o, s + i, k);
			o += k;
			i += k - 1;
			continue;
		}
		if (c == '&') {
			static const struct {
				const char *ent, *rep;
			} ents[] = {
				{ "&nbsp;", " " }, { "&amp;", "&" },
				{ "&lt;", "<" }, { "&gt;", ">" },
				{ "&quot;", "\"" }, { "&#39;", "'" },
				{ "&#160;", " " },
			};
			size_t k;

			for (k = 0; k < sizeof ents / sizeof ents[0]; k++)
				if (mem_caseprefix(s + i, n - i, ents[k].ent))
					break;
			if (k < sizeof ents / sizeof ents[0]) {
				PUT(ents[k].rep[0]);
				i += strlen(ents[k].ent) - 1;
				continue;
			}
		}
		PUT(c);
	}
#undef PUT
full:
	text_append(r, text, plain, o, charset);
	free(plain);
}

/* ---- MIME ------------------------------------------------------------ */

struct walk {
	struct report_ctx *ctx;
	struct buf text;	/* text/plain parts */
	struct buf html;	/* text/html parts, used when no text/plain */
	int parts;
	int feedback;		/* a message/feedback-report part seen */
	struct mailmime *html_parts[4];	/* text/html parts, in order */
	size_t nhtml;
	/* the parts whose content the strip copy left in the message (at
	 * body), and the copy libetpan parsed */
	const struct part_spans *spans;
	const char *body, *copy;
};

static int hexval(int c);

/* Base64 to bytes, as libetpan decodes it: characters outside the
 * alphabet (and '=') skipped, a last partial group kept. */
static char *
b64_decode(const char *p, size_t n, size_t *len_r)
{
	/* the value of each byte, -1 outside the alphabet */
#define X -1
	static const signed char val[256] = {
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, 62, X, X, X, 63,
		52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X, X, X, X, X, X,
		X, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
		15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X, X, X, X, X,
		X, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
		41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
		X, X, X, X, X, X, X, X, X, X, X, X, X, X, X, X,
	};
#undef X
	char *out = xmalloc(n / 4 * 3 + 4), *o = out;
	unsigned acc = 0;
	size_t i;
	int k = 0;

	for (i = 0; i < n; i++) {
		int v = val[(unsigned char)p[i]];

		if (v < 0)
			continue;
		acc = acc << 6 | (unsigned)v;
		if (++k == 4) {
			*o++ = (char)(acc >> 16);
			*o++ = (char)(acc >> 8);
			*o++ = (char)acc;
			acc = 0;
			k = 0;
		}
	}
	if (k > 0) {
		acc <<= 6 * (4 - k);
		*o++ = (char)(acc >> 16);
		if (k >= 3)
			*o++ = (char)(acc >> 8);
	}
	*len_r = (size_t)(o - out);
	return out;
}

/* Quoted-printable to bytes, as libetpan decodes it: "=XX", soft line
 * breaks removed, line ends made CRLF. */
char *
qp_decode(const char *p, size_t n, size_t *len_r)
{
	/* (at most two bytes out for one in: o <= out + 2 * i) */
	char *out = xmalloc(2 * n + 1), *o = out;
	size_t i = 0;

	while (i < n) {
		char c;

		/*
		 * A run of plain bytes. In HTML an '=' comes every few
		 * bytes ("=3D", soft breaks): sixteen bytes are stored
		 * whole, and the output moves up to the first that is not
		 * plain (the store stays within out: i + 16 <= n).
		 */
#ifdef __SSE2__
		while (i + 16 <= n) {
			__m128i x = _mm_loadu_si128((const __m128i *)
			    (const void *)(p + i));
			unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
			    _mm_cmpeq_epi8(x, _mm_set1_epi8('=')),
			    _mm_or_si128(_mm_cmpeq_epi8(x,
			    _mm_set1_epi8('\n')), _mm_cmpeq_epi8(x,
			    _mm_set1_epi8('\r')))));

			_mm_storeu_si128((__m128i *)(void *)o, x);
			if (m == 0) {
				o += 16;
				i += 16;
				continue;
			}
			o += __builtin_ctz(m);
			i += (size_t)__builtin_ctz(m);
			break;
		}
#endif
		while (i < n && p[i] != '=' && p[i] != '\n' && p[i] != '\r')
			*o++ = p[i++];
		if (i >= n)
			break;
		c = p[i];
		if (c == '\n' || c == '\r') {
			/* line ends made CRLF */
			*o++ = '\r';
			*o++ = '\n';
			i += c == '\r' && i + 1 < n && p[i + 1] == '\n' ? 2 : 1;
			continue;
		}
		/* at '=' */
		if (i + 1 >= n) {
			*o++ = '=';
			break;
		}
		if (p[i + 1] == '\n') {
			i += 2;
		} else if (p[i + 1] == '\r') {
			if (i + 2 >= n)
				break;
			i += p[i + 2] == '\n' ? 3 : 2;
		} else if (i + 2 >= n) {
			*o++ = p[i + 1];
			i += 2;
		} else {
			int h = hexval((unsigned char)p[i + 1]);
			int l = hexval((unsigned char)p[i + 2]);

			*o++ = (char)((h < 0 ? 0 : h) << 4 | (l < 0 ? 0 : l));
			i += 3;
		}
	}
	*len_r = (size_t)(o - out);
	return out;
}

/* Decode (p, n) in MIME transfer encoding enc; a new buffer (free() it),
 * or NULL for an encoding that needs no decoding. */
static char *
transfer_decode(int enc, const char *p, size_t n, size_t *len_r)
{
	if (enc == MAILMIME_MECHANISM_BASE64)
		return b64_decode(p, n, len_r);
	if (enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE)
		return qp_decode(p, n, len_r);
	return NULL;
}

/* Decode (p, n), the body of a single part (its encoding as m's);
 * returns a pointer to the decoded bytes (*owned_r set when it must be
 * freed with free()). */
static const char *
body_decode_max(struct report *r, struct mailmime *m, const char *p,
    size_t n, size_t *len_r, char **owned_r, size_t max_in)
{
	struct mailmime_data *d = m->mm_body;
	size_t outlen = 0, inmax;
	char *out = NULL;
	int enc;

	*owned_r = NULL;
	*len_r = 0;
	if (n > max_in)
		n = max_in;
	enc = d->dt_encoded ? d->dt_encoding : MAILMIME_MECHANISM_8BIT;
	if (enc == MAILMIME_MECHANISM_BASE64 ||
	    enc == MAILMIME_MECHANISM_QUOTED_PRINTABLE) {
		inmax = enc == MAILMIME_MECHANISM_BASE64 ?
		    CAP_DECODED_PART_BYTES / 3 * 4 : CAP_DECODED_PART_BYTES;
		if (n > inmax) {
			n = inmax;
			r->flags |= REPORT_F_CAP_DECODED;
		}
		out = transfer_decode(enc, p, n, &outlen);
		*owned_r = out;
		*len_r = outlen;
		return out;
	}
	if (n > CAP_DECODED_PART_BYTES) {
		n = CAP_DECODED_PART_BYTES;
		r->flags |= REPORT_F_CAP_DECODED;
	}
	*len_r = n;
	return p;
}

/* Decode the body of a single part, as body_decode_max. */
static const char *
part_decode_max(struct report *r, struct mailmime *m, size_t *len_r,
    char **owned_r, size_t max_in)
{
	struct mailmime_data *d = m->mm_body;

	*owned_r = NULL;
	*len_r = 0;
	if (d == NULL || d->dt_type != MAILMIME_DATA_TEXT)
		return "";
	return body_decode_max(r, m, d->dt_data.dt_text.dt_data,
	    d->dt_data.dt_text.dt_length, len_r, owned_r, max_in);
}

struct part_spans;
static const char *walk_decode_max(struct walk *w, struct mailmime *m,
    size_t *len_r, char **owned_r, size_t max_in);

/* Lowercased "type/subtype" of a part (text/plain by default). */
static void
part_type(struct mailmime *m, char *out, size_t outsz)
{
	struct mailmime_content *ct = m->mm_content_type;
	const char *type = "text", *sub = "plain";
	size_t i;

	if (ct != NULL && ct->ct_type != NULL) {
		struct mailmime_type *t = ct->ct_type;

		if (t->tp_type == MAILMIME_TYPE_DISCRETE_TYPE &&
		    t->tp_data.tp_discrete_type != NULL) {
			switch (t->tp_data.tp_discrete_type->dt_type) {
			case MAILMIME_DISCRETE_TYPE_TEXT:
				type = "text";
				break;
			case MAILMIME_DISCRETE_TYPE_IMAGE:
				type = "image";
				break;
			case MAILMIME_DISCRETE_TYPE_AUDIO:
				type = "audio";
				break;
			case MAILMIME_DISCRETE_TYPE_VIDEO:
				type = "video";
				break;
			case MAILMIME_DISCRETE_TYPE_APPLICATION:
				type = "application";
				break;
			default:
				type = t->tp_data.tp_discrete_type->
				    dt_extension ? t->tp_data.
				    tp_discrete_type->dt_extension : "x";
				break;
			}
		} else if (t->tp_type == MAILMIME_TYPE_COMPOSITE_TYPE &&
		    t->tp_data.tp_composite_type != NULL) {
			switch (t->tp_data.tp_composite_type->ct_type) {
			case MAILMIME_COMPOSITE_TYPE_MESSAGE:
				type = "message";
				break;
			case MAILMIME_COMPOSITE_TYPE_MULTIPART:
				type = "multipart";
				break;
			default:
				type = t->tp_data.tp_composite_type->
				    ct_token ? t->tp_data.tp_composite_type->
				    ct_token : "x";
				break;
			}
		}
		sub = ct->ct_subtype ? ct->ct_subtype : "";
	}
	/* "type/sub", lowercased, cut to what fits */
	for (i = 0; *type != '\0' && i + 1 < outsz; i++)
		out[i] = (char)lc((unsigned char)*type++);
	if (i + 1 < outsz)
		out[i++] = '/';
	for (; *sub != '\0' && i + 1 < outsz; i++)
		out[i] = (char)lc((unsigned char)*sub++);
	out[i] = '\0';
}

/* Content-Disposition: attachment? */
static int
part_is_attachment(struct mailmime *m)
{
	clistiter *it;

	if (m->mm_mime_fields == NULL)
		return 0;
	for (it = clist_begin(m->mm_mime_fields->fld_list); it != NULL;
	    it = clist_next(it)) {
		struct mailmime_field *f = clist_content(it);

		if (f->fld_type == MAILMIME_FIELD_DISPOSITION &&
		    f->fld_data.fld_disposition != NULL &&
		    f->fld_data.fld_disposition->dsp_type != NULL &&
		    f->fld_data.fld_disposition->dsp_type->dsp_type ==
		    MAILMIME_DISPOSITION_TYPE_ATTACHMENT)
			return 1;
	}
	return 0;
}

static const char *
part_charset(struct mailmime *m)
{
	if (m->mm_content_type == NULL)
		return NULL;
	return mailmime_content_param_get(m->mm_content_type, "charset");
}

/* Strip "type;" from a DSN value; returns the rest, sets the type. */
static const char *
strip_type(const char *v, char *type, size_t typesz)
{
	const char *semi = strchr(v, ';');
	size_t i, n;

	if (type != NULL)
		type[0] = '\0';
	if (semi == NULL)
		return v;
	n = (size_t)(semi - v);
	for (i = 0; i < n; i++)
		if (v[i] == ' ' || v[i] == '<' || v[i] == '@' || v[i] == ':')
			return v;
	while (n > 0 && v[n - 1] == ' ')
		n--;
	if (type != NULL && n < typesz) {
		for (i = 0; i < n; i++)
			type[i] = (char)lc((unsigned char)v[i]);
		type[n] = '\0';
	}
	semi++;
	while (*semi == ' ' || *semi == '\t')
		semi++;
	return semi;
}

/* Emit one recipient of a delivery-status body. */
static void
dsn_emit(struct report_ctx *ctx, struct dsn_rec *d)
{
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	char st[16], type[32];
	const char *addr, *diag;

	if (!d->has_final && !d->has_original) {
		/* No recipient: remember what it said for the text ones. */
		if (d->status != NULL && ctx->orphan_status == NULL)
			ctx->orphan_status = xstrdup(d->status);
		if (d->diag != NULL && ctx->orphan_diag == NULL)
			ctx->orphan_diag = xstrdup(d->diag);
		if (d->action != NULL && ctx->orphan_action == NULL)
			ctx->orphan_action = xstrdup(d->action);
		goto out;
	}
	addr = d->has_final ? d->final : d->original;
	/* The same recipient reported twice (a DSN part repeated). */
	if ((rc = report_rcpt_find(r, addr)) != NULL &&
	    strcmp(rc->source, "dsn") == 0 && d->status != NULL &&
	    rc->status != NULL && status_find(d->status, strlen(d->status),
	    st) && strcmp(st, rc->status) == 0)
		goto out;
	rc = report_rcpt_add(r, addr, "dsn");
	if (rc == NULL)
		goto out;
	/* The address mailed, when the one that failed is another (an
	 * alias, a forward): the platform knows its users by it. */
	if (d->has_original && strcmp(d->original, addr) != 0)
		rc->original = report_str(d->original, strlen(d->original),
		    CAP_ADDRESS_BYTES);
	if (d->action != NULL) {
		report_set(&rc->action, d->action, strlen(d->action), 32);
		str_lower(rc->action);
	}
	if (d->status != NULL && status_find(d->status, strlen(d->status),
	    st))
		rc->status = xstrdup(st);
	if (d->remote != NULL) {
		const char *v = strip_type(d->remote, NULL, 0);

		report_set(&rc->remote_mta, v, strlen(v), 255);
	}
	if (d->diag != NULL) {
		char *conv = NULL;

		diag = strip_type(d->diag, type, sizeof type);
		/* Japanese servers put raw ISO-2022-JP in the field. */
		if (strstr(diag, "\033$B") != NULL && charconv("utf-8",
		    "iso-2022-jp", diag, strlen(diag), &conv) ==
		    MAIL_CHARCONV_NO_ERROR && conv != NULL)
			diag = conv;
		report_set(&rc->diagnostic, diag, strlen(diag),
		    CAP_DIAGNOSTIC_BYTES);
		if (type[0] != '\0')
			rc->diagnostic_type = report_str(type, strlen(type),
			    sizeof type);
		rc->reply_code = reply_code_find(diag, strlen(diag));
		free(conv);
	}
out:
	memset(d, 0, sizeof *d);
}

/* The fields of a delivery-status body that are read. */
static const char *const dsn_fields[] = {
	"reporting-mta", "final-recipient", "original-recipient", "action",
	"status", "diagnostic-code", "remote-mta", NULL,
};

void
report_dsn_parse(struct report_ctx *ctx, const char *p, size_t len)
{
	struct report *r = ctx->r;
	struct hdr_block g;
	struct dsn_rec d;
	size_t off = 0, i;
	int groups = 0;

	ctx->has_dsn_part = 1;
	memset(&d, 0, sizeof d);
	while (off < len && groups < CAP_RECIPIENTS * 2) {
		hdr_init(&g);
		g.only = dsn_fields;
		if (hdr_parse(p, len, &off, HDR_GROUP, &g) == 0) {
			hdr_free(&g);
			if (off >= len)
				break;
			continue;
		}
		groups++;
		if (g.capped)
			r->flags |= REPORT_F_CAP_HEADER;
		for (i = 0; i < g.n; i++) {
			const char *name = g.f[i].name, *v = g.f[i].value;
			const char *a;

			if (strcmp(name, "reporting-mta") == 0) {
				if (r->reporting_mta == NULL) {
					a = strip_type(v, NULL, 0);
					report_set(&r->reporting_mta, a,
					    strlen(a), 255);
				}
			} else if (strcmp(name, "final-recipient") == 0) {
				if (d.has_final)
					dsn_emit(ctx, &d);
				a = strip_type(v, NULL, 0);
				if (addr_spec_value(a, strlen(a), d.final,
				    sizeof d.final))
					d.has_final = 1;
			} else if (strcmp(name, "original-recipient") == 0) {
				if (d.has_original)
					dsn_emit(ctx, &d);
				a = strip_type(v, NULL, 0);
				if (addr_spec_value(a, strlen(a), d.original,
				    sizeof d.original))
					d.has_original = 1;
			} else if (strcmp(name, "action") == 0) {
				d.action = v;
			} else if (strcmp(name, "status") == 0) {
				d.status = v;
			} else if (strcmp(name, "diagnostic-code") == 0) {
				d.diag = v;
			} else if (strcmp(name, "remote-mta") == 0) {
				d.remote = v;
			}
		}
		/* A group ends a recipient: emit it while g is alive. */
		dsn_emit(ctx, &d);
		hdr_free(&g);
		if (r->flags & REPORT_F_CAP_RCPTS)
			break;
	}
}

/* Read a message/feedback-report body (RFC 5965). */
static void
arf_parse(struct report_ctx *ctx, const char *p, size_t len)
{
	static const char *const arf_fields[] = {
		"feedback-type", "original-rcpt-to", NULL,
	};
	struct report *r = ctx->r;
	struct report_rcpt *rc;
	struct hdr_block g;
	char a[CAP_ADDRESS_BYTES + 1];
	const char *ft;
	size_t off = 0, i = 0;
	int k;

	hdr_init(&g);
	g.only = arf_fields;
	while (off < len)
		if (hdr_parse(p, len, &off, HDR_GROUP, &g) == 0 && off >= len)
			break;
	ft = hdr_get(&g, "feedback-type");
	while ((k = hdr_next(&g, "original-rcpt-to", &i)) >= 0) {
		if (!addr_extract(g.f[k].value, g.f[k].len, a, sizeof a) ||
		    report_rcpt_find(r, a) != NULL)
			continue;
		if ((rc = report_rcpt_add(r, a, "arf")) == NULL)
			break;
		if (ft != NULL) {
			report_set(&rc->feedback_type, ft, strlen(ft), 64);
			str_lower(rc->feedback_type);
		}
	}
	if (ft != NULL) {
		free(ctx->arf_feedback_type);
		ctx->arf_feedback_type = report_str(ft, strlen(ft), 64);
		str_lower(ctx->arf_feedback_type);
	}
	hdr_free(&g);
}

/* The fields of a returned original that original_parse() reads (and
 * the copy for libetpan keeps: original_line_kept()). */
static const char *const original_fields[] = {
	"return-path", "from", "sender", "to", "message-id",
	"x-hmxmroriginalrecipient", "subject", NULL,
};

/* Read the header of a returned original (message/rfc822 or
 * text/rfc822-headers): its Message-ID and the VERP-capable addresses. */
static void
original_parse(struct report_ctx *ctx, const char *p, size_t len)
{
	static const char *const tags[] = {
		"return-path", "from", "sender", "to",
	};
	struct report *r = ctx->r;
	struct hdr_block h;
	const char *v;
	size_t off = 0, k;

	hdr_init(&h);
	h.only = original_fields;
	if (hdr_parse(p, len, &off, HDR_HEADER, &h) == 0) {
		hdr_free(&h);
		return;
	}
	ctx->has_original = 1;
	if (r->orig_message_id == NULL &&
	    (v = hdr_get(&h, "message-id")) != NULL) {
		const char *lt = strchr(v, '<'), *gt;

		if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
			report_set(&r->orig_message_id, lt + 1,
			    (size_t)(gt - lt - 1), CAP_ADDRESS_BYTES);
		else
			report_set(&r->orig_message_id, v, strlen(v),
			    CAP_ADDRESS_BYTES);
	}
	for (k = 0; !(ctx->skip & REPORT_SKIP_TAGS) && k < sizeof tags /
	    sizeof tags[0]; k++)
		tag_add_list(r, hdr_get(&h, tags[k]));
	if (ctx->jmrp_rcpt[0] == '\0' &&
	    (v = hdr_get(&h, "x-hmxmroriginalrecipient")) != NULL)
		addr_extract(v, strlen(v), ctx->jmrp_rcpt,
		    sizeof ctx->jmrp_rcpt);
	if (ctx->orig_to[0] == '\0' && (v = hdr_get(&h, "to")) != NULL &&
	    addr_extract(v, strlen(v), ctx->orig_to, sizeof ctx->orig_to)) {
		const char *c;

		ctx->orig_to_count = 1;
		for (c = strchr(v, '@'); c != NULL; c = strchr(c + 1, '@'))
			if (c != strchr(v, '@'))
				ctx->orig_to_count++;
	}
	if (ctx->orig_subject == NULL && (v = hdr_get(&h, "subject")) != NULL)
		ctx->orig_subject = xstrdup(v);
	hdr_free(&h);
}

/* The header of an original returned as text after a marker line. */
static void
inline_original(struct report_ctx *ctx, const char *p, size_t len)
{
	const char *nl = memchr(p, '\n', len);
	size_t off;

	if (nl == NULL)
		return;
	off = (size_t)(nl - p) + 1;
	while (off < len && (p[off] == '\n' || p[off] == '\r' ||
	    p[off] == '-' || p[off] == '='))
		if ((nl = memchr(p + off, '\n', len - off)) != NULL &&
		    (p[off] == '-' || p[off] == '='))
			off = (size_t)(nl - p) + 1;
		else
			off++;
	original_parse(ctx, p + off, len - off);
}

static void walk_part(struct walk *w, struct mailmime *m, int depth,
    int in_original);
static int boundary_present(struct mailmime *m, const char *body,
    size_t blen);

/* Visit one part. in_original: below a returned message/rfc822. */
static void
walk_part(struct walk *w, struct mailmime *m, int depth, int in_original)
{
	struct report *r = w->ctx->r;
	char type[128], *owned;
	const char *body;
	size_t blen;
	clistiter *it;

	if (depth > CAP_MIME_DEPTH) {
		r->flags |= REPORT_F_CAP_DEPTH;
		return;
	}
	if (++w->parts > CAP_MIME_PARTS) {
		r->flags |= REPORT_F_CAP_PARTS;
		return;
	}
	part_type(m, type, sizeof type);
	if (m->mm_type == MAILMIME_MULTIPLE && m->mm_body != NULL &&
	    !boundary_present(m, m->mm_body->dt_data.dt_text.dt_data,
	    m->mm_body->dt_data.dt_text.dt_length)) {
		/* A broken multipart (boundary lost to a bad fold): its
		 * body is all there is; read it as text. */
		if (!in_original) {
			r->flags |= REPORT_F_BAD_MIME;
			text_append(r, &w->text,
			    m->mm_body->dt_data.dt_text.dt_data,
			    m->mm_body->dt_data.dt_text.dt_length, NULL);
		}
		return;
	}
	if (m->mm_type == MAILMIME_MULTIPLE) {
		w->ctx->multipart = 1;
		for (it = clist_begin(m->mm_data.mm_multipart.mm_mp_list);
		    it != NULL; it = clist_next(it))
			walk_part(w, clist_content(it), depth + 1,
			    in_original);
		return;
	}
	if (m->mm_type == MAILMIME_MESSAGE) {
		/* The returned original (or a forwarded message). */
		if (m->mm_body != NULL && !in_original)
			original_parse(w->ctx,
			    m->mm_body->dt_data.dt_text.dt_data,
			    m->mm_body->dt_data.dt_text.dt_length);
		if (m->mm_data.mm_message.mm_msg_mime != NULL)
			walk_part(w, m->mm_data.mm_message.mm_msg_mime,
			    depth + 1, 1);
		return;
	}
	if (in_original)
		return;
	if (strncmp(type, "multipart/", 10) == 0 && m->mm_body != NULL) {
		/* A multipart libetpan could not split (no boundary). */
		r->flags |= REPORT_F_BAD_MIME;
		text_append(r, &w->text, m->mm_body->dt_data.dt_text.dt_data,
		    m->mm_body->dt_data.dt_text.dt_length, NULL);
		return;
	}
	if (strcmp(type, "text/html") == 0) {
		/* Read only when there is no text/plain (at the end): not
		 * decoded before. */
		if (w->nhtml < sizeof w->html_parts /
		    sizeof w->html_parts[0])
			w->html_parts[w->nhtml++] = m;
		return;
	}
	if (strcmp(type, "message/delivery-status") == 0 ||
	    strcmp(type, "message/global-delivery-status") == 0 ||
	    strcmp(type, "message/feedback-report") == 0 ||
	    strcmp(type, "text/rfc822-headers") == 0 ||
	    strcmp(type, "message/rfc822-headers") == 0 ||
	    strcmp(type, "message/rfc822") == 0 ||
	    strcmp(type, ORIGINAL_TYPE) == 0 ||
	    strcmp(type, "message/global") == 0 ||
	    strcmp(type, "message/global-headers") == 0 ||
	    strcmp(type, "text/plain") == 0) {
		/* Of a returned original (or a text attachment, read as
		 * one), only the header is read: decode its beginning. */
		if (strcmp(type, ORIGINAL_TYPE) == 0 ||
		    strcmp(type, "message/rfc822") == 0 ||
		    strcmp(type, "message/global") == 0 ||
		    (strcmp(type, "text/plain") == 0 && part_is_attachment(m)))
			body = walk_decode_max(w, m, &blen, &owned,
			    CAP_HEADER_BYTES / 3 * 4 + 4);
		else
			body = walk_decode_max(w, m, &blen, &owned,
			    (size_t)-1);
		if (strcmp(type, "message/feedback-report") == 0) {
			w->feedback = 1;
			arf_parse(w->ctx, body, blen);
		} else if (strcmp(type, "text/plain") == 0 &&
		    part_is_attachment(m)) {
			/* A text attachment is the original's header or body,
			 * not the notice. */
			if (!w->ctx->has_original)
				original_parse(w->ctx, body, blen);
		} else if (strcmp(type, "text/plain") == 0) {
			text_append(r, &w->text, body, blen, part_charset(m));
		} else if (strstr(type, "delivery-status") != NULL) {
			report_dsn_parse(w->ctx, body, blen);
		} else {
			original_parse(w->ctx, body, blen);
		}
		if (owned != NULL)
			free(owned);
	}
}

/* Does the multipart's boundary occur as a delimiter line in the body?
 * libetpan makes up a part when it does not. */
static int
boundary_present(struct mailmime *m, const char *body, size_t blen)
{
	const char *bd = NULL, *p;
	size_t bl, off = 0;

	if (m->mm_content_type != NULL)
		bd = mailmime_content_param_get(m->mm_content_type,
		    "boundary");
	if (bd == NULL || (bl = strlen(bd)) == 0)
		return 0;
	while (off + bl + 2 <= blen &&
	    (p = memmem(body + off, blen - off, bd, bl)) != NULL) {
		size_t at = (size_t)(p - body);

		if (at >= 2 && body[at - 1] == '-' && body[at - 2] == '-' &&
		    (at == 2 || body[at - 3] == '\n'))
			return 1;
		off = at + 1;
	}
	return 0;
}

/* Bytes of a returned original's body handed to libetpan (and read):
 * enough for its header, encoded or not. */
#define ORIGINAL_KEEP	(CAP_HEADER_BYTES / 3 * 4 + 4)

/* The value of parameter name (lowercase) of a Content-Type value, or
 * "" (out has outsz bytes). */
static void
ct_param(const char *ct, const char *name, char *out, size_t outsz)
{
	const char *p = ct;
	size_t nl = strlen(name), i = 0;

	out[0] = '\0';
	while ((p = mem_casefind(p, strlen(p), name)) != NULL) {
		if ((p == ct || p[-1] == ';' || p[-1] == ' ' || p[-1] == '\t')
		    && p[nl] == '=')
			break;
		p += nl;
	}
	if (p == NULL)
		return;
	p += nl + 1;
	if (*p == '"') {
		for (p++; p[i] != '\0' && p[i] != '"' && i + 1 < outsz; i++)
			out[i] = p[i];
	} else {
		for (; p[i] != '\0' && p[i] != ';' && p[i] != ' ' &&
		    p[i] != '\t' && i + 1 < outsz; i++)
			out[i] = p[i];
	}
	out[i] = '\0';
}

/* Copy one line into b, with the same-length rewrites libetpan needs. */
struct copy_state {
	size_t field;		/* where the current field starts in b */
	int in_ct;		/* the current field is a Content-Type */
};

/* (report_int.h) */
void
ct_spaces(char *d, size_t from, size_t len)
{
	size_t at = from;

	for (;;) {
		at += mem_find3(d + at, len - at, '\t', '\r', '\r');
		if (at >= len)
			return;
		if (d[at] == '\t' || (at + 1 < len && d[at + 1] != '\n'))
			d[at] = ' ';
		at++;
	}
}

static void
copy_line(struct buf *b, struct copy_state *cs, const char *line,
    size_t ll)
{
	static const char mt[] = "message/rfc822";
	static const char cd[] = "content-description:";
	size_t at0 = b->len, from, at;
	const char *q;

	/*
	 * A Content-Type folded: its line end made a space. libetpan parses
	 * the value as it is (see in_mime_parse) and takes a line end for a
	 * character of the token before it ("text/plain" then "\n
	 * charset=..." gave the subtype "plain\n"); a tab or a CR too, which
	 * become spaces below.
	 */
	if (cs->in_ct && ll > 0 && (line[0] == ' ' || line[0] == '\t') &&
	    at0 > cs->field && b->data[at0 - 1] == '\n') {
		b->data[at0 - 1] = ' ';
		if (at0 - 1 > cs->field && b->data[at0 - 2] == '\r')
			b->data[at0 - 2] = ' ';
	}
	buf_append(b, line, ll);
	if (b->truncated)
		return;
	if (ll > 0 && line[0] != ' ' && line[0] != '\t') {
		cs->field = at0;
		/* (both names start with a C) */
		cs->in_ct = (line[0] | 0x20) == 'c' && mem_caseprefix(line,
		    ll, "content-type:");
		/*
		 * libetpan decodes Content-Description through iconv;
		 * nothing here reads it: make it an unknown field of the
		 * same length.
		 */
		if (!cs->in_ct && (line[0] | 0x20) == 'c' &&
		    mem_caseprefix(line, ll, cd))
			memcpy(b->data + at0, "X-Content-Descriptn:",
			    sizeof cd - 1);
	}
	if (!cs->in_ct)
		return;
	ct_spaces(b->data, at0, b->len);
	/*
	 * The returned original is read by hdr.c (its header is all that
	 * is needed): "message/rfc822" in a Content-Type becomes the
	 * same-length ORIGINAL_TYPE, which libetpan keeps as one opaque
	 * part instead of parsing its header and MIME tree.
	 */
	from = at0;
	while (from < b->len && (q = mem_casefind(b->data + from,
	    b->len - from, mt)) != NULL) {
		char nx;

		at = (size_t)(q - b->data);
		nx = at + sizeof mt - 1 < b->len ? b->data[at + sizeof mt - 1] :
		    '\0';
		if (at - cs->field < 256 && !((nx >= 'a' && nx <= 'z') ||
		    (nx >= '0' && nx <= '9')))
			memcpy(b->data + at, ORIGINAL_TYPE, sizeof mt - 1);
		from = at + sizeof mt - 1;
	}
}

/* Is this part header line the Content-Type of a returned original? */
static int
original_type_line(const char *line, size_t ll)
{
	return (line[0] | 0x20) == 'c' &&
	    mem_caseprefix(line, ll, "content-type:") &&
	    (mem_casefind(line, ll > 200 ? 200 : ll, "message/rfc822") ||
	    mem_casefind(line, ll > 200 ? 200 : ll, "text/rfc822-headers") ||
	    (mem_casefind(line, ll > 200 ? 200 : ll, "message/global") &&
	    !mem_casefind(line, ll > 200 ? 200 : ll, "message/global-")));
}

/* The header of the copy: the MIME fields of the bounce's own header,
 * then the empty line. */
static void
copy_head(struct buf *b, struct copy_state *cs, const struct hdr_block *top,
    const char *ct)
{
	static const char *const keep[] = {
		"mime-version", "content-type", "content-transfer-encoding",
	};
	const char *v;
	size_t k;

	for (k = 0; k < sizeof keep / sizeof keep[0]; k++)
		if ((v = k == 1 && ct != NULL ? ct : hdr_get(top, keep[k])) !=
		    NULL) {
			size_t kl = strlen(keep[k]), vl = strlen(v);
			char *f = xmalloc(kl + vl + 5);

			/* "name: value\r\n" */
			memcpy(f, keep[k], kl);
			memcpy(f + kl, ": ", 2);
			memcpy(f + kl + 2, v, vl);
			memcpy(f + kl + 2 + vl, "\r\n", 2);
			copy_line(b, cs, f, kl + vl + 4);
			free(f);
		}
	buf_puts(b, "\r\n");
}

/*
 * The header of a returned original (not encoded), in the copy libetpan
 * parses: only what original_parse() reads there, as hdr.c reads it. The
 * fields it reads, and every line that is not a field's: blank lines and
 * the lines that end a header, which hdr.c must still find there. No line
 * past CAP_HEADER_BYTES, where hdr.c stops reading. libetpan scanned the
 * rest (Received, DKIM-Signature...) byte by byte for the boundary, and
 * hdr.c read it to skip it.
 */
struct orig_filter {
	size_t at;	/* where the line is in the header */
	size_t from;	/* where hdr.c counts from: after a "From " line */
	int drop;	/* the field being read is left out */
};

/* Is the next line of the original's header copied? */
static int
original_line_kept(struct orig_filter *f, const char *line, size_t ll)
{
	size_t at = f->at, n = ll, i;
	int in;

	f->at += ll;
	if (at == 0 && ll >= 5 && memcmp(line, "From ", 5) == 0) {
		f->from = ll;
		return 1;
	}
	if (at - f->from > CAP_HEADER_BYTES)
		return 0;
	/* (hdr.c's line: without its LF, then one CR) */
	if (n > 0 && line[n - 1] == '\n')
		n--;
	if (n > 0 && line[n - 1] == '\r')
		n--;
	for (i = 0; i < n && (line[i] == ' ' || line[i] == '\t'); i++)
		;
	if (i == n) {
		f->drop = 0;
		return 1;	/* blank: the end of the header */
	}
	if (i > 0)
		return !f->drop;	/* a continuation line */
	in = hdr_field_in(line, n, original_fields);
	f->drop = in == 0;
	return in != 0;
}

/*
 * Where the first returned original of the top multipart (not encoded)
 * is in the body: a bounce forwarded as an attachment is one, and may be
 * read in place of the message that carries it (report_parser_parse).
 */
struct span {
	size_t at, end;		/* its content, without the line end
				 * before the next delimiter */
	enum { SPAN_NONE, SPAN_OPEN, SPAN_DONE } st;
};

/* The original starts at off (in body). */
static void
span_open(struct span *sp, size_t off)
{
	if (sp->st != SPAN_NONE)
		return;
	sp->at = sp->end = off;
	sp->st = SPAN_OPEN;
}

/*
 * The text/html parts whose content the strip copy leaves to the source:
 * libetpan sees an empty body at copy_off of the copy, the walk reads
 * [at, end) of the source's body (the same bytes libetpan would have
 * had: a body's lines are copied as they are). At most BODY_SPANS, as
 * many as the walk keeps.
 */
#define BODY_SPANS	4
struct part_spans {
	size_t n;
	struct {
		size_t copy_off;
		struct span sp;
	} h[BODY_SPANS];
};

/* A delimiter line at off (or the end of the body) ends it. */
static void
span_close(struct span *sp, const char *body, size_t off)
{
	if (sp->st != SPAN_OPEN)
		return;
	if (off > sp->at && body[off - 1] == '\n')
		off--;
	if (off > sp->at && body[off - 1] == '\r')
		off--;
	sp->end = off;
	sp->st = SPAN_DONE;
}

/*
 * Decode a single part, as part_decode_max: from the message (w->body,
 * after its header) when the strip copy left its content there, else
 * from libetpan's parse.
 */
static const char *
walk_decode_max(struct walk *w, struct mailmime *m, size_t *len_r,
    char **owned_r, size_t max_in)
{
	struct mailmime_data *d = m->mm_body;
	const struct part_spans *ps = w->spans;
	size_t k;

	if (d != NULL && d->dt_type == MAILMIME_DATA_TEXT && ps != NULL &&
	    d->dt_data.dt_text.dt_length == 0)
		for (k = 0; k < ps->n; k++)
			if (d->dt_data.dt_text.dt_data == w->copy +
			    ps->h[k].copy_off && ps->h[k].sp.st == SPAN_DONE)
				return body_decode_max(w->ctx->r, m, w->body +
				    ps->h[k].sp.at, ps->h[k].sp.end -
				    ps->h[k].sp.at, len_r, owned_r, max_in);
	return part_decode_max(w->ctx->r, m, len_r, owned_r, max_in);
}

/*
 * The private copy of the message that libetpan parses: a header made of
 * the MIME fields only (the top header is already read by hdr.c, and
 * parsing its Received chain again would cost more than the copy), then
 * the body, line by line:
 * - against MIME bombs (libetpan builds a node per part and recurses per
 *   level), the copy stops before the line where the number of
 *   Content-Type lines or of boundary-like lines gets past what the walk
 *   would visit anyway (*capped_r set);
 * - a returned original in the top multipart keeps only what is read of
 *   it (its header, ORIGINAL_KEEP bytes when encoded): libetpan would
 *   scan the rest of it byte by byte for the boundary.
 * The copy goes to *b (its former contents forgotten); *hlen_r is the
 * length of its header; *sp where the first returned original is.
 * (mime_strip_copy, below, is tried first.)
 */
static void
mime_copy(const struct hdr_block *top, const char *body, size_t blen,
    struct buf *bp, size_t *hlen_r, int *capped_r, struct span *sp)
{
	enum { BODY, PART_HEADER, ORIG_KEEP, ORIG_SKIP } st = BODY;
	struct copy_state cs = { 0, 0 };
	struct orig_filter of = { 0, 0, 0 };
	struct buf b = *bp;
	const char *v, *line, *nl;
	char bd[BOUNDARY_BYTES];
	size_t off = 0, ll, bl = 0, nct = 0, ndash = 0, kept = 0, run;
	int orig = 0, encoded = 0;

	*capped_r = 0;
	memset(sp, 0, sizeof *sp);
	bd[0] = '\0';
	if ((v = hdr_get(top, "content-type")) != NULL &&
	    mem_casefind(v, strlen(v), "multipart/") != NULL) {
		ct_param(v, "boundary", bd, sizeof bd);
		bl = strlen(bd);
	}
	buf_reuse(&b, CAP_HEADER_BYTES + blen + 2);
	buf_reserve(&b, 512 + blen);
	copy_head(&b, &cs, top, NULL);
	*hlen_r = b.len;
	run = 0;
	while (off < blen) {
		line = body + off;
		nl = memchr(line, '\n', blen - off);
		ll = nl ? (size_t)(nl - line) + 1 : blen - off;
		/*
		 * A line of a body that is neither a delimiter, nor a
		 * Content- field, nor the rest of a Content-Type: copied as
		 * it is, with the lines around it, in one append.
		 */
		if (st == BODY && line[0] != '-' && line[0] != 'c' &&
		    line[0] != 'C' && !(cs.in_ct && (line[0] == ' ' ||
		    line[0] == '\t'))) {
			if (line[0] != ' ' && line[0] != '\t')
				cs.in_ct = 0;
			off += ll;
			continue;
		}
		if (off > run)
			buf_append(&b, body + run, off - run);
		run = off + ll;
		if (bl > 0 && ll >= bl + 2 && line[0] == '-' &&
		    line[1] == '-' && memcmp(line + 2, bd, bl) == 0) {
			/* a delimiter of the top multipart */
			span_close(sp, body, off);
			st = PART_HEADER;
			orig = encoded = 0;
		}
		/* (what is skipped does not reach libetpan) */
		if (st != ORIG_SKIP) {
			if (ll >= 2 && line[0] == '-' && line[1] == '-')
				ndash++;
			else if (ll >= 13 && (line[0] == 'c' ||
			    line[0] == 'C') && mem_caseprefix(line, ll,
			    "content-type:"))
				nct++;
			if (nct > CAP_MIME_PARTS ||
			    ndash > 4 * CAP_MIME_PARTS) {
				*capped_r = 1;
				break;
			}
		}
		switch (st) {
		case BODY:
			copy_line(&b, &cs, line, ll);
			break;
		case PART_HEADER:
			copy_line(&b, &cs, line, ll);
			if (original_type_line(line, ll))
				orig = 1;
			else if (mem_caseprefix(line, ll,
			    "content-transfer-encoding:") &&
			    (mem_casefind(line, ll, "base64") ||
			    mem_casefind(line, ll, "quoted-printable")))
				encoded = 1;
			if (ll <= 2 && (line[0] == '\n' || (line[0] == '\r' &&
			    ll == 2)))
				st = orig ? ORIG_KEEP : BODY;
			if (st == ORIG_KEEP && !encoded)
				span_open(sp, off + ll);
			kept = 0;
			memset(&of, 0, sizeof of);
			break;
		case ORIG_KEEP:
			if (encoded || original_line_kept(&of, line, ll))
				copy_line(&b, &cs, line, ll);
			kept += ll;
			/* its header ends at an empty line (unless encoded) */
			if (kept >= ORIGINAL_KEEP || (!encoded && (ll <= 2 &&
			    (line[0] == '\n' || (line[0] == '\r' && ll == 2)))))
				st = ORIG_SKIP;
			break;
		case ORIG_SKIP:
			break;
		}
		off += ll;
	}
	if (off > run && !*capped_r)
		buf_append(&b, body + run, off - run);
	span_close(sp, body, off);
	*bp = b;
}

/* ---- the copy without the parts nobody reads ------------------------- */

/*
 * mime_copy() hands libetpan every byte of every part, and libetpan scans
 * each of them for the boundaries, at each level of nesting. Most of the
 * bytes of a bounce are in parts that nothing here reads: images and
 * other attachments, the HTML alternative of a text part, the returned
 * original beyond its header. mime_strip_copy() leaves their contents out
 * of the copy, but only where it is sure that libetpan would find the
 * same parts in it: every multipart's boundary and every part's type read
 * the way libetpan reads them, every delimiter exact. At the first doubt
 * it gives up and the caller makes the full copy instead.
 */

/* The token characters (RFC 2045: not a space, a control or a
 * tspecial). */
static const unsigned char mime_token[256] = {
	['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1,
	['*'] = 1, ['+'] = 1, ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1,
	['`'] = 1, ['{'] = 1, ['|'] = 1, ['}'] = 1, ['~'] = 1,
	['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
	['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
#define L(c) [c] = 1, [c - 32] = 1
	L('a'), L('b'), L('c'), L('d'), L('e'), L('f'), L('g'), L('h'),
	L('i'), L('j'), L('k'), L('l'), L('m'), L('n'), L('o'), L('p'),
	L('q'), L('r'), L('s'), L('t'), L('u'), L('v'), L('w'), L('x'),
	L('y'), L('z'),
#undef L
};

static int
mime_token_char(unsigned char c)
{
	return mime_token[c];
}

/* (report_int.h) */
int
ct_strict(const char *v, size_t n, char *type, size_t typesz, char *bd)
{
	size_t i = 0, j, t = 0, a, al, vb, vl;
	int seen_bd = 0;

	bd[0] = '\0';
	j = 0;
#ifdef __SSE2__
	/* (sixteen bytes at a time: a backslash, a control but a tab, a
	 * byte above 0x7f -- below a space as signed bytes -- end it, and
	 * an encoded word's "=?") */
	for (; j + 16 <= n; j += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)
		    (v + j));
		__m128i bad = _mm_or_si128(_mm_cmpeq_epi8(x,
		    _mm_set1_epi8('\\')), _mm_andnot_si128(_mm_cmpeq_epi8(x,
		    _mm_set1_epi8('\t')), _mm_cmplt_epi8(x,
		    _mm_set1_epi8(' '))));
		unsigned eq = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(x,
		    _mm_set1_epi8('=')));

		if (_mm_movemask_epi8(bad) != 0)
			return 0;
		for (; eq != 0; eq &= eq - 1)
			if (j + (size_t)__builtin_ctz(eq) + 1 < n &&
			    v[j + (size_t)__builtin_ctz(eq) + 1] == '?')
				return 0;
	}
#endif
	/* (mime_token also marks the bytes that end a simple value) */
	for (; j < n; j++)
		if (mime_token[(unsigned char)v[j]] != 1 && (v[j] == '\\' ||
		    ((unsigned char)v[j] < ' ' && v[j] != '\t') ||
		    (unsigned char)v[j] >= 0x80 || (v[j] == '=' && j + 1 < n &&
		    v[j + 1] == '?')))
			return 0;
	while (i < n && (v[i] == ' ' || v[i] == '\t'))
		i++;
	for (j = i; j < n && mime_token_char((unsigned char)v[j]); j++)
		;
	if (j == i || j >= n || v[j] != '/')
		return 0;
	for (j++; j < n && mime_token_char((unsigned char)v[j]); j++)
		;
	if (v[j - 1] == '/' || j - i + 1 > typesz)
		return 0;
	for (; i < j; i++)
		type[t++] = (char)lc((unsigned char)v[i]);
	type[t] = '\0';
	for (;;) {
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			return 1;
		if (v[i++] != ';')
			return 0;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			return 1;
		for (a = i; i < n && mime_token_char((unsigned char)v[i]); i++)
			;
		if ((al = i - a) == 0)
			return 0;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n || v[i++] != '=')
			return 0;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < n && v[i] == '"') {
			for (vb = ++i; i < n && v[i] != '"'; i++)
				;
			if (i == n)
				return 0;
			vl = i++ - vb;
		} else {
			for (vb = i; i < n && mime_token_char((unsigned char)
			    v[i]); i++)
				;
			if ((vl = i - vb) == 0)
				return 0;
		}
		if (al == 8 && strncasecmp(v + a, "boundary", 8) == 0) {
			/* (no space in it: libetpan would make two one) */
			if (seen_bd++ || vl == 0 || vl >= BOUNDARY_BYTES)
				return 0;
			for (j = 0; j < vl; j++)
				if (v[vb + j] == ' ' || v[vb + j] == '\t')
					return 0;
			memcpy(bd, v + vb, vl);
			bd[vl] = '\0';
		}
	}
}

/*
 * Is the line (with its end) a delimiter of boundary bd: 1 for "--bd",
 * 2 for "--bd--", white space after either; -1 for "--bd" followed by
 * anything else (which libetpan reads one way or the other depending on
 * where it is); 0 for a line that does not start with "--bd".
 */
static int
delim_kind(const char *line, size_t ll, const char *bd, size_t bl)
{
	size_t i = bl + 2, e = ll;
	int kind = 1;

	if (ll < bl + 2 || line[0] != '-' || line[1] != '-' ||
	    memcmp(line + 2, bd, bl) != 0)
		return 0;
	if (e > i && line[e - 1] == '\n')
		e--;
	if (e > i && line[e - 1] == '\r')
		e--;
	if (e - i >= 2 && line[i] == '-' && line[i + 1] == '-') {
		kind = 2;
		i += 2;
	}
	while (i < e && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return i == e ? kind : -1;
}

/*
 * The copy names each multipart whose boundary it knows "_rebond_NN"
 * (a token: libetpan reads it without the quoted-string parse, a
 * character and an allocation at a time, that a boundary costs), when
 * that is shorter. No line of the copy starts with "--_rebond_" but its
 * delimiters (mime_strip_copy doubts a message with one).
 */
#define SYN_MARK	"_rebond_"
#define SYN_BYTES	16
#define SYN_MAX		100

/* A multipart the copy is inside of. */
struct level {
	char bd[BOUNDARY_BYTES];
	size_t bl;	/* 0: its delimiters are not known */
	char syn[SYN_BYTES];	/* its boundary in the copy, when renamed */
	size_t sl;	/* 0: not renamed */
	int closed;	/* its close delimiter was seen */
	int open;	/* ... its first one */
	size_t mark;	/* the lines with text when the last one was seen */
};

/* Name level l the next "_rebond_NN" (*nsyn counts them), when that is
 * shorter than its boundary. */
static void
syn_name(struct level *l, unsigned *nsyn)
{
	l->sl = 0;
	if (*nsyn >= SYN_MAX || l->bl <= sizeof SYN_MARK + 1)
		return;
	/* (SYN_MARK and two digits: SYN_MAX is 100) */
	memcpy(l->syn, SYN_MARK, sizeof SYN_MARK - 1);
	l->syn[sizeof SYN_MARK - 1] = (char)('0' + *nsyn / 10);
	l->syn[sizeof SYN_MARK] = (char)('0' + *nsyn % 10);
	l->syn[sizeof SYN_MARK + 1] = '\0';
	(*nsyn)++;
	l->sl = sizeof SYN_MARK + 1;
}

/* "type; boundary=syn" and eol after pre, to out (outsz bytes, NUL
 * ended): its length, or 0 when it does not fit. */
static size_t
syn_value(char *out, size_t outsz, const char *pre, const char *type,
    const char *syn, const char *eol)
{
	const char *part[] = { pre, type, "; boundary=", syn, eol };
	size_t k, n, at = 0;

	for (k = 0; k < sizeof part / sizeof part[0]; k++) {
		n = strlen(part[k]);
		if (n >= outsz - at)
			return 0;
		memcpy(out + at, part[k], n);
		at += n;
	}
	out[at] = '\0';
	return at;
}

/* A delimiter of a renamed level (kind 2: its close delimiter), with the
 * line end of line. */
static void
syn_delim(struct buf *b, const struct level *l, int kind, const char *line,
    size_t ll)
{
	buf_append(b, "--", 2);
	buf_append(b, l->syn, l->sl);
	if (kind == 2)
		buf_append(b, "--", 2);
	if (ll >= 2 && line[ll - 2] == '\r' && line[ll - 1] == '\n')
		buf_append(b, "\r\n", 2);
	else if (ll >= 1 && line[ll - 1] == '\n')
		buf_append(b, "\n", 1);
}

/*
 * The Content-Type field copied at [at, end) of b, of a multipart of
 * type type (lowercased, as ct_strict() read it): "type; boundary=syn"
 * instead, when that is shorter (nothing else of it is read from
 * libetpan's parse). *field (where copy_line() saw the last field) moves
 * with what follows. Returns 1, or 0 when left as it was.
 */
static int
syn_head(struct buf *b, size_t at, size_t end, const char *type,
    const char *syn, size_t *field)
{
	char f[SYN_BYTES + 160];
	size_t n, tail, cut;

	if (b->truncated || end <= at + 1 || end > b->len ||
	    b->data[end - 1] != '\n')
		return 0;
	n = syn_value(f, sizeof f, "Content-Type: ", type, syn,
	    end >= at + 2 && b->data[end - 2] == '\r' ? "\r\n" : "\n");
	if (n == 0 || n > end - at)
		return 0;
	tail = b->len - end;
	cut = end - at - n;
	memmove(b->data + at + n, b->data + end, tail + 1);
	memcpy(b->data + at, f, n);
	b->len -= cut;
	if (*field >= end)
		*field -= cut;
	return 1;
}

/* What the header of the current part says. */
struct part_head {
	int clean;	/* only fields ("name:") and folded lines */
	int fields;	/* a field was seen */
	int nct;	/* Content-Type fields */
	int in_ct, in_cte;	/* the field being read */
	int orig;	/* mime_copy's test: a returned original */
	int encoded;	/* ... and it is transfer-encoded */
	int cte_other;	/* a transfer encoding other than 7bit, 8bit or
			 * binary, or one not read with certainty */
	char ct[1024];	/* the Content-Type value, unfolded */
	size_t ctl;
	char cte[64];	/* the Content-Transfer-Encoding value */
	size_t ctel;
};

/* Append (s, n) to a field value being collected (cut at its size, which
 * then makes it unusable: *over set). */
static void
head_append(char *dst, size_t dstsz, size_t *len, const char *s, size_t n,
    int *over)
{
	if (*len + n >= dstsz) {
		*over = 1;
		return;
	}
	memcpy(dst + *len, s, n);
	*len += n;
}

/* Read one line of a part header (not its end). */
static void
head_line(struct part_head *h, const char *line, size_t ll)
{
	size_t e = ll, i;
	int over = 0;

	if (e > 0 && line[e - 1] == '\n')
		e--;
	if (e > 0 && line[e - 1] == '\r')
		e--;
	/* mime_copy's tests, as it makes them */
	if (original_type_line(line, ll))
		h->orig = 1;
	else if ((line[0] | 0x20) == 'c' &&
	    mem_caseprefix(line, ll, "content-transfer-encoding:") &&
	    (mem_casefind(line, ll, "base64") ||
	    mem_casefind(line, ll, "quoted-printable")))
		h->encoded = 1;
	if (line[0] == ' ' || line[0] == '\t') {
		for (i = 0; i < e && (line[i] == ' ' || line[i] == '\t'); i++)
			;
		if (i == e || !h->fields)
			h->clean = 0;	/* white space only, or no field yet */
		else if (h->in_ct)
			head_append(h->ct, sizeof h->ct, &h->ctl, line, e,
			    &over);
		else if (h->in_cte)
			head_append(h->cte, sizeof h->cte, &h->ctel, line, e,
			    &over);
		if (over)
			h->clean = 0;
		return;
	}
	for (i = 0; i < e && line[i] != ':' && line[i] > ' ' &&
	    (unsigned char)line[i] < 127; i++)
		;
	if (i == 0 || i == e || line[i] != ':') {
		h->clean = 0;	/* not a field */
		h->in_ct = h->in_cte = 0;
		return;
	}
	h->fields = 1;
	h->in_ct = i == 12 && strncasecmp(line, "content-type", 12) == 0;
	h->in_cte = i == 25 &&
	    strncasecmp(line, "content-transfer-encoding", 25) == 0;
	if (h->in_ct) {
		h->nct++;
		h->ctl = 0;
		head_append(h->ct, sizeof h->ct, &h->ctl, line + i + 1,
		    e - i - 1, &over);
	} else if (h->in_cte) {
		if (h->ctel > 0)
			h->cte_other = 1;	/* two of them */
		h->ctel = 0;
		head_append(h->cte, sizeof h->cte, &h->ctel, line + i + 1,
		    e - i - 1, &over);
	}
	if (over)
		h->clean = 0;
}

/* Is the transfer encoding of a header one that leaves the body as it is
 * (none, 7bit, 8bit, binary)? */
static int
cte_identity(const struct part_head *h)
{
	static const char *const same[] = { "7bit", "8bit", "binary" };
	const char *v = h->cte;
	size_t n = h->ctel, k;

	if (h->cte_other)
		return 0;
	while (n > 0 && (*v == ' ' || *v == '\t'))
		v++, n--;
	while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
		n--;
	if (n == 0)
		return h->ctel == 0;
	for (k = 0; k < sizeof same / sizeof same[0]; k++)
		if (n == strlen(same[k]) && strncasecmp(v, same[k], n) == 0)
			return 1;
	return 0;
}

/*
 * Is this line of a part header a field that libetpan need not see? Only
 * Content-Type, Content-Transfer-Encoding and Content-Disposition are
 * read from its parse; it parses every field of a header, a character
 * at a time. (A line that is not a field is kept, as libetpan reads it.)
 */
static int
part_field_dropped(const char *line, size_t ll)
{
	size_t i;

	for (i = 0; i < ll && line[i] != ':' && line[i] > ' ' &&
	    (unsigned char)line[i] < 127; i++)
		;
	if (i == 0 || i == ll || line[i] != ':')
		return 0;
	return !((i == 12 && strncasecmp(line, "content-type", 12) == 0) ||
	    (i == 25 && strncasecmp(line, "content-transfer-encoding",
	    25) == 0) ||
	    (i == 19 && strncasecmp(line, "content-disposition", 19) == 0));
}

/*
 * The copy libetpan parses, without the contents of the parts nothing
 * reads (see above), in *b as mime_copy; returns 0, or -1 when that
 * cannot be done with certainty (the caller then makes mime_copy()'s).
 * strip_html: leave out text/html parts after a text/plain one (*html_r
 * is set if one was: the walk reads them only when the message has no
 * plain text, and the caller must then parse again with them). The
 * other text/html parts are read from the source (*hs), not from
 * libetpan's parse: it would scan every byte of them for the boundary,
 * and an HTML notice (AOL's, Office 365's) is most of its bounce.
 */
static int
mime_strip_copy(const struct hdr_block *top, const char *body, size_t blen,
    int strip_html, struct buf *bp, size_t *hlen_r, int *html_r,
    struct span *sp, struct part_spans *hs)
{
	enum { BODY, HEAD, KEEP, SKIP } st = BODY;
	struct level lv[CAP_MIME_DEPTH + 1];
	struct part_head h;
	struct copy_state cs = { 0, 0 };
	struct orig_filter of = { 0, 0, 0 };
	struct buf b = *bp;
	const char *v, *line, *nl;
	char type[128], bd[BOUNDARY_BYTES];
	size_t off = 0, ll, nlev = 0, nct = 0, ndash = 0, kept = 0, run = 0;
	size_t skipped = 0, k, unknown = 0, ntail = 0;
	int hit, kind, d, html = 0, encoded = 0, plain = 0, keep_tail = 0;
	int stripped = 0, unclosed = 0, hdrop = 0, hdropped = 0, hcopied = 0;
	int hspan = 0;		/* in a text/html part read from the source */
	size_t filled = 0;	/* lines with text so far */
	/* renaming: the names given, the copied Content-Type of the part
	 * header being read ([ct_at, ct_end), or being copied) */
	unsigned nsyn = 0;
	char ctv[sizeof type + SYN_BYTES + 16];
	size_t ct_at = 0, ct_end = 0, at0;
	int ct_open = 0;

	*html_r = 0;
	memset(sp, 0, sizeof *sp);
	hs->n = 0;
	/* The top multipart: its value read as mime_copy and as above. */
	if ((v = hdr_get(top, "content-type")) == NULL ||
	    !ct_strict(v, strlen(v), type, sizeof type, bd) ||
	    strncmp(type, "multipart/", 10) != 0 || bd[0] == '\0')
		return -1;
	ct_param(v, "boundary", lv[0].bd, sizeof lv[0].bd);
	if (strcmp(lv[0].bd, bd) != 0)
		return -1;
	lv[0].bl = strlen(bd);
	lv[0].closed = lv[0].open = 0;
	syn_name(&lv[0], &nsyn);
	if (lv[0].sl > 0 && syn_value(ctv, sizeof ctv, "", type, lv[0].syn,
	    "") == 0)
		lv[0].sl = 0;	/* (it always fits) */
	nlev = 1;
	memset(&h, 0, sizeof h);
	buf_reuse(&b, CAP_HEADER_BYTES + blen + 2);
	buf_reserve(&b, 512 + blen);
	copy_head(&b, &cs, top, lv[0].sl > 0 ? ctv : NULL);
	*hlen_r = b.len;
	while (off < blen) {
		line = body + off;
		nl = memchr(line, '\n', blen - off);
		ll = nl ? (size_t)(nl - line) + 1 : blen - off;
		/* Plain lines: no delimiter, no field, nothing to count. */
		if (line[0] != '-' && line[0] != 'c' && line[0] != 'C' &&
		    (st == BODY || st == SKIP) && !(cs.in_ct && st == BODY &&
		    (line[0] == ' ' || line[0] == '\t'))) {
			if (!(ll <= 2 && (line[0] == '\n' || line[0] == '\r')))
				filled++;
			if (st == BODY && line[0] != ' ' && line[0] != '\t')
				cs.in_ct = 0;
			if (st == SKIP) {
				run = off + ll;
				ntail++;
				skipped += ll;
				if (html && skipped > CAP_DECODED_PART_BYTES)
					goto doubt;
			}
			off += ll;
			continue;
		}
		if (run < off)
			buf_append(&b, body + run, off - run);
		run = off + ll;
		/* Every line counted (mime_copy counts fewer): past its
		 * caps, the full copy says what to do. */
		if (ll >= 2 && line[0] == '-' && line[1] == '-')
			ndash++;
		else if (ll >= 13 && (line[0] == 'c' || line[0] == 'C') &&
		    mem_caseprefix(line, ll, "content-type:"))
			nct++;
		if (nct > CAP_MIME_PARTS || ndash > 4 * CAP_MIME_PARTS)
			goto doubt;
		/* A delimiter of one of the multiparts, exactly. */
		hit = -1;
		kind = 0;
		for (k = 0; line[0] == '-' && k < nlev; k++) {
			if (lv[k].bl == 0)
				continue;
			d = delim_kind(line, ll, lv[k].bd, lv[k].bl);
			if (d < 0 || (d > 0 && hit >= 0))
				goto doubt;
			if (d > 0) {
				hit = (int)k;
				kind = d;
			}
		}
		/* (a line the copy's names would make a delimiter) */
		if (hit < 0 && line[0] == '-' && ll >= sizeof SYN_MARK + 1 &&
		    line[1] == '-' && memcmp(line + 2, SYN_MARK,
		    sizeof SYN_MARK - 1) == 0)
			goto doubt;
		if (hit >= 0) {
			/* (a part header cut short by a delimiter: libetpan
			 * reads its last lines in its own way, the fields left
			 * out among them) */
			if (st == HEAD && hdropped)
				goto doubt;
			span_close(sp, body, off);
			if (hs->n > 0)
				span_close(&hs->h[hs->n - 1].sp, body, off);
			/* (libetpan reads a delimiter after the close one
			 * as a part of the multipart) */
			if (lv[hit].closed)
				goto doubt;
			/* (libetpan does not see a delimiter that starts a
			 * part, or ends one made of empty lines only; nor a
			 * close delimiter that comes first) */
			if (lv[hit].open ? lv[hit].mark == filled : kind == 2)
				goto doubt;
			lv[hit].open = 1;
			lv[hit].mark = ++filled;
			hspan = 0;
			/*
			 * libetpan takes the line end before a delimiter off
			 * the part: one empty line stands for what was left
			 * out, so that it does not take its header's.
			 */
			if (st == SKIP && keep_tail && ntail > 0)
				buf_putc(&b, '\n');
			for (k = (size_t)hit + 1; k < nlev; k++)
				unclosed |= !lv[k].closed;
			nlev = (size_t)hit + 1;
			for (k = 0, unknown = 0; k < nlev; k++)
				unknown += lv[k].bl == 0;
			if (kind == 2) {
				lv[hit].closed = 1;
				st = BODY;
			} else {
				st = HEAD;
				hcopied = 0;
				memset(&h, 0, offsetof(struct part_head, ct));
				h.clean = 1;
				h.ctl = h.ctel = 0;
				ct_at = ct_end = 0;
				ct_open = 0;
			}
			if (lv[hit].sl > 0) {
				cs.field = b.len;
				cs.in_ct = 0;
				syn_delim(&b, &lv[hit], kind, line, ll);
			} else
				copy_line(&b, &cs, line, ll);
			off += ll;
			continue;
		}
		if (!(ll <= 2 && (line[0] == '\n' || line[0] == '\r')))
			filled++;
		switch (st) {
		case BODY:
			copy_line(&b, &cs, line, ll);
			break;
		case SKIP:
			/* (a line of a part left out) */
			ntail++;
			skipped += ll;
			if (html && skipped > CAP_DECODED_PART_BYTES)
				goto doubt;
			/* (copy_line rewrites a "Content-Type:" or
			 * "Content-Description:" line wherever it is: the
			 * source would not read as the copy) */
			if (hspan && (line[0] | 0x20) == 'c' &&
			    mem_caseprefix(line, ll, "content-"))
				goto doubt;
			break;
		case KEEP:
			if (encoded || original_line_kept(&of, line, ll))
				copy_line(&b, &cs, line, ll);
			kept += ll;
			/* (its header ends at an empty line, unless
			 * encoded) */
			if (kept >= ORIGINAL_KEEP || (!encoded && ll <= 2 &&
			    (line[0] == '\n' || (line[0] == '\r' &&
			    ll == 2)))) {
				st = SKIP;
				ntail = 0;
			}
			break;
		case HEAD:
			at0 = b.len;
			if (line[0] != ' ' && line[0] != '\t') {
				hdrop = part_field_dropped(line, ll);
				/* (a field, or the end of the header, ends
				 * the Content-Type) */
				if (ct_open)
					ct_end = at0;
				ct_open = (line[0] | 0x20) == 'c' &&
				    mem_caseprefix(line, ll, "content-type:");
				if (ct_open)
					ct_at = at0;
			}
			if (!hdrop)
				copy_line(&b, &cs, line, ll);
			hdropped |= hdrop;
			if (!(ll <= 2 && (line[0] == '\n' || (line[0] == '\r' &&
			    ll == 2)))) {
				hcopied |= !hdrop;
				head_line(&h, line, ll);
				break;
			}
			/* (a header of dropped fields only would be an empty
			 * one, which libetpan skips as if the header were the
			 * lines after it) */
			if (hdropped && !hcopied)
				goto doubt;
			hdrop = hdropped = hcopied = 0;
			/* The end of the header: what the part is. */
			st = BODY;
			hspan = 0;
			kept = skipped = 0;
			html = 0;
			memset(&of, 0, sizeof of);
			if (nlev == 1 && h.orig) {
				/* mime_copy's returned original, the same
				 * (without the lines at its end) */
				st = KEEP;
				encoded = h.encoded;
				keep_tail = 0;
				if (!encoded)
					span_open(sp, off + ll);
				break;
			}
			keep_tail = 1;
			ntail = 0;
			if (!h.clean || h.nct != 1 || !ct_strict(h.ct, h.ctl,
			    type, sizeof type, bd)) {
				/* A multipart read otherwise than here: its
				 * parts are all copied. */
				if (h.nct > 0 && mem_casefind(h.ct, h.ctl,
				    "multipart") != NULL) {
					if (nlev > CAP_MIME_DEPTH)
						goto doubt;
					lv[nlev].bl = 0;
					lv[nlev].open = 0;
					lv[nlev++].closed = 0;
					unknown++;
				}
				break;
			}
			if (strncmp(type, "multipart/", 10) == 0) {
				if (bd[0] == '\0')
					break;	/* read as one part */
				if (nlev > CAP_MIME_DEPTH)
					goto doubt;
				/* (one boundary the start of another: which
				 * is which depends on libetpan's order) */
				for (k = 0; k < nlev; k++) {
					size_t m = strlen(bd);

					if (lv[k].bl > 0 && strncmp(lv[k].bd,
					    bd, lv[k].bl < m ? lv[k].bl : m) ==
					    0)
						goto doubt;
				}
				memcpy(lv[nlev].bd, bd, sizeof bd);
				lv[nlev].bl = strlen(bd);
				lv[nlev].open = 0;
				lv[nlev].closed = 0;
				syn_name(&lv[nlev], &nsyn);
				if (lv[nlev].sl > 0 && !syn_head(&b, ct_at,
				    ct_end, type, lv[nlev].syn, &cs.field))
					lv[nlev].sl = 0;
				nlev++;
				break;
			}
			if (unknown > 0)
				break;
			if (strcmp(type, "message/rfc822") == 0 ||
			    strcmp(type, "message/global") == 0 ||
			    strcmp(type, "text/rfc822-headers") == 0) {
				/* an original below the top multipart: its
				 * header (the walk reads no more) */
				st = KEEP;
				encoded = !cte_identity(&h);
				stripped = 1;
			} else if (strncmp(type, "image/", 6) == 0 ||
			    strncmp(type, "audio/", 6) == 0 ||
			    strncmp(type, "video/", 6) == 0 ||
			    strncmp(type, "application/", 12) == 0) {
				st = SKIP;
				stripped = 1;
			} else if (strcmp(type, "text/plain") == 0) {
				plain = 1;
			} else if (strip_html && plain &&
			    strcmp(type, "text/html") == 0) {
				/* (the walk reads it only when there is no
				 * plain text: after a text/plain part, most
				 * likely not; else the caller parses again) */
				st = SKIP;
				html = 1;
				stripped = 1;
				*html_r = 1;
			} else if (strcmp(type, "text/html") == 0 &&
			    hs->n < BODY_SPANS) {
				/* read from the source: libetpan sees it
				 * empty (the line end SKIP leaves, at
				 * copy_off) */
				st = SKIP;
				stripped = 1;
				hspan = 1;
				hs->h[hs->n].copy_off = b.len;
				memset(&hs->h[hs->n].sp, 0,
				    sizeof hs->h[hs->n].sp);
				span_open(&hs->h[hs->n++].sp, off + ll);
			}
			break;
		}
		off += ll;
	}
	if (run < off && st != SKIP)
		buf_append(&b, body + run, off - run);
	if (st == SKIP && keep_tail && ntail > 0)
		buf_putc(&b, '\n');
	for (k = 0; k < nlev; k++)
		unclosed |= !lv[k].closed;
	/*
	 * A multipart without its close delimiter: libetpan ends its last
	 * part at the last line that starts with '-' (where it looked for
	 * one last delimiter), which may be one left out.
	 */
	if (unclosed && stripped)
		goto doubt;
	span_close(sp, body, off);
	if (hs->n > 0)
		span_close(&hs->h[hs->n - 1].sp, body, off);
	*bp = b;
	return 0;
doubt:
	*bp = b;
	*html_r = 0;
	hs->n = 0;
	return -1;
}

/* Decode a non-MIME (or unusable MIME) body with the top-level CTE. */
static void
body_as_text(struct report *r, const struct hdr_block *top, struct buf *text,
    const char *body, size_t blen)
{
	const char *cte = hdr_get(top, "content-transfer-encoding");
	const char *ct = hdr_get(top, "content-type");
	char charset[64] = "", *out = NULL;
	size_t outlen = 0;
	int enc = MAILMIME_MECHANISM_8BIT;

	if (cte != NULL && mem_casefind(cte, strlen(cte), "base64"))
		enc = MAILMIME_MECHANISM_BASE64;
	else if (cte != NULL && mem_casefind(cte, strlen(cte), "quoted-pr"))
		enc = MAILMIME_MECHANISM_QUOTED_PRINTABLE;
	if (ct != NULL) {
		const char *cs = mem_casefind(ct, strlen(ct), "charset=");

		if (cs != NULL) {
			size_t i = 0;

			cs += 8;
			if (*cs == '"')
				cs++;
			while (cs[i] != '\0' && cs[i] != '"' && cs[i] != ';' &&
			    cs[i] != ' ' && i + 1 < sizeof charset) {
				charset[i] = cs[i];
				i++;
			}
			charset[i] = '\0';
		}
	}
	if (blen > CAP_DECODED_PART_BYTES) {
		blen = CAP_DECODED_PART_BYTES;
		r->flags |= REPORT_F_CAP_DECODED;
	}
	if ((out = transfer_decode(enc, body, blen, &outlen)) != NULL) {
		text_append(r, text, out, outlen, charset);
		free(out);
		return;
	}
	text_append(r, text, body, blen, charset);
}

/* ---- per-message header ---------------------------------------------- */

static void
header_fields(struct report *r, const struct hdr_block *top, unsigned skip)
{
	static const char *const tags[] = {
		"to", "delivered-to", "x-original-to", "envelope-to",
	};
	char a[CAP_ADDRESS_BYTES + 1];
	const char *v;
	size_t k;

	if ((v = hdr_get(top, "message-id")) != NULL) {
		const char *lt = strchr(v, '<'), *gt;

		if (lt != NULL && (gt = strchr(lt, '>')) != NULL)
			report_set(&r->message_id, lt + 1,
			    (size_t)(gt - lt - 1), CAP_ADDRESS_BYTES);
		else
			report_set(&r->message_id, v, strlen(v),
			    CAP_ADDRESS_BYTES);
	}
	if ((v = hdr_get(top, "subject")) != NULL) {
		char *dec = NULL;
		size_t idx = 0;

		struct buf sb;

		buf_init(&sb, CAP_FIELD_BYTES);
		if (strstr(v, "=?") != NULL && rfc2047_simple(v, &sb) == 0) {
			report_set(&r->subject, sb.data ? sb.data : "", sb.len,
			    998);
		} else if (strstr(v, "=?") != NULL &&
		    mailmime_encoded_phrase_parse("iso-8859-1", v, strlen(v),
		    &idx, "utf-8", &dec) == MAILIMF_NO_ERROR && dec != NULL) {
			report_set(&r->subject, dec, strlen(dec), 998);
			free(dec);
		} else {
			report_set(&r->subject, v, strlen(v), 998);
		}
		buf_free(&sb);
	}
	if ((v = hdr_get(top, "from")) != NULL &&
	    addr_extract(v, strlen(v), a, sizeof a))
		r->from = report_str(a, strlen(a), CAP_ADDRESS_BYTES);
	if (!(skip & REPORT_SKIP_DATE))
		r->date = date_parse(hdr_get(top, "date"));
	if ((v = hdr_get(top, "x-mailer")) != NULL) {
		report_set(&r->agent, v, strlen(v), 255);
		str_lower(r->agent);
	}
	for (k = 0; !(skip & REPORT_SKIP_TAGS) && k < sizeof tags /
	    sizeof tags[0]; k++) {
		size_t i = 0;
		int f;

		while ((f = hdr_next(top, tags[k], &i)) >= 0)
			tag_add_list(r, top->f[f].value);
	}
}

/* ---- the whole message ----------------------------------------------- */

/* What a parser keeps between messages: allocations, not contents. */
struct report_parser {
	struct buf copy;	/* libetpan's copy */
	struct buf lf;		/* a message with CR line ends, with LF */
	struct buf text;	/* the text of the notice, as gathered */
	struct hdr_block top;	/* the bounce's own header */
	unsigned skip;		/* REPORT_SKIP_* */
	/* the first returned original of the message parsed last (in its
	 * data) */
	const char *inner;
	size_t inner_len;
};

/*
 * Set while this thread's mailmime_parse() runs. Inside it, libetpan
 * converts from US-ASCII only the words of a Content-Type value, which it
 * first decodes as if it were a phrase of RFC 2047 words, a word and a
 * conversion at a time (most of the cost of a field), before it parses the
 * result; when that decoding fails, it parses the value as it is, which is
 * what RFC 2045 asks (RFC 2047 allows no encoded word there). The hook
 * makes it fail at the first word.
 */
static _Thread_local int in_mime_parse;

/*
 * libetpan's conversions go through this hook (its own opens an iconv
 * converter each time): pure ASCII between ASCII and UTF-8 is a copy, the
 * rest goes to a kept iconv converter (conv_take), with libetpan's own
 * '?' for what cannot be converted; an unknown charset is left to
 * libetpan (MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET). Results do not change.
 */
static int
ascii_charconv(const char *tocode, const char *fromcode, const char *str,
    size_t length, char *result, size_t *result_len)
{
	iconv_t cd;
	size_t i;

	if (in_mime_parse && strcasecmp(fromcode, "us-ascii") == 0)
		return MAIL_CHARCONV_ERROR_CONV;
	if (strcasecmp(tocode, "utf-8") != 0 || length > *result_len)
		return MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET;
	if (strcasecmp(fromcode, "us-ascii") == 0 ||
	    strcasecmp(fromcode, "utf-8") == 0) {
		for (i = 0; i < length; i++)
			if ((unsigned char)str[i] >= 0x80 || str[i] == '\0')
				break;
		if (i == length) {
			memcpy(result, str, length);
			*result_len = length;
			return MAIL_CHARCONV_NO_ERROR;
		}
	}
	/* Anything else through a kept converter (libetpan's own would
	 * open one each time). */
	if ((cd = conv_take(fromcode)) == (iconv_t)-1)
		return MAIL_CHARCONV_ERROR_UNKNOWN_CHARSET;
	*result_len = conv_run(cd, str, length, result, *result_len);
	conv_give(fromcode, cd);
	return MAIL_CHARCONV_NO_ERROR;
}

void
report_init(void)
{
	if (extended_charconv != ascii_charconv)
		extended_charconv = ascii_charconv;
}

/*
 * Old Mac mail programs end lines with a bare CR (Sisimai's collection
 * keeps such bounces), and a CRLF message converted so ends them with
 * two (report.h).
 */
const char *
report_lf_lines(struct buf *b, const char *data, size_t *len_r)
{
	size_t len = *len_r, i, o = 0, w;
	const char *cr, *e;

	/* (a message with an LF anywhere is left as it is: the search
	 * stops at its first line end) */
	if (data == NULL || memchr(data, '\n', len) != NULL ||
	    (cr = memchr(data, '\r', len)) == NULL)
		return data;
	e = data + len;
	/* the first line end: "\r" or "\r\r", then the next line */
	w = cr + 1 < e && cr[1] == '\r' ? 2 : 1;
	if (cr + w >= e || cr[w] == '\n' || cr[w] == '\r')
		return data;
	buf_reuse(b, len);
	buf_reserve(b, len);
	if (b->data == NULL)
		return data;
	for (i = 0; i < len; i++) {
		if (data[i] != '\r') {
			b->data[o++] = data[i];
			continue;
		}
		if (w == 2 && i + 1 < len && data[i + 1] == '\r')
			i++;
		b->data[o++] = '\n';
	}
	b->data[o] = '\0';
	b->len = o;
	*len_r = o;
	return b->data;
}

/*
 * report_parse(); libetpan's copy leaves parts out when strip is set
 * (mime_strip_copy), the HTML ones too when strip_html is: then *again_r
 * is set, and the report is only to be freed, when the walk found that it
 * needs them after all.
 */
static struct report *
parse_message(struct report_parser *p, const char *data, size_t len,
    int truncated, int strip, int strip_html, int *again_r)
{
	struct report *r = xcalloc(1, sizeof *r);
	struct report_ctx ctx;
	struct hdr_block top = p->top;
	struct walk w;
	struct span sp;
	struct part_spans hs;
	struct mailmime *mime = NULL;
	const char *ct, *mdata = NULL;
	size_t off = 0, mlen, idx = 0, body_shift = 0;
	int capped = 0, parsed = 0, stripped_html = 0, rc;

	report_init();
	p->inner = NULL;
	p->inner_len = 0;
	hs.n = 0;
	data = report_lf_lines(&p->lf, data, &len);
	memset(&ctx, 0, sizeof ctx);
	memset(&w, 0, sizeof w);
	ctx.r = r;
	ctx.skip = p->skip;
	ctx.top = &top;
	w.ctx = &ctx;
	w.text = p->text;
	buf_reuse(&w.text, CAP_TEXT_BYTES);
	buf_reserve(&w.text, len < 16384 ? len : 16384);
	buf_init(&w.html, CAP_TEXT_BYTES);
	if (truncated)
		r->flags |= REPORT_F_TRUNCATED;
	hdr_clear(&top);
	if (data == NULL)
		len = 0;
	hdr_parse(data, len, &off, HDR_HEADER, &top);
	if (top.capped)
		r->flags |= REPORT_F_CAP_HEADER;
	if (top.n == 0) {
		r->flags |= REPORT_F_EMPTY;
		text_append(r, &w.text, data, len, NULL);
		goto classify;
	}
	header_fields(r, &top, p->skip);

	ct = hdr_get(&top, "content-type");
	if (ct == NULL || (!mem_casefind(ct, strlen(ct), "multipart/") &&
	    !mem_casefind(ct, strlen(ct), "message/") &&
	    !mem_casefind(ct, strlen(ct), "text/html"))) {
		/* A single text part: no need for the MIME parser. */
		body_as_text(r, &top, &w.text, data + off, len - off);
		goto classify;
	}
	if (!strip || mime_strip_copy(&top, data + off, len - off,
	    strip_html, &p->copy, &body_shift, &stripped_html, &sp, &hs) < 0)
		mime_copy(&top, data + off, len - off, &p->copy, &body_shift,
		    &capped, &sp);
	if (sp.st == SPAN_DONE && sp.end > sp.at) {
		p->inner = data + off + sp.at;
		p->inner_len = sp.end - sp.at;
	}
	if (capped)
		r->flags |= REPORT_F_CAP_PARTS;
	mdata = p->copy.data;
	mlen = p->copy.len;
	w.spans = &hs;
	w.body = data + off;
	w.copy = mdata;
	in_mime_parse = 1;
	rc = mailmime_parse(mdata, mlen, &idx, &mime);
	in_mime_parse = 0;
	if (rc == MAILIMF_NO_ERROR && mime != NULL) {
		struct mailmime *root = mime;

		if (root->mm_type == MAILMIME_MESSAGE &&
		    root->mm_data.mm_message.mm_msg_mime != NULL)
			root = root->mm_data.mm_message.mm_msg_mime;
		if (root->mm_type == MAILMIME_MULTIPLE &&
		    (clist_count(root->mm_data.mm_multipart.mm_mp_list) == 0 ||
		    !boundary_present(root, mdata + body_shift,
		    mlen - body_shift))) {
			/* No boundary found: structure unusable. */
			parsed = 0;
		} else {
			walk_part(&w, root, 0, 0);
			parsed = 1;
		}
	}
	if (!parsed) {
		r->flags |= REPORT_F_BAD_MIME;
		body_as_text(r, &top, &w.text, data + off, len - off);
	}
classify:
	if (w.text.len == 0 && w.nhtml > 0 && stripped_html) {
		/* The HTML is the text, and it was left out. */
		*again_r = 1;
		goto out;
	}
	if (w.text.len == 0 && w.nhtml > 0) {
		size_t h;

		for (h = 0; h < w.nhtml; h++) {
			char *owned;
			size_t hl;
			const char *hb = walk_decode_max(&w,
			    w.html_parts[h], &hl, &owned, (size_t)-1);

			html_append(r, &w.html, hb, hl,
			    part_charset(w.html_parts[h]));
			if (owned != NULL)
				free(owned);
		}
	}
	if (w.text.len == 0 && w.html.len > 0)
		text_append(r, &w.text, w.html.data, w.html.len, "utf-8");
	if (w.text.truncated)
		r->flags |= REPORT_F_CAP_TEXT;
	/* The notice only: a returned original in plain text is cut off. */
	if (w.text.len > 0) {
		size_t keep = notice_original_start(w.text.data, w.text.len);

		r->text = str_sanitize_text(w.text.data, keep, CAP_TEXT_BYTES);
		if (keep < w.text.len && !ctx.has_original)
			inline_original(&ctx, w.text.data + keep,
			    w.text.len - keep);
		r->text_len = strlen(r->text);
	} else {
		r->text = xstrdup("");
	}
	notice_finish(&ctx, w.feedback);
out:
	if (mime != NULL)
		mailmime_free(mime);
	p->text = w.text;
	buf_free(&w.html);
	free(ctx.orphan_status);
	free(ctx.orphan_diag);
	free(ctx.orphan_action);
	free(ctx.arf_feedback_type);
	free(ctx.orig_subject);
	p->top = top;
	return r;
}

struct report_parser *
report_parser_new(unsigned skip)
{
	struct report_parser *p = xmalloc(sizeof *p);

	p->skip = skip;
	p->inner = NULL;
	p->inner_len = 0;
	buf_init(&p->copy, 0);
	buf_init(&p->lf, 0);
	buf_init(&p->text, 0);
	hdr_init(&p->top);
	return p;
}

void
report_parser_free(struct report_parser **pp)
{
	struct report_parser *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	buf_free(&p->copy);
	buf_free(&p->lf);
	buf_free(&p->text);
	hdr_free(&p->top);
	free(p);
	*pp = NULL;
}

/* parse_message(), again without stripping the HTML when the walk needs
 * it. */
static struct report *
parse_strip(struct report_parser *p, const char *data, size_t len,
    int truncated, int strip)
{
	struct report *r;
	int again = 0;

	r = parse_message(p, data, len, truncated, strip, strip, &again);
	if (again) {
		report_free(&r);
		r = parse_message(p, data, len, truncated, strip, 0, &again);
	}
	return r;
}

/*
 * A message that names no recipient, whose first part is a returned
 * original that is itself a delivery report (multipart/report of
 * delivery-status: a bounce forwarded as an attachment, by a gateway
 * or by hand): the bounce inside, when it names recipients; else r.
 * One level only (the bounce inside is not unwrapped in turn).
 */
static struct report *
unwrap(struct report_parser *p, struct report *r, int truncated, int strip)
{
	static const char *const ct_only[] = { "content-type", NULL };
	struct report *in;
	struct hdr_block h;
	const char *v, *inner = p->inner;
	size_t off = 0, n = p->inner_len;
	int is_report;

	if (r->nrcpt > 0 || inner == NULL || n == 0 ||
	    r->type == REPORT_ARF || r->type == REPORT_AUTOREPLY)
		return r;
	hdr_init(&h);
	h.only = ct_only;
	hdr_parse(inner, n, &off, HDR_HEADER, &h);
	is_report = (v = hdr_get(&h, "content-type")) != NULL &&
	    mem_casefind(v, strlen(v), "multipart/report") != NULL &&
	    mem_casefind(v, strlen(v), "delivery-status") != NULL;
	hdr_free(&h);
	if (!is_report)
		return r;
	/* (inner may be in p->lf, with LF line ends: parse_message leaves
	 * it there) */
	in = parse_strip(p, inner, n, truncated, strip);
	if (in->nrcpt == 0) {
		report_free(&in);
		return r;
	}
	in->flags |= r->flags & REPORT_F_TRUNCATED;
	report_free(&r);
	return in;
}

struct report *
report_parser_parse(struct report_parser *p, const char *data, size_t len,
    int truncated)
{
	return unwrap(p, parse_strip(p, data, len, truncated, 1), truncated,
	    1);
}

struct report *
report_parse(const char *data, size_t len, int truncated)
{
	struct report_parser *p = report_parser_new(0);
	struct report *r = report_parser_parse(p, data, len, truncated);

	report_parser_free(&p);
	return r;
}

struct report *
report_parse_whole(const char *data, size_t len, int truncated)
{
	struct report_parser *p = report_parser_new(0);
	struct report *r;

	r = unwrap(p, parse_strip(p, data, len, truncated, 0), truncated, 0);
	report_parser_free(&p);
	return r;
}

void
report_free(struct report **pp)
{
	struct report *r;
	size_t i;

	if (pp == NULL || (r = *pp) == NULL)
		return;
	for (i = 0; i < r->nrcpt; i++) {
		struct report_rcpt *rc = &r->rcpt[i];

		free(rc->address);
		free(rc->original);
		free(rc->action);
		free(rc->status);
		free(rc->remote_mta);
		free(rc->diagnostic);
		free(rc->diagnostic_type);
		free(rc->feedback_type);
	}
	free(r->rcpt);
	for (i = 0; i < r->ntag_addrs; i++)
		free(r->tag_addrs[i]);
	free(r->tag_addrs);
	free(r->message_id);
	free(r->subject);
	free(r->from);
	free(r->agent);
	free(r->reporting_mta);
	free(r->orig_message_id);
	free(r->text);
	free(r);
	*pp = NULL;
}
