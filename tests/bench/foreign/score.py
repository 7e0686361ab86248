#!/usr/bin/env python3
"""score.py NAME REBOND.jsonl SISIMAI.tsv CATEGORIES.tsv [EXPECTED.py]

Compares rebond's reading of a set of real bounces with Sisimai's: per
file, the multiset of reasons (a message rebond gives no recipient counts
as Sisimai's "none"), and of their categories. With EXPECTED (flufl.bounce's
testing/helpers.py, whose DATA lists the recipients each file names), the
files whose recipients both tools find exactly: rebond by the failed
address, and by the address mailed where the bounce gives both
(original_recipient, which the account lookup tries first).
With REBOND_FOREIGN_VERBOSE=1, every file that differs is listed.
"""
import ast
import collections
import json
import os
import sys


def main():
    name, reb_path, sis_path, cat_path = sys.argv[1:5]
    verbose = os.environ.get("REBOND_FOREIGN_VERBOSE") == "1"
    cat = {}
    for line in open(cat_path, encoding="utf-8"):
        f = line.rstrip("\n").split("\t")
        if len(f) >= 2:
            cat[f[0]] = f[1]
    reb = collections.defaultdict(list)
    for line in open(reb_path, encoding="utf-8"):
        j = json.loads(line)
        reb[os.path.basename(j["file"])].append(j)
    sis = collections.defaultdict(list)
    for line in open(sis_path, encoding="utf-8"):
        f, rcpt, reason = line.rstrip("\n").split("\t")
        sis[os.path.basename(f)].append((rcpt, reason))
    files = sorted(set(reb) | set(sis))
    agree = cagree = 0
    for f in files:
        a = sorted(j["reason"] for j in reb[f] if j.get("recipient"))
        b = sorted(r for _, r in sis[f] if r != "NONE")
        ca = sorted(cat.get(x, x) for x in a)
        cb = sorted(cat.get(x, x) for x in b)
        agree += a == b
        cagree += ca == cb
        if verbose and a != b:
            print("  %s %s: rebond %s | sisimai %s" % (
                "  " if ca == cb else "!!", f,
                [(j.get("recipient"), j["reason"], j["rule"]) for j in reb[f]],
                sis[f]))
    n = len(files)
    print("%-12s files %3d  reasons as Sisimai %3d (%.1f%%)  categories %3d "
          "(%.1f%%)" % (name, n, agree, 100.0 * agree / n, cagree,
                        100.0 * cagree / n))
    if len(sys.argv) > 5:
        recipients(name, sys.argv[5], reb, sis, verbose)


def recipients(name, helpers, reb, sis, verbose):
    src = open(helpers, encoding="utf-8").read()
    start = src.index("DATA = (")
    tree = ast.parse(src[start:].split("\n\n\n")[0])
    want = collections.defaultdict(set)
    for t in ast.literal_eval(tree.body[0].value):
        detector, f, addrs = t[0], t[1], t[2]
        # groupwise's "[]" means "not mine", not "no recipient".
        if detector == "groupwise" and not addrs:
            continue
        want[f] |= {a.decode().lower() for a in addrs}
    got_f = {f: {j["recipient"].lower() for j in reb[f] if j.get("recipient")}
             for f in want}
    got_o = {f: {(j.get("original_recipient") or j["recipient"]).lower()
                 for j in reb[f] if j.get("recipient")} for f in want}
    got_s = {f: {r.lower() for r, why in sis[f] if r != "-"} for f in want}
    n = len(want)
    rf = sum(got_f[f] == want[f] for f in want)
    ro = sum(got_o[f] == want[f] for f in want)
    rs = sum(got_s[f] == want[f] for f in want)
    if verbose:
        for f in sorted(want):
            if got_o[f] != want[f]:
                print("  %s: want %s, rebond %s" % (f, sorted(want[f]),
                                                   sorted(got_o[f])))
    print("%-12s recipients exactly as flufl.bounce's tests expect, of %d "
          "files: rebond %d (%.1f%%), by the address mailed %d (%.1f%%); "
          "Sisimai %d (%.1f%%)" % (name, n, rf, 100.0 * rf / n, ro,
                                   100.0 * ro / n, rs, 100.0 * rs / n))


if __name__ == "__main__":
    main()
