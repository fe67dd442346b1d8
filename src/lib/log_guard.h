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
 * Never: drops a line without counting it, or holds back notices and
 * below (those are events, each worth its line).
 */
#ifndef CERTSYNC_LOG_GUARD_H
#define CERTSYNC_LOG_GUARD_H

#include <stddef.h>

/* Seconds a repeated line is held back for before its count is logged. */
#define LOG_GUARD_WINDOW 60

/*
 * For log.c, with each formatted line at its level (enum log_level): 1 to
 * print it, 0 to hold it back (a repeat within its minute, or a quiet
 * thread's).  Logs the summaries of the minutes that are over.
 */
int log_guard(int level, const char *line);

/* Logs the count of every line still held back (at exit). */
void log_guard_flush(void);

/* The first warning or error this thread logged since log_problem_clear()
 * (the cause, usually; what follows tends to be its consequences), or NULL. */
const char *log_first_problem(void);
void log_problem_clear(void);

/* Until log_quiet_end(), this thread's lines are not printed.  Returns
 * the first error or warning it logged meanwhile into buf (or "" if none). */
void log_quiet_begin(void);
void log_quiet_end(char *buf, size_t len);

#endif
