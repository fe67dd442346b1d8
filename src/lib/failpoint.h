/*
 * failpoint.h - test-only crash points.
 *
 * Owns: stopping the process at a named point the way kill -9 would, for
 * the crash tests.  Compiled in only with --enable-failpoints; a package
 * build has none, and failpoint() does nothing there.
 * Never: cleans up on the way out: the point is to leave what a crash
 * leaves.
 */
#ifndef CERTSYNC_FAILPOINT_H
#define CERTSYNC_FAILPOINT_H

/* With --enable-failpoints, CERTSYNC_FAILPOINT=NAME makes the process
 * _exit(137) at that point, as kill -9 would. */
void failpoint(const char *name);

/* With --enable-failpoints, the number in environment variable name (a
 * test's knob: CERTSYNC_PROGRESS_EVERY, CERTSYNC_BATCH_DELAY_MS); else, or
 * when it is unset or not a number, dflt. */
double failpoint_number(const char *name, double dflt);

#endif
