/*
 * template.h - the French texts of notifications, from files in the
 * templates directory (etc/templates, installed in
 * <sysconfdir>/rebond/templates), with {{name}} placeholders.
 *
 * NAME.email holds a "Subject: ..." line, an empty line, then the body;
 * NAME.sms holds the text. A placeholder is {{name}} with name made of
 * a-z and _; its value comes from a JSON object (strings or numbers).
 * An unknown placeholder, an unterminated "{{", a missing file, a file
 * over TEMPLATE_MAX_BYTES are errors (the notification waits, retried
 * once the template is fixed). Values are cleaned of control characters
 * (and of line breaks in the subject and in SMS), so a value can never
 * add a header line.
 */
#ifndef REBOND_TEMPLATE_H
#define REBOND_TEMPLATE_H

#include <stddef.h>
#include <time.h>

#include <jansson.h>

#define TEMPLATE_MAX_BYTES (64 * 1024)
/* Bytes of one rendered text (the admin digest is the largest). */
#define TEMPLATE_OUT_MAX_BYTES (1024 * 1024)

/* Rendering modes: what a value may keep. */
enum template_mode {
	TEMPLATE_LINE = 0,	/* one line: no line break in values */
	TEMPLATE_TEXT,		/* multi-line text: LF kept */
};

/*
 * Render (text, len) with the values of vars (a JSON object). Returns a
 * new string, or NULL with the reason in err.
 */
char *template_render(const char *text, size_t len, const json_t *vars,
    enum template_mode mode, char *err, size_t errlen);

/*
 * Load dir/name.email and render it: *subject_r (one line) and *body_r
 * (LF line ends), both new strings. name must be [a-z_]{1,40}.
 * Returns 0, or -1 with the reason in err.
 */
int template_email(const char *dir, const char *name, const json_t *vars,
    char **subject_r, char **body_r, char *err, size_t errlen);

/*
 * "JJ/MM/AAAA" of t in the local time zone (the database's, see
 * run.c use_timezone), into buf (11 bytes at least; "?" when t cannot be
 * converted).
 */
void template_date(time_t t, char *buf, size_t len);

/* Load dir/name.sms and render it as one line into *text_r (0 / -1). */
int template_sms(const char *dir, const char *name, const json_t *vars,
    char **text_r, char *err, size_t errlen);

/*
 * Check dir/name.ext ("email" or "sms") as a notification would use it:
 * readable, UTF-8, no control character, the email's Subject line, every
 * placeholder well formed. 0, or -1 with the reason in err.
 */
int template_check(const char *dir, const char *name, const char *ext,
    char *err, size_t errlen);

#endif
