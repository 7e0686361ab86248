/* conf.c - rebond.ini from one table (see conf.h). */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <libgen.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <syslog.h>
#include <unistd.h>

#ifdef HAVE_INIPARSER_INIPARSER_H
#include <iniparser/iniparser.h>
#else
#include <iniparser.h>
#endif

#include "caps.h"
#include "conf.h"
#include "mailmsg.h"
#include "strutil.h"
#include "template.h"
#include "xalloc.h"

enum conf_type {
	CT_STR,		/* any text */
	CT_PATH,	/* absolute path, or empty when optional */
	CT_UINT,	/* unsigned, min..max */
	CT_BOOL,	/* yes/no, true/false, on/off, 1/0 */
	CT_ENUM,	/* one of names[], stored as its index */
	CT_ADDR,	/* an addr-spec (local@domain), or empty */
	CT_FINGERPRINT,	/* sha256:<64 hex>, or empty */
};

#define F_REQUIRED 0x1

struct conf_def {
	const char *section;
	const char *key;
	enum conf_type type;
	const char *def;
	unsigned long long min, max;
	unsigned flags;
	const char *const *names;	/* CT_ENUM */
	const int *values;		/* CT_ENUM: stored value of names[i] */
	size_t offset;
	const char *help;
};

static const char *const tls_names[] = { "implicit", "starttls", "none", NULL };
static const int tls_values[] = { TLS_IMPLICIT, TLS_STARTTLS, TLS_NONE };
static const char *const verp_names[] = { "off", "prefer", "require", NULL };
static const int verp_values[] = { VERP_OFF, VERP_PREFER, VERP_REQUIRE };
static const char *const level_names[] = { "error", "warning", "info", "debug",
	NULL };
static const int level_values[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
static const char *const facility_names[] = { "mail", "daemon", "user",
	"local0", "local1", "local2", "local3", "local4", "local5", "local6",
	"local7", NULL };
static const int facility_values[] = { LOG_MAIL, LOG_DAEMON, LOG_USER,
	LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2, LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5,
	LOG_LOCAL6, LOG_LOCAL7 };

#define OFF(field) offsetof(struct config, field)
#define ENUM(n) n##_names, n##_values

/* Every key rebond reads. A new option is one row here. */
static const struct conf_def defs[] = {
	{ "imap", "host", CT_STR, "", 0, 0, F_REQUIRED, NULL, NULL,
	  OFF(imap.ep.host), "IMAP server holding the bounce mailbox" },
	{ "imap", "port", CT_UINT, "0", 0, 65535, 0, NULL, NULL,
	  OFF(imap.ep.port), "0: 993 for tls = implicit, 143 otherwise" },
	{ "imap", "tls", CT_ENUM, "implicit", 0, 0, 0, ENUM(tls),
	  OFF(imap.ep.tls),
	  "implicit | starttls | none (none: loopback host only)" },
	{ "imap", "ca_file", CT_PATH, "", 0, 0, 0, NULL, NULL,
	  OFF(imap.ep.ca_file),
	  "PEM file of trusted CAs; empty: the system trust store" },
	{ "imap", "tls_fingerprint", CT_FINGERPRINT, "", 0, 0, 0, NULL, NULL,
	  OFF(imap.ep.tls_fingerprint),
	  "optional pin of the server certificate: sha256:<64 hex digits>" },
	{ "imap", "user", CT_STR, "", 0, 0, F_REQUIRED, NULL, NULL,
	  OFF(imap.ep.user), "IMAP login" },
	{ "imap", "password_file", CT_PATH, "", 0, 0, F_REQUIRED, NULL, NULL,
	  OFF(imap.ep.password_file),
	  "file whose first line is the IMAP password (mode 0600)" },
	{ "imap", "timeout", CT_UINT, "60", 1, 3600, 0, NULL, NULL,
	  OFF(imap.ep.timeout), "seconds to wait for the server" },
	{ "imap", "folder", CT_STR, "INBOX", 0, 0, 0, NULL, NULL,
	  OFF(imap.folder), "folder where bounces arrive" },
	{ "imap", "archive_folder", CT_STR, "Archive", 0, 0, 0, NULL, NULL,
	  OFF(imap.archive_folder), "processed bounces go here" },
	{ "imap", "review_folder", CT_STR, "Review", 0, 0, 0, NULL, NULL,
	  OFF(imap.review_folder),
	  "unrecognised or unparseable mail goes here, for a human" },
	{ "imap", "batch", CT_UINT, "200", 1, 5000, 0, NULL, NULL,
	  OFF(imap.batch), "messages fetched and committed together (committed "
	  "in parts when they name over 2048 recipients)" },
	{ "imap", "move_group", CT_UINT, "10000", 1, 1000000, 0, NULL, NULL,
	  OFF(imap.move_group),
	  "committed messages moved together at most, by UID MOVE per "
	  "folder (a command line holds 8,000 bytes of UIDs); large groups "
	  "are much faster on large folders" },
	{ "imap", "max_message_bytes", CT_UINT, "1048576",
	  CAP_MESSAGE_BYTES_MIN, CAP_MESSAGE_BYTES_MAX, 0, NULL, NULL,
	  OFF(imap.max_message_bytes),
	  "bytes fetched per message; a DSN's report is near the start; "
	  "messages are known by these bytes: change it with an empty "
	  "bounce folder (rebond.ini(5))" },

	{ "database", "conninfo", CT_STR, "", 0, 0, F_REQUIRED, NULL, NULL,
	  OFF(database.conninfo),
	  "libpq connection string; passwords via PGPASSFILE or a service "
	  "file, never here" },

	{ "policy", "renotify_days", CT_UINT, "7", 1, 365, 0, NULL, NULL,
	  OFF(policy.renotify_days),
	  "at most one warning per account and category in this many days" },
	{ "policy", "soft_window_days", CT_UINT, "30", 1, 365, 0, NULL, NULL,
	  OFF(policy.soft_window_days),
	  "transient failures older than this stop counting; a soft "
	  "address with none left in it is ok again" },
	{ "policy", "soft_limit", CT_UINT, "5", 1, 100, 0, NULL, NULL,
	  OFF(policy.soft_limit),
	  "days with a transient failure, within the window, that make an "
	  "address soft" },
	{ "policy", "validation_days", CT_UINT, "14", 1, 365, 0, NULL, NULL,
	  OFF(policy.validation_days),
	  "days to validate a pending primary set without a deadline" },
	{ "policy", "invitation_days", CT_UINT, "90", 1, 3650, 0, NULL, NULL,
	  OFF(policy.invitation_days),
	  "days an invitation set without a deadline stays valid" },
	{ "policy", "clear_secondary_on_hard", CT_BOOL, "no", 0, 0, 0, NULL,
	  NULL, OFF(policy.clear_secondary_on_hard),
	  "empty a secondary address automatically when it bounces hard" },

	{ "smtp", "host", CT_STR, "", 0, 0, 0, NULL, NULL, OFF(smtp.ep.host),
	  "SMTP relay for warnings; empty: nothing is sent, mail waits in "
	  "rebond.outbox" },
	{ "smtp", "port", CT_UINT, "0", 0, 65535, 0, NULL, NULL,
	  OFF(smtp.ep.port),
	  "0: 465 for tls = implicit, 587 for starttls, 25 for none" },
	{ "smtp", "tls", CT_ENUM, "starttls", 0, 0, 0, ENUM(tls),
	  OFF(smtp.ep.tls),
	  "implicit | starttls | none (none: loopback host only)" },
	{ "smtp", "ca_file", CT_PATH, "", 0, 0, 0, NULL, NULL,
	  OFF(smtp.ep.ca_file),
	  "PEM file of trusted CAs; empty: the system trust store" },
	{ "smtp", "tls_fingerprint", CT_FINGERPRINT, "", 0, 0, 0, NULL, NULL,
	  OFF(smtp.ep.tls_fingerprint),
	  "optional pin of the server certificate: sha256:<64 hex digits>" },
	{ "smtp", "user", CT_STR, "", 0, 0, 0, NULL, NULL, OFF(smtp.ep.user),
	  "SMTP AUTH login; empty: no AUTH" },
	{ "smtp", "password_file", CT_PATH, "", 0, 0, 0, NULL, NULL,
	  OFF(smtp.ep.password_file),
	  "file whose first line is the SMTP password (mode 0600)" },
	{ "smtp", "timeout", CT_UINT, "60", 1, 3600, 0, NULL, NULL,
	  OFF(smtp.ep.timeout), "seconds to wait for the relay" },
	{ "smtp", "from", CT_ADDR, "", 0, 0, 0, NULL, NULL, OFF(smtp.from),
	  "sender of warnings and digests (required with host)" },
	{ "smtp", "admin_to", CT_ADDR, "", 0, 0, 0, NULL, NULL,
	  OFF(smtp.admin_to),
	  "where the admin digest goes; required with host" },
	{ "smtp", "ops_to", CT_ADDR, "", 0, 0, 0, NULL, NULL, OFF(smtp.ops_to),
	  "where operator alerts (server-side blocks) go" },
	{ "smtp", "from_name", CT_STR, "", 0, 0, 0, NULL, NULL,
	  OFF(smtp.from_name),
	  "display name of the sender, e.g. Plateforme (UTF-8); empty: none" },
	{ "smtp", "templates", CT_PATH, "", 0, 0, 0, NULL, NULL,
	  OFF(smtp.templates),
	  "directory of the mail and SMS templates; empty: "
	  "<sysconfdir>/rebond/templates" },
	{ "smtp", "platform_url", CT_STR, "", 0, 0, 0, NULL, NULL,
	  OFF(smtp.platform_url),
	  "the platform's address, {{platform_url}} in templates (links); "
	  "required with host" },

	{ "sms", "command", CT_STR, "", 0, 0, 0, NULL, NULL, OFF(sms.command),
	  "SMS gateway command (argv split on spaces); the number is added "
	  "as last argument, the text comes on stdin; empty: no SMS" },
	{ "sms", "timeout", CT_UINT, "30", 1, 600, 0, NULL, NULL,
	  OFF(sms.timeout), "seconds the SMS command may run" },

	{ "verp", "secret_file", CT_PATH, "", 0, 0, 0, NULL, NULL,
	  OFF(verp.secret_file),
	  "file holding the HMAC key of VERP tags (mode 0600)" },
	{ "verp", "mode", CT_ENUM, "off", 0, 0, 0, ENUM(verp), OFF(verp.mode),
	  "off | prefer | require (require: untagged bounces change no "
	  "account)" },
	{ "verp", "return_path", CT_ADDR, "", 0, 0, 0, NULL, NULL,
	  OFF(verp.return_path),
	  "plain bounce address that tags are added to, e.g. "
	  "bounces@platform.example" },

	{ "metrics", "textfile", CT_PATH, "", 0, 0, 0, NULL, NULL,
	  OFF(metrics.textfile),
	  "Prometheus textfile written after each run; empty: none" },

	{ "log", "level", CT_ENUM, "info", 0, 0, 0, ENUM(level), OFF(log.level),
	  "error | warning | info | debug" },
	{ "log", "facility", CT_ENUM, "mail", 0, 0, 0, ENUM(facility),
	  OFF(log.facility), "syslog facility: mail, daemon, user, local0-7" },
};

#define NDEFS (sizeof defs / sizeof defs[0])

static FILE *ini_err;
static const char *ini_path;

/* iniparser reports syntax errors through a printf-like callback. */
static int
ini_error(const char *fmt, ...)
{
	char line[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	line[strcspn(line, "\n")] = '\0';
	if (ini_err != NULL)
		fprintf(ini_err, "%s: %s\n", ini_path ? ini_path : "config",
		    line);
	return 0;
}

static void *
field(struct config *c, const struct conf_def *d)
{
	return (char *)c + d->offset;
}

int
conf_host_is_loopback(const char *host)
{
	struct in_addr a4;
	struct in6_addr a6;

	if (strcasecmp(host, "localhost") == 0)
		return 1;
	if (inet_pton(AF_INET, host, &a4) == 1)
		return (ntohl(a4.s_addr) >> 24) == 127;
	if (inet_pton(AF_INET6, host, &a6) == 1)
		return IN6_IS_ADDR_LOOPBACK(&a6);
	return 0;
}

unsigned
conf_port(const struct endpoint *ep, unsigned plain, unsigned implicit)
{
	if (ep->port != 0)
		return ep->port;
	return ep->tls == TLS_IMPLICIT ? implicit : plain;
}

int
conf_check_private(const char *path, FILE *err)
{
	struct stat st;

	if (stat(path, &st) == -1) {
		fprintf(err, "%s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(err, "%s: not a regular file\n", path);
		return -1;
	}
	if ((st.st_mode & 077) != 0) {
		fprintf(err, "%s: mode %04o lets group or others read it; "
		    "chmod 600 it\n", path, (unsigned)(st.st_mode & 07777));
		return -1;
	}
	return 0;
}

char *
conf_read_secret(const char *path, FILE *err)
{
	char line[1024], *secret;
	FILE *f;
	size_t n;

	if (conf_check_private(path, err) == -1)
		return NULL;
	if ((f = fopen(path, "r")) == NULL) {
		fprintf(err, "%s: %s\n", path, strerror(errno));
		return NULL;
	}
	if (fgets(line, sizeof line, f) == NULL) {
		fprintf(err, "%s: empty\n", path);
		fclose(f);
		return NULL;
	}
	fclose(f);
	n = strcspn(line, "\r\n");
	if (line[n] == '\0' && n == sizeof line - 1) {
		fprintf(err, "%s: first line longer than %zu bytes\n", path,
		    sizeof line - 2);
		explicit_bzero(line, sizeof line);
		return NULL;
	}
	line[n] = '\0';
	if (n == 0) {
		fprintf(err, "%s: empty first line\n", path);
		return NULL;
	}
	secret = xstrdup(line);
	explicit_bzero(line, sizeof line);
	return secret;
}

char *
conf_read_verp_secret(const char *path, FILE *err)
{
	char *s = conf_read_secret(path, err);
	size_t n;

	if (s == NULL || (n = strlen(s)) >= CONF_VERP_SECRET_MIN)
		return s;
	fprintf(err, "%s: a VERP secret of %zu bytes is too short (%d at "
	    "least; e.g. openssl rand -hex 32 >%s)\n", path, n,
	    CONF_VERP_SECRET_MIN, path);
	explicit_bzero(s, n);
	free(s);
	return NULL;
}

static int
parse_bool(const char *s, int *v_r)
{
	static const char *const yes[] = { "yes", "true", "on", "1" };
	static const char *const no[] = { "no", "false", "off", "0" };
	size_t i;

	for (i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *v_r = 1, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *v_r = 0, 0;
	}
	return -1;
}

static int
valid_fingerprint(const char *s)
{
	size_t i;

	if (strncmp(s, "sha256:", 7) != 0 || strlen(s) != 7 + 64)
		return 0;
	for (i = 7; s[i] != '\0'; i++)
		if (strchr("0123456789abcdefABCDEF", s[i]) == NULL)
			return 0;
	return 1;
}

/* Store the value v of definition d into c; report errors to err. */
static int
set_value(struct config *c, const struct conf_def *d, const char *v,
    FILE *err)
{
	unsigned long long n;
	int b;
	size_t i;

	switch (d->type) {
	case CT_UINT:
		if (parse_uint(v, d->min, d->max, &n) == -1) {
			fprintf(err, "%s: [%s] %s = \"%s\": expected a whole "
			    "number from %llu to %llu\n", c->path, d->section,
			    d->key, v, d->min, d->max);
			return -1;
		}
		*(unsigned *)field(c, d) = (unsigned)n;
		return 0;
	case CT_BOOL:
		if (parse_bool(v, &b) == -1) {
			fprintf(err, "%s: [%s] %s = \"%s\": expected yes or "
			    "no\n", c->path, d->section, d->key, v);
			return -1;
		}
		*(int *)field(c, d) = b;
		return 0;
	case CT_ENUM:
		for (i = 0; d->names[i] != NULL; i++)
			if (strcasecmp(v, d->names[i]) == 0) {
				*(int *)field(c, d) = d->values[i];
				return 0;
			}
		fprintf(err, "%s: [%s] %s = \"%s\": expected one of", c->path,
		    d->section, d->key, v);
		for (i = 0; d->names[i] != NULL; i++)
			fprintf(err, "%s %s", i ? "," : "", d->names[i]);
		fputc('\n', err);
		return -1;
	case CT_PATH:
		if (*v != '\0' && *v != '/') {
			fprintf(err, "%s: [%s] %s = \"%s\": expected an "
			    "absolute path\n", c->path, d->section, d->key, v);
			return -1;
		}
		break;
	case CT_ADDR:
		if (*v != '\0' && !mailmsg_valid_address(v)) {
			fprintf(err, "%s: [%s] %s = \"%s\": expected an email "
			    "address (local@domain)\n", c->path, d->section,
			    d->key, v);
			return -1;
		}
		break;
	case CT_FINGERPRINT:
		if (*v != '\0' && !valid_fingerprint(v)) {
			fprintf(err, "%s: [%s] %s = \"%s\": expected "
			    "sha256: and 64 hex digits\n", c->path,
			    d->section, d->key, v);
			return -1;
		}
		break;
	case CT_STR:
		break;
	}
	for (i = 0; v[i] != '\0'; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) {
			fprintf(err, "%s: [%s] %s: control character in "
			    "value\n", c->path, d->section, d->key);
			return -1;
		}
	/* Values end up in mail headers, SMS texts and log lines. */
	if (!utf8_valid(v, strlen(v))) {
		fprintf(err, "%s: [%s] %s: value is not UTF-8\n", c->path,
		    d->section, d->key);
		return -1;
	}
	free(*(char **)field(c, d));
	*(char **)field(c, d) = *v != '\0' ? xstrdup(v) : NULL;
	return 0;
}

static const struct conf_def *
find_def(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < NDEFS; i++)
		if (strcasecmp(defs[i].section, section) == 0 &&
		    (key == NULL || strcasecmp(defs[i].key, key) == 0))
			return &defs[i];
	return NULL;
}

/* Unknown sections and keys are errors: they are usually typos. */
static int
check_unknown(const struct config *c, dictionary *d, FILE *err)
{
	int nsec = iniparser_getnsec(d), i, j, nkeys, errors = 0;
	ssize_t e;

	/* iniparser files a key above the first [section] as ":key", in
	 * no section: nothing would read it. */
	for (e = 0; e < d->size; e++)
		if (d->key[e] != NULL && d->key[e][0] == ':') {
			fprintf(err, "%s: %s: key outside any section (a "
			    "[section] line is missing above it)\n", c->path,
			    d->key[e] + 1);
			errors++;
		}
	for (i = 0; i < nsec; i++) {
		const char *sec = iniparser_getsecname(d, i);
		const char **keys;

		if (find_def(sec, NULL) == NULL) {
			fprintf(err, "%s: [%s]: unknown section\n", c->path,
			    sec);
			errors++;
			continue;
		}
		nkeys = iniparser_getsecnkeys(d, sec);
		if (nkeys <= 0)
			continue;
		keys = xcalloc((size_t)nkeys, sizeof *keys);
		iniparser_getseckeys(d, sec, keys);
		for (j = 0; j < nkeys; j++) {
			const char *k = strchr(keys[j], ':');

			k = k ? k + 1 : keys[j];
			if (find_def(sec, k) == NULL) {
				fprintf(err, "%s: [%s] %s: unknown key\n",
				    c->path, sec, k);
				errors++;
			}
		}
		free(keys);
	}
	return errors;
}

int
conf_check_files(const struct config *c, FILE *err)
{
	const char *const secrets[] = { c->imap.ep.password_file,
	    c->smtp.ep.password_file, c->verp.secret_file };
	static const char *const email[] = { "hard", "quota", "spf", "spam",
	    "invitation", "validation", "admin_digest", "ops_alert" };
	static const char *const sms[] = { "hard", "quota", "spf", "spam" };
	const char *dir = c->smtp.templates ? c->smtp.templates :
	    CONF_TEMPLATES_DIR;
	char why[4200];
	size_t i;
	int errors = 0;

	for (i = 0; c->smtp.ep.host && i < sizeof email / sizeof email[0];
	    i++) {
		if (template_check(dir, email[i], "email", why,
		    sizeof why) == -1) {
			fprintf(err, "%s: [smtp] templates = \"%s\": %s\n",
			    c->path, dir, why);
			errors++;
		}
	}
	for (i = 0; c->sms.command && i < sizeof sms / sizeof sms[0]; i++) {
		if (template_check(dir, sms[i], "sms", why, sizeof why) == -1) {
			fprintf(err, "%s: [smtp] templates = \"%s\": %s\n",
			    c->path, dir, why);
			errors++;
		}
	}
	/* The metrics file is replaced by a rename in its directory: the
	 * job must be able to write there (a run only warns). */
	if (c->metrics.textfile != NULL) {
		char *copy = xstrdup(c->metrics.textfile);
		const char *d = dirname(copy);

		if (access(d, W_OK | X_OK) == -1) {
			fprintf(err, "%s: [metrics] textfile = \"%s\": "
			    "directory %s: %s\n", c->path, c->metrics.textfile,
			    d, strerror(errno));
			errors++;
		}
		free(copy);
	}
	/* Readable by whoever runs this (the job's user, when check-config
	 * runs as it), and not empty. */
	for (i = 0; i < sizeof secrets / sizeof secrets[0]; i++) {
		char *s;

		if (secrets[i] == NULL)
			continue;
		if ((s = secrets[i] == c->verp.secret_file ?
		    conf_read_verp_secret(secrets[i], err) :
		    conf_read_secret(secrets[i], err)) == NULL) {
			errors++;
			continue;
		}
		explicit_bzero(s, strlen(s));
		free(s);
	}
	return errors;
}

/* Checks that involve several keys, or files named by keys. */
static int
check_cross(const struct config *c, FILE *err)
{
	int errors = 0;

	if (c->imap.ep.host && c->imap.ep.tls == TLS_NONE &&
	    !conf_host_is_loopback(c->imap.ep.host)) {
		fprintf(err, "%s: [imap] tls = none: refused for host \"%s\", "
		    "which is not a loopback address\n", c->path,
		    c->imap.ep.host);
		errors++;
	}
	if (c->smtp.ep.host && c->smtp.ep.tls == TLS_NONE &&
	    !conf_host_is_loopback(c->smtp.ep.host)) {
		fprintf(err, "%s: [smtp] tls = none: refused for host \"%s\", "
		    "which is not a loopback address\n", c->path,
		    c->smtp.ep.host);
		errors++;
	}
	if (c->smtp.ep.host && c->smtp.from == NULL) {
		fprintf(err, "%s: [smtp] from: required when [smtp] host is "
		    "set\n", c->path);
		errors++;
	}
	/* The templates' links (a validation link without it is dead, and
	 * its token is gone once the mail is sent). */
	/* The help page: admins are told of every problem (the digest). */
	if (c->smtp.ep.host && c->smtp.admin_to == NULL) {
		fprintf(err, "%s: [smtp] admin_to: required when [smtp] host "
		    "is set (the admin digest)\n", c->path);
		errors++;
	}
	if (c->smtp.ep.host && c->smtp.platform_url == NULL) {
		fprintf(err, "%s: [smtp] platform_url: required when [smtp] "
		    "host is set (the links of the mails)\n", c->path);
		errors++;
	}
	if ((c->smtp.ep.user == NULL) != (c->smtp.ep.password_file == NULL)) {
		fprintf(err, "%s: [smtp] user and password_file: set both or "
		    "neither\n", c->path);
		errors++;
	}
	if (c->verp.mode != VERP_OFF &&
	    (c->verp.secret_file == NULL || c->verp.return_path == NULL)) {
		fprintf(err, "%s: [verp] mode = %s needs secret_file and "
		    "return_path\n", c->path,
		    c->verp.mode == VERP_PREFER ? "prefer" : "require");
		errors++;
	}
	if (c->imap.ep.password_file &&
	    conf_check_private(c->imap.ep.password_file, err) == -1)
		errors++;
	if (c->smtp.ep.password_file &&
	    conf_check_private(c->smtp.ep.password_file, err) == -1)
		errors++;
	if (c->verp.secret_file &&
	    conf_check_private(c->verp.secret_file, err) == -1)
		errors++;
	if (c->imap.ep.ca_file && access(c->imap.ep.ca_file, R_OK) == -1) {
		fprintf(err, "%s: [imap] ca_file = \"%s\": %s\n", c->path,
		    c->imap.ep.ca_file, strerror(errno));
		errors++;
	}
	if ((c->smtp.ep.host || c->sms.command || c->smtp.templates) &&
	    access(c->smtp.templates ? c->smtp.templates : CONF_TEMPLATES_DIR,
	    R_OK | X_OK) == -1) {
		fprintf(err, "%s: [smtp] templates = \"%s\": %s (the mail and "
		    "SMS texts)\n", c->path, c->smtp.templates ?
		    c->smtp.templates : CONF_TEMPLATES_DIR, strerror(errno));
		errors++;
	}
	if (c->smtp.ep.ca_file && access(c->smtp.ep.ca_file, R_OK) == -1) {
		fprintf(err, "%s: [smtp] ca_file = \"%s\": %s\n", c->path,
		    c->smtp.ep.ca_file, strerror(errno));
		errors++;
	}
	if (c->imap.folder && c->imap.archive_folder && c->imap.review_folder &&
	    (strcmp(c->imap.folder, c->imap.archive_folder) == 0 ||
	    strcmp(c->imap.folder, c->imap.review_folder) == 0)) {
		fprintf(err, "%s: [imap] archive_folder and review_folder must "
		    "differ from folder \"%s\"\n", c->path, c->imap.folder);
		errors++;
	}
	return errors;
}

struct config *
conf_load(const char *path, FILE *err)
{
	struct config *c = xcalloc(1, sizeof *c);
	dictionary *d = NULL;
	int errors = 0;
	size_t i;

	c->path = xstrdup(path);
	if (conf_check_private(path, err) == -1) {
		conf_free(&c);
		return NULL;
	}
	ini_err = err;
	ini_path = path;
	iniparser_set_error_callback(ini_error);
	d = iniparser_load(path);
	iniparser_set_error_callback(NULL);
	ini_err = NULL;
	if (d == NULL) {
		fprintf(err, "%s: cannot be loaded (syntax error above, or "
		    "unreadable)\n", path);
		conf_free(&c);
		return NULL;
	}
	errors += check_unknown(c, d, err);
	for (i = 0; i < NDEFS; i++) {
		char key[128];
		const char *v;

		snprintf(key, sizeof key, "%s:%s", defs[i].section,
		    defs[i].key);
		v = iniparser_getstring(d, key, NULL);
		if ((v == NULL || *v == '\0') &&
		    (defs[i].flags & F_REQUIRED)) {
			fprintf(err, "%s: [%s] %s: required\n", path,
			    defs[i].section, defs[i].key);
			errors++;
			continue;
		}
		if (v == NULL)
			v = defs[i].def;
		if (set_value(c, &defs[i], v, err) == -1)
			errors++;
	}
	iniparser_freedict(d);
	if (errors == 0)
		errors += check_cross(c, err);
	if (errors > 0) {
		conf_free(&c);
		return NULL;
	}
	return c;
}

void
conf_free(struct config **pp)
{
	struct config *c = *pp;
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < NDEFS; i++) {
		enum conf_type t = defs[i].type;

		if (t == CT_STR || t == CT_PATH || t == CT_ADDR ||
		    t == CT_FINGERPRINT)
			free(*(char **)field(c, &defs[i]));
	}
	free(c->path);
	free(c);
	*pp = NULL;
}

void
conf_write_sample(FILE *out)
{
	const char *section = "";
	size_t i;

	fprintf(out,
	    "# rebond.ini - configuration of rebond, the bounce processor.\n"
	    "# Generated from the table in poller/conf.c: every key, its "
	    "default and range.\n"
	    "# Unknown keys are errors. This file and every password file "
	    "must be mode 0600.\n"
	    "# Check it with: rebond check-config -c FILE\n");
	for (i = 0; i < NDEFS; i++) {
		const struct conf_def *d = &defs[i];

		if (strcmp(section, d->section) != 0) {
			section = d->section;
			fprintf(out, "\n[%s]\n", section);
		}
		fprintf(out, "# %s", d->help);
		if (d->type == CT_UINT)
			fprintf(out, " (%llu-%llu)", d->min, d->max);
		if (d->flags & F_REQUIRED)
			fprintf(out, " (required)");
		fprintf(out, "\n%s%s =%s%s\n", d->flags & F_REQUIRED ? "" : ";",
		    d->key, *d->def ? " " : "", d->def);
	}
}
