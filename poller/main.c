/* main.c - rebond's command line: wires the modules, maps errors to exits. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "cmd_classify.h"
#include "version.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: rebond --version\n");
}

int
main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "classify") == 0)
		return cmd_classify(argc - 1, argv + 1);
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s\n", rebond_version());
		return EX_OK;
	}
	usage(stderr);
	return EX_USAGE;
}
