/*
 * leftovers.h - what a kill leaves in certsync's directories.
 *
 * Owns: the sweep the runner makes before its first job.  Never: removes a
 * file the store does not account for, or one being written.
 */
#ifndef CERTSYNC_LEFTOVERS_H
#define CERTSYNC_LEFTOVERS_H

#include "pipeline/job_state.h"

/*
 * Removes the temporary files of atomic writes whose writer is gone (in
 * the keystore, archive, CRL and CA directories) and the keystore files of
 * revoked certificates whose keys are archived; logs one line naming the
 * keystore files the store knows nothing of (left alone).  Logs what it
 * removes; a failure is logged and skipped.
 */
void leftovers_sweep(struct job_ctx *ctx);

#endif
