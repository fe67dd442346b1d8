/*
 * job_revoke.h - the revoke step of a job, and revoking by hand.
 *
 * Owns: PUBLISHED -> REVOKED, and revoking one certificate for
 * `certsyncctl revoke`.  Never: loses the key of what it revokes.
 */
#ifndef CERTSYNC_JOB_REVOKE_H
#define CERTSYNC_JOB_REVOKE_H

#include "pipeline/job_state.h"

/* Revokes one certificate with reason (a CRL_REASON_*), archiving its key
 * first; counts it in ctx->revoked.  0, or -1 after logging. */
int job_revoke_cert(struct job_ctx *ctx, const struct cert_row *row, int reason);

/* Every superseded certificate of the job's user revoked with the job's
 * reason; then REVOKED.  0, or -1 after logging. */
int job_step_revoke(struct job_ctx *ctx, struct job *job);

/* Removes the keystore files a kill left behind a revocation: of uuid's
 * certificates (NULL: everyone's), each superseded or revoked one whose
 * archive copy is recorded and whose row names no keystore file.  Matched
 * by the store's rows, never by a file's name alone.  Returns how many
 * files it removed, or -1 after logging. */
int job_sweep_keystore(struct job_ctx *ctx, const char *uuid);

#endif
