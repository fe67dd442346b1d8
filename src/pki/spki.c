/*
 * spki.c - a public key's SubjectPublicKeyInfo, encoded once and copied.
 *
 * Owns: X509_PUBKEYs made from a key without decoding it again (an EC
 * key on a named curve from its parameters, any other by OpenSSL's
 * encoder), and copies of one into another (spki.h says why).
 * Never: decodes a key (ca_proto.c's strict decoding of a request does),
 * or accepts bytes it did not check as DER.
 */
#include "config.h"

#include <limits.h>
#include <string.h>

#include <openssl/asn1t.h>
#include <openssl/core_names.h>
#include <openssl/err.h>

#include "lib/log.h"
#include "pki/spki.h"

/* SubjectPublicKeyInfo as two fields: read without a key decoder. */
typedef struct {
	X509_ALGOR *algor;
	ASN1_BIT_STRING *bits;
} SPKI_RAW;

DECLARE_ASN1_FUNCTIONS(SPKI_RAW)

ASN1_SEQUENCE(SPKI_RAW) = {
	ASN1_SIMPLE(SPKI_RAW, algor, X509_ALGOR),
	ASN1_SIMPLE(SPKI_RAW, bits, ASN1_BIT_STRING),
} ASN1_SEQUENCE_END(SPKI_RAW)

IMPLEMENT_ASN1_FUNCTIONS(SPKI_RAW)

/* The algorithm's parameter, copied for X509_PUBKEY_set0_param: 0, or -1. */
static int
param_dup(int ptype, const void *pval, void **out)
{
	*out = NULL;
	if (ptype == V_ASN1_UNDEF || ptype == V_ASN1_NULL || pval == NULL)
		return 0;
	if (ptype == V_ASN1_OBJECT)
		*out = OBJ_dup(pval);
	else
		*out = ASN1_STRING_dup(pval);
	return *out != NULL ? 0 : -1;
}

/* alg and bits (len octets, no unused bits) into dst.  0, or -1. */
static int
set_parts(X509_PUBKEY *dst, const X509_ALGOR *alg, const unsigned char *bits,
    int len)
{
	const ASN1_OBJECT *obj = NULL;
	const void *pval = NULL;
	ASN1_OBJECT *o = NULL;
	unsigned char *copy = NULL;
	void *p = NULL;
	int ptype = V_ASN1_UNDEF;

	X509_ALGOR_get0(&obj, &ptype, &pval, alg);
	if ((o = OBJ_dup(obj)) == NULL || param_dup(ptype, pval, &p) == -1 ||
	    (copy = OPENSSL_memdup(bits, len > 0 ? (size_t)len : 1)) == NULL ||
	    !X509_PUBKEY_set0_param(dst, o, ptype, p, copy, len)) {
		ASN1_OBJECT_free(o);
		if (ptype == V_ASN1_OBJECT)
			ASN1_OBJECT_free(p);
		else
			ASN1_STRING_free(p);
		OPENSSL_free(copy);
		return -1;
	}
	return 0;
}

int
spki_copy(X509_PUBKEY *dst, const X509_PUBKEY *src)
{
	const unsigned char *bits = NULL;
	X509_ALGOR *alg = NULL;
	int len = 0;

	if (!X509_PUBKEY_get0_param(NULL, &bits, &len, &alg, src) ||
	    set_parts(dst, alg, bits, len) == -1) {
		log_ssl("cannot copy a public key");
		return -1;
	}
	return 0;
}

/*
 * An EC key on a named curve into pk as OpenSSL's encoder writes it (RFC
 * 5480: id-ecPublicKey, the curve's OID, the point in the key's form),
 * from the key's parameters: a few microseconds, where the encoder's
 * lookups cost ~50.  1 done; 0 not such a key (the encoder is asked).
 */
static int
ec_named(EVP_PKEY *key, X509_PUBKEY *pk)
{
	char group[80], form[40];
	unsigned char *point = NULL;
	size_t len = 0;
	int nid;

	if (!EVP_PKEY_is_a(key, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_EC_ENCODING, form,
	    sizeof(form), NULL) || strcmp(form, OSSL_PKEY_EC_ENCODING_GROUP) != 0 ||
	    !EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group,
	    sizeof(group), NULL) || (nid = OBJ_sn2nid(group)) == NID_undef ||
	    !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	    NULL, 0, &len) || len == 0 || len > INT_MAX ||
	    (point = OPENSSL_malloc(len)) == NULL ||
	    !EVP_PKEY_get_octet_string_param(key, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY,
	    point, len, &len) ||
	    !X509_PUBKEY_set0_param(pk, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
	    V_ASN1_OBJECT, OBJ_nid2obj(nid), point, (int)len)) {
		ERR_clear_error();
		OPENSSL_free(point);
		return 0;
	}
	return 1;
}

/* key's SubjectPublicKeyInfo by OpenSSL's encoder, read back without a
 * key decoder: NULL on failure. */
static X509_PUBKEY *
encoded(EVP_PKEY *key)
{
	unsigned char *der = NULL;
	const unsigned char *p;
	SPKI_RAW *raw = NULL;
	X509_PUBKEY *pk = NULL;
	int len;

	if ((len = i2d_PUBKEY(key, &der)) <= 0 ||
	    (p = der, raw = d2i_SPKI_RAW(NULL, &p, len)) == NULL || p != der + len ||
	    (raw->bits->flags & 0x07) != 0 || (pk = X509_PUBKEY_new()) == NULL ||
	    set_parts(pk, raw->algor, raw->bits->data, raw->bits->length) == -1) {
		X509_PUBKEY_free(pk);
		pk = NULL;
	}
	SPKI_RAW_free(raw);
	OPENSSL_free(der);
	return pk;
}

X509_PUBKEY *
spki_of(EVP_PKEY *key)
{
	X509_PUBKEY *pk = X509_PUBKEY_new();

	if (pk != NULL && ec_named(key, pk))
		return pk;
	X509_PUBKEY_free(pk);
	if ((pk = encoded(key)) == NULL)
		log_ssl("cannot encode a public key");
	return pk;
}

int
spki_canonical(const X509_PUBKEY *pk)
{
	EVP_PKEY *key = X509_PUBKEY_get0(pk);
	X509_PUBKEY *own = NULL;
	unsigned char *a = NULL, *b = NULL;
	int la, lb, same = 0;

	if (key != NULL && (own = spki_of(key)) != NULL) {
		la = i2d_X509_PUBKEY(pk, &a);
		lb = i2d_X509_PUBKEY(own, &b);
		same = la > 0 && la == lb && memcmp(a, b, (size_t)la) == 0;
	}
	ERR_clear_error();
	X509_PUBKEY_free(own);
	OPENSSL_free(a);
	OPENSSL_free(b);
	return same;
}
