/*
 * testca.c - an in-memory CA and a default configuration for unit tests.
 *
 * Owns: test fixtures only.  Never: linked into a program.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "testca.h"

X509 *
testca_make(EVP_PKEY **key, time_t nb, time_t na)
{
	X509 *ca = X509_new();
	X509_NAME *name = X509_NAME_new();
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	*key = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8,
	    (const unsigned char *)"Unit Test CA", -1, -1, 0);
	X509_set_version(ca, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(ca), 1);
	X509_set_subject_name(ca, name);
	X509_set_issuer_name(ca, name);
	X509_time_adj_ex(X509_getm_notBefore(ca), 0, 0, &nb);
	X509_time_adj_ex(X509_getm_notAfter(ca), 0, 0, &na);
	X509_set_pubkey(ca, *key);
	X509V3_set_ctx(&ctx, ca, ca, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_basic_constraints, "critical,CA:TRUE");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, NID_subject_key_identifier, "hash");
	X509_add_ext(ca, ext, -1);
	X509_EXTENSION_free(ext);
	X509_sign(ca, *key, EVP_sha256());
	X509_NAME_free(name);
	return ca;
}

struct conf *
testca_conf(void)
{
	struct conf *c = calloc(1, sizeof(*c));

	conf_parse_key_spec("rsa:2048", &c->certificates.key);
	c->certificates.mode = CERT_MODE_SEPARATE;
	c->certificates.validity_days = 365;
	c->certificates.backdate_minutes = 5;
	c->certificates.subject = strdup("CN=%{name}");
	c->certificates.digest = strdup("sha256");
	c->certificates.renew_before_days = 30;
	return c;
}

void
testca_conf_free(struct conf *c)
{
	free(c->certificates.subject);
	free(c->certificates.digest);
	free(c->certificates.crl_url);
	free(c->certificates.aia_url);
	free(c);
}
