#!/bin/sh
# mailbox-bench.sh - rebond at mailbox scale (issue 7), for `make bench`.
#
# For each N in $BENCH_N (default "10000 100000"): start throwaway Dovecot
# and PostgreSQL on 127.0.0.1 (tests/servers.sh), write N realistic bounces
# straight into a Maildir (tests/bench/genbounces.py), COPY the matching
# accounts, let Dovecot index the folder once (SELECT), then measure:
#   1. baseline: a bare libetpan client fetching every message
#      (UID FETCH lo:hi BODY.PEEK[], same batch size) - the server's speed;
#   2. rebond run over the same folder, end to end (parse, classify,
#      policy, PostgreSQL, UID MOVE), its wall time and peak RSS;
#   3. an empty-mailbox run (connect, lock, nothing to do, exit).
# and print times, messages/s, the ratio rebond/baseline and the targets.
#
# Environment: REBOND_BIN, BENCH_BASELINE (the built programs; `make bench`
# sets them), BENCH_N, BENCH_BATCH (default 200, rebond's default),
# BENCH_KEEP=1 keeps the scratch directory.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
PY=/usr/bin/python3
REBOND_BIN=${REBOND_BIN:-$top/build/rebond}
BENCH_BASELINE=${BENCH_BASELINE:-$top/build/tests/bench/imap_baseline}
BENCH_N=${BENCH_N:-10000 100000}
BENCH_BATCH=${BENCH_BATCH:-200}
for p in "$REBOND_BIN" "$BENCH_BASELINE"; do
	[ -x "$p" ] || { echo "SKIP: $p not built (make bench)" >&2; exit 77; }
done
# The servers, as tests/check.sh installs them (only what is missing).
if ! "$here/../servers.sh" check; then
	"$here/../deps.sh" live || true
	"$here/../servers.sh" check || {
		echo "SKIP: live servers missing (run tests/check.sh as root first)" >&2
		exit 77
	}
fi

T=$(mktemp -d /tmp/rbbench.XXXXXX)
cleanup() {
	"$here/../servers.sh" stop "$T" >/dev/null 2>&1 || true
	[ "${BENCH_KEEP:-0}" = 1 ] || rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
"$here/../servers.sh" start "$T" >"$T/env" 2>"$T/start.log" ||
    { cat "$T/start.log" >&2; exit 1; }
. "$T/env"
PSQL="psql -X -q -v ON_ERROR_STOP=1 -h $REBOND_TEST_PGHOST -p $REBOND_TEST_PGPORT -U postgres"
umask 077
echo secret >"$T/imap.pw"
[ "$(id -u)" = 0 ] && chown "$REBOND_TEST_MAILUSER" "$T/imap.pw"

# measure OUT ERR CMD...: run CMD (stdout to OUT, stderr to ERR) and print
# "wall_seconds max_rss_kib exit_code" of that one child process.
measure() {
	"$PY" - "$@" <<'PYEOF'
import resource, subprocess, sys, time
out, err, cmd = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(out, "wb") as o, open(err, "wb") as e:
    t0 = time.monotonic()
    rc = subprocess.call(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    dt = time.monotonic() - t0
print("%.3f %d %d" % (dt, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, rc))
PYEOF
}

count() {
	find "$1/cur" "$1/new" -type f 2>/dev/null | wc -l
}

ncores=$(nproc)
echo "== mailbox bench: N=\"$BENCH_N\" batch=$BENCH_BATCH cores=$ncores load=\"$(cut -d' ' -f1-3 /proc/loadavg)\""
summary=
for N in $BENCH_N; do
	U=bench$N
	M=$REBOND_TEST_MAILHOME/$U/Maildir
	DB=bench_$N
	CI="host=$REBOND_TEST_PGHOST port=$REBOND_TEST_PGPORT user=postgres dbname=$DB"
	echo "-- N=$N: generating the mailbox and the accounts"
	t0=$(date +%s.%N)
	"$PY" "$here/genbounces.py" "$M" "$N" "$T/accounts-$N.tsv" "$N" >"$T/gen-$N.out"
	[ "$(id -u)" = 0 ] && chown -R "$REBOND_TEST_MAILUSER:$REBOND_TEST_MAILGROUP" "$REBOND_TEST_MAILHOME/$U"
	$PSQL -d postgres -c "CREATE DATABASE $DB"
	"$REBOND_BIN" migrate --conninfo "$CI" --sql-dir "$top/sql" --stderr >"$T/migrate-$N.log" 2>&1 ||
	    { cat "$T/migrate-$N.log" >&2; exit 1; }
	$PSQL -d "$DB" -c "\\copy accounts (id, primary_email, secondary_email, phone, status) FROM '$T/accounts-$N.tsv'" \
	    -c "SELECT setval('accounts_id_seq', (SELECT max(id) FROM accounts))" \
	    -c "ANALYZE accounts" >/dev/null
	cat >"$T/rebond-$N.ini" <<INI
[imap]
host = localhost
port = $REBOND_TEST_DOVECOT_SPORT
tls = implicit
ca_file = $REBOND_TEST_CA
user = $U
password_file = $T/imap.pw
batch = $BENCH_BATCH
timeout = 120
[database]
conninfo = $CI
INI
	# Index once (SELECT), so that Dovecot's indexing is charged to
	# neither side.
	"$BENCH_BASELINE" 127.0.0.1 "$REBOND_TEST_DOVECOT_SPORT" "$U" "$T/imap.pw" INBOX "$BENCH_BATCH" index >"$T/index-$N.out"
	t1=$(date +%s.%N)
	echo "   $(cat "$T/gen-$N.out"); ready in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"

	set -- $(measure "$T/base-$N.out" "$T/base-$N.err" "$BENCH_BASELINE" 127.0.0.1 \
	    "$REBOND_TEST_DOVECOT_SPORT" "$U" "$T/imap.pw" INBOX "$BENCH_BATCH")
	bt=$1 brss=$2
	[ "$3" = 0 ] || { cat "$T/base-$N.err" >&2; exit 1; }
	bmsgs=$(sed -n 's/.*messages=\([0-9]*\).*/\1/p' "$T/base-$N.out")
	bbytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$T/base-$N.out")

	set -- $(measure "$T/run-$N.out" "$T/run-$N.err" "$REBOND_BIN" run -c "$T/rebond-$N.ini" --stderr)
	rt=$1 rrss=$2
	[ "$3" = 0 ] || { tail -5 "$T/run-$N.err" >&2; exit 1; }
	rline=$(grep 'run: mailbox=' "$T/run-$N.err" | tail -1)

	# Every message in exactly one place, and recorded once.
	left=$(count "$M")
	arch=$(count "$M/.Archive")
	rev=$(count "$M/.Review")
	recorded=$($PSQL -d "$DB" -At -c "SELECT count(*) FROM rebond.messages")
	events=$($PSQL -d "$DB" -At -c "SELECT count(*) FROM rebond.events")
	flagged=$($PSQL -d "$DB" -At -c "SELECT count(*) FROM accounts WHERE primary_state <> 'ok' OR secondary_state <> 'ok'")

	# Empty mailbox: the cron run that finds nothing (median of 5).
	es=
	for i in 1 2 3 4 5; do
		set -- $(measure "$T/empty.out" "$T/empty.err" "$REBOND_BIN" run -c "$T/rebond-$N.ini" --stderr)
		[ "$3" = 0 ] || { cat "$T/empty.err" >&2; exit 1; }
		es="$es $1"
	done
	emed=$(echo $es | tr ' ' '\n' | sort -n | sed -n 3p)
	emax=$(echo $es | tr ' ' '\n' | sort -n | sed -n 5p)

	"$PY" - "$N" "$bmsgs" "$bbytes" "$bt" "$brss" "$rt" "$rrss" "$emed" "$emax" \
	    "$left" "$arch" "$rev" "$recorded" "$events" "$flagged" <<'PYEOF'
import sys
(n, bm, bb, bt, brss, rt, rrss, emed, emax, left, arch, rev, rec, ev,
 fl) = sys.argv[1:]
n, bm, bb, left, arch, rev = int(n), int(bm), int(bb), int(left), int(arch), int(rev)
bt, rt, emed, emax = float(bt), float(rt), float(emed), float(emax)
print("   baseline   UID FETCH BODY.PEEK[]: %6d msgs %7.1f MiB %8.2f s %8.0f msg/s  (RSS %.1f MiB)"
      % (bm, bb / 1048576, bt, bm / bt, int(brss) / 1024))
print("   rebond run end to end         : %6d msgs %16s %8.2f s %8.0f msg/s  peak RSS %.1f MiB"
      % (n, "", rt, n / rt, int(rrss) / 1024))
print("   ratio rebond/baseline         : %.2f   (target <= 2.00)" % (rt / bt))
print("   empty-mailbox run             : %.0f ms median of 5, max %.0f ms   (target <= 100 ms)"
      % (emed * 1000, emax * 1000))
print("   check: left=%d archive=%d review=%d recorded=%s events=%s accounts_flagged=%s -> %s"
      % (left, arch, rev, rec, ev, fl,
         "ok" if left == 0 and arch + rev == n and bm == n else "MISMATCH"))
PYEOF
	echo "   rebond: ${rline#*run: }"
	summary="$summary $N:$bt:$rt:$rrss:$emed"
	# Free the disk before the next size.
	rm -rf "$REBOND_TEST_MAILHOME/$U" "$T/accounts-$N.tsv"
	$PSQL -d postgres -c "DROP DATABASE $DB"
done

echo "== summary (cores=$ncores, load=\"$(cut -d' ' -f1-3 /proc/loadavg)\")"
"$PY" - $summary <<'PYEOF'
import sys
rows = [a.split(":") for a in sys.argv[1:]]
print("   %8s %10s %10s %10s %10s %7s %12s %9s" % ("N", "baseline s", "msg/s",
      "rebond s", "msg/s", "ratio", "peak RSS MiB", "empty ms"))
for n, bt, rt, rss, em in rows:
    n, bt, rt = int(n), float(bt), float(rt)
    print("   %8d %10.2f %10.0f %10.2f %10.0f %7.2f %12.1f %9.0f" % (
        n, bt, n / bt, rt, n / rt, rt / bt, int(rss) / 1024, float(em) * 1000))
if len(rows) > 1:
    lo, hi = int(rows[0][3]), int(rows[-1][3])
    print("   peak RSS N=%s -> N=%s: %+.1f%% (target: within 10%%, <= 64 MiB)" % (
        rows[0][0], rows[-1][0], (hi - lo) * 100.0 / lo))
PYEOF
