/*
 * check_kra.c - key recovery agents: GF(2^8) arithmetic, Shamir splitting
 * and combining, the share and bundle formats, CMS wrapping to RSA and EC
 * agents, and the agent certificate checks.
 */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "pki/kra.h"
#include "pki/shamir.h"
#include "check_main.h"

#define DAY 86400
#define ERR_HAS(err, text) ck_assert_msg(strstr((err), (text)) != NULL, \
	"error \"%s\" lacks \"%s\"", (err), (text))

/* ---- GF(2^8) --------------------------------------------------------------- */

/* An independent multiply: carry-less product, then long division by the
 * AES polynomial. */
static uint8_t
ref_mul(uint8_t a, uint8_t b)
{
	unsigned p = 0, i;

	for (i = 0; i < 8; i++)
		if (b & (1u << i))
			p ^= (unsigned)a << i;
	for (i = 14; i >= 8; i--)
		if (p & (1u << i))
			p ^= 0x11bu << (i - 8);
	return (uint8_t)p;
}

START_TEST(gf_known_values)
{
	/* FIPS-197 section 4.2's worked examples. */
	ck_assert_uint_eq(gf256_mul(0x57, 0x83), 0xc1);
	ck_assert_uint_eq(gf256_mul(0x57, 0x13), 0xfe);
	ck_assert_uint_eq(gf256_mul(0x57, 0x02), 0xae);
	ck_assert_uint_eq(gf256_inv(0x53), 0xca);	/* FIPS-197 S-box note */
	ck_assert_uint_eq(gf256_inv(0), 0);
	ck_assert_uint_eq(gf256_inv(1), 1);
}
END_TEST

START_TEST(gf_matches_reference_everywhere)
{
	unsigned a, b;

	for (a = 0; a < 256; a++)
		for (b = 0; b < 256; b++)
			ck_assert_msg(gf256_mul((uint8_t)a, (uint8_t)b) ==
			    ref_mul((uint8_t)a, (uint8_t)b), "%02x * %02x", a, b);
}
END_TEST

START_TEST(gf_field_laws)
{
	unsigned a, b, c;
	uint8_t x, y, z;

	for (a = 0; a < 256; a++) {
		x = (uint8_t)a;
		ck_assert_uint_eq(gf256_mul(x, 1), x);
		ck_assert_uint_eq(gf256_mul(x, 0), 0);
		if (a != 0)
			ck_assert_uint_eq(gf256_mul(x, gf256_inv(x)), 1);
		for (b = 0; b < 256; b++) {
			y = (uint8_t)b;
			ck_assert_uint_eq(gf256_mul(x, y), gf256_mul(y, x));
			for (c = 0; c < 256; c += 17) {
				z = (uint8_t)c;
				ck_assert_uint_eq(gf256_mul(gf256_mul(x, y), z),
				    gf256_mul(x, gf256_mul(y, z)));
				ck_assert_uint_eq(gf256_mul(x, y ^ z),
				    gf256_mul(x, y) ^ gf256_mul(x, z));
			}
		}
	}
}
END_TEST

/* ---- Shamir ------------------------------------------------------------------ */

#define SLEN 32

/* Combines the shares pick[0..k-1] (0-based) of ys into out. */
static int
combine_pick(const unsigned char *ys, const unsigned char *pick, size_t k,
    unsigned char *out)
{
	unsigned char xs[255], sel[255 * SLEN];
	size_t i;

	for (i = 0; i < k; i++) {
		xs[i] = (unsigned char)(pick[i] + 1);
		memcpy(sel + i * SLEN, ys + (size_t)pick[i] * SLEN, SLEN);
	}
	return shamir_combine(xs, sel, k, SLEN, out);
}

/* Splits a random secret m-of-n and recovers it from the first m, the last
 * m, a random m and all n shares; m - 1 shares give something else. */
static void
round_trip(unsigned m, unsigned n)
{
	unsigned char secret[SLEN], out[SLEN], pick[255], *ys;
	unsigned i, j;

	ck_assert_ptr_nonnull(ys = malloc((size_t)n * SLEN));
	ck_assert_int_eq(RAND_bytes(secret, SLEN), 1);
	ck_assert_int_eq(shamir_split(secret, SLEN, m, n, ys), 0);
	for (i = 0; i < m; i++)
		pick[i] = (unsigned char)i;
	ck_assert_int_eq(combine_pick(ys, pick, m, out), 0);
	ck_assert_msg(memcmp(out, secret, SLEN) == 0, "%u-of-%u first", m, n);
	for (i = 0; i < m; i++)
		pick[i] = (unsigned char)(n - 1 - i);
	ck_assert_int_eq(combine_pick(ys, pick, m, out), 0);
	ck_assert_msg(memcmp(out, secret, SLEN) == 0, "%u-of-%u last", m, n);
	for (i = 0; i < n; i++)		/* a random permutation's first m */
		pick[i] = (unsigned char)i;
	for (i = n - 1; i > 0; i--) {
		unsigned char t, r;

		ck_assert_int_eq(RAND_bytes(&r, 1), 1);
		j = r % (i + 1);
		t = pick[i], pick[i] = pick[j], pick[j] = t;
	}
	ck_assert_int_eq(combine_pick(ys, pick, m, out), 0);
	ck_assert_msg(memcmp(out, secret, SLEN) == 0, "%u-of-%u random", m, n);
	ck_assert_int_eq(combine_pick(ys, pick, n, out), 0);
	ck_assert_msg(memcmp(out, secret, SLEN) == 0, "%u-of-%u all", m, n);
	if (m > 1) {
		ck_assert_int_eq(combine_pick(ys, pick, m - 1, out), 0);
		ck_assert_msg(memcmp(out, secret, SLEN) != 0,
		    "%u-of-%u: %u shares gave the secret", m, n, m - 1);
	}
	free(ys);
}

START_TEST(shamir_round_trips)
{
	static const unsigned mn[][2] = {
		{ 1, 1 }, { 1, 3 }, { 2, 2 }, { 2, 3 }, { 3, 5 }, { 5, 9 },
		{ 10, 255 }, { 254, 255 }, { 255, 255 }, { 1, 255 },
	};
	size_t i;

	for (i = 0; i < sizeof(mn) / sizeof(mn[0]); i++)
		round_trip(mn[i][0], mn[i][1]);
}
END_TEST

START_TEST(shamir_one_of_n_shares_are_the_secret)
{
	unsigned char secret[SLEN], ys[3 * SLEN];
	int i;

	ck_assert_int_eq(RAND_bytes(secret, SLEN), 1);
	ck_assert_int_eq(shamir_split(secret, SLEN, 1, 3, ys), 0);
	for (i = 0; i < 3; i++)
		ck_assert(memcmp(ys + i * SLEN, secret, SLEN) == 0);
}
END_TEST

START_TEST(shamir_every_subset_of_five)
{
	unsigned char secret[SLEN], out[SLEN], ys[5 * SLEN], pick[5];
	unsigned m, mask, i, k;

	ck_assert_int_eq(RAND_bytes(secret, SLEN), 1);
	for (m = 1; m <= 5; m++) {
		ck_assert_int_eq(shamir_split(secret, SLEN, m, 5, ys), 0);
		for (mask = 1; mask < 32; mask++) {
			for (i = 0, k = 0; i < 5; i++)
				if (mask & (1u << i))
					pick[k++] = (unsigned char)i;
			ck_assert_int_eq(combine_pick(ys, pick, k, out), 0);
			if (k >= m)
				ck_assert_msg(memcmp(out, secret, SLEN) == 0,
				    "%u-of-5, subset %#x", m, mask);
			else
				ck_assert_msg(memcmp(out, secret, SLEN) != 0,
				    "%u-of-5, subset %#x of %u recovered", m,
				    mask, k);
		}
	}
}
END_TEST

/*
 * One share of a 2-of-n split is uniform whatever the secret: over 8192
 * splits of the secret 0x00 and of 0xff, share 1 takes every byte value.
 * A weak split (a zero coefficient, y = secret) fails this at once.
 */
START_TEST(shamir_lone_share_is_uniform)
{
	static const unsigned char secrets[] = { 0x00, 0xff };
	unsigned char ys[3];
	unsigned seen[256];
	size_t s, i, v;

	for (s = 0; s < sizeof(secrets); s++) {
		memset(seen, 0, sizeof(seen));
		for (i = 0; i < 8192; i++) {
			ck_assert_int_eq(shamir_split(&secrets[s], 1, 2, 3, ys), 0);
			seen[ys[0]]++;
		}
		for (v = 0; v < 256; v++)
			ck_assert_msg(seen[v] > 0, "secret %02x: share 1 never %02zx",
			    secrets[s], v);
	}
}
END_TEST

START_TEST(shamir_refuses_bad_arguments)
{
	unsigned char secret[SLEN] = { 1 }, out[SLEN], ys[3 * SLEN];
	unsigned char xs[3] = { 1, 2, 3 };

	ck_assert_int_eq(shamir_split(secret, SLEN, 0, 3, ys), -1);
	ck_assert_int_eq(shamir_split(secret, SLEN, 4, 3, ys), -1);
	ck_assert_int_eq(shamir_split(secret, SLEN, 1, 256, ys), -1);
	ck_assert_int_eq(shamir_split(secret, 0, 1, 3, ys), -1);
	ck_assert_int_eq(shamir_split(secret, SLEN, 2, 3, ys), 0);
	ck_assert_int_eq(shamir_combine(xs, ys, 0, SLEN, out), -1);
	xs[1] = 1;
	ck_assert_int_eq(shamir_combine(xs, ys, 2, SLEN, out), -1);
	xs[1] = 0;
	ck_assert_int_eq(shamir_combine(xs, ys, 2, SLEN, out), -1);
	xs[1] = 2;
	ck_assert_int_eq(shamir_combine(xs, ys, 2, SLEN, out), 0);
	ck_assert(memcmp(out, secret, SLEN) == 0);
}
END_TEST

/* ---- secret, password, shares --------------------------------------------- */

START_TEST(password_text_is_upper_hex)
{
	unsigned char secret[KRA_SECRET_LEN], other[KRA_SECRET_LEN];
	char text[KRA_PASSWORD_LEN + 1];
	int i;

	for (i = 0; i < KRA_SECRET_LEN; i++)
		secret[i] = (unsigned char)(i * 8 + 7);
	kra_password_text(secret, text);
	ck_assert_str_eq(text, "070F171F272F373F474F575F676F777F"
	    "878F979FA7AFB7BFC7CFD7DFE7EFF7FF");
	for (i = 0; i < 256; i++) {	/* every byte, as printf writes it */
		char want[3];

		memset(secret, i, sizeof(secret));
		kra_password_text(secret, text);
		snprintf(want, sizeof(want), "%02X", (unsigned)i);
		ck_assert_msg(text[0] == want[0] && text[1] == want[1] &&
		    text[62] == want[0] && text[63] == want[1], "%02x", i);
	}
	ck_assert_int_eq(kra_secret_new(secret), 0);
	ck_assert_int_eq(kra_secret_new(other), 0);
	ck_assert(memcmp(secret, other, KRA_SECRET_LEN) != 0);
	kra_password_text(secret, text);
	ck_assert_uint_eq(strlen(text), 64);
	ck_assert_uint_eq(strspn(text, "0123456789ABCDEF"), 64);
}
END_TEST

static unsigned char the_secret[KRA_SECRET_LEN];

static struct kra_share *
split(int m, int n)
{
	struct kra_share *s = calloc((size_t)n, sizeof(*s));
	char err[KRA_ERR_LEN] = "";

	ck_assert_ptr_nonnull(s);
	ck_assert_int_eq(kra_secret_new(the_secret), 0);
	ck_assert_msg(kra_split(the_secret, "encryption-0A1B.p12", m, n, s, err,
	    sizeof(err)) == 0, "%s", err);
	return s;
}

START_TEST(kra_split_combine_round_trips)
{
	static const int mn[][2] = { { 1, 1 }, { 1, 3 }, { 2, 3 }, { 3, 5 },
	    { 255, 255 } };
	unsigned char out[KRA_SECRET_LEN];
	char err[KRA_ERR_LEN] = "";
	struct kra_share *s;
	size_t i;
	int j;

	for (i = 0; i < sizeof(mn) / sizeof(mn[0]); i++) {
		s = split(mn[i][0], mn[i][1]);
		for (j = 0; j < mn[i][1]; j++) {
			ck_assert_int_eq(s[j].index, j + 1);
			ck_assert_int_eq(s[j].threshold, mn[i][0]);
			ck_assert_int_eq(s[j].total, mn[i][1]);
			ck_assert_str_eq(s[j].label, "encryption-0A1B.p12");
		}
		/* the last m shares */
		ck_assert_msg(kra_combine(s + mn[i][1] - mn[i][0],
		    (size_t)mn[i][0], out, err, sizeof(err)) == 0, "%s", err);
		ck_assert(memcmp(out, the_secret, KRA_SECRET_LEN) == 0);
		if (mn[i][0] == 1)
			for (j = 0; j < mn[i][1]; j++)
				ck_assert(memcmp(s[j].y, the_secret,
				    KRA_SECRET_LEN) == 0);
		free(s);
	}
}
END_TEST

/* kra_combine fails with an error containing text, secret wiped. */
static void
combine_refuses(const struct kra_share *s, size_t k, const char *text)
{
	unsigned char out[KRA_SECRET_LEN], zero[KRA_SECRET_LEN] = { 0 };
	char err[KRA_ERR_LEN] = "";

	memset(out, 0xa5, sizeof(out));
	ck_assert_int_eq(kra_combine(s, k, out, err, sizeof(err)), -1);
	ERR_HAS(err, text);
	ck_assert(memcmp(out, zero, sizeof(out)) == 0);
}

START_TEST(kra_combine_refusals)
{
	struct kra_share *a = split(2, 3), *b = split(2, 3), pair[2];

	combine_refuses(a, 0, "no shares given");
	combine_refuses(a, 1, "1 share given, 2 needed (any 2 of 3)");
	pair[0] = a[0], pair[1] = a[0];
	combine_refuses(pair, 2, "shares 1 and 2 are both share 1: the same "
	    "share twice");
	pair[0] = a[0], pair[1] = b[1];
	combine_refuses(pair, 2, "share 2 belongs to a different secret");
	pair[0] = a[0], pair[1] = a[1];
	pair[1].threshold = 3;
	combine_refuses(pair, 2, "share 2 disagrees with share 1 on the "
	    "threshold");
	pair[1] = a[1];
	pair[1].total = 4;
	combine_refuses(pair, 2, "on the number of shares");
	pair[1] = a[1];
	pair[1].label[0] = 'X';
	combine_refuses(pair, 2, "on the label");
	pair[1] = a[1];
	pair[1].y[7] ^= 0x01;
	combine_refuses(pair, 2, "do not rebuild their secret");
	pair[1] = a[1];
	pair[1].index = 4;
	combine_refuses(pair, 2, "share 2: index 4 is not one of 1..3");
	pair[1] = a[1];
	/* a share claiming another index cannot pass for it */
	pair[1].index = 3;
	combine_refuses(pair, 2, "one of them is corrupt");
	free(a);
	free(b);
}
END_TEST

START_TEST(kra_split_refusals)
{
	struct kra_share s[3];
	char err[KRA_ERR_LEN] = "", label[300];
	unsigned char secret[KRA_SECRET_LEN] = { 0 };

	ck_assert_int_eq(kra_split(secret, "x", 0, 3, s, err, sizeof(err)), -1);
	ERR_HAS(err, "quorum of 0 out of 3");
	ck_assert_int_eq(kra_split(secret, "x", 4, 3, s, err, sizeof(err)), -1);
	ERR_HAS(err, "quorum of 4 out of 3");
	ck_assert_int_eq(kra_split(secret, "tab\there", 1, 3, s, err,
	    sizeof(err)), -1);
	ERR_HAS(err, "label");
	memset(label, 'a', sizeof(label));
	label[256] = '\0';
	ck_assert_int_eq(kra_split(secret, label, 1, 3, s, err, sizeof(err)), -1);
	ERR_HAS(err, "label");
	label[255] = '\0';
	ck_assert_int_eq(kra_split(secret, label, 1, 3, s, err, sizeof(err)), 0);
}
END_TEST

static void
share_eq(const struct kra_share *a, const struct kra_share *b)
{
	ck_assert_int_eq(a->threshold, b->threshold);
	ck_assert_int_eq(a->total, b->total);
	ck_assert_int_eq(a->index, b->index);
	ck_assert_str_eq(a->label, b->label);
	ck_assert(memcmp(a->split_id, b->split_id, KRA_SPLIT_ID_LEN) == 0);
	ck_assert(memcmp(a->check, b->check, KRA_CHECK_LEN) == 0);
	ck_assert(memcmp(a->y, b->y, KRA_SECRET_LEN) == 0);
}

START_TEST(share_der_round_trip)
{
	struct kra_share *s = split(3, 5), back;
	unsigned char *der = NULL;
	char err[KRA_ERR_LEN] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < 5; i++) {
		ck_assert_int_eq(kra_share_encode(&s[i], &der, &len, err,
		    sizeof(err)), 0);
		ck_assert_msg(kra_share_decode(der, len, &back, err,
		    sizeof(err)) == 0, "%s", err);
		share_eq(&s[i], &back);
		OPENSSL_clear_free(der, len);
	}
	free(s);
}
END_TEST

/* der with byte at off set to v (or len cut/extended) must be refused. */
static void
decode_refuses(const unsigned char *der, size_t len, size_t off, int v,
    const char *text)
{
	unsigned char buf[512];
	struct kra_share s;
	char err[KRA_ERR_LEN] = "";

	ck_assert_uint_le(len, sizeof(buf));
	memcpy(buf, der, len);
	if (off < len)
		buf[off] = (unsigned char)v;
	ck_assert_int_eq(kra_share_decode(buf, len, &s, err, sizeof(err)), -1);
	ERR_HAS(err, text);
}

START_TEST(share_decode_refusals)
{
	struct kra_share *s = split(2, 3);
	unsigned char *der = NULL, longer[512];
	char err[KRA_ERR_LEN] = "";
	struct kra_share back;
	size_t len = 0;

	/* 30 L | 02 01 ver | 02 01 M | 02 01 N | 02 01 x | 0C 13 label ... */
	ck_assert_int_eq(kra_share_encode(&s[1], &der, &len, err, sizeof(err)),
	    0);
	ck_assert_uint_eq(der[2], 0x02);	/* the layout above holds */
	ck_assert_uint_eq(der[4], 1);
	ck_assert_uint_eq(der[13], 2);
	ck_assert_uint_eq(der[14], 0x0c);
	decode_refuses(der, len, 4, 2, "version 2 is not 1");
	decode_refuses(der, len, 13, 0, "index 0 is not one of 1..3");
	decode_refuses(der, len, 13, 4, "index 4 is not one of 1..3");
	decode_refuses(der, len, 7, 4, "threshold 4 of 3 shares");
	decode_refuses(der, len, 16, 'a' - 0x60, "label");	/* a control char */
	decode_refuses(der, len, 14, 0x04, "not a certsync key recovery share");
	decode_refuses(der, len - 1, len, 0, "not a certsync key recovery share");
	decode_refuses(der, 0, 0, 0, "not a certsync key recovery share");
	memcpy(longer, der, len);
	longer[len] = 0;
	ck_assert_int_eq(kra_share_decode(longer, len + 1, &back, err,
	    sizeof(err)), -1);
	ERR_HAS(err, "not a certsync key recovery share");
	/* BER, not DER: the version's length in long form */
	longer[0] = 0x30, longer[1] = (unsigned char)(der[1] + 1);
	longer[2] = 0x02, longer[3] = 0x81, longer[4] = 0x01;
	memcpy(longer + 5, der + 4, len - 4);
	ck_assert_int_eq(kra_share_decode(longer, len + 1, &back, err,
	    sizeof(err)), -1);
	ERR_HAS(err, "not a certsync key recovery share");
	OPENSSL_clear_free(der, len);
	free(s);
}
END_TEST

/* ---- agents: keys and certificates ---------------------------------------- */

static EVP_PKEY *rsa_a, *rsa_b, *ec256, *ec384;

static void
make_keys(void)
{
	ck_assert_ptr_nonnull(rsa_a = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	ck_assert_ptr_nonnull(rsa_b = EVP_PKEY_Q_keygen(NULL, NULL, "RSA",
	    (size_t)2048));
	ck_assert_ptr_nonnull(ec256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
	    "P-256"));
	ck_assert_ptr_nonnull(ec384 = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
	    "P-384"));
}

static void
free_keys(void)
{
	EVP_PKEY_free(rsa_a);
	EVP_PKEY_free(rsa_b);
	EVP_PKEY_free(ec256);
	EVP_PKEY_free(ec384);
}

/* A self-signed certificate for key, valid from now + nb to now + na, with
 * keyUsage ku (NULL: none).  Self-signed by key, or by signer if key cannot
 * sign (X25519). */
static X509 *
make_cert_signed(EVP_PKEY *key, EVP_PKEY *signer, const char *cn, long nb,
    long na, const char *ku)
{
	X509 *c = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509_EXTENSION *ext;
	static long serial = 1;

	ck_assert_ptr_nonnull(c);
	ck_assert_int_eq(X509_set_version(c, X509_VERSION_3), 1);
	ASN1_INTEGER_set(X509_get_serialNumber(c), serial++);
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)cn, -1, -1, 0);
	X509_set_subject_name(c, name);
	X509_set_issuer_name(c, name);
	X509_NAME_free(name);
	X509_time_adj_ex(X509_getm_notBefore(c), 0, nb, NULL);
	X509_time_adj_ex(X509_getm_notAfter(c), 0, na, NULL);
	ck_assert_int_eq(X509_set_pubkey(c, key), 1);
	if (ku != NULL) {
		ck_assert_ptr_nonnull(ext = X509V3_EXT_conf_nid(NULL, NULL,
		    NID_key_usage, ku));
		X509_add_ext(c, ext, -1);
		X509_EXTENSION_free(ext);
	}
	/* EdDSA takes no separate digest. */
	ck_assert_int_gt(X509_sign(c, signer, EVP_PKEY_is_a(signer, "ED25519") ?
	    NULL : EVP_sha256()), 0);
	return c;
}

static X509 *
make_cert(EVP_PKEY *key, const char *cn, const char *ku)
{
	return make_cert_signed(key, key, cn, -DAY, 365L * DAY, ku);
}

/* ---- wrapping -------------------------------------------------------------- */

static unsigned char *
wrap(X509 **agents, size_t n, int m, size_t *len)
{
	unsigned char *der = NULL;
	char err[KRA_ERR_LEN] = "";

	ck_assert_int_eq(kra_secret_new(the_secret), 0);
	ck_assert_msg(kra_wrap(the_secret, "encryption-0A1B.p12", agents, n, m,
	    &der, len, err, sizeof(err)) == 0, "%s", err);
	return der;
}

static void
unwrap_ok(const struct kra_bundle *b, X509 *cert, EVP_PKEY *key,
    struct kra_share *share)
{
	const struct kra_wrapped *w = kra_bundle_find(b, cert);
	char err[KRA_ERR_LEN] = "";

	ck_assert_ptr_nonnull(w);
	ck_assert_msg(kra_unwrap(w->envelope, w->envelope_len, key, cert, share,
	    err, sizeof(err)) == 0, "%s", err);
}

START_TEST(wrap_two_of_three_rsa_and_ec)
{
	X509 *agents[3] = { make_cert(rsa_a, "alice", "keyEncipherment"),
	    make_cert(rsa_b, "bob", NULL), make_cert(ec256, "carol",
	    "keyAgreement") };
	EVP_PKEY *keys[3] = { rsa_a, rsa_b, ec256 };
	struct kra_share s[3], pair[2];
	struct kra_bundle b;
	unsigned char *der, out[KRA_SECRET_LEN];
	char err[KRA_ERR_LEN] = "";
	size_t len = 0;
	int i, j;

	der = wrap(agents, 3, 2, &len);
	ck_assert_msg(kra_bundle_decode(der, len, &b, err, sizeof(err)) == 0,
	    "%s", err);
	ck_assert_int_eq(b.threshold, 2);
	ck_assert_uint_eq(b.n, 3);
	ck_assert_str_eq(b.label, "encryption-0A1B.p12");
	for (i = 0; i < 3; i++) {
		ck_assert_ptr_eq(kra_bundle_find(&b, agents[i]), &b.v[i]);
		unwrap_ok(&b, agents[i], keys[i], &s[i]);
		ck_assert_int_eq(s[i].index, i + 1);
		ck_assert_int_eq(s[i].threshold, 2);
		ck_assert(memcmp(s[i].y, the_secret, KRA_SECRET_LEN) != 0);
	}
	for (i = 0; i < 3; i++)
		for (j = 0; j < 3; j++) {
			if (i == j) {
				combine_refuses(&s[i], 1, "1 share given, 2 needed");
				continue;
			}
			pair[0] = s[i], pair[1] = s[j];
			ck_assert_msg(kra_combine(pair, 2, out, err,
			    sizeof(err)) == 0, "%s", err);
			ck_assert(memcmp(out, the_secret, KRA_SECRET_LEN) == 0);
		}
	kra_bundle_free(&b);
	OPENSSL_free(der);
	for (i = 0; i < 3; i++)
		X509_free(agents[i]);
}
END_TEST

START_TEST(wrap_one_of_two_each_share_is_the_secret)
{
	X509 *agents[2] = { make_cert(ec384, "dave", NULL),
	    make_cert(rsa_a, "alice", NULL) };
	EVP_PKEY *keys[2] = { ec384, rsa_a };
	struct kra_share s;
	struct kra_bundle b;
	unsigned char *der, out[KRA_SECRET_LEN];
	char err[KRA_ERR_LEN] = "";
	size_t len = 0;
	int i;

	der = wrap(agents, 2, 1, &len);
	ck_assert_int_eq(kra_bundle_decode(der, len, &b, err, sizeof(err)), 0);
	for (i = 0; i < 2; i++) {
		unwrap_ok(&b, agents[i], keys[i], &s);
		ck_assert(memcmp(s.y, the_secret, KRA_SECRET_LEN) == 0);
		ck_assert_int_eq(kra_combine(&s, 1, out, err, sizeof(err)), 0);
		ck_assert(memcmp(out, the_secret, KRA_SECRET_LEN) == 0);
	}
	kra_bundle_free(&b);
	OPENSSL_free(der);
	X509_free(agents[0]);
	X509_free(agents[1]);
}
END_TEST

/* The most agents the format holds, all needed: 255 EC P-256 agents. */
START_TEST(wrap_255_of_255)
{
	X509 *agents[255];
	EVP_PKEY *keys[255];
	struct kra_share *s = calloc(255, sizeof(*s));
	struct kra_bundle b;
	unsigned char *der, out[KRA_SECRET_LEN];
	char err[KRA_ERR_LEN] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < 255; i++) {
		ck_assert_ptr_nonnull(keys[i] = EVP_PKEY_Q_keygen(NULL, NULL, "EC",
		    "P-256"));
		agents[i] = make_cert(keys[i], "agent", NULL);
	}
	der = wrap(agents, 255, 255, &len);
	ck_assert_int_eq(kra_bundle_decode(der, len, &b, err, sizeof(err)), 0);
	for (i = 0; i < 255; i++)
		unwrap_ok(&b, agents[i], keys[i], &s[i]);
	combine_refuses(s, 254, "254 shares given, 255 needed");
	ck_assert_msg(kra_combine(s, 255, out, err, sizeof(err)) == 0, "%s", err);
	ck_assert(memcmp(out, the_secret, KRA_SECRET_LEN) == 0);
	kra_bundle_free(&b);
	OPENSSL_free(der);
	for (i = 0; i < 255; i++) {
		X509_free(agents[i]);
		EVP_PKEY_free(keys[i]);
	}
	free(s);
}
END_TEST

START_TEST(wrap_refusals)
{
	X509 *a = make_cert(rsa_a, "alice", NULL), *agents[256];
	unsigned char secret[KRA_SECRET_LEN] = { 0 }, *der = NULL;
	char err[KRA_ERR_LEN] = "";
	size_t len = 0;
	int i;

	for (i = 0; i < 256; i++)
		agents[i] = a;
	ck_assert_int_eq(kra_wrap(secret, "x", agents, 256, 1, &der, &len, err,
	    sizeof(err)), -1);
	ERR_HAS(err, "256 recovery agents; 1 to 255");
	ck_assert_int_eq(kra_wrap(secret, "x", agents, 0, 1, &der, &len, err,
	    sizeof(err)), -1);
	ck_assert_int_eq(kra_wrap(secret, "x", agents, 2, 3, &der, &len, err,
	    sizeof(err)), -1);
	ERR_HAS(err, "quorum of 3 out of 2");
	ck_assert_ptr_null(der);
	X509_free(a);
}
END_TEST

/* kra_unwrap of w with key/cert fails with text in the error. */
static void
unwrap_refuses(const unsigned char *env, size_t len, EVP_PKEY *key, X509 *cert,
    const char *text)
{
	struct kra_share s;
	char err[KRA_ERR_LEN] = "";

	memset(&s, 0xa5, sizeof(s));
	ck_assert_int_eq(kra_unwrap(env, len, key, cert, &s, err, sizeof(err)),
	    -1);
	ERR_HAS(err, text);
	ck_assert_int_eq(s.index, 0);
}

/* The DER of two OIDs in an envelope (tag, length, content). */
static const unsigned char oid_oaep[] = { 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86,
    0xf7, 0x0d, 0x01, 0x01, 0x07 };		/* 1.2.840.113549.1.1.7 */
static const unsigned char oid_aes256_wrap[] = { 0x06, 0x09, 0x60, 0x86, 0x48,
    0x01, 0x65, 0x03, 0x04, 0x01, 0x2d };	/* 2.16.840.1.101.3.4.1.45 */

/* Finds oid (exactly once) in der[len] and sets its last byte to last. */
static void
retag(unsigned char *der, size_t len, const unsigned char *oid, size_t olen,
    unsigned char last)
{
	unsigned char *at = NULL;

	for (size_t i = 0; i + olen <= len; i++)
		if (memcmp(der + i, oid, olen) == 0) {
			ck_assert_ptr_null(at);
			at = der + i;
		}
	ck_assert_ptr_nonnull(at);
	at[olen - 1] = last;
}

START_TEST(unwrap_refusals)
{
	X509 *alice = make_cert(rsa_a, "alice", NULL),
	    *bob = make_cert(rsa_b, "bob", NULL),
	    *carol = make_cert(ec256, "carol", NULL), *agents[2] = { alice, carol };
	struct kra_bundle b;
	unsigned char *der, *env;
	char err[KRA_ERR_LEN] = "";
	size_t len = 0, elen;

	der = wrap(agents, 2, 2, &len);
	ck_assert_int_eq(kra_bundle_decode(der, len, &b, err, sizeof(err)), 0);
	ck_assert_ptr_null(kra_bundle_find(&b, bob));
	env = b.v[0].envelope, elen = b.v[0].envelope_len;
	unwrap_refuses(env, elen, rsa_b, alice, "the private key does not "
	    "belong to the agent certificate");
	unwrap_refuses(env, elen, rsa_b, bob, "not wrapped to agent CN=bob");
	unwrap_refuses(env, elen, ec256, carol, "not wrapped to agent CN=carol");
	unwrap_refuses(b.v[1].envelope, b.v[1].envelope_len, rsa_a, alice,
	    "not wrapped to agent CN=alice");
	unwrap_refuses(env, elen - 1, rsa_a, alice, "not a CMS message");
	unwrap_refuses(der, len, rsa_a, alice, "not a CMS message");
	/* The last ciphertext block's padding, through CBC's previous block. */
	env[elen - 17] ^= 0x01;
	unwrap_refuses(env, elen, rsa_a, alice, "corrupt");
	env[elen - 17] ^= 0x01;
	/* A byte in the middle: whatever it hits (recipient name, wrapped
	 * key, algorithm parameters), the envelope is refused. */
	env[elen / 3] ^= 0x40;
	unwrap_refuses(env, elen, rsa_a, alice, "");
	env[elen / 3] ^= 0x40;
	/* Key encryption other than kra.h's is refused before OpenSSL
	 * decrypts: PKCS #1 v1.5 for RSA, and for EC the padded AES key wrap,
	 * whose unwrap in OpenSSL 3.0 writes past its buffer when the key
	 * does not check (found by tests/fuzz/fuzz_kra.c). */
	retag(env, elen, oid_oaep, sizeof(oid_oaep), 0x01);	/* rsaEncryption */
	unwrap_refuses(env, elen, rsa_a, alice, "not an envelope certsync makes");
	retag(b.v[1].envelope, b.v[1].envelope_len, oid_aes256_wrap,
	    sizeof(oid_aes256_wrap), 0x30);	/* id-aes256-wrap-pad */
	unwrap_refuses(b.v[1].envelope, b.v[1].envelope_len, ec256, carol,
	    "not an envelope certsync makes");
	kra_bundle_free(&b);
	OPENSSL_free(der);
	X509_free(alice);
	X509_free(bob);
	X509_free(carol);
}
END_TEST

START_TEST(bundle_decode_refusals)
{
	X509 *a = make_cert(ec256, "carol", NULL);
	struct kra_bundle b;
	unsigned char *der, *copy;
	char err[KRA_ERR_LEN] = "";
	size_t len = 0;

	der = wrap(&a, 1, 1, &len);
	ck_assert_ptr_nonnull(copy = malloc(len + 1));
	memcpy(copy, der, len);
	copy[len] = 0;
	ck_assert_int_eq(kra_bundle_decode(copy, len + 1, &b, err, sizeof(err)),
	    -1);
	ERR_HAS(err, "not a certsync key recovery bundle");
	ck_assert_int_eq(kra_bundle_decode(copy, len - 1, &b, err, sizeof(err)),
	    -1);
	ERR_HAS(err, "not a certsync key recovery bundle");
	/* 30 82 LL LL | 02 01 ver | 02 01 M */
	ck_assert_uint_eq(copy[6], 1);
	copy[6] = 2;
	ck_assert_int_eq(kra_bundle_decode(copy, len, &b, err, sizeof(err)), -1);
	ERR_HAS(err, "bundle format version 2 is not 1");
	copy[6] = 1;
	copy[9] = 2;	/* quorum 2 of 1 */
	ck_assert_int_eq(kra_bundle_decode(copy, len, &b, err, sizeof(err)), -1);
	ERR_HAS(err, "quorum 2 of 1 agents");
	copy[9] = 1;
	ck_assert_int_eq(kra_bundle_decode(copy, len, &b, err, sizeof(err)), 0);
	kra_bundle_free(&b);
	free(copy);
	OPENSSL_free(der);
	X509_free(a);
}
END_TEST

/* ---- agent certificates ------------------------------------------------------ */

static void
agent_refused(X509 *cert, const char *text)
{
	char err[KRA_ERR_LEN] = "";

	ck_assert_int_eq(kra_agent_check(cert, time(NULL), err, sizeof(err)), -1);
	ERR_HAS(err, text);
	X509_free(cert);
}

static void
agent_accepted(X509 *cert)
{
	char err[KRA_ERR_LEN] = "";

	ck_assert_msg(kra_agent_check(cert, time(NULL), err, sizeof(err)) == 0,
	    "%s", err);
	X509_free(cert);
}

START_TEST(agent_certificate_checks)
{
	EVP_PKEY *rsa1024 = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)1024);
	EVP_PKEY *p521 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-521");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY *x25519 = EVP_PKEY_Q_keygen(NULL, NULL, "X25519");

	agent_accepted(make_cert(rsa_a, "ok", NULL));
	agent_accepted(make_cert(rsa_a, "ok", "keyEncipherment"));
	agent_accepted(make_cert(ec256, "ok", "keyAgreement"));
	agent_accepted(make_cert(ec384, "ok", "digitalSignature,keyAgreement"));
	agent_refused(make_cert(rsa1024, "small", NULL),
	    "RSA key of 1024 bits; recovery agents need at least 2048");
	agent_refused(make_cert(p521, "p521", NULL),
	    "EC key on curve secp521r1; recovery agents need P-256 or P-384");
	agent_refused(make_cert(ed, "ed", NULL), "ED25519 key; recovery agents "
	    "need RSA");
	agent_refused(make_cert_signed(x25519, ec256, "x", -DAY, DAY, NULL),
	    "X25519 key");
	agent_refused(make_cert(rsa_a, "sign", "digitalSignature"),
	    "its keyUsage lacks keyEncipherment");
	agent_refused(make_cert(ec256, "sign", "digitalSignature,"
	    "keyEncipherment"), "its keyUsage lacks keyAgreement");
	agent_refused(make_cert_signed(rsa_a, rsa_a, "old", -10 * DAY, -DAY,
	    NULL), "the certificate is expired");
	agent_refused(make_cert_signed(rsa_a, rsa_a, "new", DAY, 10 * DAY,
	    NULL), "the certificate is not valid yet");
	EVP_PKEY_free(rsa1024);
	EVP_PKEY_free(p521);
	EVP_PKEY_free(ed);
	EVP_PKEY_free(x25519);
}
END_TEST

/* ---- loading agent files ----------------------------------------------------- */

static char tmpdir[] = "/tmp/check_kra.XXXXXX";

static void
make_dir(void)
{
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
remove_dir(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

/* Writes cert (PEM, or DER with der set) and, with key, the key too. */
static void
put(const char *name, X509 *cert, EVP_PKEY *key, int der)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	if (der)
		ck_assert_int_eq(i2d_X509_fp(f, cert), 1);
	else
		ck_assert_int_eq(PEM_write_X509(f, cert), 1);
	if (key != NULL)
		ck_assert_int_eq(PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL,
		    NULL), 1);
	fclose(f);
}

static void
put_text(const char *name, const char *text)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	fputs(text, f);
	fclose(f);
}

/* Runs kra_load_agents on tmpdir/pattern with stderr captured; returns
 * what it logged (caller frees). */
static char *
load_captured(const char *pattern, struct kra_agents *agents, int *rc)
{
	char path[256], errpath[256], *text;
	int fd, saved;
	FILE *f;
	long len;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, pattern);
	snprintf(errpath, sizeof(errpath), "%s.stderr", tmpdir);
	ck_assert_int_ne(fd = open(errpath, O_WRONLY | O_CREAT | O_TRUNC, 0600),
	    -1);
	fflush(stderr);
	ck_assert_int_ne(saved = dup(STDERR_FILENO), -1);
	ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);
	*rc = kra_load_agents(path, "[archive] recovery_agents", time(NULL),
	    agents);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	ck_assert_ptr_nonnull(f = fopen(errpath, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(text = calloc(1, (size_t)len + 1));
	ck_assert_uint_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(errpath);
	return text;
}

static int
count_lines(const char *text)
{
	int n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

START_TEST(load_agents_good_set)
{
	X509 *a = make_cert(rsa_a, "alice", NULL), *c = make_cert(ec256, "carol",
	    "keyAgreement");
	struct kra_agents agents;
	unsigned char fp[KRA_FP_LEN];
	unsigned int fplen;
	char *log;
	int rc;

	put("alice.pem", a, NULL, 0);
	put("carol.pem", c, NULL, 1);	/* DER under a .pem name: accepted */
	put_text("README", "not an agent\n");
	log = load_captured("*.pem", &agents, &rc);
	ck_assert_msg(rc == 0, "%s", log);
	ck_assert_str_eq(log, "");
	ck_assert_uint_eq(agents.n, 2);
	ck_assert_ptr_nonnull(strstr(agents.v[0].path, "/alice.pem"));
	ck_assert_ptr_nonnull(strstr(agents.v[1].path, "/carol.pem"));
	ck_assert_int_eq(X509_digest(c, EVP_sha256(), fp, &fplen), 1);
	ck_assert(memcmp(agents.v[1].fp, fp, KRA_FP_LEN) == 0);
	ck_assert_int_eq(X509_cmp(agents.v[0].cert, a), 0);
	kra_agents_free(&agents);
	free(log);
	X509_free(a);
	X509_free(c);
}
END_TEST

START_TEST(load_agents_one_line_per_bad_file)
{
	X509 *a = make_cert(rsa_a, "alice", NULL),
	    *a2 = make_cert(rsa_a, "alice again", NULL),
	    *b = make_cert(rsa_b, "bob", "digitalSignature"),
	    *c = make_cert(ec256, "carol", NULL);
	struct kra_agents agents;
	char *log, good[256];
	int rc;

	put("1-alice.pem", a, NULL, 0);
	put("2-alice-copy.pem", a, NULL, 0);
	put("3-alice-rekeyed.pem", a2, NULL, 0);
	put("4-bob.pem", b, NULL, 0);
	put("5-carol-with-key.pem", c, ec256, 0);
	put_text("6-junk.pem", "hello\n");
	put_text("7-\x1b[31mred.pem", "hello\n");
	log = load_captured("*.pem", &agents, &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_uint_eq(agents.n, 0);
	ck_assert_int_eq(count_lines(log), 6);
	ERR_HAS(log, "[archive] recovery_agents: ");
	ERR_HAS(log, "/2-alice-copy.pem: the same certificate as ");
	ERR_HAS(log, "/3-alice-rekeyed.pem: the same key as ");
	ERR_HAS(log, "/4-bob.pem: its keyUsage lacks keyEncipherment");
	ERR_HAS(log, "/5-carol-with-key.pem: it holds a private key");
	ERR_HAS(log, "/6-junk.pem: not a PEM or DER certificate");
	ERR_HAS(log, "/7-?[31mred.pem: not a PEM or DER certificate");
	snprintf(good, sizeof(good), "recovery_agents: %s/1-alice.pem", tmpdir);
	ck_assert_ptr_null(strstr(log, good));
	free(log);
	X509_free(a);
	X509_free(a2);
	X509_free(b);
	X509_free(c);
}
END_TEST

START_TEST(load_agents_nothing_matches)
{
	struct kra_agents agents;
	char *log;
	int rc;

	log = load_captured("*.pem", &agents, &rc);
	ck_assert_int_eq(rc, -1);
	ck_assert_int_eq(count_lines(log), 1);
	ERR_HAS(log, "[archive] recovery_agents: no file matches ");
	ERR_HAS(log, "/*.pem");
	free(log);
}
END_TEST

START_TEST(load_agents_two_certificates_in_one_file)
{
	X509 *a = make_cert(rsa_a, "alice", NULL), *b = make_cert(rsa_b, "bob",
	    NULL);
	struct kra_agents agents;
	char path[256], *log;
	FILE *f;
	int rc;

	snprintf(path, sizeof(path), "%s/both.pem", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	PEM_write_X509(f, a);
	PEM_write_X509(f, b);
	fclose(f);
	log = load_captured("*.pem", &agents, &rc);
	ck_assert_int_eq(rc, -1);
	ERR_HAS(log, "/both.pem: it holds more than one PEM block");
	free(log);
	X509_free(a);
	X509_free(b);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("kra");
	TCase *gf = tcase_create("gf256"), *sh = tcase_create("shamir");
	TCase *fmt = tcase_create("shares"), *wr = tcase_create("wrap");
	TCase *ag = tcase_create("agents");

	tcase_add_test(gf, gf_known_values);
	tcase_add_test(gf, gf_matches_reference_everywhere);
	tcase_add_test(gf, gf_field_laws);
	suite_add_tcase(s, gf);
	tcase_set_timeout(sh, 60);
	tcase_add_test(sh, shamir_round_trips);
	tcase_add_test(sh, shamir_one_of_n_shares_are_the_secret);
	tcase_add_test(sh, shamir_every_subset_of_five);
	tcase_add_test(sh, shamir_lone_share_is_uniform);
	tcase_add_test(sh, shamir_refuses_bad_arguments);
	suite_add_tcase(s, sh);
	tcase_add_test(fmt, password_text_is_upper_hex);
	tcase_add_test(fmt, kra_split_combine_round_trips);
	tcase_add_test(fmt, kra_combine_refusals);
	tcase_add_test(fmt, kra_split_refusals);
	tcase_add_test(fmt, share_der_round_trip);
	tcase_add_test(fmt, share_decode_refusals);
	suite_add_tcase(s, fmt);
	/* Keys once, in the parent; each forked test inherits them. */
	tcase_add_unchecked_fixture(wr, make_keys, free_keys);
	tcase_set_timeout(wr, 120);
	tcase_add_test(wr, wrap_two_of_three_rsa_and_ec);
	tcase_add_test(wr, wrap_one_of_two_each_share_is_the_secret);
	tcase_add_test(wr, wrap_255_of_255);
	tcase_add_test(wr, wrap_refusals);
	tcase_add_test(wr, unwrap_refusals);
	tcase_add_test(wr, bundle_decode_refusals);
	tcase_add_test(wr, agent_certificate_checks);
	suite_add_tcase(s, wr);
	tcase_add_unchecked_fixture(ag, make_keys, free_keys);
	tcase_add_checked_fixture(ag, make_dir, remove_dir);
	tcase_add_test(ag, load_agents_good_set);
	tcase_add_test(ag, load_agents_one_line_per_bad_file);
	tcase_add_test(ag, load_agents_nothing_matches);
	tcase_add_test(ag, load_agents_two_certificates_in_one_file);
	suite_add_tcase(s, ag);
	return check_run(s, 0);
}
