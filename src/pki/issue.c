/*
 * issue.c - builds S/MIME user certificates (RFC 5280, RFC 8550).
 *
 * Owns: the profile: v3, random 20-octet serial, backdated notBefore,
 * notAfter capped at the CA's, subject from the template, basicConstraints
 * CA:FALSE, key usage by kind and key type, EKU emailProtection, SAN
 * rfc822Name for every address, SKI/AKI, CRL DP and AIA when configured.
 * Never: signs.  Only signer.c holds the CA key; this file sees the CA's
 * certificate only, and everything here is a pure function of its inputs
 * except the serial's randomness.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "lib/log.h"
#include "lib/rdn.h"
#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/spki.h"

#define SERIAL_OCTETS 20

ASN1_INTEGER *
issue_serial(void)
{
	unsigned char buf[SERIAL_OCTETS];
	ASN1_INTEGER *serial = NULL;
	BIGNUM *bn = NULL;

	if (RAND_bytes(buf, sizeof(buf)) != 1)
		goto done;
	/* Positive (top bit clear) and always the full 20 octets, so the
	 * DER length never drops and no serial is zero. */
	buf[0] = (unsigned char)((buf[0] & 0x3f) | 0x40);
	if ((bn = BN_bin2bn(buf, sizeof(buf), NULL)) != NULL)
		serial = BN_to_ASN1_INTEGER(bn, NULL);
done:
	if (serial == NULL)
		log_ssl("cannot make a random serial");
	BN_free(bn);
	OPENSSL_cleanse(buf, sizeof(buf));
	return serial;
}

int
issue_validity(const struct conf *conf, const X509 *ca, time_t now,
    time_t *not_before, time_t *not_after, const char **why)
{
	time_t ca_nb, ca_na;

	if (certinfo_time(X509_get0_notBefore(ca), &ca_nb) == -1 ||
	    certinfo_time(X509_get0_notAfter(ca), &ca_na) == -1) {
		*why = "the CA certificate has an unreadable validity";
		return -2;
	}
	/* Time cures this one (a clock set right, a CA made in advance). */
	if (now < ca_nb) {
		*why = "the CA certificate is not valid yet";
		return -1;
	}
	if (now >= ca_na) {
		*why = "the CA certificate has expired; no certificate can be "
		    "issued until it is replaced";
		return -2;
	}
	*not_before = now - (time_t)conf->certificates.backdate_minutes * 60;
	if (*not_before < ca_nb)
		*not_before = ca_nb;
	*not_after = now + (time_t)conf->certificates.validity_days * 86400;
	/* A user certificate never outlives its issuer. */
	if (*not_after > ca_na)
		*not_after = ca_na;
	return 0;
}

static const char *
subject_var(const char *name, size_t len, const struct subject_vars *v)
{
	static const struct { const char *key; size_t off; } map[] = {
		{ "name", offsetof(struct subject_vars, name) },
		{ "given", offsetof(struct subject_vars, given) },
		{ "sn", offsetof(struct subject_vars, sn) },
		{ "mail", offsetof(struct subject_vars, mail) },
		{ "uid", offsetof(struct subject_vars, uid) },
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
		if (strlen(map[i].key) == len && strncmp(name, map[i].key, len) == 0) {
			const char *val = *(const char *const *)
			    ((const char *)v + map[i].off);
			return val ? val : "";
		}
	}
	return NULL;
}

/* Expands %{var} in one RDN value; returns a new string or NULL with *why. */
static char *
expand_value(const char *in, const struct subject_vars *vars, const char **why)
{
	char *out = NULL;
	size_t len = 0, cap = 0;

	for (const char *p = in; *p; ) {
		const char *piece = p, *end;
		size_t plen = 1;

		if (p[0] == '%' && p[1] == '{' && (end = strchr(p, '}')) != NULL) {
			if ((piece = subject_var(p + 2, (size_t)(end - p - 2), vars)) == NULL) {
				*why = "the subject template names an unknown variable";
				free(out);
				return NULL;
			}
			plen = strlen(piece);
			p = end + 1;
		} else
			p++;
		if (len + plen + 1 > cap) {
			cap = (len + plen + 1) * 2;
			if ((out = realloc(out, cap)) == NULL)
				fatal("out of memory");
		}
		memcpy(out + len, piece, plen);
		len += plen;
	}
	if (out == NULL && (out = strdup("")) == NULL)
		fatal("out of memory");
	out[len] = '\0';
	return out;
}

static int
add_rdn(X509_NAME *name, char *rdn, const struct subject_vars *vars,
    char *why, size_t whylen)
{
	const char *err = NULL;
	char *eq, *value = NULL;
	size_t vlen;
	int rc = -1;

	if ((eq = strchr(rdn, '=')) == NULL) {
		snprintf(why, whylen, "the subject template has a component "
		    "without '='");
		return -1;
	}
	*eq = '\0';
	if ((value = expand_value(eq + 1, vars, &err)) == NULL) {
		snprintf(why, whylen, "%s", err);
		return -1;
	}
	vlen = strlen(value);
	if (vlen == 0) {
		rc = 0;	/* an empty attribute would be invalid; leave it out */
		goto done;
	}
	if (rdn_value_check(rdn, value, why, whylen) == -1)
		goto done;
	/* Position 0: the template reads like an LDAP DN (RFC 4514), leaf
	 * first, while DER holds the most significant attribute first. */
	if (!X509_NAME_add_entry_by_txt(name, rdn, MBSTRING_UTF8,
	    (const unsigned char *)value, (int)vlen, 0, 0)) {
		log_ssl("cannot add subject attribute %s", rdn);
		snprintf(why, whylen, "the subject attribute %s is one OpenSSL "
		    "refuses", rdn);
		goto done;
	}
	rc = 0;
done:
	free(value);
	return rc;
}

int
issue_subject(const char *tmpl, const struct subject_vars *vars,
    X509_NAME **out, char *why, size_t whylen)
{
	char buf[RDN_TEMPLATE_MAX], *save = NULL, *rdn;
	X509_NAME *name;

	*out = NULL;
	if (snprintf(buf, sizeof(buf), "%s", tmpl) >= (int)sizeof(buf)) {
		snprintf(why, whylen, "the subject template is too long");
		return -1;
	}
	if ((name = X509_NAME_new()) == NULL)
		fatal("out of memory");
	/* Split the template before expanding it, so a comma inside a
	 * person's name can never start a new attribute. */
	for (rdn = strtok_r(buf, ",", &save); rdn != NULL;
	    rdn = strtok_r(NULL, ",", &save)) {
		while (*rdn == ' ')
			rdn++;
		if (add_rdn(name, rdn, vars, why, whylen) == -1) {
			X509_NAME_free(name);
			return -1;
		}
	}
	*out = name;
	return 0;
}

/* The SAN's side of the profile: 0, or -1 with why. */
static int
check_addresses(const struct address_list *addresses, char *why, size_t whylen)
{
	if (addresses == NULL || addresses->n == 0) {
		snprintf(why, whylen, "there is no email address to certify");
		return -1;
	}
	if (addresses->n > ISSUE_ADDRESSES_MAX) {
		snprintf(why, whylen, "%zu addresses are more than a certificate "
		    "carries (at most %d)", addresses->n, ISSUE_ADDRESSES_MAX);
		return -1;
	}
	return 0;
}

int
issue_check(const char *tmpl, const struct subject_vars *vars,
    const struct address_list *addresses, char *why, size_t whylen)
{
	X509_NAME *name = NULL;

	if (check_addresses(addresses, why, whylen) == -1 ||
	    issue_subject(tmpl, vars, &name, why, whylen) == -1)
		return -1;
	X509_NAME_free(name);
	return 0;
}

static const char *
key_usage(const struct conf *conf, const struct issue_request *req)
{
	int ec = EVP_PKEY_is_a(req->key, "EC");
	int nr = conf->certificates.non_repudiation;

	switch (req->kind) {
	case CERT_KIND_SIGNING:
		return nr ? "critical,digitalSignature,nonRepudiation"
		    : "critical,digitalSignature";
	case CERT_KIND_ENCRYPTION:
		return ec ? "critical,keyAgreement" : "critical,keyEncipherment";
	case CERT_KIND_DUAL:
	default:
		if (ec)
			return nr ? "critical,digitalSignature,nonRepudiation,keyAgreement"
			    : "critical,digitalSignature,keyAgreement";
		return nr ? "critical,digitalSignature,nonRepudiation,keyEncipherment"
		    : "critical,digitalSignature,keyEncipherment";
	}
}

static int
add_ext(X509 *cert, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext;
	int ok;

	if ((ext = X509V3_EXT_nconf_nid(NULL, ctx, nid, value)) == NULL) {
		log_ssl("cannot build extension %s", OBJ_nid2sn(nid));
		return -1;
	}
	ok = X509_add_ext(cert, ext, -1);
	X509_EXTENSION_free(ext);
	if (!ok) {
		log_ssl("cannot add extension %s", OBJ_nid2sn(nid));
		return -1;
	}
	return 0;
}

/* Built by hand, not from a config string: addresses come from the
 * directory and must never be parsed as OpenSSL config syntax. */
static int
add_san(X509 *cert, const struct address_list *addrs, int critical)
{
	GENERAL_NAMES *gens = NULL;
	int rc = -1;

	if ((gens = GENERAL_NAMES_new()) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < addrs->n; i++) {
		GENERAL_NAME *gen = GENERAL_NAME_new();
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

		if (gen == NULL || ia5 == NULL ||
		    !ASN1_STRING_set(ia5, addrs->v[i], -1))
			fatal("out of memory");
		GENERAL_NAME_set0_value(gen, GEN_EMAIL, ia5);
		if (!sk_GENERAL_NAME_push(gens, gen))
			fatal("out of memory");
	}
	if (X509_add1_ext_i2d(cert, NID_subject_alt_name, gens, critical,
	    X509V3_ADD_DEFAULT) != 1) {
		log_ssl("cannot add subjectAltName");
		goto done;
	}
	rc = 0;
done:
	GENERAL_NAMES_free(gens);
	return rc;
}

static int
add_extensions(const struct conf *conf, X509 *ca, X509 *cert,
    const struct issue_request *req, int empty_subject)
{
	char value[1100];
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, ca, cert, NULL, NULL, 0);
	if (add_ext(cert, &ctx, NID_basic_constraints, "critical,CA:FALSE") == -1 ||
	    add_ext(cert, &ctx, NID_key_usage, key_usage(conf, req)) == -1 ||
	    add_ext(cert, &ctx, NID_ext_key_usage, "emailProtection") == -1 ||
	    add_ext(cert, &ctx, NID_subject_key_identifier, "hash") == -1 ||
	    add_ext(cert, &ctx, NID_authority_key_identifier, "keyid:always") == -1)
		return -1;
	/* RFC 5280 4.2.1.6: with an empty subject the SAN must be critical. */
	if (add_san(cert, req->addresses, empty_subject) == -1)
		return -1;
	if (conf->certificates.crl_url != NULL) {
		snprintf(value, sizeof(value), "URI:%s", conf->certificates.crl_url);
		if (add_ext(cert, &ctx, NID_crl_distribution_points, value) == -1)
			return -1;
	}
	if (conf->certificates.aia_url != NULL) {
		snprintf(value, sizeof(value), "caIssuers;URI:%s",
		    conf->certificates.aia_url);
		if (add_ext(cert, &ctx, NID_info_access, value) == -1)
			return -1;
	}
	return 0;
}

int
issue_build(const struct conf *conf, X509 *ca, const struct issue_request *req,
    X509 **out, char *why, size_t whylen)
{
	ASN1_INTEGER *serial = NULL;
	X509_NAME *subject = NULL;
	X509 *cert = NULL;
	const char *verr = NULL;
	time_t nb, na;
	int rc = -1;

	*out = NULL;
	why[0] = '\0';
	if ((rc = issue_validity(conf, ca, req->now, &nb, &na, &verr)) != 0) {
		snprintf(why, whylen, "%s", verr);
		return rc;
	}
	/* What the identity stage checked (issue_check()), checked again: the
	 * profile has the last word, whoever asks. */
	if (check_addresses(req->addresses, why, whylen) == -1 ||
	    issue_subject(conf->certificates.subject, &req->vars, &subject, why,
	    whylen) == -1)
		return -2;
	rc = -1;
	if ((serial = issue_serial()) == NULL)
		goto done;
	if ((cert = X509_new()) == NULL)
		fatal("out of memory");
	if (!X509_set_version(cert, X509_VERSION_3) ||
	    !X509_set_serialNumber(cert, serial) ||
	    !X509_set_issuer_name(cert, X509_get_subject_name(ca)) ||
	    !X509_set_subject_name(cert, subject) ||
	    X509_time_adj_ex(X509_getm_notBefore(cert), 0, 0, &nb) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), 0, 0, &na) == NULL ||
	    (req->spki != NULL ? spki_copy(X509_get_X509_PUBKEY(cert), req->spki) == -1 :
	    !X509_set_pubkey(cert, req->key))) {
		log_ssl("cannot fill in a certificate");
		goto done;
	}
	if (add_extensions(conf, ca, cert, req,
	    X509_NAME_entry_count(subject) == 0) == -1)
		goto done;
	*out = cert;
	cert = NULL;
	rc = 0;
done:
	X509_free(cert);
	X509_NAME_free(subject);
	ASN1_INTEGER_free(serial);
	return rc;
}
