/*
 * check_identity.c - directory entries normalized into identities; bad
 * values refused with a reason naming the attribute.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "identity.h"
#include "check_main.h"

static const struct identity_map map = {
	.mail = "mail", .aliases = "mailAlternateAddress",
	.display_name = "displayName", .given_name = "givenName",
	.surname = "sn", .uid = "uid",
};

#define V(s) { s, sizeof(s) - 1 }

static int
normalize(struct dir_attr *attrs, size_t n, struct identity *id, char *why)
{
	struct dir_entry e = { "uid=a,dc=x", "11111111-2222-3333-4444-555555555555",
	    attrs, n };

	return identity_from_entry(&map, &e, id, why, 256);
}

START_TEST(good_entry)
{
	struct dir_value mail[] = { V("Alice@Example.ORG"), V("a2@example.org") };
	struct dir_value alias[] = { V("al@example.org"), V("ALICE@example.org") };
	struct dir_value dn[] = { V("J\xc3\xb6rg Alice") };
	struct dir_value sn[] = { V("Alice") };
	struct dir_attr attrs[] = {
		{ "MAIL", mail, 2 }, { "mailAlternateAddress", alias, 2 },
		{ "displayName", dn, 1 }, { "sn", sn, 1 },
	};
	struct identity id;
	char why[256] = "", buf[600];
	struct subject_vars vars;

	ck_assert_int_eq(normalize(attrs, 4, &id, why), 0);
	ck_assert_str_eq(id.addresses.v[0], "Alice@example.org");
	/* Further mail values and aliases follow; a case-only duplicate is dropped. */
	ck_assert_uint_eq(id.addresses.n, 3);
	ck_assert_str_eq(id.addresses.v[1], "a2@example.org");
	ck_assert_str_eq(id.addresses.v[2], "al@example.org");
	ck_assert_str_eq(id.display_name, "J\xc3\xb6rg Alice");
	ck_assert_ptr_null(id.given_name);
	ck_assert_int_eq(id.enabled, 1);
	identity_subject_vars(&id, &vars, buf, sizeof(buf));
	ck_assert_str_eq(vars.name, "J\xc3\xb6rg Alice");
	ck_assert_str_eq(vars.mail, "Alice@example.org");
	identity_free(&id);
}
END_TEST

START_TEST(name_fallbacks)
{
	struct dir_value mail[] = { V("a@example.org") };
	struct dir_value gn[] = { V("Alice") }, sn[] = { V("Smith") };
	struct dir_attr both[] = { { "mail", mail, 1 }, { "givenName", gn, 1 },
	    { "sn", sn, 1 } };
	struct identity id;
	struct subject_vars vars;
	char why[256], buf[600];

	ck_assert_int_eq(normalize(both, 3, &id, why), 0);
	identity_subject_vars(&id, &vars, buf, sizeof(buf));
	ck_assert_str_eq(vars.name, "Alice Smith");
	identity_free(&id);
	ck_assert_int_eq(normalize(both, 1, &id, why), 0);
	identity_subject_vars(&id, &vars, buf, sizeof(buf));
	ck_assert_str_eq(vars.name, "a@example.org");
	identity_free(&id);
}
END_TEST

static void
expect_refused(struct dir_attr *attrs, size_t n, const char *part)
{
	struct identity id;
	char why[256] = "";

	ck_assert_int_eq(normalize(attrs, n, &id, why), -1);
	ck_assert_msg(strstr(why, part) != NULL, "reason \"%s\" lacks \"%s\"", why, part);
	ck_assert_ptr_null(id.uuid);
	ck_assert_uint_eq(id.addresses.n, 0);
}

START_TEST(bad_entries)
{
	struct dir_value good[] = { V("a@example.org") };
	struct dir_value bad[] = { V("not an address") };
	struct dir_value nul[] = { { "a\0b@example.org", 15 } };
	struct dir_value badalias[] = { V("x@@example.org") };
	struct dir_value latin1[] = { V("J\xf6rg") };
	struct dir_value ctrl[] = { V("line\nbreak") };
	char *huge = malloc(100 * 1024 + 1);
	struct dir_value big[1];

	memset(huge, 'x', 100 * 1024);
	huge[100 * 1024] = '\0';
	big[0].val = huge;
	big[0].len = 100 * 1024;
	{
		struct dir_attr a[] = { { "cn", good, 1 } };
		expect_refused(a, 1, "no mail attribute");
		expect_refused(a, 0, "no mail attribute");
	}
	{
		struct dir_attr a[] = { { "mail", bad, 1 } };
		expect_refused(a, 1, "mail \"not an address\" contains whitespace");
	}
	{
		struct dir_attr a[] = { { "mail", nul, 1 } };
		expect_refused(a, 1, "NUL");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "mailAlternateAddress", badalias, 1 } };
		expect_refused(a, 2, "mailAlternateAddress");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "displayName", latin1, 1 } };
		expect_refused(a, 2, "displayName is not valid UTF-8");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "sn", ctrl, 1 } };
		expect_refused(a, 2, "sn is not valid UTF-8");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "displayName", big, 1 } };
		expect_refused(a, 2, "102400 bytes");
	}
	free(huge);
}
END_TEST

START_TEST(no_uuid_refused)
{
	struct dir_value mail[] = { V("a@example.org") };
	struct dir_attr a[] = { { "mail", mail, 1 } };
	struct dir_entry e = { "uid=a,dc=x", NULL, a, 1 };
	struct identity id;
	char why[256];

	ck_assert_int_eq(identity_from_entry(&map, &e, &id, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "uuid"));
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("identity");
	TCase *tc = tcase_create("normalize");

	tcase_add_test(tc, good_entry);
	tcase_add_test(tc, name_fallbacks);
	tcase_add_test(tc, bad_entries);
	tcase_add_test(tc, no_uuid_refused);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
