/*
 * notice.h - the human-readable side of a bounce: where a plain-text
 * notice ends and the returned original begins, which kind of message it
 * is, and where each non-standard format puts its recipients.
 *
 * Each format has a known place for the recipient (a header, a line
 * layout after a known marker); no scanner takes "any address found in
 * the body".
 */
#ifndef REBOND_NOTICE_H
#define REBOND_NOTICE_H

#include <stddef.h>

#include "report_int.h"

/*
 * Offset in (text, len) where a returned original message starts ("---
 * Below this line is a copy of the message.", "------ This is a copy of
 * the message, including all the headers. ------", ...), or len.
 */
size_t notice_original_start(const char *text, size_t len);

/*
 * Finish a report once its parts are read: decide its type (DSN, ARF,
 * non-standard notice, auto-reply, unknown), find the recipients of
 * non-standard notices, and complete DSN recipients that have no
 * diagnostic from the notice text. feedback: a message/feedback-report
 * part was seen.
 */
void notice_finish(struct report_ctx *ctx, int feedback);

#endif
