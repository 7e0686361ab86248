/* rulescan.c - the text rules found in one pass (see rulescan.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "classify_rules.h"
#include "reason.h"
#include "rulescan.h"
#include "xalloc.h"

const char *const rulescan_labels[RULESCAN_NLABELS] = {
	"lpnaaa", "lpn", "ofr", "ouk",
};

/* In a transition of the scan table: the state reached has outputs. */
#define HAS_OUT		0x80000000u

/* sendmail's transcript line before the remote's first words. */
static const char talk[] = "while talking to ";

/* What a piece of the index stands for. */
enum pat_kind { PK_RULE, PK_CMD, PK_TALK, PK_LABEL };

/* The first piece of a rule (or marker, or label). */
struct pat {
	const char *piece;	/* without a leading '|' */
	const char *rest;	/* after the first '*', or NULL */
	unsigned short len;	/* bytes of piece */
	unsigned short key;	/* bytes indexed: min(len, RULESCAN_DEPTH) */
	unsigned short idx;	/* rule, marker or label number */
	unsigned char kind;	/* enum pat_kind */
	unsigned char wb;	/* a word boundary before */
	unsigned char we;	/* ... and after (a rule of one piece) */
};

struct index {
	struct pat *pat;
	size_t npat;
	unsigned char rid[RULESCAN_MAX_RULES];	/* rule -> reason */
	unsigned char cls[256];	/* byte -> class, 0: in no piece */
	size_t nclass;
	unsigned short *delta;	/* state * nclass + class -> state */
	/*
	 * The same for the scan: the row of the state reached (state *
	 * nclass), so that a step is an add and a load; HAS_OUT set when
	 * that state has outputs.
	 */
	uint32_t *row;
	unsigned *out_beg;	/* state -> its outputs: out[beg, end) */
	unsigned *out_end;
	unsigned short *out;	/* pieces ending at a state (and suffixes) */
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

	while (pl > 0 && pattern[pl - 1] == ' ')
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
	pt->key = (unsigned short)(l < RULESCAN_DEPTH ? l : RULESCAN_DEPTH);
	pt->rest = star ? star + 1 : NULL;
	pt->kind = (unsigned char)kind;
	pt->idx = (unsigned short)idx;
}

/* The automaton of the pieces of x (x->pat filled). */
static void
automaton_build(struct index *x)
{
	size_t i, k, c, nstates = 1, maxstates, nout = 0, head, tail, outcap;
	unsigned short *fail, *queue;
	int *own_first, *own_next;

	/* Classes: the bytes the indexed prefixes use. */
	x->nclass = 1;
	for (k = 0; k < x->npat; k++)
		for (i = 0; i < x->pat[k].key; i++) {
			unsigned char b = (unsigned char)x->pat[k].piece[i];

			if (x->cls[b] == 0)
				x->cls[b] = (unsigned char)x->nclass++;
		}
	if (x->nclass > 255)
		abort();

	/* The trie of the prefixes (delta holds the children). */
	maxstates = 1;
	for (k = 0; k < x->npat; k++)
		maxstates += x->pat[k].key;
	if (maxstates > 0xffff)
		abort();
	x->delta = xcalloc(maxstates * x->nclass, sizeof *x->delta);
	own_first = xmalloc(maxstates * sizeof *own_first);
	own_next = xmalloc(x->npat * sizeof *own_next);
	for (i = 0; i < maxstates; i++)
		own_first[i] = -1;
	for (k = x->npat; k-- > 0;) {
		size_t s = 0;

		for (i = 0; i < x->pat[k].key; i++) {
			unsigned short *d = &x->delta[s * x->nclass +
			    x->cls[(unsigned char)x->pat[k].piece[i]]];

			if (*d == 0)
				*d = (unsigned short)nstates++;
			s = *d;
		}
		/* pushed in reverse: each state lists pieces in order */
		own_next[k] = own_first[s];
		own_first[s] = (int)k;
	}

	/*
	 * Breadth first: failure links, the missing transitions, and for
	 * each state the pieces that end there (its own and its failure
	 * state's, already complete).
	 */
	fail = xcalloc(nstates, sizeof *fail);
	queue = xmalloc(nstates * sizeof *queue);
	x->out_beg = xcalloc(nstates, sizeof *x->out_beg);
	x->out_end = xcalloc(nstates, sizeof *x->out_end);
	outcap = 256;
	x->out = xreallocarray(NULL, outcap, sizeof *x->out);
	head = tail = 0;
	queue[tail++] = 0;
	while (head < tail) {
		size_t s = queue[head++], f = fail[s], j, add = 0;
		int o;

		for (o = own_first[s]; o >= 0; o = own_next[o])
			add++;
		if (s != 0)
			add += x->out_end[f] - x->out_beg[f];
		while (nout + add > outcap) {
			outcap *= 2;
			x->out = xreallocarray(x->out, outcap, sizeof *x->out);
		}
		x->out_beg[s] = (unsigned)nout;
		for (o = own_first[s]; o >= 0; o = own_next[o])
			x->out[nout++] = (unsigned short)o;
		if (s != 0)
			for (j = x->out_beg[f]; j < x->out_end[f]; j++)
				x->out[nout++] = x->out[j];
		x->out_end[s] = (unsigned)nout;
		for (c = 1; c < x->nclass; c++) {
			unsigned short *d = &x->delta[s * x->nclass + c];

			if (*d != 0) {
				fail[*d] = s == 0 ? 0 :
				    x->delta[fail[s] * x->nclass + c];
				queue[tail++] = *d;
			} else if (s != 0) {
				*d = x->delta[fail[s] * x->nclass + c];
			}
		}
	}
	x->row = xreallocarray(NULL, nstates * x->nclass, sizeof *x->row);
	for (i = 0; i < nstates * x->nclass; i++) {
		size_t to = x->delta[i];

		x->row[i] = (uint32_t)(to * x->nclass);
		if (x->out_end[to] > x->out_beg[to])
			x->row[i] |= HAS_OUT;
	}
	free(x->delta);
	x->delta = NULL;
	free(fail);
	free(queue);
	free(own_first);
	free(own_next);
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
	automaton_build(&ix);
	/* The markers again, indexed whole: the command alone. */
	ixc.npat = classify_ncmd_markers + 1;
	ixc.pat = xcalloc(ixc.npat, sizeof *ixc.pat);
	for (i = 0; i < ixc.npat; i++) {
		ixc.pat[i] = ix.pat[classify_ntext_rules + i];
		ixc.pat[i].key = ixc.pat[i].len;
	}
	automaton_build(&ixc);
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

/* Candidate piece p ends at offset i of (t, n): check it, record it. */
static void
candidate(const char *t, size_t n, size_t i, const struct pat *p,
    struct scan *s, long *best, size_t *best_m)
{
	size_t start = i + 1 - p->key, end, k;
	const struct text_rule *tr;
	short *f;

	if (p->len > p->key && (n - start < p->len || memcmp(t + start +
	    p->key, p->piece + p->key, (size_t)(p->len - p->key)) != 0))
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

void
rulescan(const char *t, size_t n, struct scan *s)
{
	const uint32_t *row;
	const unsigned char *cls;
	size_t i, nclass, best_m = 0, st;
	uint32_t state = 0;
	unsigned o;
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
	row = ix.row;
	cls = ix.cls;
	nclass = ix.nclass;
	for (i = 0; i < n; i++) {
		state = row[(state & ~HAS_OUT) + cls[(unsigned char)t[i]]];
		if (!(state & HAS_OUT))
			continue;
		st = (state & ~HAS_OUT) / nclass;
		for (o = ix.out_beg[st]; o < ix.out_end[st]; o++)
			candidate(t, n, i, &ix.pat[ix.out[o]], s, &best,
			    &best_m);
	}
	s->cmd = best_cmd(best, best_m);
}

enum smtp_cmd
rulescan_cmd(const char *t, size_t n)
{
	const uint32_t *row;
	const unsigned char *cls;
	size_t i, nclass, best_m = 0, st;
	uint32_t state = 0;
	unsigned o;
	long best = -1;

	if (!built)
		index_build();
	if (n > 0xffff)
		n = 0xffff;
	row = ixc.row;
	cls = ixc.cls;
	nclass = ixc.nclass;
	for (i = 0; i < n; i++) {
		state = row[(state & ~HAS_OUT) + cls[(unsigned char)t[i]]];
		if (!(state & HAS_OUT))
			continue;
		st = (state & ~HAS_OUT) / nclass;
		for (o = ixc.out_beg[st]; o < ixc.out_end[st]; o++)
			candidate(t, n, i, &ixc.pat[ixc.out[o]], NULL, &best,
			    &best_m);
	}
	return best_cmd(best, best_m);
}
