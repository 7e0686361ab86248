/* sms.c - SMS through the gateway command (see sms.h). */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "sms.h"
#include "strutil.h"
#include "xalloc.h"

/* Bytes of the command's output kept for last_error. */
#define OUTPUT_BYTES 300

/*
 * Whether the number so far (out, n bytes, digits of them digits) is an
 * international prefix (+ or 00) and a country code (1 to 3 digits): a
 * "(0)" there is the national trunk prefix ("+33 (0)6 ..."), not dialled
 * from abroad.
 */
static int
after_country_code(const char *out, size_t n, size_t digits)
{
	size_t cc;

	if (n > 0 && out[0] == '+')
		cc = digits;
	else if (digits >= 2 && out[0] == '0' && out[1] == '0')
		cc = digits - 2;
	else
		return 0;
	return cc >= 1 && cc <= 3;
}

int
sms_number(const char *in, char *out, size_t len)
{
	size_t n = 0, digits = 0;
	const char *p;

	if (in == NULL || len < 22)
		return -1;
	for (p = in; *p == ' ' || *p == '\t'; p++)
		continue;
	if (*p == '+')
		out[n++] = *p++;
	for (; *p != '\0'; p++) {
		if (strncmp(p, "(0)", 3) == 0 &&
		    after_country_code(out, n, digits)) {
			p += 2;
			continue;
		}
		if (*p >= '0' && *p <= '9') {
			if (++digits > 20)
				return -1;
			out[n++] = *p;
		} else if (strchr(" \t.-()", *p) == NULL)
			return -1;
	}
	out[n] = '\0';
	return digits >= 6 ? 0 : -1;
}

static double
seconds_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)(t.tv_sec - t0->tv_sec) +
	    (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

/* Read the child's output until EOF or the deadline; keep a prefix. */
static void
read_output(int fd, const struct timespec *t0, unsigned timeout, char *out,
    size_t outlen)
{
	size_t n = 0;
	char chunk[512];

	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		double left = timeout - seconds_since(t0);
		ssize_t r;

		if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
			break;
		r = read(fd, chunk, sizeof chunk);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (n + 1 < outlen) {
			size_t k = (size_t)r < outlen - 1 - n ? (size_t)r :
			    outlen - 1 - n;

			memcpy(out + n, chunk, k);
			n += k;
		}
	}
	out[n] = '\0';
}

/*
 * Wait for pid, the leader of its own process group, until the deadline;
 * past it, kill the whole group. 1: exited, 0: killed, -1: its status is
 * lost (errno set; SIGCHLD ignored by whoever started us reaps children on
 * its own): nobody knows whether it sent the SMS.
 */
static int
wait_child(pid_t pid, const struct timespec *t0, unsigned timeout,
    int *status_r)
{
	for (;;) {
		pid_t r = waitpid(pid, status_r, WNOHANG);

		if (r == pid)
			return 1;
		if (r == -1 && errno != EINTR)
			return -1;
		if (seconds_since(t0) >= timeout) {
			/* The group, not only pid: a wrapper's child (curl
			 * under sh -c) left running would send the SMS that
			 * counts as not sent, and the next run would send it
			 * again. pid is reaped only after the kill: the
			 * group's id is still its own. No group (the child's
			 * setpgid failed): pid alone. */
			if (kill(-pid, SIGKILL) == -1)
				kill(pid, SIGKILL);
			while (waitpid(pid, status_r, 0) == -1 &&
			    errno == EINTR)
				continue;
			return 0;
		}
		usleep(10000);
	}
}

enum send_result
sms_send(const char *command, unsigned timeout, const char *number,
    const char *text, char *err, size_t errlen)
{
	char num[32], *copy, *argv[SMS_MAX_ARGS + 1], *tok, *save = NULL,
	    output[OUTPUT_BYTES + 1], *line;
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, status = 0, ended;
	enum send_result rc = SEND_TEMP;
	size_t argc = 0, tlen = strlen(text), off = 0;
	struct timespec t0;
	pid_t pid;

	if (sms_number(number, num, sizeof num) == -1) {
		snprintf(err, errlen, "invalid phone number");
		return SEND_PERM;
	}
	if (tlen == 0 || tlen > SMS_MAX_BYTES) {
		snprintf(err, errlen, "SMS text of %zu bytes (1 to %d)", tlen,
		    SMS_MAX_BYTES);
		return SEND_PERM;
	}
	copy = xstrdup(command);
	for (tok = strtok_r(copy, " \t", &save); tok != NULL;
	    tok = strtok_r(NULL, " \t", &save)) {
		if (argc == SMS_MAX_ARGS - 1) {
			snprintf(err, errlen, "[sms] command: more than %d "
			    "arguments", SMS_MAX_ARGS - 1);
			free(copy);
			return SEND_TEMP;
		}
		argv[argc++] = tok;
	}
	if (argc == 0) {
		snprintf(err, errlen, "[sms] command is empty");
		free(copy);
		return SEND_TEMP;
	}
	argv[argc++] = num;
	argv[argc] = NULL;
	if (pipe2(in, O_CLOEXEC) == -1 || pipe2(out, O_CLOEXEC) == -1) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((pid = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		goto out;
	}
	if (pid == 0) {
		/* Child: only async-signal-safe calls from here. The
		 * command starts with the signals as a command should:
		 * none blocked (rebond blocks SIGTERM and SIGINT during a
		 * batch), SIGPIPE not ignored; in its own process group,
		 * which the timeout kills with whatever it started. */
		sigset_t none;
		struct sigaction dfl;

		sigemptyset(&none);
		memset(&dfl, 0, sizeof dfl);
		dfl.sa_handler = SIG_DFL;
		sigemptyset(&dfl.sa_mask);
		if (setpgid(0, 0) == -1 ||
		    sigaction(SIGPIPE, &dfl, NULL) == -1 ||
		    sigprocmask(SIG_SETMASK, &none, NULL) == -1 ||
		    dup2(in[0], 0) == -1 || dup2(out[1], 1) == -1 ||
		    dup2(out[1], 2) == -1)
			_exit(EX_OSERR);
		close_range(3, ~0U, 0);
		execvp(argv[0], argv);
		_exit(EX_UNAVAILABLE);
	}
	/* Also here: the group exists before any kill, whichever of the
	 * two runs first (an error means the child did it and exec'd). */
	(void)setpgid(pid, pid);
	close(in[0]);
	close(out[1]);
	in[0] = out[1] = -1;
	/* A few hundred bytes never fill the pipe: the write cannot block.
	 * A command that exits without reading gives EPIPE (SIGPIPE is
	 * ignored): its exit status says what happened. */
	while (off < tlen) {
		ssize_t w = write(in[1], text + off, tlen - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	close(in[1]);
	in[1] = -1;
	read_output(out[0], &t0, timeout, output, sizeof output);
	line = str_sanitize(output, strcspn(output, "\n"), 200);
	if ((ended = wait_child(pid, &t0, timeout, &status)) == -1)
		snprintf(err, errlen, "cannot learn how the SMS command "
		    "ended: %s", strerror(errno));
	else if (ended == 0)
		snprintf(err, errlen, "SMS command killed after %u s", timeout);
	else if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		rc = SEND_OK;
	else if (WIFEXITED(status)) {
		int code = WEXITSTATUS(status);

		/* 69 and 71 as 75: also the child's own exits when it
		 * cannot start the command (see above). */
		rc = code == EX_TEMPFAIL || code == EX_UNAVAILABLE ||
		    code == EX_OSERR ? SEND_TEMP : SEND_PERM;
		snprintf(err, errlen, "SMS command exited with status %d%s%s",
		    code, *line ? ": " : "", line);
	} else
		snprintf(err, errlen, "SMS command killed by signal %d",
		    WTERMSIG(status));
	free(line);
out:
	if (in[0] != -1)
		close(in[0]);
	if (in[1] != -1)
		close(in[1]);
	if (out[0] != -1)
		close(out[0]);
	if (out[1] != -1)
		close(out[1]);
	free(copy);
	return rc;
}
