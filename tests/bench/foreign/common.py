"""common.py - what the generators and scorers of tests/bench/foreign share."""
import json
import re


def postfix_dsn(tag, reply, action="failed", status=None):
    """A Postfix DSN for u@example.org refused at RCPT TO with reply."""
    if status is None:
        m = re.match(r"^\d\d\d[ \-]+#?([245]\.\d{1,3}\.\d{1,3})\b", reply)
        status = m.group(1) if m else reply[0] + ".0.0"
    return (
        "From: MAILER-DAEMON@mx.example.net\n"
        "To: bounces@platform.example.com\n"
        "Subject: Undelivered Mail Returned to Sender\n"
        "Message-ID: <%s@mx.example.net>\n"
        "MIME-Version: 1.0\n"
        "Content-Type: multipart/report; "
        "report-type=delivery-status; boundary=\"BB\"\n\n"
        "--BB\nContent-Type: text/plain\n\n"
        "<u@example.org>: host mx.example.org[192.0.2.1] said: %s "
        "(in reply to RCPT TO command)\n\n"
        "--BB\nContent-Type: message/delivery-status\n\n"
        "Reporting-MTA: dns; mx.example.net\n\n"
        "Final-Recipient: rfc822; u@example.org\nAction: %s\n"
        "Status: %s\nDiagnostic-Code: smtp; %s\n\n--BB--\n"
        % (tag, reply, action, status, reply))


def categories(path):
    """reason -> category, from categories.tsv."""
    cat = {}
    for line in open(path, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 2:
            cat[f[0]] = f[1]
    return cat


def readings(reb, sis, cat, prefix):
    """Per message number (from prefix + digits in the file name), rebond's
    and Sisimai's (category, reason)."""
    num = lambda f: int(re.search(prefix + r"(\d+)\.eml", f).group(1))
    got_r, got_s = {}, {}
    for line in open(reb, encoding="utf-8"):
        j = json.loads(line)
        got_r[num(j["file"])] = (j["category"], j["reason"])
    for line in open(sis, encoding="utf-8"):
        f, _, reason = line.rstrip("\n").split("\t")
        got_s[num(f)] = (cat.get(reason, reason), reason)
    return got_r, got_s
