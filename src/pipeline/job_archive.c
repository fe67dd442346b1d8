/*
 * job_archive.c - ISSUED -> ARCHIVED: every key about to be superseded is in
 * the archive.
 *
 * Owns: copying a key from the keystore into the archive (a new PKCS#12
 * under the archive's password) and recording where it went.  Each copy is
 * written and recorded on its own, so a rerun skips the done ones.
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
#include "pki/keystore.h"

/* The archive copy of a key still in the keystore; rerunning is harmless. */
static int
archive_key(struct job_ctx *ctx, const struct cert_row *row, char **path)
{
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *pw = NULL, friendly[256];
	int rc = -1;

	*path = NULL;
	if ((pw = secret_read_password(keystore_password_file(ctx->conf, AREA_KEYSTORE),
	    "[keystore] password_file")) == NULL)
		return -1;
	if (keystore_load(row->keystore_path, pw, &key, &cert) == -1)
		goto done;
	snprintf(friendly, sizeof(friendly), "%s (%s, archived) %s",
	    row->addresses, cert_kind_name(row->kind), row->serial);
	if (keystore_save(ctx->conf, AREA_ARCHIVE, key, cert, signer_ca(ctx->signer),
	    cert_kind_name(row->kind), friendly, path) == -1)
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
 * (write-once, named by kind and serial) is there with the same
 * certificate: a store restored from a snapshot taken while the agent ran,
 * whose key moved to the archive after the snapshot (README: Backup and
 * restore).  1 with *path, or 0.
 */
static int
found_in_archive(struct job_ctx *ctx, const struct cert_row *row, char **path)
{
	char *file = NULL, *pw = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	unsigned char *der = NULL;
	int len, found = 0;

	if (access(row->keystore_path, F_OK) == 0 || errno != ENOENT)
		return 0;
	file = keystore_file(ctx->conf, AREA_ARCHIVE, cert_kind_name(row->kind), row->serial);
	if (access(file, F_OK) == 0 &&
	    (pw = secret_read_password(keystore_password_file(ctx->conf, AREA_ARCHIVE),
	    "[archive] password_file")) != NULL &&
	    keystore_load(file, pw, &key, &cert) == 0 &&
	    (len = i2d_X509(cert, &der)) > 0 && (size_t)len == row->der_len &&
	    memcmp(der, row->der, row->der_len) == 0)
		found = 1;
	if (found) {
		log_notice("user %s: the key of %s certificate %s is no longer in %s "
		    "but in its archive file %s; recorded from there", row->uuid,
		    cert_kind_name(row->kind), row->serial, row->keystore_path, file);
		*path = file;
		file = NULL;
	}
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	X509_free(cert);
	secret_free(pw);
	free(file);
	return found;
}

/* Archives the key of row unless done already; records where it went. */
int
job_archive_key(struct job_ctx *ctx, struct cert_row *row)
{
	char *path = NULL;

	if (row->archive_path != NULL || row->keystore_path == NULL)
		return 0;
	if (!found_in_archive(ctx, row, &path) && archive_key(ctx, row, &path) == -1) {
		log_error("user %s: cannot archive the key of %s certificate %s; "
		    "leaving it in place", row->uuid, cert_kind_name(row->kind),
		    row->serial);
		return -1;
	}
	if (store_cert_set_paths(ctx->st, row->id, row->keystore_path, path) == -1) {
		free(path);
		return -1;
	}
	store_audit(ctx->st, "archive", row->uuid, row->serial, "%s key archived to %s",
	    cert_kind_name(row->kind), path);
	log_info("user %s: archived the %s key of %s to %s", row->uuid,
	    cert_kind_name(row->kind), row->serial, path);
	row->archive_path = path;
	return 0;
}

int
job_step_archive(struct job_ctx *ctx, struct job *job)
{
	struct cert_rows old = { 0 };
	int rc = -1;

	/* No transaction around the PKCS#12 work: each archive copy is
	 * written and recorded on its own, and a rerun skips the done ones. */
	if (store_cert_query(ctx->st, CQ_UUID_ACTIVE, job->uuid, &old) == -1)
		return -1;
	for (size_t i = 0; i < old.n; i++)
		if (job_archive_key(ctx, &old.v[i]) == -1)
			goto done;
	rc = job_set_state(ctx->st, job, JOB_ARCHIVED);
done:
	cert_rows_free(&old);
	return rc;
}
