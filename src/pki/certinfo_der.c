/*
 * certinfo_der.c - facts read straight from a certificate's DER.
 *
 * Owns: walking a certificate's encoding to one field without parsing the
 * rest (OpenSSL 3.0 parses a certificate's public key with decoders that
 * cost a millisecond each, and a full pass over 100,000 users must not pay
 * that twice per user): the authority key identifier.
 * Never: trusts a length it has not checked against the buffer.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/asn1.h>

#include "pki/certinfo.h"

/* One TLV at *q (definite length, within end): its tag, class and
 * constructedness; *q moved to its contents, *l their length.  0, or -1. */
static int
tlv(const unsigned char **q, const unsigned char *end, int *tag, int *class,
    int *cons, long *l)
{
	int r = ASN1_get_object(q, l, tag, class, (long)(end - *q));

	if ((r & 0x80) || (r & 1) || *l > end - *q)
		return -1;
	*cons = (r & V_ASN1_CONSTRUCTED) != 0;
	return 0;
}

/* Into the next TLV, which must be a SEQUENCE: *q at its contents, *end
 * its end.  0, or -1. */
static int
enter_seq(const unsigned char **q, const unsigned char **end)
{
	int tag, class, cons;
	long l;

	if (tlv(q, *end, &tag, &class, &cons, &l) == -1 || tag != V_ASN1_SEQUENCE ||
	    class != V_ASN1_UNIVERSAL || !cons)
		return -1;
	*end = *q + l;
	return 0;
}

/* The extensions of a TBSCertificate (the [3] after the public key), or
 * -1: *q and *end around the SEQUENCE OF Extension's contents. */
static int
find_extensions(const unsigned char **q, const unsigned char **end)
{
	int tag, class, cons;
	long l;

	while (*q < *end) {
		if (tlv(q, *end, &tag, &class, &cons, &l) == -1)
			return -1;
		if (class == V_ASN1_CONTEXT_SPECIFIC && tag == 3 && cons) {
			*end = *q + l;
			return enter_seq(q, end);
		}
		*q += l;
	}
	return -1;
}

/* In an Extension's contents: its value (the OCTET STRING's contents) if
 * its extnID is der_oid.  1 found (*v, *vlen), 0 another, -1 malformed. */
static int
extension_value(const unsigned char *q, const unsigned char *end,
    const unsigned char *der_oid, size_t oid_len, const unsigned char **v, long *vlen)
{
	int tag, class, cons, same;
	long l;

	if (tlv(&q, end, &tag, &class, &cons, &l) == -1 || tag != V_ASN1_OBJECT)
		return -1;
	same = (size_t)l == oid_len && memcmp(q, der_oid, oid_len) == 0;
	q += l;
	while (q < end) {
		if (tlv(&q, end, &tag, &class, &cons, &l) == -1)
			return -1;
		if (tag == V_ASN1_OCTET_STRING && class == V_ASN1_UNIVERSAL && !cons) {
			*v = q;
			*vlen = l;
			return same;
		}
		q += l;	/* critical BOOLEAN */
	}
	return -1;
}

char *
certinfo_aki_hex(const unsigned char *der, size_t len)
{
	static const unsigned char aki_oid[] = { 0x55, 0x1d, 0x23 };	/* 2.5.29.35 */
	const unsigned char *q = der, *end = der + len, *v = NULL, *vend;
	int tag, class, cons, found = 0;
	long l, vlen = 0;
	char *hex;

	if (enter_seq(&q, &end) == -1 || enter_seq(&q, &end) == -1 ||
	    find_extensions(&q, &end) == -1)
		return NULL;
	while (q < end && !found) {
		const unsigned char *ext = q, *ext_end = end;

		if (enter_seq(&ext, &ext_end) == -1 ||
		    (found = extension_value(ext, ext_end, aki_oid, sizeof(aki_oid),
		    &v, &vlen)) == -1)
			return NULL;
		q = ext_end;
	}
	/* AuthorityKeyIdentifier ::= SEQUENCE { keyIdentifier [0] ... } */
	vend = v + vlen;
	if (!found || enter_seq(&v, &vend) == -1 ||
	    tlv(&v, vend, &tag, &class, &cons, &l) == -1 ||
	    class != V_ASN1_CONTEXT_SPECIFIC || tag != 0 || cons)
		return NULL;
	if ((hex = malloc((size_t)l * 2 + 1)) == NULL)
		return NULL;
	for (long i = 0; i < l; i++)
		snprintf(hex + i * 2, 3, "%02X", v[i]);
	hex[l * 2] = '\0';
	return hex;
}
