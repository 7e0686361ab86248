#!/bin/sh
# harness.sh - run one test binary for `make check`.
#
# Unit tests (tests/test_*) run as they are. Live tests (tests/live_*) get
# their own throwaway servers on 127.0.0.1 (see tests/servers.sh), started
# before and stopped by PID after, whatever the outcome.
#
# When the servers cannot run here, a live test is skipped (exit 77),
# unless REBOND_REQUIRE_LIVE=1: then a skip is a failure (exit 99).
set -u
prog=$1
shift
here=$(cd "$(dirname "$0")" && pwd)
# Sanitizer builds: criterion's own allocations are not our leaks.
LSAN_OPTIONS=${LSAN_OPTIONS:-suppressions=$here/lsan.supp:print_suppressions=0}
export LSAN_OPTIONS
case $(basename "$prog") in
live_*) ;;
*) exec "$prog" "$@" ;;
esac

skip() {
	echo "SKIP: $*" >&2
	if [ "${REBOND_REQUIRE_LIVE:-0}" = 1 ]; then
		echo "REBOND_REQUIRE_LIVE=1: a skipped live test is a failure" >&2
		exit 99
	fi
	exit 77
}

"$here/servers.sh" check || skip "live servers not installed"
REBOND_TEST_DIR=$(mktemp -d /tmp/rbt.XXXXXX) || exit 99
export REBOND_TEST_DIR
cleanup() {
	"$here/servers.sh" stop "$REBOND_TEST_DIR" >/dev/null 2>&1
	rm -rf "$REBOND_TEST_DIR"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
if ! "$here/servers.sh" start "$REBOND_TEST_DIR" >"$REBOND_TEST_DIR/env" \
    2>"$REBOND_TEST_DIR/start.log"; then
	cat "$REBOND_TEST_DIR/start.log" >&2
	echo "FAIL: could not start the live servers" >&2
	exit 99
fi
. "$REBOND_TEST_DIR/env"
"$prog" "$@"
