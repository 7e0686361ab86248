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
 *
 * Reasons are weighed in a fixed order (classify_rules.c), each by its
 * phrases or by a status code that names it; the SMTP command the
 * failure answered (RCPT, DATA, MAIL...) separates an unknown address
 * from a filter's refusal and a refused sender. A specific code in the
 * diagnostic beats a generic Status: ("5.0.0"). Provider labels
 * (Orange/La Poste "OFR_506", "LPN007_416") are read as codes. Reason
 * names follow Sisimai, whose labels measure the classifier.
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
 * Build the classifier's tables now (they are built on first use
 * otherwise). After this call, classifying from several threads at once
 * is safe.
 */
void classify_init(void);

/*
 * Classify recipient i of report r into *v_r. i < r->nrcpt.
 * Pure: same input, same verdict.
 */
void classify_rcpt(const struct report *r, size_t i, struct verdict *v_r);

/*
 * Classify every recipient of r: v_r[i] for recipient i, or v_r[0] from
 * classify_message() when r has none (v_r holds max(1, r->nrcpt)
 * verdicts). Same verdicts as classify_rcpt() one by one, faster: what
 * the recipients share (the notice's text) is read once.
 */
void classify_report(const struct report *r, struct verdict *v_r);

/*
 * The verdict for a message with no recipient at all (REPORT_UNKNOWN,
 * or a bounce whose recipient could not be found): category unknown
 * unless the message itself says otherwise (an auto-reply).
 */
void classify_message(const struct report *r, struct verdict *v_r);

#endif
