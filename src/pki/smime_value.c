/*
 * smime_value.c - the value certsync writes to userSMIMECertificate.
 *
 * Owns: the CMS SignedData that Outlook's "Publish to GAL" writes, which
 * is what Outlook looks for first when it encrypts to someone from the
 * directory (MS-OXOABK 2.2.4.36: "an ASN.1 DER encoded SignedData ... that
 * contains the user's certificates and is signed with the user's
 * certificate"), and the certs-only form for certificates issued before
 * certsync kept its signed value.
 * Never: touches the CA key, keeps the user's key, or emits BER: OpenSSL's
 * CMS encoder sorts every SET OF (certificates, digest algorithms, signed
 * attributes, signer infos), where its PKCS#7 one wrote the certificates
 * in the order they were added.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/cms.h>
#include <openssl/pkcs7.h>

#include "lib/log.h"
#include "pki/certinfo.h"
#include "pki/smime_value.h"
#include "store/store.h"

/*
 * What Outlook encapsulates (MS-OXOABK 4.2, eContent of type id-data): the
 * ten octets "Empty Body", no NUL.  Consumers ignore it (RFC 2798 suggests
 * leaving the content out, but then a verifier has to be handed the empty
 * content separately); with it in, `openssl cms -verify` needs nothing
 * else.
 */
static const char empty_body[] = "Empty Body";

/* szOID_MICROSOFT_Encryption_Key_Preference: IssuerAndSerialNumber of
 * the encryption certificate, the form Outlook reads. */
#define OID_MS_ENCRYPTION_KEY_PREFERENCE "1.3.6.1.4.1.311.16.4"

/*
 * SMIMECapabilities (RFC 8551 2.5.2), most preferred first: the content
 * ciphers every current client decrypts (RFC 8551 2.7 MUST AES-128 and
 * SHOULD+ AES-256 CBC), parameters absent (RFC 3565).  No RSAES-OAEP: a
 * sender that sees it may wrap the key that way, and not every client the
 * user may read mail with unwraps it; PKCS#1 v1.5 is what all expect.
 */
static const int capabilities[] = { NID_aes_256_cbc, NID_aes_192_cbc, NID_aes_128_cbc };

/*
 * IssuerAndSerialNumber (RFC 5652 10.2.4) of cert in DER, as the SEQUENCE
 * (tag 0x30) or as the issuerAndSerialNumber choice of
 * SMIMEEncryptionKeyPreference, [0] IMPLICIT (tag 0xA0: an implicit tag
 * replaces the identifier octet and nothing else).  Returns the length and
 * *der (OPENSSL_free()), or -1.
 */
static int
issuer_and_serial(X509 *cert, unsigned char tag, unsigned char **der)
{
	PKCS7_ISSUER_AND_SERIAL *ias = PKCS7_ISSUER_AND_SERIAL_new();
	ASN1_INTEGER *serial = NULL;
	int len = -1;

	*der = NULL;
	if (ias == NULL || !X509_NAME_set(&ias->issuer, X509_get_issuer_name(cert)) ||
	    (serial = ASN1_INTEGER_dup(X509_get0_serialNumber(cert))) == NULL)
		goto done;
	ASN1_INTEGER_free(ias->serial);
	ias->serial = serial;
	if ((len = i2d_PKCS7_ISSUER_AND_SERIAL(ias, der)) > 0)
		(*der)[0] = tag;
done:
	PKCS7_ISSUER_AND_SERIAL_free(ias);
	return len;
}

static int
add_capabilities(CMS_SignerInfo *si)
{
	STACK_OF(X509_ALGOR) *algs = sk_X509_ALGOR_new_null();
	int ok = algs != NULL;

	for (size_t i = 0; ok && i < sizeof(capabilities) / sizeof(capabilities[0]); i++)
		ok = PKCS7_simple_smimecap(algs, capabilities[i], -1);
	ok = ok && CMS_add_smimecap(si, algs);
	sk_X509_ALGOR_pop_free(algs, X509_ALGOR_free);
	return ok;
}

/* Both forms of the encryption key preference, naming enc. */
static int
add_key_preference(CMS_SignerInfo *si, X509 *enc)
{
	ASN1_OBJECT *ms = OBJ_txt2obj(OID_MS_ENCRYPTION_KEY_PREFERENCE, 1);
	unsigned char *choice = NULL, *seq = NULL;
	int clen = issuer_and_serial(enc, 0xA0, &choice);
	int slen = issuer_and_serial(enc, 0x30, &seq);
	int ok;

	/* A value of type SEQUENCE is its whole encoding, written as it is:
	 * the [0] choice goes in that way too (V_ASN1_OTHER, its proper type,
	 * reads as a multibyte string format here). */
	ok = ms != NULL && clen > 0 && slen > 0 &&
	    CMS_signed_add1_attr_by_NID(si, NID_id_smime_aa_encrypKeyPref, V_ASN1_SEQUENCE,
	    choice, clen) &&
	    CMS_signed_add1_attr_by_OBJ(si, ms, V_ASN1_SEQUENCE, seq, slen);
	OPENSSL_free(choice);
	OPENSSL_free(seq);
	ASN1_OBJECT_free(ms);
	return ok;
}

/* signingTime as RFC 5652 11.3 wants it: UTCTime through 2049,
 * GeneralizedTime from 2050 (ASN1_TIME_set picks so). */
static int
add_signing_time(CMS_SignerInfo *si, time_t now)
{
	ASN1_TIME *t = ASN1_TIME_set(NULL, now);
	int ok = t != NULL && CMS_signed_add1_attr_by_NID(si, NID_pkcs9_signingTime,
	    t->type, t, -1);

	ASN1_TIME_free(t);
	return ok;
}

/* cms in DER into a malloc'd buffer.  0, or -1. */
static int
cms_der(CMS_ContentInfo *cms, unsigned char **der, size_t *len)
{
	unsigned char *buf = NULL;
	int n = i2d_CMS_ContentInfo(cms, &buf);

	if (n <= 0)
		return -1;
	if ((*der = malloc((size_t)n)) == NULL)
		fatal("out of memory");
	memcpy(*der, buf, (size_t)n);
	*len = (size_t)n;
	OPENSSL_free(buf);
	return 0;
}

/*
 * cms made of the parts: the signer's certificate goes in with
 * CMS_add1_signer, the others after it (the encoder sorts them); the
 * attributes are signed by CMS_final, which adds contentType and
 * messageDigest.  1, or 0 on an OpenSSL failure.
 */
static int
fill(CMS_ContentInfo *cms, const struct smime_parts *parts, X509 *sign, X509 *enc,
    X509 *ca)
{
	const unsigned int flags = CMS_PARTIAL | CMS_BINARY | CMS_NOSMIMECAP;
	BIO *content = BIO_new_mem_buf(empty_body, (int)strlen(empty_body));
	CMS_SignerInfo *si = NULL;
	int ok;

	ok = content != NULL &&
	    (si = CMS_add1_signer(cms, sign, parts->sign_key, EVP_sha256(), flags)) != NULL &&
	    (parts->enc_cert == parts->sign_cert || CMS_add1_cert(cms, enc)) &&
	    (ca == NULL || CMS_add1_cert(cms, ca)) &&
	    add_signing_time(si, parts->now) && add_capabilities(si) &&
	    add_key_preference(si, enc) && CMS_final(cms, content, NULL, CMS_BINARY);
	BIO_free(content);
	return ok;
}

/* Whether two of the distinct certificates compare as one (X509_cmp goes
 * by the fingerprint OpenSSL cached when it first looked at each). */
static int
look_alike(const struct smime_parts *parts)
{
	X509 *v[3] = { parts->sign_cert, parts->enc_cert, parts->ca };

	for (int i = 0; i < 3; i++)
		for (int j = i + 1; j < 3; j++)
			if (v[i] != NULL && v[j] != NULL && v[i] != v[j] &&
			    X509_cmp(v[i], v[j]) == 0)
				return 1;
	return 0;
}

/* x itself (up-referenced), or when fresh a copy decoded afresh: NULL on
 * failure. */
static X509 *
take(X509 *x, int fresh)
{
	if (fresh)
		return X509_dup(x);
	return X509_up_ref(x) ? x : NULL;
}

int
smime_value_signed(const struct smime_parts *parts, unsigned char **der, size_t *len)
{
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL | CMS_BINARY);
	X509 *sign = NULL, *enc = NULL, *ca = NULL;
	int rc = -1, fresh = look_alike(parts);

	*der = NULL;
	/* Copies decoded afresh only when two look alike: a certificate
	 * signed after OpenSSL looked at its extensions (the signer's CA:TRUE
	 * check) keeps facts cached from before, its fingerprint among them,
	 * and CMS_add1_cert would take any two such for the same certificate.
	 * Certificates decoded from the CA's replies never do, and a copy
	 * costs a decoder lookup a certificate (OpenSSL 3.0). */
	if (cms == NULL || (sign = take(parts->sign_cert, fresh)) == NULL ||
	    (enc = take(parts->enc_cert, fresh)) == NULL ||
	    (parts->ca != NULL && (ca = take(parts->ca, fresh)) == NULL) ||
	    !fill(cms, parts, sign, enc, ca) || cms_der(cms, der, len) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		log_ssl("cannot build the userSMIMECertificate value");
	X509_free(sign);
	X509_free(enc);
	X509_free(ca);
	CMS_ContentInfo_free(cms);
	return rc;
}

int
smime_value_certs_only(const struct cert_rows *rows, X509 *ca, unsigned char **der,
    size_t *len)
{
	CMS_ContentInfo *cms = CMS_sign(NULL, NULL, NULL, NULL, CMS_PARTIAL);
	int rc = -1;

	*der = NULL;
	for (size_t i = 0; cms != NULL && i < rows->n; i++) {
		X509 *x = certinfo_from_der(rows->v[i].der, rows->v[i].der_len);

		if (x == NULL || !CMS_add1_cert(cms, x)) {
			X509_free(x);
			goto done;
		}
		X509_free(x);
	}
	/* Detached: no eContent at all, as RFC 8551 3.6 has it. */
	if (cms == NULL || (ca != NULL && !CMS_add1_cert(cms, ca)) ||
	    !CMS_set_detached(cms, 1) || cms_der(cms, der, len) == -1)
		goto done;
	rc = 0;
done:
	if (rc == -1)
		log_ssl("cannot build the certs-only userSMIMECertificate value");
	CMS_ContentInfo_free(cms);
	return rc;
}
