/* TEMPORARY instrumentation (s6-wait): wall time of a batch by stage. */
#ifndef STAGETIME_H
#define STAGETIME_H
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#define ST_MAX 32
extern const char *st_names[ST_MAX];
extern double st_ms[ST_MAX];
extern int st_n;
static inline double
st_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}
static inline void
st_add(const char *name, double t0)
{
	int i;

	for (i = 0; i < st_n; i++)
		if (strcmp(st_names[i], name) == 0)
			break;
	if (i == st_n && st_n < ST_MAX)
		st_names[st_n++] = name;
	if (i < ST_MAX)
		st_ms[i] += st_now() - t0;
}
static inline void
st_dump(const char *what)
{
	if (getenv("CS_STAGES") == NULL)
		return;
	fprintf(stderr, "STAGES %s", what);
	for (int i = 0; i < st_n; i++)
		fprintf(stderr, " %s=%.1f", st_names[i], st_ms[i]);
	fprintf(stderr, "\n");
	for (int i = 0; i < st_n; i++)
		st_ms[i] = 0;
}
#define ST(name, stmt) do { double st_m0_ = st_now(); stmt; st_add(name, st_m0_); } while (0)
#endif
