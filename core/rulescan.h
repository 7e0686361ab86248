/*
 * rulescan.h - every text rule of classify_rules.c looked for in one pass
 * over a normalized text. Internal to core/ (classify.c).
 *
 * The first pieces of the text rules, of the SMTP command markers and of
 * the Orange / La Poste labels are indexed once: an Aho-Corasick automaton
 * over their first RULESCAN_DEPTH bytes. A scan walks the text once; where
 * the automaton reports a piece, the candidate is checked in full (the
 * rest of the piece, the word boundaries, the pieces after each '*').
 * The index is built on first use from constant tables, so a scan is a
 * pure function of its text.
 */
#ifndef REBOND_RULESCAN_H
#define REBOND_RULESCAN_H

#include <stddef.h>
#include <stdint.h>

#include "classify_rules.h"
#include "reason.h"

/* Text rules a scan can report (a larger table is a build error). */
#define RULESCAN_MAX_RULES	2048
/* Bytes of each first piece the automaton indexes. */
#define RULESCAN_DEPTH		8
/* The Orange / La Poste labels, in the order they are preferred. */
#define RULESCAN_NLABELS	4
extern const char *const rulescan_labels[RULESCAN_NLABELS];

/* What one scan found. Only the entries of matching rules are set. */
struct scan {
	int any;		/* some text rule matched */
	uint64_t on[RULESCAN_MAX_RULES / 64];	/* rule k matched */
	/* where rule k first matched: [start, end) of the text */
	unsigned short start[RULESCAN_MAX_RULES];
	unsigned short end[RULESCAN_MAX_RULES];
	/* per tier and reason, the first matching rule in table order */
	short first[3][RSN_COUNT];
	short first_tier[3];	/* per tier, any reason */
	enum smtp_cmd cmd;	/* the SMTP command the text names last */
	long label[RULESCAN_NLABELS];	/* last start of each label, or -1 */
};

/* Scan (t, n), at most 65535 bytes of normalized text, into *s. */
void rulescan(const char *t, size_t n, struct scan *s);

/*
 * Only the SMTP command the normalized text (t, n) names last (as
 * rulescan()'s cmd), faster: the markers alone are looked for.
 */
enum smtp_cmd rulescan_cmd(const char *t, size_t n);

/* Did text rule k match? */
static inline int
scan_on(const struct scan *s, size_t k)
{
	return (s->on[k / 64] >> (k % 64)) & 1;
}

/* The reason number of text rule k. */
enum reason_id rulescan_reason(size_t k);

/*
 * Find a pattern (text rule syntax, classify_rules.h) in (t, n): returns
 * 1 and sets the start and end of the first match, else 0.
 */
int rulescan_find(const char *t, size_t n, const char *pattern,
    size_t *start_r, size_t *end_r);

/* Is c part of a word (for the '|' boundaries)? */
static inline int
rulescan_is_word(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80;
}

#endif
