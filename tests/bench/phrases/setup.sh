# setup.sh - sourced by tests/bench/sisimai-phrases.sh and sisimai-tables.sh
# (with here= their directory): sets bin (rebond, absolute), p (this
# directory) and out (REBOND_PHRASES_OUT, or a temporary directory removed
# at exit), and changes to out; exits 77 when rebond, libsisimai-perl or
# python3 is missing.
top=$(cd "$here/../.." && pwd)
bin=${REBOND_BIN:-$top/rebond}
case $bin in /*) ;; *) bin=$(pwd)/$bin ;; esac
[ -x "$bin" ] || { echo "SKIP: $bin not built" >&2; exit 77; }
perl -MSisimai -e 1 2>/dev/null ||
    { echo "SKIP: libsisimai-perl not installed" >&2; exit 77; }
command -v python3 >/dev/null || { echo "SKIP: no python3" >&2; exit 77; }

if [ -n "${REBOND_PHRASES_OUT:-}" ]; then
	out=$REBOND_PHRASES_OUT
	mkdir -p "$out" || exit 1
else
	out=$(mktemp -d /tmp/rebond-phrases.XXXXXX) || exit 1
	trap 'rm -rf "$out"' EXIT
fi
p=$here/phrases
cd "$out" || exit 1
