/*
 * kra.c - the archive secret, its password text, and its shares.
 *
 * Owns: making the random secret, writing it as password text, splitting
 * it into KraShare values and combining them back, and the KraShare DER
 * (kra.h has the ASN.1).
 * Never: keeps a copy of a secret, share or coefficient in memory it frees
 * without wiping it, or accepts a share it would not itself have written
 * (strict DER, every field in range).
 */
#include "config.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "pki/kra.h"
#include "pki/shamir.h"

/* Domain separation for the check value: it can never collide with any
 * other hash of the secret that a later version might publish. */
#define CHECK_TAG "certsync-kra-v1"

typedef struct {
	int32_t version;
	int32_t threshold;
	int32_t total;
	int32_t index;
	ASN1_UTF8STRING *label;
	ASN1_OCTET_STRING *split_id;
	ASN1_OCTET_STRING *check;
	ASN1_OCTET_STRING *share;
} KRA_SHARE_ASN;

ASN1_SEQUENCE(KRA_SHARE_ASN) = {
	ASN1_EMBED(KRA_SHARE_ASN, version, INT32),
	ASN1_EMBED(KRA_SHARE_ASN, threshold, INT32),
	ASN1_EMBED(KRA_SHARE_ASN, total, INT32),
	ASN1_EMBED(KRA_SHARE_ASN, index, INT32),
	ASN1_SIMPLE(KRA_SHARE_ASN, label, ASN1_UTF8STRING),
	ASN1_SIMPLE(KRA_SHARE_ASN, split_id, ASN1_OCTET_STRING),
	ASN1_SIMPLE(KRA_SHARE_ASN, check, ASN1_OCTET_STRING),
	ASN1_SIMPLE(KRA_SHARE_ASN, share, ASN1_OCTET_STRING),
} static_ASN1_SEQUENCE_END(KRA_SHARE_ASN)

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* Returns 0, or -1 when the generator fails. */
int
kra_secret_new(unsigned char secret[KRA_SECRET_LEN])
{
	if (RAND_priv_bytes(secret, KRA_SECRET_LEN) != 1) {
		OPENSSL_cleanse(secret, KRA_SECRET_LEN);
		return -1;
	}
	return 0;
}

/* The upper-case hex digit of nibble n (0..15) without a table or a
 * branch: 9 - n wraps around exactly when n > 9, adding 'A' - '0' - 10. */
static char
hex_digit(unsigned n)
{
	return (char)('0' + n + (((9u - n) >> 8) & 7u));
}

void
kra_password_text(const unsigned char secret[KRA_SECRET_LEN],
    char text[KRA_PASSWORD_LEN + 1])
{
	size_t i;

	for (i = 0; i < KRA_SECRET_LEN; i++) {
		text[2 * i] = hex_digit(secret[i] >> 4);
		text[2 * i + 1] = hex_digit(secret[i] & 0x0fu);
	}
	text[KRA_PASSWORD_LEN] = '\0';
}

/* SHA-256(CHECK_TAG || split_id || secret) into out.  Returns 0 or -1. */
static int
check_value(const unsigned char *split_id, const unsigned char *secret,
    unsigned char out[KRA_CHECK_LEN])
{
	EVP_MD_CTX *md = NULL;
	unsigned int outlen = 0;
	int rc = -1;

	if ((md = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1 ||
	    EVP_DigestUpdate(md, CHECK_TAG, strlen(CHECK_TAG)) != 1 ||
	    EVP_DigestUpdate(md, split_id, KRA_SPLIT_ID_LEN) != 1 ||
	    EVP_DigestUpdate(md, secret, KRA_SECRET_LEN) != 1 ||
	    EVP_DigestFinal_ex(md, out, &outlen) != 1 || outlen != KRA_CHECK_LEN)
		goto done;
	rc = 0;
done:
	EVP_MD_CTX_free(md);	/* wipes its state */
	return rc;
}

/* 1 when label fits version 1: at most 255 bytes of printable ASCII (it is
 * printed to officers and in logs as it is). */
static int
label_ok(const char *label, size_t len)
{
	size_t i;

	if (len > KRA_LABEL_MAX)
		return 0;
	for (i = 0; i < len; i++)
		if (label[i] < 0x20 || label[i] > 0x7e)
			return 0;
	return 1;
}

/* Checks the ranges of kra.h's KraShare.  Returns 0, or -1 with err. */
static int
share_fields_ok(const struct kra_share *s, char *err, size_t errlen)
{
	if (s->threshold < 1 || s->threshold > KRA_MAX_AGENTS ||
	    s->total < s->threshold || s->total > KRA_MAX_AGENTS) {
		seterr(err, errlen, "threshold %d of %d shares is out of range "
		    "(1 <= threshold <= shares <= 255)", s->threshold, s->total);
		return -1;
	}
	if (s->index < 1 || s->index > s->total) {
		seterr(err, errlen, "index %d is not one of 1..%d", s->index,
		    s->total);
		return -1;
	}
	if (memchr(s->label, '\0', sizeof(s->label)) == NULL ||
	    !label_ok(s->label, strlen(s->label))) {
		seterr(err, errlen, "the label is not printable ASCII of at "
		    "most 255 bytes");
		return -1;
	}
	return 0;
}

/* Fills shares[0..n-1] from the points in ys.  Returns 0 or -1 (err). */
static int
fill_shares(const unsigned char *secret, const char *label, int m, int n,
    const unsigned char *ys, struct kra_share *shares, char *err, size_t errlen)
{
	unsigned char split_id[KRA_SPLIT_ID_LEN], check[KRA_CHECK_LEN];
	int i;

	if (RAND_bytes(split_id, sizeof(split_id)) != 1 ||
	    check_value(split_id, secret, check) == -1) {
		seterr(err, errlen, "cannot make a split id and check value");
		return -1;
	}
	for (i = 0; i < n; i++) {
		shares[i].threshold = m;
		shares[i].total = n;
		shares[i].index = i + 1;
		snprintf(shares[i].label, sizeof(shares[i].label), "%s", label);
		memcpy(shares[i].split_id, split_id, sizeof(split_id));
		memcpy(shares[i].check, check, sizeof(check));
		memcpy(shares[i].y, ys + (size_t)i * KRA_SECRET_LEN,
		    KRA_SECRET_LEN);
	}
	return 0;
}

/* Returns 0 or -1, as kra.h says. */
int
kra_split(const unsigned char secret[KRA_SECRET_LEN], const char *label,
    int m, int n, struct kra_share *shares, char *err, size_t errlen)
{
	unsigned char *ys = NULL;
	size_t yslen = 0;
	int rc = -1;

	if (m < 1 || n > KRA_MAX_AGENTS || m > n) {
		seterr(err, errlen, "a quorum of %d out of %d agents is out of "
		    "range (1 <= quorum <= agents <= 255)", m, n);
		return -1;
	}
	if (!label_ok(label, strlen(label))) {
		seterr(err, errlen, "the label is not printable ASCII of at "
		    "most 255 bytes");
		return -1;
	}
	yslen = (size_t)n * KRA_SECRET_LEN;
	if ((ys = OPENSSL_malloc(yslen)) == NULL ||
	    shamir_split(secret, KRA_SECRET_LEN, (unsigned)m, (unsigned)n,
	    ys) == -1) {
		seterr(err, errlen, "cannot split the secret (out of memory or "
		    "no random numbers)");
		goto done;
	}
	if (fill_shares(secret, label, m, n, ys, shares, err, errlen) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		OPENSSL_cleanse(shares, (size_t)n * sizeof(*shares));
	OPENSSL_clear_free(ys, yslen);
	return rc;
}

/* The first field in which b disagrees with a, or NULL.  The split id is
 * asked first: a different one means a different secret, not damage. */
static const char *
share_differs(const struct kra_share *a, const struct kra_share *b)
{
	if (CRYPTO_memcmp(a->split_id, b->split_id, KRA_SPLIT_ID_LEN) != 0)
		return "split id";
	if (a->threshold != b->threshold)
		return "threshold";
	if (a->total != b->total)
		return "number of shares";
	if (strcmp(a->label, b->label) != 0)
		return "label";
	if (CRYPTO_memcmp(a->check, b->check, KRA_CHECK_LEN) != 0)
		return "check value";
	return NULL;
}

/* Whether k shares can be combined: each well-formed, all of one split,
 * no index twice, enough of them.  Returns 0, or -1 with err. */
static int
shares_combinable(const struct kra_share *s, size_t k, char *err,
    size_t errlen)
{
	const char *field;
	char why[KRA_ERR_LEN];
	size_t i, j;

	if (k == 0) {
		seterr(err, errlen, "no shares given");
		return -1;
	}
	for (i = 0; i < k; i++) {
		if (share_fields_ok(&s[i], why, sizeof(why)) == -1) {
			seterr(err, errlen, "share %zu: %s", i + 1, why);
			return -1;
		}
		if (i == 0 || (field = share_differs(&s[0], &s[i])) == NULL)
			continue;
		if (strcmp(field, "split id") == 0)
			seterr(err, errlen, "share %zu belongs to a different "
			    "secret than share 1 (another split)", i + 1);
		else
			seterr(err, errlen, "share %zu disagrees with share 1 on "
			    "the %s: one of them is corrupt", i + 1, field);
		return -1;
	}
	for (i = 0; i < k; i++)
		for (j = 0; j < i; j++)
			if (s[i].index == s[j].index) {
				seterr(err, errlen, "shares %zu and %zu are both "
				    "share %d: the same share twice", j + 1, i + 1,
				    s[i].index);
				return -1;
			}
	if (k < (size_t)s[0].threshold) {
		seterr(err, errlen, "%zu share%s given, %d needed (any %d of %d)",
		    k, k == 1 ? "" : "s", s[0].threshold, s[0].threshold,
		    s[0].total);
		return -1;
	}
	return 0;
}

/* Returns 0 or -1, as kra.h says. */
int
kra_combine(const struct kra_share *shares, size_t k,
    unsigned char secret[KRA_SECRET_LEN], char *err, size_t errlen)
{
	unsigned char xs[KRA_MAX_AGENTS], check[KRA_CHECK_LEN];
	unsigned char *ys = NULL;
	size_t i, yslen = 0;
	int rc = -1;

	OPENSSL_cleanse(secret, KRA_SECRET_LEN);
	if (shares_combinable(shares, k, err, errlen) == -1)
		return -1;
	/* Here k <= 255: more shares would repeat an index. */
	yslen = k * KRA_SECRET_LEN;
	if ((ys = OPENSSL_malloc(yslen)) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	for (i = 0; i < k; i++) {
		xs[i] = (unsigned char)shares[i].index;
		memcpy(ys + i * KRA_SECRET_LEN, shares[i].y, KRA_SECRET_LEN);
	}
	if (shamir_combine(xs, ys, k, KRA_SECRET_LEN, secret) == -1 ||
	    check_value(shares[0].split_id, secret, check) == -1) {
		seterr(err, errlen, "cannot combine the shares");
		goto done;
	}
	if (CRYPTO_memcmp(check, shares[0].check, KRA_CHECK_LEN) != 0) {
		seterr(err, errlen, "the shares do not rebuild their secret (its "
		    "check value differs): one of them is corrupt");
		goto done;
	}
	rc = 0;
done:
	if (rc == -1)
		OPENSSL_cleanse(secret, KRA_SECRET_LEN);
	OPENSSL_cleanse(check, sizeof(check));
	OPENSSL_clear_free(ys, yslen);
	return rc;
}

void
kra_share_wipe(struct kra_share *share)
{
	OPENSSL_cleanse(share, sizeof(*share));
}

/* Frees a KRA_SHARE_ASN, wiping the share bytes first. */
static void
share_asn_free(KRA_SHARE_ASN *a)
{
	if (a == NULL)
		return;
	if (a->share != NULL && a->share->data != NULL)
		OPENSSL_cleanse(a->share->data, (size_t)a->share->length);
	ASN1_item_free((ASN1_VALUE *)a, ASN1_ITEM_rptr(KRA_SHARE_ASN));
}

/* Returns 0 or -1, as kra.h says. */
int
kra_share_encode(const struct kra_share *share, unsigned char **der,
    size_t *len, char *err, size_t errlen)
{
	KRA_SHARE_ASN *a = NULL;
	unsigned char *out = NULL;
	int n, rc = -1;

	*der = NULL;
	*len = 0;
	if (share_fields_ok(share, err, errlen) == -1)
		return -1;
	if ((a = (KRA_SHARE_ASN *)ASN1_item_new(ASN1_ITEM_rptr(KRA_SHARE_ASN)))
	    == NULL) {
		seterr(err, errlen, "cannot encode the share (out of memory)");
		goto done;
	}
	a->version = KRA_VERSION;
	a->threshold = share->threshold;
	a->total = share->total;
	a->index = share->index;
	if (!ASN1_STRING_set(a->label, share->label, (int)strlen(share->label)) ||
	    !ASN1_OCTET_STRING_set(a->split_id, share->split_id,
	    KRA_SPLIT_ID_LEN) ||
	    !ASN1_OCTET_STRING_set(a->check, share->check, KRA_CHECK_LEN) ||
	    !ASN1_OCTET_STRING_set(a->share, share->y, KRA_SECRET_LEN) ||
	    (n = ASN1_item_i2d((ASN1_VALUE *)a, &out,
	    ASN1_ITEM_rptr(KRA_SHARE_ASN))) <= 0) {
		seterr(err, errlen, "cannot encode the share (out of memory)");
		goto done;
	}
	*der = out;
	*len = (size_t)n;
	rc = 0;
done:
	share_asn_free(a);
	return rc;
}

/* 1 when der[len] is exactly a's DER encoding: nothing else, no BER. */
static int
share_is_der(KRA_SHARE_ASN *a, const unsigned char *der, size_t len)
{
	unsigned char *again = NULL;
	int n, same;

	n = ASN1_item_i2d((ASN1_VALUE *)a, &again, ASN1_ITEM_rptr(KRA_SHARE_ASN));
	same = n > 0 && (size_t)n == len && memcmp(again, der, len) == 0;
	if (n > 0)
		OPENSSL_clear_free(again, (size_t)n);
	return same;
}

/* Copies a decoded, well-typed KRA_SHARE_ASN into s.  Returns 0 or -1. */
static int
share_from_asn(const KRA_SHARE_ASN *a, struct kra_share *s, char *err,
    size_t errlen)
{
	if (a->version != KRA_VERSION) {
		seterr(err, errlen, "share format version %ld is not %d",
		    (long)a->version, KRA_VERSION);
		return -1;
	}
	if (a->split_id->length != KRA_SPLIT_ID_LEN ||
	    a->check->length != KRA_CHECK_LEN ||
	    a->share->length != KRA_SECRET_LEN || a->label->length < 0 ||
	    a->label->length > KRA_LABEL_MAX) {
		seterr(err, errlen, "a field of the share has the wrong length");
		return -1;
	}
	s->threshold = (int)a->threshold;
	s->total = (int)a->total;
	s->index = (int)a->index;
	memcpy(s->label, a->label->data, (size_t)a->label->length);
	s->label[a->label->length] = '\0';
	memcpy(s->split_id, a->split_id->data, KRA_SPLIT_ID_LEN);
	memcpy(s->check, a->check->data, KRA_CHECK_LEN);
	memcpy(s->y, a->share->data, KRA_SECRET_LEN);
	/* A label with a NUL inside would compare shorter than it is. */
	if (strlen(s->label) != (size_t)a->label->length) {
		seterr(err, errlen, "the label is not printable ASCII of at "
		    "most 255 bytes");
		return -1;
	}
	return share_fields_ok(s, err, errlen);
}

/* Returns 0 or -1, as kra.h says. */
int
kra_share_decode(const unsigned char *der, size_t len,
    struct kra_share *share, char *err, size_t errlen)
{
	KRA_SHARE_ASN *a = NULL;
	const unsigned char *p = der;
	int rc = -1;

	kra_share_wipe(share);
	if (len == 0 || len > 4096 ||
	    (a = (KRA_SHARE_ASN *)ASN1_item_d2i(NULL, &p, (long)len,
	    ASN1_ITEM_rptr(KRA_SHARE_ASN))) == NULL ||
	    p != der + len || !share_is_der(a, der, len)) {
		seterr(err, errlen, "not a certsync key recovery share (KraShare "
		    "DER): corrupt or another kind of data");
		goto done;
	}
	if (share_from_asn(a, share, err, errlen) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		kra_share_wipe(share);
	share_asn_free(a);
	return rc;
}
