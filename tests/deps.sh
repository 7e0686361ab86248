#!/bin/sh
# deps.sh - install the Debian packages rebond needs, only those missing.
#
#   tests/deps.sh build|live|all    (sourced or run; exits non-zero when
#                                    packages are missing and we are not root)
#
# build: compiler, autotools and libraries; live: + Dovecot, PostgreSQL 15
# and the SMTP sink of the live tests; all: + clang/libFuzzer and Debian's
# Sisimai (the fuzz run and the classify benchmark). Never starts a service.
set -eu
BUILD="build-essential autoconf automake libtool pkg-config libetpan-dev
libgnutls28-dev libpq-dev libiniparser-dev libjansson-dev libcriterion-dev
libjemalloc-dev"
LIVE="dovecot-imapd postgresql-15 postgresql-client-15 python3-aiosmtpd openssl"
EXTRA="clang libclang-rt-dev libsisimai-perl valgrind"
case ${1:-all} in
build) pkgs=$BUILD ;;
live) pkgs="$BUILD $LIVE" ;;
all) pkgs="$BUILD $LIVE $EXTRA" ;;
*) echo "usage: deps.sh build|live|all" >&2; exit 64 ;;
esac
missing=
for p in $pkgs; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
	    missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "deps.sh: installing:$missing"
if [ "$(id -u)" != 0 ]; then
	echo "deps.sh: not root: install them first (apt-get install$missing)" >&2
	exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Containers: policy-rc.d keeps the services down; nothing is started.
apt-get install -y -qq --no-install-recommends $missing >/dev/null
