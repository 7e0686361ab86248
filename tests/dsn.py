#!/usr/bin/python3
"""dsn.py - print an RFC 3464 bounce (DSN) for the demo.

usage: dsn.py RECIPIENT STATUS DIAGNOSTIC [AGE_DAYS]

The bounce is dated AGE_DAYS (default 0) before now, and its Message-ID is
unique, so that each call is a new bounce for rebond.
"""
import email.utils
import sys
import time
import uuid

rcpt, status, diag = sys.argv[1], sys.argv[2], sys.argv[3]
age = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
domain = rcpt.split("@", 1)[1]
action = "delayed" if status.startswith("4") else "failed"
b = uuid.uuid4().hex
lines = [
    "Return-Path: <>",
    "Date: " + email.utils.formatdate(time.time() - age * 86400),
    "From: Mail Delivery System <MAILER-DAEMON@mx.platform.example>",
    "To: bounces@platform.example",
    "Subject: Undelivered Mail Returned to Sender",
    "Message-ID: <%s@mx.platform.example>" % b,
    "MIME-Version: 1.0",
    'Content-Type: multipart/report; report-type=delivery-status; boundary="%s"' % b,
    "",
    "--" + b,
    "Content-Type: text/plain; charset=us-ascii",
    "",
    "<%s>: host mx.%s said: %s" % (rcpt, domain, diag),
    "",
    "--" + b,
    "Content-Type: message/delivery-status",
    "",
    "Reporting-MTA: dns; mx.platform.example",
    "",
    "Final-Recipient: rfc822; " + rcpt,
    "Action: " + action,
    "Status: " + status,
    "Remote-MTA: dns; mx." + domain,
    "Diagnostic-Code: smtp; " + diag,
    "",
    "--%s--" % b,
    "",
]
sys.stdout.write("\r\n".join(lines))
