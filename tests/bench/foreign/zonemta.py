#!/usr/bin/env python3
"""zonemta.py gen BOUNCES.TXT DIR | score DIR REBOND.jsonl SISIMAI.tsv CATS

ZoneMTA's config/bounces.txt classifies SMTP replies with regular
expressions, each preceded by comments that quote real replies ("#550 5.7.1
... blocked using zen.spamhaus.org"). gen writes one Postfix DSN per quoted
reply (refused at RCPT TO; the status as the reply gives it, else x.0.0)
into DIR/mail, and DIR/pairs.json; score compares rebond's and Sisimai's
categories with ZoneMTA's, mapped to ours (blacklist and rate: blocked; recipient: hard;
spam and policy: spam; capacity: quota; greylist and network: transient;
its other categories have no counterpart and are left out).
"""
import json
import os
import re
import sys

from common import categories, postfix_dsn, readings

MAP = {"blacklist": "blocked", "block": "blocked", "rate": "blocked",
       "recipient": "hard", "spam": "spam", "policy": "spam",
       "capacity": "quota", "greylist": "transient",
       "network": "transient"}


def gen(src, out):
    pairs, pending = [], []
    for line in open(src, encoding="utf-8"):
        s = line.strip()
        if not s:
            continue
        if s.startswith("#"):
            c = s[1:].strip()
            if re.match(r"^[45]\d\d[ \-]", c):
                pending.append(c)
            continue
        parts = s.split(",")
        if len(parts) >= 3:
            pairs += [(c, parts[2]) for c in pending]
        pending = []
    os.makedirs(os.path.join(out, "mail"), exist_ok=True)
    for i, (reply, cat) in enumerate(pairs):
        reply = re.sub(r"^(\d\d\d)-", r"\1 ", reply).strip('"')
        with open(os.path.join(out, "mail", "zm%03d.eml" % i), "w",
                  encoding="utf-8") as f:
            f.write(postfix_dsn("zm%d" % i, reply, "delayed"
                                if reply[0] == "4" else "failed"))
    json.dump(pairs, open(os.path.join(out, "pairs.json"), "w"))


def score(d, reb, sis, cats):
    pairs = json.load(open(os.path.join(d, "pairs.json")))
    got_r, got_s = readings(reb, sis, categories(cats), "zm")
    verbose = os.environ.get("REBOND_FOREIGN_VERBOSE") == "1"
    n = r = s = 0
    for i, (reply, zcat) in enumerate(pairs):
        want = MAP.get(zcat)
        if want is None:
            continue
        n += 1
        rc, rr = got_r.get(i, (None, None))
        sc, sr = got_s.get(i, (None, None))
        r += rc == want
        s += sc == want
        if verbose and rc != want:
            print("  %s: want %s, rebond %s, Sisimai %s" % (
                reply[:100], want, rr, sr))
    print("zonemta      %d replies quoted in bounces.txt: category as "
          "ZoneMTA's: rebond %d (%.1f%%), Sisimai %d (%.1f%%)"
          % (n, r, 100.0 * r / n, s, 100.0 * s / n))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], sys.argv[3])
    else:
        score(*sys.argv[2:6])
