/*
 * keystore.c - PKCS#12 files for current and archived keys.
 *
 * Owns: encoding keys as PKCS#12 (PBES2 AES-256-CBC, PBKDF2-SHA256 and a
 * SHA-256 MAC by default; 3DES and a SHA-1 MAC in the "legacy" profile for
 * old Windows), and writing them atomically, mode 0600.
 * Never: logs a password, or replaces an existing archive file.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/pkcs12.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pki/certinfo.h"
#include "pki/keystore.h"

#define P12_MAX (1024 * 1024)

const char *
keystore_password_file(const struct conf *conf, enum key_area area)
{
	return area == AREA_ARCHIVE ? conf->archive.password_file :
	    conf->keystore.password_file;
}

int
keystore_p12_encode(EVP_PKEY *key, X509 *cert, X509 *ca, const char *friendly,
    const char *password, const struct p12_params *params,
    unsigned char **der, size_t *len)
{
	STACK_OF(X509) *chain = NULL;
	PKCS12 *p12 = NULL;
	const EVP_MD *mac_md;
	int nid, n, rc = -1;

	*der = NULL;
	if (params->profile == P12_PROFILE_LEGACY) {
		nid = NID_pbe_WithSHA1And3_Key_TripleDES_CBC;
		mac_md = EVP_sha1();
	} else {
		nid = NID_aes_256_cbc;	/* PBES2; OpenSSL 3 pairs it with PBKDF2-SHA256 */
		mac_md = EVP_sha256();
	}
	if ((chain = sk_X509_new_null()) == NULL ||
	    (ca != NULL && !sk_X509_push(chain, ca)))
		fatal("out of memory");
	/* mac_iter -1: no MAC here, so the one below can use our digest
	 * (PKCS12_create would add a SHA-1 MAC). */
	if ((p12 = PKCS12_create(password, friendly, key, cert, chain, nid, nid,
	    params->iterations, -1, 0)) == NULL ||
	    !PKCS12_set_mac(p12, password, -1, NULL, 0, params->iterations, mac_md)) {
		log_ssl("cannot build a PKCS#12 for %s", friendly);
		goto done;
	}
	if ((n = i2d_PKCS12(p12, der)) <= 0) {
		log_ssl("cannot encode a PKCS#12 for %s", friendly);
		goto done;
	}
	*len = (size_t)n;
	rc = 0;
done:
	sk_X509_free(chain);	/* the stack only: ca belongs to the caller */
	PKCS12_free(p12);
	return rc;
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

int
keystore_holds(const char *path, const char *password, X509 *cert)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	PKCS12 *p12 = NULL;
	EVP_PKEY *key = NULL;
	X509 *old = NULL;
	size_t len;
	int same = 0;

	if (fs_read_file(path, P12_MAX, &buf, &len) == -1)
		return 0;
	p = buf;
	if ((p12 = d2i_PKCS12(NULL, &p, (long)len)) != NULL &&
	    PKCS12_verify_mac(p12, password, -1) &&
	    PKCS12_parse(p12, password, &key, &old, NULL) && key != NULL &&
	    old != NULL)
		same = X509_cmp(old, cert) == 0;
	ERR_clear_error();
	EVP_PKEY_free(key);
	X509_free(old);
	PKCS12_free(p12);
	free(buf);
	return same;
}

int
keystore_save(const struct conf *conf, enum key_area area, EVP_PKEY *key,
    X509 *cert, X509 *ca, const char *kind, const char *friendly, char **path)
{
	const char *dir = area == AREA_ARCHIVE ? conf->archive.directory :
	    conf->keystore.directory;
	const char *pwfile = keystore_password_file(conf, area);
	struct p12_params params = { conf->archive.profile, conf->archive.iterations };
	unsigned char *der = NULL;
	char *serial = NULL, *file = NULL, *password = NULL;
	size_t len = 0;
	int rc = -1;

	*path = NULL;
	if ((password = secret_read_password(pwfile,
	    area == AREA_ARCHIVE ? "[archive] password_file" :
	    "[keystore] password_file")) == NULL)
		return -1;
	if ((serial = certinfo_serial(cert)) == NULL)
		goto done;
	file = keystore_file(conf, area, kind, serial);
	if (fs_mkdir_p(dir, 0700) == -1) {
		log_error("cannot create %s: %s", dir, strerror(errno));
		goto done;
	}
	if (keystore_p12_encode(key, cert, ca, friendly, password, &params,
	    &der, &len) == -1)
		goto done;
	if (fs_write_atomic(file, der, len, 0600, area == AREA_ARCHIVE) == -1) {
		/* An archive file is write-once: a rerun of the step may
		 * find it there. */
		if (errno != EEXIST || !keystore_holds(file, password, cert)) {
			log_error("cannot write %s: %s", file, strerror(errno));
			goto done;
		}
	}
	*path = file;
	file = NULL;
	rc = 0;
done:
	secret_free(password);
	OPENSSL_free(der);
	free(serial);
	free(file);
	return rc;
}

int
keystore_decode(const unsigned char *der, size_t len, const char *name,
    const char *password, EVP_PKEY **key, X509 **cert)
{
	const unsigned char *p = der;
	PKCS12 *p12 = NULL;
	int rc = -1;

	*key = NULL;
	*cert = NULL;
	if (len > P12_MAX || (p12 = d2i_PKCS12(NULL, &p, (long)len)) == NULL) {
		log_ssl("%s: not a PKCS#12 file", name);
		goto done;
	}
	if (!PKCS12_verify_mac(p12, password, -1)) {
		log_error("%s: wrong password (the MAC does not verify)", name);
		goto done;
	}
	if (!PKCS12_parse(p12, password, key, cert, NULL) || *key == NULL ||
	    *cert == NULL) {
		log_ssl("%s: cannot open the PKCS#12", name);
		EVP_PKEY_free(*key);
		X509_free(*cert);
		*key = NULL;
		*cert = NULL;
		goto done;
	}
	rc = 0;
done:
	PKCS12_free(p12);
	return rc;
}

int
keystore_load(const char *path, const char *password, EVP_PKEY **key, X509 **cert)
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
	rc = keystore_decode(buf, len, path, password, key, cert);
	free(buf);
	return rc;
}
