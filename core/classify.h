/*
 * classify.h - why each recipient bounced: a reason, its category, and
 * the rule that decided it.
 *
 * The decision reads the diagnostic text and the status and reply codes
 * together: a specific text beats a generic code ("5.1.1 ... rate
 * limited" is not a dead mailbox), and RFC 3463 codes decide when the text
 * says nothing. Delayed DSNs are never hard. Rules are data (tables in
 * classify_rules.c), each with an id; a verdict names its rule and the
 * text that matched, so an operator can see why.
 */
#ifndef REBOND_CLASSIFY_H
#define REBOND_CLASSIFY_H

#include "caps.h"
#include "reason.h"
#include "report.h"

struct verdict {
	const char *reason;	/* Sisimai reason name (static) */
	enum category category;
	const char *rule;	/* rule id (static), e.g. "status.5.1.1" */
	char matched[CAP_MATCH_BYTES + 1];	/* what the rule matched */
};

/*
 * Classify recipient i of report r into *v_r. i < r->nrcpt.
 * Pure: same input, same verdict.
 */
void classify_rcpt(const struct report *r, size_t i, struct verdict *v_r);

/*
 * The verdict for a message with no recipient at all (REPORT_UNKNOWN,
 * or a bounce whose recipient could not be found): category unknown
 * unless the message itself says otherwise (an auto-reply).
 */
void classify_message(const struct report *r, struct verdict *v_r);

#endif
