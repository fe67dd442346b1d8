/*
 * entry.h - a directory entry as the change sources hand it over.
 *
 * Owns: the shape of an entry read from the directory: its DN, its uuid
 * and its attributes with their raw values, and freeing one.
 * Never: interprets a value; the identity stage decides what an entry
 * means, and the change sources only read and merge them.
 */
#ifndef CERTSYNC_ENTRY_H
#define CERTSYNC_ENTRY_H

#include <stddef.h>

/* One attribute of a directory entry; values are not NUL-terminated. */
struct dir_value {
	const char *val;
	size_t len;
};

struct dir_attr {
	const char *name;
	struct dir_value *values;
	size_t nvalues;
};

/* A directory entry as the change sources hand it over. */
struct dir_entry {
	const char *dn;
	const char *uuid;             /* textual uuid, e.g. 8-4-4-4-12 hex */
	struct dir_attr *attrs;
	size_t nattrs;
};

/* Frees what the entry holds (every string and value is its own) and
 * empties it. */
void dir_entry_free(struct dir_entry *e);

#endif
