/* testpoint.c - kill points for the crash tests (see testpoint.h). */
#include "config.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strutil.h"
#include "testpoint.h"

#define TESTPOINT_ENV "REBOND_TEST_KILLPOINT"

/* Every point rebond passes through, in the order of a batch. */
static const char *const names[] = {
	"sized",		/* a batch's sizes known, bodies not fetched */
	"fetched",		/* a batch fetched, nothing written yet */
	"before-commit",	/* the batch written, COMMIT not sent */
	"committed",		/* COMMIT done, nothing moved yet */
	"between-moves",	/* archive moved, review not yet */
	"copied",		/* no MOVE: UID COPY done, not flagged */
	"flagged",		/* no MOVE: \Deleted set, not expunged */
	"moved",		/* the whole batch moved */
	"notify-sent",		/* a notification accepted, not marked sent */
	NULL
};

static int loaded;
static char target[32];
static unsigned long long want, seen;
static int sig = SIGKILL;

/* Read REBOND_TEST_KILLPOINT once; abort on a malformed value. */
static void
load(void)
{
	const char *v = getenv(TESTPOINT_ENV);
	char buf[64], *n, *s;
	size_t i;

	loaded = 1;
	if (v == NULL || *v == '\0')
		return;
	if (strlen(v) >= sizeof buf)
		goto bad;
	memcpy(buf, v, strlen(v) + 1);
	if ((n = strchr(buf, ':')) == NULL)
		goto bad;
	*n++ = '\0';
	if ((s = strchr(n, ':')) != NULL) {
		*s++ = '\0';
		if (strcmp(s, "KILL") == 0)
			sig = SIGKILL;
		else if (strcmp(s, "TERM") == 0)
			sig = SIGTERM;
		else if (strcmp(s, "INT") == 0)
			sig = SIGINT;
		else if (strcmp(s, "STOP") == 0)
			sig = SIGSTOP;
		else
			goto bad;
	}
	if (parse_uint(n, 1, 1000000, &want) == -1)
		goto bad;
	for (i = 0; names[i] != NULL; i++)
		if (strcmp(names[i], buf) == 0)
			break;
	if (names[i] == NULL || strlen(buf) >= sizeof target)
		goto bad;
	memcpy(target, buf, strlen(buf) + 1);
	return;
bad:
	log_error("testpoint: bad %s value (want "
	    "NAME:N[:KILL|TERM|INT|STOP])", TESTPOINT_ENV);
	abort();
}

void
testpoint(const char *name)
{
	if (!loaded)
		load();
	if (target[0] == '\0' || strcmp(name, target) != 0)
		return;
	if (++seen != want)
		return;
	log_warning("testpoint: name=%s hit=%llu signal=%s", name, seen,
	    sig == SIGKILL ? "KILL" : sig == SIGTERM ? "TERM" :
	    sig == SIGINT ? "INT" : "STOP");
	raise(sig);
}
