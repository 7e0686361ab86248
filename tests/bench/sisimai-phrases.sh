#!/bin/sh
# sisimai-phrases.sh - how often rebond gives the reason Sisimai gives, on
# bounces built from Sisimai's own phrase lists (a measure of how far the
# rules generalise beyond the labelled corpus, not a test: it never fails
# on disagreement).
#
# tests/bench/phrases/extract.py pulls every phrase from the Reason/*.pm
# match lists of Debian's libsisimai-perl (plain strings; one instance of
# each alternative of its regular expressions); check.pl keeps those the
# module's own match() accepts; gen.py writes three bounces per phrase:
#   a  an RFC 3464 DSN, Status 5.0.0, no SMTP command named
#   b  a Postfix DSN, "(in reply to RCPT TO command)"
#   c  a qmail notice ("Remote host said: 550 <phrase>")
# Sisimai and rebond each read all of them in one process; compare.py
# prints, per variant, the agreement (strict; "compat", which counts
# rebond's Sisimai 5 reasons for their 4.x parents; category), and the
# agreement where Sisimai's verdict is the phrase's own module. The full
# table and the disagreements stay in OUTDIR (REBOND_PHRASES_OUT; a
# temporary directory, removed, by default).
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/phrases/setup.sh"
python3 "$p/extract.py" >phrases0.tsv 2>skipped.tsv || exit 1
perl "$p/check.pl" <phrases0.tsv >phrases.tsv 2>>skipped.tsv || exit 1
rm -rf mail
python3 "$p/gen.py" phrases.tsv mail || exit 1
perl "$p/sisimai.pl" mail/*.eml >sisimai.out || exit 1
"$bin" classify --json mail >rebond.jsonl
[ $? -le 1 ] || exit 1
echo "sisimai-phrases: $(wc -l <phrases.tsv) phrases of Sisimai" \
    "$(perl -MSisimai -e 'print $Sisimai::VERSION'), 3 bounces each" \
    "($(grep -c . skipped.tsv) skipped)"
python3 "$p/compare.py" . || exit 1
[ -n "${REBOND_PHRASES_OUT:-}" ] &&
    echo "  table: $out/results.tsv, disagreements: $out/disagree.tsv"
exit 0
