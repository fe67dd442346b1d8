/*
 * check_address.c - RFC 5321 address validation and address lists.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pki/address.h"
#include "check_main.h"

static void
expect_ok(const char *in, const char *want)
{
	const char *why = NULL;
	char *out = address_normalize(in, &why);

	ck_assert_msg(out != NULL, "\"%s\" refused: %s", in, why ? why : "?");
	ck_assert_str_eq(out, want);
	free(out);
}

static void
expect_bad(const char *in, const char *reason_part)
{
	const char *why = NULL;
	char *out = address_normalize(in, &why);

	ck_assert_msg(out == NULL, "\"%s\" accepted as \"%s\"", in, out);
	ck_assert_ptr_nonnull(why);
	ck_assert_msg(strstr(why, reason_part) != NULL,
	    "\"%s\": reason \"%s\" lacks \"%s\"", in, why, reason_part);
}

START_TEST(valid_addresses)
{
	expect_ok("alice@example.org", "alice@example.org");
	expect_ok("Alice.Smith@Example.ORG", "Alice.Smith@example.org");
	expect_ok("a+tag@sub.example.co.uk", "a+tag@sub.example.co.uk");
	expect_ok("o'brien@example.org", "o'brien@example.org");
	expect_ok("x@localhost", "x@localhost");
	expect_ok("x@xn--bcher-kva.example", "x@xn--bcher-kva.example");
	expect_ok("!#$%&'*+-/=?^_`{|}~@example.org", "!#$%&'*+-/=?^_`{|}~@example.org");
}
END_TEST

START_TEST(invalid_addresses)
{
	char local[80], label[70], longaddr[300];

	expect_bad("", "empty");
	expect_bad(NULL, "empty");
	expect_bad("alice", "no @");
	expect_bad("@example.org", "empty local part");
	expect_bad("alice@", "empty domain");
	expect_bad(".alice@example.org", "dot");
	expect_bad("alice.@example.org", "dot");
	expect_bad("al..ice@example.org", "dot");
	expect_bad("\"al ice\"@example.org", "whitespace");
	expect_bad("\"alice\"@example.org", "quoted");
	expect_bad("alice@[192.0.2.1]", "literal");
	expect_bad("a b@example.org", "whitespace");
	expect_bad("alice@exa mple.org", "whitespace");
	expect_bad("alice@example..org", "empty label");
	expect_bad("alice@-example.org", "hyphen");
	expect_bad("alice@example-.org", "hyphen");
	expect_bad("alice@exam_ple.org", "not allowed in a domain");
	expect_bad("a@b@example.org", "not allowed in a local part");
	expect_bad("al(ice@example.org", "not allowed in a local part");
	expect_bad("j\xc3\xb6rg@example.org", "non-ASCII");
	expect_bad("joerg@b\xc3\xbc" "cher.example", "non-ASCII");
	expect_bad("alice\r@example.org", "control");
	memset(local, 'a', 65);
	strcpy(local + 65, "@x.org");
	expect_bad(local, "local part longer");
	memset(label, 'b', 64);
	label[64] = '\0';
	snprintf(longaddr, sizeof(longaddr), "a@%s.org", label);
	expect_bad(longaddr, "label longer");
	memset(longaddr, 'c', sizeof(longaddr) - 1);
	longaddr[sizeof(longaddr) - 1] = '\0';
	longaddr[10] = '@';
	expect_bad(longaddr, "longer than 254");
}
END_TEST

START_TEST(lists)
{
	struct address_list a = { 0 }, b = { 0 };
	const char *why;

	ck_assert_int_eq(address_list_add(&a, address_normalize("p@example.org", &why)), 1);
	ck_assert_int_eq(address_list_add(&a, address_normalize("x@example.org", &why)), 1);
	/* Same mailbox in another case: dropped. */
	ck_assert_int_eq(address_list_add(&a, address_normalize("X@EXAMPLE.org", &why)), 0);
	ck_assert_uint_eq(a.n, 2);
	ck_assert_str_eq(a.v[0], "p@example.org");

	address_list_add(&b, address_normalize("p@example.org", &why));
	ck_assert(!address_list_same(&a, &b));
	address_list_add(&b, address_normalize("x@example.org", &why));
	ck_assert(address_list_same(&a, &b));
	address_list_free(&b);

	/* Same set, other primary: not the same. */
	address_list_add(&b, address_normalize("x@example.org", &why));
	address_list_add(&b, address_normalize("p@example.org", &why));
	ck_assert(!address_list_same(&a, &b));
	address_list_free(&a);
	address_list_free(&b);
	ck_assert_ptr_null(a.v);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("address");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, valid_addresses);
	tcase_add_test(tc, invalid_addresses);
	tcase_add_test(tc, lists);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
