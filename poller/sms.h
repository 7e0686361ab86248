/*
 * sms.h - SMS through the operator's gateway command ([sms] command).
 *
 * The command line is split on blanks into an argv (no shell: nothing in
 * it or in the number is interpreted); the normalised number is added as
 * the last argument; the text comes on standard input. The command must
 * exit 0 once the SMS is accepted, 75 (EX_TEMPFAIL) for a temporary
 * failure (retried at the next run); 69 (EX_UNAVAILABLE) and 71
 * (EX_OSERR), also what a command that cannot be started gives, are
 * temporary too; any other status is a refusal for good. The command runs
 * in its own process group: one still running after the timeout is killed
 * (SIGKILL) with every process of the group (e.g. curl under a sh -c
 * wrapper, which would send the SMS later), and counts as temporary, as
 * does a command killed by a signal or whose exit status is lost.
 */
#ifndef REBOND_SMS_H
#define REBOND_SMS_H

#include <stddef.h>

#include "send.h"

/* Arguments of the command line, number included. */
#define SMS_MAX_ARGS 32
/* Bytes of an SMS text (three concatenated SMS of UTF-8 text). */
#define SMS_MAX_BYTES 480

/*
 * The number as the gateway gets it: an optional leading +, then 6 to 20
 * digits; blanks, dots, dashes and parentheses are dropped, the digits in
 * parentheses kept ("(06) 12 34 56 78": 0612345678), except a "(0)" right
 * after the country code of an international number (+ or 00, then 1 to
 * 3 digits): the national trunk prefix, dropped ("+33 (0)6 12 34 56 78":
 * +33612345678; "0033 (0)6 ...": 00336...). A leading 00 stays as written.
 * len must be at least 22. Returns 0 and the number in out, or -1 for
 * anything else.
 */
int sms_number(const char *in, char *out, size_t len);

/*
 * Run command for number with text on its standard input, for at most
 * timeout seconds. Returns SEND_OK, or SEND_TEMP / SEND_PERM with the
 * reason (and the command's first output line, if any) in err.
 */
enum send_result sms_send(const char *command, unsigned timeout,
    const char *number, const char *text, char *err, size_t errlen);

#endif
