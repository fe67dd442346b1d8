/*
 * job_archive.h - the archive step of a job.
 *
 * Owns: ISSUED -> ARCHIVED, and archiving one certificate's key, which
 * revoking asks for too.  Never: drops a key.
 */
#ifndef CERTSYNC_JOB_ARCHIVE_H
#define CERTSYNC_JOB_ARCHIVE_H

#include <stddef.h>

#include "pipeline/job_state.h"

/* Archives the key of row unless done already (or it has none in the
 * keystore), and records where it went in the store and in row.  0, or -1
 * after logging (the key stays where it was). */
int job_archive_key(struct job_ctx *ctx, struct cert_row *row);

/* The keys of each item's current certificates (active, or on hold),
 * which the new ones are about to supersede, all archived (read and sealed
 * on the workers, written with shared flushes); then ARCHIVED, one
 * transaction for the batch.  An item that fails gets rc -1. */
void job_step_archive_many(struct job_ctx *ctx, struct job_item **items, size_t n);

#endif
