/*
 * job_revoke.c - PUBLISHED -> REVOKED: the superseded certificates are
 * revoked.
 *
 * Owns: revoking one certificate (its key archived first, the revocation
 * recorded, and only then the keystore copy removed), the step that
 * revokes every superseded certificate of a user, one transaction each, so
 * a rerun finds the rest and revokes those, and the sweep that finishes a
 * removal a kill interrupted (after the commit, before the unlink).
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
	store_revoke(ctx->st, row.id, reason, time(NULL));
	store_audit(ctx->st, "revoke", row.uuid, row.serial, "%s certificate revoked: %s",
	    cert_kind_name(row.kind), crl_reason_name(reason));
	/* The keystore copy goes only once the archive copy is recorded. */
	if (row.keystore_path != NULL && row.archive_path != NULL) {
		store_cert_set_paths(ctx->st, row.id, NULL, row.archive_path);
		gone = row.keystore_path;
	}
	if (store_commit(ctx->st) == -1)
		goto done;
	metrics_add(M_REVOKED, 1);
	metrics_set_once(M_REVOCATION_WAITING, (int64_t)time(NULL));	/* until its CRL */
	failpoint("revoke-before-unlink");
	/* Unlinked after the commit: never a row naming a file that is gone.
	 * A kill in between leaves the file; job_sweep_keystore() takes it. */
	if (gone != NULL && unlink(gone) == -1 && errno != ENOENT)
		log_warn("cannot remove %s: %s", gone, strerror(errno));
	log_notice("user %s: revoked %s certificate %s (%s)", row.uuid,
	    cert_kind_name(row.kind), row.serial, crl_reason_name(reason));
	ctx->revoked++;
	rc = 0;
done:
	free(row.keystore_path);
	free(row.archive_path);
	return rc;
}

int
job_step_revoke(struct job_ctx *ctx, struct job *job)
{
	struct cert_rows old = { 0 };
	int rc = -1;

	/* One transaction per certificate: a rerun finds the rest still
	 * superseded and revokes those. */
	if (store_cert_query(ctx->st, CQ_UUID_SUPERSEDED, job->uuid, &old) == -1)
		return -1;
	for (size_t i = 0; i < old.n; i++)
		if (job_revoke_cert(ctx, &old.v[i], job->reason) == -1)
			goto done;
	rc = job_set_state(ctx->st, job, JOB_REVOKED);
done:
	cert_rows_free(&old);
	return rc;
}

/*
 * The keystore file of a row that no longer needs one: superseded or
 * revoked, its archive copy recorded, and the row naming no keystore file
 * (the revocation's commit cleared it; the unlink after it may not have
 * happened).  Only a file the row's kind and serial name; never a file the
 * row still points at.
 */
static void
sweep_row(struct job_ctx *ctx, const struct cert_row *row, int *removed)
{
	char *file;

	if ((row->status != CERT_SUPERSEDED && row->status != CERT_REVOKED) ||
	    row->archive_path == NULL || row->keystore_path != NULL)
		return;
	file = keystore_file(ctx->conf, AREA_KEYSTORE, cert_kind_name(row->kind),
	    row->serial);
	if (unlink(file) == 0) {
		log_notice("user %s: removed %s from the keystore (%s %s certificate "
		    "%s; its key is archived in %s)", row->uuid, file,
		    cert_status_name(row->status), cert_kind_name(row->kind),
		    row->serial, row->archive_path);
		(*removed)++;
	} else if (errno != ENOENT)
		log_warn("cannot remove %s: %s", file, strerror(errno));
	free(file);
}

int
job_sweep_keystore(struct job_ctx *ctx, const char *uuid)
{
	struct cert_rows rows = { 0 };
	int removed = 0;

	if (store_cert_query(ctx->st, uuid != NULL ? CQ_UUID : CQ_ALL, uuid, &rows) == -1)
		return -1;
	for (size_t i = 0; i < rows.n; i++)
		sweep_row(ctx, &rows.v[i], &removed);
	cert_rows_free(&rows);
	return removed;
}
