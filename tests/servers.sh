#!/bin/sh
# servers.sh - throwaway Dovecot, PostgreSQL 15 and SMTP sinks on 127.0.0.1.
#
#   servers.sh check            exit 0 when the servers are installed
#   servers.sh start DIR        start them under DIR; print `export` lines
#   servers.sh stop DIR         stop what start started, by PID
#   servers.sh dovecot DIR NAME [imap_capability] [nossl]
#                               start one more Dovecot (DIR/NAME) sharing
#                               the mail homes; print its env lines
#   servers.sh dovecot-stop|dovecot-start DIR NAME
#                               stop it by PID / start it again (same
#                               ports): the fault tests
#   servers.sh postgres DIR pg-NAME, pg-crash, pg-start
#                               one more PostgreSQL cluster, stopped with
#                               -m immediate and started again
#
# Servers run as a non-root user (nobody / postgres when run as root),
# listen on 127.0.0.1 only, on free ports picked here, and are stopped by
# the PIDs recorded in DIR/*.pid, never by name.
set -eu
PGBIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3

check() {
	command -v dovecot >/dev/null 2>&1 || [ -x /usr/sbin/dovecot ] || return 1
	[ -x "$PGBIN/initdb" ] || return 1
	[ -x "$PY" ] && "$PY" -c 'import aiosmtpd' 2>/dev/null || return 1
	command -v openssl >/dev/null 2>&1 || return 1
}

free_port() {
	"$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# Run "$@" as user $1 (only when we are root).
as() {
	u=$1
	shift
	if [ "$(id -u)" = 0 ]; then
		runuser -u "$u" -- "$@"
	else
		"$@"
	fi
}

wait_pidfile() {
	i=0
	while [ ! -s "$1" ]; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		sleep 0.1
	done
}

wait_port() {
	"$PY" - "$1" <<'PYEOF'
import socket, sys, time
for _ in range(100):
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.2).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.1)
sys.exit(1)
PYEOF
}

certs() {
	T=$1
	# A private CA, a leaf for "localhost" only (so 127.0.0.1 is a wrong
	# host name), and an unrelated CA for "wrong CA" tests.
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rebond test CA" \
	    -keyout "$T/ca.key" -out "$T/ca.pem" 2>/dev/null
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=rebond other CA" \
	    -keyout "$T/other-ca.key" -out "$T/other-ca.pem" 2>/dev/null
	openssl req -newkey rsa:2048 -nodes -subj /CN=localhost \
	    -keyout "$T/key.pem" -out "$T/leaf.csr" 2>/dev/null
	printf 'subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n' >"$T/leaf.ext"
	openssl x509 -req -in "$T/leaf.csr" -CA "$T/ca.pem" -CAkey "$T/ca.key" \
	    -CAcreateserial -days 2 -extfile "$T/leaf.ext" -out "$T/cert.pem" 2>/dev/null
	# A self-signed certificate for "localhost".
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=localhost \
	    -addext subjectAltName=DNS:localhost \
	    -keyout "$T/self-key.pem" -out "$T/self-cert.pem" 2>/dev/null
	chmod 644 "$T"/*.pem
}

# dovecot_start T NAME [CAPABILITY] [nossl]: one instance in $T/NAME.
dovecot_start() {
	T=$1
	D=$T/$2
	cap=${3:-}
	nossl=${4:-}
	mkdir -p "$D/run" "$D/state"
	port=$(free_port)
	sport=$(free_port)
	cat >"$D/dovecot.conf" <<CONF
base_dir = $D/run
state_dir = $D/state
instance_name = rebond-test-$port
log_path = $D/dovecot.log
info_log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = $MAILUSER
default_internal_group = $MAILGROUP
default_login_user = $MAILUSER
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <$T/cert.pem
ssl_key = <$T/key.pem
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=$MAILUSER gid=$MAILGROUP home=$T/mail/%u
}
mail_location = maildir:~/Maildir
namespace inbox {
  inbox = yes
  separator = /
}
service imap-login {
  chroot =
  inet_listener imap {
    address = 127.0.0.1
    port = $port
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = $sport
    ssl = yes
  }
}
service anvil {
  chroot =
}
service stats {
  inet_listener http {
    port = 0
  }
}
service lmtp {
  unix_listener lmtp {
    mode = 0
  }
}
CONF
	[ -n "$cap" ] && echo "imap_capability = $cap" >>"$D/dovecot.conf"
	echo "$port" >"$D/port"
	# nossl: a server that offers no TLS at all (downgrade tests).
	[ "$nossl" = nossl ] && sed -i 's/^ssl = yes$/ssl = no/; /^ssl_cert/d; /^ssl_key/d; /ssl = yes/d' "$D/dovecot.conf"
	chown -R "$MAILUSER:$MAILGROUP" "$D" 2>/dev/null || true
	dovecot_run "$T" "$2"
	N=$(echo "$2" | tr a-z- A-Z_)
	echo "export REBOND_TEST_${N}_PORT=$port REBOND_TEST_${N}_SPORT=$sport"
	echo "export REBOND_TEST_${N}_CONF=$D/dovecot.conf"
}

# dovecot_run T NAME: start the instance configured in $T/NAME.
dovecot_run() {
	D=$1/$2
	rm -f "$D/run/master.pid"
	# The ports may still be held for a moment by the previous instance.
	n=0
	until as "$MAILUSER" dovecot -c "$D/dovecot.conf" 2>>"$D/start.err"; do
		n=$((n + 1))
		[ $n -ge 20 ] && { cat "$D/start.err" >&2; return 1; }
		sleep 0.25
	done
	wait_pidfile "$D/run/master.pid"
	cp "$D/run/master.pid" "$1/$2.pid"
	wait_port "$(cat "$D/port")"
}

# stop_pid PIDFILE SIG: signal the PID in PIDFILE, wait until it is gone.
stop_pid() {
	[ -f "$1" ] || return 0
	pid=$(cat "$1")
	kill -"$2" "$pid" 2>/dev/null || true
	i=0
	while kill -0 "$pid" 2>/dev/null && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	kill -KILL "$pid" 2>/dev/null || true
	rm -f "$1"
}

# descendants PID: the PIDs of PID's children, grandchildren...
descendants() {
	for c in $(ps -o pid= --ppid "$1" 2>/dev/null); do
		echo "$c"
		descendants "$c"
	done
}

# stop_tree PIDFILE: stop a Dovecot the way systemd does (the whole
# control group): the master and its processes, imap sessions included;
# stopping only the master leaves running sessions alive.
stop_tree() {
	[ -f "$1" ] || return 0
	kids=$(descendants "$(cat "$1")")
	for k in $kids; do
		kill -TERM "$k" 2>/dev/null || true
	done
	stop_pid "$1" TERM
	# A surviving login process still holds the listening sockets: wait
	# for every one, so that the server can start again on its ports.
	for k in $kids; do
		i=0
		while kill -0 "$k" 2>/dev/null && [ $i -lt 50 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		kill -KILL "$k" 2>/dev/null || true
	done
}

# pg_start T NAME [PORT]: a PostgreSQL cluster in $T/NAME (initdb once).
pg_start() {
	D=$1/$2
	mkdir -p "$D"
	chown "$PGUSER_OS" "$D" 2>/dev/null || true
	[ -n "${3:-}" ] && echo "$3" >"$D/port"
	[ -d "$D/data" ] || as "$PGUSER_OS" "$PGBIN/initdb" -D "$D/data" \
	    -U postgres -A trust -E UTF8 --locale=C.UTF-8 --no-sync \
	    >"$D/initdb.log"
	# fsync=off loses nothing when only the server dies (the kernel
	# keeps what it was given); synchronous_commit stays on for the
	# fault tests, which stop a cluster with -m immediate.
	as "$PGUSER_OS" "$PGBIN/pg_ctl" -D "$D/data" -l "$D/pg.log" -w -t 30 \
	    -o "-p $(cat "$D/port") -k $D -c listen_addresses=127.0.0.1 \
	    -c fsync=off -c full_page_writes=off -c max_connections=200 \
	    ${PG_EXTRA:-}" start >/dev/null
	head -1 "$D/data/postmaster.pid" >"$1/$2.pid"
}

users() {
	if [ "$(id -u)" = 0 ]; then
		MAILUSER=nobody MAILGROUP=nogroup PGUSER_OS=postgres
	else
		MAILUSER=$(id -un) MAILGROUP=$(id -gn) PGUSER_OS=$MAILUSER
	fi
}

# sink PIDFILE ARGS...: an aiosmtpd SMTP sink, in the background.
sink() {
	pidfile=$1
	shift
	touch "$pidfile.tmp"
	chown "$MAILUSER" "$pidfile.tmp" 2>/dev/null || true
	as "$MAILUSER" setsid sh -c 'echo $$ >"$0.tmp"; exec "$@"' "$pidfile" \
	    "$PY" -m aiosmtpd -n "$@" >"$pidfile.log" 2>&1 &
	wait_pidfile "$pidfile.tmp"
	mv "$pidfile.tmp" "$pidfile"
}

start() {
	T=$1
	users
	chmod 755 "$T"
	certs "$T"
	mkdir -p "$T/mail" "$T/pg" "$T/smtp/plain" "$T/smtp/tls"
	chown "$MAILUSER:$MAILGROUP" "$T/mail" "$T/smtp" "$T/smtp/plain" "$T/smtp/tls" 2>/dev/null || true
	chown "$PGUSER_OS" "$T/pg" 2>/dev/null || true
	cp "$T/key.pem" "$T/smtp/key.pem"
	chown "$MAILUSER" "$T/smtp/key.pem" 2>/dev/null || true

	dovecot_start "$T" dovecot
	echo "export REBOND_TEST_MAILUSER=$MAILUSER REBOND_TEST_MAILGROUP=$MAILGROUP"
	echo "export REBOND_TEST_MAILHOME=$T/mail"
	echo "export REBOND_TEST_CA=$T/ca.pem REBOND_TEST_OTHER_CA=$T/other-ca.pem"
	echo "export REBOND_TEST_SELF_CERT=$T/self-cert.pem REBOND_TEST_SELF_KEY=$T/self-key.pem"

	pgport=$(free_port)
	PG_EXTRA="-c synchronous_commit=off" pg_start "$T" pg "$pgport"
	echo "export REBOND_TEST_PGHOST=$T/pg REBOND_TEST_PGPORT=$pgport"

	sport=$(free_port)
	# The sink writes its own PID (runuser forks: $! would be runuser's).
	sink "$T/smtp-plain.pid" -l "127.0.0.1:$sport" \
	    -c aiosmtpd.handlers.Mailbox "$T/smtp/plain/maildir"
	tport=$(free_port)
	sink "$T/smtp-tls.pid" -l "127.0.0.1:$tport" \
	    --tlscert "$T/cert.pem" --tlskey "$T/smtp/key.pem" \
	    -c aiosmtpd.handlers.Mailbox "$T/smtp/tls/maildir"
	wait_pidfile "$T/smtp-plain.pid"
	wait_pidfile "$T/smtp-tls.pid"
	wait_port "$sport"
	wait_port "$tport"
	echo "export REBOND_TEST_SMTP_PORT=$sport REBOND_TEST_SMTPTLS_PORT=$tport"
	echo "export REBOND_TEST_SMTP_MAILDIR=$T/smtp/plain/maildir REBOND_TEST_SMTPTLS_MAILDIR=$T/smtp/tls/maildir"
}

# Stop every server whose PID file is in $1, and wait until each is gone.
stop() {
	T=$1
	for f in "$T"/*.pid; do
		[ -f "$f" ] || continue
		case $f in
		*/pg.pid | */pg-*.pid) stop_pid "$f" INT ;;
		*) stop_pid "$f" TERM ;;
		esac
	done
}

usage() {
	cat >&2 <<'EOF_USAGE'
usage: servers.sh check | start DIR | stop DIR
       servers.sh dovecot DIR NAME [CAP] [nossl]
                                           one more Dovecot in DIR/NAME
       servers.sh dovecot-stop DIR NAME    stop it and its sessions (by PID)
       servers.sh dovecot-start DIR NAME   start it again, same ports
       servers.sh postgres DIR pg-NAME     one more PostgreSQL cluster
       servers.sh pg-crash DIR pg-NAME     pg_ctl stop -m immediate
       servers.sh pg-start DIR pg-NAME     start it again, same port
EOF_USAGE
	exit 64
}

case ${1:-} in
check) check ;;
start) start "$2" ;;
stop) stop "$2" ;;
dovecot) users; dovecot_start "$2" "$3" "${4:-}" "${5:-}" ;;
dovecot-stop) stop_tree "$2/$3.pid" ;;
dovecot-start) users; dovecot_run "$2" "$3" ;;
postgres)
	users
	case $3 in pg-*) ;; *) usage ;; esac
	port=$(free_port)
	pg_start "$2" "$3" "$port"
	N=$(echo "$3" | tr a-z- A-Z_)
	echo "export REBOND_TEST_${N}_HOST=$2/$3 REBOND_TEST_${N}_PORT=$port" ;;
pg-crash)
	users
	as "$PGUSER_OS" "$PGBIN/pg_ctl" -D "$2/$3/data" -m immediate -w \
	    stop >/dev/null
	rm -f "$2/$3.pid" ;;
pg-start) users; pg_start "$2" "$3" ;;
*) usage ;;
esac
