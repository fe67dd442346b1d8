/*
 * tests/fuzz/fuzz_identity.c - an entry's values becoming an identity
 * (src/pipeline/identity.c), OpenLDAP and Active Directory flavors.
 *
 * Owns: the properties of an identity made from any entry (fuzz_entry.h's
 * encoding; flags bit 0: the AD map with proxyAddresses and
 * userAccountControl, bit 1: no alias attribute, bits 2-7: which of three
 * subject templates the map checks users against): at least one address,
 * each normalized and none twice, the list surviving the stored form
 * (join, split), names valid UTF-8 within IDENTITY_NAME_MAX; a refused
 * entry gives a one-line reason (no control character) and an empty
 * identity.  Every identity then goes where the agent sends it: its
 * subject variables into the templates, and the one it was checked
 * against must expand (a user the profile would refuse is skipped when
 * read, never retried: issue 9).
 * Never: asserts what the profile decides about a template the entry was
 * not checked against; issue_subject may refuse those, with a reason.
 */
#include "config.h"

#include <openssl/x509.h>

#include "fuzz_entry.h"
#include "lib/log.h"
#include "lib/utf8.h"
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
	char reason[160];

	if (s == NULL)
		return;
	fuzz_check(strlen(s) <= IDENTITY_NAME_MAX);
	fuzz_check(utf8_text_check(s, strlen(s), reason, sizeof(reason)) == 0);
}

static const char *const templates[] = {
	"CN=%{name}",	/* [certificates] subject's default */
	"CN=%{name},OU=%{uid},O=Example,C=DE",
	"emailAddress=%{mail},CN=%{given} %{sn},serialNumber=%{uid}",
};
#define NTEMPLATES (sizeof(templates) / sizeof(templates[0]))

/* Where an identity goes next: the subject of its certificates.  The
 * template the entry was checked against (map->subject) must expand; the
 * others may refuse, with a reason. */
static void
to_subject(const struct identity *id, const char *checked)
{
	struct subject_vars vars;
	char buf[2 * IDENTITY_NAME_MAX + 2];

	identity_subject_vars(id, &vars, buf, sizeof(buf));
	fuzz_check(vars.name != NULL && vars.mail != NULL);
	for (size_t i = 0; i < NTEMPLATES; i++) {
		X509_NAME *name = NULL;
		char why[256] = "";

		if (issue_subject(templates[i], &vars, &name, why, sizeof(why)) == 0)
			fuzz_check(name != NULL && i2d_X509_NAME(name, NULL) > 0);
		else {
			if (templates[i] == checked)
				fprintf(stderr, "accepted, then refused: %s\n", why);
			fuzz_check(templates[i] != checked);
			fuzz_check(name == NULL && why[0] != '\0');
		}
		X509_NAME_free(name);
	}
}

/* One event is one line: a reason never carries a control character
 * (whatever prints it escapes it too). */
static void
check_reason(const char *why)
{
	fuzz_check(why[0] != '\0');
	for (const unsigned char *p = (const unsigned char *)why; *p; p++)
		fuzz_check(*p >= 0x20 && *p != 0x7f);
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
	map.subject = templates[(flags >> 2) % NTEMPLATES];
	if (map.ad)
		map.uid = "sAMAccountName";
	if (identity_from_entry(&map, &e, &id, why, sizeof(why)) == 0) {
		fuzz_check(strcmp(id.uuid, e.uuid) == 0 && strcmp(id.dn, e.dn) == 0);
		check_addresses(&id.addresses);
		check_name(id.display_name);
		check_name(id.given_name);
		check_name(id.surname);
		check_name(id.uid);
		to_subject(&id, map.subject);
		identity_free(&id);
	} else {
		check_reason(why);
		fuzz_check(id.uuid == NULL && id.addresses.n == 0);
	}
	dir_entry_free(&e);
	return 0;
}
