/*
 * test_sms.c - the SMS command: argv without a shell, the number as last
 * argument, the text on stdin, exit status 0 / 75 / other, the timeout,
 * and numbers that are refused before anything runs.
 */
#include "config.h"

#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sms.h"

static char dir[64], log_path[128], cmd[512];

static void
setup(void)
{
	signal(SIGPIPE, SIG_IGN);
	strcpy(dir, "/tmp/rebond-sms.XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
	snprintf(log_path, sizeof log_path, "%s/sms.log", dir);
}

static void
teardown(void)
{
	unlink(log_path);
	rmdir(dir);
}

static char *
slurp(void)
{
	static char buf[4096];
	FILE *f = fopen(log_path, "r");
	size_t n = 0;

	buf[0] = '\0';
	if (f != NULL) {
		n = fread(buf, 1, sizeof buf - 1, f);
		fclose(f);
	}
	buf[n] = '\0';
	return buf;
}

TestSuite(sms, .init = setup, .fini = teardown);

Test(sms, sent_number_last_text_on_stdin)
{
	char err[256] = "";

	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_sink.sh %s", SRCDIR,
	    log_path);
	cr_assert_eq(sms_send(cmd, 10, "+33 6 00.00-00 01",
	    "Votre boîte est pleine ; $(touch /tmp/x) `id`", err, sizeof err),
	    SEND_OK, "%s", err);
	cr_assert_str_eq(slurp(), "+33600000001|Votre boîte est pleine ; "
	    "$(touch /tmp/x) `id`\n");
}

Test(sms, exit_75_is_temporary_other_is_refusal)
{
	char err[256] = "";

	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_sink.sh --exit 75 %s",
	    SRCDIR, log_path);
	cr_assert_eq(sms_send(cmd, 10, "0600000001", "x", err, sizeof err),
	    SEND_TEMP);
	cr_assert_not_null(strstr(err, "status 75"), "%s", err);
	cr_assert_not_null(strstr(err, "gateway says"), "%s", err);
	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_sink.sh --exit 1 %s",
	    SRCDIR, log_path);
	cr_assert_eq(sms_send(cmd, 10, "0600000001", "x", err, sizeof err),
	    SEND_PERM, "%s", err);
}

/* The command starts with no signal blocked and SIGPIPE not ignored,
 * whatever rebond does with them (it blocks SIGTERM and SIGINT during a
 * batch, and ignores SIGPIPE). */
Test(sms, command_starts_with_default_signals)
{
	char err[256] = "", *blk, *ign;
	unsigned long long mask;
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	cr_assert_eq(sigprocmask(SIG_BLOCK, &set, NULL), 0);
	snprintf(cmd, sizeof cmd, "python3 %s/tests/sms_signals.py %s",
	    SRCDIR, log_path);
	cr_assert_eq(sms_send(cmd, 10, "0600000001", "x", err, sizeof err),
	    SEND_OK, "%s", err);
	blk = strstr(slurp(), "SigBlk:");
	cr_assert_not_null(blk, "%s", slurp());
	mask = strtoull(blk + 7, NULL, 16);
	cr_assert_eq(mask, 0, "blocked: %llx", mask);
	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_signals.sh %s",
	    SRCDIR, log_path);
	cr_assert_eq(sms_send(cmd, 10, "0600000001", "x", err, sizeof err),
	    SEND_OK, "%s", err);
	ign = strstr(slurp(), "SigIgn:");
	cr_assert_not_null(ign, "%s", slurp());
	mask = strtoull(ign + 7, NULL, 16);
	cr_assert_eq(mask & (1ULL << (SIGPIPE - 1)), 0, "ignored: %llx", mask);
}

/* With SIGCHLD ignored (as a careless supervisor may leave it), the exit
 * status is lost: not knowing is a temporary failure, never "sent". */
Test(sms, lost_exit_status_is_not_sent)
{
	char err[256] = "";

	signal(SIGCHLD, SIG_IGN);
	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_sink.sh --exit 1 %s",
	    SRCDIR, log_path);
	cr_assert_eq(sms_send(cmd, 10, "0600000001", "x", err, sizeof err),
	    SEND_TEMP, "%s", err);
	cr_assert_not_null(strstr(err, "cannot learn"), "%s", err);
	signal(SIGCHLD, SIG_DFL);
}

Test(sms, timeout_kills_and_is_temporary, .timeout = 20)
{
	char err[256] = "";

	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_sink.sh --sleep 30 %s",
	    SRCDIR, log_path);
	cr_assert_eq(sms_send(cmd, 1, "0600000001", "x", err, sizeof err),
	    SEND_TEMP);
	cr_assert_not_null(strstr(err, "killed"), "%s", err);
}

/* A wrapper (sh -c 'curl ...') leaves the sending to a child: the timeout
 * kills the child too. Were it left running, it would send an SMS that
 * counts as not sent, and the next run would send it again. */
Test(sms, timeout_kills_the_commands_children, .timeout = 20)
{
	char err[256] = "";

	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_sink.sh --sleep 2 "
	    "--child %s", SRCDIR, log_path);
	cr_assert_eq(sms_send(cmd, 1, "0600000001", "x", err, sizeof err),
	    SEND_TEMP, "%s", err);
	cr_assert_not_null(strstr(err, "killed"), "%s", err);
	/* Past the child's sleep (2 s after the start; 1 s went by). */
	sleep(2);
	cr_assert_str_eq(slurp(), "", "the child sent it after the timeout");
}

Test(sms, missing_command_is_temporary)
{
	char err[256] = "";

	cr_assert_eq(sms_send("/nonexistent/gateway", 5, "0600000001", "x",
	    err, sizeof err), SEND_TEMP, "%s", err);
}

Test(sms, bad_numbers_are_refused_before_running)
{
	static const char *const bad[] = { "", "12345", "-v 0600000001",
		"06 00 00 00 01; rm -rf /",
		"+33 6 00 00 00 01 2 3 4 5 6 7 8 9 0 1",
		"0600000001\n", "+", "++33600000001" };
	char err[256], out[32];
	size_t i;

	snprintf(cmd, sizeof cmd, "/bin/sh %s/tests/sms_sink.sh %s", SRCDIR,
	    log_path);
	for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(sms_number(bad[i], out, sizeof out), -1,
		    "'%s' accepted", bad[i]);
		cr_assert_eq(sms_send(cmd, 5, bad[i], "x", err, sizeof err),
		    SEND_PERM, "'%s'", bad[i]);
	}
	cr_assert_str_eq(slurp(), "", "the command ran");
	cr_assert_eq(sms_number("(+33) 6.00.00.00.01", out, sizeof out), -1,
	    "+ after a parenthesis");
}

/* What the gateway gets: blanks, dots, dashes and parentheses dropped, a
 * leading + or 00 kept as written; after the country code, "(0)" is the
 * national trunk prefix, which an international number does not dial. */
Test(sms, numbers_are_normalised)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "+33 (0)6 12 34 56 78", "+33612345678" },
		{ "+33(0)612345678", "+33612345678" },
		{ "0033 (0)6 12 34 56 78", "0033612345678" },
		{ "+44 (0)20 7946 0958", "+442079460958" },
		{ "+358 (0)40 123 4567", "+358401234567" },
		{ "+33 (0)6 00 00 00 01", "+33600000001" },
		/* Other brackets: their digits stay. */
		{ "(06) 12 34 56 78", "0612345678" },
		{ "(0)6 12 34 56 78", "0612345678" },
		{ "+1 (555) 123-4567", "+15551234567" },
		/* As before. */
		{ "06 12 34 56 78", "0612345678" },
		{ "06.12.34.56.78", "0612345678" },
		{ " \t+33 6 00.00-00 01", "+33600000001" },
		{ "0033 6 12 34 56 78", "0033612345678" },
	};
	char out[32];
	size_t i;

	for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		cr_assert_eq(sms_number(cases[i].in, out, sizeof out), 0,
		    "'%s' refused", cases[i].in);
		cr_assert_str_eq(out, cases[i].want, "'%s'", cases[i].in);
	}
}

Test(sms, text_too_long_is_refused)
{
	char err[256], text[600];

	memset(text, 'a', sizeof text - 1);
	text[sizeof text - 1] = '\0';
	cr_assert_eq(sms_send("/bin/true", 5, "0600000001", text, err,
	    sizeof err), SEND_PERM);
}
