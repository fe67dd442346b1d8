/*
 * check_smime.c - the userSMIMECertificate value (pki/smime_value.c): it
 * verifies against the CA, its signer is the signing certificate, its
 * attributes name the encryption certificate in both forms and list the
 * capabilities in order, every SET OF is in DER order, signingTime picks
 * UTCTime or GeneralizedTime by year; the certs-only form has no signer
 * and no content.  (tests/integration/smime_value.py reads the same value
 * with a parser of its own.)
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/pkcs7.h>

#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/smime_value.h"
#include "store/store.h"
#include "testca.h"
#include "check_main.h"

#define DAY 86400

static struct conf *conf;
static EVP_PKEY *ca_key, *sign_key, *enc_key;
static X509 *ca, *sign_cert, *enc_cert;
static struct address_list addrs;
static time_t now;

static X509 *
build(EVP_PKEY *key, enum cert_kind kind)
{
	struct issue_request req = {
		.key = key, .kind = kind, .addresses = &addrs, .now = now,
		.vars = { .name = "Alice Example", .mail = addrs.v[0] },
	};
	char why[256];
	X509 *cert = NULL;

	ck_assert_int_eq(issue_build(conf, ca, &req, &cert, why, sizeof(why)), 0);
	/* As the signer does: it looks at the extensions first, which caches
	 * facts about the still unsigned certificate. */
	ck_assert_int_eq(X509_check_ca(cert), 0);
	ck_assert_int_gt(X509_sign(cert, ca_key, EVP_sha256()), 0);
	return cert;
}

static void
setup(void)
{
	const char *why;

	now = time(NULL);
	conf = testca_conf();
	ca = testca_make(&ca_key, now - DAY, now + 3650 * DAY);
	address_list_add(&addrs, address_normalize("alice@example.test", &why));
	sign_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	enc_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	sign_cert = build(sign_key, CERT_KIND_SIGNING);
	enc_cert = build(enc_key, CERT_KIND_ENCRYPTION);
}

static void
teardown(void)
{
	X509_free(sign_cert);
	X509_free(enc_cert);
	X509_free(ca);
	EVP_PKEY_free(sign_key);
	EVP_PKEY_free(enc_key);
	EVP_PKEY_free(ca_key);
	address_list_free(&addrs);
	testca_conf_free(conf);
}

static CMS_ContentInfo *
value_of(X509 *signer, EVP_PKEY *key, X509 *enc, time_t when, unsigned char **der,
    size_t *len)
{
	struct smime_parts parts = { key, signer, enc, ca, when };
	const unsigned char *p;

	ck_assert_int_eq(smime_value_signed(&parts, der, len), 0);
	p = *der;
	return d2i_CMS_ContentInfo(NULL, &p, (long)*len);
}

static CMS_SignerInfo *
signer_info(CMS_ContentInfo *cms)
{
	STACK_OF(CMS_SignerInfo) *sis = CMS_get0_SignerInfos(cms);

	ck_assert_int_eq(sk_CMS_SignerInfo_num(sis), 1);
	return sk_CMS_SignerInfo_value(sis, 0);
}

/* X.690 11.6: a SET OF's encodings ascend as octet strings, the shorter
 * padded with zeros at its end. */
static int
der_le(const unsigned char *a, int alen, const unsigned char *b, int blen)
{
	for (int i = 0; i < (alen > blen ? alen : blen); i++) {
		int x = i < alen ? a[i] : 0, y = i < blen ? b[i] : 0;

		if (x != y)
			return x < y;
	}
	return 1;
}

/* The certificates in the order the value holds them ascend. */
static void
assert_certs_sorted(CMS_ContentInfo *cms, int want)
{
	STACK_OF(X509) *certs = CMS_get1_certs(cms);
	unsigned char *prev = NULL;
	int prev_len = 0;

	ck_assert_int_eq(sk_X509_num(certs), want);
	for (int i = 0; i < sk_X509_num(certs); i++) {
		unsigned char *der = NULL;
		int len = i2d_X509(sk_X509_value(certs, i), &der);

		ck_assert(prev == NULL || der_le(prev, prev_len, der, len));
		OPENSSL_free(prev);
		prev = der;
		prev_len = len;
	}
	OPENSSL_free(prev);
	sk_X509_pop_free(certs, X509_free);
}

/* The value of a signed attribute, as the whole DER of its one value. */
static const ASN1_STRING *
attr_value(CMS_SignerInfo *si, ASN1_OBJECT *type, int want_type)
{
	int i = CMS_signed_get_attr_by_OBJ(si, type, -1);
	X509_ATTRIBUTE *a;
	ASN1_TYPE *t;

	ck_assert_int_ge(i, 0);
	a = CMS_signed_get_attr(si, i);
	ck_assert_int_eq(X509_ATTRIBUTE_count(a), 1);
	t = X509_ATTRIBUTE_get0_type(a, 0);
	ck_assert_int_eq(t->type, want_type);
	return t->value.asn1_string;
}

/* issuer and serial of an IssuerAndSerialNumber's contents match cert's. */
static void
assert_names(const unsigned char *p, long len, X509 *cert)
{
	const unsigned char *end = p + len;
	X509_NAME *name = d2i_X509_NAME(NULL, &p, end - p);
	ASN1_INTEGER *serial = d2i_ASN1_INTEGER(NULL, &p, end - p);

	ck_assert_ptr_nonnull(name);
	ck_assert_ptr_nonnull(serial);
	ck_assert_ptr_eq(p, end);
	ck_assert_int_eq(X509_NAME_cmp(name, X509_get_issuer_name(cert)), 0);
	ck_assert_int_eq(ASN1_INTEGER_cmp(serial, X509_get0_serialNumber(cert)), 0);
	X509_NAME_free(name);
	ASN1_INTEGER_free(serial);
}

/* The [0] choice and the Microsoft SEQUENCE both name cert. */
static void
assert_key_preference(CMS_SignerInfo *si, X509 *cert)
{
	ASN1_OBJECT *pref = OBJ_nid2obj(NID_id_smime_aa_encrypKeyPref);
	ASN1_OBJECT *ms = OBJ_txt2obj("1.3.6.1.4.1.311.16.4", 1);
	const ASN1_STRING *v;
	const unsigned char *p;
	long len;
	int tag, xclass;

	v = attr_value(si, pref, V_ASN1_OTHER);
	p = v->data;
	ck_assert_int_eq(ASN1_get_object(&p, &len, &tag, &xclass, v->length) & 0x80, 0);
	ck_assert_int_eq(v->data[0], 0xA0);	/* [0] IMPLICIT, constructed */
	assert_names(p, len, cert);
	v = attr_value(si, ms, V_ASN1_SEQUENCE);
	p = v->data;
	ck_assert_int_eq(ASN1_get_object(&p, &len, &tag, &xclass, v->length) & 0x80, 0);
	ck_assert_int_eq(tag, V_ASN1_SEQUENCE);
	assert_names(p, len, cert);
	ASN1_OBJECT_free(ms);
}

START_TEST(signed_value_verifies_and_names_its_signer)
{
	unsigned char *der = NULL, *again = NULL;
	size_t len = 0;
	CMS_ContentInfo *cms = value_of(sign_cert, sign_key, enc_cert, now, &der, &len);
	X509_STORE *store = X509_STORE_new();
	BIO *out = BIO_new(BIO_s_mem());
	STACK_OF(X509) *signers;
	char *content = NULL;
	long n;

	ck_assert_ptr_nonnull(cms);
	ck_assert_int_eq(OBJ_obj2nid(CMS_get0_type(cms)), NID_pkcs7_signed);
	X509_STORE_add_cert(store, ca);
	ck_assert_int_eq(CMS_verify(cms, NULL, store, NULL, out, CMS_BINARY), 1);
	n = BIO_get_mem_data(out, &content);
	ck_assert_int_eq(n, 10);
	ck_assert_int_eq(memcmp(content, "Empty Body", 10), 0);
	signers = CMS_get0_signers(cms);
	ck_assert_int_eq(sk_X509_num(signers), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(signers, 0), sign_cert), 0);
	sk_X509_free(signers);
	assert_certs_sorted(cms, 3);
	/* OpenSSL re-encodes what it decoded in DER: the same bytes. */
	ck_assert_int_eq(i2d_CMS_ContentInfo(cms, &again), (int)len);
	ck_assert_int_eq(memcmp(again, der, len), 0);
	OPENSSL_free(again);
	BIO_free(out);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	free(der);
}
END_TEST

START_TEST(signed_attributes_name_the_encryption_certificate)
{
	unsigned char *der = NULL;
	size_t len = 0;
	CMS_ContentInfo *cms = value_of(sign_cert, sign_key, enc_cert, now, &der, &len);
	CMS_SignerInfo *si = signer_info(cms);
	const ASN1_STRING *caps;
	const unsigned char *p;
	STACK_OF(X509_ALGOR) *algs;
	static const int want[] = { NID_aes_256_cbc, NID_aes_192_cbc, NID_aes_128_cbc };

	/* contentType, signingTime, messageDigest, capabilities, two preferences */
	ck_assert_int_eq(CMS_signed_get_attr_count(si), 6);
	ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_pkcs9_contentType, -1), 0);
	ck_assert_int_ge(CMS_signed_get_attr_by_NID(si, NID_pkcs9_messageDigest, -1), 0);
	assert_key_preference(si, enc_cert);
	caps = attr_value(si, OBJ_nid2obj(NID_SMIMECapabilities), V_ASN1_SEQUENCE);
	p = caps->data;
	algs = d2i_X509_ALGORS(NULL, &p, caps->length);
	ck_assert_int_eq(sk_X509_ALGOR_num(algs), 3);
	for (int i = 0; i < 3; i++) {
		const ASN1_OBJECT *oid;
		int ptype;

		X509_ALGOR_get0(&oid, &ptype, NULL, sk_X509_ALGOR_value(algs, i));
		ck_assert_int_eq(OBJ_obj2nid(oid), want[i]);
		ck_assert_int_eq(ptype, V_ASN1_UNDEF);	/* parameters absent */
	}
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	CMS_ContentInfo_free(cms);
	free(der);
}
END_TEST

START_TEST(dual_key_signs_and_names_itself)
{
	unsigned char *der = NULL;
	size_t len = 0;
	X509 *dual = build(sign_key, CERT_KIND_DUAL);
	CMS_ContentInfo *cms = value_of(dual, sign_key, dual, now, &der, &len);
	X509_STORE *store = X509_STORE_new();
	STACK_OF(X509) *signers;

	X509_STORE_add_cert(store, ca);
	ck_assert_int_eq(CMS_verify(cms, NULL, store, NULL, NULL, CMS_BINARY), 1);
	signers = CMS_get0_signers(cms);
	ck_assert_int_eq(sk_X509_num(signers), 1);
	ck_assert_int_eq(X509_cmp(sk_X509_value(signers, 0), dual), 0);
	sk_X509_free(signers);
	assert_certs_sorted(cms, 2);
	assert_key_preference(signer_info(cms), dual);
	X509_STORE_free(store);
	CMS_ContentInfo_free(cms);
	X509_free(dual);
	free(der);
}
END_TEST

/* The signingTime's ASN.1 type for a value signed at when. */
static int
signing_time_type(time_t when)
{
	unsigned char *der = NULL;
	size_t len = 0;
	CMS_ContentInfo *cms = value_of(sign_cert, sign_key, enc_cert, when, &der, &len);
	CMS_SignerInfo *si = signer_info(cms);
	X509_ATTRIBUTE *a = CMS_signed_get_attr(si,
	    CMS_signed_get_attr_by_NID(si, NID_pkcs9_signingTime, -1));
	int type = X509_ATTRIBUTE_get0_type(a, 0)->type;

	CMS_ContentInfo_free(cms);
	free(der);
	return type;
}

START_TEST(signing_time_utc_until_2049)
{
	ck_assert_int_eq(signing_time_type(2524607999), V_ASN1_UTCTIME);	/* 2049-12-31 */
	ck_assert_int_eq(signing_time_type(2524608000), V_ASN1_GENERALIZEDTIME);
}
END_TEST

static void
row_of(struct cert_row *r, X509 *cert)
{
	size_t len = 0;

	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(certinfo_der(cert, &r->der, &len), 0);
	r->der_len = len;
}

START_TEST(certs_only_has_no_signer_and_no_content)
{
	struct cert_row v[2];
	struct cert_rows rows = { v, 2 };
	unsigned char *der = NULL;
	const unsigned char *p;
	size_t len = 0;
	CMS_ContentInfo *cms;
	ASN1_OCTET_STRING **content;

	row_of(&v[0], sign_cert);
	row_of(&v[1], enc_cert);
	ck_assert_int_eq(smime_value_certs_only(&rows, ca, &der, &len), 0);
	p = der;
	cms = d2i_CMS_ContentInfo(NULL, &p, (long)len);
	ck_assert_ptr_nonnull(cms);
	ck_assert_int_eq(sk_CMS_SignerInfo_num(CMS_get0_SignerInfos(cms)), 0);
	content = CMS_get0_content(cms);
	ck_assert(content == NULL || *content == NULL);
	assert_certs_sorted(cms, 3);
	CMS_ContentInfo_free(cms);
	OPENSSL_free(v[0].der);
	OPENSSL_free(v[1].der);
	free(der);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("smime_value");
	TCase *tc = tcase_create("value");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, signed_value_verifies_and_names_its_signer);
	tcase_add_test(tc, signed_attributes_name_the_encryption_certificate);
	tcase_add_test(tc, dual_key_signs_and_names_itself);
	tcase_add_test(tc, signing_time_utc_until_2049);
	tcase_add_test(tc, certs_only_has_no_signer_and_no_content);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
