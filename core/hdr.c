/* hdr.c - tolerant "Name: value" block parser (see hdr.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "caps.h"
#include "hdr.h"
#include "xalloc.h"

/* Fields that are kept even after CAP_HEADER_FIELDS: the ones that decide
 * how the rest of the message is read. */
static const char *const essential[] = {
	"content-type", "content-transfer-encoding", "mime-version",
	"subject", "from", "date", "message-id", "x-failed-recipients",
	"auto-submitted", "final-recipient", "original-recipient", "action",
	"status", "diagnostic-code", "feedback-type",
};

void
hdr_init(struct hdr_block *b)
{
	memset(b, 0, sizeof *b);
}

/* One line of (p, len) at off: its length without the EOL, and the
 * offset of the next line. */
static size_t
line_at(const char *p, size_t len, size_t off, size_t *next_r)
{
	const char *nl = memchr(p + off, '\n', len - off);
	size_t e = nl ? (size_t)(nl - p) : len, ll = e - off;

	*next_r = nl ? e + 1 : len;
	if (ll > 0 && p[off + ll - 1] == '\r')
		ll--;
	return ll;
}

static int
is_blank(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t')
			return 0;
	return 1;
}

/* Length of the field name if the line starts a field ("name:"), else 0. */
static size_t
field_name_len(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && i < HDR_NAME_BYTES; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == ':')
			return i;
		if (c <= 32 || c >= 127)
			return 0;
	}
	return 0;
}

static int
is_essential(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof essential / sizeof essential[0]; i++)
		if (strcmp(essential[i], name) == 0)
			return 1;
	return 0;
}

/* Close the field being built in v: trim and store it, or drop it. */
static void
flush(struct hdr_block *b, const char *name, struct buf *v, int *open)
{
	struct hdr_field *f;
	size_t n;

	if (!*open)
		return;
	*open = 0;
	n = v->len;
	while (n > 0 && (v->data[n - 1] == ' ' || v->data[n - 1] == '\t'))
		n--;
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? b->alloc * 2 : 16;
		b->f = xreallocarray(b->f, b->alloc, sizeof *b->f);
	}
	f = &b->f[b->n++];
	memcpy(f->name, name, HDR_NAME_BYTES);
	f->value = xstrndup(v->data ? v->data : "", n);
	f->len = n;
	buf_reset(v);
}

int
hdr_parse(const char *p, size_t len, size_t *off_r, enum hdr_mode mode,
    struct hdr_block *b)
{
	char name[HDR_NAME_BYTES];
	struct buf v;
	size_t off = *off_r, next, ll, start = off, nl, vs, i;
	int open = 0, seen = 0, keep = 0;

	buf_init(&v, CAP_FIELD_BYTES);
	if (mode == HDR_HEADER && off == 0 && len >= 5 &&
	    memcmp(p, "From ", 5) == 0) {
		ll = line_at(p, len, off, &next);
		off = start = next;
	}
	if (mode == HDR_GROUP)
		while (off < len) {
			ll = line_at(p, len, off, &next);
			if (!is_blank(p + off, ll))
				break;
			off = next;
		}
	while (off < len) {
		const char *line = p + off;

		ll = line_at(p, len, off, &next);
		if (is_blank(line, ll)) {
			off = next;
			break;
		}
		if (ll > CAP_LINE_BYTES) {
			ll = CAP_LINE_BYTES;
			b->capped = 1;
		}
		if (off - start > CAP_HEADER_BYTES) {
			/* Past the cap: keep only finding the end. */
			b->capped = 1;
			keep = 0;
			flush(b, name, &v, &open);
			if (line[0] != ' ' && line[0] != '\t' &&
			    field_name_len(line, ll) == 0 && mode == HDR_HEADER)
				break;
			off = next;
			continue;
		}
		if (line[0] == ' ' || line[0] == '\t') {
			if (open && keep) {
				for (vs = 0; vs < ll && (line[vs] == ' ' ||
				    line[vs] == '\t'); vs++)
					;
				if (v.len > 0)
					buf_putc(&v, ' ');
				buf_append(&v, line + vs, ll - vs);
				if (v.truncated)
					b->capped = 1;
			} else if (mode == HDR_HEADER && !open && seen == 0) {
				/* A body that starts with white space. */
				break;
			}
			off = next;
			continue;
		}
		nl = field_name_len(line, ll);
		flush(b, name, &v, &open);
		if (nl == 0) {
			if (mode == HDR_HEADER)
				break;
			off = next;
			continue;
		}
		for (i = 0; i < nl; i++) {
			char c = line[i];

			name[i] = c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
		}
		memset(name + nl, 0, HDR_NAME_BYTES - nl);
		seen++;
		b->nfields_seen++;
		keep = b->n < CAP_HEADER_FIELDS || (is_essential(name) &&
		    hdr_get(b, name) == NULL && b->n < 2 * CAP_HEADER_FIELDS);
		if (!keep)
			b->capped = 1;
		vs = nl + 1;
		while (vs < ll && (line[vs] == ' ' || line[vs] == '\t'))
			vs++;
		if (keep) {
			buf_reset(&v);
			buf_append(&v, line + vs, ll - vs);
			if (v.truncated)
				b->capped = 1;
			open = 1;
		}
		off = next;
	}
	flush(b, name, &v, &open);
	buf_free(&v);
	*off_r = off;
	return seen;
}

const char *
hdr_get(const struct hdr_block *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->f[i].name, name) == 0)
			return b->f[i].value;
	return NULL;
}

int
hdr_next(const struct hdr_block *b, const char *name, size_t *i)
{
	for (; *i < b->n; (*i)++)
		if (strcmp(b->f[*i].name, name) == 0)
			return (int)(*i)++;
	return -1;
}

void
hdr_free(struct hdr_block *b)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		free(b->f[i].value);
	free(b->f);
	hdr_init(b);
}
