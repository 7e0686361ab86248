/* hdr.c - tolerant "Name: value" block parser (see hdr.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "caps.h"
#include "hdr.h"
#include "xalloc.h"

/* Fields that are kept even after CAP_HEADER_FIELDS: the ones that decide
 * how the rest of the message is read. */
static const char *const essential[] = {
	"content-type", "content-transfer-encoding", "mime-version",
	"subject", "from", "date", "message-id", "x-failed-recipients",
	"auto-submitted", "final-recipient", "original-recipient", "action",
	"status", "diagnostic-code", "feedback-type", NULL,
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
in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if ((*list)[0] == name[0] && strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/* Append (s, n) to the value being built in the arena (from vstart on),
 * within CAP_FIELD_BYTES. */
static void
value_append(struct hdr_block *b, size_t vstart, const char *s, size_t n)
{
	if (b->alen - vstart + n > CAP_FIELD_BYTES) {
		n = CAP_FIELD_BYTES - (b->alen - vstart);
		b->capped = 1;
	}
	if (b->alen + n + 1 > b->acap) {
		b->acap = (b->alen + n + 1) * 2 < 1024 ? 1024 :
		    (b->alen + n + 1) * 2;
		b->arena = xrealloc(b->arena, b->acap);
	}
	memcpy(b->arena + b->alen, s, n);
	b->alen += n;
}

/* Close the field being built (value from vstart): trim and store it. */
static void
flush(struct hdr_block *b, const char *name, size_t vstart, int *open)
{
	struct hdr_field *f;

	if (!*open)
		return;
	*open = 0;
	while (b->alen > vstart && (b->arena[b->alen - 1] == ' ' ||
	    b->arena[b->alen - 1] == '\t'))
		b->alen--;
	value_append(b, b->alen, "", 0);	/* room for the NUL */
	b->arena[b->alen++] = '\0';
	if (b->n == b->alloc) {
		b->alloc = b->alloc ? b->alloc * 2 : 16;
		b->f = xreallocarray(b->f, b->alloc, sizeof *b->f);
	}
	f = &b->f[b->n++];
	memcpy(f->name, name, HDR_NAME_BYTES);
	f->voff = vstart;
	f->len = b->alen - 1 - vstart;
}

int
hdr_parse(const char *p, size_t len, size_t *off_r, enum hdr_mode mode,
    struct hdr_block *b)
{
	char name[HDR_NAME_BYTES];
	size_t off = *off_r, next, ll, start = off, nl, vs, i, vstart = 0;
	int open = 0, seen = 0, keep = 0;

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
			flush(b, name, vstart, &open);
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
				if (b->alen > vstart)
					value_append(b, vstart, " ", 1);
				value_append(b, vstart, line + vs, ll - vs);
			} else if (mode == HDR_HEADER && !open && seen == 0) {
				/* A body that starts with white space. */
				break;
			}
			off = next;
			continue;
		}
		nl = field_name_len(line, ll);
		flush(b, name, vstart, &open);
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
		if (b->only != NULL && !in_list(b->only, name)) {
			keep = 0;
			off = next;
			continue;
		}
		keep = b->n < CAP_HEADER_FIELDS || (in_list(essential, name) &&
		    hdr_get(b, name) == NULL && b->n < 2 * CAP_HEADER_FIELDS);
		if (!keep)
			b->capped = 1;
		vs = nl + 1;
		while (vs < ll && (line[vs] == ' ' || line[vs] == '\t'))
			vs++;
		if (keep) {
			vstart = b->alen;
			value_append(b, vstart, line + vs, ll - vs);
			open = 1;
		}
		off = next;
	}
	flush(b, name, vstart, &open);
	/* The arena may have moved: point the values into it. */
	for (i = 0; i < b->n; i++)
		b->f[i].value = b->arena + b->f[i].voff;
	*off_r = off;
	return seen;
}

const char *
hdr_get(const struct hdr_block *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (b->f[i].name[0] == name[0] &&
		    strcmp(b->f[i].name, name) == 0)
			return b->f[i].value;
	return NULL;
}

int
hdr_next(const struct hdr_block *b, const char *name, size_t *i)
{
	for (; *i < b->n; (*i)++)
		if (b->f[*i].name[0] == name[0] &&
		    strcmp(b->f[*i].name, name) == 0)
			return (int)(*i)++;
	return -1;
}

void
hdr_free(struct hdr_block *b)
{
	free(b->f);
	free(b->arena);
	hdr_init(b);
}
