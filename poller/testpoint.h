/*
 * testpoint.h - named moments of a run where a test can stop rebond dead.
 *
 * The crash tests need kills that land in a known window (between fetch
 * and commit, between commit and move, in the middle of a move), many
 * times, reproducibly. Each such moment calls testpoint("name"). The
 * hook is compiled in always and inert unless the environment sets
 *
 *	REBOND_TEST_KILLPOINT=NAME:N[:SIGNAL]
 *
 * Then the Nth passage through NAME logs one warning line
 * ("testpoint: name=NAME hit=N signal=KILL") and raises SIGNAL: KILL
 * (the default), TERM, INT, or STOP (the test then changes the world
 * and sends SIGCONT). Names are listed in testpoint.c; a
 * malformed value or an unknown name aborts at the first testpoint, so a
 * typo cannot make a crash test pass by never crashing.
 */
#ifndef REBOND_TESTPOINT_H
#define REBOND_TESTPOINT_H

/* Count one passage through the point name; maybe raise the signal. */
void testpoint(const char *name);

#endif
