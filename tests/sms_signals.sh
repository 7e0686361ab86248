#!/bin/sh
# sms_signals.sh LOG NUMBER - an SMS command for test_sms that writes the
# signals it was started with (blocked and ignored masks, from /proc) to
# LOG, after reading its text.
cat >/dev/null
grep -E '^Sig(Blk|Ign):' "/proc/$$/status" >"$1"
