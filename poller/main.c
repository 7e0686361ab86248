/* main.c - rebond's command line: wires the modules, maps errors to exits. */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sysexits.h>

#include "version.h"

static void
usage(FILE *f)
{
	fprintf(f, "usage: rebond --version\n");
}

int
main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "--version") == 0) {
		printf("%s\n", rebond_version());
		return EX_OK;
	}
	usage(stderr);
	return EX_USAGE;
}
