/*
 * job_kept.h - a failed attempt's certificates, kept for the next one.
 *
 * Owns: what an attempt of the keys step signed and could not record (the
 * store full or locked, the keystore file not written): the runner keeps
 * each one in memory (struct kept_certs), and the job's next attempt
 * records it instead of signing again, when it is still right for the
 * user's identity; a crash leaves the sign record and, if written, the key
 * file, which the next attempt reads back the same way.  What is no longer
 * right (the user's addresses changed meanwhile, the CA, the profile) is
 * revoked, its key archived.
 * Never: adopts a certificate the profile would not issue now for this
 * identity, or two of one kind; drops a key it holds while its
 * certificate is unrecorded (a full kept set revokes at once instead).
 */
#ifndef CERTSYNC_JOB_KEPT_H
#define CERTSYNC_JOB_KEPT_H

#include <stddef.h>

#include "pipeline/identity.h"
#include "pipeline/job_state.h"
#include "pipeline/job_unrecorded.h"

/* The runner's kept set; free with kept_free (the keys go with it). */
struct kept_certs *kept_new(void);
void kept_free(struct kept_certs *h);

/*
 * Fills the empty slots of fresh (n of them, each with its kind set) with
 * the user's unrecorded certificates still right for id (kept in memory,
 * or read back from their keystore files), newest first; revokes the
 * others.  0, or -1 after logging (what it holds is kept).
 */
int job_adopt_unrecorded(struct job_ctx *ctx, const struct identity *id,
    struct fresh *fresh, size_t n);

/*
 * After a failed attempt: the certificates it signed (or adopted) and did
 * not record go into ctx's kept set, for the next attempt; with no kept set
 * (certsyncctl) or a full one, they are revoked now, while the keys are in
 * hand.  The slots are emptied.
 */
void job_keep_unrecorded(struct job_ctx *ctx, const char *uuid,
    struct fresh *fresh, size_t n);

#endif
