#!/usr/bin/env python3
"""gen.py PHRASES.TSV OUTDIR - three bounces per phrase:
  NNNN-a.eml  RFC 3464 multipart/report DSN (generic)
  NNNN-b.eml  Postfix-style DSN: text part "host ... said: 550 5.0.0 P (in reply to RCPT TO command)"
  NNNN-c.eml  qmail-send plain-text failure notice
"""
import os, sys

DATE = 'Mon, 04 Mar 2024 10:00:00 +0000'

ORIG = """Return-Path: <a@platform.example>
Received: from platform.example (platform.example [198.51.100.7])
\tby mx0.platform.example; Mon, 04 Mar 2024 09:59:58 +0000
From: a@platform.example
To: u@example.org
Subject: hello
Date: Mon, 04 Mar 2024 09:59:57 +0000
Message-ID: <orig-{id}@platform.example>
MIME-Version: 1.0
Content-Type: text/plain; charset=us-ascii

hello
"""

def dsn(id, phrase, variant):
    b = 'B%s%s.1709546400/mx.example.net' % (id, variant)
    if variant == 'a':
        subject = 'Delivery Status Notification (Failure)'
        frm = 'Mail Delivery Subsystem <MAILER-DAEMON@mx.example.net>'
        human = ("This is an automatically generated Delivery Status Notification.\n\n"
                 "Delivery to the following recipient failed permanently:\n\n"
                 "    u@example.org\n\n"
                 "Technical details of permanent failure:\n"
                 "550 5.0.0 %s\n" % phrase)
    else:
        subject = 'Undelivered Mail Returned to Sender'
        frm = 'MAILER-DAEMON@mx.example.net (Mail Delivery System)'
        human = ("This is the mail system at host mx.example.net.\n\n"
                 "I'm sorry to have to inform you that your message could not\n"
                 "be delivered to one or more recipients. It's attached below.\n\n"
                 "For further assistance, please send mail to postmaster.\n\n"
                 "If you do so, please include this problem report. You can\n"
                 "delete your own text from the attached returned message.\n\n"
                 "                   The mail system\n\n"
                 "<u@example.org>: host mx.example.net[192.0.2.1] said: 550 5.0.0 %s\n"
                 "    (in reply to RCPT TO command)\n" % phrase)
    return f"""Return-Path: <>
Date: {DATE}
From: {frm}
Subject: {subject}
To: a@platform.example
Message-ID: <dsn-{id}-{variant}@mx.example.net>
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status;
\tboundary="{b}"
Content-Transfer-Encoding: 8bit

This is a MIME-encapsulated message.

--{b}
Content-Description: Notification
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

{human}
--{b}
Content-Description: Delivery report
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Mon, 04 Mar 2024 09:59:58 +0000

Final-Recipient: rfc822; u@example.org
Original-Recipient: rfc822;u@example.org
Action: failed
Status: 5.0.0
Remote-MTA: dns; mx.example.net
Diagnostic-Code: smtp; 550 5.0.0 {phrase}

--{b}
Content-Description: Undelivered Message
Content-Type: message/rfc822
Content-Transfer-Encoding: 8bit

{ORIG.format(id=id)}
--{b}--
"""

def qmail(id, phrase):
    return f"""Return-Path: <>
Date: {DATE}
From: MAILER-DAEMON@mx.example.net
To: a@platform.example
Subject: failure notice
Message-ID: <qmail-{id}@mx.example.net>
MIME-Version: 1.0
Content-Type: text/plain; charset=utf-8
Content-Transfer-Encoding: 8bit

Hi. This is the qmail-send program at mx.example.net.
I'm afraid I wasn't able to deliver your message to the following addresses.
This is a permanent error; I've given up. Sorry it didn't work out.

<u@example.org>:
192.0.2.1 does not like recipient.
Remote host said: 550 {phrase}
Giving up on 192.0.2.1.

--- Below this line is a copy of the message.

{ORIG.format(id=id)}"""


def main():
    phrases, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for line in open(phrases, encoding='utf-8', errors='surrogateescape'):
        id, reason, kind, phrase = line.rstrip('\n').split('\t', 3)
        for v, text in (('a', dsn(id, phrase, 'a')), ('b', dsn(id, phrase, 'b')), ('c', qmail(id, phrase))):
            with open(os.path.join(out, f'{id}-{v}.eml'), 'w', encoding='utf-8',
                      errors='surrogateescape', newline='\n') as f:
                f.write(text)


if __name__ == '__main__':
    main()
