/* log.c - key=value log lines to stderr or syslog (see log.h). */
#include "config.h"

#include <sys/stat.h>

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

#define LOG_LINE_MAX 2048

static int use_syslog;
static int errors_to_stderr;	/* syslog, and error lines on stderr too */
static int max_level = LOG_INFO;
static int opened;

/*
 * Is stderr the systemd journal's stream? systemd sets JOURNAL_STREAM to
 * "device:inode" of the stream it connects; a child of the service whose
 * stderr was redirected elsewhere keeps the variable but not the stream.
 */
static int
stderr_is_journal(void)
{
	const char *v = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	char end;

	if (v == NULL || sscanf(v, "%llu:%llu%c", &dev, &ino, &end) != 2)
		return 0;
	return fstat(STDERR_FILENO, &st) == 0 &&
	    (unsigned long long)st.st_dev == dev &&
	    (unsigned long long)st.st_ino == ino;
}

void
log_open(enum log_target target, int level, int facility)
{
	if (opened && use_syslog)
		closelog();
	switch (target) {
	case LOG_TARGET_STDERR:
		use_syslog = 0;
		errors_to_stderr = 0;
		break;
	case LOG_TARGET_SYSLOG:
		use_syslog = 1;
		errors_to_stderr = 0;
		break;
	default:
		use_syslog = !isatty(STDERR_FILENO);
		/* Under cron: what went wrong is also printed, so that cron
		 * mails it (cron mails output, not exit codes); the journal
		 * has the syslog line already. */
		errors_to_stderr = use_syslog && !stderr_is_journal() &&
		    fcntl(STDERR_FILENO, F_GETFD) != -1;
		break;
	}
	max_level = level;
	if (use_syslog)
		openlog("rebond", LOG_PID | LOG_NDELAY, facility);
	opened = 1;
}

int
log_enabled(int prio)
{
	return prio <= max_level;
}

static const char *
prio_name(int prio)
{
	switch (prio) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "error";
	case LOG_WARNING:
		return "warning";
	case LOG_NOTICE:
	case LOG_INFO:
		return "info";
	default:
		return "debug";
	}
}

void
log_msg(int prio, const char *fmt, ...)
{
	char line[LOG_LINE_MAX];
	va_list ap;
	size_t i;

	if (!log_enabled(prio))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	for (i = 0; line[i] != '\0'; i++)
		if ((unsigned char)line[i] < 0x20 || line[i] == 0x7f)
			line[i] = '?';
	if (use_syslog)
		syslog(prio, "%s", line);
	if (!use_syslog || (errors_to_stderr && prio <= LOG_ERR))
		fprintf(stderr, "rebond: %s: %s\n", prio_name(prio), line);
}

void
log_close(void)
{
	if (opened && use_syslog)
		closelog();
	opened = 0;
}
