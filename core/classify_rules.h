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
 * of each piece first).
 */
struct text_rule {
	const char *id;		/* "text.en.mailbox-full" */
	const char *reason;	/* Sisimai reason name */
	const char *pattern;
};

#define CLASSIFY_GAP	80

/* Status codes: exact "5.1.1" first, then the class and subject "5.1". */
struct status_rule {
	const char *code;
	const char *reason;
};

/* SMTP reply codes, used when neither text nor status decide. */
struct reply_rule {
	int code;
	const char *reason;
};

extern const struct text_rule classify_text_rules[];
extern const size_t classify_ntext_rules;
extern const struct status_rule classify_status_rules[];
extern const size_t classify_nstatus_rules;
extern const struct reply_rule classify_reply_rules[];
extern const size_t classify_nreply_rules;

#endif
