/*
 * job_unrecorded.h - revoking what was signed but not recorded.
 *
 * Owns: the sign record's text, and the recovery of certificates a crash
 * or a failure left between their signature and their row: at the
 * runner's start, when a job is resumed in KEYS, and at once when an
 * attempt fails with certificates in hand.
 * Never: revokes a certificate the store records (those are the jobs').
 */
#ifndef CERTSYNC_JOB_UNRECORDED_H
#define CERTSYNC_JOB_UNRECORDED_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "pipeline/job_state.h"

/* A certificate an attempt has just made, while it holds it: its kind, the
 * new keypair, the signed certificate and its (pending) row. */
struct fresh {
	enum cert_kind kind;
	EVP_PKEY *key;
	X509 *cert;
	struct cert_row row;       /* row.keystore_path: its key file is written */
	int sign_logged;           /* its sign record is in the audit trail */
	int adopted;               /* signed by an earlier attempt, not this one */
};

/* Appends the sign record of row (a certificate just signed, not yet
 * recorded) to the audit trail.  0, or -1 after logging. */
int job_sign_record(struct store *st, const struct cert_row *row);

/*
 * Every certificate the CA signed (its "sign" audit record) that the store
 * does not know, left by a crash or a failure between signing and
 * recording: each is recorded and revoked as superseded in one
 * transaction, its key archived first (and then taken out of the
 * keystore), or with only what the sign record says if its key file was
 * never written.  One log line and audit record each.  For the runner's
 * start; job_run() does the same for its user when it resumes a job in
 * KEYS.  Returns 0, or -1 after logging (the others are still done).
 */
int job_recover_unrecorded(struct job_ctx *ctx);

/* The same for uuid's certificates alone (NULL: anyone's, leaving the last
 * few minutes' signatures, and the users whose job is in KEYS, to their own
 * jobs: those adopt what is still right, see job_kept.h); hand holds the n
 * certificates of an attempt that failed, whose keys are taken from there
 * rather than from the keystore. */
int job_recover_unrecorded_of(struct job_ctx *ctx, const char *uuid,
    const struct fresh *hand, size_t n);

/* One unrecorded certificate u recorded, archived (with hand's key, or its
 * keystore file's) and revoked, as above.  0, or -1 after logging. */
int job_unrecorded_revoke(struct job_ctx *ctx, const struct unrecorded_row *u,
    const struct fresh *hand);

/* The keystore file of unrecorded certificate u, read back into out (its
 * kind, key, certificate and a pending row naming the file; free with
 * job_fresh_free): 1, 0 if it was never written, -1 after logging (it
 * cannot be read, or the sign record does not say what it was). */
int job_unrecorded_load(struct job_ctx *ctx, const struct unrecorded_row *u,
    struct fresh *out);

void job_fresh_free(struct fresh *f);

#endif
