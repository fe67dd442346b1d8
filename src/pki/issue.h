/*
 * issue.h - the S/MIME certificate profile (RFC 5280, RFC 8550).
 *
 * Owns: what goes into a user certificate - serial, validity, subject,
 * extensions - as a pure function of the configuration, the CA
 * certificate, the request and the time.  Never: touches the CA private
 * key (the result is unsigned; signer.c signs it).
 */
#ifndef CERTSYNC_ISSUE_H
#define CERTSYNC_ISSUE_H

#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/conf.h"
#include "lib/vocab.h"
#include "pki/address.h"

struct issue_request {
	EVP_PKEY *key;                          /* subject public key */
	enum cert_kind kind;
	const struct address_list *addresses;   /* normalized, v[0] primary */
	struct subject_vars vars;
	time_t now;
};

/*
 * Builds the unsigned certificate.  Returns 0 and *out (caller frees with
 * X509_free), or -1 with *why set to a static reason for the admin (bad
 * name, CA expired, ...) or to NULL after an OpenSSL failure was logged.
 */
int issue_build(const struct conf *conf, X509 *ca, const struct issue_request *req,
    X509 **out, const char **why);

/*
 * The validity window: notBefore = now - backdate, no earlier than the CA's
 * notBefore; notAfter = now + validity_days, no later than the CA's
 * notAfter.  Returns 0, or -1 with *why set when the CA cannot issue now.
 */
int issue_validity(const struct conf *conf, const X509 *ca, time_t now,
    time_t *not_before, time_t *not_after, const char **why);

/* A fresh random positive serial of 20 octets (158 random bits). */
ASN1_INTEGER *issue_serial(void);

/*
 * Expands the subject template, written like an LDAP DN, leaf first
 * ("CN=%{name},O=Example").  A component whose value expands to empty is
 * left out.  Returns 0 and *out (caller frees), or -1 with *why.
 */
int issue_subject(const char *tmpl, const struct subject_vars *vars,
    X509_NAME **out, const char **why);

/* True if s is well-formed UTF-8 with no control characters. */
int issue_utf8_ok(const char *s);

#endif
