/*
 * log_guard.h - what keeps the log readable while something is broken.
 *
 * Owns: holding back a warning or error that repeats word for word (the
 * first 3 go out, the rest of their minute are counted and summed up in one
 * line when the minute is over: "... (N more in the last minute)"), each
 * thread's first problem since it asked (so a caller that reports a failure elsewhere, a
 * job's last error in the store say, can say what it was), and a thread's
 * quiet spell (lines kept, not printed, for a caller that reports one line
 * of its own, such as a refused reload).
 * Never: drops a line without counting it, holds back notices and below
 * (those are events, each worth its line), or logs (log.c does; it calls
 * this file, never the other way round).
 */
#ifndef CERTSYNC_LOG_GUARD_H
#define CERTSYNC_LOG_GUARD_H

#include <stddef.h>

/* Seconds a repeated line is held back for before its count is logged. */
#define LOG_GUARD_WINDOW 60

/* A line held back, summed up: logged by log.c as "TEXT (N more in the
 * last minute)" at its level. */
struct log_summary {
	int level;                 /* enum log_level */
	unsigned held;
	char text[512];
};
#define LOG_GUARD_SUMMARIES 4  /* at most per call */

/*
 * For log.c, with each formatted line at its level (enum log_level; 0
 * error, 1 warning): 1 to print it, 0 to hold it back (a repeat within its
 * minute, or a quiet thread's).  The summaries of the minutes that are
 * over go into sum (LOG_GUARD_SUMMARIES of them), their number into *n,
 * for log.c to log: this file logs nothing itself, so the two never call
 * each other.
 */
int log_guard(int level, const char *line, struct log_summary *sum, size_t *n);

/* Up to LOG_GUARD_SUMMARIES counts of lines still held back (at exit),
 * taken out of the table; how many.  log_flush() logs them all. */
size_t log_guard_drain(struct log_summary *sum);

/* The first warning or error this thread logged since log_problem_clear()
 * (the cause, usually; what follows tends to be its consequences), or NULL. */
const char *log_first_problem(void);
void log_problem_clear(void);

/* Until log_quiet_end(), this thread's lines are not printed.  Returns
 * the first error or warning it logged meanwhile into buf (or "" if none). */
void log_quiet_begin(void);
void log_quiet_end(char *buf, size_t len);

#endif
