/*
 * tests/fuzz/fuzz_entry.h - a directory entry as fuzz input bytes.
 *
 * Owns: the one encoding of a struct dir_entry that the identity target
 * reads and tests/fuzz/capture.c writes from real servers' entries:
 *
 *   u8   flags                 (the target's; identity: bit 0 AD flavor,
 *                               bit 1 no alias attribute mapped)
 *   u16  DN length, DN bytes
 *   u8   uuid length, uuid bytes (length 0: the entry has no uuid)
 *   then attributes until the input ends, each:
 *     u8   name: 0xf0 + i names fuzz_entry_names[i], else the name's
 *          length followed by that many bytes
 *     u8   number of values
 *     per value: u16 length, the bytes
 *
 * Numbers are big-endian; a field cut short by the end of the input is
 * cut short, never an error (so every input is an entry).
 * Never: NUL-terminates a value (struct dir_value says they are not): each
 * value is a malloc'd block of exactly its length, so reading past it is
 * a sanitizer finding.
 */
#ifndef CERTSYNC_FUZZ_ENTRY_H
#define CERTSYNC_FUZZ_ENTRY_H

#include "directory/entry.h"
#include "fuzz.h"

static const char *const fuzz_entry_names[] = {
	"mail", "mailAlternateAddress", "proxyAddresses", "displayName",
	"givenName", "sn", "uid", "sAMAccountName", "userAccountControl", "cn",
	"objectGUID", "entryUUID", "isDeleted", "objectClass",
};
#define FUZZ_ENTRY_NNAMES (sizeof(fuzz_entry_names) / sizeof(fuzz_entry_names[0]))

static inline char *
fuzz_entry_name(struct fuzz_in *in, int *ok)
{
	unsigned n = fuzz_u8(in, ok);
	const uint8_t *p;
	size_t got;

	if (n >= 0xf0 && n - 0xf0 < FUZZ_ENTRY_NNAMES)
		return fuzz_strndup((const uint8_t *)fuzz_entry_names[n - 0xf0],
		    strlen(fuzz_entry_names[n - 0xf0]));
	p = fuzz_bytes(in, n, &got);
	return fuzz_strndup(p, got);
}

static inline void
fuzz_entry_attr(struct fuzz_in *in, struct dir_attr *a, int *ok)
{
	unsigned n;

	a->name = fuzz_entry_name(in, ok);
	n = fuzz_u8(in, ok);
	if ((a->values = calloc(n ? n : 1, sizeof(*a->values))) == NULL)
		abort();
	for (a->nvalues = 0; a->nvalues < n; a->nvalues++) {
		struct dir_value *v = &a->values[a->nvalues];
		size_t want = fuzz_u16(in, ok), got;
		const uint8_t *p = fuzz_bytes(in, want, &got);
		char *copy = malloc(got ? got : 1);

		if (copy == NULL)
			abort();
		if (got > 0)
			memcpy(copy, p, got);
		v->val = copy;
		v->len = got;
	}
}

/* The entry in the rest of in; *flags gets the first byte.  Free the
 * entry with dir_entry_free(). */
static inline void
fuzz_entry_read(struct fuzz_in *in, unsigned *flags, struct dir_entry *e)
{
	const uint8_t *p;
	size_t got;
	int ok = 1;

	memset(e, 0, sizeof(*e));
	*flags = fuzz_u8(in, &ok);
	p = fuzz_bytes(in, fuzz_u16(in, &ok), &got);
	e->dn = fuzz_strndup(p, got);
	p = fuzz_bytes(in, fuzz_u8(in, &ok), &got);
	e->uuid = got ? fuzz_strndup(p, got) : NULL;
	while (in->n > 0) {
		if ((e->attrs = realloc(e->attrs, (e->nattrs + 1) * sizeof(*e->attrs))) == NULL)
			abort();
		fuzz_entry_attr(in, &e->attrs[e->nattrs++], &ok);
	}
}

#endif
