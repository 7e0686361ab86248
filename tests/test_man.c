/* test_man.c - the manual pages keep up: every key of the sample file is
 * documented in rebond.ini(5) under its section, every command of
 * `rebond --help` in rebond(8). */
#include "config.h"

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *
slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	cr_assert_not_null(f, "%s", path);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	buf = malloc((size_t)n + 1);
	cr_assert_not_null(buf);
	cr_assert_eq(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* "\-" (a roff minus) as "-", in place. */
static void
unescape(char *s)
{
	char *o = s;

	for (; *s != '\0'; s++) {
		if (s[0] == '\\' && s[1] == '-')
			continue;
		*o++ = *s;
	}
	*o = '\0';
}

/* The text of man page section ".SH [name]" up to the next .SH. */
static char *
man_section(const char *man, const char *name)
{
	char head[80], *s, *e;

	snprintf(head, sizeof head, "\n.SH [%s]\n", name);
	s = strstr(man, head);
	cr_assert_not_null(s, "rebond.ini.5 has no section [%s]", name);
	s += strlen(head);
	e = strstr(s, "\n.SH ");
	return strndup(s, e ? (size_t)(e - s) : strlen(s));
}

Test(man, every_configuration_key_is_documented)
{
	char *sample = slurp(SRCDIR "/etc/rebond.ini.sample");
	char *man = slurp(SRCDIR "/etc/rebond.ini.5");
	char *line, *save = NULL, *sec = NULL, section[64] = "";
	int keys = 0;

	unescape(man);
	for (line = strtok_r(sample, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		char key[64], a[80], b[80];

		if (sscanf(line, "[%63[a-z]]", section) == 1) {
			free(sec);
			sec = man_section(man, section);
			continue;
		}
		if (line[0] == '#' || sec == NULL ||
		    sscanf(line[0] == ';' ? line + 1 : line, "%63[a-z_] =",
		    key) != 1)
			continue;
		snprintf(a, sizeof a, "\n.B %s\n", key);
		snprintf(b, sizeof b, "\n.BR %s ", key);
		cr_assert(strstr(sec, a) != NULL || strstr(sec, b) != NULL ||
		    strncmp(sec, a + 1, strlen(a) - 1) == 0 ||
		    strncmp(sec, b + 1, strlen(b) - 1) == 0,
		    "[%s] %s is not in etc/rebond.ini.5", section, key);
		keys++;
	}
	cr_assert_gt(keys, 30);
	free(sec);
	free(sample);
	free(man);
}

Test(man, every_command_is_documented)
{
	char cmd[600], line[512], want[80], *man = slurp(SRCDIR
	    "/poller/rebond.8");
	const char *bin = getenv("REBOND_BIN");
	FILE *p;
	int n = 0;

	cr_assert_not_null(bin, "REBOND_BIN is not set (make check sets it)");
	snprintf(cmd, sizeof cmd, "%s --help", bin);
	p = popen(cmd, "r");
	cr_assert_not_null(p);
	unescape(man);
	while (fgets(line, sizeof line, p) != NULL) {
		char name[40], *r = strstr(line, "rebond ");

		if (r == NULL || sscanf(r, "rebond %39[a-z-]", name) != 1)
			continue;
		snprintf(want, sizeof want, "\n.B rebond %s", name);
		cr_assert_not_null(strstr(man, want), "rebond %s is not in "
		    "poller/rebond.8", name);
		n++;
	}
	pclose(p);
	cr_assert_geq(n, 6);
	free(man);
}
