/*
 * kra_probe.c - the key recovery code as a command, for
 * tests/integration/kra_tools.sh to drive against the openssl CLI and NSS.
 *
 *   kra_probe wrap SECRET_HEX M LABEL OUTDIR PATTERN
 *       agents from PATTERN (kra_load_agents), secret wrapped M-of-N:
 *       OUTDIR/bundle.kra and OUTDIR/share-I.cms (agent I's envelope,
 *       taken back out of the bundle)
 *   kra_probe combine SHARE...     KraShare DER files -> the password text
 *   kra_probe unwrap ENVELOPE KEY CERT OUT   one envelope -> KraShare DER
 *   kra_probe agents PATTERN       load and list agents (fingerprints)
 *   kra_probe p12 KEY CERT PASSWORD ITER OUT
 *       the archive's PKCS#12 writer (aes256 profile) at ITER iterations
 *   kra_probe archive CONF N KEY CERT
 *       N archive files written by the archive's writer (pki/archive.h) as
 *       CONF protects them, each for a copy of CERT with a fresh serial;
 *       prints the milliseconds per file, wall clock and CPU
 *       (scripts/bench-archive)
 *
 * Exit status: 0 done, 1 refused (one line on stderr), 2 usage.
 * Not installed; secrets on its command line are test values.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>

#include "lib/fsutil.h"
#include "lib/conf.h"
#include "pki/archive.h"
#include "pki/keystore.h"
#include "lib/log.h"
#include "pki/kra.h"

#define FILE_MAX (4 * 1024 * 1024)

static int
usage(void)
{
	fprintf(stderr, "usage: kra_probe wrap SECRET_HEX M LABEL OUTDIR PATTERN\n"
	    "       kra_probe combine SHARE...\n"
	    "       kra_probe unwrap ENVELOPE KEY CERT OUT\n"
	    "       kra_probe agents PATTERN\n"
	    "       kra_probe p12 KEY CERT PASSWORD ITER OUT\n"
	    "       kra_probe archive CONF N KEY CERT\n");
	return 2;
}

static int
refuse(const char *what, const char *why)
{
	fprintf(stderr, "kra_probe: %s: %s\n", what, why);
	return 1;
}

static int
parse_hex(const char *hex, unsigned char out[KRA_SECRET_LEN])
{
	unsigned int v;
	size_t i;

	if (strlen(hex) != KRA_PASSWORD_LEN)
		return -1;
	for (i = 0; i < KRA_SECRET_LEN; i++) {
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return 0;
}

static int
write_file(const char *dir, const char *name, const unsigned char *d,
    size_t len)
{
	char *path = dir != NULL ? fs_join(dir, name) : strdup(name);
	int rc = path == NULL ? -1 : fs_write_atomic(path, d, len, 0600, 0);

	free(path);
	return rc;
}

/* Writes each envelope of the bundle der to dir/share-I.cms. */
static int
write_envelopes(const unsigned char *der, size_t len, const char *dir)
{
	struct kra_bundle b;
	char err[KRA_ERR_LEN], name[32];
	size_t i;

	if (kra_bundle_decode(der, len, &b, err, sizeof(err)) == -1)
		return refuse("bundle", err);
	for (i = 0; i < b.n; i++) {
		snprintf(name, sizeof(name), "share-%zu.cms", i + 1);
		if (write_file(dir, name, b.v[i].envelope, b.v[i].envelope_len)) {
			kra_bundle_free(&b);
			return refuse(name, "cannot write");
		}
	}
	kra_bundle_free(&b);
	return 0;
}

static int
cmd_wrap(char **argv)
{
	unsigned char secret[KRA_SECRET_LEN], *der = NULL;
	struct kra_agents agents;
	X509 *certs[KRA_MAX_AGENTS];
	char err[KRA_ERR_LEN];
	size_t i, len = 0;
	int rc;

	if (parse_hex(argv[0], secret) == -1)
		return refuse("secret", "not 64 hex digits");
	if (kra_load_agents(argv[4], "agents", time(NULL), &agents) == -1)
		return 1;
	for (i = 0; i < agents.n; i++)
		certs[i] = agents.v[i].cert;
	rc = kra_wrap(secret, argv[2], certs, agents.n, atoi(argv[1]), &der,
	    &len, err, sizeof(err));
	kra_agents_free(&agents);
	OPENSSL_cleanse(secret, sizeof(secret));
	if (rc == -1)
		return refuse("wrap", err);
	if (write_file(argv[3], "bundle.kra", der, len) == -1)
		rc = refuse("bundle.kra", "cannot write");
	else
		rc = write_envelopes(der, len, argv[3]);
	OPENSSL_free(der);
	return rc;
}

static int
cmd_combine(int argc, char **argv)
{
	struct kra_share *shares = calloc((size_t)argc, sizeof(*shares));
	unsigned char secret[KRA_SECRET_LEN], *der = NULL;
	char err[KRA_ERR_LEN], text[KRA_PASSWORD_LEN + 1];
	size_t len;
	int i, rc = 1;

	for (i = 0; shares != NULL && i < argc; i++) {
		if (fs_read_file(argv[i], FILE_MAX, &der, &len) == -1) {
			refuse(argv[i], "cannot read");
			goto done;
		}
		rc = kra_share_decode(der, len, &shares[i], err, sizeof(err));
		OPENSSL_cleanse(der, len);
		free(der);
		if (rc == -1) {
			rc = refuse(argv[i], err);
			goto done;
		}
	}
	if (kra_combine(shares, (size_t)argc, secret, err, sizeof(err)) == -1) {
		rc = refuse("combine", err);
		goto done;
	}
	kra_password_text(secret, text);
	printf("%s\n", text);
	OPENSSL_cleanse(text, sizeof(text));
	OPENSSL_cleanse(secret, sizeof(secret));
	rc = 0;
done:
	OPENSSL_clear_free(shares, (size_t)argc * sizeof(*shares));
	return rc;
}

static EVP_PKEY *
read_key(const char *path)
{
	FILE *f = fopen(path, "r");
	EVP_PKEY *key = f != NULL ? PEM_read_PrivateKey(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return key;
}

static X509 *
read_cert(const char *path)
{
	FILE *f = fopen(path, "r");
	X509 *cert = f != NULL ? PEM_read_X509(f, NULL, NULL, NULL) : NULL;

	if (f != NULL)
		fclose(f);
	return cert;
}

static int
cmd_unwrap(char **argv)
{
	EVP_PKEY *key = read_key(argv[1]);
	X509 *cert = read_cert(argv[2]);
	struct kra_share share;
	unsigned char *env = NULL, *der = NULL;
	char err[KRA_ERR_LEN];
	size_t len = 0, dlen = 0;
	int rc = 1;

	if (key == NULL || cert == NULL)
		rc = refuse(argv[1], "cannot read the key or certificate");
	else if (fs_read_file(argv[0], FILE_MAX, &env, &len) == -1)
		rc = refuse(argv[0], "cannot read");
	else if (kra_unwrap(env, len, key, cert, &share, err, sizeof(err)) == -1)
		rc = refuse(argv[0], err);
	else if (kra_share_encode(&share, &der, &dlen, err, sizeof(err)) == -1)
		rc = refuse(argv[0], err);
	else if (write_file(NULL, argv[3], der, dlen) == -1)
		rc = refuse(argv[3], "cannot write");
	else
		rc = 0;
	kra_share_wipe(&share);
	OPENSSL_clear_free(der, dlen);
	free(env);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

static int
cmd_agents(char **argv)
{
	struct kra_agents agents;
	size_t i, j;

	if (kra_load_agents(argv[0], "agents", time(NULL), &agents) == -1)
		return 1;
	for (i = 0; i < agents.n; i++) {
		printf("%s ", agents.v[i].path);
		for (j = 0; j < KRA_FP_LEN; j++)
			printf("%02X", agents.v[i].fp[j]);
		printf("\n");
	}
	kra_agents_free(&agents);
	return 0;
}

static int
cmd_p12(char **argv)
{
	struct p12_params params = { P12_PROFILE_AES256, atoi(argv[3]) };
	EVP_PKEY *key = read_key(argv[0]);
	X509 *cert = read_cert(argv[1]);
	unsigned char *der = NULL;
	size_t len = 0;
	int rc = 1;

	if (key == NULL || cert == NULL)
		rc = refuse(argv[0], "cannot read the key or certificate");
	else if (keystore_p12_encode(key, cert, NULL, "kra-probe", argv[2],
	    &params, &der, &len) == -1)
		rc = refuse(argv[4], "cannot encode");
	else if (write_file(NULL, argv[4], der, len) == -1)
		rc = refuse(argv[4], "cannot write");
	else
		rc = 0;
	OPENSSL_clear_free(der, len);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

/* cert with a fresh random serial: a new archive file name. */
static X509 *
fresh_serial(X509 *cert)
{
	X509 *c = X509_dup(cert);
	BIGNUM *bn = BN_new();

	if (c == NULL || bn == NULL || !BN_rand(bn, 120, BN_RAND_TOP_ONE,
	    BN_RAND_BOTTOM_ANY) || BN_to_ASN1_INTEGER(bn,
	    X509_get_serialNumber(c)) == NULL) {
		X509_free(c);
		c = NULL;
	}
	BN_free(bn);
	return c;
}

static int
cmd_archive(char **argv)
{
	struct conf *conf = NULL;
	struct archive *ar = NULL;
	struct archive_copy copy;
	struct timespec t0, t1, c0, c1;
	EVP_PKEY *key = read_key(argv[2]);
	X509 *cert = read_cert(argv[3]), *c = NULL;
	int i, n = atoi(argv[1]), rc = 1;

	if (key == NULL || cert == NULL || n < 1)
		return refuse(argv[2], "cannot read the key or certificate, or N < 1");
	if (conf_load(argv[0], &conf) != 0 ||
	    archive_open(conf, time(NULL), &ar) == -1)
		goto done;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
	for (i = 0; i < n; i++) {
		if ((c = fresh_serial(cert)) == NULL ||
		    archive_write(ar, key, c, NULL, "encryption", "bench", &copy) == -1)
			goto done;
		archive_copy_free(&copy);
		X509_free(c);
		c = NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
	printf("%.2f %.2f\n", ((t1.tv_sec - t0.tv_sec) * 1e3 +
	    (t1.tv_nsec - t0.tv_nsec) / 1e6) / n, ((c1.tv_sec - c0.tv_sec) * 1e3 +
	    (c1.tv_nsec - c0.tv_nsec) / 1e6) / n);
	rc = 0;
done:
	X509_free(c);
	archive_close(ar);
	conf_free(conf);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int
main(int argc, char **argv)
{
	log_init("kra_probe");
	if (argc == 7 && strcmp(argv[1], "wrap") == 0)
		return cmd_wrap(argv + 2);
	if (argc >= 3 && strcmp(argv[1], "combine") == 0)
		return cmd_combine(argc - 2, argv + 2);
	if (argc == 6 && strcmp(argv[1], "unwrap") == 0)
		return cmd_unwrap(argv + 2);
	if (argc == 3 && strcmp(argv[1], "agents") == 0)
		return cmd_agents(argv + 2);
	if (argc == 7 && strcmp(argv[1], "p12") == 0)
		return cmd_p12(argv + 2);
	if (argc == 6 && strcmp(argv[1], "archive") == 0)
		return cmd_archive(argv + 2);
	return usage();
}
