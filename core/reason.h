/*
 * reason.h - Sisimai's reason names and the categories that decide what
 * rebond does (DESIGN.md "The help page, as rules"; the mapping is
 * shared/corpus/categories.tsv).
 */
#ifndef REBOND_REASON_H
#define REBOND_REASON_H

enum category {
	CAT_HARD = 0,
	CAT_QUOTA,
	CAT_BLOCKED,
	CAT_SPF,
	CAT_SPAM,
	CAT_TRANSIENT,
	CAT_COMPLAINT,
	CAT_AUTOREPLY,
	CAT_DELIVERED,
	CAT_UNKNOWN,
	CAT_COUNT
};

/* "hard", "quota", ... for a category; never NULL. */
const char *category_name(enum category c);
/* Category by name; returns 0 and sets *c_r, or -1 for an unknown name. */
int category_parse(const char *name, enum category *c_r);
/*
 * The static copy of a known reason name ("userunknown", ...), or NULL
 * if name is not one of Sisimai's reasons.
 */
const char *reason_lookup(const char *name);
/* The category of a reason; CAT_UNKNOWN for an unknown name. */
enum category reason_category(const char *reason);

#endif
