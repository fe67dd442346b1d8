/*
 * job_keys.h - the keys and issue step of a batch of jobs.
 *
 * Owns: PLANNED (or KEYS) -> KEYS -> ISSUED.  Never: publishes or revokes.
 */
#ifndef CERTSYNC_JOB_KEYS_H
#define CERTSYNC_JOB_KEYS_H

#include <stddef.h>

#include "lib/log.h"
#include "pipeline/job_state.h"

/*
 * New keys and certificates for each item's identity, in the kinds
 * [certificates] mode asks for, recorded as pending; then ISSUED.  An item
 * nothing can be issued for until someone acts (the profile refuses its
 * values, the CA has expired, or the CA process refused the request) gets
 * rc -2 with the reason in why; one the CA process could not sign for now
 * (down, or at its ceiling) rc -3, with ctx->ca_wait_until set; any other
 * failure rc -1 (why may say more).  What a failed attempt signed waits in
 * ctx->kept for the next attempt, which records it if still right
 * (job_kept.h), or is revoked before it returns (no kept set), or when the job
 * is resumed in KEYS.  The items must have their identities and rc 0.  A
 * line per certificate at level.
 */
void job_step_issue_many(struct job_ctx *ctx, struct job_item **items, size_t n,
    enum log_level level);

#endif
