/* mailmsg.c - a notification mail, built safely (see mailmsg.h). */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "mailmsg.h"
#include "strutil.h"

/* Bytes of UTF-8 text per encoded word: 40 -> 68 characters. */
#define WORD_BYTES 40
/* Encoded characters per quoted-printable line, before the soft break. */
#define QP_LINE 75

static const char b64[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int
mailmsg_valid_address(const char *s)
{
	const char *at, *p;

	if (s == NULL || (at = strchr(s, '@')) == NULL || at == s ||
	    at[1] == '\0' || strchr(at + 1, '@') != NULL || strlen(s) > 254)
		return 0;
	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f ||
		    strchr("<>()[],;:\"\\", *p) != NULL)
			return 0;
	return 1;
}

/* No control character at all (CR, LF, NUL, ...), valid UTF-8. */
static int
clean_line(const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return 0;
	return utf8_valid(s, strlen(s));
}

/* Body text: line breaks and tabs only, valid UTF-8. */
static int
clean_text(const char *s)
{
	const char *p;

	for (p = s; *p != '\0'; p++)
		if (((unsigned char)*p < 0x20 && *p != '\n' && *p != '\r' &&
		    *p != '\t') || *p == 0x7f)
			return 0;
	return utf8_valid(s, strlen(s));
}

static int
is_ascii(const char *s)
{
	for (; *s != '\0'; s++)
		if ((unsigned char)*s >= 0x80)
			return 0;
	return 1;
}

static void
base64(struct buf *b, const unsigned char *p, size_t n)
{
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		buf_putc(b, b64[p[i] >> 2]);
		buf_putc(b, b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		buf_putc(b, b64[((p[i + 1] & 15) << 2) | (p[i + 2] >> 6)]);
		buf_putc(b, b64[p[i + 2] & 63]);
	}
	if (n - i == 1) {
		buf_putc(b, b64[p[i] >> 2]);
		buf_putc(b, b64[(p[i] & 3) << 4]);
		buf_puts(b, "==");
	} else if (n - i == 2) {
		buf_putc(b, b64[p[i] >> 2]);
		buf_putc(b, b64[((p[i] & 3) << 4) | (p[i + 1] >> 4)]);
		buf_putc(b, b64[(p[i + 1] & 15) << 2]);
		buf_putc(b, '=');
	}
}

/*
 * s as RFC 2047 encoded words, folded: never more than WORD_BYTES of
 * text per word, never a UTF-8 sequence cut in two.
 */
static void
encoded_words(struct buf *b, const char *s)
{
	size_t len = strlen(s), off = 0, n;
	int first = 1;

	while (off < len) {
		n = len - off < WORD_BYTES ? len - off : WORD_BYTES;
		while (n > 1 && off + n < len &&
		    ((unsigned char)s[off + n] & 0xc0) == 0x80)
			n--;
		if (!first)
			buf_puts(b, "\r\n ");
		buf_puts(b, "=?UTF-8?B?");
		base64(b, (const unsigned char *)s + off, n);
		buf_puts(b, "?=");
		off += n;
		first = 0;
	}
}

/* A phrase or unstructured text: as is when short plain ASCII, else
 * encoded words. */
static void
header_text(struct buf *b, const char *s, int quoted)
{
	if (is_ascii(s) && strlen(s) <= 60 && strstr(s, "=?") == NULL) {
		if (!quoted) {
			buf_puts(b, s);
			return;
		}
		buf_putc(b, '"');
		for (; *s != '\0'; s++) {
			if (*s == '"' || *s == '\\')
				buf_putc(b, '\\');
			buf_putc(b, *s);
		}
		buf_putc(b, '"');
		return;
	}
	encoded_words(b, s);
}

/* RFC 5322 date, in UTC, without the locale. */
static void
header_date(struct buf *b, time_t t)
{
	static const char *const days[] = { "Sun", "Mon", "Tue", "Wed", "Thu",
		"Fri", "Sat" };
	static const char *const months[] = { "Jan", "Feb", "Mar", "Apr",
		"May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof tm);
	buf_printf(b, "Date: %s, %d %s %04d %02d:%02d:%02d +0000\r\n",
	    days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
	    tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* The body, quoted-printable, CRLF line ends, lines <= 76 characters. */
static void
body_qp(struct buf *b, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t col = 0;

	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		char tok[4];
		size_t tl;

		if (c == '\r')
			continue;
		if (c == '\n') {
			buf_puts(b, "\r\n");
			col = 0;
			continue;
		}
		/* Blanks before a line end must be encoded. */
		if ((c >= 33 && c <= 126 && c != '=') ||
		    ((c == ' ' || c == '\t') && s[1] != '\n' && s[1] != '\r' &&
		    s[1] != '\0')) {
			tok[0] = (char)c;
			tl = 1;
		} else {
			tok[0] = '=';
			tok[1] = hex[c >> 4];
			tok[2] = hex[c & 15];
			tl = 3;
		}
		if (col + tl > QP_LINE) {
			buf_puts(b, "=\r\n");
			col = 0;
		}
		buf_append(b, tok, tl);
		col += tl;
	}
	if (col > 0)
		buf_puts(b, "\r\n");
}

int
mailmsg_build(const struct mailmsg *m, char **data_r, size_t *len_r,
    char *err, size_t errlen)
{
	struct buf b;
	const char *bad = NULL;

	*data_r = NULL;
	*len_r = 0;
	if (!mailmsg_valid_address(m->from))
		bad = "sender address";
	else if (!mailmsg_valid_address(m->to))
		bad = "recipient address";
	else if (m->from_name != NULL && !clean_line(m->from_name))
		bad = "sender name";
	else if (m->subject == NULL || !clean_line(m->subject))
		bad = "subject";
	else if (m->body == NULL || !clean_text(m->body))
		bad = "body";
	else if (m->message_id == NULL || !mailmsg_valid_address(m->message_id))
		bad = "Message-ID";
	if (bad != NULL) {
		snprintf(err, errlen, "refused: the %s is empty or holds a "
		    "control character, invalid UTF-8 or a forbidden "
		    "character", bad);
		return -1;
	}
	buf_init(&b, MAILMSG_MAX_BYTES);
	buf_puts(&b, "From: ");
	if (m->from_name != NULL && *m->from_name != '\0') {
		header_text(&b, m->from_name, 1);
		buf_putc(&b, ' ');
	}
	buf_printf(&b, "<%s>\r\n", m->from);
	buf_printf(&b, "To: <%s>\r\n", m->to);
	buf_puts(&b, "Subject: ");
	header_text(&b, m->subject, 0);
	buf_puts(&b, "\r\n");
	header_date(&b, m->date);
	buf_printf(&b, "Message-ID: <%s>\r\n", m->message_id);
	buf_puts(&b, "MIME-Version: 1.0\r\n"
	    "Content-Type: text/plain; charset=UTF-8\r\n"
	    "Content-Transfer-Encoding: quoted-printable\r\n"
	    "Auto-Submitted: auto-generated\r\n"
	    "\r\n");
	body_qp(&b, m->body);
	if (b.truncated) {
		snprintf(err, errlen, "refused: message over %u bytes",
		    (unsigned)MAILMSG_MAX_BYTES);
		buf_free(&b);
		return -1;
	}
	*len_r = b.len;
	*data_r = buf_steal(&b);
	return 0;
}
