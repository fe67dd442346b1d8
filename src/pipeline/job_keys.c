/*
 * job_keys.c - PLANNED -> KEYS -> ISSUED: new keys, certificates, keystore
 * files, and their rows recorded as pending, for a batch of jobs at once.
 *
 * Owns: making the users' new certificates (a keypair each, from the key
 * pool or made on the workers; the profile filled in on the workers; the
 * CA's signatures, asked for all at once; the sign records; the keystore
 * files) and their userSMIMECertificate values (signed by each new signing
 * key while it is in hand), and recording them with the jobs' next state.
 * Each phase does the whole batch, and each durable mark is one
 * transaction or one flush for all of it: KEYS, the sign records, the
 * files, the rows.  KEYS marks an attempt that may have signed: a resumed
 * job looks for what it signed and did not record before it does anything
 * else.
 * Never: records a certificate without its key file, or lets a certificate
 * it signed go unaccounted for (the sign records come first).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/failpoint.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/workers.h"
#include "pipeline/job_keys.h"
#include "pipeline/job_unrecorded.h"
#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/keypool.h"
#include "pki/keys.h"
#include "pki/keystore.h"
#include "pki/smime_value.h"

#define MAX_KINDS 2

/* One job's issue. */
struct issue {
	struct job_item *it;
	struct fresh fresh[MAX_KINDS];
	size_t n;                   /* certificates: 1 dual, 2 separate */
	int signed_any;             /* the CA signed some: a failure revokes */
	int is_signed[MAX_KINDS];   /* per certificate */
	int build_rc[MAX_KINDS];    /* issue_build()'s, per certificate */
	char build_why[MAX_KINDS][256];
	unsigned char *smime;
	size_t smime_len;
};

/* The batch, as the workers see it. */
struct issues {
	struct job_ctx *ctx;
	struct issue *v;
	size_t n;
};

static int
going(const struct issue *is)
{
	return is->it->rc == 0;
}

/* A failure after the CA signed: what it signed is revoked now, while the
 * keys are in hand (failing that, when the job is resumed in KEYS). */
static void
fail(struct job_ctx *ctx, struct issue *is, int rc, const char *why)
{
	job_item_fail(is->it, rc, why);
	if (is->signed_any)
		job_recover_unrecorded_of(ctx, is->it->job.uuid, is->fresh, is->n);
	is->signed_any = 0;
}

/* ---- KEYS ------------------------------------------------------------------------ */

/* Every job of the batch in KEYS, in one transaction.  0, or -1. */
static int
mark_keys(struct job_ctx *ctx, struct issues *b)
{
	if (store_begin(ctx->st) == -1)
		return -1;
	for (size_t i = 0; i < b->n; i++)
		job_set_state(ctx->st, &b->v[i].it->job, JOB_KEYS);
	if (store_commit(ctx->st) == -1)
		return -1;
	failpoint("after-KEYS");
	return 0;
}

/* ---- keypairs -------------------------------------------------------------------- */

static void
keygen_one(void *arg, size_t k)
{
	struct issues *b = arg;
	struct issue *is = &b->v[k / MAX_KINDS];
	struct fresh *f = &is->fresh[k % MAX_KINDS];

	if (k % MAX_KINDS < is->n && f->key == NULL)
		f->key = keys_generate(&b->ctx->conf->certificates.key);
}

/* A keypair per certificate: the pool's first, the rest made on the
 * workers.  A job without its keys fails (nothing signed yet). */
static void
make_keys(struct issues *b)
{
	for (size_t i = 0; i < b->n; i++)
		for (size_t k = 0; k < b->v[i].n; k++)
			b->v[i].fresh[k].key = keypool_take(b->ctx->keypool);
	workers_map(b->ctx->workers, b->n * MAX_KINDS, keygen_one, b);
	for (size_t i = 0; i < b->n; i++)
		for (size_t k = 0; k < b->v[i].n; k++)
			if (b->v[i].fresh[k].key == NULL)
				job_item_fail(b->v[i].it, -1, "cannot generate a key");
}

/* ---- certificates ------------------------------------------------------------------ */

/* On a worker: certificate k of the batch built from the profile. */
static void
build_one(void *arg, size_t k)
{
	struct issues *b = arg;
	struct issue *is = &b->v[k / MAX_KINDS];
	size_t c = k % MAX_KINDS;
	char namebuf[2 * IDENTITY_NAME_MAX + 2];
	struct issue_request req = {
		.kind = is->fresh[c].kind,
		.addresses = &is->it->id.addresses,
		.key = is->fresh[c].key,
		.now = time(NULL),
	};

	if (c >= is->n || !going(is))
		return;
	identity_subject_vars(&is->it->id, &req.vars, namebuf, sizeof(namebuf));
	is->build_rc[c] = issue_build(b->ctx->conf, signer_ca(b->ctx->signer), &req,
	    &is->fresh[c].cert, is->build_why[c], sizeof(is->build_why[c]));
}

/* Every certificate built; a job the profile refuses is parked (-2) or
 * failed, before anything of it is signed. */
static void
build_certs(struct issues *b)
{
	workers_map(b->ctx->workers, b->n * MAX_KINDS, build_one, b);
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++)
			if (b->v[i].build_rc[c] != 0)
				job_item_fail(b->v[i].it, b->v[i].build_rc[c],
				    b->v[i].build_why[c]);
}

/* On a worker: certificate k's row, from the signed certificate (of a
 * failed job too: what it signed is recorded, then revoked). */
static void
row_one(void *arg, size_t k)
{
	struct issues *b = arg;
	struct issue *is = &b->v[k / MAX_KINDS];
	struct fresh *f = &is->fresh[k % MAX_KINDS];

	if (k % MAX_KINDS >= is->n || !is->is_signed[k % MAX_KINDS])
		return;
	if (certinfo_row(&f->row, is->it->id.uuid,
	    address_list_join(&is->it->id.addresses), f->kind, f->key, f->cert) == -1) {
		cert_row_free(&f->row);
		is->is_signed[k % MAX_KINDS] = 0;	/* cannot be recorded */
	}
}

/*
 * The CA's signatures, asked for the whole batch at once through the one
 * door (signer_sign_certs: the key in memory signs on every core; a CA
 * process would have every request in flight), then the rows made on
 * the workers.  A job with a certificate the CA did not sign fails (what
 * it did sign is revoked once its sign record is written).
 */
static void
sign_certs(struct job_ctx *ctx, struct issues *b)
{
	X509 **certs = calloc(b->n * MAX_KINDS + 1, sizeof(*certs));
	int *rcs = calloc(b->n * MAX_KINDS + 1, sizeof(*rcs));

	if (certs == NULL || rcs == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++)
			certs[i * MAX_KINDS + c] = b->v[i].fresh[c].cert;
	signer_sign_certs(ctx->signer, ctx->workers, certs, b->n * MAX_KINDS, rcs);
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n; c++) {
			if (certs[i * MAX_KINDS + c] == NULL)
				continue;
			if (rcs[i * MAX_KINDS + c] == 0)
				b->v[i].is_signed[c] = b->v[i].signed_any = 1;
			else
				job_item_fail(b->v[i].it, -1, "the CA did not sign");
		}
	free(certs);
	free(rcs);
	workers_map(ctx->workers, b->n * MAX_KINDS, row_one, b);
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++)
			if (!b->v[i].is_signed[c])
				job_item_fail(b->v[i].it, -1, "cannot read a signed certificate");
}

/*
 * The CA's own record of what it signed, durable before anything else: a
 * crash before the rows are written leaves each serial accounted for
 * (job_recover_unrecorded_of() finds it).  One transaction for the batch,
 * for every certificate signed, a failed job's too, which is then revoked
 * at once.  When the transaction fails, every job of the batch fails.
 */
static void
record_signs(struct job_ctx *ctx, struct issues *b)
{
	int ok = store_begin(ctx->st) == 0;

	for (size_t i = 0; ok && i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n; c++)
			if (b->v[i].is_signed[c])
				job_sign_record(ctx->st, &b->v[i].fresh[c].row);
	ok = ok && store_commit(ctx->st) == 0;
	for (size_t i = 0; i < b->n; i++) {
		if (!ok)
			job_item_fail(b->v[i].it, -1, "the sign records could not be written");
		if (!going(&b->v[i]) && b->v[i].signed_any)
			fail(ctx, &b->v[i], -1, NULL);
	}
	if (ok)
		failpoint("issue-before-keystore");
}

/* ---- files and values -------------------------------------------------------------- */

/* The keystore files of the batch, with one flush for all of them. */
static void
save_files(struct job_ctx *ctx, struct issues *b)
{
	struct keystore_item *v = calloc(b->n * MAX_KINDS + 1, sizeof(*v));
	char (*friendly)[256] = calloc(b->n * MAX_KINDS + 1, sizeof(*friendly));
	size_t k = 0;

	if (v == NULL || friendly == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++) {
			struct fresh *f = &b->v[i].fresh[c];

			snprintf(friendly[k], sizeof(friendly[k]), "%s (%s) %s",
			    b->v[i].it->id.addresses.v[0], cert_kind_name(f->kind),
			    f->row.serial);
			v[k] = (struct keystore_item){ f->key, f->cert,
			    cert_kind_name(f->kind), friendly[k], NULL, -1 };
			k++;
		}
	keystore_save_many(ctx->keystore, ctx->workers, signer_ca(ctx->signer), v, k);
	k = 0;
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++, k++) {
			b->v[i].fresh[c].row.keystore_path = v[k].path;
			if (v[k].rc != 0)
				fail(ctx, &b->v[i], -1, "a key file could not be written");
		}
	free(v);
	free(friendly);
}

/*
 * On a worker: job i's userSMIMECertificate value (the signing or dual
 * certificate first, the encryption one last), signed by the new signing
 * key now, while it is in memory: publishing, and republishing after a
 * restart or a hold, then writes it as recorded, without a PKCS#12 to open.
 */
static void
smime_one(void *arg, size_t i)
{
	struct issues *b = arg;
	struct issue *is = &b->v[i];
	struct smime_parts parts = {
		.sign_key = is->fresh[0].key,
		.sign_cert = is->fresh[0].cert,
		.enc_cert = is->fresh[is->n - 1].cert,
		.ca = signer_ca(b->ctx->signer),
		.now = time(NULL),
	};

	if (going(is) && smime_value_signed(&parts, &is->smime, &is->smime_len) == -1)
		is->smime = NULL;
}

static void
make_smimes(struct job_ctx *ctx, struct issues *b)
{
	workers_map(ctx->workers, b->n, smime_one, b);
	for (size_t i = 0; i < b->n; i++)
		if (going(&b->v[i]) && b->v[i].smime == NULL)
			fail(ctx, &b->v[i], -1, "the S/MIME value could not be made");
}

/* ---- the rows ----------------------------------------------------------------------- */

/* Job is's certificates, their S/MIME value (kept with the first, the
 * signing or dual one) and ISSUED, inside the batch's transaction. */
static void
record_one(struct job_ctx *ctx, struct issue *is)
{
	const char *uuid = is->it->id.uuid;

	for (size_t c = 0; c < is->n; c++) {
		struct cert_row *r = &is->fresh[c].row;

		store_cert_insert(ctx->st, r);
		store_audit(ctx->st, "issue", uuid, r->serial, "%s certificate for %s, "
		    "subject %s", cert_kind_name(r->kind), r->addresses, r->subject);
	}
	store_cert_smime_put(ctx->st, is->fresh[0].row.id, is->smime, is->smime_len);
	job_set_state(ctx->st, &is->it->job, JOB_ISSUED);
}

/* Rows without key files would be harmful: the files came first.  A crash
 * before this commit leaves files and sign records without rows, which
 * the next start (or resumption in KEYS) records and revokes. */
static void
record_issued(struct job_ctx *ctx, struct issues *b, enum log_level level)
{
	int ok;

	failpoint("issue-before-record");
	if ((ok = store_begin(ctx->st) == 0)) {
		for (size_t i = 0; i < b->n; i++)
			if (going(&b->v[i]))
				record_one(ctx, &b->v[i]);
		ok = store_commit(ctx->st) == 0;
	}
	for (size_t i = 0; i < b->n; i++) {
		struct issue *is = &b->v[i];

		if (!going(is))
			continue;
		if (!ok) {
			fail(ctx, is, -1, "the certificates could not be recorded");
			continue;
		}
		is->signed_any = 0;	/* recorded: the job's own now */
		metrics_add(M_ISSUED, (int64_t)is->n);
		for (size_t c = 0; c < is->n; c++)
			log_at(level, "user %s: issued %s certificate %s for %s", is->it->id.uuid,
			    cert_kind_name(is->fresh[c].kind), is->fresh[c].row.serial,
			    is->fresh[c].row.addresses);
	}
}

/* ---- the step ------------------------------------------------------------------------ */

static void
issues_init(struct job_ctx *ctx, struct issues *b, struct job_item **items, size_t n)
{
	size_t kinds = ctx->conf->certificates.mode == CERT_MODE_DUAL ? 1 : 2;

	b->ctx = ctx;
	b->n = n;
	if ((b->v = calloc(n ? n : 1, sizeof(*b->v))) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++) {
		b->v[i].it = items[i];
		b->v[i].n = kinds;
		b->v[i].fresh[0].kind = kinds == 1 ? CERT_KIND_DUAL : CERT_KIND_SIGNING;
		b->v[i].fresh[1].kind = CERT_KIND_ENCRYPTION;
	}
}

static void
issues_free(struct issues *b)
{
	for (size_t i = 0; i < b->n; i++) {
		for (size_t c = 0; c < MAX_KINDS; c++) {
			EVP_PKEY_free(b->v[i].fresh[c].key);
			X509_free(b->v[i].fresh[c].cert);
			cert_row_free(&b->v[i].fresh[c].row);
		}
		free(b->v[i].smime);
	}
	free(b->v);
}

void
job_step_issue_many(struct job_ctx *ctx, struct job_item **items, size_t n,
    enum log_level level)
{
	struct issues b;

	if (n == 0)
		return;
	issues_init(ctx, &b, items, n);
	if (mark_keys(ctx, &b) == -1) {
		for (size_t i = 0; i < n; i++)
			job_item_fail(items[i], -1, NULL);
		issues_free(&b);
		return;
	}
	make_keys(&b);
	build_certs(&b);
	sign_certs(ctx, &b);
	record_signs(ctx, &b);
	save_files(ctx, &b);
	make_smimes(ctx, &b);
	record_issued(ctx, &b, level);
	issues_free(&b);
}
