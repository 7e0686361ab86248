/*
 * log.h - one key=value line per event, to stderr on a terminal and to
 * syslog otherwise (under cron: there the error lines are also printed
 * on stderr, for cron to mail, unless stderr is the systemd journal).
 *
 * Lines never carry message bodies or passwords; control characters in
 * what the caller formats are shown as '?', so mail-derived text cannot
 * forge a log line.
 */
#ifndef REBOND_LOG_H
#define REBOND_LOG_H

#include <syslog.h>

enum log_target {
	LOG_TARGET_AUTO = 0,	/* stderr if it is a terminal, else syslog
				   (+ errors on stderr) */
	LOG_TARGET_STDERR,
	LOG_TARGET_SYSLOG,
};

/*
 * Start logging. level is a syslog priority (LOG_ERR ... LOG_DEBUG):
 * lines above it are dropped. facility is a syslog facility.
 * May be called again (after the configuration is read).
 */
void log_open(enum log_target target, int level, int facility);
/* Log one line at priority prio (LOG_ERR, LOG_WARNING, LOG_INFO...). */
void log_msg(int prio, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* 1 if lines of priority prio are written. */
int log_enabled(int prio);
void log_close(void);

#define log_error(...)		log_msg(LOG_ERR, __VA_ARGS__)
#define log_warning(...)	log_msg(LOG_WARNING, __VA_ARGS__)
#define log_info(...)		log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...)		log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
