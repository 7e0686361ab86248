/*
 * live_tls.c - the IMAP server's certificate and host name are verified
 * before LOGIN, with implicit TLS and STARTTLS; no downgrade.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
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
