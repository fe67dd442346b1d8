/*
 * tests/fuzz/seeds.c - the seeds the product itself makes, for the p12,
 * kra and certinfo fuzz targets.
 *
 * Owns: making, with certsync's own functions, what "recover" and the
 * store read back: user certificates (issue_build, signed by a throwaway
 * test CA) as DER for certinfo; PKCS#12 files (keystore_p12_encode, both
 * profiles, RSA and EC keys, under the p12 target's password) for p12;
 * KraShares (kra_split, kra_share_encode), KraBundles (kra_wrap) and
 * envelopes (kra_envelope) wrapped to fuzz_agent.h's agent for kra.  Each
 * file starts with the selector byte its target expects.
 * Usage: tests/fuzz/seeds OUTDIR   (writes OUTDIR/p12, OUTDIR/kra,
 * OUTDIR/certinfo; copy what is worth keeping into tests/fuzz/corpus).
 * Built on demand: make tests/fuzz/seeds.
 * Never: writes anywhere but OUTDIR, or uses a key that is not throwaway.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/pem.h>

#include "fuzz_agent.h"
#include "lib/log.h"
#include "pki/address.h"
#include "pki/issue.h"
#include "pki/keys.h"
#include "pki/keystore.h"
#include "pki/kra.h"
#include "../unit/testca.h"

#define P12_PASSWORD "fuzz-archive-password"	/* as fuzz_p12.c */

static const char *outdir;

static void
put(const char *target, const char *name, int selector, const unsigned char *der,
    size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", outdir, target);
	if (mkdir(path, 0755) == -1 && errno != EEXIST)
		fatal("%s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/%s/%s", outdir, target, name);
	if ((f = fopen(path, "wb")) == NULL)
		fatal("%s: %s", path, strerror(errno));
	if (selector >= 0)
		fputc(selector, f);
	if (fwrite(der, 1, len, f) != len || fclose(f) != 0)
		fatal("%s: write failed", path);
}

/* A user certificate for key, issued by ca as certsync issues it. */
static X509 *
user_cert(struct conf *conf, X509 *ca, EVP_PKEY *ca_key, EVP_PKEY *key,
    enum cert_kind kind, const char *name)
{
	struct address_list addrs = { NULL, 0 };
	const char *bad = NULL;
	char why[256] = "";
	X509 *cert = NULL;

	address_list_add(&addrs, address_normalize("alice@example.org", &bad));
	address_list_add(&addrs, address_normalize("Alice.Alias@Example.ORG", &bad));
	{
		struct issue_request req = { .key = key, .kind = kind,
		    .addresses = &addrs, .now = time(NULL),
		    .vars = { .name = name, .mail = addrs.v[0] } };

		if (issue_build(conf, ca, &req, &cert, why, sizeof(why)) != 0 ||
		    X509_sign(cert, ca_key, EVP_sha256()) <= 0)
			fatal("cannot issue a seed certificate: %s", why);
	}
	address_list_free(&addrs);
	return cert;
}

static void
p12_seed(const char *name, EVP_PKEY *key, X509 *cert, X509 *ca,
    enum p12_profile profile)
{
	struct p12_params params = { profile, 1000 };	/* conf's lowest */
	unsigned char *der = NULL, *cder = NULL;
	char remac[64];
	size_t len = 0;
	int clen;

	if (keystore_p12_encode(key, cert, ca, "encryption", P12_PASSWORD, &params,
	    &der, &len) == -1)
		fatal("cannot make %s", name);
	put("p12", name, 0, der, len);
	snprintf(remac, sizeof(remac), "%s-remac", name);
	put("p12", remac, 1, der, len);
	OPENSSL_free(der);
	if ((clen = i2d_X509(cert, &cder)) <= 0)
		fatal("cannot encode a certificate");
	put("certinfo", name, -1, cder, (size_t)clen);
	OPENSSL_free(cder);
}

static void
kra_seeds(void)
{
	unsigned char secret[KRA_SECRET_LEN], *der = NULL;
	struct kra_share shares[3];
	char err[KRA_ERR_LEN], name[32];
	BIO *b = BIO_new_mem_buf(agent_cert_pem, -1);
	X509 *agent = PEM_read_bio_X509(b, NULL, NULL, NULL), *agents[2];
	EVP_PKEY *rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	size_t len = 0;

	BIO_free(b);
	if (agent == NULL || rsa == NULL || kra_secret_new(secret) == -1 ||
	    kra_split(secret, "encryption-4F1C0A.p12", 2, 3, shares, err, sizeof(err)) == -1)
		fatal("cannot make the KRA seeds: %s", err);
	for (int i = 0; i < 3; i++) {
		if (kra_share_encode(&shares[i], &der, &len, err, sizeof(err)) == -1)
			fatal("%s", err);
		snprintf(name, sizeof(name), "share-2of3-%d", i + 1);
		put("kra", name, 0, der, len);
		OPENSSL_clear_free(der, len);
		if (kra_envelope(&shares[i], agent, &der, &len, err, sizeof(err)) == -1)
			fatal("%s", err);
		snprintf(name, sizeof(name), "envelope-2of3-%d", i + 1);
		put("kra", name, 2, der, len);
		OPENSSL_free(der);
	}
	/* The bundle: the fuzz agent and an RSA agent of a throwaway CA. */
	{
		EVP_PKEY *ca_key = NULL;
		X509 *ca = testca_make(&ca_key, time(NULL) - 3600, time(NULL) + 86400 * 365);
		struct conf *conf = testca_conf();

		agents[0] = agent;
		agents[1] = user_cert(conf, ca, ca_key, rsa, CERT_KIND_ENCRYPTION, "Recovery Officer");
		if (kra_wrap(secret, "encryption-4F1C0A.p12", agents, 2, 1, &der, &len, err,
		    sizeof(err)) == -1)
			fatal("%s", err);
		put("kra", "bundle-1of2", 1, der, len);
		OPENSSL_free(der);
		X509_free(agents[1]);
		X509_free(ca);
		EVP_PKEY_free(ca_key);
		testca_conf_free(conf);
	}
	for (int i = 0; i < 3; i++)
		kra_share_wipe(&shares[i]);
	OPENSSL_cleanse(secret, sizeof(secret));
	X509_free(agent);
	EVP_PKEY_free(rsa);
}

int
main(int argc, char **argv)
{
	struct conf *conf = testca_conf();
	EVP_PKEY *ca_key = NULL, *rsa, *ec;
	X509 *ca, *c;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
		return 64;
	}
	outdir = argv[1];
	ca = testca_make(&ca_key, time(NULL) - 3600, time(NULL) + 86400 * 3650);
	rsa = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)2048);
	ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (ca == NULL || rsa == NULL || ec == NULL)
		fatal("cannot make the seed keys");
	c = user_cert(conf, ca, ca_key, rsa, CERT_KIND_ENCRYPTION, "Alice Example");
	p12_seed("rsa-aes256", rsa, c, ca, P12_PROFILE_AES256);
	p12_seed("rsa-legacy", rsa, c, ca, P12_PROFILE_LEGACY);
	{
		unsigned char *der = NULL;
		int len = i2d_X509(ca, &der);	/* the CA certificate, for certinfo */

		if (len <= 0)
			fatal("cannot encode the CA certificate");
		put("certinfo", "ca", -1, der, (size_t)len);
		OPENSSL_free(der);
	}
	X509_free(c);
	c = user_cert(conf, ca, ca_key, ec, CERT_KIND_SIGNING, "Alice Example");
	p12_seed("ec-aes256", ec, c, ca, P12_PROFILE_AES256);
	X509_free(c);
	kra_seeds();
	X509_free(ca);
	EVP_PKEY_free(ca_key);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
	testca_conf_free(conf);
	return 0;
}
