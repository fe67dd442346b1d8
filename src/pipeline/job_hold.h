/*
 * job_hold.h - the reversible first step for a departed user, and its
 * undoing.
 *
 * Owns: a hold job's second step (its first withdraws the certificates
 * from the directory: job_step_flip) and a lift job's first (its second
 * publishes them again, the same way).
 * Never: removes a key file or writes the CRL.
 */
#ifndef CERTSYNC_JOB_HOLD_H
#define CERTSYNC_JOB_HOLD_H

#include "pipeline/job_state.h"

/* PUBLISHED -> REVOKED: every active certificate of the job's user has its
 * key archived (the keystore copy stays, for a return) and is put on hold
 * (certificateHold), one transaction each; counted in ctx->revoked so the
 * batch rewrites the CRL.  0, or -1 after logging. */
int job_step_hold(struct job_ctx *ctx, struct job *job);

/* PLANNED -> ARCHIVED: every certificate of the user on hold is active
 * again and off the next CRL, one transaction each; counted in
 * ctx->revoked likewise.  The job's next step publishes them (the keys
 * were archived when they were put on hold).  0, or -1 after logging. */
int job_step_lift(struct job_ctx *ctx, struct job *job);

#endif
