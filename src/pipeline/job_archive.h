/*
 * job_archive.h - the archive step of a job.
 *
 * Owns: ISSUED -> ARCHIVED, and archiving one certificate's key, which
 * revoking asks for too.  Never: drops a key.
 */
#ifndef CERTSYNC_JOB_ARCHIVE_H
#define CERTSYNC_JOB_ARCHIVE_H

#include "pipeline/job_state.h"

/* Archives the key of row unless done already (or it has none in the
 * keystore), and records where it went in the store and in row.  0, or -1
 * after logging (the key stays where it was). */
int job_archive_key(struct job_ctx *ctx, struct cert_row *row);

/* The keys of the user's current certificates (active, or on hold), which
 * the new ones are about to supersede, all archived; then ARCHIVED.  0, or -1 after logging. */
int job_step_archive(struct job_ctx *ctx, struct job *job);

#endif
