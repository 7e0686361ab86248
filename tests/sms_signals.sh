#!/bin/sh
# sms_signals.sh LOG NUMBER - an SMS command for test_sms that writes the
# signals it was started with as ignored (from /proc) to LOG, after
# reading its text (the blocked ones: sms_signals.py).
cat >/dev/null
exec grep '^SigIgn:' /proc/self/status >"$1"
