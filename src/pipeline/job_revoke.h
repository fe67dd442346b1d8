/*
 * job_revoke.h - the revoke step of a job, and revoking by hand.
 *
 * Owns: PUBLISHED -> REVOKED, and revoking one certificate for
 * `certsyncctl revoke`.  Never: loses the key of what it revokes.
 */
#ifndef CERTSYNC_JOB_REVOKE_H
#define CERTSYNC_JOB_REVOKE_H

#include <stddef.h>

#include "lib/log.h"
#include "pipeline/job_state.h"

/* Revokes one certificate with reason (a CRL_REASON_*), archiving its key
 * first; counts it in ctx->revoked.  0, or -1 after logging. */
int job_revoke_cert(struct job_ctx *ctx, const struct cert_row *row, int reason);

/* Every superseded certificate of each item's user revoked with its job's
 * reason, then REVOKED: one transaction for the batch.  An item that fails
 * gets rc -1.  A line per certificate at level. */
void job_step_revoke_many(struct job_ctx *ctx, struct job_item **items, size_t n,
    enum log_level level);

/* Removes the keystore files a kill left behind a revocation: of uuid's
 * certificates (NULL: everyone's), each superseded or revoked one whose
 * archive copy is recorded and whose row names no keystore file.  Matched
 * by the store's rows, never by a file's name alone.  Returns how many
 * files it removed, or -1 after logging. */
int job_sweep_keystore(struct job_ctx *ctx, const char *uuid);

#endif
