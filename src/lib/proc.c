/*
 * proc.c - whether a process that said it was running still is.
 *
 * Owns: reading a process's start time from /proc/PID/stat (field 22, in
 * clock ticks since boot), which with the pid tells one process from a
 * later one that got the same pid.
 * Never: signals a process.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/proc.h"

/* Field 22 of /proc/PID/stat: 1 and *start, 0 no such process, -1. */
static int
start_time(long pid, unsigned long long *start)
{
	char path[64], buf[1024], *p, *end;
	size_t len;
	int field, fd;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	/* A /proc file says its size is 0: read what it gives. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return errno == ENOENT || errno == ESRCH ? 0 : -1;
	for (len = 0; len < sizeof(buf) - 1; len += (size_t)n)
		if ((n = read(fd, buf + len, sizeof(buf) - 1 - len)) <= 0)
			break;
	close(fd);
	buf[len] = '\0';
	/* The name (field 2) may hold spaces and parentheses: after the last ')'. */
	if ((p = strrchr(buf, ')')) == NULL)
		return len == 0 ? 0 : -1;	/* empty: it exited as we read */
	for (field = 2; field < 22 && p != NULL; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL)
		return -1;
	*start = strtoull(p + 1, &end, 10);
	return end != p + 1 ? 1 : -1;
}

int
proc_self_tag(char *buf, size_t len)
{
	unsigned long long start = 0;
	long pid = (long)getpid();

	if (start_time(pid, &start) != 1)
		return -1;
	snprintf(buf, len, "%ld %llu", pid, start);
	return 0;
}

int
proc_tag_alive(const char *tag, long *pid)
{
	unsigned long long want, now = 0;
	int rc;

	if (tag == NULL || sscanf(tag, "%ld %llu", pid, &want) != 2 || *pid <= 0)
		return -1;
	if ((rc = start_time(*pid, &now)) != 1)
		return rc;
	return now == want;
}
