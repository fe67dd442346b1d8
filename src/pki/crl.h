/*
 * crl.h - revocation reasons and the CRL.
 *
 * Owns: the v2 CRL: monotonic CRL number, one entry per revoked certificate
 * of the current CA with its reason code, written atomically as DER and
 * optionally PEM.  Never: decides what to revoke (callers do), or signs
 * itself (the signer does).
 */
#ifndef CERTSYNC_CRL_H
#define CERTSYNC_CRL_H

#include <stdint.h>

#include <openssl/x509v3.h>

#include "ca/signer.h"
#include "lib/conf.h"
#include "store/store.h"

/* Reason codes are OpenSSL's CRL_REASON_* (RFC 5280 CRLReason). */

/* "keyCompromise" etc. to the code, -1 if not one we record. */
int crl_reason_parse(const char *name);
const char *crl_reason_name(int code);
/* The spellings crl_reason_parse accepts, for error messages. */
const char *crl_reason_list(void);

/*
 * Builds, signs and writes a new CRL from the store's revocations.
 * Returns 0 and the CRL number in *number, or -1 after logging.
 */
int crl_publish(const struct conf *conf, struct store *st, struct signer *signer,
    int64_t *number);

#endif
