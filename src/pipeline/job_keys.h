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
 * the profile refuses (its values, an expired CA: nothing can be issued
 * until someone acts) gets rc -2 with the reason in why; any other failure
 * rc -1 (why may say more).  What a failed attempt signed is revoked
 * before it returns, or when the job is resumed in KEYS.  The items must
 * have their identities and rc 0.  A line per certificate at level.
 */
void job_step_issue_many(struct job_ctx *ctx, struct job_item **items, size_t n,
    enum log_level level);

#endif
