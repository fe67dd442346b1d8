/*
 * smime_value.h - the value certsync writes to userSMIMECertificate.
 *
 * Owns: building that value in the form Outlook's own "Publish to GAL"
 * writes (MS-OXOABK 2.2.4.36, example 4.2): a CMS SignedData (RFC 5652)
 * signed by the user's signing key, over the encapsulated content "Empty
 * Body", carrying the user's certificates and the CA certificate, with the
 * signed attributes a sender's client reads to encrypt to the user:
 * SMIMECapabilities and the encryption key preference in the RFC 8551 and
 * the Microsoft form.  In DER, every SET OF sorted.
 * Never: touches the CA key, or keeps the user's key.
 */
#ifndef CERTSYNC_SMIME_VALUE_H
#define CERTSYNC_SMIME_VALUE_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

struct cert_rows;

/* What one value is made of; nothing is taken over. */
struct smime_parts {
	EVP_PKEY *sign_key;    /* the signer: the user's new signing (or dual) key */
	X509 *sign_cert;       /* its certificate */
	X509 *enc_cert;        /* the encryption certificate (sign_cert in dual mode) */
	X509 *ca;              /* the CA certificate, carried along */
	time_t now;            /* the signingTime */
};

/*
 * The value for parts, signed with SHA-256 by parts->sign_key and named by
 * issuerAndSerialNumber: certificates sign_cert, enc_cert and ca;
 * signed attributes contentType (id-data), signingTime, messageDigest,
 * SMIMECapabilities (AES-256-CBC, AES-192-CBC, AES-128-CBC, by
 * preference), smimeEncryptionKeyPreference (RFC 8551 2.5.3, the
 * issuerAndSerialNumber choice) and Microsoft's 1.3.6.1.4.1.311.16.4
 * (IssuerAndSerialNumber), both naming enc_cert.
 * Returns 0 and *der (caller frees with free()), or -1 after logging.
 */
int smime_value_signed(const struct smime_parts *parts, unsigned char **der,
    size_t *len);

/*
 * A certs-only SignedData (RFC 8551 3.6: no signer, no content) of the
 * certificates in rows (their DER) and ca, in DER: for certificates issued
 * before certsync kept their signed value, whose keys it no longer holds
 * in memory.  Returns 0 and *der (caller frees with free()), or -1 after
 * logging.
 */
int smime_value_certs_only(const struct cert_rows *rows, X509 *ca,
    unsigned char **der, size_t *len);

#endif
