#!/bin/sh
# demo.sh - the README's first command: rebond end to end on this machine.
#
# Installs what is missing (Debian 12), builds, starts a throwaway Dovecot
# and PostgreSQL under a temporary directory (127.0.0.1 only, non-root),
# loads the sample bounces of tests/fixtures into the bounce mailbox,
# creates sample accounts for their recipients, runs `rebond migrate` and
# `rebond run`, prints what happened, stops the servers by PID, exits 0.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

PKGS="build-essential autoconf automake libtool pkg-config
libetpan-dev libgnutls28-dev libpq-dev libiniparser-dev libjansson-dev
libcriterion-dev dovecot-imapd postgresql-15 python3-aiosmtpd openssl"
missing=
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
if [ -n "$missing" ]; then
	echo "demo.sh: installing:$missing"
	[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root to install:$missing" >&2; exit 1; }
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

echo "== build"
# Out of tree, in build/ (shared with tests/check.sh).
[ -x configure ] || ./autogen.sh >/dev/null 2>&1
mkdir -p build
if [ ! -f build/Makefile ]; then
	(cd build && ../configure -q >/dev/null)
fi
make -s -C build -j"$(nproc)" rebond >/dev/null
REBOND=$top/build/rebond
$REBOND --version

T=$(mktemp -d /tmp/rbdemo.XXXXXX)
cleanup() {
	tests/servers.sh stop "$T" >/dev/null 2>&1 || true
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "== start throwaway Dovecot, PostgreSQL and SMTP sink in $T"
tests/servers.sh start "$T" >"$T/env"
. "$T/env"
PSQL="psql -X -q -h $REBOND_TEST_PGHOST -p $REBOND_TEST_PGPORT -U postgres"
$PSQL -d postgres -c "CREATE DATABASE rebond_demo"
DB="host=$REBOND_TEST_PGHOST port=$REBOND_TEST_PGPORT user=postgres dbname=rebond_demo"

echo "== rebond migrate"
$REBOND migrate --conninfo "$DB" --sql-dir "$top/sql"

# The bounce mailbox "demo": one sample bounce per category.
U=demo
M=$REBOND_TEST_MAILHOME/$U/Maildir
mkdir -p "$M/new" "$M/cur" "$M/tmp"
i=0
for f in tests/fixtures/*.eml; do
	i=$((i + 1))
	cp "$f" "$M/tmp/demo.$i"
	mv "$M/tmp/demo.$i" "$M/new/$(date +%s).M${i}P$$.demo"
done
[ "$(id -u)" = 0 ] && chown -R "$REBOND_TEST_MAILUSER:$REBOND_TEST_MAILGROUP" "$REBOND_TEST_MAILHOME/$U"
echo "== loaded $i sample bounces into the IMAP mailbox"

# Sample accounts: every recipient of the samples, alternately as a
# primary address (login) and as the secondary address of someone else.
$REBOND classify --json tests/fixtures/*.eml 2>/dev/null |
    /usr/bin/python3 -c '
import json, sys
seen = []
for line in sys.stdin:
    r = json.loads(line).get("recipient")
    if r and r not in seen and "\t" not in r and "\\" not in r:
        seen.append(r)
for n, r in enumerate(seen):
    if n % 3 == 2:   # primary elsewhere, this one as secondary, no phone
        print("user%d@platform-users.example\t%s\t\\N" % (n, r))
    else:            # primary, with a phone for SMS warnings
        print("%s\t\\N\t+3360000%04d" % (r, n))
' >"$T/accounts.tsv"
$PSQL -d rebond_demo -c "\\copy accounts (primary_email, secondary_email, phone) FROM '$T/accounts.tsv'"
echo "== created $(wc -l <"$T/accounts.tsv") sample accounts"

umask 077
echo secret >"$T/imap.pw"
cat >"$T/rebond.ini" <<INI
[imap]
host = localhost
port = $REBOND_TEST_DOVECOT_SPORT
tls = implicit
ca_file = $REBOND_TEST_CA
user = $U
password_file = $T/imap.pw
[database]
conninfo = $DB
INI

echo "== rebond run"
$REBOND run -c "$T/rebond.ini" --stderr

echo
echo "== accounts"
$PSQL -d rebond_demo -P pager=off -c "SELECT id, primary_email, primary_state AS p_state, secondary_email, secondary_state AS s_state FROM accounts ORDER BY id"
echo "== events"
$PSQL -d rebond_demo -P pager=off -c "SELECT recipient, role, category, reason, status, rule FROM rebond.events ORDER BY id"
echo "== messages"
$PSQL -d rebond_demo -P pager=off -c "SELECT outcome, report_type, count(*) FROM rebond.messages GROUP BY 1, 2 ORDER BY 1, 2"

echo "== IMAP folders"
printf 'INBOX   %s\nArchive %s\nReview  %s\n' "$(ls "$M/new" "$M/cur" | grep -c '^[0-9]' || true)" \
    "$(ls "$M/.Archive/new" "$M/.Archive/cur" 2>/dev/null | grep -c '^[0-9]' || true)" \
    "$(ls "$M/.Review/new" "$M/.Review/cur" 2>/dev/null | grep -c '^[0-9]' || true)"

echo "== second rebond run (must change nothing)"
$REBOND run -c "$T/rebond.ini" --stderr
echo "== demo done"
