/*
 * keystore.h - private keys at rest, as password-protected PKCS#12 files.
 *
 * Owns: the keystore (the current keys, waiting there for delivery to
 * their users): its directory, its password (read from [keystore]
 * password_file when opened, and again by keystore_refresh()), that
 * password's keys derived once (pki/p12.h) under a salt kept in the state
 * store, and the one writer of its files.  Also the PKCS#12 of one file
 * under a password of its own (certsyncctl recover, the recovery agents'
 * archive files), and where each area's files are named.
 * Never: writes an archive file (pki/archive.h is their one writer),
 * writes a key outside these files, or leaves a key file readable by
 * anybody but its owner (mode 0600).
 *
 * Return convention: 0, or -1 after logging one line.
 */
#ifndef CERTSYNC_KEYSTORE_H
#define CERTSYNC_KEYSTORE_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/conf.h"
#include "store/store.h"

enum key_area { AREA_KEYSTORE, AREA_ARCHIVE };

/* PKCS#12 protection: the profile and iteration count to use. */
struct p12_params {
	enum p12_profile profile;
	int iterations;
};

struct keystore;
struct workers;
struct p12_raw;

/*
 * The keystore of conf (which must outlive it): reads the password file
 * now, and the store's PKCS#12 salt (made at the first open, random, kept
 * in st).  Nothing is derived until a file is written or read.  0 and
 * *out (free with keystore_close), or -1.
 */
int keystore_open(const struct conf *conf, struct store *st, struct keystore **out);
void keystore_close(struct keystore *ks);

/* Reads the password file again: a new password is used (and derived)
 * from the next file on.  Call it between batches, when no worker holds
 * the keystore.  0, or -1 (the old password stays). */
int keystore_refresh(struct keystore *ks);

/* Derives the password's keys now, if not yet (start-up, not a job). */
int keystore_prepare(struct keystore *ks);

/*
 * key + cert + CA as the keystore's PKCS#12: encoded (thread-safe), and
 * written as "<kind>-<SERIAL>.p12" durably (keystore_save: temporary file,
 * fsync, rename, directory fsync).  *path for the caller to free.
 */
int keystore_encode(struct keystore *ks, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *friendly, unsigned char **der, size_t *len);
int keystore_save(struct keystore *ks, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *kind, const char *friendly, char **path);

/* One file of keystore_save_many(). */
struct keystore_item {
	EVP_PKEY *key;             /* in: the key and its certificate */
	X509 *cert;
	const char *kind;          /* in: "signing", ... (the file's name) */
	const char *friendly;      /* in: the PKCS#12 friendlyName */
	char *path;                /* out: where it went (caller frees) */
	int rc;                    /* out: 0, or -1 (logged) */
	int err;                   /* out: the errno of a write that failed */
};

/*
 * keystore_save() for n items at once: encoded on the workers (w may be
 * NULL), written with one flush for all (lib/fs_batch.h).  Each item's rc
 * says how it went.  Returns how many failed.
 */
size_t keystore_save_many(struct keystore *ks, struct workers *w, X509 *ca,
    struct keystore_item *v, size_t n);

/* Opens a keystore file: *key and *cert (caller frees).  Files written
 * under this store's salt open without a derivation. */
int keystore_read(struct keystore *ks, const char *path, EVP_PKEY **key, X509 **cert);
/* The same, the key left as PKCS#8 DER (p12.h: struct p12_raw), not
 * parsed: for moving it into the archive.  Thread-safe. */
int keystore_read_raw(struct keystore *ks, const char *path, struct p12_raw *out);

/*
 * Encodes key + cert + CA as PKCS#12 under a password of its own (a fresh
 * salt; one derivation of each kind).  Returns 0 and a buffer the caller
 * frees with OPENSSL_free(), or -1.
 */
int keystore_p12_encode(EVP_PKEY *key, X509 *cert, X509 *ca, const char *friendly,
    const char *password, const struct p12_params *params,
    unsigned char **der, size_t *len);

/* Opens any PKCS#12 file with password: *key and *cert (caller frees). */
int keystore_load(const char *path, const char *password, EVP_PKEY **key,
    X509 **cert);

/* keystore_load() of the bytes der[len], name (the file) for messages. */
int keystore_decode(const unsigned char *der, size_t len, const char *name,
    const char *password, EVP_PKEY **key, X509 **cert);

/* Where kind's key for serial goes in area (caller frees). */
char *keystore_file(const struct conf *conf, enum key_area area, const char *kind,
    const char *serial);

/* The password file for area. */
const char *keystore_password_file(const struct conf *conf, enum key_area area);

#endif
