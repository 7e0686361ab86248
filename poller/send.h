/*
 * send.h - the outcome of one delivery attempt (SMTP or SMS), which
 * decides what happens to its rebond.outbox row.
 */
#ifndef REBOND_SEND_H
#define REBOND_SEND_H

enum send_result {
	SEND_OK = 0,		/* accepted: sent_at is set */
	SEND_TEMP,		/* try again at the next run */
	SEND_PERM,		/* refused for good: failed_at, not retried */
};

#endif
