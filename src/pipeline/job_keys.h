/*
 * job_keys.h - the keys and issue step of a job.
 *
 * Owns: PLANNED (or KEYS) -> KEYS -> ISSUED.  Never: publishes or revokes.
 */
#ifndef CERTSYNC_JOB_KEYS_H
#define CERTSYNC_JOB_KEYS_H

#include "pipeline/identity.h"
#include "pipeline/job_state.h"

/* New keys and certificates for id, in the kinds [certificates] mode asks
 * for, recorded as pending; then ISSUED.  0; -2 with a reason in why when
 * nothing can be issued until someone acts (the profile refuses id's
 * values, the CA has expired, or the CA process refused the request); -1
 * after any other failure (why may say more), ctx->ca_wait_until set when
 * the CA process could not sign now (down, or at its ceiling).  What a
 * failed attempt signed waits in ctx->held for the next attempt, which
 * records it if still right (job_held.h), or is revoked before it returns
 * (no hold), or when the job is resumed in KEYS. */
int job_step_issue(struct job_ctx *ctx, struct job *job, const struct identity *id,
    char *why, size_t whylen);

#endif
