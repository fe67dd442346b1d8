/*
 * enroll.c - the per-user pipeline: keys, archive, issue, keystore, revoke.
 *
 * Owns: the order of a user's steps.  A superseded key is archived before
 * anything replaces it, and removed from the keystore only after its
 * archive copy is on disk and recorded.  Never: loses a key, revokes a
 * certificate before its successor is recorded, or writes the CRL.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "certinfo.h"
#include "crl.h"
#include "enroll.h"
#include "issue.h"
#include "keys.h"
#include "keystore.h"
#include "log.h"
#include "secret.h"

#define MAX_KINDS 2

/* One new certificate on its way: its key, the certificate, its row. */
struct fresh {
	enum cert_kind kind;
	EVP_PKEY *key;
	X509 *cert;
	struct cert_row row;
};

static void
fresh_free(struct fresh *f)
{
	EVP_PKEY_free(f->key);
	X509_free(f->cert);
	cert_row_free(&f->row);
}

/* The archive copy of a key still in the keystore; rerunning is harmless. */
static int
archive_key(struct enroll_ctx *ctx, const struct cert_row *row, char **path)
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

/* Archives the key of row unless done already; records where it went. */
static int
ensure_archived(struct enroll_ctx *ctx, struct cert_row *row)
{
	char *path = NULL;

	if (row->archive_path != NULL || row->keystore_path == NULL)
		return 0;
	if (archive_key(ctx, row, &path) == -1) {
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

/* The keystore copy goes only once the archive copy is recorded. */
static void
drop_keystore_copy(struct enroll_ctx *ctx, struct cert_row *row)
{
	if (row->keystore_path == NULL || row->archive_path == NULL)
		return;
	if (store_cert_set_paths(ctx->st, row->id, NULL, row->archive_path) == -1)
		return;
	if (unlink(row->keystore_path) == -1 && errno != ENOENT)
		log_warn("cannot remove %s: %s", row->keystore_path, strerror(errno));
	free(row->keystore_path);
	row->keystore_path = NULL;
}

int
enroll_revoke(struct enroll_ctx *ctx, const struct cert_row *in, int reason)
{
	struct cert_row row = *in;	/* shallow: paths are replaced below */
	int rc = -1;

	row.keystore_path = in->keystore_path ? strdup(in->keystore_path) : NULL;
	row.archive_path = in->archive_path ? strdup(in->archive_path) : NULL;
	if (ensure_archived(ctx, &row) == -1)
		goto done;
	if (store_revoke(ctx->st, row.id, reason, time(NULL)) == -1)
		goto done;
	store_audit(ctx->st, "revoke", row.uuid, row.serial, "%s certificate revoked: %s",
	    cert_kind_name(row.kind), crl_reason_name(reason));
	log_notice("user %s: revoked %s certificate %s (%s)", row.uuid,
	    cert_kind_name(row.kind), row.serial, crl_reason_name(reason));
	drop_keystore_copy(ctx, &row);
	rc = 0;
done:
	free(row.keystore_path);
	free(row.archive_path);
	return rc;
}

static const char *
display_name(const struct enroll_subject *s, char *buf, size_t len)
{
	if (s->display_name != NULL && s->display_name[0] != '\0')
		return s->display_name;
	if (s->given_name != NULL && s->surname != NULL &&
	    s->given_name[0] != '\0' && s->surname[0] != '\0') {
		snprintf(buf, len, "%s %s", s->given_name, s->surname);
		return buf;
	}
	if (s->surname != NULL && s->surname[0] != '\0')
		return s->surname;
	return s->addresses->v[0];
}

static char *
join_addresses(const struct address_list *list)
{
	size_t len = 1;
	char *out;

	for (size_t i = 0; i < list->n; i++)
		len += strlen(list->v[i]) + 2;
	if ((out = calloc(1, len)) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < list->n; i++) {
		if (i > 0)
			strcat(out, ", ");
		strcat(out, list->v[i]);
	}
	return out;
}

/* Fills the store row of a freshly signed certificate. */
static int
fill_row(struct enroll_ctx *ctx, const struct enroll_subject *subj, struct fresh *f)
{
	struct cert_row *r = &f->row;
	unsigned char *der = NULL;
	char kt[32];
	time_t t;

	memset(r, 0, sizeof(*r));
	r->kind = f->kind;
	r->status = CERT_ACTIVE;
	r->reason = -1;
	r->created_at = time(NULL);
	if ((r->uuid = strdup(subj->uuid)) == NULL ||
	    (r->key_type = strdup(keys_describe(f->key, kt, sizeof(kt)))) == NULL)
		fatal("out of memory");
	r->addresses = join_addresses(subj->addresses);
	if ((r->issuer = certinfo_name(X509_get_issuer_name(f->cert))) == NULL ||
	    (r->subject = certinfo_name(X509_get_subject_name(f->cert))) == NULL ||
	    (r->serial = certinfo_serial(f->cert)) == NULL ||
	    (r->fingerprint = certinfo_fingerprint(f->cert)) == NULL ||
	    certinfo_der(f->cert, &der, &r->der_len) == -1)
		return -1;
	/* The row's DER is freed with free(): copy out of OpenSSL's heap. */
	if ((r->der = malloc(r->der_len)) == NULL)
		fatal("out of memory");
	memcpy(r->der, der, r->der_len);
	OPENSSL_free(der);
	certinfo_time(X509_get0_notBefore(f->cert), &t);
	r->not_before = t;
	certinfo_time(X509_get0_notAfter(f->cert), &t);
	r->not_after = t;
	return 0;
}

static int
make_cert(struct enroll_ctx *ctx, const struct enroll_subject *subj,
    struct fresh *f, const char **why)
{
	char namebuf[512], friendly[256];
	struct issue_request req = {
		.kind = f->kind,
		.addresses = subj->addresses,
		.vars = {
			.name = display_name(subj, namebuf, sizeof(namebuf)),
			.given = subj->given_name,
			.sn = subj->surname,
			.mail = subj->addresses->v[0],
			.uid = subj->uid,
		},
		.now = time(NULL),
	};

	if ((f->key = keys_generate(&ctx->conf->certificates.key)) == NULL)
		return -1;
	req.key = f->key;
	if (issue_build(ctx->conf, signer_ca(ctx->signer), &req, &f->cert, why) == -1 ||
	    signer_sign_cert(ctx->signer, f->cert) == -1 ||
	    fill_row(ctx, subj, f) == -1)
		return -1;
	snprintf(friendly, sizeof(friendly), "%s (%s) %s", subj->addresses->v[0],
	    cert_kind_name(f->kind), f->row.serial);
	return keystore_save(ctx->conf, AREA_KEYSTORE, f->key, f->cert,
	    signer_ca(ctx->signer), cert_kind_name(f->kind), friendly,
	    &f->row.keystore_path);
}

/* affiliationChanged when the set of addresses moved, superseded else. */
static int
supersede_reason(const struct cert_rows *old, const struct enroll_subject *subj)
{
	char *now = join_addresses(subj->addresses);
	int reason = CRL_REASON_SUPERSEDED;

	for (size_t i = 0; i < old->n; i++)
		if (strcasecmp(old->v[i].addresses, now) != 0)
			reason = CRL_REASON_AFFILIATION_CHANGED;
	free(now);
	return reason;
}

/* Records the new certificates and marks the old superseded, atomically. */
static int
record(struct enroll_ctx *ctx, struct fresh *fresh, size_t n, struct cert_rows *old)
{
	if (store_begin(ctx->st) == -1)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (store_cert_insert(ctx->st, &fresh[i].row) == -1)
			break;
		store_audit(ctx->st, "issue", fresh[i].row.uuid, fresh[i].row.serial,
		    "%s certificate for %s, subject %s, key in %s",
		    cert_kind_name(fresh[i].kind), fresh[i].row.addresses,
		    fresh[i].row.subject, fresh[i].row.keystore_path);
	}
	for (size_t i = 0; i < old->n; i++)
		store_cert_set_status(ctx->st, old->v[i].id, CERT_SUPERSEDED);
	return store_commit(ctx->st);
}

int
enroll_user(struct enroll_ctx *ctx, const struct enroll_subject *subj,
    struct enroll_outcome *out, const char **why)
{
	struct fresh fresh[MAX_KINDS];
	struct cert_rows old = { 0 };
	size_t n = ctx->conf->certificates.mode == CERT_MODE_DUAL ? 1 : 2;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	memset(fresh, 0, sizeof(fresh));
	*why = NULL;
	if (n == 1)
		fresh[0].kind = CERT_KIND_DUAL;
	else {
		fresh[0].kind = CERT_KIND_SIGNING;
		fresh[1].kind = CERT_KIND_ENCRYPTION;
	}
	if (store_cert_query(ctx->st, CQ_UUID_ACTIVE, subj->uuid, &old) == -1)
		goto done;
	out->action = old.n ? ENROLL_REISSUE : ENROLL_NEW;
	out->reason = supersede_reason(&old, subj);
	/* Archive first: if anything below fails, the old keys are safe. */
	for (size_t i = 0; i < old.n; i++) {
		int had = old.v[i].archive_path != NULL;

		if (ensure_archived(ctx, &old.v[i]) == -1)
			goto done;
		out->archived += !had && old.v[i].archive_path != NULL;
	}
	for (size_t i = 0; i < n; i++)
		if (make_cert(ctx, subj, &fresh[i], why) == -1)
			goto done;
	if (record(ctx, fresh, n, &old) == -1)
		goto done;
	for (size_t i = 0; i < n; i++) {
		out->ids[i] = fresh[i].row.id;
		log_notice("user %s: issued %s certificate %s for %s", subj->uuid,
		    cert_kind_name(fresh[i].kind), fresh[i].row.serial,
		    fresh[i].row.addresses);
	}
	out->issued = n;
	for (size_t i = 0; i < old.n; i++)
		if (enroll_revoke(ctx, &old.v[i], out->reason) == 0)
			out->revoked++;
	rc = 0;
done:
	if (rc == -1)
		log_error("user %s (%s): %s", subj->uuid, subj->addresses->v[0],
		    *why ? *why : "certificates not issued");
	for (size_t i = 0; i < n; i++)
		fresh_free(&fresh[i]);
	cert_rows_free(&old);
	return rc;
}
