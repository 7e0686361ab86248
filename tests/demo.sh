#!/bin/sh
# demo.sh - the README's first command: rebond end to end on this machine.
#
# Installs what is missing (Debian 12), builds, starts a throwaway Dovecot
# and PostgreSQL under a temporary directory (127.0.0.1 only, non-root),
# loads the sample bounces of tests/fixtures into the bounce mailbox,
# creates sample accounts for their recipients, adds fresh bounces that
# show the help page at work (warnings by email and SMS, admin digest,
# operator alert), runs `rebond migrate` and `rebond run`, prints the
# admin queue (`rebond report`) and the mail and SMS that were sent, shows
# an admin changing an address, stops the servers by PID, exits 0.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

tests/deps.sh live

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

# The help page at work: fresh bounces (dated now) for a few accounts
# that show each way of warning a user, and a server-side block.
$PSQL -d rebond_demo -c "INSERT INTO accounts (primary_email, secondary_email, phone) VALUES
  ('lina@orange-demo.example', 'lina.martin@univ-demo.example', '+33 6 12 34 56 78'),
  ('marc@free-demo.example', NULL, '+33 6 98 76 54 32'),
  ('nora@laposte-demo.example', NULL, NULL),
  ('oscar@gmail-demo.example', 'oscar@entreprise-demo.example', NULL),
  ('paul@sfr-demo.example', 'paul@cabinet-demo.example', NULL)"
dsn() {
	i=$((i + 1))
	/usr/bin/python3 tests/dsn.py "$@" >"$M/tmp/demo.$i"
	mv "$M/tmp/demo.$i" "$M/new/$(date +%s).M${i}P$$.demo"
}
dsn lina@orange-demo.example 5.1.1 "550 5.1.1 <lina@orange-demo.example>: Recipient address rejected: User unknown"
dsn marc@free-demo.example 5.1.1 "550 5.1.1 User unknown"
dsn nora@laposte-demo.example 5.1.1 "550 5.1.1 Mailbox does not exist"
dsn oscar@gmail-demo.example 5.7.1 "554 5.7.1 Message rejected as SPAM (policy issue or sender blocked)"
dsn paul@cabinet-demo.example 5.7.23 "550 5.7.23 SPF check failed: message rejected due to SPF policy"
for u in ann bob cat; do
	dsn $u@hotmail-demo.example 5.7.1 "550 5.7.1 Service unavailable; Client host [192.0.2.1] blocked using Spamhaus"
done
[ "$(id -u)" = 0 ] && chown -R "$REBOND_TEST_MAILUSER:$REBOND_TEST_MAILGROUP" "$REBOND_TEST_MAILHOME/$U"
echo "== added 5 accounts and 8 fresh bounces (hard x3, spam, spf, blocked x3)"

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
[smtp]
host = 127.0.0.1
port = $REBOND_TEST_SMTP_PORT
tls = none
from = noreply@platform.example
from_name = Plateforme
admin_to = admins@platform.example
ops_to = ops@platform.example
templates = $top/etc/templates
platform_url = https://platform.example
[sms]
command = /bin/sh $top/tests/sms_sink.sh $T/sms.log
INI

# The mails the SMTP sink received since the last call, decoded.
shown=0
show_mail() {
	/usr/bin/python3 - "$REBOND_TEST_SMTP_MAILDIR" "$shown" <<'PY'
import email, email.policy, os, sys
d, skip = sys.argv[1] + "/new", int(sys.argv[2])
files = sorted(os.listdir(d), key=lambda f: os.stat(os.path.join(d, f)).st_mtime_ns)
for f in files[skip:]:
    with open(os.path.join(d, f), "rb") as fh:
        m = email.message_from_binary_file(fh, policy=email.policy.default)
    print("---- To: %s" % m["To"])
    print("     Subject: %s" % m["Subject"])
    for line in m.get_content().strip().splitlines():
        print("     | " + line)
PY
	shown=$(ls "$REBOND_TEST_SMTP_MAILDIR/new" | wc -l)
}

echo "== rebond run"
$REBOND run -c "$T/rebond.ini" --stderr

echo
echo "== accounts"
$PSQL -d rebond_demo -P pager=off -c "SELECT id, primary_email, primary_state AS p_state, secondary_email, secondary_state AS s_state, login_alert FROM accounts ORDER BY id"
echo "== events"
$PSQL -d rebond_demo -P pager=off -c "SELECT recipient, role, category, reason, status, rule FROM rebond.events ORDER BY id"
echo "== messages"
$PSQL -d rebond_demo -P pager=off -c "SELECT outcome, report_type, count(*) FROM rebond.messages GROUP BY 1, 2 ORDER BY 1, 2"

echo "== IMAP folders"
printf 'INBOX   %s\nArchive %s\nReview  %s\n' "$(ls "$M/new" "$M/cur" | grep -c '^[0-9]' || true)" \
    "$(ls "$M/.Archive/new" "$M/.Archive/cur" 2>/dev/null | grep -c '^[0-9]' || true)" \
    "$(ls "$M/.Review/new" "$M/.Review/cur" 2>/dev/null | grep -c '^[0-9]' || true)"

echo
echo "== rebond report (the admin queue, rebond.admin_queue)"
$REBOND report -c "$T/rebond.ini"
echo
echo "== notifications (rebond.outbox)"
$PSQL -d rebond_demo -P pager=off -c "SELECT id, channel, destination, template, sent_at IS NOT NULL AS sent, attempts FROM rebond.outbox ORDER BY id"
echo "== operator alerts (rebond.ops_alerts)"
$PSQL -d rebond_demo -P pager=off -c "SELECT remote, count, remote_mta, notified_at IS NOT NULL AS alerted FROM rebond.ops_alerts"
echo "== SMS sent (the SMS command got the number and the text)"
cat "$T/sms.log"
echo
echo "== mail received by the SMTP sink: user warnings, then the admin digest, then the operator alert"
show_mail

echo
echo "== an admin changes nora's dead address: rebond.change_primary_email"
token=$($PSQL -d rebond_demo -t -A -c "SELECT rebond.change_primary_email(id, 'nora.dupont@laposte-demo.example') FROM accounts WHERE primary_email = 'nora@laposte-demo.example'")
$REBOND run -c "$T/rebond.ini" --stderr 2>&1 | grep 'notify:' || true
show_mail
echo "== nora follows the link: rebond.confirm_primary_email"
$PSQL -d rebond_demo -t -A -c "SELECT rebond.confirm_primary_email('$token')"
$PSQL -d rebond_demo -P pager=off -c "SELECT id, primary_email, primary_state, pending_email FROM accounts WHERE primary_email LIKE 'nora%'"
$REBOND report -c "$T/rebond.ini"

echo
echo "== second rebond run (must change nothing, send nothing)"
$REBOND run -c "$T/rebond.ini" --stderr
echo "mails received since: $(( $(ls "$REBOND_TEST_SMTP_MAILDIR/new" | wc -l) - shown ))"
echo "== demo done"
