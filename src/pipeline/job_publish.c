/*
 * job_publish.c - ARCHIVED -> PUBLISHED: the directory shows the new
 * certificates and not the old; and the unpublish and republish flips.
 *
 * Owns: asking the publisher for the change (exact values, read first, so
 * a rerun after a crash finds the work done and only records it) and
 * recording what the directory now holds, the certificates' new status
 * and the deliveries due, with the next state in one transaction.
 * Never: records a publication the directory refused, or one to an entry
 * that is gone or renamed (the watcher catches up, the retry publishes).
 */
#include "config.h"

#include <stdlib.h>

#include "directory/publish.h"
#include "lib/failpoint.h"
#include "lib/log.h"
#include "pipeline/job_publish.h"

static int
collect_blob(void *arg, const void *value, size_t len)
{
	blobs_add(arg, value, len);
	return 0;
}

static int
record_publication(struct job_ctx *ctx, struct job *job,
    const struct cert_rows *add, const struct cert_rows *old,
    const struct blobs *old_smime, const unsigned char *smime, size_t smime_len)
{
	const char *cattr = ctx->conf->publish.certificate_attribute;
	const char *sattr = ctx->conf->publish.smime_attribute;

	if (store_begin(ctx->st) == -1)
		return -1;
	for (size_t i = 0; i < old->n; i++) {
		store_cert_set_status(ctx->st, old->v[i].id, CERT_SUPERSEDED);
		store_published(ctx->st, 0, job->uuid, cattr, old->v[i].der, old->v[i].der_len);
	}
	for (size_t i = 0; i < add->n; i++) {
		store_cert_set_status(ctx->st, add->v[i].id, CERT_ACTIVE);
		store_published(ctx->st, 1, job->uuid, cattr, add->v[i].der, add->v[i].der_len);
	}
	for (size_t i = 0; sattr != NULL && i < old_smime->n; i++)
		store_published(ctx->st, 0, job->uuid, sattr, old_smime->v[i], old_smime->len[i]);
	if (smime != NULL)
		store_published(ctx->st, 1, job->uuid, sattr, smime, smime_len);
	/* Queued here, not in memory: a crash must not skip a delivery. */
	if (ctx->conf->daemon.delivery_hook != NULL && add->n > 0)
		store_delivery_queue(ctx->st, job->uuid);
	store_audit(ctx->st, "publish", job->uuid, NULL, "%zu certificate(s) published, "
	    "%zu withdrawn%s", add->n, old->n, ctx->pub ? "" : " (no directory)");
	job_set_state(ctx->st, job, JOB_PUBLISHED);
	return store_commit(ctx->st);
}

/* Every certificate of ours for the user that is not the new set: the
 * active ones being superseded, and any revoked by hand earlier. */
static void
not_pending(const struct cert_rows *all, struct cert_rows *out)
{
	out->v = calloc(all->n ? all->n : 1, sizeof(*out->v));
	out->n = 0;
	if (out->v == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < all->n; i++)
		if (all->v[i].status != CERT_PENDING)
			out->v[out->n++] = all->v[i];	/* borrowed */
}

int
job_step_publish(struct job_ctx *ctx, struct job *job, const char *dn)
{
	struct cert_rows add = { 0 }, old = { 0 }, all = { 0 }, remove = { 0 };
	struct blobs old_smime = { 0 };
	unsigned char *smime = NULL;
	size_t smime_len = 0;
	enum publish_rc prc = PUBLISH_OK;
	int rc = -1;

	if (store_cert_query(ctx->st, CQ_UUID_PENDING, job->uuid, &add) == -1 ||
	    store_cert_query(ctx->st, CQ_UUID_ACTIVE, job->uuid, &old) == -1 ||
	    store_cert_query(ctx->st, CQ_UUID, job->uuid, &all) == -1)
		goto done;
	not_pending(&all, &remove);
	if (ctx->conf->publish.smime_attribute != NULL &&
	    store_published_each(ctx->st, job->uuid, ctx->conf->publish.smime_attribute,
	    collect_blob, &old_smime) == -1)
		goto done;
	if (ctx->pub != NULL && dn != NULL)
		prc = publish_apply(ctx->pub, dn, &add, &remove, &old_smime,
		    signer_ca(ctx->signer), &smime, &smime_len);
	if (prc == PUBLISH_RETRY)
		goto done;
	if (prc == PUBLISH_GONE && job->action != JOB_REVOKE) {
		/* Renamed or deleted since the job began: recording it as
		 * published would leave the entry without its certificates.
		 * The watcher updates the DN, or marks the user gone, and the
		 * retry then does the right thing. */
		log_warn("user %s: entry %s is gone or was renamed; publishing "
		    "waits for the directory", job->uuid, dn);
		goto done;
	}
	if (prc == PUBLISH_GONE)
		log_info("user %s: entry %s is gone; nothing to withdraw", job->uuid, dn);
	failpoint("publish-before-record");
	rc = record_publication(ctx, job, &add, &old, &old_smime, smime, smime_len);
	if (rc == 0 && ctx->pub != NULL && dn != NULL && prc == PUBLISH_OK)
		log_notice("user %s: published %zu certificate(s) to %s, withdrew %zu",
		    job->uuid, add.n, dn, old.n);
done:
	free(smime);
	blobs_free(&old_smime);
	free(remove.v);	/* its rows belong to all */
	cert_rows_free(&all);
	cert_rows_free(&add);
	cert_rows_free(&old);
	return rc;
}

/* The withdrawal (or the return) recorded with the next state. */
static int
record_flip(struct job_ctx *ctx, struct job *job, int publish,
    const char *where, const struct cert_rows *active, const struct blobs *old_smime,
    const unsigned char *smime, size_t smime_len)
{
	const char *cattr = ctx->conf->publish.certificate_attribute;
	const char *sattr = ctx->conf->publish.smime_attribute;

	if (store_begin(ctx->st) == -1)
		return -1;
	for (size_t i = 0; i < active->n; i++) {
		const struct cert_row *r = &active->v[i];

		store_published(ctx->st, publish, job->uuid, cattr, r->der, r->der_len);
		if (publish)
			store_audit(ctx->st, "republish", job->uuid, r->serial,
			    "%s certificate published again, same key (user "
			    "enabled): %s", cert_kind_name(r->kind), where);
		else
			store_audit(ctx->st, "unpublish", job->uuid, r->serial,
			    "%s certificate withdrawn from the directory, kept "
			    "valid (user disabled): %s", cert_kind_name(r->kind), where);
	}
	for (size_t i = 0; sattr != NULL && i < old_smime->n; i++)
		store_published(ctx->st, 0, job->uuid, sattr, old_smime->v[i], old_smime->len[i]);
	if (smime != NULL)
		store_published(ctx->st, 1, job->uuid, sattr, smime, smime_len);
	job_set_state(ctx->st, job, JOB_PUBLISHED);
	return store_commit(ctx->st);
}

/*
 * Unpublish: the entry no longer shows the user's active certificates (nor
 * our S/MIME value); they stay active, their keys in the keystore.
 * Republish: it shows them again.  Either way exact values, read first, so
 * a rerun after a crash finds the work done and only records it.
 */
int
job_step_flip(struct job_ctx *ctx, struct job *job, const char *dn, int publish)
{
	struct cert_rows active = { 0 }, none = { 0 };
	struct blobs old_smime = { 0 };
	unsigned char *smime = NULL;
	size_t smime_len = 0;
	enum publish_rc prc = PUBLISH_OK;
	int rc = -1;

	if (store_cert_query(ctx->st, CQ_UUID_ACTIVE, job->uuid, &active) == -1)
		goto done;
	if (ctx->conf->publish.smime_attribute != NULL &&
	    store_published_each(ctx->st, job->uuid, ctx->conf->publish.smime_attribute,
	    collect_blob, &old_smime) == -1)
		goto done;
	if (ctx->pub != NULL && dn != NULL)
		prc = publish_apply(ctx->pub, dn, publish ? &active : &none,
		    publish ? &none : &active, &old_smime, signer_ca(ctx->signer),
		    &smime, &smime_len);
	if (prc == PUBLISH_RETRY)
		goto done;
	if (prc == PUBLISH_GONE && publish) {
		log_warn("user %s: entry %s is gone or was renamed; publishing "
		    "waits for the directory", job->uuid, dn);
		goto done;
	}
	if (prc == PUBLISH_GONE)
		log_info("user %s: entry %s is gone; nothing to withdraw", job->uuid, dn);
	failpoint("publish-before-record");
	rc = record_flip(ctx, job, publish, ctx->pub == NULL || dn == NULL ?
	    "no directory" : prc == PUBLISH_GONE ? "entry gone" : dn, &active,
	    &old_smime, smime, smime_len);
	if (rc == 0 && ctx->pub != NULL && dn != NULL && prc == PUBLISH_OK) {
		if (publish)
			log_notice("user %s: published %zu certificate(s) again to %s "
			    "(enabled; same keys)", job->uuid, active.n, dn);
		else
			log_notice("user %s: withdrew %zu certificate(s) from %s "
			    "(disabled; kept valid)", job->uuid, active.n, dn);
	}
done:
	free(smime);
	blobs_free(&old_smime);
	cert_rows_free(&active);
	return rc;
}
