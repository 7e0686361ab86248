/*
 * conf.h - rebond.ini, loaded and checked from one table.
 *
 * Every key is one row of the table in conf.c: {section, key, type,
 * default, min, max, required, help}. The same table loads the file,
 * validates it, prints "configuration OK" or every error for
 * `rebond check-config`, and prints the sample file (etc/rebond.ini.sample
 * is generated from it, and a test checks that they agree).
 * Unknown sections and keys are errors. A configuration file or password
 * file that group or others can read is refused, as ssh and fetchmail do.
 */
#ifndef REBOND_CONF_H
#define REBOND_CONF_H

#include <stdio.h>

#define CONF_DEFAULT_PATH SYSCONFDIR "/rebond/rebond.ini"
#define CONF_TEMPLATES_DIR SYSCONFDIR "/rebond/templates"

enum tls_mode {
	TLS_IMPLICIT = 0,
	TLS_STARTTLS,
	TLS_NONE,
};

enum verp_mode {
	VERP_OFF = 0,
	VERP_PREFER,
	VERP_REQUIRE,
};

/* Connection settings shared by [imap] and [smtp]. */
struct endpoint {
	char *host;
	unsigned port;		/* 0 in the file: the default for tls */
	enum tls_mode tls;
	char *ca_file;		/* NULL: the system trust store */
	char *tls_fingerprint;	/* NULL or "sha256:" + 64 hex digits */
	char *user;
	char *password_file;
	unsigned timeout;	/* seconds */
};

struct config {
	char *path;
	struct {
		struct endpoint ep;
		char *folder;
		char *archive_folder;
		char *review_folder;
		unsigned batch;
		unsigned move_group;
		unsigned max_message_bytes;
	} imap;
	struct {
		char *conninfo;
	} database;
	struct {
		unsigned renotify_days;
		unsigned soft_window_days;
		unsigned soft_limit;
		unsigned validation_days;
		unsigned invitation_days;
		int clear_secondary_on_hard;
	} policy;
	struct {
		struct endpoint ep;
		char *from;
		char *admin_to;
		char *ops_to;
		char *from_name;
		char *templates;	/* NULL: CONF_TEMPLATES_DIR */
		char *platform_url;
	} smtp;
	struct {
		char *command;
		unsigned timeout;
	} sms;
	struct {
		char *secret_file;
		enum verp_mode mode;
		char *return_path;
	} verp;
	struct {
		char *textfile;
	} metrics;
	struct {
		int level;	/* syslog priority */
		int facility;	/* syslog facility */
	} log;
};

/*
 * Load and validate the file at path into a new config. On any error,
 * every error is written to err (one line each, naming the file, the key
 * and the bad value) and NULL is returned. Never reads a password file.
 */
struct config *conf_load(const char *path, FILE *err);
/* Free a config and set *pp to NULL. NULL-safe. */
void conf_free(struct config **pp);
/* Write the sample file (every key, its default and range, commented). */
void conf_write_sample(FILE *out);
/*
 * Read the first line of a password file (mode must deny group and
 * others). Returns a new string, or NULL after writing an error to err.
 */
char *conf_read_secret(const char *path, FILE *err);
/*
 * The VERP key: conf_read_secret(), and at least CONF_VERP_SECRET_MIN
 * bytes (a short key is guessed, and with it every tag).
 */
#define CONF_VERP_SECRET_MIN 16
char *conf_read_verp_secret(const char *path, FILE *err);
/*
 * Check that a file is not readable, writable or executable by group or
 * others. Returns 0, or -1 after writing an error naming it to err.
 */
int conf_check_private(const char *path, FILE *err);
/*
 * check-config only: every template file the configured channels may
 * need is readable and well formed (template_check), and every password
 * or secret file can be read by this user and is not empty (a run does
 * not refuse to work bounces for want of them: its notifications wait
 * and it exits 78). Returns the number of errors printed to err.
 */
int conf_check_files(const struct config *c, FILE *err);
/* 1 if host is a loopback name or address (localhost, 127/8, ::1). */
int conf_host_is_loopback(const char *host);
/* Port to use: ep->port, or the default for its TLS mode and protocol. */
unsigned conf_port(const struct endpoint *ep, unsigned plain,
    unsigned implicit);

#endif
