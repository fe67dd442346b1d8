/*
 * job_revoke.c - PUBLISHED -> REVOKED: the superseded certificates are
 * revoked.
 *
 * Owns: revoking certificates (each key archived first, the revocation
 * recorded, and only then the keystore copy removed): one by hand, or
 * every superseded certificate of a batch of jobs, recorded with the jobs'
 * next state in one transaction; and the sweep that finishes a removal a
 * kill interrupted (after the commit, before the unlink).
 * Never: writes the CRL (the batch does, once: crl_publish.c), or revokes
 * before the successor is published (the driver's order sees to it).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/failpoint.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "pipeline/job_archive.h"
#include "pipeline/job_revoke.h"
#include "pki/crl.h"
#include "pki/keystore.h"

/*
 * Row's revocation, inside the caller's transaction: recorded, audited,
 * and (its key being in the archive) its keystore copy let go of.  Returns
 * the keystore file to remove once the transaction commits (the caller
 * frees it), or NULL.  Never a row naming a file that is gone.
 */
static char *
revoke_in_txn(struct job_ctx *ctx, const struct cert_row *row, int reason)
{
	store_revoke(ctx->st, row->id, reason, time(NULL));
	store_audit(ctx->st, "revoke", row->uuid, row->serial, "%s certificate revoked: %s",
	    cert_kind_name(row->kind), crl_reason_name(reason));
	/* The keystore copy goes only once the archive copy is recorded. */
	if (row->keystore_path == NULL || row->archive_path == NULL)
		return NULL;
	store_cert_set_paths(ctx->st, row->id, NULL, row->archive_path);
	return strdup(row->keystore_path);
}

/* After the commit: the keystore file gone, the line logged. */
static void
revoked(struct job_ctx *ctx, const struct cert_row *row, int reason, char *gone,
    enum log_level level)
{
	metrics_add(M_REVOKED, 1);
	metrics_set_once(M_REVOCATION_WAITING, (int64_t)time(NULL));	/* until its CRL */
	failpoint("revoke-before-unlink");
	/* Unlinked after the commit: never a row naming a file that is gone.
	 * A kill in between leaves the file; job_sweep_keystore() takes it. */
	if (gone != NULL && unlink(gone) == -1 && errno != ENOENT)
		log_warn("cannot remove %s: %s", gone, strerror(errno));
	free(gone);
	log_at(level, "user %s: revoked %s certificate %s (%s)", row->uuid,
	    cert_kind_name(row->kind), row->serial, crl_reason_name(reason));
	ctx->revoked++;
}

int
job_revoke_cert(struct job_ctx *ctx, const struct cert_row *in, int reason)
{
	struct cert_row row = *in;	/* shallow: the paths are replaced below */
	char *gone = NULL;
	int rc = -1;

	row.keystore_path = in->keystore_path ? strdup(in->keystore_path) : NULL;
	row.archive_path = in->archive_path ? strdup(in->archive_path) : NULL;
	/* The archive copy is written and recorded first, on its own. */
	if (job_archive_key(ctx, &row) == -1 || store_begin(ctx->st) == -1)
		goto done;
	gone = revoke_in_txn(ctx, &row, reason);
	if (store_commit(ctx->st) == -1) {
		free(gone);
		goto done;
	}
	revoked(ctx, &row, reason, gone, LOG_LVL_NOTICE);
	rc = 0;
done:
	free(row.keystore_path);
	free(row.archive_path);
	return rc;
}

/* Each item's superseded certificates, every key archived (normally the
 * archive step did it; one revoked by hand earlier may not be). */
static void
collect(struct job_ctx *ctx, struct job_item **items, size_t n, struct cert_rows *old)
{
	for (size_t i = 0; i < n; i++) {
		if (store_cert_query(ctx->st, CQ_UUID_SUPERSEDED, items[i]->job.uuid,
		    &old[i]) == -1) {
			job_item_fail(items[i], -1, NULL);
			continue;
		}
		for (size_t k = 0; k < old[i].n && items[i]->rc == 0; k++)
			if (job_archive_key(ctx, &old[i].v[k]) == -1)
				job_item_fail(items[i], -1, NULL);	/* logged */
	}
}

void
job_step_revoke_many(struct job_ctx *ctx, struct job_item **items, size_t n,
    enum log_level level)
{
	struct cert_rows *old = calloc(n ? n : 1, sizeof(*old));
	char ***gone = calloc(n ? n : 1, sizeof(*gone));
	int ok;

	if (old == NULL || gone == NULL)
		fatal("out of memory");
	collect(ctx, items, n, old);
	if ((ok = store_begin(ctx->st) == 0)) {
		for (size_t i = 0; i < n; i++) {
			if (items[i]->rc != 0)
				continue;
			if ((gone[i] = calloc(old[i].n + 1, sizeof(**gone))) == NULL)
				fatal("out of memory");
			for (size_t k = 0; k < old[i].n; k++)
				gone[i][k] = revoke_in_txn(ctx, &old[i].v[k], items[i]->job.reason);
			job_set_state(ctx->st, &items[i]->job, JOB_REVOKED);
		}
		ok = store_commit(ctx->st) == 0;
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; gone[i] != NULL && k < old[i].n; k++) {
			if (ok)
				revoked(ctx, &old[i].v[k], items[i]->job.reason, gone[i][k], level);
			else
				free(gone[i][k]);
		}
		if (!ok && items[i]->rc == 0)
			job_item_fail(items[i], -1, NULL);
		free(gone[i]);
		cert_rows_free(&old[i]);
	}
	free(gone);
	free(old);
}

/* A pass of job_sweep_keystore: its job context and what it removed. */
struct sweep {
	struct job_ctx *ctx;
	int removed;
};

/*
 * The keystore file of a row that no longer needs one: superseded or
 * revoked, its archive copy recorded, and the row naming no keystore file
 * (the revocation's commit cleared it; the unlink after it may not have
 * happened).  Only a file the row's kind and serial name; never a file the
 * row still points at.
 */
static void
sweep_row(void *arg, struct cert_row *row)
{
	struct sweep *sw = arg;
	char *file;

	if ((row->status != CERT_SUPERSEDED && row->status != CERT_REVOKED) ||
	    row->archive_path == NULL || row->keystore_path != NULL)
		return;
	file = keystore_file(sw->ctx->conf, AREA_KEYSTORE, cert_kind_name(row->kind),
	    row->serial);
	if (unlink(file) == 0) {
		log_notice("user %s: removed %s from the keystore (%s %s certificate "
		    "%s; its key is archived in %s)", row->uuid, file,
		    cert_status_name(row->status), cert_kind_name(row->kind),
		    row->serial, row->archive_path);
		sw->removed++;
	} else if (errno != ENOENT)
		log_warn("cannot remove %s: %s", file, strerror(errno));
	free(file);
}

/* Every row at start (streamed: one row in memory whatever the store
 * holds; only rows that can have left a file), or one user's. */
int
job_sweep_keystore(struct job_ctx *ctx, const char *uuid)
{
	struct sweep sw = { ctx, 0 };

	if (store_cert_each(ctx->st, uuid != NULL ? CQ_UUID : CQ_KEY_LEFTOVERS, uuid,
	    sweep_row, &sw) == -1)
		return -1;
	return sw.removed;
}
