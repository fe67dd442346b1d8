/*
 * crl_publish.h - rewriting the CRL: the revoke stage's last step.
 *
 * Owns: turning what the store says is revoked into the signed CRL on
 * disk.  Called once per batch of jobs (job_finish_batch) and by
 * `certsyncctl revoke` and `certsyncctl crl`.
 * Never: decides what to revoke (the jobs and the admin do).
 */
#ifndef CERTSYNC_CRL_PUBLISH_H
#define CERTSYNC_CRL_PUBLISH_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "ca/ca_client.h"
#include "lib/conf.h"
#include "store/store.h"

/*
 * Has the CA process (ca) sign a new CRL of the store's revocations of the
 * CA whose certificate is ca_cert, and writes it.  Returns 0 and the CRL
 * number in *number, or -1 after logging (the number is used up either way).
 */
int crl_publish(const struct conf *conf, struct store *st, struct ca_client *ca,
    X509 *ca_cert, int64_t *number);

/*
 * Whether a CRL is due without any new revocation: none was ever made, its
 * file is gone, or half of its validity ([crl] next_update_hours) has
 * passed, so relying parties never hold one past its nextUpdate.  1 due, 0 not, -1 (logged)
 * when the store cannot say.
 */
int crl_publish_due(const struct conf *conf, struct store *st, time_t now);

#endif
