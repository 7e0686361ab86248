/*
 * notify.h - the end of a run: deadlines, then the outbox.
 *
 * Once the mailbox is processed (whatever happened there), one run of the
 * database at a time (advisory lock "rebond outbox": several mailboxes
 * share it) expires address changes and invitations past their deadline,
 * then sends what rebond.outbox holds, in this order:
 *   1. the users' notifications (warnings, validation and invitation
 *      mails) by email or SMS;
 *   2. one admin digest to [smtp] admin_to listing every new problem
 *      with "prévenu le JJ/MM/AAAA (email|SMS)" or "non prévenu : ...";
 *   3. the operator alerts to [smtp] ops_to.
 * Each row is marked sent (sent_at) right after the relay or the SMS
 * command accepted it. A failure never undoes anything: the row keeps
 * attempts and last_error and is tried again at the next run (a refusal
 * for good sets failed_at). A crash between the relay's acceptance and
 * the mark sends that one message again at the next run, with the same
 * Message-ID (at least once, never lost).
 */
#ifndef REBOND_NOTIFY_H
#define REBOND_NOTIFY_H

#include <time.h>

#include "conf.h"
#include "store.h"

/* Rows read per round trip. */
#define NOTIFY_BATCH 100
/* Problems listed by one admin digest (the rest go in the next). */
#define NOTIFY_DIGEST_MAX 500

struct notify_stats {
	unsigned long sent;
	unsigned long failed;		/* refused for good */
	unsigned long deferred;		/* to try again */
	int validations_expired;
	int invitations_expired;
	int soft_decayed;		/* soft addresses back to ok */
};

/*
 * Expire deadlines, decay soft scores, purge old sent mail, then send.
 * verp_key (or NULL) signs the envelope sender of each email with the
 * account and role of its destination. Returns a sysexits code: 0, or 75
 * (database, relay or SMS command unreachable, or an upkeep statement
 * failed: cron retries; the bounces are processed already), 76 (the
 * relay's certificate refused), 77 (its login refused), 78 (a template
 * cannot be written, or the relay refuses the sender).
 */
int notify_run(const struct config *cfg, struct store *st, time_t now,
    const char *verp_key, struct notify_stats *ns);

#endif
