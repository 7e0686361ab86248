#!/bin/sh
# sms_sink.sh - a stand-in SMS gateway for tests: [sms] command =
#   /bin/sh tests/sms_sink.sh [--exit N] [--sleep S] [--child] FILE
# rebond adds the number as the last argument and writes the text on
# stdin; one line "NUMBER|TEXT" is appended to FILE, then the script exits
# with N (default 0). --child: the sleep and the line are left to a child
# shell that the script waits for, as a wrapper leaves the sending to curl.
code=0
nap=0
child=
while :; do
	case $1 in
	--exit) code=$2; shift 2 ;;
	--sleep) nap=$2; shift 2 ;;
	--child) child=1; shift ;;
	*) break ;;
	esac
done
file=$1
number=$2
text=$(cat)
if [ -n "$child" ]; then
	/bin/sh -c 'sleep "$1"; printf "%s|%s\n" "$2" "$3" >>"$4"' sh "$nap" \
	    "$number" "$text" "$file"
	exit "$code"
fi
[ "$nap" = 0 ] || sleep "$nap"
printf '%s|%s\n' "$number" "$text" >>"$file"
[ "$code" = 0 ] || echo "gateway says: failure $code"
exit "$code"
