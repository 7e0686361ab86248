#!/usr/bin/python3
"""sms_signals.py LOG NUMBER - an SMS command for test_sms that writes the
signals it was started with to LOG, after reading its text: the blocked
mask (dash clears its own at startup, Python does not; Python ignores
SIGPIPE itself, so the ignored mask is read by sms_signals.sh)."""
import sys

sys.stdin.read()
with open("/proc/self/status", encoding="ascii") as status, \
        open(sys.argv[1], "w", encoding="ascii") as log:
    for line in status:
        if line.startswith("SigBlk:"):
            log.write(line)
