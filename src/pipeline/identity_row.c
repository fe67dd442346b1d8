/*
 * identity_row.c - an identity in the store, and back.
 *
 * Owns: the one mapping between the person the identity stage vouched for
 * (struct identity) and the store's row (struct identity_row): the primary
 * address in mail, the aliases one per line, the names, enabled.  On the
 * way back every address is normalized again: the store is not trusted
 * blindly.
 * Never: checks for duplicates or decides anything (plan.c does).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"
#include "pipeline/identity_row.h"

/* The aliases joined with '\n' (primary excluded); caller frees. */
static char *
aliases_text(const struct identity *id)
{
	size_t len = 1;
	char *out;

	for (size_t i = 1; i < id->addresses.n; i++)
		len += strlen(id->addresses.v[i]) + 1;
	if ((out = calloc(1, len)) == NULL)
		fatal("out of memory");
	for (size_t i = 1; i < id->addresses.n; i++) {
		if (i > 1)
			strcat(out, "\n");
		strcat(out, id->addresses.v[i]);
	}
	return out;
}

int
identity_save(struct store *st, const struct identity *id)
{
	struct identity_row row = {
		.uuid = id->uuid, .dn = id->dn, .mail = id->addresses.v[0],
		.display_name = id->display_name, .given_name = id->given_name,
		.surname = id->surname, .uid = id->uid, .enabled = id->enabled,
	};
	int rc;

	row.aliases = aliases_text(id);
	rc = store_identity_put(st, &row);
	free(row.aliases);
	return rc;
}

int
identity_load(struct store *st, const char *uuid, struct identity *out)
{
	int skipped;

	return identity_load_marked(st, uuid, out, &skipped);
}

int
identity_load_marked(struct store *st, const char *uuid, struct identity *out,
    int *skipped)
{
	struct identity_row row;
	char *all = NULL, *save = NULL, *a;
	int found;

	memset(out, 0, sizeof(*out));
	*skipped = 0;
	if ((found = store_identity_get(st, uuid, &row)) != 1)
		return found;
	*skipped = row.skipped != NULL;
	if (row.mail == NULL) {	/* only ever seen with bad values, or gone */
		identity_row_free(&row);
		return 0;
	}
	out->uuid = row.uuid;
	out->dn = row.dn;
	out->display_name = row.display_name;
	out->given_name = row.given_name;
	out->surname = row.surname;
	out->uid = row.uid;
	out->enabled = row.enabled;
	if (asprintf(&all, "%s\n%s", row.mail, row.aliases ? row.aliases : "") == -1)
		fatal("out of memory");
	for (a = strtok_r(all, "\n", &save); a != NULL; a = strtok_r(NULL, "\n", &save)) {
		const char *why;
		char *norm = address_normalize(a, &why);

		if (norm != NULL)
			address_list_add(&out->addresses, norm);
	}
	free(all);
	free(row.mail);
	free(row.aliases);
	free(row.skipped);
	if (out->addresses.n == 0) {
		identity_free(out);
		return 0;
	}
	return 1;
}
