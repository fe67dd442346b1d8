/*
 * job_publish.h - the publish step of a job.
 *
 * Owns: ARCHIVED -> PUBLISHED for new certificates, and PLANNED ->
 * PUBLISHED for unpublish and republish, which touch only the directory
 * (no keys, no issuing, no archive, nothing revoked).
 * Never: removes a directory value it did not write.
 */
#ifndef CERTSYNC_JOB_PUBLISH_H
#define CERTSYNC_JOB_PUBLISH_H

#include "pipeline/job_state.h"

/* The entry at dn (NULL, or no publisher: nothing to write to) shows the
 * user's pending certificates, now active, and none of the others; the
 * current ones (active, or on hold) are now superseded; then PUBLISHED.  0, or -1 after logging. */
int job_step_publish(struct job_ctx *ctx, struct job *job, const char *dn);

/* Unpublish (publish 0): the entry no longer shows the user's active
 * certificates (nor our S/MIME value); they stay active, their keys in
 * the keystore.  Republish (publish 1): it shows them again.  Either way
 * the store's published values follow; then PUBLISHED.  0, or -1. */
int job_step_flip(struct job_ctx *ctx, struct job *job, const char *dn, int publish);

#endif
