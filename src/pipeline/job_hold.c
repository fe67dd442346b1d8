/*
 * job_hold.c - certificates put on hold, and holds lifted.
 *
 * Owns: putting a departed user's certificates on hold (each key archived
 * and recorded first, as for a revocation; then the hold recorded: the
 * certificate is on the next CRL as certificateHold) and lifting the hold
 * when the user is back (the certificate active again, off the next CRL).
 * Each certificate in a transaction of its own, so a rerun after a crash
 * finds the rest and does those.
 * Never: removes a keystore copy (the user may come back with the same
 * keys; the final revocation removes it, after the archive copy), writes
 * the CRL (the batch does), or touches the directory (the hold job's
 * first step withdraws, and the lift job's second step publishes again:
 * job_step_flip).
 */
#include "config.h"

#include <time.h>

#include "lib/failpoint.h"
#include "lib/log.h"
#include "pipeline/job_archive.h"
#include "pipeline/job_hold.h"

/* One certificate on hold: its key archived first, then the hold. */
static int
hold_cert(struct job_ctx *ctx, struct cert_row *row, int64_t now)
{
	if (job_archive_key(ctx, row) == -1)
		return -1;
	failpoint("hold-after-archive");
	if (store_begin(ctx->st) == -1)
		return -1;
	store_hold(ctx->st, row->id, now);
	store_audit(ctx->st, "hold", row->uuid, row->serial, "%s certificate put on "
	    "hold (certificateHold): the user left the directory; key kept",
	    cert_kind_name(row->kind));
	if (store_commit(ctx->st) == -1)
		return -1;
	log_notice("user %s: put %s certificate %s on hold (certificateHold)",
	    row->uuid, cert_kind_name(row->kind), row->serial);
	ctx->revoked++;		/* a CRL change, like a revocation */
	return 0;
}

int
job_step_hold(struct job_ctx *ctx, struct job *job)
{
	struct cert_rows active = { 0 };
	int64_t now = time(NULL);
	int rc = -1;

	if (store_cert_query(ctx->st, CQ_UUID_ACTIVE, job->uuid, &active) == -1)
		return -1;
	for (size_t i = 0; i < active.n; i++) {
		if (hold_cert(ctx, &active.v[i], now) == -1)
			goto done;
		failpoint("hold-one-done");
	}
	rc = job_set_state(ctx->st, job, JOB_REVOKED);
done:
	cert_rows_free(&active);
	return rc;
}

static int
lift_cert(struct job_ctx *ctx, const struct cert_row *row)
{
	if (store_begin(ctx->st) == -1)
		return -1;
	store_lift(ctx->st, row->id);
	store_audit(ctx->st, "lift", row->uuid, row->serial, "%s certificate's hold "
	    "lifted: the user is back in the directory; the same certificate is "
	    "valid again", cert_kind_name(row->kind));
	if (store_commit(ctx->st) == -1)
		return -1;
	log_notice("user %s: lifted the hold on %s certificate %s", row->uuid,
	    cert_kind_name(row->kind), row->serial);
	ctx->revoked++;		/* the next CRL leaves it out */
	return 0;
}

int
job_step_lift(struct job_ctx *ctx, struct job *job)
{
	struct cert_rows held = { 0 };
	int rc = -1;

	if (store_cert_query(ctx->st, CQ_UUID_ON_HOLD, job->uuid, &held) == -1)
		return -1;
	for (size_t i = 0; i < held.n; i++) {
		if (lift_cert(ctx, &held.v[i]) == -1)
			goto done;
		failpoint("lift-one-done");
	}
	rc = job_set_state(ctx->st, job, JOB_ARCHIVED);
done:
	cert_rows_free(&held);
	return rc;
}
