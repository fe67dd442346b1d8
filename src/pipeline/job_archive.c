/*
 * job_archive.c - ISSUED -> ARCHIVED: every key about to be superseded is in
 * the archive.
 *
 * Owns: copying a key from the keystore into the archive (pki/archive.h
 * writes the file, under the password file or to the recovery agents) and
 * recording where it went and how it is protected.  Each copy is written
 * and recorded on its own, so a rerun skips the done ones.
 * Never: removes the keystore copy (revoking does, once the archive copy
 * is recorded), or overwrites an archive file.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/secret.h"
#include "pipeline/job_archive.h"
#include "pki/archive.h"
#include "pki/certinfo.h"
#include "pki/keystore.h"

/* The archive copy of a key still in the keystore; rerunning is harmless. */
static int
archive_key(struct job_ctx *ctx, const struct cert_row *row,
    struct archive_copy *copy)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *pw = NULL, friendly[256];
	int rc = -1;

	if (ctx->archive == NULL)
		fatal("job_archive: no archive in the job's context");
	if ((pw = secret_read_password(keystore_password_file(ctx->conf, AREA_KEYSTORE),
	    "[keystore] password_file")) == NULL)
		return -1;
	if (keystore_load(row->keystore_path, pw, &key, &cert) == -1)
		goto done;
	snprintf(friendly, sizeof(friendly), "%s (%s, archived) %s",
	    row->addresses, cert_kind_name(row->kind), row->serial);
	if (archive_write(ctx->archive, key, cert, ctx->ca_cert,
	    cert_kind_name(row->kind), friendly, copy) == -1)
		goto done;
	rc = 0;
done:
	secret_free(pw);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

/*
 * The store names a keystore file that is gone, but the key's archive file
 * (write-once, named by kind and serial) is there: a store restored from a
 * snapshot taken while the agent ran, whose key moved to the archive after
 * the snapshot (README: Backup and restore).  archive_write() adopts a
 * file that is there, with the protection it really has (the password
 * file opens it with this certificate in it, or its recovery-agent bundle
 * lies beside it), and needs no key for that.  1 with *copy, or 0.
 */
static int
found_in_archive(struct job_ctx *ctx, const struct cert_row *row,
    struct archive_copy *copy)
{
	char *file = NULL;
	X509 *cert = NULL;
	int found = 0;

	if (ctx->archive == NULL || access(row->keystore_path, F_OK) == 0 || errno != ENOENT)
		return 0;
	file = keystore_file(ctx->conf, AREA_ARCHIVE, cert_kind_name(row->kind), row->serial);
	if (access(file, F_OK) == 0 &&
	    (cert = certinfo_from_der(row->der, row->der_len)) != NULL &&
	    archive_write(ctx->archive, NULL, cert, ctx->ca_cert,
	    cert_kind_name(row->kind), "", copy) == 0) {
		log_notice("user %s: the key of %s certificate %s is no longer in %s "
		    "but in its archive file %s; recorded from there", row->uuid,
		    cert_kind_name(row->kind), row->serial, row->keystore_path, file);
		found = 1;
	}
	X509_free(cert);
	free(file);
	return found;
}

/* Archives the key of row unless done already; records where it went. */
int
job_archive_key(struct job_ctx *ctx, struct cert_row *row)
{
	struct archive_copy copy = { 0 };
	const char *how;

	if (row->archive_path != NULL || row->keystore_path == NULL)
		return 0;
	if (!found_in_archive(ctx, row, &copy) && archive_key(ctx, row, &copy) == -1) {
		log_error("user %s: cannot archive the key of %s certificate %s; "
		    "leaving it in place", row->uuid, cert_kind_name(row->kind),
		    row->serial);
		return -1;
	}
	if (store_cert_set_archive(ctx->st, row->id, copy.path, copy.protection,
	    copy.bundle, copy.bundle_len) == -1) {
		archive_copy_free(&copy);
		return -1;
	}
	how = archive_protection_name(copy.protection);
	store_audit(ctx->st, "archive", row->uuid, row->serial, "%s key archived to %s (%s)",
	    cert_kind_name(row->kind), copy.path, how);
	log_info("user %s: archived the %s key of %s to %s (%s)", row->uuid,
	    cert_kind_name(row->kind), row->serial, copy.path, how);
	/* The row learns the path and the protection; the bundle stays in
	 * the store (and beside the file), where recover reads it. */
	row->archive_path = copy.path;
	row->archive_protection = copy.protection;
	copy.path = NULL;
	archive_copy_free(&copy);
	return 0;
}

int
job_step_archive(struct job_ctx *ctx, struct job *job)
{
	struct cert_rows old = { 0 };
	int rc = -1;

	/* No transaction around the PKCS#12 work: each archive copy is
	 * written and recorded on its own, and a rerun skips the done ones. */
	if (store_cert_query(ctx->st, CQ_UUID_CURRENT, job->uuid, &old) == -1)
		return -1;
	for (size_t i = 0; i < old.n; i++)
		if (job_archive_key(ctx, &old.v[i]) == -1)
			goto done;
	rc = job_set_state(ctx->st, job, JOB_ARCHIVED);
done:
	cert_rows_free(&old);
	return rc;
}
