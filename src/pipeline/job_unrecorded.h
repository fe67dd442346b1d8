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
	struct cert_row row;
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
 * few minutes' signatures to their own jobs); hand holds the n certificates
 * of an attempt that failed, whose keys are taken from there rather than
 * from the keystore. */
int job_recover_unrecorded_of(struct job_ctx *ctx, const char *uuid,
    const struct fresh *hand, size_t n);

#endif
