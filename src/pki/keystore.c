/*
 * keystore.c - the keystore's PKCS#12 files, and PKCS#12 under a password
 * of its own.
 *
 * Owns: the keystore's password and its derived keys (one struct p12_key,
 * replaced when keystore_refresh() finds another password), the store's
 * PKCS#12 salt (random, made once, kept in daemon_state so that files
 * written before a restart open without a derivation), and writing
 * keystore files atomically, mode 0600.
 * Never: logs a password, or writes into the archive's directory.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "lib/fs_batch.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/workers.h"
#include "pki/certinfo.h"
#include "pki/keystore.h"
#include "pki/p12.h"

#define P12_MAX (1024 * 1024)
#define SALT_KEY "pkcs12_salt"
#define PW_WHAT "[keystore] password_file"

struct keystore {
	const struct conf *conf;
	unsigned char salt[P12_SALT_LEN];
	struct p12_key *key;
};

const char *
keystore_password_file(const struct conf *conf, enum key_area area)
{
	return area == AREA_ARCHIVE ? conf->archive.password_file :
	    conf->keystore.password_file;
}

char *
keystore_file(const struct conf *conf, enum key_area area, const char *kind,
    const char *serial)
{
	char *name = NULL, *file = NULL;

	if (asprintf(&name, "%s-%s.p12", kind, serial) == -1 ||
	    (file = fs_join(area == AREA_ARCHIVE ? conf->archive.directory :
	    conf->keystore.directory, name)) == NULL)
		fatal("out of memory");
	free(name);
	return file;
}

/* ---- the store's salt -------------------------------------------------------- */

static int
salt_parse(const char *hex, unsigned char *salt)
{
	if (strlen(hex) != 2 * P12_SALT_LEN)
		return -1;
	for (size_t i = 0; i < P12_SALT_LEN; i++) {
		unsigned int b;

		if (sscanf(hex + 2 * i, "%2x", &b) != 1)
			return -1;
		salt[i] = (unsigned char)b;
	}
	return 0;
}

/* The store's salt, made (and kept) by the first open: under the write
 * lock, so two processes opening a new store agree on it. */
static int
store_salt(struct store *st, unsigned char *salt)
{
	char *hex = NULL, fresh[2 * P12_SALT_LEN + 1];
	int found, rc = -1;

	if (store_begin(st) == -1)
		return -1;
	if ((found = store_state_get(st, SALT_KEY, &hex, NULL)) == 1) {
		if ((rc = salt_parse(hex, salt)) == -1)
			log_error("state store: its %s is damaged", SALT_KEY);
	} else if (found == 0) {
		if (RAND_bytes(salt, P12_SALT_LEN) != 1)
			log_ssl("cannot make the PKCS#12 salt");
		else {
			for (size_t i = 0; i < P12_SALT_LEN; i++)
				snprintf(fresh + 2 * i, 3, "%02X", salt[i]);
			rc = store_state_set(st, SALT_KEY, fresh);
		}
	}
	if (rc == -1)
		store_rollback(st);
	else
		rc = store_commit(st);
	free(hex);
	return rc;
}

/* ---- the keystore -------------------------------------------------------------- */

/* A key for the password in the file now: *out, or -1. */
static int
key_from_file(const struct keystore *ks, struct p12_key **out)
{
	const struct conf *c = ks->conf;
	char *pw = secret_read_password(c->keystore.password_file, PW_WHAT);
	int rc;

	if (pw == NULL)
		return -1;
	rc = p12_key_new(pw, ks->salt, c->archive.iterations, c->archive.profile, out);
	secret_free(pw);
	return rc;
}

int
keystore_open(const struct conf *conf, struct store *st, struct keystore **out)
{
	struct keystore *ks;

	*out = NULL;
	if ((ks = calloc(1, sizeof(*ks))) == NULL)
		fatal("out of memory");
	ks->conf = conf;
	if (store_salt(st, ks->salt) == -1 || key_from_file(ks, &ks->key) == -1) {
		free(ks);
		return -1;
	}
	*out = ks;
	return 0;
}

void
keystore_close(struct keystore *ks)
{
	if (ks == NULL)
		return;
	p12_key_free(ks->key);
	free(ks);
}

int
keystore_refresh(struct keystore *ks)
{
	char *pw = secret_read_password(ks->conf->keystore.password_file, PW_WHAT);
	struct p12_key *k = NULL;
	int same;

	if (pw == NULL)
		return -1;
	same = p12_key_is(ks->key, pw);
	secret_free(pw);
	if (same || key_from_file(ks, &k) == -1)
		return same ? 0 : -1;
	log_notice("%s: the keystore's password changed; new files use it",
	    ks->conf->keystore.password_file);
	p12_key_free(ks->key);
	ks->key = k;
	return 0;
}

int
keystore_prepare(struct keystore *ks)
{
	return p12_key_prepare(ks->key);
}

int
keystore_encode(struct keystore *ks, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *friendly, unsigned char **der, size_t *len)
{
	return p12_encode(ks->key, key, cert, ca, friendly, der, len);
}

int
keystore_save(struct keystore *ks, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *kind, const char *friendly, char **path)
{
	const char *dir = ks->conf->keystore.directory;
	unsigned char *der = NULL;
	char *serial = NULL, *file = NULL;
	size_t len = 0;
	int rc = -1;

	*path = NULL;
	if ((serial = certinfo_serial(cert)) == NULL)
		return -1;
	file = keystore_file(ks->conf, AREA_KEYSTORE, kind, serial);
	if (fs_mkdir_p(dir, 0700) == -1)
		log_error("cannot create %s: %s", dir, strerror(errno));
	else if (keystore_encode(ks, key, cert, ca, friendly, &der, &len) == -1)
		;	/* logged */
	else if (fs_write_atomic(file, der, len, 0600, 0) == -1)
		log_error("cannot write %s: %s", file, strerror(errno));
	else {
		*path = file;
		file = NULL;
		rc = 0;
	}
	OPENSSL_free(der);
	free(serial);
	free(file);
	return rc;
}

/* What keystore_save_many()'s workers share. */
struct save_job {
	struct keystore *ks;
	X509 *ca;
	struct keystore_item *v;
	unsigned char **der;
	size_t *len;
};

/* One item encoded, on a worker: its path and its DER. */
static void
encode_one(void *arg, size_t i)
{
	struct save_job *j = arg;
	struct keystore_item *it = &j->v[i];
	char *serial = certinfo_serial(it->cert);

	it->rc = -1;
	if (serial == NULL)
		return;
	it->path = keystore_file(j->ks->conf, AREA_KEYSTORE, it->kind, serial);
	free(serial);
	it->rc = keystore_encode(j->ks, it->key, it->cert, j->ca, it->friendly,
	    &j->der[i], &j->len[i]);
}

/* The encoded items written with shared flushes; failures logged. */
static void
write_encoded(struct workers *w, struct keystore_item *v, unsigned char **der,
    size_t *len, size_t n)
{
	struct fs_file *files = calloc(n ? n : 1, sizeof(*files));
	size_t k = 0;

	if (files == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++)
		if (v[i].rc == 0)
			files[k++] = (struct fs_file){ .path = v[i].path, .data = der[i],
			    .len = len[i], .mode = 0600 };
	fs_write_many(w, files, k);
	k = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i].rc != 0)
			continue;
		if (files[k].err != 0) {
			log_error("cannot write %s: %s", v[i].path, strerror(files[k].err));
			v[i].rc = -1;
			v[i].err = files[k].err;
		}
		k++;
	}
	free(files);
}

size_t
keystore_save_many(struct keystore *ks, struct workers *w, X509 *ca,
    struct keystore_item *v, size_t n)
{
	const char *dir = ks->conf->keystore.directory;
	struct save_job j = { ks, ca, v, calloc(n ? n : 1, sizeof(*j.der)),
	    calloc(n ? n : 1, sizeof(*j.len)) };
	size_t failed = 0;

	if (j.der == NULL || j.len == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++) {
		v[i].path = NULL;
		v[i].rc = -1;
		v[i].err = 0;
	}
	if (fs_mkdir_p(dir, 0700) == -1) {
		log_error("cannot create %s: %s", dir, strerror(errno));
		for (size_t i = 0; i < n; i++)
			v[i].err = errno;
	} else {
		workers_map(w, n, encode_one, &j);
		write_encoded(w, v, j.der, j.len, n);
	}
	for (size_t i = 0; i < n; i++) {
		OPENSSL_free(j.der[i]);
		if (v[i].rc != 0) {
			free(v[i].path);
			v[i].path = NULL;
			failed++;
		}
	}
	free(j.der);
	free(j.len);
	return failed;
}

/* The file at path opened with k: 0, or -1 after logging. */
static int
read_with(struct p12_key *k, const char *path, EVP_PKEY **key, X509 **cert)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	*key = NULL;
	*cert = NULL;
	if (fs_read_file(path, P12_MAX, &buf, &len) == -1) {
		log_error("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	rc = p12_decode(k, buf, len, path, 0, key, cert);
	free(buf);
	return rc;
}

int
keystore_read(struct keystore *ks, const char *path, EVP_PKEY **key, X509 **cert)
{
	return read_with(ks->key, path, key, cert);
}

int
keystore_read_raw(struct keystore *ks, const char *path, struct p12_raw *out)
{
	unsigned char *buf = NULL;
	size_t len;
	int rc;

	memset(out, 0, sizeof(*out));
	if (fs_read_file(path, P12_MAX, &buf, &len) == -1) {
		log_error("cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	rc = p12_decode_raw(ks->key, buf, len, path, 0, out);
	free(buf);
	return rc;
}

int
keystore_decode(const unsigned char *der, size_t len, const char *name,
    const char *password, EVP_PKEY **key, X509 **cert)
{
	struct p12_key *k = NULL;
	int rc;

	*key = NULL;
	*cert = NULL;
	/* As keystore_load(): the file's own profile and iterations. */
	if (p12_key_new(password, NULL, 1, P12_PROFILE_AES256, &k) == -1)
		return -1;
	rc = p12_decode(k, der, len, name, 0, key, cert);
	p12_key_free(k);
	return rc;
}

int
keystore_load(const char *path, const char *password, EVP_PKEY **key, X509 **cert)
{
	struct p12_key *k = NULL;
	int rc;

	/* The profile and iterations are the file's own: only the password
	 * matters for opening it. */
	if (p12_key_new(password, NULL, 1, P12_PROFILE_AES256, &k) == -1)
		return -1;
	rc = read_with(k, path, key, cert);
	p12_key_free(k);
	return rc;
}

int
keystore_p12_encode(EVP_PKEY *key, X509 *cert, X509 *ca, const char *friendly,
    const char *password, const struct p12_params *params,
    unsigned char **der, size_t *len)
{
	struct p12_key *k = NULL;
	int rc;

	if (p12_key_new(password, NULL, params->iterations, params->profile, &k) == -1)
		return -1;
	rc = p12_encode(k, key, cert, ca, friendly, der, len);
	p12_key_free(k);
	return rc;
}
