#!/usr/bin/env python3
"""bouncehandler.py gen RESPONSES.JS DIR | score DIR REBOND.jsonl SISIMAI.tsv CATS

PHP-Bounce-Handler's table (npm's bounce-handler, lib/responses.js) maps
phrases that servers write to RFC 3463 codes. gen writes, for each phrase
(its regular expression made plain text), a Postfix DSN refused at RCPT
with the phrase and a code-less status 5.0.0 into DIR/mail, and
DIR/pairs.json; score counts the phrases whose category (rebond's,
Sisimai's) agrees with the class of the table's code: x.2.2 quota; 5.1.x
and 5.2.0-5.2.1 hard; 5.7.x blocked, spam or spf; 5.2.3 and 5.3.4
transient; 4.x.x transient or blocked; other codes left out.
"""
import json
import os
import re
import sys

from common import categories, postfix_dsn, readings


def want(code):
    c = code[2:]
    if c == "2.2":
        return {"quota"}
    if code[0] == "5" and (c.startswith("1.") or c in ("2.0", "2.1")):
        return {"hard"}
    if code[0] == "5" and c.startswith("7."):
        return {"blocked", "spam", "spf"}
    if c in ("2.3", "3.4"):
        return {"transient"}
    if code[0] == "4":
        return {"transient", "blocked"}
    return None


def gen(src, out):
    pairs = []
    for m in re.finditer(r"^\s*'((?:[^'\\]|\\.)*)'\s*:\s*'([0-9x.]+)'",
                         open(src, encoding="utf-8").read(), re.M):
        rx, code = m.group(1), m.group(2)
        if code == "x":
            continue
        t = rx.replace("\\.", ".").replace(" ?", " ").replace("\\'", "'")
        t = t.replace("\\", "")
        t = re.sub(r"\[([^\]])[^\]]*\]", r"\1", t)
        t = re.sub(r"[()^$?*+|]", "", t)
        pairs.append((t, code))
    os.makedirs(os.path.join(out, "mail"), exist_ok=True)
    for i, (t, code) in enumerate(pairs):
        with open(os.path.join(out, "mail", "bh%03d.eml" % i), "w",
                  encoding="utf-8") as f:
            f.write(postfix_dsn("bh%d" % i, "550 " + t, status="5.0.0"))
    json.dump(pairs, open(os.path.join(out, "pairs.json"), "w"))


def score(d, reb, sis, cats):
    pairs = json.load(open(os.path.join(d, "pairs.json")))
    got_r, got_s = readings(reb, sis, categories(cats), "bh")
    verbose = os.environ.get("REBOND_FOREIGN_VERBOSE") == "1"
    n = r = s = ro = so = 0
    for i, (t, code) in enumerate(pairs):
        w = want(code)
        if w is None:
            continue
        n += 1
        rc, rr = got_r.get(i, (None, None))
        sc, sr = got_s.get(i, (None, None))
        r += rc in w
        s += sc in w
        ro += rr == "onhold"
        so += sr == "onhold"
        if verbose and rc not in w:
            print("  %s %s: rebond %s, Sisimai %s" % (code, t[:70], rr, sr))
    print("bouncehandler %d phrases of PHP-Bounce-Handler's table, category "
          "as its code: rebond %d (%.1f%%, onhold %d), Sisimai %d (%.1f%%, "
          "onhold %d)" % (n, r, 100.0 * r / n, ro, s, 100.0 * s / n, so))


if __name__ == "__main__":
    if sys.argv[1] == "gen":
        gen(sys.argv[2], sys.argv[3])
    else:
        score(*sys.argv[2:6])
