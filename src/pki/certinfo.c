/*
 * certinfo.c - the textual facts of a certificate.
 *
 * Owns: one spelling for serials, fingerprints, names and times, and the
 * store's row of a certificate made of them.  Never: changes a certificate
 * or decides anything about it.
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "pki/certinfo.h"
#include "pki/keys.h"
#include "store/store.h"

char *
certinfo_serial(const X509 *cert)
{
	BIGNUM *bn = NULL;
	char *hex = NULL, *out = NULL;

	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL) {
		log_ssl("cannot read a certificate serial");
		goto done;
	}
	out = strdup(hex);
done:
	OPENSSL_free(hex);
	BN_free(bn);
	return out;
}

char *
certinfo_fingerprint(const X509 *cert)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int len = 0;
	char *out;

	if (!X509_digest(cert, EVP_sha256(), md, &len)) {
		log_ssl("cannot hash a certificate");
		return NULL;
	}
	if ((out = malloc(len * 2 + 1)) == NULL)
		fatal("out of memory");
	for (unsigned int i = 0; i < len; i++)
		snprintf(out + i * 2, 3, "%02X", md[i]);
	return out;
}

char *
certinfo_name(const X509_NAME *name)
{
	BIO *bio = NULL;
	char *data = NULL, *out = NULL;
	long len;

	if ((bio = BIO_new(BIO_s_mem())) == NULL ||
	    X509_NAME_print_ex(bio, name, 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) < 0) {
		log_ssl("cannot print a name");
		goto done;
	}
	len = BIO_get_mem_data(bio, &data);
	if ((out = strndup(data, (size_t)len)) == NULL)
		fatal("out of memory");
done:
	BIO_free(bio);
	return out;
}

char *
certinfo_emails(const X509 *cert)
{
	GENERAL_NAMES *gens = NULL;
	char *out = NULL;
	size_t len = 0;

	if ((out = calloc(1, 1)) == NULL)
		fatal("out of memory");
	gens = X509_get_ext_d2i(cert, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *gen = sk_GENERAL_NAME_value(gens, i);
		const ASN1_IA5STRING *s;
		size_t add;
		char *grown;

		if (gen->type != GEN_EMAIL)
			continue;
		s = gen->d.rfc822Name;
		add = (size_t)ASN1_STRING_length(s) + 2;
		if ((grown = realloc(out, len + add + 1)) == NULL)
			fatal("out of memory");
		out = grown;
		len += (size_t)snprintf(out + len, add + 1, "%s%.*s",
		    len ? ", " : "", ASN1_STRING_length(s),
		    (const char *)ASN1_STRING_get0_data(s));
	}
	GENERAL_NAMES_free(gens);
	return out;
}

int
certinfo_time(const ASN1_TIME *t, time_t *out)
{
	struct tm tm;

	if (t == NULL || !ASN1_TIME_to_tm(t, &tm))
		return -1;
	*out = timegm(&tm);
	return 0;
}

const char *
certinfo_fmt_time(time_t t, char *buf, size_t len)
{
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL ||
	    strftime(buf, len, "%Y-%m-%d %H:%M:%SZ", &tm) == 0)
		snprintf(buf, len, "?");
	return buf;
}

int
certinfo_der(X509 *cert, unsigned char **der, size_t *len)
{
	unsigned char *buf = NULL;
	int n;

	if ((n = i2d_X509(cert, &buf)) <= 0) {
		log_ssl("cannot encode a certificate");
		return -1;
	}
	*der = buf;	/* OPENSSL_malloc'd: plain free() is not the pair */
	*len = (size_t)n;
	return 0;
}

X509 *
certinfo_read_pem(const char *path, const char *setting)
{
	X509 *cert = NULL;
	BIO *bio;

	if ((bio = BIO_new_file(path, "r")) == NULL) {
		ERR_clear_error();
		log_error("%s %s: cannot open: %s", setting, path, strerror(errno));
		return NULL;
	}
	if ((cert = PEM_read_bio_X509(bio, NULL, NULL, NULL)) == NULL)
		log_ssl("%s %s: not a PEM certificate", setting, path);
	BIO_free(bio);
	return cert;
}

X509 *
certinfo_from_der(const unsigned char *der, size_t len)
{
	const unsigned char *p = der;

	return d2i_X509(NULL, &p, (long)len);
}

char *
certinfo_parse_serial(const char *text)
{
	char *out;
	size_t j = 0;

	while (*text == '0' && text[1] != '\0')
		text++;
	if ((out = malloc(strlen(text) + 1)) == NULL)
		fatal("out of memory");
	for (const char *p = text; *p; p++) {
		if (*p == ':')
			continue;
		if (!isxdigit((unsigned char)*p)) {
			free(out);
			return NULL;
		}
		if (j == 0 && *p == '0')
			continue;
		out[j++] = (char)toupper((unsigned char)*p);
	}
	if (j == 0) {
		free(out);
		return NULL;
	}
	out[j] = '\0';
	return out;
}

int
certinfo_row(struct cert_row *r, const char *uuid, char *addresses,
    enum cert_kind kind, EVP_PKEY *key, X509 *cert)
{
	unsigned char *der = NULL;
	char kt[32];
	time_t t = 0;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->status = CERT_PENDING;
	r->reason = -1;
	r->created_at = time(NULL);
	r->addresses = addresses;
	if ((r->uuid = strdup(uuid)) == NULL ||
	    (r->key_type = strdup(keys_describe(key, kt, sizeof(kt)))) == NULL)
		fatal("out of memory");
	if ((r->issuer = certinfo_name(X509_get_issuer_name(cert))) == NULL ||
	    (r->subject = certinfo_name(X509_get_subject_name(cert))) == NULL ||
	    (r->serial = certinfo_serial(cert)) == NULL ||
	    (r->fingerprint = certinfo_fingerprint(cert)) == NULL ||
	    certinfo_der(cert, &der, &r->der_len) == -1)
		return -1;
	/* The row's DER is freed with free(): copy it out of OpenSSL's heap. */
	if ((r->der = malloc(r->der_len)) == NULL)
		fatal("out of memory");
	memcpy(r->der, der, r->der_len);
	OPENSSL_free(der);
	certinfo_time(X509_get0_notBefore(cert), &t);
	r->not_before = t;
	certinfo_time(X509_get0_notAfter(cert), &t);
	r->not_after = t;
	return 0;
}
