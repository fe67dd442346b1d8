/*
 * p12.h - PKCS#12 files whose password is worked once, not once per file.
 *
 * Owns: a password's derived keys (struct p12_key) and the PKCS#12 format
 * built with them.  PBKDF2 (for the key bag) and the PKCS#12 KDF (for the
 * MAC) run once per password, salt and iteration count, on first use; every
 * file then gets a fresh random IV and an HMAC under the same keys.  The
 * files stay standard: each carries its PBES2 parameters (PBKDF2 with
 * HMAC-SHA256, the salt, the iterations; AES-256-CBC and its IV) and its
 * MacData (SHA-256, the salt, the iterations), so OpenSSL, NSS, GnuTLS and
 * Windows open them with the password and do the derivation themselves.
 * All files under one password are as strong as one of them: a salt per
 * file would add nothing against an attacker who cracks that password.
 * The certificate bag is not encrypted: certificates are public (they are
 * in the directory), and encrypting them cost a third PBKDF2 per file.
 * The "legacy" profile (3DES, SHA-1 MAC, for old Windows) derives its IV
 * from the salt, so it cannot share a salt: it keeps a salt, and the work,
 * per file.
 * Never: keeps the password or a derived key outside one locked, undumped
 * page that is wiped when the key is freed; logs either.
 *
 * Return convention: 0, or -1 after logging one line.
 */
#ifndef CERTSYNC_P12_H
#define CERTSYNC_P12_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/conf.h"

#define P12_SALT_LEN 16

struct p12_key;

/*
 * A key for password (copied), salt (NULL: a fresh random one) and
 * iterations.  Nothing is derived yet: that happens on first use, once
 * (thread-safe).  0 and *out (free with p12_key_free), or -1.
 */
int p12_key_new(const char *password, const unsigned char *salt, int iterations,
    enum p12_profile profile, struct p12_key **out);
void p12_key_free(struct p12_key *k);

/* Whether k was made from password: 1 yes, 0 no. */
int p12_key_is(const struct p12_key *k, const char *password);

/* Derives now if not done yet (to keep the cost off a latency path). */
int p12_key_prepare(struct p12_key *k);

/*
 * key + cert (+ ca, may be NULL) as PKCS#12 DER under k: 0 and *der
 * (caller frees with OPENSSL_free), or -1.  Safe on any thread.
 */
int p12_encode(struct p12_key *k, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *friendly, unsigned char **der, size_t *len);

/*
 * A file's contents as DER, none of it parsed: the key as a key bag holds
 * it once decrypted (PKCS#8 PrivateKeyInfo) and its certificate.  How a
 * key moves from one file to another: OpenSSL 3.0 parses a key, and the
 * public key of a certificate, with decoders that cost a millisecond
 * each.  Free with p12_raw_free(), which wipes the key.
 */
struct p12_raw {
	unsigned char *p8;
	size_t p8len, cap;
	unsigned char *cert;
	size_t cert_len;
};
void p12_raw_free(struct p12_raw *r);

/* What a file is made of, as DER. */
struct p12_parts {
	const unsigned char *key;        /* PKCS#8 PrivateKeyInfo */
	size_t key_len;
	const unsigned char *cert;       /* the key's certificate */
	size_t cert_len;
	const unsigned char *ca;         /* the CA's; NULL: none */
	size_t ca_len;
	const char *friendly;
};

/* key's PKCS#8 DER into *p8 (caller frees with OPENSSL_clear_free). */
int p12_key_der(EVP_PKEY *key, unsigned char **p8, size_t *p8len);

/* p12_encode() of parts given as DER. */
int p12_encode_parts(struct p12_key *k, const struct p12_parts *in,
    unsigned char **der, size_t *len);

/* p12_decode() into DER (nothing parsed). */
int p12_decode_raw(struct p12_key *k, const unsigned char *der, size_t len,
    const char *what, int quiet, struct p12_raw *out);

/*
 * Opens PKCS#12 DER with k's password: the key and the certificate that
 * goes with it (caller frees both).  Files made by p12_encode() under k
 * open without any derivation; others (another salt, an older certsync,
 * another tool) the slow, standard way.  what names the file in messages.
 * 0, or -1 (wrong password, not PKCS#12, no key): logged unless quiet.
 */
int p12_decode(struct p12_key *k, const unsigned char *der, size_t len,
    const char *what, int quiet, EVP_PKEY **key, X509 **cert);

#endif
