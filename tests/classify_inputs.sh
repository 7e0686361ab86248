#!/bin/sh
# classify_inputs.sh - what `rebond classify` makes of each kind of path:
# every input gives its verdicts, or a line on stderr that names it (exit
# 66 when it could not be read, the others still classified); nothing is
# skipped without a word. Uses tests/fixtures only.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${REBOND_BIN:-$here/../rebond}
fx=${REBOND_SRCDIR:+$REBOND_SRCDIR/tests}
fx=${fx:-$here}/fixtures
if [ ! -x "$bin" ]; then
	echo "FAIL: $bin not built" >&2
	exit 99
fi
t=$(mktemp -d /tmp/rebond-inputs.XXXXXX) || exit 99
trap 'rm -rf "$t"' EXIT
to=
command -v timeout >/dev/null 2>&1 && to="timeout 60"
failed=0

fail() {
	echo "FAIL: $case: $*" >&2
	echo "--- stdout" >&2
	cat "$t/out" >&2
	echo "--- stderr" >&2
	cat "$t/err" >&2
	failed=1
}

# run ARGS...: rebond classify --json ARGS, stdout in $t/out, stderr in
# $t/err, the exit code in $rc.
run() {
	$to "$bin" classify --json "$@" >"$t/out" 2>"$t/err"
	rc=$?
}

# verdicts FILE NAME: the lines `rebond classify --json` gives FIXTURE,
# shown as NAME.
verdicts() {
	"$bin" classify --json "$fx/$1" |
	    sed "s|^{\"file\":\"[^\"]*\"|{\"file\":\"$2\"|"
}

# expect RC [FIXTURE NAME]...: the exit code, and stdout is the fixtures'
# verdicts under those names, in that order.
expect() {
	want_rc=$1
	shift
	: >"$t/want"
	while [ $# -ge 2 ]; do
		verdicts "$1" "$2" >>"$t/want"
		shift 2
	done
	if [ "$rc" -ne "$want_rc" ]; then
		fail "exit $rc, not $want_rc"
	elif ! cmp -s "$t/want" "$t/out"; then
		fail "not the verdicts of the fixtures"
	fi
}

# says TEXT: stderr has a line with TEXT.
says() {
	grep -qF -- "$1" "$t/err" || fail "stderr does not say: $1"
}

# quiet: nothing on stderr.
quiet() {
	[ ! -s "$t/err" ] || fail "stderr is not empty"
}

# A FIFO named on the command line is read like stdin, in its place
# among the others (it once gave nothing and exit 0).
case=fifo_named
mkfifo "$t/fifo" || exit 99
cat "$fx/hard-postfix.eml" >"$t/fifo" &
writer=$!
run --jobs 2 "$t/fifo" "$fx/quota-exim.eml"
kill $writer 2>/dev/null
wait $writer 2>/dev/null
expect 0 hard-postfix.eml "$t/fifo" quota-exim.eml "$fx/quota-exim.eml"

# /dev/stdin (a pipe here): the same.
case=dev_stdin_pipe
if [ -e /dev/stdin ]; then
	cat "$fx/hard-postfix.eml" | $to "$bin" classify --json /dev/stdin \
	    >"$t/out" 2>"$t/err"
	rc=$?
	expect 0 hard-postfix.eml /dev/stdin
fi

# A FIFO inside a directory is not opened: an error that names it.
case=fifo_in_directory
mkdir "$t/d" && cp "$fx/hard-postfix.eml" "$t/d/a.eml" &&
    mkfifo "$t/d/f" || exit 99
run "$t/d"
expect 66 hard-postfix.eml "$t/d/a.eml"
says "rebond: $t/d/f: not a regular file"
rm -rf "$t/d"

# A socket named: an error that says so.
case=socket_named
if command -v python3 >/dev/null 2>&1 && python3 -c "import socket
socket.socket(socket.AF_UNIX).bind('$t/sock')" 2>/dev/null; then
	run "$t/sock" "$fx/quota-exim.eml"
	expect 66 quota-exim.eml "$fx/quota-exim.eml"
	says "rebond: $t/sock: not a regular file"
	rm -f "$t/sock"
fi

# A block device named: never read, an error (it was skipped).
case=block_device_named
blk=$(find /dev -maxdepth 1 -type b 2>/dev/null | head -n 1)
if [ -n "$blk" ]; then
	run "$blk"
	expect 66
	says "rebond: $blk: not a regular file"
fi

# Inside a directory, a file that cannot be opened is an error that names
# it: a loop of links, a link through a file, a link to a file we may not
# read (not as root, who may) (they once vanished, exit 0).
case=unopenable_in_directory
mkdir "$t/d" && cp "$fx/hard-postfix.eml" "$t/d/a.eml" &&
    ln -s loop "$t/d/loop" && ln -s "$fx/hard-postfix.eml/x" "$t/d/notdir" ||
    exit 99
if [ "$(id -u)" -ne 0 ]; then
	cp "$fx/quota-exim.eml" "$t/secret" && chmod 000 "$t/secret" &&
	    ln -s ../secret "$t/d/secret" || exit 99
fi
run "$t/d"
expect 66 hard-postfix.eml "$t/d/a.eml"
says "rebond: $t/d/loop: "
says "rebond: $t/d/notdir: "
[ "$(id -u)" -eq 0 ] || says "rebond: $t/d/secret: "
rm -rf "$t/d" "$t/secret"

# A link to nothing is no message: a notice names it, exit 0.
case=link_to_nothing
mkdir "$t/d" && cp "$fx/hard-postfix.eml" "$t/d/a.eml" &&
    ln -s gone "$t/d/b.eml" || exit 99
run "$t/d"
expect 0 hard-postfix.eml "$t/d/a.eml"
says "rebond: $t/d/b.eml: a link to nothing, not read"
rm -rf "$t/d"

# A Maildir named: the messages of cur/ and new/, and none of Dovecot's
# own files beside them (each was once an "undefined" verdict); tmp/ and
# the folders (.Sent) are not read.
case=maildir_root
m=$t/Maildir
mkdir -p "$m/cur" "$m/new" "$m/tmp" "$m/.Sent/cur" || exit 99
cp "$fx/hard-postfix.eml" "$m/cur/1700000000.M1P1.host,S=1:2,S" &&
    cp "$fx/quota-exim.eml" "$m/new/1700000001.M2P2.host" &&
    cp "$fx/spam-orange.eml" "$m/tmp/1700000002.M3P3.host" &&
    cp "$fx/hard-qmail.eml" "$m/.Sent/cur/1700000003.M4P4.host:2,S" &&
    printf '3 V1700000000 N3 G0\n1 :1700000000.M1P1.host\n' \
    >"$m/dovecot-uidlist" && printf '1700000000' >"$m/dovecot-uidvalidity" &&
    printf 'x' >"$m/dovecot.index" && printf 'x' >"$m/dovecot.index.log" &&
    printf 'x' >"$m/dovecot.index.cache" &&
    printf '0 $Forwarded\n' >"$m/dovecot-keywords" &&
    printf 'Sent\n' >"$m/subscriptions" && : >"$m/maildirfolder" || exit 99
run --jobs 3 "$m"
expect 0 hard-postfix.eml "$m/cur/1700000000.M1P1.host,S=1:2,S" \
    quota-exim.eml "$m/new/1700000001.M2P2.host"
quiet
# The same with new/ only.
case=maildir_root_new_only
rm -rf "$m/cur"
run "$m/"
expect 0 quota-exim.eml "$m/new/1700000001.M2P2.host"
quiet
rm -rf "$m"

# A directory of directories (not a Maildir) is not recursed into, but
# each directory in it is named on stderr, in its place; exit 0 (it once
# said nothing at all). A link to a directory likewise.
case=subdirectories
mkdir -p "$t/tree/hard" "$t/tree/soft" || exit 99
cp "$fx/hard-postfix.eml" "$t/tree/hard/a.eml" &&
    cp "$fx/quota-exim.eml" "$t/tree/soft/b.eml" &&
    ln -s hard "$t/tree/hard-link" || exit 99
run "$t/tree"
expect 0
says "rebond: $t/tree/hard: a directory inside a directory, not read (name it to read it)"
says "rebond: $t/tree/hard-link: a directory inside a directory, not read"
says "rebond: $t/tree/soft: a directory inside a directory, not read"
[ "$(wc -l <"$t/err")" -eq 3 ] || fail "not 3 lines on stderr"
# Beside a file, in the order of the names.
case=subdirectory_beside_a_file
cp "$fx/spam-orange.eml" "$t/tree/c.eml" || exit 99
run --jobs 2 "$t/tree" "$t/tree/soft"
expect 0 spam-orange.eml "$t/tree/c.eml" quota-exim.eml "$t/tree/soft/b.eml"
printf '%s\n' "rebond: $t/tree/hard: " "rebond: $t/tree/hard-link: " \
    "rebond: $t/tree/soft: " >"$t/want"
cut -d' ' -f1-2 "$t/err" | sed 's/$/ /' | cmp -s "$t/want" - ||
    fail "the notices are not in the order of the names"
rm -rf "$t/tree"

# The files of a directory in the order of their names' bytes (C
# sort): names that share their first eight bytes or more, a prefix of
# another, a capital, a byte above 0x7f.
case=directory_in_name_order
mkdir "$t/names" || exit 99
for n in abcdefgh abcdefghi abcdefgg abcdefgh0 ab b B "$(printf '\303\251')" \
    "abc$(printf '\303\251')" abd abcdefgi 'abcdefgh ' a-b zzzzzzzzzz \
    zzzzzzzzz; do
	cp "$fx/quota-exim.eml" "$t/names/$n" || exit 99
done
run --jobs 2 "$t/names"
sed 's/^{"file":"\([^"]*\)".*/\1/' "$t/out" >"$t/got"
(cd "$t/names" && ls) | LC_ALL=C sort | sed "s|^|$t/names/|" >"$t/want"
[ "$rc" -eq 0 ] && [ "$(wc -l <"$t/want")" -eq 15 ] &&
    cmp -s "$t/want" "$t/got" || fail "not in the order of the names"
rm -rf "$t/names"

# An mbox and a message whose lines end with a bare CR (old Mac mail
# programs): the same verdicts as their LF forms (an mbox once gave an
# empty message, a message "undefined").
case=cr_line_ends
tr '\n' '\r' <"$fx/hard-qmail.eml" >"$t/cr.eml" || exit 99
{ printf 'From MAILER-DAEMON Tue Nov 24 09:14:03 2026\n'
  cat "$fx/quota-exim.eml"; } | tr '\n' '\r' >"$t/cr.mbox" || exit 99
run "$t/cr.eml" "$t/cr.mbox"
sed -e "s|\"file\":\"$t/cr.eml\"|\"file\":\"A\"|" \
    -e "s|\"file\":\"$t/cr.mbox\"|\"file\":\"B\"|" "$t/out" >"$t/out2"
mv "$t/out2" "$t/out"
expect 0 hard-qmail.eml A quota-exim.eml B
quiet

# --jobs without its number says what it takes (it was "unknown option").
case=jobs_without_number
run --jobs
expect 64
says "rebond classify: --jobs takes a number from 1 to 64"
run --jobs --json
expect 64
says "rebond classify: --jobs takes a number from 1 to 64"

# Every line is what jansson makes of the same object, byte for byte
# (classify writes its lines key by key): over the fixtures, and a DSN
# whose values need escapes (quotes, backslashes, a tab, UTF-8) in a file
# whose name is not UTF-8 and has a quote and a backslash.
case=json_lines_are_jansson_s
same=$(dirname "$bin")/tests/json_same
if [ ! -x "$same" ]; then
	fail "$same not built"
else
	mkdir "$t/j" && cp "$fx"/*.eml "$t/j/" || exit 99
	name=$(printf 'odd"na\\me\377.eml')
	{
		printf 'From: MAILER-DAEMON@mx.example.org\n'
		printf 'Subject: Undelivered Mail Returned to Sender\n'
		printf 'Message-ID: <odd\\"id@mx.example.org>\n'
		printf 'MIME-Version: 1.0\n'
		printf 'Content-Type: multipart/report; report-type=delivery-status; boundary="B"\n\n'
		printf -- '--B\nContent-Type: text/plain; charset=utf-8\n'
		printf 'Content-Transfer-Encoding: 8bit\n\nD\303\251livrance impossible.\n\n'
		printf -- '--B\nContent-Type: message/delivery-status\n\n'
		printf 'Reporting-MTA: dns; mx.example.org\n\n'
		printf 'Final-Recipient: rfc822; jo@example.org\nAction: failed\nStatus: 5.1.1\n'
		printf 'Diagnostic-Code: smtp; 550 5.1.1 <jo@example.org>: "bo\303\256te" \\ inconnue\ttab\n\n'
		printf -- '--B--\n'
	} >"$t/j/$name" || exit 99
	run --jobs 2 "$t/j"
	n=$(ls "$t/j" | wc -l)
	if [ "$rc" -ne 0 ] || [ "$(wc -l <"$t/out")" -lt "$n" ]; then
		fail "exit $rc, fewer lines than the $n files"
	elif ! "$same" <"$t/out" 2>"$t/err"; then
		fail "a line is not jansson's"
	elif ! grep -qF '"diagnostic":"550 5.1.1 <jo@example.org>: \"bo' "$t/out" ||
	    ! grep -qF 'te\" \\ inconnue tab"' "$t/out" ||
	    ! grep -qF '"message_id":"odd\\\"id@' "$t/out" ||
	    ! grep -qF '"status":"5.1.1","reply_code":550,' "$t/out" ||
	    ! grep -qF 'odd\"na\\me' "$t/out"; then
		fail "the escapes or the reply code are not in the lines"
	fi
	rm -rf "$t/j"
fi

exit $failed
