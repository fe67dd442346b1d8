/*
 * keystore.h - private keys at rest, as password-protected PKCS#12 files.
 *
 * Owns: the two key directories and the PKCS#12 format.  The keystore holds
 * the current keys, for delivery to their users; the archive holds every
 * superseded key, so mail encrypted to an old certificate stays readable.
 * Never: overwrites an archive file, writes a key outside these files, or
 * leaves a key file readable by anybody but its owner (mode 0600).
 */
#ifndef CERTSYNC_KEYSTORE_H
#define CERTSYNC_KEYSTORE_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/conf.h"

enum key_area { AREA_KEYSTORE, AREA_ARCHIVE };

/* PKCS#12 protection: the profile and iteration count to use. */
struct p12_params {
	enum p12_profile profile;
	int iterations;
};

/*
 * Encodes key + cert + CA as PKCS#12 under password.  Returns 0 and a
 * buffer the caller frees with OPENSSL_free(), or -1 after logging.
 */
int keystore_p12_encode(EVP_PKEY *key, X509 *cert, X509 *ca, const char *friendly,
    const char *password, const struct p12_params *params,
    unsigned char **der, size_t *len);

/*
 * Writes key + cert + CA into area as "<kind>-<SERIAL>.p12", with the
 * area's password file.  The archive's files are written through
 * archive.h, which calls this in password-file mode.  An archive file that already exists with the same
 * certificate is accepted (the step is idempotent).  Returns 0 and *path
 * (caller frees), or -1 after logging.
 */
int keystore_save(const struct conf *conf, enum key_area area, EVP_PKEY *key,
    X509 *cert, X509 *ca, const char *kind, const char *friendly, char **path);

/*
 * Opens a PKCS#12 file.  Returns 0 with *key and *cert (caller frees), or
 * -1 after logging (wrong password, unreadable, not PKCS#12).
 */
int keystore_load(const char *path, const char *password, EVP_PKEY **key,
    X509 **cert);

/* keystore_load() of the bytes der[len], name (the file) for messages. */
int keystore_decode(const unsigned char *der, size_t len, const char *name,
    const char *password, EVP_PKEY **key, X509 **cert);

/* Whether the PKCS#12 file at path opens with password and holds cert:
 * 1 yes, 0 no (for whatever reason: unreadable, another password, another
 * certificate).  Logs nothing: asking is not an error. */
int keystore_holds(const char *path, const char *password, X509 *cert);

/* Where keystore_save() puts kind's key for serial in area (caller frees). */
char *keystore_file(const struct conf *conf, enum key_area area, const char *kind,
    const char *serial);

/* The password file for area. */
const char *keystore_password_file(const struct conf *conf, enum key_area area);

#endif
