/* rulescan.c - the text rules found in one pass (see rulescan.h). */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "classify_rules.h"
#include "reason.h"
#include "rulescan.h"
#include "xalloc.h"

const char *const rulescan_labels[RULESCAN_NLABELS] = {
	"lpnaaa", "lpn", "ofr", "ouk",
};

/* sendmail's transcript line before the remote's first words. */
static const char talk[] = "while talking to ";

/* What a piece of the index stands for. */
enum pat_kind { PK_RULE, PK_CMD, PK_TALK, PK_LABEL };

/* The first piece of a rule (or marker, or label). */
struct pat {
	const char *piece;	/* without a leading '|' */
	const char *rest;	/* after the first '*', or NULL */
	unsigned short len;	/* bytes of piece */
	unsigned short idx;	/* rule, marker or label number */
	unsigned char kind;	/* enum pat_kind */
	unsigned char wb;	/* a word boundary before */
	unsigned char we;	/* ... and after (a rule of one piece) */
};

/* Buckets of the index of three-byte grams (a power of two). */
#define GRAM_BITS	12
#define GRAMS		(1u << GRAM_BITS)

/* The pieces of three bytes or more in the gram index that start with
 * the same bytes (up to eight): "recipien" starts 28 of them. */
struct gram {
	uint64_t key;	/* those bytes, as a text word */
	uint64_t mask;	/* which bytes of a text word key compares */
	unsigned short pat0;	/* the pieces: gpat[pat0..pat0 + npat) */
	unsigned short npat;
};

/*
 * The pieces, by where they can start: those of three bytes or more in
 * buckets by the hash of their first three bytes (a bit per bucket says
 * whether it holds any), the shorter ones by their first byte. A scan
 * reads eight bytes at each offset of the text, and only a bucket hit
 * (or a short piece's first byte) leads to a candidate.
 */
struct index {
	struct pat *pat;
	size_t npat;
	unsigned char rid[RULESCAN_MAX_RULES];	/* rule -> reason */
	unsigned char used[GRAMS / 8];	/* bucket b holds pieces */
	unsigned short first[GRAMS + 1];	/* bucket b: gram[first[b]..] */
	struct gram *gram;
	unsigned short *gpat;	/* the grams' pieces, in table order */
	unsigned char short_first[256];	/* a short piece starts so */
	unsigned short *shorts;	/* the pieces of one or two bytes */
	size_t nshort;
	/*
	 * When every piece has step + 2 bytes or more (step > 1): the
	 * buckets of the three bytes at offsets 0 to step - 1 of every
	 * piece. Where the three bytes at an offset that is a multiple of
	 * step are in none, no piece starts in the step offsets up to it.
	 */
	size_t step;
	unsigned char inner[GRAMS / 8];
	uint64_t three;		/* mask_of(3), computed once */
};

/* Every piece; the command markers only (for the notice's command). */
static struct index ix, ixc;
static int built;
/* ---- pieces after the first ----------------------------------------- */

/*
 * Find one piece (with '|' word boundaries at its ends, if any) in (t, n)
 * from offset from, starting at most maxgap bytes after from (or anywhere
 * when maxgap is (size_t)-1). Returns the start, or -1, and sets *end_r.
 */
static long
piece_find(const char *t, size_t n, size_t from, const char *pc, size_t pl,
    size_t maxgap, size_t *end_r)
{
	const char *p;
	size_t at, lim;
	int wb = 0, we = 0;

	if (pl > 0 && pc[0] == '|')
		wb = 1, pc++, pl--;
	if (pl > 0 && pc[pl - 1] == '|')
		we = 1, pl--;
	if (pl == 0 || from > n || n - from < pl)
		return -1;
	/* the last start allowed, plus one */
	lim = n - pl + 1;
	if (maxgap != (size_t)-1 && from + maxgap + 1 < lim)
		lim = from + maxgap + 1;
	while (from < lim) {
		p = memchr(t + from, pc[0], lim - from);
		if (p == NULL)
			return -1;
		at = (size_t)(p - t);
		if (memcmp(p + 1, pc + 1, pl - 1) == 0 &&
		    (!wb || at == 0 || !rulescan_is_word((unsigned char)
		    t[at - 1])) && (!we || at + pl == n ||
		    !rulescan_is_word((unsigned char)t[at + pl]))) {
			*end_r = at + pl;
			return (long)at;
		}
		from = at + 1;
	}
	return -1;
}

/*
 * The rest of a pattern after its first piece: pieces separated by '*',
 * each within CLASSIFY_GAP bytes of the previous one, from pos on.
 * Returns 1 and sets *end_r when they all follow in order.
 */
static int
rest_match(const char *t, size_t n, const char *rest, size_t pos,
    size_t *end_r)
{
	while (*rest != '\0') {
		const char *next = strchr(rest, '*');
		size_t pl, e2;

		while (*rest == ' ')
			rest++;
		pl = next ? (size_t)(next - rest) : strlen(rest);
		while (pl > 0 && rest[pl - 1] == ' ')
			pl--;
		if (piece_find(t, n, pos, rest, pl, CLASSIFY_GAP, &e2) < 0)
			return 0;
		pos = e2;
		rest = next ? next + 1 : rest + strlen(rest);
	}
	*end_r = pos;
	return 1;
}

int
rulescan_find(const char *t, size_t n, const char *pattern, size_t *start_r,
    size_t *end_r)
{
	const char *star = strchr(pattern, '*');
	size_t pl = star ? (size_t)(star - pattern) : strlen(pattern), from = 0;
	size_t e1;
	long a;

	/* (the spaces before a '*' are not part of the piece; a pattern
	 * without one is all piece, as in the index) */
	while (star != NULL && pl > 0 && pattern[pl - 1] == ' ')
		pl--;
	while ((a = piece_find(t, n, from, pattern, pl, (size_t)-1, &e1)) >=
	    0) {
		if (star == NULL || rest_match(t, n, star + 1, e1, end_r)) {
			if (star == NULL)
				*end_r = e1;
			*start_r = (size_t)a;
			return 1;
		}
		from = (size_t)a + 1;
	}
	return 0;
}

/* ---- the index -------------------------------------------------------- */

/* Fill one piece from a pattern in the text rule syntax. */
static void
pat_set(struct pat *pt, const char *p, enum pat_kind kind, size_t idx)
{
	const char *star = strchr(p, '*');
	size_t l = star ? (size_t)(star - p) : strlen(p);

	memset(pt, 0, sizeof *pt);
	if (*p == '|')
		pt->wb = 1, p++, l--;
	while (l > 0 && p[l - 1] == ' ' && star != NULL)
		l--;
	if (star == NULL && l > 0 && p[l - 1] == '|')
		pt->we = 1, l--;
	if (l == 0 || l > 0xffff)
		abort();	/* an empty pattern: a table bug */
	pt->piece = p;
	pt->len = (unsigned short)l;
	pt->rest = star ? star + 1 : NULL;
	pt->kind = (unsigned char)kind;
	pt->idx = (unsigned short)idx;
}

/* The first n bytes (at most eight) of p as a text word would hold them
 * (see word_at), the others zero. */
static uint64_t
word_of(const char *p, size_t n)
{
	unsigned char b[8] = { 0 };
	uint64_t w;

	memcpy(b, p, n < 8 ? n : 8);
	memcpy(&w, b, 8);
	return w;
}

/* The word of the text at offset i: its eight bytes from there, zeros
 * past the end. */
static inline uint64_t
word_at(const char *t, size_t n, size_t i)
{
	unsigned char b[8] = { 0 };
	uint64_t w;

	if (n - i >= 8) {
		memcpy(&w, t + i, 8);
		return w;
	}
	memcpy(b, t + i, n - i);
	memcpy(&w, b, 8);
	return w;
}

/* The mask of the first n bytes (at most eight) of a word. */
static uint64_t
mask_of(size_t n)
{
	static const char ff[8] = { -1, -1, -1, -1, -1, -1, -1, -1 };

	return word_of(ff, n);
}

/* The bucket of the first three bytes of a word (three = mask_of(3)). */
static inline unsigned
bucket_of(uint64_t w, uint64_t three)
{
	uint64_t x = w & three;
	uint32_t g = (uint32_t)(x ^ x >> 32);	/* (wherever they are) */

	return (uint32_t)(g * 0x9e3779b1u) >> (32 - GRAM_BITS);
}

/* The gram index of the pieces of x (x->pat filled). */
static void
index_grams(struct index *x)
{
	uint64_t three = mask_of(3);
	unsigned *count = xcalloc(GRAMS + 1, sizeof *count);
	unsigned short *piece;
	uint64_t *key;
	size_t k, b, at, ng, np;

	x->three = three;
	for (k = 0; k < x->npat; k++)
		if (x->pat[k].len >= 3)
			count[bucket_of(word_of(x->pat[k].piece, 3), three)]++;
	/* Each bucket lists its pieces in table order. */
	for (b = 0, at = 0; b < GRAMS; b++) {
		if (at > 0xffff)
			abort();	/* too many pieces: a table bug */
		x->first[b] = (unsigned short)at;
		if (count[b] > 0)
			x->used[b / 8] |= (unsigned char)(1u << (b % 8));
		at += count[b];
		count[b] = x->first[b];
	}
	x->first[GRAMS] = (unsigned short)at;
	piece = xcalloc(at ? at : 1, sizeof *piece);
	key = xcalloc(at ? at : 1, sizeof *key);
	x->shorts = xcalloc(x->npat, sizeof *x->shorts);
	for (k = 0; k < x->npat; k++) {
		const struct pat *pt = &x->pat[k];

		if (pt->len < 3) {
			x->short_first[(unsigned char)pt->piece[0]] = 1;
			x->shorts[x->nshort++] = (unsigned short)k;
			continue;
		}
		b = bucket_of(word_of(pt->piece, 3), three);
		key[count[b]] = word_of(pt->piece, pt->len);
		piece[count[b]++] = (unsigned short)k;
	}
	/* One gram for the pieces of a bucket with the same first bytes. */
	x->gram = xcalloc(at ? at : 1, sizeof *x->gram);
	x->gpat = xcalloc(at ? at : 1, sizeof *x->gpat);
	for (b = 0, ng = 0, np = 0; b < GRAMS; b++) {
		size_t from = x->first[b], to = x->first[b + 1], i, j;

		x->first[b] = (unsigned short)ng;
		for (i = from; i < to; i++) {
			const struct pat *pt;
			struct gram *g;

			if (piece[i] == (unsigned short)-1)
				continue;	/* (in a gram already) */
			pt = &x->pat[piece[i]];
			g = &x->gram[ng++];
			g->key = key[i];
			g->mask = mask_of(pt->len);
			g->pat0 = (unsigned short)np;
			/* (a key of fewer than eight bytes ends in zeros:
			 * equal keys of equal lengths) */
			for (j = i; j < to; j++)
				if (piece[j] != (unsigned short)-1 &&
				    key[j] == key[i] && (pt->len >= 8 ?
				    x->pat[piece[j]].len >= 8 :
				    x->pat[piece[j]].len == pt->len)) {
					x->gpat[np++] = piece[j];
					piece[j] = (unsigned short)-1;
				}
			g->npat = (unsigned short)(np - g->pat0);
		}
	}
	x->first[GRAMS] = (unsigned short)ng;
	free(key);
	free(piece);
	free(count);
	/* Offsets a scan may skip: with no short piece, the shortest one
	 * less two, at most 8. */
	x->step = 8;
	for (k = 0; k < x->npat; k++)
		if (x->pat[k].len < x->step + 2)
			x->step = x->pat[k].len < 3 ? 1 : x->pat[k].len - 2u;
	for (k = 0; x->step > 1 && k < x->npat; k++)
		for (at = 0; at < x->step; at++) {
			b = bucket_of(word_of(x->pat[k].piece + at, 3), three);
			x->inner[b / 8] |= (unsigned char)(1u << (b % 8));
		}
}

/* Both indexes, from the tables of classify_rules.c. */
static void
index_build(void)
{
	size_t i, k;

	if (classify_ntext_rules > RULESCAN_MAX_RULES)
		abort();	/* the table outgrew the index: a build bug */
	ix.npat = classify_ntext_rules + classify_ncmd_markers + 1 +
	    RULESCAN_NLABELS;
	ix.pat = xcalloc(ix.npat, sizeof *ix.pat);
	k = 0;
	for (i = 0; i < classify_ntext_rules; i++) {
		int r = reason_number(classify_text_rules[i].reason);

		if (r < 0)
			abort();	/* not a Sisimai reason: a table bug */
		ix.rid[i] = (unsigned char)r;
		pat_set(&ix.pat[k++], classify_text_rules[i].pattern, PK_RULE,
		    i);
	}
	for (i = 0; i < classify_ncmd_markers; i++)
		pat_set(&ix.pat[k++], classify_cmd_markers[i].pattern, PK_CMD,
		    i);
	pat_set(&ix.pat[k++], talk, PK_TALK, classify_ncmd_markers);
	for (i = 0; i < RULESCAN_NLABELS; i++) {
		pat_set(&ix.pat[k], rulescan_labels[i], PK_LABEL, i);
		ix.pat[k++].wb = 1;
	}
	index_grams(&ix);
	/* The markers again: the command alone. */
	ixc.npat = classify_ncmd_markers + 1;
	ixc.pat = xcalloc(ixc.npat, sizeof *ixc.pat);
	for (i = 0; i < ixc.npat; i++)
		ixc.pat[i] = ix.pat[classify_ntext_rules + i];
	index_grams(&ixc);
	built = 1;
}

enum reason_id
rulescan_reason(size_t k)
{
	if (!built)
		index_build();
	return (enum reason_id)ix.rid[k];
}

/* ---- the scan --------------------------------------------------------- */

/*
 * Candidate piece p starts at offset start of (t, n), its first bytes
 * (known) already matched: check the rest, record it.
 */
static void
candidate(const char *t, size_t n, size_t start, size_t known,
    const struct pat *p, struct scan *s, long *best, size_t *best_m)
{
	size_t end, k;
	const struct text_rule *tr;
	short *f;

	if (p->len > known && (n - start < p->len || memcmp(t + start +
	    known, p->piece + known, (size_t)(p->len - known)) != 0))
		return;
	if (p->wb && start > 0 && rulescan_is_word((unsigned char)
	    t[start - 1]))
		return;
	switch (p->kind) {
	case PK_RULE:
		k = p->idx;
		if (scan_on(s, k))
			return;
		if (p->rest == NULL) {
			end = start + p->len;
			if (p->we && end < n && rulescan_is_word((unsigned char)
			    t[end]))
				return;
		} else if (!rest_match(t, n, p->rest, start + p->len, &end))
			return;
		s->on[k / 64] |= (uint64_t)1 << (k % 64);
		s->start[k] = (unsigned short)start;
		s->end[k] = (unsigned short)end;
		s->any = 1;
		tr = &classify_text_rules[k];
		f = &s->first[tr->tier][ix.rid[k]];
		if (*f < 0 || (size_t)*f > k)
			*f = (short)k;
		f = &s->first_tier[tr->tier];
		if (*f < 0 || (size_t)*f > k)
			*f = (short)k;
		return;
	case PK_TALK: {
		/* "... while talking to host.: <<< 554 ...": no command
		 * was sent, the greeting refused the connection */
		size_t q = start + p->len;

		while (q < n && t[q] != ' ')
			q++;
		while (q < n && t[q] == ' ')
			q++;
		if (n - q < 3 || memcmp(t + q, "<<<", 3) != 0)
			return;
	}
		/* FALLTHROUGH */
	case PK_CMD:
		/* The one that starts last; at the same place, the first
		 * in the table. */
		if ((long)start > *best || ((long)start == *best &&
		    p->idx < *best_m)) {
			*best = (long)start;
			*best_m = p->idx;
		}
		return;
	case PK_LABEL:
		s->label[p->idx] = (long)start;
		return;
	}
}

/* The command a best marker names. */
static enum smtp_cmd
best_cmd(long best, size_t best_m)
{
	if (best < 0)
		return CMD_NONE;
	if (best_m == classify_ncmd_markers)
		return CMD_CONN;
	return classify_cmd_markers[best_m].cmd;
}

/*
 * The pieces of x that start at offset i of (t, n) (w: the eight bytes
 * from there), handed to candidate(): the bucket of the first three
 * bytes, then, if the bucket holds pieces, the first (up to eight) bytes
 * of each of its grams compared at once; a short piece by its first byte.
 */
static inline void
scan_one(const struct index *x, const char *t, size_t n, size_t i,
    uint64_t w, struct scan *s, long *best, size_t *best_m)
{
	size_t g, j;
	unsigned b = bucket_of(w, x->three);

	if (x->used[b / 8] & (1u << (b % 8)))
		for (g = x->first[b]; g < x->first[b + 1]; g++) {
			const struct gram *gr = &x->gram[g];

			if ((w & gr->mask) != gr->key)
				continue;
			for (j = 0; j < gr->npat; j++)
				candidate(t, n, i, 8,
				    &x->pat[x->gpat[gr->pat0 + j]], s, best,
				    best_m);
		}
	if (x->short_first[(unsigned char)t[i]])
		for (j = 0; j < x->nshort; j++) {
			const struct pat *p = &x->pat[x->shorts[j]];

			if (p->piece[0] == t[i])
				candidate(t, n, i, 1, p, s, best, best_m);
		}
}

/* The pieces of x that start at offsets from to to - 1 of (t, n), in the
 * order of their starts, handed to candidate(). */
static void
scan_at(const struct index *x, const char *t, size_t n, size_t from,
    size_t to, struct scan *s, long *best, size_t *best_m)
{
	/* (offsets with eight bytes after them read them at once) */
	size_t i = from, whole = n >= 8 ? n - 7 : 0;
	uint64_t w;

	for (; i < to && i < whole; i++) {
		memcpy(&w, t + i, 8);
		scan_one(x, t, n, i, w, s, best, best_m);
	}
	for (; i < to; i++)
		scan_one(x, t, n, i, word_at(t, n, i), s, best, best_m);
}

/* Every piece of x that starts in (t, n), in the order of their starts,
 * handed to candidate(). */
static void
scan_pieces(const struct index *x, const char *t, size_t n, struct scan *s,
    long *best, size_t *best_m)
{
	uint64_t three = x->three;
	size_t to;
	unsigned b;

	if (x->step > 1) {
		/* Offsets a multiple of step apart (a piece that starts
		 * later than the last one does not fit); around an inner
		 * hit, the step offsets up to it, in order. */
		for (to = x->step - 1; to + 3 <= n; to += x->step) {
			b = bucket_of(word_at(t, n, to), three);
			if (x->inner[b / 8] & (1u << (b % 8)))
				scan_at(x, t, n, to + 1 - x->step, to + 1, s,
				    best, best_m);
		}
		return;
	}
	scan_at(x, t, n, 0, n, s, best, best_m);
}

void
rulescan(const char *t, size_t n, struct scan *s)
{
	size_t i, best_m = 0;
	long best = -1;

	if (!built)
		index_build();
	s->any = 0;
	memset(s->on, 0, sizeof s->on);
	memset(s->first, 0xff, sizeof s->first);
	memset(s->first_tier, 0xff, sizeof s->first_tier);
	for (i = 0; i < RULESCAN_NLABELS; i++)
		s->label[i] = -1;
	if (n > 0xffff)
		n = 0xffff;
	scan_pieces(&ix, t, n, s, &best, &best_m);
	s->cmd = best_cmd(best, best_m);
}

enum smtp_cmd
rulescan_cmd(const char *t, size_t n)
{
	size_t best_m = 0;
	long best = -1;

	if (!built)
		index_build();
	if (n > 0xffff)
		n = 0xffff;
	scan_pieces(&ixc, t, n, NULL, &best, &best_m);
	return best_cmd(best, best_m);
}
