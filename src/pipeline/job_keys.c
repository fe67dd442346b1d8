/*
 * job_keys.c - PLANNED -> KEYS -> ISSUED: new keys, certificates, keystore
 * files, and their rows recorded as pending, for a batch of jobs at once.
 *
 * Owns: making the users' new certificates (a keypair each, from the key
 * pool or made on the workers; the CA process asked for the whole batch at
 * once, every request in flight; the sign records; the keystore files) and their userSMIMECertificate values (signed by each new signing
 * key while it is in hand), and recording them with the jobs' next state.
 * Each phase does the whole batch, and each durable mark is one
 * transaction or one flush for all of it: KEYS, the sign records, the
 * files, the rows.  KEYS marks an attempt that may have signed: a resumed
 * job first records what an earlier attempt signed and left that is still
 * right, instead of signing again (job_kept.c), and a failed attempt's
 * certificates wait in the runner's kept set for the next one.
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
#include "pipeline/job_kept.h"
#include "pipeline/job_keys.h"
#include "pipeline/job_unrecorded.h"
#include "pki/certinfo.h"
#include "pki/keypool.h"
#include "pki/keys.h"
#include "pki/keystore.h"
#include "pki/smime_value.h"

#define MAX_KINDS 2
#define KEY_WAIT_MS 10000       /* the longest wait for a hurried pool's key */

/* One job's issue.  A slot of fresh holds a certificate once it is signed
 * (by this attempt, or adopted from an earlier one). */
struct issue {
	struct job_item *it;
	struct fresh fresh[MAX_KINDS];
	size_t n;                   /* certificates: 1 dual, 2 separate */
	int resumed;                /* the job was in KEYS: an attempt signed */
	char names[2 * IDENTITY_NAME_MAX + 2];	/* the subject's variables */
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

/* A slot to fill in this attempt: not adopted, not yet signed. */
static int
to_make(const struct issue *is, size_t c)
{
	return c < is->n && is->fresh[c].cert == NULL;
}

/* A failure: what the attempt signed (or adopted) and did not record waits
 * in the runner's kept set for the next attempt, or is revoked now, with the
 * keys in hand (job_keep_unrecorded). */
static void
fail(struct job_ctx *ctx, struct issue *is, int rc, const char *why)
{
	if (going(is))
		job_item_fail(is->it, rc, why);
	job_keep_unrecorded(ctx, is->it->id.uuid, is->fresh, is->n);
}

/* ---- KEYS, and what an earlier attempt left ------------------------------------ */

/* The jobs not in KEYS yet moved there, in one transaction (a retry in
 * KEYS writes nothing: the store may be full).  0, or -1. */
static int
mark_keys(struct job_ctx *ctx, struct issues *b)
{
	size_t marks = 0;

	for (size_t i = 0; i < b->n; i++)
		marks += !b->v[i].resumed;
	if (marks > 0) {
		if (store_begin(ctx->st) == -1)
			return -1;
		for (size_t i = 0; i < b->n; i++)
			if (!b->v[i].resumed)
				job_set_state(ctx->st, &b->v[i].it->job, JOB_KEYS);
		if (store_commit(ctx->st) == -1)
			return -1;
	}
	failpoint("after-KEYS");
	return 0;
}

/* A resumed job's slots filled with what it signed and left, if still
 * right for the user (the rest revoked): then only the rest is signed. */
static void
adopt(struct job_ctx *ctx, struct issues *b)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->v[i].resumed &&
		    job_adopt_unrecorded(ctx, &b->v[i].it->id, b->v[i].fresh, b->v[i].n) == -1)
			job_item_fail(b->v[i].it, -1, NULL);
}

/* ---- keypairs -------------------------------------------------------------------- */

static void
keygen_one(void *arg, size_t k)
{
	struct issues *b = arg;
	struct issue *is = &b->v[k / MAX_KINDS];
	struct fresh *f = &is->fresh[k % MAX_KINDS];

	if (to_make(is, k % MAX_KINDS) && going(is) && f->key == NULL)
		f->key = keys_generate(&b->ctx->conf->certificates.key);
}

/* A keypair per certificate to make: the pool's first, the rest made on
 * the workers.  While the pool is hurried (a backlog of RSA jobs: its
 * threads make keys continuously, one per core), its next keys are waited
 * for instead: the cores are already making them, and the workers would
 * only crowd them.  One wait that runs out (a broken or starved pool) ends
 * the waiting: the workers make the rest.  A job without its keys fails
 * (nothing signed yet). */
static void
make_keys(struct issues *b)
{
	int wait = keypool_hurried(b->ctx->keypool);

	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n; c++) {
			struct fresh *f = &b->v[i].fresh[c];

			if (!to_make(&b->v[i], c) || !going(&b->v[i]))
				continue;
			f->key = wait ? keypool_take_wait(b->ctx->keypool, KEY_WAIT_MS) :
			    keypool_take(b->ctx->keypool);
			wait = wait && f->key != NULL;
		}
	workers_map(b->ctx->workers, b->n * MAX_KINDS, keygen_one, b);
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++)
			if (b->v[i].fresh[c].key == NULL)
				job_item_fail(b->v[i].it, -1, NULL);	/* logged */
}

/* ---- certificates ------------------------------------------------------------------ */

/* On a worker: certificate k's row, from the certificate this attempt
 * signed (of a failed job too: what it signed is recorded, then kept or
 * revoked). */
static void
row_one(void *arg, size_t k)
{
	struct issues *b = arg;
	struct issue *is = &b->v[k / MAX_KINDS];
	struct fresh *f = &is->fresh[k % MAX_KINDS];

	if (k % MAX_KINDS >= is->n || f->cert == NULL || f->adopted ||
	    f->row.serial != NULL)
		return;
	if (certinfo_row(&f->row, is->it->id.uuid,
	    address_list_join(&is->it->id.addresses), f->kind, f->key, f->cert) == -1)
		cert_row_free(&f->row);
}

/*
 * What the CA process said of one request, for its job: a refusal is one
 * retrying cannot mend (the profile refuses the user's values, or the CA
 * has expired: -2, parked); "not now" (the CA process is down, or at its
 * ceiling) makes the job wait, no attempt counted (-3, ctx->ca_wait_until
 * set).
 */
static void
ca_result(struct job_ctx *ctx, struct issue *is, int rc, const char *why)
{
	time_t at;

	if (rc == CA_REFUSED) {
		job_item_fail(is->it, -2, why);
		return;
	}
	if ((at = ca_client_retry_at(ctx->ca)) <= time(NULL))
		at = time(NULL) + 1;
	if (ctx->ca_wait_until < at)
		ctx->ca_wait_until = at;
	job_item_fail(is->it, -3, why);
}

/* The batch's requests: one per slot to make of each job still going; the
 * slot of each in slots[], its job in owners[].  Returns how many. */
static size_t
requests(struct issues *b, struct ca_issue_req *reqs, struct fresh **slots,
    struct issue **owners)
{
	size_t k = 0;

	for (size_t i = 0; i < b->n; i++) {
		struct issue *is = &b->v[i];
		struct ca_issue_req base = { .addresses = &is->it->id.addresses,
		    .user = is->it->id.uuid };

		if (!going(is))
			continue;
		identity_subject_vars(&is->it->id, &base.vars, is->names, sizeof(is->names));
		for (size_t c = 0; c < is->n; c++)
			if (to_make(is, c)) {
				reqs[k] = base;
				reqs[k].kind = is->fresh[c].kind;
				reqs[k].key = is->fresh[c].key;
				slots[k] = &is->fresh[c];
				owners[k++] = is;
			}
	}
	return k;
}

/*
 * The CA's signatures, asked of the CA process for the whole batch at once
 * through the one door (ca_client_issue_many: every request in flight, the
 * CA process answers what has arrived with one flush of its audit log),
 * then the rows made on the workers.  A job with a certificate the CA
 * process did not sign fails (what it did sign is kept: record_signs).
 */
static void
sign_certs(struct job_ctx *ctx, struct issues *b)
{
	size_t max = b->n * MAX_KINDS + 1, k;
	struct ca_issue_req *reqs = calloc(max, sizeof(*reqs));
	struct fresh **slots = calloc(max, sizeof(*slots));
	struct issue **owners = calloc(max, sizeof(*owners));
	X509 **certs = calloc(max, sizeof(*certs));
	int *rcs = calloc(max, sizeof(*rcs));
	char (*why)[256] = calloc(max, sizeof(*why));

	if (reqs == NULL || slots == NULL || owners == NULL || certs == NULL ||
	    rcs == NULL || why == NULL)
		fatal("out of memory");
	k = requests(b, reqs, slots, owners);
	ca_client_issue_many(ctx->ca, ctx->workers, reqs, k, certs, rcs, why);
	for (size_t j = 0; j < k; j++) {
		if (rcs[j] == CA_OK)
			slots[j]->cert = certs[j];	/* signed now */
		else if (going(owners[j]))
			ca_result(ctx, owners[j], rcs[j], why[j]);
	}
	free(reqs);
	free(slots);
	free(owners);
	free(certs);
	free(rcs);
	free(why);
	workers_map(ctx->workers, b->n * MAX_KINDS, row_one, b);
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++)
			if (b->v[i].fresh[c].row.serial == NULL)
				job_item_fail(b->v[i].it, -1, "cannot read a signed certificate");
}

/*
 * The CA's own record of what it signed, durable before anything else: a
 * crash before the rows are written leaves each serial accounted for
 * (job_recover_unrecorded_of() finds it).  One transaction for every
 * certificate the batch signed, a failed job's too, which then waits in
 * the kept set (or is revoked).  When the transaction fails, every job fails.
 */
static void
record_signs(struct job_ctx *ctx, struct issues *b)
{
	int ok = store_begin(ctx->st) == 0;

	for (size_t i = 0; ok && i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n; c++) {
			struct fresh *f = &b->v[i].fresh[c];

			if (f->cert != NULL && !f->sign_logged && f->row.serial != NULL)
				job_sign_record(ctx->st, &f->row);
		}
	ok = ok && store_commit(ctx->st) == 0;
	for (size_t i = 0; i < b->n; i++) {
		for (size_t c = 0; ok && c < b->v[i].n; c++)
			if (b->v[i].fresh[c].cert != NULL && b->v[i].fresh[c].row.serial != NULL)
				b->v[i].fresh[c].sign_logged = 1;
		if (!ok)
			job_item_fail(b->v[i].it, -1, store_error(ctx->st));
		if (!going(&b->v[i]))
			fail(ctx, &b->v[i], -1, NULL);
	}
	if (ok)
		failpoint("issue-before-keystore");
}

/* ---- files and values -------------------------------------------------------------- */

/* Why item v's key file is not there (into buf). */
static const char *
save_failure(const struct keystore_item *v, char *buf, size_t len)
{
	if (v->err != 0)
		snprintf(buf, len, "cannot write its key file: %s", strerror(v->err));
	else
		snprintf(buf, len, "cannot encode its key file");
	return buf;
}

/* The keystore files of the batch not written yet (an adopted certificate
 * may have its own), with one flush for all of them. */
static void
save_files(struct job_ctx *ctx, struct issues *b)
{
	size_t max = b->n * MAX_KINDS + 1, k = 0;
	struct keystore_item *v = calloc(max, sizeof(*v));
	char (*friendly)[256] = calloc(max, sizeof(*friendly));
	struct fresh **of = calloc(max, sizeof(*of));
	struct issue **owner = calloc(max, sizeof(*owner));

	if (v == NULL || friendly == NULL || of == NULL || owner == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < b->n; i++)
		for (size_t c = 0; c < b->v[i].n && going(&b->v[i]); c++) {
			struct fresh *f = &b->v[i].fresh[c];

			if (f->row.keystore_path != NULL)
				continue;
			snprintf(friendly[k], sizeof(friendly[k]), "%s (%s) %s",
			    b->v[i].it->id.addresses.v[0], cert_kind_name(f->kind),
			    f->row.serial);
			v[k] = (struct keystore_item){ f->key, f->cert,
			    cert_kind_name(f->kind), friendly[k], NULL, -1, 0 };
			owner[k] = &b->v[i];
			of[k++] = f;
		}
	keystore_save_many(ctx->keystore, ctx->workers, ctx->ca_cert, v, k);
	for (size_t j = 0; j < k; j++)
		of[j]->row.keystore_path = v[j].path;
	for (size_t j = 0; j < k; j++)	/* the kept copy has no file: written again */
		if (v[j].path == NULL)
			fail(ctx, owner[j], -1, save_failure(&v[j], friendly[j],
			    sizeof(friendly[j])));
	free(v);
	free(friendly);
	free(of);
	free(owner);
}

/*
 * On a worker: job i's userSMIMECertificate value (the signing or dual
 * certificate first, the encryption one last), signed by the new signing
 * key now, while it is in memory (adopted or new, every key is in hand):
 * publishing, and republishing after a restart or a hold, then writes it
 * as recorded, without a PKCS#12 to open.
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
		.ca = b->ctx->ca_cert,
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
			fail(ctx, &b->v[i], -1, NULL);	/* logged */
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
		    "subject %s%s", cert_kind_name(r->kind), r->addresses, r->subject,
		    is->fresh[c].adopted ? " (signed by an earlier attempt that could "
		    "not record it)" : "");
	}
	store_cert_smime_put(ctx->st, is->fresh[0].row.id, is->smime, is->smime_len);
	job_set_state(ctx->st, &is->it->job, JOB_ISSUED);
}

/* The recorded job's lines and counts; its certificates are its own now.
 * One an earlier attempt signed is worth a line at notice even in a mass
 * event: something went wrong before. */
static void
recorded(struct issue *is, enum log_level level)
{
	metrics_add(M_ISSUED, (int64_t)is->n);
	for (size_t c = 0; c < is->n; c++)
		log_at(is->fresh[c].adopted ? LOG_LVL_NOTICE : level,
		    "user %s: issued %s certificate %s for %s%s", is->it->id.uuid,
		    cert_kind_name(is->fresh[c].kind), is->fresh[c].row.serial,
		    is->fresh[c].row.addresses, is->fresh[c].adopted ?
		    " (signed by an earlier attempt, recorded now)" : "");
}

/* Rows without key files would be harmful: the files came first.  A crash
 * before this commit leaves files and sign records without rows, which
 * the job's next attempt records (or the next start revokes, if the job
 * no longer issues). */
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
		if (!going(&b->v[i]))
			continue;
		if (ok)
			recorded(&b->v[i], level);
		else
			fail(ctx, &b->v[i], -1, store_error(ctx->st));
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
		b->v[i].resumed = items[i]->job.state == JOB_KEYS;
		b->v[i].fresh[0].kind = kinds == 1 ? CERT_KIND_DUAL : CERT_KIND_SIGNING;
		b->v[i].fresh[1].kind = CERT_KIND_ENCRYPTION;
	}
}

static void
issues_free(struct issues *b)
{
	for (size_t i = 0; i < b->n; i++) {
		for (size_t c = 0; c < MAX_KINDS; c++)
			job_fresh_free(&b->v[i].fresh[c]);
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
	adopt(ctx, &b);
	make_keys(&b);
	sign_certs(ctx, &b);
	record_signs(ctx, &b);
	save_files(ctx, &b);
	make_smimes(ctx, &b);
	record_issued(ctx, &b, level);
	issues_free(&b);
}
