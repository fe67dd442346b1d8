/*
 * check_identity.c - directory entries normalized into identities; bad
 * values refused with a reason naming the attribute.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "directory/dirsync.h"
#include "directory/ds389.h"
#include "directory/syncrepl.h"
#include "pipeline/identity.h"
#include "pki/issue.h"
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

static const struct identity_map ad_map = {
	.mail = "mail", .aliases = "proxyAddresses",
	.display_name = "displayName", .given_name = "givenName",
	.surname = "sn", .uid = "sAMAccountName", .ad = 1,
};

static int
normalize_ad(struct dir_attr *attrs, size_t n, struct identity *id, char *why)
{
	struct dir_entry e = { "CN=A,CN=Users,DC=x", "bd468d03-3843-4b59-af47-28a8f2c7483c",
	    attrs, n };

	return identity_from_entry(&ad_map, &e, id, why, 256);
}

START_TEST(ad_proxy_addresses)
{
	struct dir_value mail[] = { V("alice@example.org") };
	struct dir_value proxy[] = { V("smtp:al@example.org"),
	    V("X400:c=US;a= ;p=Org;o=Ex;s=Smith;"), V("SMTP:Alice.Smith@example.org"),
	    V("sip:alice@example.org"), V("smtp:ALICE@example.org") };
	struct dir_value uac[] = { V("66048") };	/* 0x10200: enabled */
	struct dir_attr attrs[] = {
		{ "mail", mail, 1 }, { "proxyAddresses", proxy, 5 },
		{ "userAccountControl", uac, 1 },
	};
	struct identity id;
	char why[256] = "";

	ck_assert_int_eq(normalize_ad(attrs, 3, &id, why), 0);
	/* SMTP: first, then mail, then smtp: aliases; X400 and SIP ignored. */
	ck_assert_uint_eq(id.addresses.n, 3);
	ck_assert_str_eq(id.addresses.v[0], "Alice.Smith@example.org");
	ck_assert_str_eq(id.addresses.v[1], "alice@example.org");
	ck_assert_str_eq(id.addresses.v[2], "al@example.org");
	ck_assert_int_eq(id.enabled, 1);
	identity_free(&id);

	uac[0] = (struct dir_value)V("66050");	/* ACCOUNTDISABLE set */
	ck_assert_int_eq(normalize_ad(attrs, 3, &id, why), 0);
	ck_assert_int_eq(id.enabled, 0);
	identity_free(&id);

	/* No mail: the SMTP: address alone is enough. */
	ck_assert_int_eq(normalize_ad(attrs + 1, 2, &id, why), 0);
	ck_assert_str_eq(id.addresses.v[0], "Alice.Smith@example.org");
	identity_free(&id);
}
END_TEST

START_TEST(ad_bad_values)
{
	struct dir_value proxy[] = { V("smtp:not an address") };
	struct dir_value x400[] = { V("X400:c=US;") };
	struct dir_value mail[] = { V("a@example.org") };
	struct dir_value uac[] = { V("512x") };
	struct dir_attr bad_proxy[] = { { "proxyAddresses", proxy, 1 } };
	struct dir_attr no_smtp[] = { { "proxyAddresses", x400, 1 } };
	struct dir_attr bad_uac[] = { { "mail", mail, 1 }, { "userAccountControl", uac, 1 } };
	struct identity id;
	char why[256] = "";

	ck_assert_int_eq(normalize_ad(bad_proxy, 1, &id, why), -1);
	ck_assert_msg(strstr(why, "proxyAddresses \"not an address\"") != NULL, "%s", why);
	ck_assert_int_eq(normalize_ad(no_smtp, 1, &id, why), -1);
	ck_assert_msg(strstr(why, "neither mail nor an SMTP address in proxyAddresses")
	    != NULL, "%s", why);
	ck_assert_int_eq(normalize_ad(bad_uac, 2, &id, why), -1);
	ck_assert_msg(strstr(why, "userAccountControl") != NULL, "%s", why);
}
END_TEST

START_TEST(ad_guid_text)
{
	/* objectGUID A41GvUM4WUuvRyio8sdIPA== as AD names it. */
	static const unsigned char g[16] = { 0x03, 0x8d, 0x46, 0xbd, 0x43, 0x38,
	    0x59, 0x4b, 0xaf, 0x47, 0x28, 0xa8, 0xf2, 0xc7, 0x48, 0x3c };
	char text[37];

	syncrepl_guid_text(g, text);
	ck_assert_str_eq(text, "bd468d03-3843-4b59-af47-28a8f2c7483c");
}
END_TEST

START_TEST(ds389_unique_id)
{
	/* As ds389_harness.sh measured it: nsUniqueId and syncUUID. */
	static const char ok[] = "83b93ebe-f01911f1-B43F90D8-b796781e";
	static const char *const bad[] = {
		"83b93ebe-f019-11f1-b43f-90d8b796781e",	/* already 8-4-4-4-12 */
		"83b93ebe-f01911f1-b43f90d8-b796781",	/* a digit short */
		"83b93ebe-f01911f1-b43f90d8-b796781e0",
		"83b93ebe_f01911f1-b43f90d8-b796781e",
		"83b93ebe-f01911f1-b43f90d8-b796781g",
	};
	char text[37];

	ck_assert_int_eq(ds389_uuid(ok, strlen(ok), text), 0);
	ck_assert_str_eq(text, "83b93ebe-f019-11f1-b43f-90d8b796781e");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(ds389_uuid(bad[i], strlen(bad[i]), text), -1);
}
END_TEST

static int
stale(uint64_t first, uint64_t last, int have, const char *cookie)
{
	struct ds389_server s = { NULL, NULL, have, first, last };
	char why[200];

	return ds389_cookie_stale(&s, cookie, strlen(cookie), why, sizeof(why));
}

START_TEST(ds389_cookies)
{
	const char *c = "localhost:389#cn=certsync,ou=services,dc=x:ou=people,dc=x:"
	    "(&(objectClass=inetOrgPerson)(mail=*))#17";

	ck_assert_int_eq(stale(1, 40, 1, c), 0);
	ck_assert_int_eq(stale(18, 40, 1, c), 0);	/* the next change is there */
	ck_assert_int_eq(stale(19, 40, 1, c), 1);	/* change 18 was trimmed */
	ck_assert_int_eq(stale(17, 17, 1, c), 0);	/* nothing happened since */
	ck_assert_int_eq(stale(0, 0, 1, c), 1);		/* all trimmed */
	ck_assert_int_eq(stale(1, 40, 0, c), 1);	/* the rootDSE cannot say */
	ck_assert_int_eq(stale(0, 0, 1, "localhost:389#cn=a:ou=b:(c=*)#0"), 0);
	ck_assert_int_eq(stale(1, 40, 1, "localhost:389#cn=a:ou=b:(c=*)#"), 1);
	ck_assert_int_eq(stale(1, 40, 1, "rid=001,csn=20240101000000Z#0#000"), 0);
	ck_assert_int_eq(stale(1, 40, 1, "garbage"), 1);
	/* Found by fuzzing: a NUL inside the number ended it early ("8"), a
	 * number past 64 bits read as the largest one; neither is a number. */
	{
		static const char nul[] = "localhost:389#cn=a:ou=b:(c=*)#8\0\0015";
		struct ds389_server s = { NULL, NULL, 1, 1, 40 };
		char why[200] = "";

		ck_assert_int_eq(ds389_cookie_stale(&s, nul, sizeof(nul) - 1, why,
		    sizeof(why)), 1);
		ck_assert_msg(strstr(why, "no change number") != NULL, "%s", why);
	}
	ck_assert_int_eq(stale(0, 40, 1, "localhost:389#cn=a:ou=b:(c=*)#"
	    "99999999999999999999999"), 1);
}
END_TEST

START_TEST(ds389_flavor)
{
	struct ds389_server ds = { "389 Project", "389-Directory/2.3.1 B2025", 1, 1, 2 };
	struct ds389_server rh = { "Red Hat, Inc.", "Red Hat-Directory/11.7", 1, 1, 2 };
	struct ds389_server other = { NULL, NULL, 0, 0, 0 };
	char err[256] = "";

	ck_assert_int_eq(ds389_check_flavor(DIR_FLAVOR_OPENLDAP, &ds, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "flavor = 389ds") != NULL, "%s", err);
	ck_assert_int_eq(ds389_check_flavor(DIR_FLAVOR_OPENLDAP, &rh, err, sizeof(err)), -1);
	ck_assert_int_eq(ds389_check_flavor(DIR_FLAVOR_389DS, &ds, err, sizeof(err)), 0);
	ck_assert_int_eq(ds389_check_flavor(DIR_FLAVOR_OPENLDAP, &other, err, sizeof(err)), 0);
}
END_TEST

START_TEST(ad_copy_pack_merge)
{
	struct dir_value mail[] = { V("a@example.org") };
	struct dir_value proxy[] = { V("SMTP:a@example.org"), V("smtp:b@example.org") };
	struct dir_value dn1[] = { V("Alice") };
	struct dir_value dn2[] = { V("Alice Jones") };
	struct dir_value nul[] = { { "x\0y", 3 } };
	struct dir_attr full[] = { { "mail", mail, 1 }, { "proxyAddresses", proxy, 2 },
	    { "displayName", dn1, 1 }, { "bin", nul, 1 } };
	struct dir_attr part[] = { { "DISPLAYNAME", dn2, 1 }, { "givenName", dn1, 1 } };
	struct dir_entry e = { "CN=A,DC=x", NULL, full, 4 };
	struct dir_entry p = { "CN=A2,DC=x", NULL, part, 2 };
	struct dir_entry copy;
	unsigned char *blob;
	size_t len;

	ad_pack(&e, &blob, &len);
	ck_assert_int_eq(ad_unpack(blob, len, &copy), 0);
	ck_assert_uint_eq(copy.nattrs, 4);
	ck_assert_uint_eq(copy.attrs[1].nvalues, 2);
	ck_assert_str_eq(copy.attrs[1].values[1].val, "smtp:b@example.org");
	ck_assert_uint_eq(copy.attrs[3].values[0].len, 3);	/* binary-safe */
	ck_assert_int_eq(memcmp(copy.attrs[3].values[0].val, "x\0y", 3), 0);
	/* A partial set replaces its namesakes, adds the rest, keeps others. */
	ad_merge(&copy, &p);
	ck_assert_uint_eq(copy.nattrs, 5);
	ck_assert_str_eq(copy.attrs[2].values[0].val, "Alice Jones");
	ck_assert_str_eq(copy.attrs[4].name, "givenName");
	ck_assert_str_eq(copy.attrs[1].values[0].val, "SMTP:a@example.org");
	ck_assert_str_eq(copy.dn, "CN=A2,DC=x");
	dir_entry_free(&copy);
	/* Damaged copies are refused, never half read. */
	for (size_t cut = 0; cut < len; cut++)
		ck_assert_int_eq(ad_unpack(blob, cut, &copy), -1);
	blob[0] = 'X';
	ck_assert_int_eq(ad_unpack(blob, len, &copy), -1);
	free(blob);
}
END_TEST

/* An attribute name with a NUL inside is a damaged copy: ad_pack writes
 * names up to their NUL, so no copy of ours holds one (found by
 * tests/fuzz/fuzz_adcopy.c: it was read as a shorter name). */
START_TEST(ad_copy_nul_in_name)
{
	static const unsigned char blob[] = { 'C', 'S', 'C', '1', 0, 0, 0, 1,
	    0, 0, 0, 6, 'm', 'a', 'i', 'l', 0, 'x', 0, 0, 0, 1,
	    0, 0, 0, 3, 'a', '@', 'b' };
	unsigned char ok[sizeof(blob)];
	struct dir_entry copy;

	ck_assert_int_eq(ad_unpack(blob, sizeof(blob), &copy), -1);
	ck_assert_uint_eq(copy.nattrs, 0);
	memcpy(ok, blob, sizeof(ok));
	ok[16] = 'X';	/* "mailXx": a name like any other */
	ck_assert_int_eq(ad_unpack(ok, sizeof(ok), &copy), 0);
	ck_assert_str_eq(copy.attrs[0].name, "mailXx");
	dir_entry_free(&copy);
}
END_TEST

/* A uSNChanged checkpoint is the decimal text ad_usn_round wrote; anything
 * else is a full pass (0), never a number strtoull would make of it. */
START_TEST(ad_usn_checkpoint)
{
	ck_assert_uint_eq(ad_usn_since("12345", 5), 12345);
	ck_assert_uint_eq(ad_usn_since("18446744073709551615", 20), UINT64_MAX);
	ck_assert_uint_eq(ad_usn_since("123456", 3), 123);	/* the stored length counts */
	ck_assert_uint_eq(ad_usn_since("", 0), 0);
	ck_assert_uint_eq(ad_usn_since("-1", 2), 0);		/* strtoull: UINT64_MAX */
	ck_assert_uint_eq(ad_usn_since(" 7", 2), 0);		/* strtoull: 7 */
	ck_assert_uint_eq(ad_usn_since("12abc", 5), 0);		/* strtoull: 12 */
	ck_assert_uint_eq(ad_usn_since("18446744073709551616", 20), 0);	/* 2^64 */
	ck_assert_uint_eq(ad_usn_since("000000000000000000001", 21), 0);	/* too long */
}
END_TEST

/* The sync values syncrepl_parse() decodes, as slapd 2.5 sent them in
 * tests/fuzz/capture.sh's run (tests/fuzz/corpus/syncrepl). */
START_TEST(syncrepl_values)
{
	static const unsigned char state[] = { 0x30, 0x15, 0x0a, 0x01, 0x01, 0x04,
	    0x10, 0xf3, 0xdc, 0x04, 0x32, 0x84, 0x6f, 0x10, 0x41, 0x89, 0x7f, 0x3b,
	    0x5c, 0xe1, 0x12, 0xaa, 0xae };
	static const unsigned char done[] = { 0x30, 0x0b, 0x04, 0x06, 'r', 'i',
	    'd', '=', '0', '0', 0x01, 0x01, 0xff };
	static const unsigned char idset[] = { 0xa3, 0x17, 0x01, 0x01, 0xff, 0x31,
	    0x12, 0x04, 0x10, 0xf3, 0xf7, 0x84, 0x1e, 0x84, 0x6f, 0x10, 0x41, 0x89,
	    0x82, 0x3b, 0x5c, 0xe1, 0x12, 0xaa, 0xae };
	static const unsigned char deletes_end[] = { 0xa1, 0x00 };
	struct berval v;
	struct sync_event ev;
	int st = -1;

	memset(&ev, 0, sizeof(ev));
	v.bv_val = (char *)state, v.bv_len = sizeof(state);
	ck_assert_int_eq(syncrepl_decode_state(&v, &ev, &st), 0);
	ck_assert_int_eq(st, LDAP_SYNC_ADD);
	ck_assert_str_eq(ev.uuid, "f3dc0432-846f-1041-897f-3b5ce112aaae");
	ck_assert_ptr_null(ev.cookie.bv_val);
	v.bv_len = sizeof(state) - 1;	/* the uuid cut short */
	ck_assert_int_eq(syncrepl_decode_state(&v, &ev, &st), -1);
	sync_event_free(&ev);

	v.bv_val = (char *)done, v.bv_len = sizeof(done);
	syncrepl_decode_done(&v, &ev);
	ck_assert_int_eq(ev.refresh_deletes, 1);
	ck_assert_uint_eq(ev.cookie.bv_len, 6);
	sync_event_free(&ev);

	v.bv_val = (char *)idset, v.bv_len = sizeof(idset);
	ck_assert_int_eq(syncrepl_decode_info(&v, &ev), 0);
	ck_assert_int_eq(ev.type, SE_IDSET);
	ck_assert_int_eq(ev.refresh_deletes, 1);
	ck_assert_uint_eq(ev.nuuids, 1);
	ck_assert_str_eq(ev.uuids[0], "f3f7841e-846f-1041-8982-3b5ce112aaae");
	sync_event_free(&ev);

	v.bv_val = (char *)deletes_end, v.bv_len = sizeof(deletes_end);
	ck_assert_int_eq(syncrepl_decode_info(&v, &ev), 0);
	ck_assert_int_eq(ev.type, SE_DELETE_END);
	ck_assert_int_eq(ev.refresh_done, 1);	/* DEFAULT TRUE */
	sync_event_free(&ev);

	/* An empty value (a server may send one) is malformed, not a crash
	 * in liblber (found by tests/fuzz/fuzz_syncrepl.c). */
	v.bv_val = (char *)"", v.bv_len = 0;
	ck_assert_int_eq(syncrepl_decode_state(&v, &ev, &st), -1);
	ck_assert_int_eq(syncrepl_decode_info(&v, &ev), -1);
	syncrepl_decode_done(&v, &ev);
	ck_assert_int_eq(ev.refresh_deletes, 0);
	ck_assert_ptr_null(ev.cookie.bv_val);
	v.bv_val = NULL;
	ck_assert_int_eq(syncrepl_decode_state(&v, &ev, &st), -1);
	sync_event_free(&ev);
}
END_TEST

/* The DirSync response control's value, and an empty one (a crash inside
 * libldap before; found by tests/fuzz/fuzz_dirsync.c). */
START_TEST(dirsync_control_value)
{
	static const unsigned char value[] = { 0x30, 0x0c, 0x02, 0x01, 0x01,
	    0x02, 0x01, 0x00, 0x04, 0x04, 'c', 'o', 'o', 'k' };
	struct berval v = { sizeof(value), (char *)value }, cookie = { 0, NULL };
	LDAP *ld = NULL;
	int more = -1;

	ck_assert_int_eq(ldap_initialize(&ld, "ldap://127.0.0.1:9"), LDAP_SUCCESS);
	ck_assert_int_eq(ad_dirsync_decode(ld, &v, &more, &cookie), 0);
	ck_assert_int_eq(more, 1);
	ck_assert_uint_eq(cookie.bv_len, 4);
	ck_assert_mem_eq(cookie.bv_val, "cook", 4);
	ber_memfree(cookie.bv_val);
	v.bv_len = 0;
	ck_assert_int_eq(ad_dirsync_decode(ld, &v, &more, &cookie), -1);
	ck_assert_int_eq(more, 0);
	ck_assert_ptr_null(cookie.bv_val);
	v.bv_val = NULL;
	ck_assert_int_eq(ad_dirsync_decode(ld, &v, &more, &cookie), -1);
	v.bv_val = (char *)value, v.bv_len = 5;	/* cut short */
	ck_assert_int_eq(ad_dirsync_decode(ld, &v, &more, &cookie), -1);
	ck_assert_ptr_null(cookie.bv_val);
	ldap_unbind_ext_s(ld, NULL, NULL);
}
END_TEST

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
		expect_refused(a, 1, "mail contains a NUL byte at position 2");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "mailAlternateAddress", badalias, 1 } };
		expect_refused(a, 2, "mailAlternateAddress");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "displayName", latin1, 1 } };
		expect_refused(a, 2, "displayName is not valid UTF-8 (byte 0xF6 at "
		    "position 2)");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "sn", ctrl, 1 } };
		expect_refused(a, 2, "sn contains a control character (LF) at "
		    "position 5");
	}
	{
		struct dir_attr a[] = { { "mail", good, 1 }, { "displayName", big, 1 } };
		expect_refused(a, 2, "102400 bytes");
	}
	free(huge);
}
END_TEST

/* Item: what is wrong with a name is said, not "not valid UTF-8". */
START_TEST(name_reasons_precise)
{
	struct dir_value good[] = { V("a@example.org") };
	struct dir_value tab[] = { V("Alice\tSmith") };
	struct dir_value nul[] = { { "Ali\0ce", 7 } };
	struct dir_value esc[] = { V("\x1b[31mred") };
	struct dir_value del[] = { V("x\x7f") };
	struct dir_value rlo[] = { V("abc\xe2\x80\xae" "fed") };
	struct dir_value lf[] = { V("a@example.org\ncertsyncd: forged") };
	struct dir_attr a[] = { { "mail", good, 1 }, { "cn", NULL, 1 } };
	struct identity_map cn_map = map;

	cn_map.display_name = "cn";
	{
		struct identity id;
		char why[256];
		struct dir_entry e = { "uid=a,dc=x", "u-1", a, 2 };
		const struct { struct dir_value *v; const char *want; } cases[] = {
			{ tab, "cn contains a control character (TAB) at position 6" },
			{ nul, "cn contains a NUL byte at position 4" },
			{ esc, "cn contains a control character (ESC) at position 1" },
			{ del, "cn contains a control character (DEL) at position 2" },
			{ rlo, "cn contains U+202E (a bidirectional override) at position 4" },
		};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			a[1].values = cases[i].v;
			ck_assert_int_eq(identity_from_entry(&cn_map, &e, &id, why,
			    sizeof(why)), -1);
			ck_assert_str_eq(why, cases[i].want);
		}
		a[0].values = lf;
		a[1].values = good;
		ck_assert_int_eq(identity_from_entry(&cn_map, &e, &id, why, sizeof(why)), -1);
		ck_assert_str_eq(why, "mail contains a control character (LF) at "
		    "position 14");
	}
}
END_TEST

/* The profile's limits are checked when the entry becomes an identity. */
START_TEST(profile_checked)
{
	struct identity_map pmap = map;
	struct dir_value mail[] = { V("a@example.org") };
	struct dir_value name[1];
	struct dir_attr a[] = { { "mail", mail, 1 }, { "displayName", name, 1 } };
	struct dir_entry e = { "uid=a,dc=x", "u-1", a, 2 };
	struct identity id;
	char why[256], buf[300];

	pmap.subject = "CN=%{name},O=Example";
	/* 22 CJK characters: 66 bytes, but well within 64 characters. */
	buf[0] = '\0';
	for (int i = 0; i < 22; i++)
		strcat(buf, "\xe5\xb1\xb1");
	name[0] = (struct dir_value){ buf, strlen(buf) };
	ck_assert_int_eq(identity_from_entry(&pmap, &e, &id, why, sizeof(why)), 0);
	identity_free(&id);
	memset(buf, 'n', 65);
	name[0] = (struct dir_value){ buf, 65 };
	ck_assert_int_eq(identity_from_entry(&pmap, &e, &id, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "subject CN would be 65 characters long; RFC 5280 "
	    "allows at most 64");
	name[0] = (struct dir_value){ buf, 64 };
	ck_assert_int_eq(identity_from_entry(&pmap, &e, &id, why, sizeof(why)), 0);
	identity_free(&id);
	/* Without a template nothing beyond the values is checked. */
	name[0] = (struct dir_value){ buf, 65 };
	ck_assert_int_eq(identity_from_entry(&map, &e, &id, why, sizeof(why)), 0);
	identity_free(&id);
}
END_TEST

START_TEST(too_many_addresses)
{
	struct identity_map pmap = map;
	struct dir_value mails[ISSUE_ADDRESSES_MAX + 1];
	char text[ISSUE_ADDRESSES_MAX + 1][32];
	struct dir_attr a[] = { { "mail", mails, ISSUE_ADDRESSES_MAX } };
	struct dir_entry e = { "uid=a,dc=x", "u-1", a, 1 };
	struct identity id;
	char why[256];

	pmap.subject = "CN=%{name}";
	for (int i = 0; i <= ISSUE_ADDRESSES_MAX; i++) {
		snprintf(text[i], sizeof(text[i]), "alias%d@example.org", i);
		mails[i] = (struct dir_value){ text[i], strlen(text[i]) };
	}
	ck_assert_int_eq(identity_from_entry(&pmap, &e, &id, why, sizeof(why)), 0);
	ck_assert_uint_eq(id.addresses.n, ISSUE_ADDRESSES_MAX);
	identity_free(&id);
	a[0].nvalues++;
	ck_assert_int_eq(identity_from_entry(&pmap, &e, &id, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "101 addresses are more than a certificate carries "
	    "(at most 100)");
}
END_TEST

START_TEST(same_values)
{
	struct dir_value mail[] = { V("a@example.org"), V("b@example.org") };
	struct dir_value mail2[] = { V("a@example.org"), V("c@example.org") };
	struct dir_value dn[] = { V("A") }, dn2[] = { V("B") };
	struct dir_attr a[] = { { "mail", mail, 2 }, { "displayName", dn, 1 } };
	struct identity x, y;
	char why[256];

	ck_assert_int_eq(normalize(a, 2, &x, why), 0);
	ck_assert_int_eq(normalize(a, 2, &y, why), 0);
	ck_assert(identity_same(&x, &y));
	identity_free(&y);
	a[1].values = dn2;
	ck_assert_int_eq(normalize(a, 2, &y, why), 0);
	ck_assert(!identity_same(&x, &y));
	identity_free(&y);
	a[1].values = dn;
	a[0].values = mail2;
	ck_assert_int_eq(normalize(a, 2, &y, why), 0);
	ck_assert(!identity_same(&x, &y));
	identity_free(&y);
	identity_free(&x);
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
	tcase_add_test(tc, ad_proxy_addresses);
	tcase_add_test(tc, ad_bad_values);
	tcase_add_test(tc, ad_guid_text);
	tcase_add_test(tc, ds389_unique_id);
	tcase_add_test(tc, ds389_cookies);
	tcase_add_test(tc, ds389_flavor);
	tcase_add_test(tc, ad_copy_pack_merge);
	tcase_add_test(tc, ad_copy_nul_in_name);
	tcase_add_test(tc, ad_usn_checkpoint);
	tcase_add_test(tc, syncrepl_values);
	tcase_add_test(tc, dirsync_control_value);
	tcase_add_test(tc, name_fallbacks);
	tcase_add_test(tc, bad_entries);
	tcase_add_test(tc, no_uuid_refused);
	tcase_add_test(tc, name_reasons_precise);
	tcase_add_test(tc, profile_checked);
	tcase_add_test(tc, too_many_addresses);
	tcase_add_test(tc, same_values);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
