/*
 * tests/fuzz/fuzz_adcopy.c - the stored copies of AD entries
 * (src/directory/dirsync.c ad_pack, ad_unpack, ad_merge): what the store
 * hands back is read with ad_unpack, a DirSync round's partial entry is
 * merged in, and the result packed again.
 *
 * Owns: the input as a 16-bit big-endian length, a first blob of that
 * length (the stored copy) and the rest (a second blob, standing for the
 * partial entry); the properties: a blob that unpacks packs back to the
 * same bytes (the format has one spelling), and a merge keeps every
 * attribute of the copy the partial does not name, takes the partial's
 * values for those it does (the last of a repeated name wins), and packs
 * and unpacks to itself.
 * Never: trusts a blob's counts: ad_unpack must refuse what does not add up.
 */
#include "config.h"

#include <strings.h>

#include "directory/dirsync.h"
#include "fuzz.h"
#include "lib/log.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static int
same_values(const struct dir_attr *a, const struct dir_attr *b)
{
	if (a->nvalues != b->nvalues)
		return 0;
	for (size_t j = 0; j < a->nvalues; j++)
		if (a->values[j].len != b->values[j].len ||
		    memcmp(a->values[j].val, b->values[j].val, a->values[j].len) != 0)
			return 0;
	return 1;
}

static const struct dir_attr *
first_named(const struct dir_entry *e, const char *name)
{
	for (size_t i = 0; i < e->nattrs; i++)
		if (strcasecmp(e->attrs[i].name, name) == 0)
			return &e->attrs[i];
	return NULL;
}

static const struct dir_attr *
last_named(const struct dir_entry *e, const char *name)
{
	for (size_t i = e->nattrs; i > 0; i--)
		if (strcasecmp(e->attrs[i - 1].name, name) == 0)
			return &e->attrs[i - 1];
	return NULL;
}

/* Unpacks blob; if it unpacks, it packs back to the same bytes.  1 or 0. */
static int
unpack(const uint8_t *blob, size_t len, struct dir_entry *e)
{
	unsigned char *again = NULL;
	size_t alen = 0;

	if (ad_unpack(blob, len, e) == -1) {
		fuzz_check(e->nattrs == 0 && e->attrs == NULL);
		return 0;
	}
	ad_pack(e, &again, &alen);
	fuzz_check(alen == len && memcmp(again, blob, len) == 0);
	free(again);
	return 1;
}

/* As apply_object() in watch.c does: the stored copy unpacked afresh,
 * the partial entry merged in, packed for the store. */
static void
check_merge(const uint8_t *stored, size_t slen, const struct dir_entry *copy,
    const struct dir_entry *partial)
{
	struct dir_entry m, back;
	unsigned char *blob = NULL;
	size_t len = 0, added = 0;

	fuzz_check(ad_unpack(stored, slen, &m) == 0);
	ad_merge(&m, partial);
	for (size_t i = 0; i < copy->nattrs; i++) {
		const struct dir_attr *a = &copy->attrs[i];

		if (last_named(partial, a->name) == NULL && first_named(copy, a->name) == a)
			fuzz_check(same_values(first_named(&m, a->name), a));
	}
	for (size_t i = 0; i < partial->nattrs; i++) {
		const struct dir_attr *p = &partial->attrs[i];
		const struct dir_attr *a = first_named(&m, p->name);

		fuzz_check(a != NULL && same_values(a, last_named(partial, p->name)));
		added += first_named(copy, p->name) == NULL && first_named(partial, p->name) == p;
	}
	fuzz_check(m.nattrs == copy->nattrs + added);
	ad_pack(&m, &blob, &len);
	fuzz_check(unpack(blob, len, &back) == 1 && back.nattrs == m.nattrs);
	free(blob);
	dir_entry_free(&back);
	dir_entry_free(&m);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct dir_entry copy, partial;
	const uint8_t *a, *b;
	uint8_t *ca, *cb;
	size_t alen, blen;
	int ok = 1, have_copy, have_partial;

	a = fuzz_bytes(&in, fuzz_u16(&in, &ok), &alen);
	b = fuzz_bytes(&in, in.n, &blen);
	/* The store hands back its own allocation of exactly the blob. */
	if ((ca = malloc(alen ? alen : 1)) == NULL || (cb = malloc(blen ? blen : 1)) == NULL)
		abort();
	memcpy(ca, a, alen);
	memcpy(cb, b, blen);
	have_copy = unpack(ca, alen, &copy);
	have_partial = unpack(cb, blen, &partial);
	if (have_copy && have_partial)
		check_merge(ca, alen, &copy, &partial);
	if (have_copy)
		dir_entry_free(&copy);
	if (have_partial)
		dir_entry_free(&partial);
	free(ca);
	free(cb);
	return 0;
}
