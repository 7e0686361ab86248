/* version.h - the program's name and version, for usage and logs. */
#ifndef REBOND_VERSION_H
#define REBOND_VERSION_H

/* "rebond 0.1.0" */
const char *rebond_version(void);

#endif
