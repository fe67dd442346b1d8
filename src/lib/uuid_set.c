/*
 * uuid_set.c - a set of uuids.
 *
 * Owns: the copies it holds.  Never: holds a uuid it did not copy.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "lib/uuid_set.h"

void
uuid_set_add(struct uuid_set *s, const char *uuid)
{
	if (s->n == s->cap) {
		s->cap = s->cap ? s->cap * 2 : 64;
		if ((s->v = realloc(s->v, s->cap * sizeof(*s->v))) == NULL)
			fatal("out of memory");
	}
	if ((s->v[s->n++] = strdup(uuid)) == NULL)
		fatal("out of memory");
	s->sorted = 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int
uuid_set_has(struct uuid_set *s, const char *uuid)
{
	if (s->n == 0)
		return 0;	/* and qsort() must not see a NULL base */
	if (!s->sorted) {
		qsort(s->v, s->n, sizeof(*s->v), cmp_str);
		s->sorted = 1;
	}
	return s->n > 0 && bsearch(&uuid, s->v, s->n, sizeof(*s->v), cmp_str) != NULL;
}

void
uuid_set_clear(struct uuid_set *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}
