#!/usr/bin/python3
"""Score `rebond classify --json` output (stdin) against labelled bounces.

Each file is scored by the multiset of its recipients' reasons (and of
their categories), so recipient order does not matter. Prints one line:
  reason X/Y (P%) category X/Y (P%) recipients X/Y (P%)
and exits 1 when reason or category is below its minimum.
"""
import argparse
import collections
import csv
import json
import os
import sys

# reason -> category, as in categories.tsv (used when the file is absent)
BUILTIN = {
    "userunknown": "hard", "hostunknown": "hard", "hasmoved": "hard",
    "notaccept": "hard", "suspend": "hard", "mailboxfull": "quota",
    "blocked": "blocked", "badreputation": "blocked", "toomanyconn": "blocked",
    "speeding": "blocked", "ratelimited": "blocked", "requireptr": "blocked",
    "norelaying": "blocked", "notcompliantrfc": "blocked",
    "securityerror": "blocked", "failedstarttls": "blocked",
    "authfailure": "spf", "spamdetected": "spam", "policyviolation": "spam",
    "rejected": "spam", "filtered": "spam", "virusdetected": "spam",
    "contenterror": "spam", "expired": "transient", "networkerror": "transient",
    "systemerror": "transient", "systemfull": "transient",
    "mailererror": "transient", "mesgtoobig": "transient",
    "exceedlimit": "transient", "syntaxerror": "transient",
    "onhold": "transient", "feedback": "complaint", "vacation": "autoreply",
    "delivered": "delivered", "undefined": "unknown",
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--labels", required=True)
    ap.add_argument("--categories")
    ap.add_argument("--min-reason", type=float, default=0.0)
    ap.add_argument("--min-category", type=float, default=0.0)
    ap.add_argument("--misses", action="store_true")
    a = ap.parse_args()

    cat = dict(BUILTIN)
    if a.categories and os.path.exists(a.categories):
        with open(a.categories) as f:
            cat = {r["reason"]: r["category"]
                   for r in csv.DictReader(f, delimiter="\t")}
    labels = collections.defaultdict(list)
    with open(a.labels) as f:
        for r in csv.DictReader(f, delimiter="\t"):
            labels[r["file"]].append(r["reason"])
    got = collections.defaultdict(list)
    bad = 0
    for line in sys.stdin:
        if not line.strip():
            continue
        try:
            o = json.loads(line)
        except ValueError:
            bad += 1
            continue
        got[os.path.basename(str(o.get("file", "")))].append(o)

    tot = ok_r = ok_c = found = 0
    misses = []
    for f, want in sorted(labels.items()):
        have = got.get(f, [])
        tot += len(want)
        found += min(len(want), len([h for h in have if h.get("recipient")]))
        hr = collections.Counter(h.get("reason") for h in have)
        wr = collections.Counter(want)
        ok_r += sum((hr & wr).values())
        hc = collections.Counter(h.get("category") for h in have)
        wc = collections.Counter(cat.get(w, "?") for w in want)
        ok_c += sum((hc & wc).values())
        if hr != wr:
            misses.append("%s: want %s got %s" % (f, dict(wr), dict(hr)))

    def pct(x):
        return 100.0 * x / tot if tot else 0.0
    print("reason %d/%d (%.1f%%) category %d/%d (%.1f%%) recipients %d/%d "
          "(%.1f%%)%s" % (ok_r, tot, pct(ok_r), ok_c, tot, pct(ok_c), found,
                          tot, pct(found),
                          " unparseable-lines %d" % bad if bad else ""))
    if a.misses:
        print("\n".join(misses), file=sys.stderr)
    if bad or pct(ok_r) < a.min_reason or pct(ok_c) < a.min_category:
        print("FAIL: below reason %.1f%% / category %.1f%%"
              % (a.min_reason, a.min_category), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
