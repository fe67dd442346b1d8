/*
 * tests/fuzz/fuzz_identity.c - an entry's values becoming an identity
 * (src/pipeline/identity.c), OpenLDAP and Active Directory flavors.
 *
 * Owns: the properties of an identity made from any entry (fuzz_entry.h's
 * encoding; flags bit 0: the AD map with proxyAddresses and
 * userAccountControl, bit 1: no alias attribute): at least one address,
 * each normalized and none twice, the list surviving the stored form
 * (join, split), names valid UTF-8 within IDENTITY_NAME_MAX; a refused
 * entry gives a reason and an empty identity.  Every identity then goes
 * where the agent sends it: its subject variables into the default
 * subject template and a longer one.
 * Never: asserts what the profile decides about a value; issue_subject may
 * refuse, it must not crash.
 */
#include "config.h"

#include <openssl/x509.h>

#include "fuzz_entry.h"
#include "lib/log.h"
#include "pipeline/identity.h"
#include "pki/issue.h"

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	log_set_level(LOG_LVL_ERROR);
	return 0;
}

static void
check_addresses(const struct address_list *l)
{
	struct address_list back = { NULL, 0 };
	char *joined;

	fuzz_check(l->n >= 1);
	for (size_t i = 0; i < l->n; i++) {
		const char *why = NULL;
		char *again = address_normalize(l->v[i], &why);

		fuzz_check(again != NULL && strcmp(again, l->v[i]) == 0);
		free(again);
		for (size_t j = 0; j < i; j++)
			fuzz_check(!address_equal(l->v[i], l->v[j]));
	}
	joined = address_list_join(l);
	fuzz_check(address_list_split(joined, &back) == 0 && address_list_same(l, &back));
	free(joined);
	address_list_free(&back);
}

static void
check_name(const char *s)
{
	if (s == NULL)
		return;
	fuzz_check(strlen(s) <= IDENTITY_NAME_MAX && issue_utf8_ok(s));
}

/* Where an identity goes next: the subject of its certificates. */
static void
to_subject(const struct identity *id)
{
	static const char *const templates[] = {
		"CN=%{name}",	/* [certificates] subject's default */
		"CN=%{name},OU=%{uid},O=Example,C=DE",
		"emailAddress=%{mail},CN=%{given} %{sn},serialNumber=%{uid}",
	};
	struct subject_vars vars;
	char buf[2 * IDENTITY_NAME_MAX + 2];

	identity_subject_vars(id, &vars, buf, sizeof(buf));
	fuzz_check(vars.name != NULL && vars.mail != NULL);
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		X509_NAME *name = NULL;
		const char *why = NULL;

		if (issue_subject(templates[i], &vars, &name, &why) == 0)
			fuzz_check(name != NULL && i2d_X509_NAME(name, NULL) > 0);
		else
			fuzz_check(name == NULL && why != NULL);
		X509_NAME_free(name);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = { data, size };
	struct identity_map map = {
		.mail = "mail", .display_name = "displayName",
		.given_name = "givenName", .surname = "sn", .uid = "uid",
	};
	struct dir_entry e;
	struct identity id;
	char why[512] = "";
	unsigned flags;

	fuzz_entry_read(&in, &flags, &e);
	map.ad = flags & 1;
	map.aliases = flags & 2 ? NULL : map.ad ? "proxyAddresses" : "mailAlternateAddress";
	if (map.ad)
		map.uid = "sAMAccountName";
	if (identity_from_entry(&map, &e, &id, why, sizeof(why)) == 0) {
		fuzz_check(strcmp(id.uuid, e.uuid) == 0 && strcmp(id.dn, e.dn) == 0);
		check_addresses(&id.addresses);
		check_name(id.display_name);
		check_name(id.given_name);
		check_name(id.surname);
		check_name(id.uid);
		to_subject(&id);
		identity_free(&id);
	} else {
		fuzz_check(why[0] != '\0' && id.uuid == NULL && id.addresses.n == 0);
	}
	dir_entry_free(&e);
	return 0;
}
