/*
 * kra_agents.c - which certificates may be key recovery agents.
 *
 * Owns: reading the agent certificate files a glob names and refusing any
 * that could not, or should not, receive a share: the wrong key type or
 * size, outside its validity, a keyUsage that forbids the key's use, a
 * file that also holds a private key, the same certificate or key twice.
 * Never: accepts a file it cannot account for in full (one certificate,
 * nothing else), or prints a file name unescaped.
 */
#include "config.h"

#include <errno.h>
#include <glob.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/obj_mac.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "pki/kra.h"
#include "lib/log.h"

#define AGENT_FILE_MAX (64 * 1024)
#define MIN_RSA_BITS 2048

static void seterr(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* in, with every byte outside printable ASCII shown as '?'. */
static void
printable(const char *in, char *out, size_t outlen)
{
	size_t i;

	for (i = 0; in[i] != '\0' && i + 1 < outlen; i++)
		out[i] = in[i] >= 0x20 && in[i] <= 0x7e ? in[i] : '?';
	out[i] = '\0';
}

/* The keyUsage bit the key type needs, or 0 after setting err. */
static unsigned long
key_check(X509 *cert, char *err, size_t errlen)
{
	EVP_PKEY *pub = X509_get0_pubkey(cert);
	char group[64] = "";
	int nid;

	if (pub == NULL) {
		seterr(err, errlen, "its public key cannot be read");
		return 0;
	}
	if (EVP_PKEY_is_a(pub, "RSA")) {
		if (EVP_PKEY_get_bits(pub) >= MIN_RSA_BITS)
			return KU_KEY_ENCIPHERMENT;
		seterr(err, errlen, "RSA key of %d bits; recovery agents need at "
		    "least %d", EVP_PKEY_get_bits(pub), MIN_RSA_BITS);
		return 0;
	}
	if (EVP_PKEY_is_a(pub, "EC")) {
		if (EVP_PKEY_get_group_name(pub, group, sizeof(group), NULL) != 1)
			group[0] = '\0';
		nid = OBJ_sn2nid(group);
		if (nid == NID_X9_62_prime256v1 || nid == NID_secp384r1)
			return KU_KEY_AGREEMENT;
		seterr(err, errlen, "EC key on curve %s; recovery agents need "
		    "P-256 or P-384", group[0] != '\0' ? group : "(explicit)");
		return 0;
	}
	seterr(err, errlen, "%s key; recovery agents need RSA (at least %d "
	    "bits) or EC (P-256, P-384) keys to encrypt to",
	    EVP_PKEY_get0_type_name(pub) != NULL ?
	    EVP_PKEY_get0_type_name(pub) : "unknown", MIN_RSA_BITS);
	return 0;
}

/* Returns 0 or -1, as kra.h says. */
int
kra_agent_check(X509 *cert, time_t now, char *err, size_t errlen)
{
	unsigned long need;
	int before, after;

	if ((need = key_check(cert, err, errlen)) == 0)
		return -1;
	if (X509_get_extension_flags(cert) & EXFLAG_INVALID) {
		seterr(err, errlen, "its extensions are malformed");
		return -1;
	}
	before = X509_cmp_time(X509_get0_notBefore(cert), &now);
	after = X509_cmp_time(X509_get0_notAfter(cert), &now);
	if (before == 0 || after == 0) {
		seterr(err, errlen, "its validity dates cannot be read");
		return -1;
	}
	if (before > 0 || after < 0) {
		seterr(err, errlen, "the certificate is %s", before > 0 ?
		    "not valid yet" : "expired");
		return -1;
	}
	if ((X509_get_extension_flags(cert) & EXFLAG_KUSAGE) &&
	    (X509_get_key_usage(cert) & need) == 0) {
		seterr(err, errlen, "its keyUsage lacks %s, which its key needs "
		    "to receive a share", need == KU_KEY_ENCIPHERMENT ?
		    "keyEncipherment" : "keyAgreement");
		return -1;
	}
	return 0;
}

/* Reads at most AGENT_FILE_MAX bytes of a regular file into *data.
 * Returns 0, or -1 with err. */
static int
read_small_file(const char *path, unsigned char **data, size_t *len,
    char *err, size_t errlen)
{
	struct stat st;
	FILE *f = NULL;
	int rc = -1;

	*data = NULL;
	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &st) == -1) {
		seterr(err, errlen, "cannot read it: %s", strerror(errno));
		goto done;
	}
	if (!S_ISREG(st.st_mode) || st.st_size > AGENT_FILE_MAX) {
		seterr(err, errlen, "not a regular file of at most %d bytes",
		    AGENT_FILE_MAX);
		goto done;
	}
	if ((*data = OPENSSL_malloc((size_t)st.st_size + 1)) == NULL ||
	    (*len = fread(*data, 1, (size_t)st.st_size, f)) != (size_t)st.st_size) {
		seterr(err, errlen, "cannot read it");
		goto done;
	}
	rc = 0;
done:
	if (f != NULL)
		fclose(f);
	if (rc == -1) {
		OPENSSL_free(*data);
		*data = NULL;
	}
	return rc;
}

/* The one certificate of a PEM file; every block must be a CERTIFICATE and
 * there must be exactly one.  *cert NULL and 0 when the data is not PEM at
 * all; -1 with err for PEM with anything else in it. */
static int
pem_cert(const unsigned char *data, size_t len, X509 **cert, char *err,
    size_t errlen)
{
	BIO *b = BIO_new_mem_buf(data, (int)len);
	char *name = NULL, *header = NULL, shown[64];
	unsigned char *der = NULL;
	const unsigned char *p;
	long dlen = 0;
	int blocks = 0, rc = 0;

	*cert = NULL;
	while (rc == 0 && b != NULL &&
	    PEM_read_bio(b, &name, &header, &der, &dlen) == 1) {
		blocks++;
		if (strstr(name, "PRIVATE KEY") != NULL) {
			seterr(err, errlen, "it holds a private key: an agent's "
			    "private key stays with its officer, off this host");
			rc = -1;
		} else if (blocks > 1) {
			seterr(err, errlen, "it holds more than one PEM block (one "
			    "CERTIFICATE per file)");
			rc = -1;
		} else if (strcmp(name, "CERTIFICATE") != 0) {
			printable(name, shown, sizeof(shown));
			seterr(err, errlen, "it holds a %s, not a CERTIFICATE",
			    shown);
			rc = -1;
		} else if ((p = der, *cert = d2i_X509(NULL, &p, dlen)) == NULL ||
		    p != der + dlen) {
			seterr(err, errlen, "its CERTIFICATE block does not parse");
			rc = -1;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_clear_free(der, (size_t)dlen);
		name = header = NULL;
		der = NULL;
	}
	ERR_clear_error();	/* the end of the PEM data is no error */
	BIO_free(b);
	if (rc == -1) {
		X509_free(*cert);
		*cert = NULL;
	}
	return rc;
}

/* The certificate in data: PEM (one CERTIFICATE block) or DER.  Returns it
 * or NULL with err. */
static X509 *
parse_cert(const unsigned char *data, size_t len, char *err, size_t errlen)
{
	const unsigned char *p = data;
	X509 *cert = NULL;

	if (pem_cert(data, len, &cert, err, errlen) == -1)
		return NULL;
	if (cert != NULL)
		return cert;
	if ((cert = d2i_X509(NULL, &p, (long)len)) == NULL || p != data + len) {
		X509_free(cert);
		ERR_clear_error();
		seterr(err, errlen, "not a PEM or DER certificate");
		return NULL;
	}
	return cert;
}

/* Loads and checks one agent file into a.  Returns 0, or -1 with err. */
static int
load_one(const char *path, time_t now, struct kra_agent *a, char *err,
    size_t errlen)
{
	unsigned char *data = NULL;
	unsigned int fplen = 0;
	size_t len = 0;
	int rc = -1;

	memset(a, 0, sizeof(*a));
	if (read_small_file(path, &data, &len, err, errlen) == -1 ||
	    (a->cert = parse_cert(data, len, err, errlen)) == NULL ||
	    kra_agent_check(a->cert, now, err, errlen) == -1)
		goto done;
	if (X509_digest(a->cert, EVP_sha256(), a->fp, &fplen) != 1 ||
	    fplen != KRA_FP_LEN || (a->path = strdup(path)) == NULL) {
		seterr(err, errlen, "cannot hash it (out of memory)");
		goto done;
	}
	rc = 0;
done:
	OPENSSL_free(data);
	if (rc == -1) {
		X509_free(a->cert);
		a->cert = NULL;
	}
	return rc;
}

/* Whether agent i repeats an earlier one: the same certificate, or the same
 * key in another certificate (its officer would hold two shares).  Returns
 * 0, or -1 with err naming the earlier file. */
static int
check_unique(const struct kra_agents *agents, size_t i, char *err,
    size_t errlen)
{
	const struct kra_agent *a = &agents->v[i];
	char other[512];
	size_t j;

	for (j = 0; j < i; j++) {
		printable(agents->v[j].path, other, sizeof(other));
		if (memcmp(agents->v[j].fp, a->fp, KRA_FP_LEN) == 0) {
			seterr(err, errlen, "the same certificate as %s", other);
			return -1;
		}
		if (EVP_PKEY_eq(X509_get0_pubkey(agents->v[j].cert),
		    X509_get0_pubkey(a->cert)) == 1) {
			seterr(err, errlen, "the same key as %s: its officer "
			    "would hold two shares", other);
			return -1;
		}
	}
	return 0;
}

/* Loads every path of g into agents, logging each bad file.  Returns the
 * number of bad files. */
static size_t
load_all(const glob_t *g, const char *what, time_t now,
    struct kra_agents *agents)
{
	char err[KRA_ERR_LEN], shown[512];
	size_t i, bad = 0;

	for (i = 0; i < g->gl_pathc; i++) {
		struct kra_agent *a = &agents->v[agents->n];

		printable(g->gl_pathv[i], shown, sizeof(shown));
		if (load_one(g->gl_pathv[i], now, a, err, sizeof(err)) == 0) {
			agents->n++;
			if (check_unique(agents, agents->n - 1, err,
			    sizeof(err)) == 0)
				continue;
		}
		log_error("%s: %s: %s", what, shown, err);
		bad++;
	}
	return bad;
}

/* glob(3)'s error callback has no context pointer: the first directory
 * it could not read, kept here.  Agents load on one thread, at start-up. */
static char glob_failed_dir[256];
static int glob_failed_errno;

/* A missing directory just matches nothing; any other error stops. */
static int
glob_error(const char *path, int eerrno)
{
	if (eerrno == ENOENT || eerrno == ENOTDIR)
		return 0;
	printable(path, glob_failed_dir, sizeof(glob_failed_dir));
	glob_failed_errno = eerrno;
	return 1;
}

/* Returns 0 or -1 (after logging), as kra.h says. */
int
kra_load_agents(const char *pattern, const char *what, time_t now,
    struct kra_agents *agents)
{
	glob_t g;
	char shown[512];
	int grc;

	memset(agents, 0, sizeof(*agents));
	memset(&g, 0, sizeof(g));
	printable(pattern, shown, sizeof(shown));
	glob_failed_errno = 0;
	if ((grc = glob(pattern, 0, glob_error, &g)) != 0) {
		if (grc == GLOB_NOMATCH)
			log_error("%s: no file matches %s", what, shown);
		else if (glob_failed_errno != 0)
			log_error("%s: %s: cannot read the directory: %s", what,
			    glob_failed_dir, strerror(glob_failed_errno));
		else
			log_error("%s: cannot expand %s", what, shown);
		globfree(&g);
		return -1;
	}
	if (g.gl_pathc > KRA_MAX_AGENTS) {
		log_error("%s: %s matches %zu files; at most %d agents can share "
		    "a secret", what, shown, (size_t)g.gl_pathc, KRA_MAX_AGENTS);
		globfree(&g);
		return -1;
	}
	if ((agents->v = calloc(g.gl_pathc, sizeof(*agents->v))) == NULL)
		fatal("out of memory");
	if (load_all(&g, what, now, agents) > 0) {
		kra_agents_free(agents);
		globfree(&g);
		return -1;
	}
	globfree(&g);
	return 0;
}

void
kra_agents_free(struct kra_agents *agents)
{
	size_t i;

	for (i = 0; i < agents->n; i++) {
		X509_free(agents->v[i].cert);
		free(agents->v[i].path);
	}
	free(agents->v);
	memset(agents, 0, sizeof(*agents));
}
