/*
 * job_keys.c - PLANNED -> KEYS -> ISSUED: new keys, certificates, keystore
 * files, and their rows recorded as pending.
 *
 * Owns: making the user's new certificates (a keypair each, the profile
 * filled in, the CA's signature, the sign record, the keystore file) and
 * their userSMIMECertificate value (signed by the new signing key while it
 * is in hand), and recording them all at once with the job's next state.
 * KEYS marks an attempt that may have signed: a resumed job looks for what
 * it signed and did not record before it does anything else, and records
 * what is still right rather than signing again (job_held.c).
 * Never: records a certificate without its key file, or lets a certificate
 * it signed go unaccounted for (the sign record comes first).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/failpoint.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "pipeline/job_held.h"
#include "pipeline/job_keys.h"
#include "pipeline/job_unrecorded.h"
#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/keys.h"
#include "pki/keystore.h"
#include "pki/smime_value.h"

#define MAX_KINDS 2

/* A new keypair and its signed certificate, with its sign record.  f->cert
 * is set only once signed (a failed attempt keeps what it signed).  0, or
 * issue_build()'s -2 or -1 (why set as it says), or -1 after logging. */
static int
make_cert(struct job_ctx *ctx, const struct identity *id, struct fresh *f,
    char *why, size_t whylen)
{
	char namebuf[2 * IDENTITY_NAME_MAX + 2];
	struct issue_request req = {
		.kind = f->kind,
		.addresses = &id->addresses,
		.now = time(NULL),
	};
	X509 *cert = NULL;
	int rc;

	identity_subject_vars(id, &req.vars, namebuf, sizeof(namebuf));
	if ((f->key = keys_generate(&ctx->conf->certificates.key)) == NULL)
		return -1;
	req.key = f->key;
	if ((rc = issue_build(ctx->conf, signer_ca(ctx->signer), &req, &cert, why,
	    whylen)) != 0)
		return rc;
	if (signer_sign_cert(ctx->signer, cert) == -1) {
		X509_free(cert);
		return -1;
	}
	f->cert = cert;
	if (certinfo_row(&f->row, id->uuid, address_list_join(&id->addresses), f->kind,
	    f->key, f->cert) == -1)
		return -1;
	/* The CA's own record of what it signed, durable before anything else:
	 * a crash before the row is written leaves the serial accounted for
	 * (job_recover_unrecorded_of() finds it). */
	if (job_sign_record(ctx->st, &f->row) == -1)
		return -1;
	f->sign_logged = 1;
	failpoint("issue-before-keystore");
	return 0;
}

/* The key file of a certificate made (or held) without one yet. */
static int
save_key(struct job_ctx *ctx, const struct identity *id, struct fresh *f)
{
	char friendly[256];

	if (f->row.keystore_path != NULL)
		return 0;
	snprintf(friendly, sizeof(friendly), "%s (%s) %s", id->addresses.v[0],
	    cert_kind_name(f->kind), f->row.serial);
	return keystore_save(ctx->conf, AREA_KEYSTORE, f->key, f->cert,
	    signer_ca(ctx->signer), cert_kind_name(f->kind), friendly,
	    &f->row.keystore_path);
}

/*
 * The userSMIMECertificate value of the n certificates in fresh (the
 * signing or dual one first, the encryption one last), signed by the new
 * signing key now, while it is in memory: publishing, and republishing
 * after a restart or a hold, then writes it as recorded, without a
 * PKCS#12 to open.  0 and *der (caller frees), or -1 after logging.
 */
static int
make_smime(struct job_ctx *ctx, const struct fresh *fresh, size_t n,
    unsigned char **der, size_t *len)
{
	struct smime_parts parts = {
		.sign_key = fresh[0].key,
		.sign_cert = fresh[0].cert,
		.enc_cert = fresh[n - 1].cert,
		.ca = signer_ca(ctx->signer),
		.now = time(NULL),
	};

	return smime_value_signed(&parts, der, len);
}

/* The new certificates recorded as pending, with their S/MIME value (kept
 * with the first, the signing or dual one) and ISSUED, in one
 * transaction.  0, or -1 after logging. */
static int
record_issued(struct job_ctx *ctx, struct job *job, const struct identity *id,
    struct fresh *fresh, size_t n, const unsigned char *smime, size_t smime_len)
{
	if (store_begin(ctx->st) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		store_cert_insert(ctx->st, &fresh[i].row);
		store_audit(ctx->st, "issue", id->uuid, fresh[i].row.serial,
		    "%s certificate for %s, subject %s, key in %s%s",
		    cert_kind_name(fresh[i].kind), fresh[i].row.addresses,
		    fresh[i].row.subject, fresh[i].row.keystore_path, fresh[i].adopted ?
		    " (signed by an earlier attempt that could not record it)" : "");
	}
	store_cert_smime_put(ctx->st, fresh[0].row.id, smime, smime_len);
	job_set_state(ctx->st, job, JOB_ISSUED);
	if (store_commit(ctx->st) == -1)
		return -1;
	metrics_add(M_ISSUED, (int64_t)n);
	for (size_t i = 0; i < n; i++)
		log_notice("user %s: issued %s certificate %s for %s%s", id->uuid,
		    cert_kind_name(fresh[i].kind), fresh[i].row.serial,
		    fresh[i].row.addresses, fresh[i].adopted ?
		    " (signed by an earlier attempt, recorded now)" : "");
	return 0;
}

int
job_step_issue(struct job_ctx *ctx, struct job *job, const struct identity *id,
    char *why, size_t whylen)
{
	struct fresh fresh[MAX_KINDS];
	size_t n = ctx->conf->certificates.mode == CERT_MODE_DUAL ? 1 : 2;
	unsigned char *smime = NULL;
	size_t smime_len = 0;
	int rc = -1;

	memset(fresh, 0, sizeof(fresh));
	fresh[0].kind = n == 1 ? CERT_KIND_DUAL : CERT_KIND_SIGNING;
	fresh[1].kind = CERT_KIND_ENCRYPTION;
	/* Already KEYS: a retry; nothing to write (the store may be full). */
	if (job->state != JOB_KEYS && job_set_state(ctx->st, job, JOB_KEYS) == -1)
		return -1;
	failpoint("after-KEYS");
	/* What an earlier attempt signed and did not record first: recorded
	 * now if still right, else revoked; then only the rest is signed. */
	if (job_adopt_unrecorded(ctx, id, fresh, n) == -1)
		goto done;
	for (size_t i = 0; i < n; i++) {
		if (fresh[i].cert == NULL &&
		    (rc = make_cert(ctx, id, &fresh[i], why, whylen)) != 0)
			goto done;
		if ((rc = save_key(ctx, id, &fresh[i])) != 0)
			goto done;
	}
	/* Adopted or new, every key is in hand: the value can be signed. */
	if ((rc = make_smime(ctx, fresh, n, &smime, &smime_len)) != 0)
		goto done;
	/* Rows without key files would be harmful: the files come first.  A
	 * crash here leaves files and sign records without rows, which the
	 * job's next attempt records (or the next start revokes, if the job
	 * no longer issues). */
	failpoint("issue-before-record");
	rc = record_issued(ctx, job, id, fresh, n, smime, smime_len);
done:
	/* A failed attempt's certificates wait for the next one (in the
	 * runner's hold), or are revoked now (certsyncctl). */
	if (rc != 0)
		job_keep_unrecorded(ctx, id->uuid, fresh, n);
	for (size_t i = 0; i < n; i++)
		job_fresh_free(&fresh[i]);
	free(smime);
	return rc;
}
