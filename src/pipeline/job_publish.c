/*
 * job_publish.c - ARCHIVED -> PUBLISHED: the directory shows the new
 * certificates and not the old; and the unpublish and republish flips.
 *
 * Owns: asking the publisher for the change (exact values, read first, so
 * a rerun after a crash finds the work done and only records it), with
 * the S/MIME value recorded when the certificates were issued, and
 * recording what the directory now holds, the certificates' new status
 * and the deliveries due, with the next state in one transaction.
 * Never: records a publication the directory refused, or one to an entry
 * that is gone or renamed (the watcher catches up, the retry publishes).
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include "directory/publish.h"
#include "lib/failpoint.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "pipeline/job_publish.h"
#include "pki/smime_value.h"

static int
collect_digest(void *arg, const unsigned char digest[STORE_DIGEST_LEN])
{
	blobs_add(arg, digest, STORE_DIGEST_LEN);
	return 0;
}

/* What the directory now holds, for the store to record. */
struct written {
	enum publish_rc rc;        /* PUBLISH_GONE: nothing was written */
	struct blobs old_smime;    /* our S/MIME values before: their digests */
	unsigned char *smime;      /* the one written, or NULL */
	size_t smime_len;
};

static void
written_free(struct written *w)
{
	free(w->smime);
	blobs_free(&w->old_smime);
}

/*
 * The S/MIME value that shows rows: the one made and recorded with their
 * signing (or dual) certificate when they were issued, so that a
 * republication writes the very same value.  Certificates issued before
 * certsync kept it get a certs-only value made now: their signing key is
 * in a PKCS#12 file, not worth opening for this.  0 and *value (caller
 * frees), or -1 after logging.
 */
static int
smime_of(struct job_ctx *ctx, const struct job *job, const struct cert_rows *rows,
    unsigned char **value, size_t *len)
{
	for (size_t i = 0; i < rows->n; i++) {
		int found;

		if (rows->v[i].kind == CERT_KIND_ENCRYPTION)
			continue;
		if ((found = store_cert_smime_get(ctx->st, rows->v[i].id, value, len)) != 0)
			return found == 1 ? 0 : -1;
	}
	log_info("user %s: no signed S/MIME value kept for certificates issued by "
	    "an older certsync; publishing a certs-only one", job->uuid);
	return smime_value_certs_only(rows, ctx->ca_cert, value, len);
}

/*
 * Before the directory is written: our S/MIME values as the store records
 * them (to be replaced), and (when there is an entry to write to, dn) the
 * value to show now, into w and change.  0, or -1 after logging.
 */
static int
prepare_entry(struct job_ctx *ctx, const struct job *job, const char *dn,
    struct publish_change *change, struct written *w)
{
	const char *sattr = ctx->conf->publish.smime_attribute;

	w->rc = PUBLISH_OK;
	change->old_smime = &w->old_smime;
	change->smime = NULL;
	change->smime_len = 0;
	if (sattr == NULL)
		return 0;
	if (store_published_each(ctx->st, job->uuid, sattr, collect_digest,
	    &w->old_smime) == -1)
		return -1;
	if (ctx->pub != NULL && dn != NULL && change->add->n > 0 &&
	    smime_of(ctx, job, change->add, &w->smime, &w->smime_len) == -1)
		return -1;
	change->smime = w->smime;
	change->smime_len = w->smime_len;
	return 0;
}

/*
 * After the directory was written (w->rc says how): 0 to record it; -1
 * when the step must wait: a failure (logged), or an entry gone or renamed
 * while the step adds (recording that as published would leave the entry
 * without its certificates; the watcher updates the DN, or marks the user
 * gone, and the retry then does the right thing).
 */
static int
conclude_entry(const struct job *job, const char *dn, int adds, struct written *w)
{
	if (w->rc != PUBLISH_OK) {
		/* Nothing was written: no new S/MIME value to record. */
		free(w->smime);
		w->smime = NULL;
		w->smime_len = 0;
	}
	if (w->rc == PUBLISH_RETRY) {
		metrics_add(M_ERR_PUBLISH, 1);
		return -1;
	}
	if (w->rc == PUBLISH_GONE && adds) {
		log_warn("user %s: entry %s is gone or was renamed; publishing "
		    "waits for the directory", job->uuid, dn);
		return -1;
	}
	if (w->rc == PUBLISH_GONE)
		log_info("user %s: entry %s is gone; nothing to withdraw", job->uuid, dn);
	failpoint("publish-before-record");
	return 0;
}

/* The whole directory part for one entry: prepare, write, conclude.  No
 * publisher or no dn: nothing to write to, recorded as it stands. */
static int
write_entry(struct job_ctx *ctx, const struct job *job, const char *dn,
    const struct cert_rows *add, const struct cert_rows *remove, int adds,
    struct written *w)
{
	struct publish_change change = { add, remove, NULL, NULL, 0 };

	if (prepare_entry(ctx, job, dn, &change, w) == -1)
		return -1;
	if (ctx->pub != NULL && dn != NULL)
		w->rc = publish_apply(ctx->pub, dn, &change);
	else {
		free(w->smime);
		w->smime = NULL;
	}
	return conclude_entry(job, dn, adds, w);
}

/* Our S/MIME values: the old ones withdrawn, the new one (if any) added. */
static void
record_smime(struct job_ctx *ctx, const struct job *job, const struct written *w)
{
	const char *sattr = ctx->conf->publish.smime_attribute;

	for (size_t i = 0; sattr != NULL && i < w->old_smime.n; i++)
		store_published_digest(ctx->st, 0, job->uuid, sattr, w->old_smime.v[i]);
	if (w->smime != NULL)
		store_published(ctx->st, 1, job->uuid, sattr, w->smime, w->smime_len);
}

static int
record_publication(struct job_ctx *ctx, struct job *job,
    const struct cert_rows *add, const struct cert_rows *old, const struct written *w)
{
	const char *cattr = ctx->conf->publish.certificate_attribute;

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
	record_smime(ctx, job, w);
	/* Queued here, not in memory: a crash must not skip a delivery. */
	if (ctx->conf->daemon.delivery_hook != NULL && add->n > 0)
		store_delivery_queue(ctx->st, job->uuid);
	store_audit(ctx->st, "publish", job->uuid, NULL, "%zu certificate(s) published, "
	    "%zu withdrawn%s", add->n, old->n, ctx->pub ? "" : " (no directory)");
	job_set_state(ctx->st, job, JOB_PUBLISHED);
	return store_commit(ctx->st);
}

/* The step is recorded: the counters, and the latency of the change that
 * planned the job ends here, whether or not there was a directory. */
static void
published(struct job_ctx *ctx, const struct job *job, const char *dn,
    const struct written *w, size_t n)
{
	metrics_change_published(job->uuid);
	if (ctx->pub == NULL || dn == NULL || w->rc != PUBLISH_OK)
		return;
	metrics_add(M_PUBLISHED, (int64_t)n);
	metrics_set(M_LAST_PUBLISHED, (int64_t)time(NULL));
}

/* One job's publication in a batch: its rows (add, old and remove borrow
 * from all), the change asked of the directory, and what it now holds. */
struct pub {
	struct job_item *it;
	struct cert_rows all, add, old, remove;
	struct publish_change change;
	struct written w;
};

/* The user's certificates by status: the new set (pending), the ones it
 * supersedes (the current ones: active, or on hold), and every one of ours
 * that is not the new set (the superseded, and any revoked earlier). */
static void
split_rows(struct pub *p)
{
	size_t n = p->all.n ? p->all.n : 1;

	if ((p->add.v = calloc(n, sizeof(*p->add.v))) == NULL ||
	    (p->old.v = calloc(n, sizeof(*p->old.v))) == NULL ||
	    (p->remove.v = calloc(n, sizeof(*p->remove.v))) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < p->all.n; i++) {
		const struct cert_row *r = &p->all.v[i];	/* borrowed below */

		if (r->status == CERT_PENDING)
			p->add.v[p->add.n++] = *r;
		else
			p->remove.v[p->remove.n++] = *r;
		if (r->status == CERT_ACTIVE || r->status == CERT_ON_HOLD)
			p->old.v[p->old.n++] = *r;
	}
}

static void
pub_free(struct pub *p)
{
	written_free(&p->w);
	free(p->add.v);	/* the rows of these three belong to all */
	free(p->old.v);
	free(p->remove.v);
	cert_rows_free(&p->all);
}

/* The store's side of p before the directory is written.  0, or -1. */
static int
prepare_pub(struct job_ctx *ctx, struct pub *p)
{
	if (store_cert_query(ctx->st, CQ_UUID, p->it->job.uuid, &p->all) == -1)
		return -1;
	split_rows(p);
	p->change.add = &p->add;
	p->change.remove = &p->remove;
	return prepare_entry(ctx, &p->it->job, job_item_dn(p->it),
	    &p->change, &p->w);
}

/* The directory's side: every entry of the batch written at once (many
 * modifies in flight on the writer connection).  No publisher or no dn:
 * nothing to write to, recorded as it stands. */
static void
write_entries(struct job_ctx *ctx, struct pub *v, size_t n)
{
	struct publish_req *reqs = calloc(n ? n : 1, sizeof(*reqs));
	size_t k = 0;

	if (reqs == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++) {
		if (v[i].it->rc != 0)
			continue;
		if (ctx->pub == NULL || job_item_dn(v[i].it) == NULL) {
			free(v[i].w.smime);
			v[i].w.smime = NULL;
			continue;
		}
		reqs[k++] = (struct publish_req){ job_item_dn(v[i].it), &v[i].change,
		    &v[i].w.rc };
	}
	publish_apply_many(ctx->pub, reqs, k);
	free(reqs);
}

/* Every written entry recorded with PUBLISHED: one transaction. */
static void
record_all(struct job_ctx *ctx, struct pub *v, size_t n)
{
	int ok = store_begin(ctx->st) == 0;

	for (size_t i = 0; ok && i < n; i++)
		if (v[i].it->rc == 0)
			record_publication(ctx, &v[i].it->job, &v[i].add, &v[i].old, &v[i].w);
	if (!ok || store_commit(ctx->st) == -1)
		for (size_t i = 0; i < n; i++)
			if (v[i].it->rc == 0)
				job_item_fail(v[i].it, -1, NULL);
}

void
job_step_publish_many(struct job_ctx *ctx, struct job_item **items, size_t n,
    enum log_level level)
{
	struct pub *v = calloc(n ? n : 1, sizeof(*v));

	if (v == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++) {
		v[i].it = items[i];
		if (prepare_pub(ctx, &v[i]) == -1)
			job_item_fail(items[i], -1, NULL);
	}
	write_entries(ctx, v, n);
	for (size_t i = 0; i < n; i++)
		if (items[i]->rc == 0 && conclude_entry(&items[i]->job,
		    job_item_dn(items[i]),
		    items[i]->job.action != JOB_REVOKE, &v[i].w) == -1)
			job_item_fail(items[i], -1, NULL);
	record_all(ctx, v, n);
	for (size_t i = 0; i < n; i++) {
		if (items[i]->rc == 0)
			published(ctx, &items[i]->job, job_item_dn(items[i]), &v[i].w,
			    v[i].add.n);
		if (items[i]->rc == 0 && ctx->pub != NULL &&
		    job_item_dn(items[i]) != NULL && v[i].w.rc == PUBLISH_OK)
			log_at(level, "user %s: published %zu certificate(s) to %s, "
			    "withdrew %zu", items[i]->job.uuid, v[i].add.n,
			    job_item_dn(items[i]), v[i].old.n);
		pub_free(&v[i]);
	}
	free(v);
}

/* The withdrawal (or the return) recorded with the next state; where says
 * where it happened, for the audit trail. */
static int
record_flip(struct job_ctx *ctx, struct job *job, int publish, const char *where,
    const struct cert_rows *active, const struct written *w)
{
	const char *cattr = ctx->conf->publish.certificate_attribute;

	if (store_begin(ctx->st) == -1)
		return -1;
	for (size_t i = 0; i < active->n; i++) {
		const struct cert_row *r = &active->v[i];

		store_published(ctx->st, publish, job->uuid, cattr, r->der, r->der_len);
		if (publish)
			store_audit(ctx->st, "republish", job->uuid, r->serial,
			    "%s certificate published again, same key (user %s): %s",
			    cert_kind_name(r->kind), job->action == JOB_LIFT ?
			    "back, hold lifted" : "enabled", where);
		else if (job->action == JOB_HOLD)
			store_audit(ctx->st, "unpublish", job->uuid, r->serial,
			    "%s certificate withdrawn from the directory, to be put "
			    "on hold (user gone): %s", cert_kind_name(r->kind), where);
		else
			store_audit(ctx->st, "unpublish", job->uuid, r->serial,
			    "%s certificate withdrawn from the directory, kept "
			    "valid (user disabled): %s", cert_kind_name(r->kind), where);
	}
	record_smime(ctx, job, w);
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
	struct written w = { PUBLISH_OK, { NULL, NULL, 0 }, NULL, 0 };
	const char *where = dn;
	int rc = -1;

	if (store_cert_query(ctx->st, CQ_UUID_ACTIVE, job->uuid, &active) == -1 ||
	    write_entry(ctx, job, dn, publish ? &active : &none,
	    publish ? &none : &active, publish, &w) == -1)
		goto done;
	if (ctx->pub == NULL || dn == NULL)
		where = "no directory";
	else if (w.rc == PUBLISH_GONE)
		where = "entry gone";
	rc = record_flip(ctx, job, publish, where, &active, &w);
	if (rc == 0)
		published(ctx, job, dn, &w, publish ? active.n : 0);
	if (rc == 0 && ctx->pub != NULL && dn != NULL && w.rc == PUBLISH_OK) {
		if (publish)
			log_notice("user %s: published %zu certificate(s) again to %s "
			    "(%s; same keys)", job->uuid, active.n, dn,
			    job->action == JOB_LIFT ? "back" : "enabled");
		else
			log_notice("user %s: withdrew %zu certificate(s) from %s "
			    "(%s)", job->uuid, active.n, dn, job->action == JOB_HOLD ?
			    "gone; to be put on hold" : "disabled; kept valid");
	}
done:
	written_free(&w);
	cert_rows_free(&active);
	return rc;
}
