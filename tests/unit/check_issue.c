/*
 * check_issue.c - the S/MIME profile: serials, validity capping, subject
 * templates, extensions by kind and key type.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/x509v3.h>

#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/spki.h"
#include "testca.h"
#include "check_main.h"

#define DAY 86400

static struct conf *conf;
static EVP_PKEY *ca_key, *rsa_key, *ec_key;
static X509 *ca;
static time_t now;

static void
setup(void)
{
	now = time(NULL);
	conf = testca_conf();
	ca = testca_make(&ca_key, now - DAY, now + 3650 * DAY);
	ck_assert_ptr_nonnull(ca);
}

static void
teardown(void)
{
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	testca_conf_free(conf);
}

/* Keys are slow to make: one of each for the whole run. */
static void
make_keys(void)
{
	if (rsa_key == NULL)
		rsa_key = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	if (ec_key == NULL)
		ec_key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
}

static struct address_list list;

static struct address_list *
addrs(const char *a, const char *b)
{
	const char *why;

	address_list_free(&list);
	address_list_add(&list, address_normalize(a, &why));
	if (b != NULL)
		address_list_add(&list, address_normalize(b, &why));
	return &list;
}

static char build_why[256];

static X509 *
build(EVP_PKEY *key, enum cert_kind kind, const struct address_list *al,
    const char *name, const char **why)
{
	struct issue_request req = {
		.key = key, .kind = kind, .addresses = al, .now = now,
		.vars = { .name = name, .mail = al->v[0] },
	};
	X509 *cert = NULL;

	*why = build_why;
	if (issue_build(conf, ca, &req, &cert, build_why, sizeof(build_why)) != 0)
		return NULL;
	ck_assert_int_eq(X509_sign(cert, ca_key, EVP_sha256()) > 0, 1);
	return cert;
}

static uint32_t
ku(X509 *cert)
{
	return X509_get_key_usage(cert);
}

static int
ext_critical(X509 *cert, int nid)
{
	int i = X509_get_ext_by_NID(cert, nid, -1);

	ck_assert_int_ge(i, 0);
	return X509_EXTENSION_get_critical(X509_get_ext(cert, i));
}

START_TEST(serial_random_positive_20_octets)
{
	char *seen[64];

	for (int i = 0; i < 64; i++) {
		ASN1_INTEGER *s = issue_serial();
		BIGNUM *bn = ASN1_INTEGER_to_BN(s, NULL);

		ck_assert_int_eq(BN_is_negative(bn), 0);
		ck_assert_int_eq(BN_num_bytes(bn), 20);
		ck_assert_int_ge(BN_num_bits(bn), 159);	/* top bits 01: 159 bits long */
		seen[i] = BN_bn2hex(bn);
		for (int j = 0; j < i; j++)
			ck_assert_str_ne(seen[i], seen[j]);
		BN_free(bn);
		ASN1_INTEGER_free(s);
	}
	for (int i = 0; i < 64; i++)
		OPENSSL_free(seen[i]);
}
END_TEST

START_TEST(validity_backdated_and_capped)
{
	time_t nb, na;
	const char *why = NULL;
	EVP_PKEY *k2;
	X509 *short_ca;

	ck_assert_int_eq(issue_validity(conf, ca, now, &nb, &na, &why), 0);
	ck_assert_int_eq(nb, now - 5 * 60);
	ck_assert_int_eq(na, now + 365 * DAY);

	/* A CA with 30 days left caps the certificate at its own notAfter. */
	short_ca = testca_make(&k2, now - DAY, now + 30 * DAY);
	ck_assert_int_eq(issue_validity(conf, short_ca, now, &nb, &na, &why), 0);
	ck_assert_int_eq(na, now + 30 * DAY);
	X509_free(short_ca);
	EVP_PKEY_free(k2);

	/* notBefore never precedes the CA's. */
	short_ca = testca_make(&k2, now - 60, now + DAY);
	ck_assert_int_eq(issue_validity(conf, short_ca, now, &nb, &na, &why), 0);
	ck_assert_int_eq(nb, now - 60);
	X509_free(short_ca);
	EVP_PKEY_free(k2);

	/* An expired CA, and one not yet valid, cannot issue; only time
	 * cures the second. */
	short_ca = testca_make(&k2, now - 10 * DAY, now - DAY);
	ck_assert_int_eq(issue_validity(conf, short_ca, now, &nb, &na, &why), -2);
	ck_assert_ptr_nonnull(strstr(why, "expired"));
	X509_free(short_ca);
	EVP_PKEY_free(k2);
	short_ca = testca_make(&k2, now + DAY, now + 10 * DAY);
	ck_assert_int_eq(issue_validity(conf, short_ca, now, &nb, &na, &why), -1);
	ck_assert_ptr_nonnull(strstr(why, "not valid yet"));
	X509_free(short_ca);
	EVP_PKEY_free(k2);
}
END_TEST

START_TEST(built_certificate_notafter_never_past_ca)
{
	const char *why;
	EVP_PKEY *k2;
	X509 *cert, *saved = ca;
	time_t na, ca_na;

	make_keys();
	ca = testca_make(&k2, now - DAY, now + 10 * DAY);
	cert = build(ec_key, CERT_KIND_ENCRYPTION, addrs("a@example.org", NULL), "A", &why);
	ck_assert_ptr_nonnull(cert);
	certinfo_time(X509_get0_notAfter(cert), &na);
	certinfo_time(X509_get0_notAfter(ca), &ca_na);
	ck_assert_int_eq(na, ca_na);
	ck_assert_int_eq(X509_verify(cert, k2), 0);	/* signed by the other key */
	X509_free(cert);
	X509_free(ca);
	EVP_PKEY_free(k2);
	ca = saved;
}
END_TEST

START_TEST(encryption_rsa_profile)
{
	const char *why = NULL;
	X509 *cert;
	char *emails, *subject;

	make_keys();
	cert = build(rsa_key, CERT_KIND_ENCRYPTION,
	    addrs("Alice@Example.ORG", "al@example.org"), "Alice Example", &why);
	ck_assert_msg(cert != NULL, "%s", why ? why : "?");
	ck_assert_int_eq(X509_get_version(cert), X509_VERSION_3);
	ck_assert_uint_eq(ku(cert), KU_KEY_ENCIPHERMENT);
	ck_assert_int_eq(ext_critical(cert, NID_key_usage), 1);
	ck_assert_int_eq(ext_critical(cert, NID_basic_constraints), 1);
	ck_assert_int_eq(X509_check_ca(cert), 0);
	ck_assert_uint_eq(X509_get_extended_key_usage(cert), XKU_SMIME);
	ck_assert_int_eq(ext_critical(cert, NID_subject_alt_name), 0);
	emails = certinfo_emails(cert);
	ck_assert_str_eq(emails, "Alice@example.org, al@example.org");
	subject = certinfo_name(X509_get_subject_name(cert));
	ck_assert_str_eq(subject, "CN=Alice Example");
	ck_assert_ptr_nonnull(X509_get0_subject_key_id(cert));
	ck_assert_int_eq(ASN1_OCTET_STRING_cmp(X509_get0_authority_key_id(cert),
	    X509_get0_subject_key_id(ca)), 0);
	ck_assert_int_lt(X509_get_ext_by_NID(cert, NID_crl_distribution_points, -1), 0);
	ck_assert_int_lt(X509_get_ext_by_NID(cert, NID_info_access, -1), 0);
	ck_assert_int_eq(X509_verify(cert, ca_key), 1);
	free(emails);
	free(subject);
	X509_free(cert);
}
END_TEST

START_TEST(key_usage_by_kind_and_key)
{
	const char *why;
	X509 *c;
	struct address_list *al;

	make_keys();
	al = addrs("a@example.org", NULL);
	c = build(ec_key, CERT_KIND_ENCRYPTION, al, "A", &why);
	ck_assert_uint_eq(ku(c), KU_KEY_AGREEMENT);
	X509_free(c);
	c = build(ec_key, CERT_KIND_SIGNING, al, "A", &why);
	ck_assert_uint_eq(ku(c), KU_DIGITAL_SIGNATURE);
	X509_free(c);
	conf->certificates.non_repudiation = 1;
	c = build(rsa_key, CERT_KIND_SIGNING, al, "A", &why);
	ck_assert_uint_eq(ku(c), KU_DIGITAL_SIGNATURE | KU_NON_REPUDIATION);
	X509_free(c);
	conf->certificates.non_repudiation = 0;
	c = build(rsa_key, CERT_KIND_DUAL, al, "A", &why);
	ck_assert_uint_eq(ku(c), KU_DIGITAL_SIGNATURE | KU_KEY_ENCIPHERMENT);
	X509_free(c);
	c = build(ec_key, CERT_KIND_DUAL, al, "A", &why);
	ck_assert_uint_eq(ku(c), KU_DIGITAL_SIGNATURE | KU_KEY_AGREEMENT);
	X509_free(c);
}
END_TEST

START_TEST(crl_dp_and_aia_when_configured)
{
	const char *why;
	X509 *c;
	STACK_OF(DIST_POINT) *dps;
	AUTHORITY_INFO_ACCESS *aia;

	make_keys();
	conf->certificates.crl_url = strdup("http://pki.example.org/ca.crl");
	conf->certificates.aia_url = strdup("http://pki.example.org/ca.crt");
	c = build(ec_key, CERT_KIND_SIGNING, addrs("a@example.org", NULL), "A", &why);
	dps = X509_get_ext_d2i(c, NID_crl_distribution_points, NULL, NULL);
	ck_assert_int_eq(sk_DIST_POINT_num(dps), 1);
	aia = X509_get_ext_d2i(c, NID_info_access, NULL, NULL);
	ck_assert_int_eq(sk_ACCESS_DESCRIPTION_num(aia), 1);
	ck_assert_int_eq(OBJ_obj2nid(sk_ACCESS_DESCRIPTION_value(aia, 0)->method),
	    NID_ad_ca_issuers);
	sk_DIST_POINT_pop_free(dps, DIST_POINT_free);
	AUTHORITY_INFO_ACCESS_free(aia);
	X509_free(c);
}
END_TEST

static char subject_why[256];

static char *
subject_of(const char *tmpl, const struct subject_vars *v, const char **why)
{
	X509_NAME *name = NULL;
	char *s;

	subject_why[0] = '\0';
	*why = subject_why;
	if (issue_subject(tmpl, v, &name, subject_why, sizeof(subject_why)) == -1)
		return NULL;
	s = certinfo_name(name);
	X509_NAME_free(name);
	return s;
}

START_TEST(subject_templates)
{
	struct subject_vars v = { .name = "Smith, Alice", .given = "Alice",
	    .sn = "Smith", .mail = "a@example.org", .uid = "asmith" };
	const char *why = NULL;
	char *s;

	/* A comma inside a value stays inside it. */
	s = subject_of("CN=%{name},O=Example", &v, &why);
	ck_assert_str_eq(s, "CN=Smith\\, Alice,O=Example");
	free(s);
	s = subject_of("CN=%{given} %{sn} (%{uid}),OU=People", &v, &why);
	ck_assert_str_eq(s, "CN=Alice Smith (asmith),OU=People");
	free(s);
	/* An empty value leaves its attribute out. */
	v.uid = NULL;
	s = subject_of("CN=%{name},OU=%{uid}", &v, &why);
	ck_assert_str_eq(s, "CN=Smith\\, Alice");
	free(s);
	ck_assert_ptr_null(subject_of("CN=%{nope}", &v, &why));
	ck_assert_ptr_nonnull(strstr(why, "unknown variable"));
	ck_assert_ptr_null(subject_of("CN", &v, &why));
	ck_assert_ptr_nonnull(strstr(why, "without '='"));
	v.name = "J\xc3\xb6rg M\xc3\xbcller";
	s = subject_of("CN=%{name}", &v, &why);
	ck_assert_ptr_nonnull(s);
	free(s);
	v.name = "bad \xff byte";
	ck_assert_ptr_null(subject_of("CN=%{name}", &v, &why));
	ck_assert_ptr_nonnull(strstr(why, "UTF-8"));
	v.name = "0123456789012345678901234567890123456789012345678901234567890123456789";
	ck_assert_ptr_null(subject_of("CN=%{name}", &v, &why));
	ck_assert_ptr_nonnull(strstr(why, "64"));
}
END_TEST

START_TEST(empty_subject_makes_san_critical)
{
	const char *why;
	X509 *c;

	make_keys();
	free(conf->certificates.subject);
	conf->certificates.subject = strdup("CN=%{uid}");
	c = build(ec_key, CERT_KIND_SIGNING, addrs("a@example.org", NULL), "A", &why);
	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(X509_NAME_entry_count(X509_get_subject_name(c)), 0);
	ck_assert_int_eq(ext_critical(c, NID_subject_alt_name), 1);
	X509_free(c);
}
END_TEST

START_TEST(refuses_without_addresses)
{
	struct address_list empty = { 0 };
	struct issue_request req = { .key = NULL, .addresses = &empty, .now = now };
	char why[256];
	X509 *c = NULL;

	make_keys();
	req.key = ec_key;
	ck_assert_int_eq(issue_build(conf, ca, &req, &c, why, sizeof(why)), -2);
	ck_assert_ptr_null(c);
	ck_assert_ptr_nonnull(strstr(why, "no email address"));
}
END_TEST

/* n copies of the UTF-8 character ch, in a static buffer. */
static const char *
repeat(const char *ch, int n)
{
	static char buf[1024];

	buf[0] = '\0';
	for (int i = 0; i < n; i++)
		strcat(buf, ch);
	return buf;
}

/* The subject's CN as certinfo spells it, or NULL with *why. */
static char *
cn_of(const char *name, const char **why)
{
	struct subject_vars v = { .name = name };

	return subject_of("CN=%{name}", &v, why);
}

/* RFC 5280's upper bounds count characters, not UTF-8 bytes. */
START_TEST(bounds_count_characters)
{
	const char *why = NULL;
	char *s;

	/* 22 CJK characters (66 bytes), 33 x e-acute (66 bytes), 64 ASCII. */
	ck_assert_ptr_nonnull(s = cn_of(repeat("\xe5\xb1\xb1", 22), &why));
	free(s);
	ck_assert_ptr_nonnull(s = cn_of(repeat("\xc3\xa9", 33), &why));
	free(s);
	ck_assert_ptr_nonnull(s = cn_of(repeat("a", 64), &why));
	free(s);
	/* 64 emoji: 256 bytes, 64 characters. */
	ck_assert_ptr_nonnull(s = cn_of(repeat("\xf0\x9f\x98\x80", 64), &why));
	free(s);
	ck_assert_ptr_nonnull(s = cn_of(repeat("\xc3\xa9", 64), &why));
	free(s);
	/* 65 characters, whichever: refused, and the reason says so. */
	ck_assert_ptr_null(cn_of(repeat("a", 65), &why));
	ck_assert_str_eq(why, "subject CN would be 65 characters long; RFC 5280 "
	    "allows at most 64");
	ck_assert_ptr_null(cn_of(repeat("\xe5\xb1\xb1", 65), &why));
	ck_assert_str_eq(why, "subject CN would be 65 characters long; RFC 5280 "
	    "allows at most 64");
}
END_TEST

START_TEST(bounds_per_attribute)
{
	struct subject_vars v = { .name = "A", .uid = "x" };
	const char *why = NULL;
	char *s;

	/* L and ST: 128 characters; O and OU: 64. */
	v.uid = repeat("\xc3\xa9", 128);
	ck_assert_ptr_nonnull(s = subject_of("CN=%{name},L=%{uid}", &v, &why));
	free(s);
	ck_assert_ptr_nonnull(s = subject_of("CN=%{name},ST=%{uid}", &v, &why));
	free(s);
	ck_assert_ptr_null(subject_of("CN=%{name},O=%{uid}", &v, &why));
	ck_assert_str_eq(why, "subject O would be 128 characters long; RFC 5280 "
	    "allows at most 64");
	ck_assert_ptr_null(subject_of("CN=%{name},OU=%{uid}", &v, &why));
	ck_assert_ptr_nonnull(strstr(why, "subject OU would be 128"));
	v.uid = repeat("\xc3\xa9", 129);
	ck_assert_ptr_null(subject_of("CN=%{name},L=%{uid}", &v, &why));
	ck_assert_str_eq(why, "subject L would be 129 characters long; RFC 5280 "
	    "allows at most 128");
	/* serialNumber: a PrintableString of at most 64. */
	v.uid = "E-1234 (x)";
	ck_assert_ptr_nonnull(s = subject_of("CN=%{name},serialNumber=%{uid}", &v, &why));
	free(s);
	v.uid = "a_b";
	ck_assert_ptr_null(subject_of("CN=%{name},serialNumber=%{uid}", &v, &why));
	ck_assert_ptr_nonnull(strstr(why, "subject serialNumber has a character at "
	    "position 2 that a PrintableString"));
	v.uid = "\xc3\xa9t\xc3\xa9";
	ck_assert_ptr_null(subject_of("CN=%{name},serialNumber=%{uid}", &v, &why));
	ck_assert_ptr_nonnull(strstr(why, "position 1"));
	/* C: exactly 2 characters. */
	v.uid = "DEU";
	ck_assert_ptr_null(subject_of("CN=%{name},C=%{uid}", &v, &why));
	ck_assert_str_eq(why, "subject C would be 3 characters long; it must be "
	    "exactly 2");
	v.uid = "DE";
	ck_assert_ptr_nonnull(s = subject_of("CN=%{name},C=%{uid}", &v, &why));
	free(s);
	/* emailAddress: ASCII only. */
	v.mail = "a@example.org";
	ck_assert_ptr_nonnull(s = subject_of("CN=%{name},emailAddress=%{mail}", &v, &why));
	free(s);
}
END_TEST

START_TEST(subject_text_reasons)
{
	const char *why = NULL;

	ck_assert_ptr_null(cn_of("Alice\tExample", &why));
	ck_assert_str_eq(why, "subject CN contains a control character (TAB) at "
	    "position 6");
	ck_assert_ptr_null(cn_of("evil\xe2\x80\xae", &why));
	ck_assert_str_eq(why, "subject CN contains U+202E (a bidirectional "
	    "override) at position 5");
	ck_assert_ptr_null(cn_of("bad \xff", &why));
	ck_assert_str_eq(why, "subject CN is not valid UTF-8 (byte 0xFF at "
	    "position 5)");
}
END_TEST

START_TEST(check_caps_addresses)
{
	struct subject_vars v = { .name = "Many Aliases" };
	struct address_list many = { 0 };
	char why[256], addr[64];

	for (int i = 0; i < ISSUE_ADDRESSES_MAX; i++) {
		snprintf(addr, sizeof(addr), "a%d@example.org", i);
		address_list_add(&many, strdup(addr));
	}
	ck_assert_int_eq(issue_check("CN=%{name}", &v, &many, why, sizeof(why)), 0);
	address_list_add(&many, strdup("one.more@example.org"));
	ck_assert_int_eq(issue_check("CN=%{name}", &v, &many, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "101 addresses are more than a certificate carries "
	    "(at most 100)");
	address_list_free(&many);
	ck_assert_int_eq(issue_check("CN=%{name}", &v, &many, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "there is no email address to certify");
}
END_TEST

/* What the profile refuses is permanent (-2); a CA not valid yet is not. */
/* The AKI read from the DER (certinfo_der.c, what reconcile compares
 * with the CA's key id) is the one OpenSSL parses; a certificate without
 * one, and bytes that are no certificate, give none. */
START_TEST(aki_from_der)
{
	const char *why;
	X509 *cert = build(ec_key, CERT_KIND_SIGNING, addrs("a@example.org", NULL),
	    "A", &why);
	const ASN1_OCTET_STRING *id;
	unsigned char *der = NULL;
	char *hex, want[128] = "";
	int n;

	ck_assert_ptr_nonnull(cert);
	ck_assert_ptr_nonnull(id = X509_get0_authority_key_id(cert));
	for (int i = 0; i < ASN1_STRING_length(id); i++)
		snprintf(want + 2 * i, 3, "%02X", ASN1_STRING_get0_data(id)[i]);
	ck_assert_int_gt(n = i2d_X509(cert, &der), 0);
	ck_assert_ptr_nonnull(hex = certinfo_aki_hex(der, (size_t)n));
	ck_assert_str_eq(hex, want);
	free(hex);
	ck_assert_ptr_null(certinfo_aki_hex(der, (size_t)n / 2));
	OPENSSL_free(der);
	der = NULL;
	/* The self-signed CA made by testca has no AKI of its own. */
	ck_assert_int_gt(n = i2d_X509(ca, &der), 0);
	if (X509_get0_authority_key_id(ca) == NULL)
		ck_assert_ptr_null(certinfo_aki_hex(der, (size_t)n));
	OPENSSL_free(der);
	X509_free(cert);
}
END_TEST

/* The key encoded once (spki.c): the bytes X509_PUBKEY_set makes, no key
 * decoded with them; a certificate built from them carries them; and bytes
 * a decoder reads past (junk after an RSA key) are told from its own. */
START_TEST(spki_once_and_canonical)
{
	EVP_PKEY *keys[2];
	unsigned char *a = NULL, *b = NULL, *junk;
	const unsigned char *bits, *p;
	X509_ALGOR *alg;
	X509_PUBKEY *want = NULL, *got, *bad, *back;
	struct issue_request r = { .kind = CERT_KIND_SIGNING,
	    .addresses = addrs("alice@example.test", NULL), .now = now,
	    .vars = { .name = "Alice", .mail = "alice@example.test" } };
	char why[256];
	X509 *cert = NULL;
	int la, lb, len;

	make_keys();
	keys[0] = ec_key;
	keys[1] = rsa_key;
	for (int i = 0; i < 2; i++) {
		ck_assert_int_eq(X509_PUBKEY_set(&want, keys[i]), 1);
		ck_assert_ptr_nonnull(got = spki_of(keys[i]));
		ck_assert_ptr_null(X509_PUBKEY_get0(got));
		la = i2d_X509_PUBKEY(want, &a);
		lb = i2d_X509_PUBKEY(got, &b);
		ck_assert_int_gt(la, 0);
		ck_assert_mem_eq(a, b, (size_t)la);
		ck_assert_int_eq(la, lb);
		r.key = keys[i];
		r.spki = got;
		ck_assert_int_eq(issue_build(conf, ca, &r, &cert, why, sizeof(why)), 0);
		OPENSSL_free(b);
		b = NULL;
		ck_assert_int_eq(i2d_X509_PUBKEY(X509_get_X509_PUBKEY(cert), &b), la);
		ck_assert_mem_eq(a, b, (size_t)la);
		ck_assert_int_eq(spki_canonical(want), 1);
		X509_free(cert);
		X509_PUBKEY_free(got);
		OPENSSL_free(a);
		OPENSSL_free(b);
		a = b = NULL;
	}
	/* Two zero octets after the RSA key: it still decodes. */
	ck_assert_int_eq(X509_PUBKEY_get0_param(NULL, &bits, &len, &alg, want), 1);
	ck_assert_ptr_nonnull(junk = OPENSSL_zalloc((size_t)len + 2));
	memcpy(junk, bits, (size_t)len);
	bad = X509_PUBKEY_new();
	ck_assert_int_eq(X509_PUBKEY_set0_param(bad, OBJ_nid2obj(NID_rsaEncryption),
	    V_ASN1_NULL, NULL, junk, len + 2), 1);
	la = i2d_X509_PUBKEY(bad, &a);
	p = a;
	ck_assert_ptr_nonnull(back = d2i_X509_PUBKEY(NULL, &p, la));
	ck_assert_ptr_nonnull(X509_PUBKEY_get0(back));
	ck_assert_int_eq(spki_canonical(back), 0);
	OPENSSL_free(a);
	X509_PUBKEY_free(back);
	X509_PUBKEY_free(bad);
	X509_PUBKEY_free(want);
}
END_TEST

START_TEST(build_classifies_failures)
{
	struct issue_request req = { .kind = CERT_KIND_SIGNING, .now = now,
	    .vars = { .name = repeat("x", 65) } };
	char why[256];
	X509 *c = NULL, *later_ca;
	EVP_PKEY *k2;

	make_keys();
	req.key = ec_key;
	req.addresses = addrs("a@example.org", NULL);
	ck_assert_int_eq(issue_build(conf, ca, &req, &c, why, sizeof(why)), -2);
	ck_assert_ptr_nonnull(strstr(why, "subject CN would be 65"));
	req.vars.name = "Fine";
	later_ca = testca_make(&k2, now + DAY, now + 10 * DAY);
	ck_assert_int_eq(issue_build(conf, later_ca, &req, &c, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "not valid yet"));
	X509_free(later_ca);
	EVP_PKEY_free(k2);
	later_ca = testca_make(&k2, now - 10 * DAY, now - DAY);
	ck_assert_int_eq(issue_build(conf, later_ca, &req, &c, why, sizeof(why)), -2);
	ck_assert_ptr_nonnull(strstr(why, "expired"));
	ck_assert_ptr_null(c);
	X509_free(later_ca);
	EVP_PKEY_free(k2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("issue");
	int rc;
	TCase *tc = tcase_create("profile");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, serial_random_positive_20_octets);
	tcase_add_test(tc, validity_backdated_and_capped);
	tcase_add_test(tc, built_certificate_notafter_never_past_ca);
	tcase_add_test(tc, encryption_rsa_profile);
	tcase_add_test(tc, key_usage_by_kind_and_key);
	tcase_add_test(tc, crl_dp_and_aia_when_configured);
	tcase_add_test(tc, subject_templates);
	tcase_add_test(tc, empty_subject_makes_san_critical);
	tcase_add_test(tc, refuses_without_addresses);
	tcase_add_test(tc, bounds_count_characters);
	tcase_add_test(tc, bounds_per_attribute);
	tcase_add_test(tc, subject_text_reasons);
	tcase_add_test(tc, check_caps_addresses);
	tcase_add_test(tc, spki_once_and_canonical);
	tcase_add_test(tc, build_classifies_failures);
	tcase_add_test(tc, aki_from_der);
	suite_add_tcase(s, tc);
	/* One process: the keys made once are shared across tests. */
	rc = check_run(s, 1);
	EVP_PKEY_free(rsa_key);
	EVP_PKEY_free(ec_key);
	address_list_free(&list);
	return rc;
}
