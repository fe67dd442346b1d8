/*
 * spki.h - a public key's SubjectPublicKeyInfo, encoded once and copied.
 *
 * Owns: the X509_PUBKEY a request and its certificate carry, made without
 * OpenSSL 3.0's round trips: X509_PUBKEY_set() encodes a key and decodes
 * it again, and each decoder lookup costs about as much as an EC key
 * (~100 us on this machine); a copy of the algorithm and the bits costs a
 * few microseconds.  Never: judges a key (ca_check.c does, on the key the
 * CA process decoded).
 */
#ifndef CERTSYNC_SPKI_H
#define CERTSYNC_SPKI_H

#include <openssl/evp.h>
#include <openssl/x509.h>

/* key's SubjectPublicKeyInfo, the bytes OpenSSL's encoder writes (an EC
 * key on a named curve from its parameters, any other by one encode; no
 * decode): an X509_PUBKEY that carries the encoding only
 * (X509_PUBKEY_get0() of it is NULL).  NULL after logging. */
X509_PUBKEY *spki_of(EVP_PKEY *key);

/* src's algorithm and bits copied into dst, a new X509_PUBKEY (one that
 * holds no decoded key: this one would not match).  0, or -1 after
 * logging. */
int spki_copy(X509_PUBKEY *dst, const X509_PUBKEY *src);

/* Whether pk's bytes are spki_of() the key they decode to: 1 yes, 0 no
 * or cannot tell. */
int spki_canonical(const X509_PUBKEY *pk);

#endif
