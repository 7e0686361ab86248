/*
 * live_tls.c - the IMAP server's certificate and host name are verified
 * before LOGIN, with implicit TLS and STARTTLS; no downgrade.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "live.h"

/* Run with extra [imap] lines; return the exit status. */
static int
run_with(const char *name, const char *extra)
{
	const char *db = live_db_migrated(name);
	char args[700];

	live_mailbox(name);
	snprintf(args, sizeof args, "run -c %s",
	    live_config(name, name, db, extra));
	return live_rebond(args);
}

Test(tls, right_ca_is_accepted_implicit_and_starttls, .timeout = 60)
{
	char extra[200];
	int rc;

	rc = run_with("tls_ok", NULL);
	cr_assert_eq(rc, 0, "implicit: %d %s", rc, live_err());
	snprintf(extra, sizeof extra, "[imap]\ntls = starttls\nport = %s\n",
	    live_env("REBOND_TEST_DOVECOT_PORT"));
	rc = run_with("tls_ok2", extra);
	cr_assert_eq(rc, 0, "starttls: %d %s", rc, live_err());
}

Test(tls, unknown_issuer_is_refused_without_ca_file, .timeout = 60)
{
	/* The server's certificate is signed by a private CA: the system
	 * store does not know it, as with a self-signed one. */
	int rc;

	rc = run_with("tls_noca", "[imap]\nca_file =\n");
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "certificate refused"), "%s",
	    live_err());
	cr_assert_not_null(strstr(live_err(), "issuer"), "%s", live_err());
	cr_assert_null(strstr(live_err(), "LOGIN"), "%s", live_err());
}

Test(tls, wrong_ca_is_refused, .timeout = 60)
{
	char extra[300];
	int rc;

	snprintf(extra, sizeof extra, "[imap]\nca_file = %s\n",
	    live_env("REBOND_TEST_OTHER_CA"));
	rc = run_with("tls_wrongca", extra);
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "certificate refused"), "%s",
	    live_err());
}

Test(tls, wrong_host_name_is_refused, .timeout = 60)
{
	int rc;

	/* The certificate names "localhost" only. */
	rc = run_with("tls_wronghost", "[imap]\nhost = 127.0.0.1\n");
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "does not match"), "%s",
	    live_err());
}

Test(tls, plain_text_only_to_loopback, .timeout = 60)
{
	char extra[200];
	int rc;

	snprintf(extra, sizeof extra, "[imap]\ntls = none\nport = %s\n",
	    live_env("REBOND_TEST_DOVECOT_PORT"));
	rc = run_with("tls_none", extra);
	cr_assert_eq(rc, 0, "exit %d: %s", rc, live_err());
}

Test(tls, pinned_fingerprint_must_match, .timeout = 60)
{
	char pin[80], extra[200];
	int rc;

	live_server_pin(pin, sizeof pin);
	snprintf(extra, sizeof extra, "[imap]\ntls_fingerprint = sha256:%s\n",
	    pin);
	rc = run_with("tls_pin_ok", extra);
	cr_assert_eq(rc, 0, "right pin: exit %d: %s", rc, live_err());
	/* One digit off: refused, even though the chain verifies. */
	pin[0] = pin[0] == '0' ? '1' : '0';
	snprintf(extra, sizeof extra, "[imap]\ntls_fingerprint = sha256:%s\n",
	    pin);
	rc = run_with("tls_pin_bad", extra);
	cr_assert_eq(rc, 76, "wrong pin: exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "does not match the pinned one"),
	    "%s", live_err());
}

/* STARTTLS configured, server without STARTTLS: never fall back. */
Test(tls, starttls_is_never_downgraded, .timeout = 60)
{
	char cmd[600], extra[200];
	FILE *p;
	int port = 0, rc;

	snprintf(cmd, sizeof cmd, "%s/tests/servers.sh dovecot %s notls "
	    "'IMAP4rev1 LITERAL+ IDLE UIDPLUS MOVE' nossl",
	    live_env("REBOND_SRCDIR"), live_dir());
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "export REBOND_TEST_NOTLS_PORT=%d", &port), 1);
	pclose(p);
	snprintf(extra, sizeof extra, "[imap]\ntls = starttls\nport = %d\n",
	    port);
	rc = run_with("tls_downgrade", extra);
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_not_null(strstr(live_err(), "does not offer STARTTLS"), "%s",
	    live_err());
}

/*
 * A greeting without capabilities (RFC 3501 allows it; Exchange's has
 * none): rebond asks with CAPABILITY, then sends STARTTLS. The scripted
 * server logs the commands and refuses STARTTLS: the run stops there
 * (exit 76), having sent nothing else, the password least of all.
 */
Test(tls, starttls_asks_for_capabilities_the_greeting_lacks, .timeout = 60)
{
	static const char script[] =
	    "import os, socket, sys\n"
	    "s = socket.socket()\n"
	    "s.bind(('127.0.0.1', 0))\n"
	    "s.listen(4)\n"
	    "s.settimeout(30)\n"
	    "print(os.getpid(), s.getsockname()[1], flush=True)\n"
	    "c = s.accept()[0]\n"
	    "c.settimeout(10)\n"
	    "f = c.makefile('rb')\n"
	    "log = open(sys.argv[1], 'w')\n"
	    "c.sendall(b'* OK scripted server ready\\r\\n')\n"
	    "for line in f:\n"
	    "    tag, cmd = (line.decode('ascii', 'replace').split() + "
	    "['', ''])[:2]\n"
	    "    log.write(cmd.upper() + '\\n')\n"
	    "    log.flush()\n"
	    "    if cmd.upper() == 'CAPABILITY':\n"
	    "        c.sendall(b'* CAPABILITY IMAP4rev1 STARTTLS "
	    "LOGINDISABLED\\r\\n' + tag.encode() + b' OK done\\r\\n')\n"
	    "    else:\n"
	    "        c.sendall(tag.encode() + b' NO not today\\r\\n')\n"
	    "        break\n";
	char path[600], logp[600], cmd[1400], extra[200], *got;
	FILE *f, *p;
	int port = 0, pid = 0, rc;

	snprintf(path, sizeof path, "%s/nocaps.py", live_dir());
	snprintf(logp, sizeof logp, "%s/nocaps.log", live_dir());
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs(script, f);
	fclose(f);
	snprintf(cmd, sizeof cmd, "exec /usr/bin/python3 %s %s", path, logp);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	cr_assert_eq(fscanf(p, "%d %d", &pid, &port), 2);
	snprintf(extra, sizeof extra, "[imap]\ntls = starttls\nport = %d\n",
	    port);
	rc = run_with("tls_nocaps", extra);
	kill(pid, SIGTERM);
	pclose(p);
	cr_assert_eq(rc, 76, "exit %d: %s", rc, live_err());
	cr_assert_null(strstr(live_err(), "does not offer STARTTLS"), "%s",
	    live_err());
	cr_assert_not_null(strstr(live_err(), "STARTTLS"), "%s", live_err());
	f = fopen(logp, "r");
	cr_assert_not_null(f);
	got = calloc(1, 256);
	cr_assert_not_null(got);
	cr_assert_eq(fread(got, 1, 255, f) > 0, 1);
	fclose(f);
	cr_assert_str_eq(got, "CAPABILITY\nSTARTTLS\n");
	free(got);
}
