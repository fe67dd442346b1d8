/*
 * pkcs11_probe.c - drives src/ca/pkcs11.c against a real token for
 * tests/integration/pkcs11_key.sh.
 *
 * Owns: what the test asks of a token key: open it and check it against a
 * certificate (match), refuse to open it twice in one process (reopen),
 * sign a certificate and a CRL with it for openssl to verify (sign), open
 * and sign in a child the parent forked before touching the token (fork),
 * and time signatures (bench).
 * Never: opens the token in the parent of "fork", or prints the PIN.
 *
 * Usage: pkcs11_probe [-m MODULE] -p PIN_FILE COMMAND URI [ARGS]
 *     match URI CERT            exit 0 if the key belongs to CERT
 *     reopen URI CERT PIN_FILE2 match, close, and open again with the PIN
 *                               in PIN_FILE2: exit 1 if that is refused
 *     sign URI CA_CERT OUTDIR   OUTDIR/leaf.pem and OUTDIR/crl.pem (which
 *                               revokes leaf.pem), both signed by the key
 *     fork URI CA_CERT          a child signs; the parent verifies
 *     bench URI COUNT           COUNT SHA-256 signatures, and the rate
 * Exit 0, 1 on failure (one line on stderr), 64 on bad usage.
 */
#include "config.h"

#include <sys/wait.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/pkcs11.h"
#include "lib/log.h"

#define NONCE_LEN 32
#define SIG_MAX 1024

static struct ca_pkcs11_spec spec;

static X509 *
read_cert(const char *path)
{
	X509 *cert = NULL;
	FILE *f = fopen(path, "r");

	if (f == NULL) {
		log_error("%s: cannot open: %s", path, strerror(errno));
		return NULL;
	}
	if ((cert = PEM_read_X509(f, NULL, NULL, NULL)) == NULL)
		log_ssl("%s: not a PEM certificate", path);
	fclose(f);
	return cert;
}

/* Opens the token key and checks it against the certificate at path. */
static struct ca_pkcs11 *
open_checked(const char *cert_path, X509 **cert)
{
	struct ca_pkcs11 *p11;

	if ((*cert = read_cert(cert_path)) == NULL)
		return NULL;
	if ((p11 = ca_pkcs11_open(&spec)) == NULL)
		return NULL;
	if (ca_key_matches_cert(ca_pkcs11_key(p11), *cert, spec.uri,
	    cert_path) == -1) {
		ca_pkcs11_close(p11);
		return NULL;
	}
	return p11;
}

static int
cmd_match(char **argv)
{
	struct ca_pkcs11 *p11;
	X509 *cert = NULL;

	p11 = open_checked(argv[0], &cert);
	X509_free(cert);
	if (p11 == NULL)
		return 1;
	ca_pkcs11_close(p11);
	printf("ok: the token key belongs to %s\n", argv[0]);
	return 0;
}

/*
 * Opens and closes the key, then opens it again with the PIN in
 * other_pin_file: exit 1 if the second open is refused, 0 if it opened.
 */
static int
cmd_reopen(char **argv)
{
	struct ca_pkcs11 *p11;
	X509 *cert = NULL;

	p11 = open_checked(argv[0], &cert);
	X509_free(cert);
	if (p11 == NULL)
		return 2;
	ca_pkcs11_close(p11);
	spec.pin_file = argv[1];
	if ((p11 = ca_pkcs11_open(&spec)) == NULL)
		return 1;
	ca_pkcs11_close(p11);
	printf("the key opened a second time, with the PIN of %s\n", argv[1]);
	return 0;
}

/* ---- sign: a certificate and a CRL --------------------------------------- */

static int
add_ext(X509 *cert, X509 *issuer, int nid, const char *value)
{
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	int ok;

	X509V3_set_ctx(&ctx, issuer, cert, NULL, NULL, 0);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		return 0;
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	return ok;
}

/* An end-entity certificate for a fresh EC key, issued by ca (unsigned). */
static X509 *
leaf_build(X509 *ca)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509_NAME *name = X509_NAME_new();
	X509 *leaf = X509_new();
	BIGNUM *bn = BN_new();
	int ok;

	ok = key != NULL && name != NULL && leaf != NULL && bn != NULL &&
	    BN_rand(bn, 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(leaf)) != NULL &&
	    X509_set_version(leaf, X509_VERSION_3) &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
	    (const unsigned char *)"pkcs11 probe", -1, -1, 0) &&
	    X509_set_subject_name(leaf, name) &&
	    X509_set_issuer_name(leaf, X509_get_subject_name(ca)) &&
	    X509_gmtime_adj(X509_getm_notBefore(leaf), -60) != NULL &&
	    X509_gmtime_adj(X509_getm_notAfter(leaf), 86400) != NULL &&
	    X509_set_pubkey(leaf, key) &&
	    add_ext(leaf, ca, NID_basic_constraints, "critical,CA:FALSE") &&
	    add_ext(leaf, ca, NID_key_usage, "critical,digitalSignature") &&
	    add_ext(leaf, ca, NID_authority_key_identifier, "keyid:always");
	EVP_PKEY_free(key);
	X509_NAME_free(name);
	BN_free(bn);
	if (!ok) {
		X509_free(leaf);
		return NULL;
	}
	return leaf;
}

/* A CRL of ca's that revokes serial (unsigned). */
static X509_CRL *
crl_build(X509 *ca, ASN1_INTEGER *serial)
{
	X509_CRL *crl = X509_CRL_new();
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_TIME *now = X509_gmtime_adj(NULL, 0), *next = X509_gmtime_adj(NULL, 86400);
	int ok;

	ok = crl != NULL && rev != NULL && now != NULL && next != NULL &&
	    X509_CRL_set_version(crl, X509_CRL_VERSION_2) &&
	    X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) &&
	    X509_CRL_set1_lastUpdate(crl, now) &&
	    X509_CRL_set1_nextUpdate(crl, next) &&
	    X509_REVOKED_set_serialNumber(rev, serial) &&
	    X509_REVOKED_set_revocationDate(rev, now) &&
	    X509_CRL_add0_revoked(crl, rev);
	if (ok)
		rev = NULL;
	X509_REVOKED_free(rev);
	ASN1_TIME_free(now);
	ASN1_TIME_free(next);
	if (!ok || !X509_CRL_sort(crl)) {
		X509_CRL_free(crl);
		return NULL;
	}
	return crl;
}

/* Writes a certificate or CRL to dir/name as PEM. */
static int
write_pem(const char *dir, const char *name, X509 *cert, X509_CRL *crl)
{
	char path[4096];
	FILE *f;
	int ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL) {
		log_error("%s: cannot create: %s", path, strerror(errno));
		return -1;
	}
	ok = cert != NULL ? PEM_write_X509(f, cert) : PEM_write_X509_CRL(f, crl);
	if (fclose(f) != 0 || !ok) {
		log_ssl("%s: cannot write", path);
		return -1;
	}
	return 0;
}

static int
cmd_sign(char **argv)
{
	struct ca_pkcs11 *p11 = NULL;
	X509 *ca = NULL, *leaf = NULL;
	X509_CRL *crl = NULL;
	int rc = 1;

	if ((p11 = open_checked(argv[0], &ca)) == NULL)
		goto done;
	if ((leaf = leaf_build(ca)) == NULL ||
	    (crl = crl_build(ca, X509_get_serialNumber(leaf))) == NULL) {
		log_ssl("cannot build the test certificate and CRL");
		goto done;
	}
	if (X509_sign(leaf, ca_pkcs11_key(p11), EVP_sha256()) <= 0 ||
	    X509_CRL_sign(crl, ca_pkcs11_key(p11), EVP_sha256()) <= 0) {
		log_ssl("the token key cannot sign a certificate or a CRL");
		goto done;
	}
	if (write_pem(argv[1], "leaf.pem", leaf, NULL) == -1 ||
	    write_pem(argv[1], "crl.pem", NULL, crl) == -1)
		goto done;
	printf("ok: signed %s/leaf.pem and %s/crl.pem\n", argv[1], argv[1]);
	rc = 0;
done:
	X509_CRL_free(crl);
	X509_free(leaf);
	X509_free(ca);
	ca_pkcs11_close(p11);
	return rc;
}

/* ---- fork: the child opens the token, the parent never does ------------- */

/* A signature of nonce by the token key, or -1: all the child ever does. */
static int
child_sign(const unsigned char *nonce, unsigned char *sig, size_t *siglen)
{
	struct ca_pkcs11 *p11 = ca_pkcs11_open(&spec);
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int rc = -1;

	if (p11 != NULL && ctx != NULL &&
	    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, ca_pkcs11_key(p11)) == 1 &&
	    EVP_DigestSign(ctx, sig, siglen, nonce, NONCE_LEN) == 1)
		rc = 0;
	else if (p11 != NULL)
		log_ssl("the child cannot sign with the token key");
	EVP_MD_CTX_free(ctx);
	ca_pkcs11_close(p11);
	return rc;
}

/* Reads exactly len bytes, or fails. */
static int
read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		if ((n = read(fd, (char *)buf + got, len - got)) == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

/* The child's half: sign, send the length and the signature, exit. */
static void
child(int fd, const unsigned char *nonce)
{
	unsigned char sig[SIG_MAX];
	size_t siglen = sizeof(sig);
	int rc = child_sign(nonce, sig, &siglen);

	if (rc == 0 && (write(fd, &siglen, sizeof(siglen)) != sizeof(siglen) ||
	    write(fd, sig, siglen) != (ssize_t)siglen))
		rc = -1;
	close(fd);
	_exit(rc == 0 ? 0 : 1);
}

/* 1 if this process has mapped a file whose path contains what. */
static int
mapped(const char *what)
{
	char line[4096];
	FILE *f = fopen("/proc/self/maps", "r");
	int found = 0;

	if (f == NULL)
		return 1;  /* cannot tell: count it as mapped */
	while (!found && fgets(line, sizeof(line), f) != NULL)
		found = strstr(line, what) != NULL;
	fclose(f);
	return found;
}

/* The parent's half: the signature must verify, and no token code be here. */
static int
parent_check(int fd, pid_t pid, X509 *ca, const unsigned char *nonce)
{
	unsigned char sig[SIG_MAX];
	size_t siglen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	int status = 0, ok;

	ok = read_full(fd, &siglen, sizeof(siglen)) == 0 && siglen <= sizeof(sig) &&
	    read_full(fd, sig, siglen) == 0;
	if (waitpid(pid, &status, 0) == -1 || !WIFEXITED(status) ||
	    WEXITSTATUS(status) != 0 || !ok) {
		log_error("the child did not sign (status %d)", status);
		ok = 0;
	} else if (ctx == NULL || EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(),
	    NULL, X509_get0_pubkey(ca)) != 1 ||
	    EVP_DigestVerify(ctx, sig, siglen, nonce, NONCE_LEN) != 1) {
		log_ssl("the child's signature does not verify with the CA certificate");
		ok = 0;
	} else if (mapped("engines-3/pkcs11.so") || (spec.module != NULL &&
	    mapped(spec.module)) || mapped("libsofthsm2") ||
	    mapped("p11-kit-proxy")) {
		log_error("the parent has the engine or the module mapped");
		ok = 0;
	}
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int
cmd_fork(char **argv)
{
	unsigned char nonce[NONCE_LEN];
	X509 *ca = NULL;
	int fds[2] = { -1, -1 }, rc = 1;
	pid_t pid;

	if ((ca = read_cert(argv[0])) == NULL)
		return 1;
	if (RAND_bytes(nonce, sizeof(nonce)) != 1 || pipe(fds) == -1 ||
	    (pid = fork()) == -1) {
		log_error("cannot start the child: %s", strerror(errno));
		goto done;
	}
	if (pid == 0) {
		close(fds[0]);
		child(fds[1], nonce);
	}
	close(fds[1]);
	fds[1] = -1;
	if (parent_check(fds[0], pid, ca, nonce) == 0) {
		printf("ok: a child opened the token and signed; the parent never "
		    "loaded the engine or the module\n");
		rc = 0;
	}
done:
	if (fds[0] != -1)
		close(fds[0]);
	if (fds[1] != -1)
		close(fds[1]);
	X509_free(ca);
	return rc;
}

/* ---- bench --------------------------------------------------------------- */

static double
now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Signs count digests of random data; 0, or -1 at the first failure. */
static int
bench_loop(EVP_PKEY *key, long count)
{
	unsigned char data[NONCE_LEN], sig[SIG_MAX];
	size_t siglen;
	int rc = 0;

	for (long i = 0; i < count && rc == 0; i++) {
		EVP_MD_CTX *ctx = EVP_MD_CTX_new();

		siglen = sizeof(sig);
		if (ctx == NULL || RAND_bytes(data, sizeof(data)) != 1 ||
		    EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key) != 1 ||
		    EVP_DigestSign(ctx, sig, &siglen, data, sizeof(data)) != 1)
			rc = -1;
		EVP_MD_CTX_free(ctx);
	}
	return rc;
}

static int
cmd_bench(char **argv)
{
	struct ca_pkcs11 *p11;
	long count = strtol(argv[0], NULL, 10);
	double t0, t1;
	int rc;

	if (count < 1 || count > 1000000) {
		log_error("bench: COUNT must be 1..1000000");
		return 64;
	}
	t0 = now_seconds();
	if ((p11 = ca_pkcs11_open(&spec)) == NULL)
		return 1;
	t1 = now_seconds();
	printf("open (engine, module, login, key): %.1f ms\n", (t1 - t0) * 1e3);
	rc = bench_loop(ca_pkcs11_key(p11), count);
	t0 = now_seconds();
	if (rc == -1)
		log_ssl("bench: a signature failed");
	else
		printf("%ld signatures in %.3f s: %.0f/s\n", count, t0 - t1,
		    (double)count / (t0 - t1));
	ca_pkcs11_close(p11);
	return rc == 0 ? 0 : 1;
}

/* ---- main ---------------------------------------------------------------- */

static const struct {
	const char *name;
	int argc;                 /* after the URI */
	int (*run)(char **argv);  /* argv after the URI */
} commands[] = {
	{ "match", 1, cmd_match },
	{ "reopen", 2, cmd_reopen },
	{ "sign", 2, cmd_sign },
	{ "fork", 1, cmd_fork },
	{ "bench", 1, cmd_bench },
};

static int
usage(void)
{
	fprintf(stderr, "usage: pkcs11_probe [-m MODULE] -p PIN_FILE "
	    "match|reopen|sign|fork|bench URI [ARGS]\n");
	return 64;
}

int
main(int argc, char **argv)
{
	int ch;

	log_init("pkcs11_probe");
	while ((ch = getopt(argc, argv, "m:p:")) != -1) {
		if (ch == 'm')
			spec.module = optarg;
		else if (ch == 'p')
			spec.pin_file = optarg;
		else
			return usage();
	}
	argc -= optind;
	argv += optind;
	if (argc < 2)
		return usage();
	spec.uri = argv[1];
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strcmp(argv[0], commands[i].name) == 0) {
			if (argc != commands[i].argc + 2)
				return usage();
			return commands[i].run(argv + 2);
		}
	return usage();
}
