/*
 * json_same.c - reads lines of JSON objects on stdin and fails (exit 1,
 * the line on stderr) on one that jansson does not encode to the same
 * bytes: `rebond classify --json` writes its lines key by key, and they
 * must be what jansson makes of the same object (compact, keys in their
 * order). Used by tests/classify_inputs.sh.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int
main(void)
{
	char *line = NULL, *again;
	size_t cap = 0, n = 0, bad = 0;
	ssize_t len;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		json_error_t err;
		json_t *v;

		n++;
		if (line[len - 1] != '\n') {
			fprintf(stderr, "line %zu: no newline at its end\n", n);
			bad++;
			continue;
		}
		line[--len] = '\0';
		v = json_loadb(line, (size_t)len, JSON_REJECT_DUPLICATES, &err);
		if (v == NULL || !json_is_object(v)) {
			fprintf(stderr, "line %zu: not a JSON object (%s): %s\n",
			    n, v == NULL ? err.text : "another value", line);
			bad++;
			json_decref(v);
			continue;
		}
		again = json_dumps(v, JSON_COMPACT | JSON_PRESERVE_ORDER);
		if (again == NULL || strcmp(again, line) != 0) {
			fprintf(stderr, "line %zu: jansson writes it\n  %s\n"
			    "not\n  %s\n", n, again ? again : "(nothing)",
			    line);
			bad++;
		}
		free(again);
		json_decref(v);
	}
	free(line);
	if (n == 0) {
		fprintf(stderr, "json_same: no line\n");
		return 1;
	}
	return bad > 0;
}
