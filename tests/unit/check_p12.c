/*
 * check_p12.c - PKCS#12 with a password worked once (pki/p12.c): a file
 * opens again with its key and certificate, the fast way (no derivation)
 * and, for a file OpenSSL's PKCS12_create made, the standard way; a wrong
 * password opens neither; two files under one key share the salt and
 * have IVs of their own; the legacy profile still round-trips.  (The
 * integration tests open the files with OpenSSL, NSS, GnuTLS and gpgsm.)
 */
#include "config.h"

#include <check.h>
#include <string.h>

#include <openssl/pkcs12.h>

#include "pki/p12.h"
#include "testca.h"
#include "check_main.h"

static EVP_PKEY *key;
static X509 *cert;
static const unsigned char salt[P12_SALT_LEN] = "0123456789abcdef";

static void
setup(void)
{
	time_t now = time(NULL);

	/* A self-signed certificate stands for a user's: p12 does not care. */
	ck_assert_ptr_nonnull(cert = testca_make(&key, now - 60, now + 86400));
}

static void
teardown(void)
{
	EVP_PKEY_free(key);
	X509_free(cert);
}

/* der opens under k with our key and certificate. */
static void
opens(struct p12_key *k, const unsigned char *der, size_t len)
{
	EVP_PKEY *k2 = NULL;
	X509 *c2 = NULL;

	ck_assert_int_eq(p12_decode(k, der, len, "test", 1, &k2, &c2), 0);
	ck_assert_int_eq(EVP_PKEY_eq(k2, key), 1);
	ck_assert_int_eq(X509_cmp(c2, cert), 0);
	EVP_PKEY_free(k2);
	X509_free(c2);
}

START_TEST(round_trip)
{
	struct p12_key *k = NULL, *wrong = NULL;
	unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	EVP_PKEY *k2 = NULL;
	X509 *c2 = NULL;

	ck_assert_int_eq(p12_key_new("pass word", salt, 2048, P12_PROFILE_AES256, &k), 0);
	ck_assert_int_eq(p12_key_new("pass worD", salt, 2048, P12_PROFILE_AES256, &wrong), 0);
	ck_assert_int_eq(p12_key_is(k, "pass word"), 1);
	ck_assert_int_eq(p12_key_is(k, "pass wor"), 0);
	ck_assert_int_eq(p12_encode(k, key, cert, cert, "alice", &a, &alen), 0);
	ck_assert_int_eq(p12_encode(k, key, cert, NULL, "alice", &b, &blen), 0);
	opens(k, a, alen);
	opens(k, b, blen);
	/* The same password, salt and key: only the IV tells them apart. */
	ck_assert(alen != blen || memcmp(a, b, alen) != 0);
	ck_assert_int_eq(p12_decode(wrong, a, alen, "test", 1, &k2, &c2), -1);
	ck_assert_ptr_null(k2);
	ck_assert_ptr_null(c2);
	OPENSSL_free(a);
	OPENSSL_free(b);
	p12_key_free(k);
	p12_key_free(wrong);
}
END_TEST

/* A file OpenSSL made its own way (a salt per bag) opens the slow way. */
START_TEST(openssl_file)
{
	struct p12_key *k = NULL, *wrong = NULL;
	PKCS12 *p12 = PKCS12_create("pass word", "alice", key, cert, NULL, 0, 0,
	    2048, 2048, 0);
	unsigned char *der = NULL;
	EVP_PKEY *k2 = NULL;
	X509 *c2 = NULL;
	int len;

	ck_assert_ptr_nonnull(p12);
	ck_assert_int_gt(len = i2d_PKCS12(p12, &der), 0);
	ck_assert_int_eq(p12_key_new("pass word", salt, 2048, P12_PROFILE_AES256, &k), 0);
	ck_assert_int_eq(p12_key_new("nope", salt, 2048, P12_PROFILE_AES256, &wrong), 0);
	opens(k, der, (size_t)len);
	ck_assert_int_eq(p12_decode(wrong, der, (size_t)len, "test", 1, &k2, &c2), -1);
	ck_assert_int_eq(p12_decode(k, der, 10, "test", 1, &k2, &c2), -1);
	OPENSSL_free(der);
	PKCS12_free(p12);
	p12_key_free(k);
	p12_key_free(wrong);
}
END_TEST

/* A key moved from one file into another without being parsed (the
 * archive step), under another password, opens there the same. */
START_TEST(raw_move)
{
	struct p12_key *ks = NULL, *ar = NULL;
	unsigned char *a = NULL, *b = NULL;
	size_t alen = 0, blen = 0;
	unsigned char *der = NULL;
	struct p12_raw raw;
	struct p12_parts parts = { .friendly = "alice (archived)" };
	int n;

	ck_assert_int_eq(p12_key_new("keystore", salt, 2048, P12_PROFILE_AES256, &ks), 0);
	ck_assert_int_eq(p12_key_new("archive", NULL, 2048, P12_PROFILE_AES256, &ar), 0);
	ck_assert_int_eq(p12_encode(ks, key, cert, cert, "alice", &a, &alen), 0);
	ck_assert_int_eq(p12_decode_raw(ks, a, alen, "test", 1, &raw), 0);
	/* The key's certificate (not the CA's), byte for byte. */
	ck_assert_int_gt(n = i2d_X509(cert, &der), 0);
	ck_assert_uint_eq(raw.cert_len, (size_t)n);
	ck_assert_int_eq(memcmp(raw.cert, der, raw.cert_len), 0);
	parts.key = raw.p8;
	parts.key_len = raw.p8len;
	parts.cert = raw.cert;
	parts.cert_len = raw.cert_len;
	ck_assert_int_eq(p12_encode_parts(ar, &parts, &b, &blen), 0);
	p12_raw_free(&raw);
	opens(ar, b, blen);
	/* Under the archive's password only. */
	ck_assert_int_eq(p12_decode_raw(ks, b, blen, "test", 1, &raw), -1);
	ck_assert_ptr_null(raw.p8);
	OPENSSL_free(a);
	OPENSSL_free(b);
	OPENSSL_free(der);
	p12_key_free(ks);
	p12_key_free(ar);
}
END_TEST

START_TEST(legacy_profile)
{
	struct p12_key *k = NULL;
	unsigned char *der = NULL;
	size_t len = 0;

	ck_assert_int_eq(p12_key_new("pass word", NULL, 2048, P12_PROFILE_LEGACY, &k), 0);
	ck_assert_int_eq(p12_encode(k, key, cert, NULL, "alice", &der, &len), 0);
	opens(k, der, len);
	OPENSSL_free(der);
	p12_key_free(k);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("p12");
	TCase *tc = tcase_create("p12");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, openssl_file);
	tcase_add_test(tc, legacy_profile);
	tcase_add_test(tc, raw_move);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
