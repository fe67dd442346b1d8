/*
 * certinfo.h - reading facts out of certificates.
 *
 * Owns: the textual forms certsync uses for a certificate everywhere (store,
 * logs, CLI): serial as upper-case hex, SHA-256 fingerprint as hex, subject
 * as an RFC 2253 string, the rfc822Name list; and a certificate's row for
 * the store, made of those.  Never: modifies a certificate.
 */
#ifndef CERTSYNC_CERTINFO_H
#define CERTSYNC_CERTINFO_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/vocab.h"

struct cert_row;

/* Each returns a string the caller frees, or NULL after logging. */
char *certinfo_serial(const X509 *cert);
char *certinfo_fingerprint(const X509 *cert);
char *certinfo_name(const X509_NAME *name);
/* rfc822Name values joined with ", "; "" when there are none. */
char *certinfo_emails(const X509 *cert);

/* ASN1_TIME to seconds since the epoch; returns 0, or -1. */
int certinfo_time(const ASN1_TIME *t, time_t *out);
/* time_t as "2026-11-22 15:04:05Z" into buf (at least 21 bytes). */
const char *certinfo_fmt_time(time_t t, char *buf, size_t len);

/* DER encoding; returns 0 and a buffer the caller frees with
 * OPENSSL_free(), or -1 after logging. */
int certinfo_der(X509 *cert, unsigned char **der, size_t *len);
/* Reads a PEM certificate file (the CA's: public, read by whoever needs
 * it); setting names it in the message.  NULL after logging. */
X509 *certinfo_read_pem(const char *path, const char *setting);
/* Decodes DER; returns a certificate or NULL. */
X509 *certinfo_from_der(const unsigned char *der, size_t len);

/* Normalizes a serial typed by a person: strips ':' and leading zeros,
 * upper-cases; NULL if it is not hex.  Caller frees. */
char *certinfo_parse_serial(const char *text);

/*
 * The store's row of a certificate just made, with key its keypair: the
 * facts above, kind, status pending, not revoked.  addresses (taken, even
 * on failure) are the rfc822Names it certifies, joined as
 * address_list_join() does.  0, or -1 after logging (the row is then
 * partly filled: free it with cert_row_free).
 */
int certinfo_row(struct cert_row *r, const char *uuid, char *addresses,
    enum cert_kind kind, EVP_PKEY *key, X509 *cert);

#endif
