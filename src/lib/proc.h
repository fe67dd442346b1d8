/*
 * proc.h - whether a process that said it was running still is.
 *
 * Owns: a process's tag (its pid and its start time, as /proc/PID/stat
 * has them), which the agent records when it starts, and the check of a
 * recorded tag: the same pid with another start time is another process.
 * Never: signals a process (it only reads /proc).
 */
#ifndef CERTSYNC_PROC_H
#define CERTSYNC_PROC_H

#include <stddef.h>

/* This process's tag, "PID STARTTIME", into buf.  0, or -1 (no /proc). */
int proc_self_tag(char *buf, size_t len);

/* Whether the process tag names is running: 1 yes, 0 no (gone, or its pid
 * is another process's now), -1 cannot tell (a bad tag, no /proc).  *pid
 * is its pid when the tag could be read. */
int proc_tag_alive(const char *tag, long *pid);

#endif
