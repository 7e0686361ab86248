/* template.c - notification texts with {{placeholders}} (see template.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "strutil.h"
#include "template.h"
#include "xalloc.h"

#define NAME_MAX_BYTES 40

/* A value as text, cleaned for mode (new string), or NULL if absent. */
static char *
value_text(const json_t *vars, const char *name, enum template_mode mode)
{
	const json_t *v = json_object_get(vars, name);
	char num[32];
	const char *s;

	if (v == NULL)
		return NULL;
	if (json_is_string(v))
		s = json_string_value(v);
	else if (json_is_integer(v)) {
		snprintf(num, sizeof num, "%lld",
		    (long long)json_integer_value(v));
		s = num;
	} else
		return NULL;
	if (mode == TEMPLATE_TEXT)
		return str_sanitize_text(s, strlen(s), TEMPLATE_OUT_MAX_BYTES);
	return str_sanitize(s, strlen(s), TEMPLATE_OUT_MAX_BYTES);
}

char *
template_render(const char *text, size_t len, const json_t *vars,
    enum template_mode mode, char *err, size_t errlen)
{
	struct buf out;
	size_t i = 0;

	buf_init(&out, TEMPLATE_OUT_MAX_BYTES);
	while (i < len) {
		const char *open = len - i >= 2 ? memmem(text + i, len - i,
		    "{{", 2) : NULL;
		const char *close;
		char name[NAME_MAX_BYTES + 1], *v;
		size_t nl, k;

		if (open == NULL) {
			buf_append(&out, text + i, len - i);
			break;
		}
		buf_append(&out, text + i, (size_t)(open - (text + i)));
		i = (size_t)(open - text) + 2;
		close = memmem(text + i, len - i, "}}", 2);
		nl = close ? (size_t)(close - (text + i)) : 0;
		if (close == NULL || nl == 0 || nl > NAME_MAX_BYTES) {
			snprintf(err, errlen, "unterminated or bad {{ at byte "
			    "%zu", i - 2);
			goto fail;
		}
		for (k = 0; k < nl; k++)
			if (!((text[i + k] >= 'a' && text[i + k] <= 'z') ||
			    text[i + k] == '_')) {
				snprintf(err, errlen, "bad placeholder name at "
				    "byte %zu", i);
				goto fail;
			}
		memcpy(name, text + i, nl);
		name[nl] = '\0';
		if ((v = value_text(vars, name, mode)) == NULL) {
			snprintf(err, errlen, "unknown placeholder {{%s}}",
			    name);
			goto fail;
		}
		buf_puts(&out, v);
		free(v);
		i += nl + 2;
	}
	if (out.truncated) {
		snprintf(err, errlen, "rendered text over %u bytes",
		    (unsigned)TEMPLATE_OUT_MAX_BYTES);
		goto fail;
	}
	return buf_steal(&out);
fail:
	buf_free(&out);
	return NULL;
}

/* Read dir/name.ext (small, trusted: the operator's files). */
static char *
load(const char *dir, const char *name, const char *ext, size_t *len_r,
    char *err, size_t errlen)
{
	char path[4096], chunk[4096];
	struct buf b;
	size_t i, n;
	FILE *f;

	for (i = 0; name[i] != '\0'; i++)
		if (!((name[i] >= 'a' && name[i] <= 'z') || name[i] == '_'))
			break;
	if (i == 0 || i > NAME_MAX_BYTES || name[i] != '\0') {
		snprintf(err, errlen, "bad template name");
		return NULL;
	}
	if ((size_t)snprintf(path, sizeof path, "%s/%s.%s", dir, name, ext) >=
	    sizeof path) {
		snprintf(err, errlen, "template path too long");
		return NULL;
	}
	if ((f = fopen(path, "r")) == NULL) {
		snprintf(err, errlen, "template %s: %s", path,
		    strerror(errno));
		return NULL;
	}
	buf_init(&b, TEMPLATE_MAX_BYTES);
	while ((n = fread(chunk, 1, sizeof chunk, f)) > 0)
		if (buf_append(&b, chunk, n) == -1)
			break;
	if (ferror(f) || b.truncated) {
		snprintf(err, errlen, "template %s: %s", path, b.truncated ?
		    "too large" : "read error");
		fclose(f);
		buf_free(&b);
		return NULL;
	}
	fclose(f);
	/* The operator's text goes out as it is: UTF-8, and no control
	 * character but tabs and line ends. */
	if (!utf8_valid(b.data, b.len)) {
		snprintf(err, errlen, "template %s: not UTF-8", path);
		buf_free(&b);
		return NULL;
	}
	for (i = 0; i < b.len; i++) {
		unsigned char c = (unsigned char)b.data[i];

		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') ||
		    c == 0x7f) {
			snprintf(err, errlen, "template %s: control character "
			    "0x%02x at byte %zu", path, c, i);
			buf_free(&b);
			return NULL;
		}
	}
	*len_r = b.len;
	return buf_steal(&b);
}

/* Drop CRs, so that templates edited on any system render alike. */
static size_t
drop_cr(char *s, size_t len)
{
	size_t i, j = 0;

	for (i = 0; i < len; i++)
		if (s[i] != '\r')
			s[j++] = s[i];
	s[j] = '\0';
	return j;
}

int
template_email(const char *dir, const char *name, const json_t *vars,
    char **subject_r, char **body_r, char *err, size_t errlen)
{
	size_t len, slen;
	char *t, *nl, *subject = NULL, *body = NULL;
	const char *b;

	*subject_r = *body_r = NULL;
	if ((t = load(dir, name, "email", &len, err, errlen)) == NULL)
		return -1;
	len = drop_cr(t, len);
	nl = memchr(t, '\n', len);
	if (strncmp(t, "Subject:", 8) != 0 || nl == NULL || nl[1] != '\n') {
		snprintf(err, errlen, "template %s.email: expected a "
		    "\"Subject:\" line then an empty line", name);
		free(t);
		return -1;
	}
	b = t + 8;
	while (*b == ' ')
		b++;
	slen = (size_t)(nl - b);
	if (memchr(b, '\t', slen) != NULL) {
		snprintf(err, errlen, "template %s.email: a tab in the "
		    "Subject line", name);
		free(t);
		return -1;
	}
	subject = template_render(b, slen, vars, TEMPLATE_LINE, err, errlen);
	if (subject != NULL)
		body = template_render(nl + 2, len - (size_t)(nl + 2 - t), vars,
		    TEMPLATE_TEXT, err, errlen);
	free(t);
	if (body == NULL) {
		free(subject);
		return -1;
	}
	*subject_r = subject;
	*body_r = body;
	return 0;
}

int
template_sms(const char *dir, const char *name, const json_t *vars,
    char **text_r, char *err, size_t errlen)
{
	size_t len;
	char *t;

	if ((t = load(dir, name, "sms", &len, err, errlen)) == NULL)
		return -1;
	len = drop_cr(t, len);
	while (len > 0 && t[len - 1] == '\n')
		t[--len] = '\0';
	/* One line: line breaks of the file itself become spaces. */
	for (size_t i = 0; i < len; i++)
		if (t[i] == '\n')
			t[i] = ' ';
	*text_r = template_render(t, len, vars, TEMPLATE_LINE, err, errlen);
	free(t);
	return *text_r ? 0 : -1;
}

void
template_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (localtime_r(&t, &tm) == NULL)
		snprintf(buf, len, "?");
	else
		snprintf(buf, len, "%02d/%02d/%04d", tm.tm_mday % 100,
		    (tm.tm_mon + 1) % 100, (tm.tm_year + 1900) % 10000);
}

/* {{name}} -> "x" for every placeholder of dir/name.ext, or NULL. */
static json_t *
placeholders(const char *dir, const char *name, const char *ext)
{
	char err[8], key[NAME_MAX_BYTES + 1];
	const char *p, *end, *close;
	json_t *vars;
	size_t len;
	char *t;

	if ((t = load(dir, name, ext, &len, err, sizeof err)) == NULL)
		return NULL;
	vars = json_object();
	end = t + len;
	for (p = t; (p = memmem(p, (size_t)(end - p), "{{", 2)) != NULL;
	    p = close + 2) {
		p += 2;
		if ((close = memmem(p, (size_t)(end - p), "}}", 2)) == NULL)
			break;
		if ((size_t)(close - p) < sizeof key) {
			memcpy(key, p, (size_t)(close - p));
			key[close - p] = '\0';
			json_object_set_new(vars, key, json_string("x"));
		}
	}
	free(t);
	return vars;
}

int
template_check(const char *dir, const char *name, const char *ext,
    char *err, size_t errlen)
{
	json_t *vars = NULL;
	char *a = NULL, *b = NULL;
	int rc;

	/* Every placeholder of the file gets a value: only the file itself
	 * is judged. */
	if ((vars = placeholders(dir, name, ext)) == NULL)
		vars = json_object();
	rc = strcmp(ext, "sms") == 0 ?
	    template_sms(dir, name, vars, &a, err, errlen) :
	    template_email(dir, name, vars, &a, &b, err, errlen);
	free(a);
	free(b);
	json_decref(vars);
	return rc;
}
