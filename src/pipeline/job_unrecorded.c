/*
 * job_unrecorded.c - certificates the CA signed that the store does not know.
 *
 * Owns: the sign record (the CA's own account of each signature, written
 * before anything else about the certificate) and the recovery it makes
 * possible: every signature without its certificate row that its own job
 * does not adopt (job_kept.c) is recorded and revoked as superseded, its
 * key archived first when there is one.
 * Never: leaves a signed certificate off the CRL because its key file
 * cannot be read, or drops a key it finds.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "pipeline/job_unrecorded.h"
#include "pki/archive.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/keystore.h"

/*
 * job_keys.c writes the sign record, then the key file, and records the
 * certificates once all are made: a crash or a failure in between leaves
 * a certificate the CA signed that the store does not know.
 * Nobody has it (it was neither published nor delivered), yet it is valid.
 * Its job's next attempt records it when it is still right for the user
 * (job_kept.c).  Otherwise (and for a user whose job no longer issues) it
 * is recorded and revoked as superseded in one transaction, its key
 * archived first like any superseded key, then taken out of the keystore.  Were the key file never written, the sign
 * record is enough: the row keeps the serial, kind, addresses and
 * fingerprint, without DER or key, and the CRL lists the serial.
 */

/* The text of a sign record; sign_detail_parse() reads it back. */
#define SIGN_DETAIL "%s certificate signed for %s (fingerprint %s)"

int
job_sign_record(struct store *st, const struct cert_row *row)
{
	return store_audit(st, "sign", row->uuid, row->serial, SIGN_DETAIL,
	    cert_kind_name(row->kind), row->addresses, row->fingerprint);
}

/* The kind, addresses and fingerprint a SIGN_DETAIL text names; 0, or -1
 * if it is not one. */
static int
sign_detail_parse(const char *detail, enum cert_kind *kind, char **addresses,
    char **fingerprint)
{
	static const char mid[] = " certificate signed for ", fp[] = " (fingerprint ";
	const char *a, *f;
	char name[16];
	size_t len;
	int k;

	*addresses = *fingerprint = NULL;
	if (detail == NULL || (a = strstr(detail, mid)) == NULL ||
	    (size_t)(a - detail) >= sizeof(name))
		return -1;
	memcpy(name, detail, (size_t)(a - detail));
	name[a - detail] = '\0';
	if ((k = cert_kind_parse(name)) < 0)
		return -1;
	a += sizeof(mid) - 1;
	if ((f = strstr(a, fp)) == NULL || f == a)
		return -1;
	len = strcspn(f + sizeof(fp) - 1, ")");
	if (len == 0 || f[sizeof(fp) - 1 + len] != ')')
		return -1;
	if ((*addresses = strndup(a, (size_t)(f - a))) == NULL ||
	    (*fingerprint = strndup(f + sizeof(fp) - 1, len)) == NULL)
		fatal("out of memory");
	*kind = (enum cert_kind)k;
	return 0;
}

/* The keystore file of an unrecorded certificate: 1 with *key, *cert and
 * *file (caller frees), 0 if it was never written, -1 after logging. */
static int
unrecorded_load(struct job_ctx *ctx, const struct unrecorded_row *u,
    enum cert_kind kind, EVP_PKEY **key, X509 **cert, char **file)
{
	char *serial = NULL;
	int rc = -1;

	*key = NULL;
	*cert = NULL;
	*file = keystore_file(ctx->conf, AREA_KEYSTORE, cert_kind_name(kind), u->serial);
	if (access(*file, F_OK) == -1 && errno == ENOENT) {
		free(*file);
		*file = NULL;
		return 0;
	}
	if (keystore_read(ctx->keystore, *file, key, cert) == -1)
		goto done;
	if ((serial = certinfo_serial(*cert)) == NULL || strcmp(serial, u->serial) != 0) {
		log_error("%s: holds certificate %s, not %s", *file, serial ? serial : "?",
		    u->serial);
		goto done;
	}
	rc = 1;
done:
	free(serial);
	if (rc == -1) {
		EVP_PKEY_free(*key);
		X509_free(*cert);
		free(*file);
		*key = NULL;
		*cert = NULL;
		*file = NULL;
	}
	return rc;
}

/*
 * The row of a certificate whose key file was never written, from its sign
 * record.  Its own times are gone with it: notBefore is put at the signing,
 * notAfter at the CA's (no certificate of ours outlives its CA).
 */
static int
fill_row_unwritten(struct job_ctx *ctx, struct cert_row *r,
    const struct unrecorded_row *u, enum cert_kind kind, char *addresses,
    char *fingerprint)
{
	X509 *ca = ctx->ca_cert;
	time_t t = 0;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->status = CERT_SUPERSEDED;
	r->reason = -1;
	r->created_at = time(NULL);
	r->addresses = addresses;
	r->fingerprint = fingerprint;
	if ((r->uuid = strdup(u->uuid)) == NULL || (r->serial = strdup(u->serial)) == NULL ||
	    (r->subject = strdup("")) == NULL || (r->der = malloc(1)) == NULL)
		fatal("out of memory");
	r->der_len = 0;		/* an empty blob, not NULL: der is NOT NULL */
	if ((r->issuer = certinfo_name(X509_get_subject_name(ca))) == NULL)
		return -1;
	r->not_before = u->signed_at;
	certinfo_time(X509_get0_notAfter(ca), &t);
	r->not_after = t;
	return 0;
}

/* One unrecorded certificate on its way to the CRL. */
struct adoption {
	const struct unrecorded_row *u;
	enum cert_kind kind;
	char *addresses, *fingerprint;  /* from the sign record */
	EVP_PKEY *key;                  /* NULL: no key to archive */
	X509 *cert;
	char *file;                     /* its keystore file, if any */
	const char *when;               /* "before ..." for the log */
	const char *keyless;            /* why there is no key, if none */
	struct cert_row row;            /* superseded, then revoked */
};

static void
adoption_free(struct adoption *a)
{
	EVP_PKEY_free(a->key);
	X509_free(a->cert);
	cert_row_free(&a->row);
	free(a->addresses);
	free(a->fingerprint);
	free(a->file);
}

/* The key and certificate: this process's own copy in hand, else the
 * keystore file if it was written and can be read. */
static void
adoption_keys(struct job_ctx *ctx, struct adoption *a, const struct fresh *hand)
{
	const struct unrecorded_row *u = a->u;

	a->keyless = "its key was never written";
	if (hand != NULL) {
		a->key = hand->key;
		a->cert = hand->cert;
		EVP_PKEY_up_ref(a->key);
		X509_up_ref(a->cert);
		if (hand->row.keystore_path != NULL &&
		    (a->file = strdup(hand->row.keystore_path)) == NULL)
			fatal("out of memory");
	} else if (unrecorded_load(ctx, u, a->kind, &a->key, &a->cert, &a->file) == -1) {
		/* A key file that cannot be read (its password changed, say)
		 * must not keep the certificate off the CRL, nor this user's
		 * job waiting for ever: revoke by serial, leave the file. */
		log_error("user %s: the key file of %s certificate %s (signed but not "
		    "recorded) cannot be read; it stays in the keystore, and the "
		    "certificate is revoked by its serial", u->uuid,
		    cert_kind_name(a->kind), u->serial);
		a->keyless = "its key file cannot be read and stays in the keystore";
	}
}

/* The row takes the archive copy's path, protection and bundle. */
static void
row_take_archive(struct cert_row *row, struct archive_copy *copy)
{
	row->archive_path = copy->path;
	row->archive_protection = copy->protection;
	copy->path = NULL;
	if (copy->bundle != NULL) {
		if ((row->archive_bundle = malloc(copy->bundle_len)) == NULL)
			fatal("out of memory");
		memcpy(row->archive_bundle, copy->bundle, copy->bundle_len);
		row->archive_bundle_len = copy->bundle_len;
	}
	archive_copy_free(copy);
}

/* The superseded row: with its key archived first, as for any superseded
 * key (write-once; a rerun finds the same certificate there), or with only
 * what the sign record says.  0, or -1 after logging. */
static int
adoption_row(struct job_ctx *ctx, struct adoption *a)
{
	const char *kind = cert_kind_name(a->kind);
	struct archive_copy copy = { 0 };
	char friendly[256];
	int rc;

	if (a->key == NULL) {
		rc = fill_row_unwritten(ctx, &a->row, a->u, a->kind, a->addresses,
		    a->fingerprint);
		a->addresses = a->fingerprint = NULL;	/* the row's now */
		return rc;
	}
	snprintf(friendly, sizeof(friendly), "%s (%s, archived) %s", a->addresses,
	    kind, a->u->serial);
	if (archive_write(ctx->archive, a->key, a->cert, ctx->ca_cert,
	    kind, friendly, &copy) == -1) {
		log_error("user %s: cannot archive the key of %s certificate %s "
		    "(signed but not recorded); it is revoked once its key is "
		    "archived", a->u->uuid, kind, a->u->serial);
		return -1;
	}
	rc = certinfo_row(&a->row, a->u->uuid, a->addresses, a->kind, a->key, a->cert);
	a->addresses = NULL;	/* the row's now */
	row_take_archive(&a->row, &copy);
	return rc;
}

/* Recorded and revoked in one transaction, with its audit records. */
static int
adoption_record(struct job_ctx *ctx, struct adoption *a)
{
	struct cert_row *row = &a->row;
	const char *kind = cert_kind_name(a->kind);
	char keyless[128] = "";

	if (row->archive_path == NULL)
		snprintf(keyless, sizeof(keyless), " (%s)", a->keyless);
	row->status = CERT_SUPERSEDED;
	if (store_begin(ctx->st) == -1)
		return -1;
	store_cert_insert(ctx->st, row);
	store_revoke(ctx->st, row->id, CRL_REASON_SUPERSEDED, time(NULL));
	if (row->archive_path != NULL)
		store_audit(ctx->st, "archive", row->uuid, row->serial, "%s key archived "
		    "to %s (%s)", kind, row->archive_path,
		    archive_protection_name(row->archive_protection));
	store_audit(ctx->st, "revoke", row->uuid, row->serial, "%s certificate revoked: "
	    "superseded; it was signed but not recorded %s%s", kind, a->when, keyless);
	return store_commit(ctx->st);
}

/* After the commit: the keystore copy goes (the archive copy is recorded
 * by now), and the log says what happened. */
static void
adoption_done(struct job_ctx *ctx, struct adoption *a)
{
	const struct cert_row *row = &a->row;
	const char *kind = cert_kind_name(a->kind);

	if (a->file != NULL && unlink(a->file) == -1 && errno != ENOENT)
		log_warn("cannot remove %s: %s", a->file, strerror(errno));
	if (row->archive_path != NULL)
		log_warn("user %s: %s certificate %s was signed but not recorded %s; "
		    "revoked (superseded), key archived to %s", row->uuid, kind,
		    row->serial, a->when, row->archive_path);
	else
		log_warn("user %s: %s certificate %s was signed but not recorded %s; "
		    "revoked (superseded); %s", row->uuid, kind, row->serial, a->when,
		    a->keyless);
	ctx->revoked++;
}

/* Records, archives and revokes one unrecorded certificate; hand is this
 * process's own copy of it (key and certificate), if it still has one. */
static int
adopt_unrecorded(struct job_ctx *ctx, const struct unrecorded_row *u,
    const struct fresh *hand)
{
	struct adoption a = { .u = u };
	int rc = -1;

	a.when = hand != NULL ? "before this attempt failed" : "before a crash or failure";
	if (sign_detail_parse(u->detail, &a.kind, &a.addresses, &a.fingerprint) == -1) {
		log_error("user %s: certificate %s was signed but not recorded, and its "
		    "sign record does not say what it was (\"%s\"); not revoked",
		    u->uuid, u->serial, u->detail ? u->detail : "");
		return -1;
	}
	adoption_keys(ctx, &a, hand);
	if (adoption_row(ctx, &a) == 0 && adoption_record(ctx, &a) == 0) {
		adoption_done(ctx, &a);
		rc = 0;
	}
	adoption_free(&a);
	return rc;
}

int
job_unrecorded_revoke(struct job_ctx *ctx, const struct unrecorded_row *u,
    const struct fresh *hand)
{
	return adopt_unrecorded(ctx, u, hand);
}

void
job_fresh_free(struct fresh *f)
{
	EVP_PKEY_free(f->key);
	X509_free(f->cert);
	cert_row_free(&f->row);
	memset(f, 0, sizeof(*f));
}

int
job_unrecorded_load(struct job_ctx *ctx, const struct unrecorded_row *u,
    struct fresh *out)
{
	char *addresses = NULL, *fingerprint = NULL, *file = NULL;
	int rc;

	memset(out, 0, sizeof(*out));
	if (sign_detail_parse(u->detail, &out->kind, &addresses, &fingerprint) == -1) {
		log_error("user %s: certificate %s was signed but not recorded, and its "
		    "sign record does not say what it was", u->uuid, u->serial);
		return -1;
	}
	free(fingerprint);
	if ((rc = unrecorded_load(ctx, u, out->kind, &out->key, &out->cert, &file)) != 1) {
		free(addresses);
		return rc;
	}
	/* certinfo_row() takes addresses, even when it fails. */
	if (certinfo_row(&out->row, u->uuid, addresses, out->kind, out->key,
	    out->cert) == -1) {
		free(file);
		job_fresh_free(out);
		return -1;
	}
	out->row.keystore_path = file;
	out->sign_logged = 1;
	out->adopted = 1;
	return 1;
}

/* A job in KEYS that still issues decides about its user's unrecorded
 * certificates itself: it adopts those still right (job_kept.c). */
static int
left_to_job(struct job_ctx *ctx, const char *uuid)
{
	struct job job;
	int keys;

	if (job_get(ctx->st, uuid, &job) != 1)
		return 0;
	keys = job.state == JOB_KEYS && (job.action == JOB_ENROLL ||
	    job.action == JOB_REISSUE || job.action == JOB_RENEW);
	job_free(&job);
	return keys;
}

/* Seconds a signature is left to the process that made it (see below). */
#define RECENT_SIGN 300

int
job_recover_unrecorded_of(struct job_ctx *ctx, const char *uuid, const struct fresh *hand,
    size_t n)
{
	struct unrecorded_rows un = { 0 };
	int rc = 0;

	if (store_unrecorded(ctx->st, uuid, &un) == -1)
		return -1;
	for (size_t i = 0; i < un.n; i++) {
		const struct fresh *h = NULL;

		/* The scan of everyone (at start) leaves recent signatures to
		 * their own job: a certsyncctl issue may be between signing
		 * and recording right now.  Its KEYS job finds them if not. */
		if (uuid == NULL && (un.v[i].signed_at > (int64_t)time(NULL) - RECENT_SIGN ||
		    left_to_job(ctx, un.v[i].uuid)))
			continue;
		for (size_t j = 0; j < n; j++)
			if (hand[j].row.serial != NULL &&
			    strcmp(hand[j].row.serial, un.v[i].serial) == 0)
				h = &hand[j];
		/* One failure does not keep the others from their CRL. */
		if (adopt_unrecorded(ctx, &un.v[i], h) == -1)
			rc = -1;
	}
	unrecorded_rows_free(&un);
	return rc;
}

int
job_recover_unrecorded(struct job_ctx *ctx)
{
	return job_recover_unrecorded_of(ctx, NULL, NULL, 0);
}
