/*
 * job.h - a user's work as a durable state machine.
 *
 * Owns: the job states and the steps between them:
 *   PLANNED -> KEYS -> ISSUED -> ARCHIVED -> PUBLISHED -> REVOKED -> DONE
 * Unpublish and republish touch only the directory (no keys, no issuing,
 * no archive, nothing revoked):
 *   PLANNED -> PUBLISHED -> REVOKED -> DONE
 * the first step withdrawing (unpublish) or adding again (republish) the
 * user's active certificates, and recording that in the store's published
 * values, which is what reconcile's "published" count is read from.
 * A hold withdraws them the same way, then puts them on hold (keys
 * archived, kept in the keystore; certificateHold on the next CRL) in the
 * PUBLISHED -> REVOKED step.  A lift takes the hold off (PLANNED ->
 * ARCHIVED: the keys were archived when it was put on), then publishes the
 * same certificates again (ARCHIVED -> PUBLISHED; not for a user disabled
 * under on_disable = unpublish), and has nothing to revoke.
 * Each step is idempotent and commits its new state together with its
 * effects, so a restart resumes a job exactly where it stood.
 * Never: drops a key (a superseded key is archived, and the archive copy
 * recorded, before the keystore copy goes), revokes a certificate before
 * its successor is published, or removes a directory value it did not write.
 */
#ifndef CERTSYNC_JOB_H
#define CERTSYNC_JOB_H

#include "lib/uuid_set.h"
#include "pipeline/identity.h"
#include "pipeline/job_state.h"
#include "store/store.h"

/*
 * Records a job for uuid in state PLANNED, with the CRL reason its
 * superseded certificates will get, due at not_before (0: now).  A job in
 * KEYS is replanned in KEYS (an attempt may have signed certificates it did
 * not record; see job_recover_unrecorded).  A job further on is left to
 * finish (the runner reconciles the user again afterwards); returns 0.
 */
int job_plan(struct store *st, const char *uuid, enum job_action action,
    int reason, const char *why, int64_t not_before);

/*
 * Runs uuid's job from its current state to REVOKED.  Returns 0; -2 when
 * retrying cannot help (the profile refuses the user's values, the CA has
 * expired: someone must act): the job is parked with its reason, and is
 * not due again until store_job_unpark() (the user's entry changed,
 * certsyncd started or reloaded, certsyncctl retry); -3 when the CA
 * process could not sign now (down, restarting, or at its ceiling): the
 * job waits until ctx->ca_wait_until, no attempt counted; -1 after any
 * other failure: the job stays in its state, its next attempt put off
 * (exponential backoff), and is resumed later.
 */
int job_run(struct job_ctx *ctx, const char *uuid);

/*
 * job_run() for the n jobs of uuids at once, each step for all of them
 * together (one transaction, one flush of files per step); rcs[i] is what
 * job_run() would have returned for uuids[i].  Between steps it stops
 * when ctx->should_stop() says so: the jobs wait where they stand.
 */
void job_run_many(struct job_ctx *ctx, char *const *uuids, size_t n, int *rcs);

/* After a batch: rewrites the CRL if a revocation is not in one yet (or,
 * with ctx->crl_refresh, when crl_publish_due() says one is due), then
 * closes the REVOKED jobs (DONE: the row goes; the audit trail keeps the
 * history), adding their uuids to closed (may be NULL). */
int job_finish_batch(struct job_ctx *ctx, struct uuid_set *closed);

#endif
