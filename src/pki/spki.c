/*
 * spki.c - a public key's SubjectPublicKeyInfo, encoded once and copied.
 *
 * Owns: X509_PUBKEYs made from an encoding without decoding the key again,
 * and copies of one into another (spki.h says why).
 * Never: decodes a key (ca_proto.c's strict decoding of a request does),
 * or accepts bytes it did not check as DER.
 */
#include "config.h"

#include <string.h>

#include <openssl/asn1t.h>
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

X509_PUBKEY *
spki_of(EVP_PKEY *key)
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
		log_ssl("cannot encode a public key");
		X509_PUBKEY_free(pk);
		pk = NULL;
	}
	SPKI_RAW_free(raw);
	OPENSSL_free(der);
	return pk;
}

int
spki_canonical(const X509_PUBKEY *pk)
{
	EVP_PKEY *key = X509_PUBKEY_get0(pk);
	unsigned char *a = NULL, *b = NULL;
	int la, lb, same;

	if (key == NULL) {
		ERR_clear_error();
		return 0;
	}
	la = i2d_X509_PUBKEY(pk, &a);
	lb = i2d_PUBKEY(key, &b);
	same = la > 0 && la == lb && memcmp(a, b, (size_t)la) == 0;
	ERR_clear_error();
	OPENSSL_free(a);
	OPENSSL_free(b);
	return same;
}
