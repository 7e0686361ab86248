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

/* What each byte is in a field name: itself lowercased, 1 for the colon
 * that ends it, 0 for a byte that cannot be in one (space, control, not
 * ASCII). */
static const unsigned char name_map[256] = {
	[33] = 33, [34] = 34, [35] = 35, [36] = 36, [37] = 37, [38] = 38,
	[39] = 39, [40] = 40, [41] = 41, [42] = 42, [43] = 43, [44] = 44,
	[45] = 45, [46] = 46, [47] = 47, [48] = 48, [49] = 49, [50] = 50,
	[51] = 51, [52] = 52, [53] = 53, [54] = 54, [55] = 55, [56] = 56,
	[57] = 57, [58] = 1, [59] = 59, [60] = 60, [61] = 61, [62] = 62,
	[63] = 63, [64] = 64, [65] = 97, [66] = 98, [67] = 99, [68] = 100,
	[69] = 101, [70] = 102, [71] = 103, [72] = 104, [73] = 105,
	[74] = 106, [75] = 107, [76] = 108, [77] = 109, [78] = 110,
	[79] = 111, [80] = 112, [81] = 113, [82] = 114, [83] = 115,
	[84] = 116, [85] = 117, [86] = 118, [87] = 119, [88] = 120,
	[89] = 121, [90] = 122, [91] = 91, [92] = 92, [93] = 93, [94] = 94,
	[95] = 95, [96] = 96, [97] = 97, [98] = 98, [99] = 99, [100] = 100,
	[101] = 101, [102] = 102, [103] = 103, [104] = 104, [105] = 105,
	[106] = 106, [107] = 107, [108] = 108, [109] = 109, [110] = 110,
	[111] = 111, [112] = 112, [113] = 113, [114] = 114, [115] = 115,
	[116] = 116, [117] = 117, [118] = 118, [119] = 119, [120] = 120,
	[121] = 121, [122] = 122, [123] = 123, [124] = 124, [125] = 125,
	[126] = 126,
};

/*
 * Length of the field name if the line starts a field ("name:"), else 0;
 * the name, lowercased and NUL-terminated, goes to name (HDR_NAME_BYTES).
 */
static size_t
field_name(const char *s, size_t n, char *name)
{
	size_t i, lim = n < HDR_NAME_BYTES ? n : HDR_NAME_BYTES;

	for (i = 0; i < lim; i++) {
		unsigned char m = name_map[(unsigned char)s[i]];

		if (m < 2) {
			if (m == 0)
				return 0;
			name[i] = '\0';
			return i;
		}
		name[i] = (char)m;
	}
	return 0;
}

/* The first field called name kept so far (during a parse, when the
 * arena may still move), or NULL. */
static const struct hdr_field *
kept(const struct hdr_block *b, const char *name)
{
	size_t i;

	for (i = 0; i < b->n; i++)
		if (strcmp(b->arena + b->f[i].noff, name) == 0)
			return &b->f[i];
	return NULL;
}

static int
in_list(const char *const *list, const char *name)
{
	for (; *list != NULL; list++)
		if ((*list)[0] == name[0] && strcmp(*list, name) == 0)
			return 1;
	return 0;
}

/* Room for n more bytes and a NUL in the arena. */
static void
arena_grow(struct hdr_block *b, size_t n)
{
	b->acap = (b->alen + n + 1) * 2 < 512 ? 512 : (b->alen + n + 1) * 2;
	b->arena = xrealloc(b->arena, b->acap);
}

/* Append (s, n) to the value being built in the arena (from vstart on),
 * within CAP_FIELD_BYTES. */
static inline void
value_append(struct hdr_block *b, size_t vstart, const char *s, size_t n)
{
	if (b->alen - vstart + n > CAP_FIELD_BYTES) {
		n = CAP_FIELD_BYTES - (b->alen - vstart);
		b->capped = 1;
	}
	if (b->alen + n + 1 > b->acap)
		arena_grow(b, n);
	/* (a length the compiler cannot bound: memcpy, which is faster on
	 * a short value than the inline "rep movsq" a bound brings) */
	__asm__("" : "+r"(n));
	memcpy(b->arena + b->alen, s, n);
	b->alen += n;
}

/* Close the field being built (its name at noff, its value from vstart):
 * trim and store it. */
static void
flush(struct hdr_block *b, size_t noff, size_t vstart, int *open)
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
		b->alloc = b->alloc ? b->alloc * 2 : 8;
		b->f = xreallocarray(b->f, b->alloc, sizeof *b->f);
	}
	f = &b->f[b->n++];
	f->noff = noff;
	f->voff = vstart;
	f->len = b->alen - 1 - vstart;
}

int
hdr_parse(const char *p, size_t len, size_t *off_r, enum hdr_mode mode,
    struct hdr_block *b)
{
	char name[HDR_NAME_BYTES];
	size_t off = *off_r, next, ll, start = off, nl, vs, i, vstart = 0;
	size_t noff = 0;
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
			flush(b, noff, vstart, &open);
			if (line[0] != ' ' && line[0] != '\t' &&
			    field_name(line, ll, name) == 0 &&
			    mode == HDR_HEADER)
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
		flush(b, noff, vstart, &open);
		nl = field_name(line, ll, name);
		if (nl == 0) {
			if (mode == HDR_HEADER)
				break;
			off = next;
			continue;
		}
		seen++;
		b->nfields_seen++;
		if (b->only != NULL && !in_list(b->only, name)) {
			keep = 0;
			off = next;
			continue;
		}
		keep = b->n < CAP_HEADER_FIELDS || (in_list(essential, name) &&
		    kept(b, name) == NULL && b->n < 2 * CAP_HEADER_FIELDS);
		if (!keep)
			b->capped = 1;
		vs = nl + 1;
		while (vs < ll && (line[vs] == ' ' || line[vs] == '\t'))
			vs++;
		if (keep) {
			/* the name, then the value */
			noff = b->alen;
			value_append(b, noff, name, nl + 1);
			vstart = b->alen;
			value_append(b, vstart, line + vs, ll - vs);
			open = 1;
		}
		off = next;
	}
	flush(b, noff, vstart, &open);
	/* The arena may have moved: point the names and values into it. */
	for (i = 0; i < b->n; i++) {
		b->f[i].name = b->arena + b->f[i].noff;
		b->f[i].value = b->arena + b->f[i].voff;
	}
	*off_r = off;
	return seen;
}

int
hdr_field_in(const char *line, size_t ll, const char *const *list)
{
	size_t i, j, lim = ll < HDR_NAME_BYTES ? ll : HDR_NAME_BYTES;

	/* The name as field_name() reads it, compared in place. */
	for (i = 0; i < lim && name_map[(unsigned char)line[i]] > 1; i++)
		;
	if (i == 0 || i == lim || name_map[(unsigned char)line[i]] == 0)
		return -1;
	for (; *list != NULL; list++) {
		for (j = 0; j < i && (unsigned char)(*list)[j] ==
		    name_map[(unsigned char)line[j]]; j++)
			;
		if (j == i && (*list)[i] == '\0')
			return 1;
	}
	return 0;
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
hdr_clear(struct hdr_block *b)
{
	b->n = 0;
	b->alen = 0;
	b->capped = 0;
	b->nfields_seen = 0;
	b->only = NULL;
}

void
hdr_free(struct hdr_block *b)
{
	free(b->f);
	free(b->arena);
	hdr_init(b);
}
