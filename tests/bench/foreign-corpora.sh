#!/bin/sh
# foreign-corpora.sh - rebond on real bounces from outside Sisimai's
# collection: the test messages of two other bounce parsers packaged by
# Debian, flufl.bounce (GNU Mailman's: python3-flufl.bounce, 116 messages,
# with the recipients each one names) and Mail::DeliveryStatus::BounceParser
# (the source package of libmail-deliverystatus-bounceparser-perl, 126
# messages). Prints how often rebond reads them as Sisimai does (reasons
# and categories, per file), and for flufl.bounce's messages how often it
# finds exactly the recipients that project's tests expect, next to
# Sisimai's figure. Then the real SMTP replies quoted in ZoneMTA's bounce
# rules (npm's zone-mta 3.10.3), with that project's categories, and the
# phrases of PHP-Bounce-Handler's table (npm's bounce-handler), with the
# class of their RFC 3463 codes (both when npm can fetch them). A
# measure: it never fails a build.
#
# The packages are fetched once into REBOND_FOREIGN_CACHE
# (${XDG_CACHE_HOME:-$HOME/.cache}/rebond/foreign) from the Debian archive
# (REBOND_DEBIAN_MIRROR, http://deb.debian.org/debian); REBOND_FOREIGN_VERBOSE=1
# lists every file that differs. Exit 77 when rebond, Sisimai, python3 or
# the packages cannot be had.
set -u
export PYTHONDONTWRITEBYTECODE=1	# (nothing written into the tree)
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
bin=${REBOND_BIN:-$top/rebond}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
mirror=${REBOND_DEBIAN_MIRROR:-http://deb.debian.org/debian}
cache=${REBOND_FOREIGN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/rebond/foreign}
[ -x "$bin" ] || { echo "SKIP: $bin not built" >&2; exit 77; }
perl -MSisimai -e 1 2>/dev/null ||
    { echo "SKIP: libsisimai-perl not installed" >&2; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3" >&2; exit 77; }
mkdir -p "$cache" || exit 1
cd "$cache" || exit 1

# flufl.bounce: its tests and messages are in the binary package.
fl=$cache/flufl/usr/lib/python3/dist-packages/flufl/bounce
if [ ! -d "$fl/tests/data" ]; then
	rm -rf flufl ./python3-flufl.bounce_*.deb
	apt-get download python3-flufl.bounce >/dev/null 2>&1 &&
	    dpkg-deb -x ./python3-flufl.bounce_*.deb flufl ||
	    { echo "SKIP: cannot fetch python3-flufl.bounce" >&2; exit 77; }
fi
# BounceParser: its t/corpus is in the source package only.
bp=$(ls -d "$cache"/Mail-DeliveryStatus-BounceParser-*/t/corpus 2>/dev/null |
    head -n 1)
if [ -z "$bp" ]; then
	src=libmail-deliverystatus-bounceparser-perl
	ver=$(apt-cache show "$src" 2>/dev/null |
	    sed -n 's/^Version: \(.*:\)\{0,1\}\([^-]*\)-[^-]*$/\2/p' | head -n 1)
	[ -n "$ver" ] || { echo "SKIP: no $src in apt's lists" >&2; exit 77; }
	got=
	for z in xz gz; do
		url=$mirror/pool/main/libm/$src/${src}_$ver.orig.tar.$z
		if python3 -c 'import sys, urllib.request
with urllib.request.urlopen(sys.argv[1], timeout=60) as r, \
    open(sys.argv[2], "wb") as o:
    o.write(r.read())' "$url" "bp.orig.tar.$z" 2>/dev/null &&
		    tar xf "bp.orig.tar.$z" 2>/dev/null; then
			got=1
			break
		fi
	done
	[ -n "$got" ] || { echo "SKIP: cannot fetch $src's source" >&2; exit 77; }
	bp=$(ls -d "$cache"/Mail-DeliveryStatus-BounceParser-*/t/corpus |
	    head -n 1)
fi

# ZoneMTA's bounce rules, from the npm registry (optional).
zm=$(ls -d "$cache"/zone-mta/package/config/bounces.txt 2>/dev/null)
if [ -z "$zm" ] && command -v npm >/dev/null; then
	rm -rf zone-mta ./zone-mta-*.tgz
	if npm pack zone-mta@3.10.3 >/dev/null 2>&1; then
		mkdir zone-mta && tar xzf ./zone-mta-*.tgz -C zone-mta &&
		    zm=$cache/zone-mta/package/config/bounces.txt
	fi
fi

# PHP-Bounce-Handler's table, from the npm registry (optional).
bh=$(ls -d "$cache"/bounce-handler/package/lib/responses.js 2>/dev/null)
if [ -z "$bh" ] && command -v npm >/dev/null; then
	rm -rf bounce-handler ./bounce-handler-*.tgz
	if npm pack bounce-handler@7.3.2-fork.3 >/dev/null 2>&1; then
		mkdir bounce-handler &&
		    tar xzf ./bounce-handler-*.tgz -C bounce-handler &&
		    bh=$cache/bounce-handler/package/lib/responses.js
	fi
fi

work=$(mktemp -d /tmp/rebond-foreign.XXXXXX) || exit 1
trap 'rm -rf "$work"' EXIT
cats=$top/../shared/corpus/categories.tsv
[ -f "$cats" ] || cats=${REBOND_CATEGORIES:-}
[ -f "$cats" ] || { echo "SKIP: no categories.tsv (REBOND_CATEGORIES)" >&2; exit 77; }
echo "foreign-corpora: rebond $("$bin" --version 2>/dev/null | head -n 1)," \
    "Sisimai $(perl -MSisimai -e 'print $Sisimai::VERSION')"
# both NAME DIR: rebond's and Sisimai's readings of DIR's messages, in
# $work/NAME.jsonl and $work/NAME.tsv.
both() {
	"$bin" classify --json "$2" >"$work/$1.jsonl" 2>/dev/null
	perl "$here/foreign/sisimai.pl" "$2"/* >"$work/$1.tsv" 2>/dev/null
}
both flufl "$fl/tests/data"
python3 "$here/foreign/score.py" flufl "$work/flufl.jsonl" "$work/flufl.tsv" \
    "$cats" "$fl/testing/helpers.py"
both bounceparser "$bp"
python3 "$here/foreign/score.py" bounceparser "$work/bounceparser.jsonl" \
    "$work/bounceparser.tsv" "$cats"
# generated SHORT SCRIPT FILE PACKAGE: the messages SCRIPT.py makes from
# FILE, read by both and scored (FILE empty: PACKAGE could not be fetched).
generated() {
	if [ -n "$3" ] && [ -f "$3" ]; then
		python3 "$here/foreign/$2.py" gen "$3" "$work/$1"
		both "$1" "$work/$1/mail"
		python3 "$here/foreign/$2.py" score "$work/$1" \
		    "$work/$1.jsonl" "$work/$1.tsv" "$cats"
	else
		echo "$2 skipped: npm cannot fetch $4"
	fi
}
generated zm zonemta "$zm" zone-mta
generated bh bouncehandler "$bh" bounce-handler
