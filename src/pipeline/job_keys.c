/*
 * job_keys.c - PLANNED -> KEYS -> ISSUED: new keys, certificates, keystore
 * files, and their rows recorded as pending.
 *
 * Owns: making the user's new certificates (a keypair each, the CA
 * process asked for all of them at once, the sign record of each as it
 * comes back, the keystore files) and their userSMIMECertificate value
 * (signed by the new signing key while it is in hand), and recording them
 * all at once with the job's next state.
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
#include "pki/keys.h"
#include "pki/keystore.h"
#include "pki/smime_value.h"

#define MAX_KINDS 2

/*
 * Turns what the CA process said into the step's result: a refusal is one
 * that retrying cannot mend (the profile refuses the user's values, or the
 * CA has expired: -2, why set); "not now" (the CA process is down, or at
 * its ceiling) makes the job wait, no attempt counted (-1, with
 * ctx->ca_wait_until set).
 */
static int
ca_failed(struct job_ctx *ctx, int rc, char *why, size_t whylen)
{
	snprintf(why, whylen, "%s", ca_client_error(ctx->ca));
	if (rc == CA_REFUSED)
		return -2;
	ctx->ca_wait_until = ca_client_retry_at(ctx->ca);
	if (ctx->ca_wait_until <= time(NULL))
		ctx->ca_wait_until = time(NULL) + 1;
	return -1;
}

/* Keypairs for the slots no earlier attempt filled: a failure here has
 * signed nothing.  Returns how many slots want one (their indexes in
 * todo), or -1 after logging. */
static int
make_keys(struct job_ctx *ctx, struct fresh *fresh, size_t n, size_t *todo)
{
	int k = 0;

	for (size_t i = 0; i < n; i++) {
		if (fresh[i].cert != NULL)
			continue;
		if ((fresh[i].key = keys_generate(&ctx->conf->certificates.key)) == NULL)
			return -1;
		todo[k++] = i;
	}
	return k;
}

/* The sign record of f, just back from the CA process: the store's own
 * record of what was signed, durable before anything else
 * (job_recover_unrecorded_of() finds it).  After a failed one (try 0) the
 * row alone is made: a locked store would make each wait its busy
 * timeout, and the certificate goes into the hold either way, whose next
 * attempt writes its sign record first (job_held.c).  0, or -1 after
 * logging. */
static int
sign_record(struct job_ctx *ctx, const struct identity *id, struct fresh *f,
    int try)
{
	if (certinfo_row(&f->row, id->uuid, address_list_join(&id->addresses), f->kind,
	    f->key, f->cert) == -1 || !try || job_sign_record(ctx->st, &f->row) == -1)
		return -1;
	f->sign_logged = 1;
	return 0;
}

/*
 * The slots of todo signed (k of them): every request in flight at once
 * (one batch, one fdatasync of the CA's audit log), each certificate's
 * sign record written as soon as it is back.  0, or ca_failed()'s -2 or
 * -1, or -1 after logging; what came back is in fresh[] either way (a
 * failed attempt keeps what it signed).
 */
static int
sign_all(struct job_ctx *ctx, const struct identity *id, struct fresh *fresh,
    const size_t *todo, size_t k, char *why, size_t whylen)
{
	char namebuf[2 * IDENTITY_NAME_MAX + 2];
	struct ca_issue_req req = { .addresses = &id->addresses, .user = id->uuid };
	uint64_t ids[MAX_KINDS];
	size_t sent = 0;
	int rc = CA_OK, got, fail = 0;

	identity_subject_vars(id, &req.vars, namebuf, sizeof(namebuf));
	for (; sent < k; sent++) {
		req.kind = fresh[todo[sent]].kind;
		req.key = fresh[todo[sent]].key;
		if ((rc = ca_client_submit_issue(ctx->ca, &req, &ids[sent])) != CA_OK)
			break;
	}
	/* Every request in flight is waited for: none may be left behind. */
	for (size_t i = 0; i < sent; i++) {
		struct fresh *f = &fresh[todo[i]];

		if ((got = ca_client_wait_cert(ctx->ca, ids[i], &f->cert)) != CA_OK) {
			rc = rc == CA_OK ? got : rc;
			continue;
		}
		if (sign_record(ctx, id, f, !fail) == -1)
			fail = 1;
	}
	if (rc != CA_OK)
		return ca_failed(ctx, rc, why, whylen);
	return fail ? -1 : 0;
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
	return keystore_save(ctx->conf, AREA_KEYSTORE, f->key, f->cert, ctx->ca_cert,
	    cert_kind_name(f->kind), friendly, &f->row.keystore_path);
}

/* What the adoption left empty, signed; then every key file written. */
static int
make_certs(struct job_ctx *ctx, const struct identity *id, struct fresh *fresh,
    size_t n, char *why, size_t whylen)
{
	size_t todo[MAX_KINDS];
	int k, rc;

	if ((k = make_keys(ctx, fresh, n, todo)) == -1)
		return -1;
	if (k > 0 && (rc = sign_all(ctx, id, fresh, todo, (size_t)k, why, whylen)) != 0)
		return rc;
	failpoint("issue-before-keystore");
	for (size_t i = 0; i < n; i++)
		if (save_key(ctx, id, &fresh[i]) != 0)
			return -1;
	return 0;
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
		.ca = ctx->ca_cert,
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
	if ((rc = make_certs(ctx, id, fresh, n, why, whylen)) != 0)
		goto done;
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
