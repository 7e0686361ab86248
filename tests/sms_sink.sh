#!/bin/sh
# sms_sink.sh - a stand-in SMS gateway for tests: [sms] command =
#   /bin/sh tests/sms_sink.sh [--exit N] [--sleep S] FILE
# rebond adds the number as the last argument and writes the text on
# stdin; one line "NUMBER|TEXT" is appended to FILE, then the script exits
# with N (default 0).
code=0
nap=0
while :; do
	case $1 in
	--exit) code=$2; shift 2 ;;
	--sleep) nap=$2; shift 2 ;;
	*) break ;;
	esac
done
file=$1
number=$2
text=$(cat)
[ "$nap" = 0 ] || sleep "$nap"
printf '%s|%s\n' "$number" "$text" >>"$file"
[ "$code" = 0 ] || echo "gateway says: failure $code"
exit "$code"
