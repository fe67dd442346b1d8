/*
 * failpoint.c - test-only crash points.
 *
 * Owns: reading CERTSYNC_FAILPOINT.  Never: runs in a build without
 * --enable-failpoints (the body compiles away).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/failpoint.h"
#include "lib/log.h"

void
failpoint(const char *name)
{
#ifdef CS_FAILPOINTS
	const char *want = getenv("CERTSYNC_FAILPOINT");

	if (want != NULL && strcmp(want, name) == 0) {
		log_warn("failpoint %s: exiting as if killed", name);
		_exit(137);
	}
#else
	(void)name;
#endif
}

double
failpoint_number(const char *name, double dflt)
{
#ifdef CS_FAILPOINTS
	const char *v = getenv(name);
	char *end;
	double d;

	if (v == NULL || *v == '\0')
		return dflt;
	d = strtod(v, &end);
	return *end == '\0' && d >= 0 ? d : dflt;
#else
	(void)name;
	return dflt;
#endif
}
