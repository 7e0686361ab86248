#!/bin/sh
# libpq_on_demand.sh - rebond loads libpq when it first needs the
# database, not when it starts (poller/store.c): `rebond classify` works
# where libpq cannot be loaded, and a command that needs the database
# then stops with 69 and an error that names what could not be loaded,
# whichever way it was given the database (--conninfo, or the
# configuration). An LD_LIBRARY_PATH directory with a file named as the
# library that is not one stands for a libpq that cannot be loaded.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${REBOND_BIN:-$here/../rebond}
fx=${REBOND_SRCDIR:+$REBOND_SRCDIR/tests}
fx=${fx:-$here}/fixtures
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin not built" >&2
	exit 99
fi
t=$(mktemp -d /tmp/rebond-libpq.XXXXXX) || exit 99
trap 'rm -rf "$t"' EXIT
failed=0

fail() {
	echo "FAIL: $case: $*" >&2
	echo "--- stderr" >&2
	cat "$t/err" >&2
	failed=1
}

# The name rebond loads libpq by: the one its error names when that
# name is a file that is not a library.
mkdir "$t/lib"
for name in libpq.so.5 libpq.so.6 libpq.so.4; do
	echo "not a library" >"$t/lib/$name"
done
# (a port nothing listens on: a libpq that loaded would say so)
conninfo="host=127.0.0.1 port=1 dbname=rebond_none connect_timeout=2"

case="classify without libpq"
"$bin" classify --json "$fx" >"$t/want" 2>"$t/err"
LD_LIBRARY_PATH="$t/lib" "$bin" classify --json "$fx" >"$t/out" 2>"$t/err"
rc=$?
if [ "$rc" -ne 0 ]; then
	fail "exit $rc, not 0"
elif ! [ -s "$t/want" ] || ! cmp -s "$t/want" "$t/out"; then
	fail "not the lines it gives with libpq"
fi

# without_libpq PREFIX ARGS...: rebond ARGS with a libpq that cannot be
# loaded exits 69, and stderr has a line PREFIX "cannot load libpq: " the
# file's path.
without_libpq() {
	prefix=$1
	shift
	LD_LIBRARY_PATH="$t/lib" "$bin" "$@" >/dev/null 2>"$t/err"
	rc=$?
	if [ "$rc" -ne 69 ]; then
		fail "exit $rc, not 69"
	elif ! grep -q "$prefix""cannot load libpq: $t/lib/libpq\.so\.[0-9]*: " \
	    "$t/err"; then
		fail "no error naming the library"
	fi
}

for cmd in migrate report; do
	case="$cmd --conninfo without libpq"
	without_libpq "^rebond $cmd: " $cmd --conninfo "$conninfo"
done

case="migrate -c without libpq"
echo secret >"$t/pw"
printf '[imap]\nhost = 127.0.0.1\nuser = u\npassword_file = %s\n[database]\nconninfo = %s\n' \
    "$t/pw" "$conninfo" >"$t/rebond.ini"
chmod 600 "$t/pw" "$t/rebond.ini"
without_libpq "error: database: " migrate -c "$t/rebond.ini"

# With libpq where it is: the same command reaches the server (refused).
case="migrate --conninfo with libpq"
"$bin" migrate --conninfo "$conninfo" >/dev/null 2>"$t/err"
rc=$?
if [ "$rc" -ne 75 ]; then
	fail "exit $rc, not 75"
elif ! grep -q "connect failed" "$t/err"; then
	fail "no connection error"
fi

exit $failed
