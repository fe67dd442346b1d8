/*
 * entry.c - freeing a directory entry.
 *
 * Owns: the one rule of an entry's memory: everything it points to is its
 * own.  Never: reads the directory.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "directory/entry.h"

void
dir_entry_free(struct dir_entry *e)
{
	for (size_t i = 0; i < e->nattrs; i++) {
		for (size_t j = 0; j < e->attrs[i].nvalues; j++)
			free((char *)e->attrs[i].values[j].val);
		free(e->attrs[i].values);
		free((char *)e->attrs[i].name);
	}
	free(e->attrs);
	free((char *)e->dn);
	free((char *)e->uuid);
	memset(e, 0, sizeof(*e));
}
