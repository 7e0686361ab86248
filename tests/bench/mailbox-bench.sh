#!/bin/sh
# mailbox-bench.sh - rebond at mailbox scale (issue 7), for `make bench`.
#
# For each N in $BENCH_N (default "10000 100000"): start throwaway Dovecot
# and PostgreSQL on 127.0.0.1 (tests/servers.sh), write N realistic bounces
# straight into a Maildir (tests/bench/genbounces.py), COPY the matching
# accounts, let Dovecot index the folder once (SELECT), then measure:
#   1. baseline: a bare libetpan client fetching every message
#      (UID FETCH lo:hi BODY.PEEK[], same batch size) - the server's speed;
#   2. floor: the same client on a copy of the folder (hard links), which
#      fetches the same way and then moves the whole folder in one
#      UID MOVE - what reading and moving every message costs the IMAP
#      server at the least, before any parsing or database work;
#   3. rebond run over the folder, end to end (parse, classify, policy,
#      PostgreSQL, UID MOVE), its wall time and peak RSS;
#   4. an empty-mailbox run (connect, lock, nothing to do, exit).
# and print times, messages/s, the ratio rebond/baseline and the targets.
# For 1-3 it also prints the CPU seconds each side used: Dovecot's and
# PostgreSQL's (their processes that ended, as their master process
# counts them: each IMAP session, each database backend) and the
# client's. With both servers on this machine, the sum over its cores
# bounds the wall time from below.
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
ru = resource.getrusage(resource.RUSAGE_CHILDREN)
print("%.3f %d %d %.2f" % (dt, ru.ru_maxrss, rc, ru.ru_utime + ru.ru_stime))
PYEOF
}

# CPU seconds used so far by the processes a server's master has reaped
# (and the master itself): "dovecot postgres". Sessions and backends end
# with their connection; give the masters a moment to reap them.
server_cpu() {
	sleep 0.3
	for f in "$T/dovecot.pid" "$T/pg.pid"; do
		awk -v t="$(getconf CLK_TCK)" '{ printf "%.2f ", ($14 + $15 + $16 + $17) / t }' \
		    "/proc/$(head -1 "$f")/stat"
	done
	echo
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
	# The floor's copy: the same message files (Maildir files are never
	# changed in place), its own index.
	mkdir -p "$REBOND_TEST_MAILHOME/floor$N"
	cp -al "$M" "$REBOND_TEST_MAILHOME/floor$N/Maildir"
	[ "$(id -u)" = 0 ] && chown -R "$REBOND_TEST_MAILUSER:$REBOND_TEST_MAILGROUP" \
	    "$REBOND_TEST_MAILHOME/$U" "$REBOND_TEST_MAILHOME/floor$N"
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
	"$BENCH_BASELINE" 127.0.0.1 "$REBOND_TEST_DOVECOT_SPORT" "floor$N" "$T/imap.pw" INBOX "$BENCH_BATCH" index >>"$T/index-$N.out"
	t1=$(date +%s.%N)
	echo "   $(cat "$T/gen-$N.out"); ready in $(awk "BEGIN{printf \"%.1f\", $t1 - $t0}") s"

	c0=$(server_cpu)
	set -- $(measure "$T/base-$N.out" "$T/base-$N.err" "$BENCH_BASELINE" 127.0.0.1 \
	    "$REBOND_TEST_DOVECOT_SPORT" "$U" "$T/imap.pw" INBOX "$BENCH_BATCH")
	bt=$1 brss=$2 bcpu=$4
	[ "$3" = 0 ] || { cat "$T/base-$N.err" >&2; exit 1; }
	c1=$(server_cpu)
	bmsgs=$(sed -n 's/.*messages=\([0-9]*\).*/\1/p' "$T/base-$N.out")
	bbytes=$(sed -n 's/.*bytes=\([0-9]*\).*/\1/p' "$T/base-$N.out")

	set -- $(measure "$T/floor-$N.out" "$T/floor-$N.err" "$BENCH_BASELINE" 127.0.0.1 \
	    "$REBOND_TEST_DOVECOT_SPORT" "floor$N" "$T/imap.pw" INBOX "$BENCH_BATCH" move Archive)
	ft=$1 fcpu=$4
	[ "$3" = 0 ] || { cat "$T/floor-$N.err" >&2; exit 1; }
	c2=$(server_cpu)
	fmsgs=$(sed -n 's/.*messages=\([0-9]*\).*/\1/p' "$T/floor-$N.out")
	fmove=$(sed -n 's/.*move_seconds=\([0-9.]*\).*/\1/p' "$T/floor-$N.out")
	fleft=$(count "$REBOND_TEST_MAILHOME/floor$N/Maildir")

	set -- $(measure "$T/run-$N.out" "$T/run-$N.err" "$REBOND_BIN" run -c "$T/rebond-$N.ini" --stderr)
	rt=$1 rrss=$2 rcpu=$4
	[ "$3" = 0 ] || { tail -5 "$T/run-$N.err" >&2; exit 1; }
	c3=$(server_cpu)
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
	    "$left" "$arch" "$rev" "$recorded" "$events" "$flagged" \
	    "$ft" "$fmove" "$fmsgs" "$fleft" "$bcpu" "$fcpu" "$rcpu" "$ncores" \
	    "$c0" "$c1" "$c2" "$c3" <<'PYEOF'
import sys
(n, bm, bb, bt, brss, rt, rrss, emed, emax, left, arch, rev, rec, ev,
 fl, ft, fmove, fm, fleft, bcpu, fcpu, rcpu, ncores) = sys.argv[1:24]
snaps = [[float(x) for x in a.split()] for a in sys.argv[24:28]]
n, bm, bb, left, arch, rev = int(n), int(bm), int(bb), int(left), int(arch), int(rev)
bt, rt, emed, emax = float(bt), float(rt), float(emed), float(emax)
ft, fmove, fm, fleft, ncores = float(ft), float(fmove or 0), int(fm or 0), int(fleft), int(ncores)
print("   baseline   UID FETCH BODY.PEEK[]: %6d msgs %7.1f MiB %8.2f s %8.0f msg/s  (RSS %.1f MiB)"
      % (bm, bb / 1048576, bt, bm / bt, int(brss) / 1024))
print("   floor      same + one UID MOVE : %6d msgs %16s %8.2f s %8.0f msg/s  (the MOVE %.2f s)%s"
      % (fm, "", ft, fm / ft if ft else 0, fmove,
         "" if fm == n and fleft == 0 else "  MISMATCH: %d left" % fleft))
print("   rebond run end to end         : %6d msgs %16s %8.2f s %8.0f msg/s  peak RSS %.1f MiB"
      % (n, "", rt, n / rt, int(rrss) / 1024))
print("   ratio rebond/baseline         : %.2f   (target <= 2.00); floor/baseline %.2f; rebond/floor %.2f"
      % (rt / bt, ft / bt, rt / ft))
# CPU seconds of each side, per step (the servers' from their masters).
def d(i, k):
    return snaps[i + 1][k] - snaps[i][k]
print("   CPU seconds      %8s %8s %8s %8s  %s" % ("Dovecot", "Postgres", "client", "total",
      "total / %d cores, vs the step's wall time" % ncores))
for name, i, cl, wall in (("baseline", 0, bcpu, bt), ("floor", 1, fcpu, ft), ("rebond run", 2, rcpu, rt)):
    tot = d(i, 0) + d(i, 1) + float(cl)
    print("   %-16s %8.2f %8.2f %8.2f %8.2f  %.2f s of %.2f s" % (name, d(i, 0), d(i, 1),
          float(cl), tot, tot / ncores, wall))
print("   empty-mailbox run             : %.0f ms median of 5, max %.0f ms   (target <= 100 ms)"
      % (emed * 1000, emax * 1000))
print("   check: left=%d archive=%d review=%d recorded=%s events=%s accounts_flagged=%s -> %s"
      % (left, arch, rev, rec, ev, fl,
         "ok" if left == 0 and arch + rev == n and bm == n else "MISMATCH"))
PYEOF
	echo "   rebond: ${rline#*run: }"
	summary="$summary $N:$bt:$rt:$rrss:$emed"
	# Free the disk before the next size.
	rm -rf "$REBOND_TEST_MAILHOME/$U" "$REBOND_TEST_MAILHOME/floor$N" "$T/accounts-$N.tsv"
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
