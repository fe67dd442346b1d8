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
	const X509_PUBKEY *spki;                /* its encoding, when in hand
	                                           (spki.h): copied, not made
	                                           again from key; may be NULL */
	enum cert_kind kind;
	const struct address_list *addresses;   /* normalized, v[0] primary */
	struct subject_vars vars;
	time_t now;
};

/*
 * Builds the unsigned certificate.  Returns 0 and *out (caller frees with
 * X509_free); -2 with a reason in why when the request cannot be issued
 * until someone acts: the profile refuses the user's values (see
 * issue_check()), or the CA certificate has expired; -1 otherwise, with
 * why set when the CA is not valid yet (time cures that) or left empty
 * after an OpenSSL failure was logged.
 */
int issue_build(const struct conf *conf, X509 *ca, const struct issue_request *req,
    X509 **out, char *why, size_t whylen);

/* At most this many addresses (primary and aliases) in one certificate's
 * SAN: more is no mailbox but a distribution list, and makes a certificate
 * some clients refuse. */
#define ISSUE_ADDRESSES_MAX 100

/*
 * Everything the profile can refuse about a user before a key is made:
 * the addresses (1 to ISSUE_ADDRESSES_MAX) and the subject the template
 * tmpl gives vars (issue_subject()).  The identity stage calls this, and
 * issue_build() checks the same, so a user the profile would refuse is
 * skipped when the entry is read, never retried.  0, or -1 with a reason
 * in why.
 */
int issue_check(const char *tmpl, const struct subject_vars *vars,
    const struct address_list *addresses, char *why, size_t whylen);

/*
 * The validity window: notBefore = now - backdate, no earlier than the CA's
 * notBefore; notAfter = now + validity_days, no later than the CA's
 * notAfter.  Returns 0; -1 with *why when the CA is not valid yet; -2 with
 * *why when it has expired (or its validity cannot be read).
 */
int issue_validity(const struct conf *conf, const X509 *ca, time_t now,
    time_t *not_before, time_t *not_after, const char **why);

/* A fresh random positive serial of 20 octets (158 random bits). */
ASN1_INTEGER *issue_serial(void);

/*
 * Expands the subject template, written like an LDAP DN, leaf first
 * ("CN=%{name},O=Example").  A component whose value expands to empty is
 * left out.  Every value must be text (utf8_text_check()) within its
 * attribute's RFC 5280 upper bound, counted in characters, and in its
 * string type's character set (PrintableString for C and serialNumber,
 * IA5String for emailAddress).  Returns 0 and *out (caller frees), or -1
 * with a reason in why naming the attribute ("subject CN would be 65
 * characters long; RFC 5280 allows at most 64").
 */
int issue_subject(const char *tmpl, const struct subject_vars *vars,
    X509_NAME **out, char *why, size_t whylen);

#endif
