/*
 * signer.c - holds the CA private key and signs with it, in the CA process.
 *
 * Owns: the CA key in memory (or its handle in a token), from load to
 * free.  Every other process sees the CA's certificate only.  Never:
 * exports the key, logs its passphrase or PIN, or signs a certificate with
 * basicConstraints CA:TRUE (a user certificate that is a CA would be a
 * disaster no caller can be trusted to avoid).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "ca/pkcs11.h"
#include "ca/signer.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/keys.h"

struct signer {
	EVP_PKEY *key;            /* owned, or the token's (p11 != NULL) */
	struct ca_pkcs11 *p11;
	X509 *cert;
	const EVP_MD *md;
};

static EVP_PKEY *
read_key(const struct conf *conf)
{
	EVP_PKEY *key = NULL;
	char *pass = NULL;
	BIO *bio = NULL;

	int fd;

	if (conf->ca.passphrase_file != NULL &&
	    (pass = secret_read_password(conf->ca.passphrase_file,
	    "[ca] passphrase_file")) == NULL)
		return NULL;
	/* Read through the descriptor whose mode was checked. */
	if ((fd = secret_open(conf->ca.key, "[ca] key")) == -1) {
		secret_free(pass);
		return NULL;
	}
	if ((bio = BIO_new_fd(fd, BIO_CLOSE)) == NULL) {
		close(fd);
		log_ssl("[ca] key %s: cannot read", conf->ca.key);
	}
	/* An empty passphrase, not NULL: never prompt on a terminal. */
	else if ((key = PEM_read_bio_PrivateKey(bio, NULL, NULL,
	    pass ? pass : (char *)"")) == NULL)
		log_ssl("[ca] key %s: cannot load (wrong passphrase, or not a PEM key)",
		    conf->ca.key);
	BIO_free(bio);
	secret_free(pass);
	return key;
}

static const EVP_MD *
digest(const struct conf *conf)
{
	const EVP_MD *md = EVP_get_digestbyname(conf->certificates.digest);

	if (md == NULL)
		fatal("digest %s unknown to OpenSSL", conf->certificates.digest);
	return md;
}

/* The token key named by [ca] key, open in this process; NULL after logging. */
static struct ca_pkcs11 *
open_token(const struct conf *conf)
{
	struct ca_pkcs11_spec spec = {
		.uri = conf->ca.key,
		.module = conf->ca.pkcs11_module,
		.pin_file = conf->ca.pin_file,
	};

	return ca_pkcs11_open(&spec);
}

/* A test signature: X509_check_private_key cannot see into a token. */
static int
key_matches(const struct conf *conf, const struct signer *s)
{
	char key[1100], cert[1100];

	snprintf(key, sizeof(key), "[ca] key %s", conf->ca.key);
	snprintf(cert, sizeof(cert), "[ca] certificate %s", conf->ca.certificate);
	return ca_key_matches_cert(s->key, s->cert, key, cert);
}

int
signer_open(const struct conf *conf, struct signer **out)
{
	struct signer *s;

	*out = NULL;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		fatal("out of memory");
	s->md = digest(conf);
	if ((s->cert = certinfo_read_pem(conf->ca.certificate, "[ca] certificate")) == NULL)
		goto fail;
	if (ca_pkcs11_is_uri(conf->ca.key)) {
		if ((s->p11 = open_token(conf)) == NULL)
			goto fail;
		s->key = ca_pkcs11_key(s->p11);
	} else if ((s->key = read_key(conf)) == NULL)
		goto fail;
	if (key_matches(conf, s) == -1)
		goto fail;
	if (X509_check_ca(s->cert) == 0) {
		log_error("[ca] certificate %s is not a CA certificate "
		    "(basicConstraints CA:TRUE and keyCertSign are needed)",
		    conf->ca.certificate);
		goto fail;
	}
	*out = s;
	return 0;
fail:
	signer_close(s);
	return -1;
}

void
signer_close(struct signer *s)
{
	if (s == NULL)
		return;
	if (s->p11 != NULL)
		ca_pkcs11_close(s->p11);
	else
		EVP_PKEY_free(s->key);
	X509_free(s->cert);
	free(s);
}

X509 *
signer_ca(const struct signer *s)
{
	return s->cert;
}

EVP_PKEY *
signer_key(const struct signer *s)
{
	return s->key;
}

int
signer_sign_cert(struct signer *s, X509 *cert)
{
	if (X509_check_ca(cert) != 0) {
		log_error("refusing to sign a certificate that is a CA");
		return -1;
	}
	if (X509_sign(cert, s->key, s->md) <= 0) {
		log_ssl("cannot sign a certificate");
		return -1;
	}
	return 0;
}

int
signer_sign_crl(struct signer *s, X509_CRL *crl)
{
	if (X509_CRL_sign(crl, s->key, s->md) <= 0) {
		log_ssl("cannot sign the CRL");
		return -1;
	}
	return 0;
}

/* ---- init-ca: demo and test CAs ---------------------------------------- */

static int
ca_add_ext(X509 *cert, int nid, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	int ok;

	X509V3_set_ctx(&ctx, cert, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		return -1;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

static X509 *
ca_build(const struct conf *conf, EVP_PKEY *key, const char *subject, int days)
{
	struct subject_vars none = { 0 };
	ASN1_INTEGER *serial = NULL;
	X509_NAME *name = NULL;
	X509 *cert = NULL;
	char why[256] = "";
	time_t now = time(NULL), nb = now - 300, na = now + (time_t)days * 86400;

	if (issue_subject(subject, &none, &name, why, sizeof(why)) == -1 ||
	    X509_NAME_entry_count(name) == 0) {
		log_error("init-ca: subject \"%s\": %s", subject,
		    why[0] ? why : "is empty");
		goto done;
	}
	if ((serial = issue_serial()) == NULL || (cert = X509_new()) == NULL)
		goto done;
	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_subject_name(cert, name) || !X509_set_issuer_name(cert, name) ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &na) == NULL ||
	    !X509_set_pubkey(cert, key) ||
	    ca_add_ext(cert, NID_basic_constraints, "critical,CA:TRUE") == -1 ||
	    ca_add_ext(cert, NID_key_usage, "critical,keyCertSign,cRLSign") == -1 ||
	    ca_add_ext(cert, NID_subject_key_identifier, "hash") == -1 ||
	    ca_add_ext(cert, NID_authority_key_identifier, "keyid:always") == -1 ||
	    X509_sign(cert, key, digest(conf)) <= 0) {
		log_ssl("init-ca: cannot build the CA certificate");
		X509_free(cert);
		cert = NULL;
	}
done:
	ASN1_INTEGER_free(serial);
	X509_NAME_free(name);
	return cert;
}

/* Places an encoded PEM object durably; archives and CAs are write-once. */
static int
write_bio(const char *path, mode_t mode, BIO *bio)
{
	char *data;
	long len = BIO_get_mem_data(bio, &data);

	if (fs_write_atomic(path, data, (size_t)len, mode, 1) == -1) {
		log_error("cannot write %s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

static int
write_ca_files(const struct conf *conf, EVP_PKEY *key, X509 *cert,
    const char *pass)
{
	/* Secure memory for the key: the BIO is freed without a trace. */
	BIO *kb = BIO_new(BIO_s_secmem()), *cb = BIO_new(BIO_s_mem());
	int ok, rc = -1;

	if (kb == NULL || cb == NULL)
		fatal("out of memory");
	if (pass == NULL)
		ok = PEM_write_bio_PrivateKey(kb, key, NULL, NULL, 0, NULL, NULL);
	else
		ok = PEM_write_bio_PKCS8PrivateKey(kb, key, EVP_aes_256_cbc(),
		    pass, (int)strlen(pass), NULL, NULL);
	if (!ok || !PEM_write_bio_X509(cb, cert)) {
		log_ssl("init-ca: cannot encode the CA key or certificate");
		goto done;
	}
	if (write_bio(conf->ca.key, 0600, kb) == -1 ||
	    write_bio(conf->ca.certificate, 0644, cb) == -1)
		goto done;
	rc = 0;
done:
	BIO_free(kb);
	BIO_free(cb);
	return rc;
}

/* init-ca with a key the token holds: only the certificate is written. */
static int
init_ca_token(const struct conf *conf, const char *subject, int days, X509 **made)
{
	struct ca_pkcs11 *p11 = NULL;
	BIO *cb = NULL;
	X509 *cert = NULL;
	int rc = EX_CONFIG;

	if ((p11 = open_token(conf)) == NULL)
		goto done;
	rc = EX_SOFTWARE;
	if ((cert = ca_build(conf, ca_pkcs11_key(p11), subject, days)) == NULL)
		goto done;
	if ((cb = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509(cb, cert)) {
		log_ssl("init-ca: cannot encode the CA certificate");
		goto done;
	}
	if ((rc = write_bio(conf->ca.certificate, 0644, cb) == -1 ? EX_CANTCREAT : 0) == 0) {
		*made = cert;
		cert = NULL;
	}
done:
	BIO_free(cb);
	X509_free(cert);
	ca_pkcs11_close(p11);
	return rc;
}

/* init-ca with a new key file next to the certificate. */
static int
init_ca_file(const struct conf *conf, const char *subject, int days,
    const struct key_spec *spec, X509 **made)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *pass = NULL;
	int rc = EX_SOFTWARE;

	if (conf->ca.passphrase_file != NULL &&
	    (pass = secret_read_password(conf->ca.passphrase_file,
	    "[ca] passphrase_file")) == NULL)
		return EX_CONFIG;
	if (fs_mkdir_p_parent(conf->ca.key, 0700) == -1) {
		log_error("init-ca: cannot create the directory for %s: %s",
		    conf->ca.key, strerror(errno));
		rc = EX_CANTCREAT;
		goto done;
	}
	if ((key = keys_generate(spec)) == NULL ||
	    (cert = ca_build(conf, key, subject, days)) == NULL)
		goto done;
	if ((rc = write_ca_files(conf, key, cert, pass) == -1 ? EX_CANTCREAT : 0) == 0) {
		*made = cert;
		cert = NULL;
	}
done:
	secret_free(pass);
	X509_free(cert);
	EVP_PKEY_free(key);
	return rc;
}

int
signer_init_ca(const struct conf *conf, const char *subject, int days,
    const struct key_spec *spec, X509 **made)
{
	int token = ca_pkcs11_is_uri(conf->ca.key);

	*made = NULL;
	if (access(conf->ca.certificate, F_OK) == 0 ||
	    (!token && access(conf->ca.key, F_OK) == 0)) {
		log_error("init-ca: %s already exists; refusing to overwrite a CA",
		    access(conf->ca.certificate, F_OK) == 0 ? conf->ca.certificate :
		    conf->ca.key);
		return EX_CANTCREAT;
	}
	if (fs_mkdir_p_parent(conf->ca.certificate, 0755) == -1) {
		log_error("init-ca: cannot create the directory for %s: %s",
		    conf->ca.certificate, strerror(errno));
		return EX_CANTCREAT;
	}
	if (token)
		return init_ca_token(conf, subject, days, made);
	return init_ca_file(conf, subject, days, spec, made);
}
