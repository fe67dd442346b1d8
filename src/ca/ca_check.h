/*
 * ca_check.h - the CA process's judgement: is this request one the profile
 * would make?  If so, the unsigned certificate or CRL it asks for.
 *
 * Owns: turning a decoded request into what the profile (pki/issue.c,
 * pki/crl.c) builds from its parts, and refusing, with one reason, every
 * request that asks for anything else: a kind this configuration does not
 * issue, an address that fails validation, a key of another type, a
 * subject, validity or extension that differs from the profile's
 * (basicConstraints CA:TRUE, an extendedKeyUsage beyond emailProtection,
 * a notAfter past validity_days or the CA's own), a CRL whose number,
 * times, serials or reasons are not ones certsync writes.
 * Never: signs, or reads anything but the configuration and the CA
 * certificate it is given (it runs inside the sandbox).
 *
 * Return convention: 0, or a refusal code (enum ca_refusal_code) with the
 * reason in why.
 */
#ifndef CERTSYNC_CA_CHECK_H
#define CERTSYNC_CA_CHECK_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "ca/ca_proto.h"
#include "lib/conf.h"
#include "lib/vocab.h"

/* Seconds a request's times may lie from the CA process's own clock. */
#define CA_SKEW 300

struct ca_profile {
	const struct conf *conf;
	X509 *ca;                 /* the CA certificate */
	int64_t last_crl;         /* the last CRL number signed, 0 if none */
};

/* What the audit log says about an issued certificate (caller frees). */
struct ca_issued {
	enum cert_kind kind;
	char *user;
	char *addresses;          /* joined with ", " */
};

int ca_check_issue(const struct ca_profile *p, const CA_ISSUE *req, time_t now,
    X509 **out, struct ca_issued *facts, char *why, size_t whylen);
void ca_issued_free(struct ca_issued *facts);

/* The CRL's number is remembered by the caller once it is signed. */
int ca_check_crl(const struct ca_profile *p, const CA_CRL *req, time_t now,
    X509_CRL **out, int64_t *number, char *why, size_t whylen);

#endif
