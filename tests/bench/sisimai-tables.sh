#!/bin/sh
# sisimai-tables.sh - how often rebond gives the reason that Sisimai's
# per-server tables give a phrase (the failure tables inside its Lhost/*.pm
# and Rhost/*.pm modules: the fixed wordings of Exim, qmail, OpenSMTPD,
# Domino, amavis, Exchange Online, Google, Mimecast, Cox...). A measure of
# how far the rules generalise; it never fails on disagreement.
#
# Sisimai trusts those phrases only inside the bounce format of their own
# server, so its own verdict on these bounces often differs: the figure
# is rebond against the table's reason. tests/bench/phrases/tables.pl
# reads the tables (code-only tables are listed as skipped), tables_expand.py
# makes one instance of each regular expression's alternatives,
# tables_gen.py writes, with gen.py's layouts, a Postfix DSN refused at RCPT
# (b), a qmail notice (c) and, for the reasons decided after DATA, a
# Postfix DSN refused at end of DATA (d); tables_compare.py prints the
# agreement per variant and per category, then the phrases that disagree
# ([F]: rebond found no rule, [X]: another category).
# REBOND_PHRASES_OUT=dir keeps the table (results.tsv) and summary.txt.
set -u
here=$(cd "$(dirname "$0")" && pwd)
. "$here/phrases/setup.sh"
perl "$p/tables.pl" >tables.tsv 2>skipped.tsv || exit 1
python3 "$p/tables_expand.py" tables.tsv . 2>/dev/null || exit 1
rm -rf mail
python3 "$p/tables_gen.py" phrases.tsv mail || exit 1
perl "$p/sisimai.pl" mail/*.eml >sisimai.out || exit 1
"$bin" classify --json mail >rebond.jsonl
[ $? -le 1 ] || exit 1
echo "sisimai-tables: $(wc -l <phrases.tsv) phrases of Sisimai" \
    "$(perl -MSisimai -e 'print $Sisimai::VERSION')'s server tables," \
    "$(ls mail | wc -l) bounces ($(grep -c . skipped.tsv) tables or" \
    "alternatives skipped)"
python3 "$p/tables_compare.py" . | sed -n '1,13p' || exit 1
[ -n "${REBOND_PHRASES_OUT:-}" ] &&
    echo "  table: $out/results.tsv, disagreements: $out/summary.txt"
exit 0
