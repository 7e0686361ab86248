#!/bin/sh
# check.sh - the README's test command: install what is missing, build with
# warnings as errors, run the whole suite (live tests included: a skipped
# live test fails), and print each criterion "Synthesis:" line.
#
# Run it from a clean clone on Debian 12, as root (to install packages)
# or as a user who already has them.
set -eu
cd "$(dirname "$0")/.."
top=$(pwd)

# Debian packages: build tools, libraries, and the live servers.
tests/deps.sh all

# Out-of-tree builds: build/ for the suite, build-fuzz/ for the fuzzer.
./autogen.sh >/dev/null 2>&1 || { ./autogen.sh; exit 1; }
mkdir -p build
cd build
../configure --enable-werror ${REBOND_CONFIGURE_FLAGS:-} >configure.out 2>&1 ||
    { cat configure.out; exit 1; }
make -j"$(nproc)" >make.out 2>&1 || { cat make.out; exit 1; }

status=0
REBOND_REQUIRE_LIVE=1 make -j"$(nproc)" check || status=$?
echo
echo "== criterion results =="
for log in tests/*.log; do
	[ -f "$log" ] || continue
	line=$(grep -h 'Synthesis:' "$log" | tail -1 || true)
	[ -n "$line" ] && printf '%-28s %s\n' "$(basename "$log" .log)" "$line"
done
# Tests that are scripts print their own summary line.
for log in tests/*.log; do
	grep -h '^SUMMARY:' "$log" 2>/dev/null || true
done

# A short libFuzzer run over parse + classify (clang, ASan + UBSan).
if [ "${REBOND_FUZZ_TIME:-30}" != 0 ] && command -v clang >/dev/null 2>&1; then
	echo "== fuzz (${REBOND_FUZZ_TIME:-30} s)"
	mkdir -p "$top/build-fuzz"
	if (cd "$top/build-fuzz" &&
	    { [ -f Makefile ] || ../configure CC=clang --enable-fuzz >configure.out 2>&1; } &&
	    make -j"$(nproc)" tests/fuzz/fuzz_report >make.out 2>&1 &&
	    make fuzz FUZZ_TIME="${REBOND_FUZZ_TIME:-30}" >fuzz.out 2>&1); then
		grep -E 'stat::number_of_executed_units|stat::average_exec_per_sec' "$top/build-fuzz/fuzz.out" || true
	else
		echo "fuzz: FAILED (see build-fuzz/*.out)"
		tail -40 "$top/build-fuzz/fuzz.out" 2>/dev/null || tail -20 "$top/build-fuzz/make.out"
		status=1
	fi
fi
if [ "$status" != 0 ]; then
	echo "== failures =="
	for log in tests/*.log; do
		if grep -q '^FAIL\|^ERROR' "${log%.log}.trs" 2>/dev/null; then
			echo "--- $log"
			tail -50 "$log"
		fi
	done
fi
exit "$status"
