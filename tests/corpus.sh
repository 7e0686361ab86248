#!/bin/sh
# corpus.sh - classify the labelled corpus of real bounces and score it
# the way rebond is measured: the multiset of reasons (and of categories)
# of each file's recipients against Sisimai's labels.
#
# The corpus is the first of $REBOND_CORPUS, $REBOND_SRCDIR/../shared/
# corpus/sisimai and /work/shared/corpus/sisimai that exists; without one
# the test is skipped (exit 77). It fails below REBOND_MIN_REASON (97) or
# REBOND_MIN_CATEGORY (99) percent, or when classifying on several threads
# changes the output.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${REBOND_BIN:-$here/../rebond}
corpus=
for d in "${REBOND_CORPUS:-}" "${REBOND_SRCDIR:+$REBOND_SRCDIR/../shared/corpus/sisimai}" \
    /work/shared/corpus/sisimai; do
	if [ -n "$d" ] && [ -f "$d/labels.tsv" ] && [ -d "$d/mail" ]; then
		corpus=$d
		break
	fi
done
if [ -z "$corpus" ]; then
	echo "SKIP: no labelled corpus (set REBOND_CORPUS)" >&2
	exit 77
fi
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin not built" >&2
	exit 99
fi
out=$(mktemp /tmp/rebond-corpus.XXXXXX) || exit 99
trap 'rm -f "$out"' EXIT
"$bin" classify --json --jobs 1 "$corpus/mail" >"$out"
rc=$?
if [ $rc -ne 0 ]; then
	echo "FAIL: rebond classify exited $rc" >&2
	exit 1
fi
# Several threads: the same lines, in the same order.
"$bin" classify --json --jobs 3 "$corpus/mail" >"$out.3"
if ! cmp -s "$out" "$out.3"; then
	echo "FAIL: rebond classify --jobs 3 differs from --jobs 1" >&2
	rm -f "$out.3"
	exit 1
fi
# The directory named with a trailing '/': the same lines (each file was
# once looked for without the first letter of its name).
"$bin" classify --json --jobs 1 "$corpus/mail/" >"$out.3"
if ! cmp -s "$out" "$out.3"; then
	echo "FAIL: rebond classify DIR/ differs from rebond classify DIR" >&2
	rm -f "$out.3"
	exit 1
fi
rm -f "$out.3"
# Every line is what jansson makes of the same object (classify writes
# them key by key): real diagnostics, in every charset the corpus has.
same=$(dirname "$bin")/tests/json_same
if [ -x "$same" ] && ! "$same" <"$out"; then
	echo "FAIL: a line of rebond classify --json is not jansson's" >&2
	exit 1
fi
# A file whose name is not UTF-8: its line names it, '?' for the bad byte.
mkdir "$out.d" && cp "$(ls "$corpus"/mail/* | head -n 1)" "$out.d/a$(printf '\377').eml"
"$bin" classify --json "$out.d" >"$out.3"
if ! grep -q '"file":"[^"]*/a?\.eml"' "$out.3"; then
	echo "FAIL: a file name that is not UTF-8 is not in its line" >&2
	rm -rf "$out.3" "$out.d"
	exit 1
fi
rm -rf "$out.3" "$out.d"
/usr/bin/python3 "$here/score_corpus.py" --labels "$corpus/labels.tsv" \
    --categories "$corpus/../categories.tsv" \
    --min-reason "${REBOND_MIN_REASON:-97}" \
    --min-category "${REBOND_MIN_CATEGORY:-99}" ${REBOND_CORPUS_MISSES:+--misses} <"$out"
