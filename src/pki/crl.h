/*
 * crl.h - revocation reasons and the CRL.
 *
 * Owns: the reason codes' names, and the v2 CRL: one entry per revoked
 * certificate with its reason code, the CRL number, written atomically as
 * DER and optionally PEM.  Never: decides what to revoke (callers do),
 * signs (the CA process does), or reads the store (crl_publish.c does).
 */
#ifndef CERTSYNC_CRL_H
#define CERTSYNC_CRL_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509v3.h>

#include "lib/conf.h"

/* Reason codes are OpenSSL's CRL_REASON_* (RFC 5280 CRLReason). */

/* "keyCompromise" etc. to the code, -1 if not one we record.
 * certificateHold is one: a hold (job_hold.c), never an admin's revocation. */
int crl_reason_parse(const char *name);
const char *crl_reason_name(int code);
/* The reasons an admin may revoke with, for error messages. */
const char *crl_reason_list(void);

/*
 * The unsigned CRL, in three steps (the CA process takes them, from a
 * request's entries): an empty v2 CRL issued by ca, valid from now until
 * next; one entry per revoked certificate, with its revocation time and
 * reason code (unspecified is left out, as RFC 5280 asks); then the
 * entries sorted, the CRL number and the CA's key identifier added.
 * crl_new returns the CRL (caller frees) or NULL; the others 0, or -1;
 * each after logging.
 */
X509_CRL *crl_new(X509 *ca, time_t now, time_t next);
int crl_add(X509_CRL *crl, const ASN1_INTEGER *serial, time_t when, int reason);
int crl_finish(X509_CRL *crl, X509 *ca, const ASN1_INTEGER *number);

/* Writes a signed CRL atomically to [crl] path (DER), and to pem_path as
 * PEM when that is set.  0, or -1 after logging. */
int crl_write(const struct conf *conf, X509_CRL *crl);

#endif
