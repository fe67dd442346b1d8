/*
 * uuid_set.h - a set of uuids: who a refresh saw, which jobs a batch closed.
 *
 * Owns: a growing array of copied strings, sorted on the first lookup after
 * an addition.  Never: shrinks but by clearing it whole.
 */
#ifndef CERTSYNC_UUID_SET_H
#define CERTSYNC_UUID_SET_H

#include <stddef.h>

/* Empty when zeroed: "struct uuid_set s = { 0 };". */
struct uuid_set {
	char **v;
	size_t n, cap;
	int sorted;
};

/* Adds a copy of uuid (a duplicate is kept as well; lookups do not care). */
void uuid_set_add(struct uuid_set *s, const char *uuid);
int uuid_set_has(struct uuid_set *s, const char *uuid);
/* Frees every copy and leaves the set empty, ready for reuse. */
void uuid_set_clear(struct uuid_set *s);

#endif
