/*
 * actions.h - the rows a batch writes for the policy's actions.
 *
 * Between policy_decide() and policy_apply() of each bounced recipient,
 * actions_add() turns what the policy decided into rows of a struct
 * batch_rows (store.h): a warning or an operator alert in rebond.outbox,
 * a problem in the admin queue (one per account and role: a later one of
 * the batch replaces an earlier one), an operator alert count (summed per
 * remote domain). actions_finish() adds the accounts rows that changed.
 * No I/O: the store writes the rows in the batch's transaction.
 */
#ifndef REBOND_ACTIONS_H
#define REBOND_ACTIONS_H

#include <stddef.h>
#include <time.h>

#include "conf.h"
#include "policy.h"
#include "report.h"
#include "store.h"

struct actions;

/*
 * A builder appending to rows (whose arrays it creates when NULL).
 * cfg gives the operator address; it must outlive the builder. now is
 * the run's time (an alert's notified_at).
 */
struct actions *actions_new(const struct config *cfg,
    struct batch_rows *rows, time_t now);
/*
 * Add the rows for act, decided for recipient rc (may be NULL) of
 * account a (may be NULL) with input in. remote is the recipient's
 * remote domain (actions_remote()). Call before policy_apply().
 */
void actions_add(struct actions *ax, const struct account *a,
    const struct policy_input *in, const struct policy_actions *act,
    const char *remote, const struct report_rcpt *rc);
/* Add the accounts rows (the dirty ones of acc) and the alert counts. */
void actions_finish(struct actions *ax, const struct account *acc,
    size_t nacc);
/* Free the builder (not the rows) and set *pp to NULL. */
void actions_free(struct actions **pp);

/*
 * The key of the operator alert of a recipient: the domain of its
 * address, lowercased; else its remote MTA; else "inconnu".
 */
void actions_remote(const struct report_rcpt *rc, char *buf, size_t len);

#endif
