/*
 * classify_rules.h - the classifier's rules, as data (classify_rules.c).
 * Internal to core/: classify.c reads these tables.
 */
#ifndef REBOND_CLASSIFY_RULES_H
#define REBOND_CLASSIFY_RULES_H

#include <stddef.h>

/*
 * A text rule: when pattern occurs in the normalized text (textnorm.h),
 * the reason is `reason`. Rules are tried in table order; the first that
 * matches wins, so specific wordings come before generic ones.
 *
 * Pattern syntax: plain normalized text, where '*' stands for a gap of
 * at most CLASSIFY_GAP bytes (pieces in this order, the shortest match
 * of each piece first; spaces around '*' are not part of the pieces),
 * and a '|' at either end requires a word boundary there.
 */
enum text_tier {
	TIER_STRONG = 0,	/* a specific phrase, weighed in reason order */
	TIER_DECISIVE,		/* names the cause beyond doubt: wins */
	TIER_WEAK,		/* a generic word: used only when nothing else
				 * (phrase or code) decided */
};

struct text_rule {
	const char *id;		/* "text.en.mailbox-full" */
	const char *reason;	/* Sisimai reason name */
	const char *pattern;
	enum text_tier tier;
};

/* Largest gap a '*' in a pattern stands for, in bytes. */
#define CLASSIFY_GAP	160

/* RFC 3463 status codes and the reason each names. */
struct status_rule {
	const char *code;
	const char *reason;
	const char *id;		/* "status.5.1.1" */
};

/* SMTP reply codes, used when neither text nor status decide. */
struct reply_rule {
	int code;
	const char *reason;
};

/*
 * The order in which reasons are weighed. A reason of the first list
 * wins when its text matches or the status code names it; the reasons
 * of the second list are decided by their text only, and their status
 * codes count only when no text rule matched at all.
 */
extern const char *const classify_order_primary[];
extern const size_t classify_norder_primary;
extern const char *const classify_order_secondary[];
extern const size_t classify_norder_secondary;

/* A provider's own error code and the reason it names. */
struct provider_code {
	const char *code;
	const char *reason;
};

/* Orange / La Poste error labels ("OFR006_102", "LPN007_416"). */
extern const struct provider_code classify_fr_codes[];
extern const size_t classify_nfr_codes;

extern const struct text_rule classify_text_rules[];
extern const size_t classify_ntext_rules;
extern const struct status_rule classify_status_rules[];
extern const size_t classify_nstatus_rules;
extern const struct reply_rule classify_reply_rules[];
extern const size_t classify_nreply_rules;

#endif
