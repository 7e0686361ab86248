/* version.c - the program's name and version. */
#include "config.h"

#include "version.h"

const char *
rebond_version(void)
{
	return PACKAGE_NAME " " PACKAGE_VERSION;
}
