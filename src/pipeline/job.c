/*
 * job.c - the durable per-user state machine and its steps.
 *
 * Owns: the order of a user's steps and their crash safety.  Every step
 * reads what the store says, does work that is harmless to repeat, and
 * commits its effects with the next state in one transaction.
 * Never: loses a key, revokes before the successor is published, writes a
 * CRL per user (the batch does), or touches the CA key (the signer does).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "directory/publish.h"
#include "lib/failpoint.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pipeline/job.h"
#include "pipeline/plan.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/issue.h"
#include "pki/keys.h"
#include "pki/keystore.h"

#define MAX_KINDS 2
#define BACKOFF_FIRST 5        /* seconds before the first retry */
#define BACKOFF_MAX 3600

static const char *const action_names[] = { "enroll", "reissue", "renew", "revoke",
    "unpublish", "republish" };
#define N_ACTIONS ((int)(sizeof(action_names) / sizeof(action_names[0])))

const char *
job_action_name(enum job_action action)
{
	return action_names[action];
}

int
job_action_parse(const char *name)
{
	for (int i = 0; i < N_ACTIONS; i++)
		if (strcmp(name, action_names[i]) == 0)
			return i;
	return -1;
}

/* ---- job rows ------------------------------------------------------------ */

static int
set_state(struct store *st, struct job_row *job, const char *state)
{
	char *copy = strdup(state);

	if (copy == NULL)
		fatal("out of memory");
	free(job->state);
	job->state = copy;
	job->updated_at = time(NULL);
	job->next_attempt = 0;
	return store_job_put(st, job);
}

int
job_plan(struct store *st, const char *uuid, enum job_action action, int reason,
    const char *why, int64_t not_before)
{
	struct job_row job = { 0 };
	int found, keys, rc;

	if ((found = store_job_get(st, uuid, &job)) == -1)
		return -1;
	if (found && strcmp(job.state, "PLANNED") != 0 && strcmp(job.state, "KEYS") != 0) {
		job_row_free(&job);
		return 0;
	}
	/* KEYS stays: an attempt may have signed certificates it did not
	 * record, and job_run() looks for them when it finds that state. */
	keys = found && strcmp(job.state, "KEYS") == 0;
	job_row_free(&job);
	job.uuid = (char *)uuid;
	job.state = (char *)(keys ? "KEYS" : "PLANNED");
	job.action = (char *)job_action_name(action);
	job.reason = (char *)crl_reason_name(reason);
	job.last_error = NULL;
	job.updated_at = time(NULL);
	job.next_attempt = not_before;
	if ((rc = store_job_put(st, &job)) == 0 &&
	    (action == JOB_UNPUBLISH || action == JOB_REPUBLISH))	/* nothing revoked */
		store_audit(st, "plan", uuid, NULL, "%s: %s", job_action_name(action), why);
	else if (rc == 0)
		store_audit(st, "plan", uuid, NULL, "%s (%s): %s", job_action_name(action),
		    crl_reason_name(reason), why);
	return rc;
}

/* A failed step: the job stays where it is and is tried again later. */
static void
postpone(struct store *st, struct job_row *job, const char *what)
{
	int64_t delay = BACKOFF_FIRST;

	for (int i = 0; i < job->attempts && delay < BACKOFF_MAX; i++)
		delay *= 2;
	if (delay > BACKOFF_MAX)
		delay = BACKOFF_MAX;
	job->attempts++;
	job->next_attempt = time(NULL) + delay;
	/* Only the retry columns: the in-memory state may be one whose
	 * commit failed, and must not be written now. */
	store_job_postpone(st, job->uuid, job->attempts, job->next_attempt, what);
	log_warn("user %s: %s; %s job retried in %llds (attempt %d)", job->uuid, what,
	    job->action, (long long)delay, job->attempts);
}

int
job_load_identity(struct store *st, const char *uuid, struct identity *out)
{
	struct identity_row row;
	char *all = NULL, *save = NULL, *a;
	int found;

	memset(out, 0, sizeof(*out));
	if ((found = store_identity_get(st, uuid, &row)) != 1)
		return found;
	if (row.mail == NULL) {	/* only ever seen with bad values */
		identity_row_free(&row);
		return 0;
	}
	out->uuid = row.uuid;
	out->dn = row.dn;
	out->display_name = row.display_name;
	out->given_name = row.given_name;
	out->surname = row.surname;
	out->enabled = row.enabled;
	if (asprintf(&all, "%s\n%s", row.mail, row.aliases ? row.aliases : "") == -1)
		fatal("out of memory");
	for (a = strtok_r(all, "\n", &save); a != NULL; a = strtok_r(NULL, "\n", &save)) {
		const char *why;
		char *norm = address_normalize(a, &why);

		if (norm != NULL)
			address_list_add(&out->addresses, norm);
	}
	free(all);
	free(row.mail);
	free(row.aliases);
	free(row.skipped);
	return out->addresses.n > 0 ? 1 : 0;
}

/* ---- keys and the archive ------------------------------------------------ */

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

/* Archives the key of row unless done already; records where it went. */
static int
ensure_archived(struct job_ctx *ctx, struct cert_row *row)
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

int
job_revoke_cert(struct job_ctx *ctx, const struct cert_row *in, int reason)
{
	struct cert_row row = *in;	/* shallow: the paths are replaced below */
	char *gone = NULL;
	int rc = -1;

	row.keystore_path = in->keystore_path ? strdup(in->keystore_path) : NULL;
	row.archive_path = in->archive_path ? strdup(in->archive_path) : NULL;
	/* The archive copy is written and recorded first, on its own. */
	if (ensure_archived(ctx, &row) == -1 || store_begin(ctx->st) == -1)
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
	/* Unlinked after the commit: never a row naming a file that is gone. */
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

/* ---- ISSUED: new keys, certificates, keystore files, pending rows ------- */

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

/* The pending row of a certificate: addresses (taken, even on failure)
 * are the rfc822Names it certifies, joined as address_list_join() does. */
static int
fill_row(struct cert_row *r, const char *uuid, char *addresses, enum cert_kind kind,
    EVP_PKEY *key, X509 *cert)
{
	unsigned char *der = NULL;
	char kt[32];
	time_t t;

	memset(r, 0, sizeof(*r));
	r->kind = kind;
	r->status = CERT_PENDING;
	r->reason = -1;
	r->created_at = time(NULL);
	r->addresses = addresses;
	if ((r->uuid = strdup(uuid)) == NULL ||
	    (r->key_type = strdup(keys_describe(key, kt, sizeof(kt)))) == NULL)
		fatal("out of memory");
	if ((r->issuer = certinfo_name(X509_get_issuer_name(cert))) == NULL ||
	    (r->subject = certinfo_name(X509_get_subject_name(cert))) == NULL ||
	    (r->serial = certinfo_serial(cert)) == NULL ||
	    (r->fingerprint = certinfo_fingerprint(cert)) == NULL ||
	    certinfo_der(cert, &der, &r->der_len) == -1)
		return -1;
	/* The row's DER is freed with free(): copy it out of OpenSSL's heap. */
	if ((r->der = malloc(r->der_len)) == NULL)
		fatal("out of memory");
	memcpy(r->der, der, r->der_len);
	OPENSSL_free(der);
	certinfo_time(X509_get0_notBefore(cert), &t);
	r->not_before = t;
	certinfo_time(X509_get0_notAfter(cert), &t);
	r->not_after = t;
	return 0;
}

/* The text of a sign record; sign_detail_parse() reads it back. */
#define SIGN_DETAIL "%s certificate signed for %s (fingerprint %s)"

static int
make_cert(struct job_ctx *ctx, const struct identity *id, struct fresh *f,
    const char **why)
{
	char namebuf[2 * IDENTITY_NAME_MAX + 2], friendly[256];
	struct issue_request req = {
		.kind = f->kind,
		.addresses = &id->addresses,
		.now = time(NULL),
	};

	identity_subject_vars(id, &req.vars, namebuf, sizeof(namebuf));
	if ((f->key = keys_generate(&ctx->conf->certificates.key)) == NULL)
		return -1;
	req.key = f->key;
	if (issue_build(ctx->conf, signer_ca(ctx->signer), &req, &f->cert, why) == -1 ||
	    signer_sign_cert(ctx->signer, f->cert) == -1 ||
	    fill_row(&f->row, id->uuid, address_list_join(&id->addresses), f->kind,
	    f->key, f->cert) == -1)
		return -1;
	/* The CA's own record of what it signed, durable before anything else:
	 * a crash before the row is written leaves the serial accounted for
	 * (recover_unrecorded() finds it). */
	if (store_audit(ctx->st, "sign", id->uuid, f->row.serial, SIGN_DETAIL,
	    cert_kind_name(f->kind), f->row.addresses, f->row.fingerprint) == -1)
		return -1;
	failpoint("issue-before-keystore");
	snprintf(friendly, sizeof(friendly), "%s (%s) %s", id->addresses.v[0],
	    cert_kind_name(f->kind), f->row.serial);
	return keystore_save(ctx->conf, AREA_KEYSTORE, f->key, f->cert,
	    signer_ca(ctx->signer), cert_kind_name(f->kind), friendly,
	    &f->row.keystore_path);
}

/* ---- certificates signed but not recorded ------------------------------ */

/*
 * make_cert() writes the sign record, then the key file, and step_issue()
 * records the certificates once all are made: a crash or a failure in
 * between leaves a certificate the CA signed that the store does not know.
 * Nobody has it (it was neither published nor delivered), yet it is valid.
 * It is recorded and revoked as superseded (the job issues its successor)
 * in one transaction, its key archived first like any superseded key, then
 * taken out of the keystore.  Were the key file never written, the sign
 * record is enough: the row keeps the serial, kind, addresses and
 * fingerprint, without DER or key, and the CRL lists the serial.
 */

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
	char *pw = NULL, *serial = NULL;
	int rc = -1;

	*key = NULL;
	*cert = NULL;
	*file = keystore_file(ctx->conf, AREA_KEYSTORE, cert_kind_name(kind), u->serial);
	if (access(*file, F_OK) == -1 && errno == ENOENT) {
		free(*file);
		*file = NULL;
		return 0;
	}
	if ((pw = secret_read_password(keystore_password_file(ctx->conf, AREA_KEYSTORE),
	    "[keystore] password_file")) == NULL ||
	    keystore_load(*file, pw, key, cert) == -1)
		goto done;
	if ((serial = certinfo_serial(*cert)) == NULL || strcmp(serial, u->serial) != 0) {
		log_error("%s: holds certificate %s, not %s", *file, serial ? serial : "?",
		    u->serial);
		goto done;
	}
	rc = 1;
done:
	secret_free(pw);
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
	X509 *ca = signer_ca(ctx->signer);
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

/* Records, archives and revokes one unrecorded certificate; hand is this
 * process's own copy of it (key and certificate), if it still has one. */
static int
adopt_unrecorded(struct job_ctx *ctx, const struct unrecorded_row *u,
    const struct fresh *hand)
{
	const char *when = hand != NULL ? "before this attempt failed" :
	    "before a crash or failure";
	const char *keyless = "its key was never written";
	char *addresses = NULL, *fp = NULL, *file = NULL, *archived = NULL;
	char friendly[256];
	struct cert_row row;
	enum cert_kind kind;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = -1;

	memset(&row, 0, sizeof(row));
	if (sign_detail_parse(u->detail, &kind, &addresses, &fp) == -1) {
		log_error("user %s: certificate %s was signed but not recorded, and its "
		    "sign record does not say what it was (\"%s\"); not revoked",
		    u->uuid, u->serial, u->detail ? u->detail : "");
		return -1;
	}
	if (hand != NULL) {
		key = hand->key;
		cert = hand->cert;
		EVP_PKEY_up_ref(key);
		X509_up_ref(cert);
		if (hand->row.keystore_path != NULL &&
		    (file = strdup(hand->row.keystore_path)) == NULL)
			fatal("out of memory");
	} else if (unrecorded_load(ctx, u, kind, &key, &cert, &file) == -1) {
		/* A key file that cannot be read (its password changed, say)
		 * must not keep the certificate off the CRL, nor this user's
		 * job waiting for ever: revoke by serial, leave the file. */
		log_error("user %s: the key file of %s certificate %s (signed but not "
		    "recorded) cannot be read; it stays in the keystore, and the "
		    "certificate is revoked by its serial", u->uuid,
		    cert_kind_name(kind), u->serial);
		keyless = "its key file cannot be read and stays in the keystore";
	}
	/* The archive copy first, as for any superseded key; write-once, and
	 * a rerun finds the same certificate there. */
	if (key != NULL) {
		snprintf(friendly, sizeof(friendly), "%s (%s, archived) %s", addresses,
		    cert_kind_name(kind), u->serial);
		if (keystore_save(ctx->conf, AREA_ARCHIVE, key, cert,
		    signer_ca(ctx->signer), cert_kind_name(kind), friendly, &archived) == -1) {
			log_error("user %s: cannot archive the key of %s certificate %s "
			    "(signed but not recorded); it is revoked once its key is "
			    "archived", u->uuid, cert_kind_name(kind), u->serial);
			goto done;
		}
		rc = fill_row(&row, u->uuid, addresses, kind, key, cert);
	} else {
		rc = fill_row_unwritten(ctx, &row, u, kind, addresses, fp);
		fp = NULL;
	}
	addresses = NULL;	/* the row's now */
	if (rc == -1)
		goto done;
	rc = -1;
	row.status = CERT_SUPERSEDED;
	row.archive_path = archived;
	archived = NULL;
	if (store_begin(ctx->st) == -1)
		goto done;
	store_cert_insert(ctx->st, &row);
	store_revoke(ctx->st, row.id, CRL_REASON_SUPERSEDED, time(NULL));
	if (row.archive_path != NULL)
		store_audit(ctx->st, "archive", row.uuid, row.serial, "%s key archived "
		    "to %s", cert_kind_name(kind), row.archive_path);
	store_audit(ctx->st, "revoke", row.uuid, row.serial, "%s certificate revoked: "
	    "superseded; it was signed but not recorded %s%s%s%s", cert_kind_name(kind),
	    when, row.archive_path != NULL ? "" : " (", row.archive_path != NULL ?
	    "" : keyless, row.archive_path != NULL ? "" : ")");
	if (store_commit(ctx->st) == -1)
		goto done;
	/* Unlinked after the commit: the archive copy is recorded by now. */
	if (file != NULL && unlink(file) == -1 && errno != ENOENT)
		log_warn("cannot remove %s: %s", file, strerror(errno));
	if (row.archive_path != NULL)
		log_warn("user %s: %s certificate %s was signed but not recorded %s; "
		    "revoked (superseded), key archived to %s", row.uuid,
		    cert_kind_name(kind), row.serial, when, row.archive_path);
	else
		log_warn("user %s: %s certificate %s was signed but not recorded %s; "
		    "revoked (superseded); %s", row.uuid, cert_kind_name(kind),
		    row.serial, when, keyless);
	ctx->revoked++;
	rc = 0;
done:
	EVP_PKEY_free(key);
	X509_free(cert);
	cert_row_free(&row);
	free(addresses);
	free(fp);
	free(file);
	free(archived);
	return rc;
}

/* Seconds a signature is left to the process that made it (see below). */
#define RECENT_SIGN 300

/* Every unrecorded certificate of uuid (NULL: of anyone).  hand holds the
 * n certificates of an attempt that failed, for those it still has. */
static int
recover_unrecorded(struct job_ctx *ctx, const char *uuid, const struct fresh *hand,
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
		if (uuid == NULL && un.v[i].signed_at > (int64_t)time(NULL) - RECENT_SIGN)
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
	return recover_unrecorded(ctx, NULL, NULL, 0);
}

/* ---- ISSUED: the new certificates recorded as pending ------------------ */

static int
step_issue(struct job_ctx *ctx, struct job_row *job, const struct identity *id,
    const char **why)
{
	struct fresh fresh[MAX_KINDS];
	size_t n = ctx->conf->certificates.mode == CERT_MODE_DUAL ? 1 : 2;
	int rc = -1;

	memset(fresh, 0, sizeof(fresh));
	fresh[0].kind = n == 1 ? CERT_KIND_DUAL : CERT_KIND_SIGNING;
	fresh[1].kind = CERT_KIND_ENCRYPTION;
	if (set_state(ctx->st, job, "KEYS") == -1)
		return -1;
	failpoint("after-KEYS");
	for (size_t i = 0; i < n; i++)
		if (make_cert(ctx, id, &fresh[i], why) == -1) {
			/* What it signed is revoked now, while the keys are in hand
			 * (failing that, when the job is resumed in KEYS). */
			for (size_t j = 0; j <= i; j++)
				if (fresh[j].row.serial != NULL) {
					recover_unrecorded(ctx, id->uuid, fresh, i + 1);
					break;
				}
			goto done;
		}
	/* Rows without key files would be harmful: the files come first.  A
	 * crash here leaves files and sign records without rows, which the
	 * next start (or resumption in KEYS) records and revokes. */
	failpoint("issue-before-record");
	if (store_begin(ctx->st) == -1)
		goto done;
	for (size_t i = 0; i < n; i++) {
		store_cert_insert(ctx->st, &fresh[i].row);
		store_audit(ctx->st, "issue", id->uuid, fresh[i].row.serial,
		    "%s certificate for %s, subject %s, key in %s",
		    cert_kind_name(fresh[i].kind), fresh[i].row.addresses,
		    fresh[i].row.subject, fresh[i].row.keystore_path);
	}
	set_state(ctx->st, job, "ISSUED");
	if (store_commit(ctx->st) == -1)
		goto done;
	for (size_t i = 0; i < n; i++)
		log_notice("user %s: issued %s certificate %s for %s", id->uuid,
		    cert_kind_name(fresh[i].kind), fresh[i].row.serial,
		    fresh[i].row.addresses);
	rc = 0;
done:
	for (size_t i = 0; i < n; i++)
		fresh_free(&fresh[i]);
	return rc;
}

/* ---- ARCHIVED: every key about to be superseded is in the archive ------- */

static int
step_archive(struct job_ctx *ctx, struct job_row *job)
{
	struct cert_rows old = { 0 };
	int rc = -1;

	/* No transaction around the PKCS#12 work: each archive copy is
	 * written and recorded on its own, and a rerun skips the done ones. */
	if (store_cert_query(ctx->st, CQ_UUID_ACTIVE, job->uuid, &old) == -1)
		return -1;
	for (size_t i = 0; i < old.n; i++)
		if (ensure_archived(ctx, &old.v[i]) == -1)
			goto done;
	rc = set_state(ctx->st, job, "ARCHIVED");
done:
	cert_rows_free(&old);
	return rc;
}

/* ---- PUBLISHED: the directory shows the new and not the old -------------- */

static int
collect_blob(void *arg, const void *value, size_t len)
{
	blobs_add(arg, value, len);
	return 0;
}

static int
record_publication(struct job_ctx *ctx, struct job_row *job,
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
	set_state(ctx->st, job, "PUBLISHED");
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

static int
step_publish(struct job_ctx *ctx, struct job_row *job, const char *dn)
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
	if (prc == PUBLISH_GONE && job_action_parse(job->action) != JOB_REVOKE) {
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

/* ---- PUBLISHED for unpublish and republish: the same certificates ------- */

/* The withdrawal (or the return) recorded with the next state. */
static int
record_flip(struct job_ctx *ctx, struct job_row *job, int publish,
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
	set_state(ctx->st, job, "PUBLISHED");
	return store_commit(ctx->st);
}

/*
 * Unpublish: the entry no longer shows the user's active certificates (nor
 * our S/MIME value); they stay active, their keys in the keystore.
 * Republish: it shows them again.  Either way exact values, read first, so
 * a rerun after a crash finds the work done and only records it.
 */
static int
step_flip(struct job_ctx *ctx, struct job_row *job, const char *dn, int publish)
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

/* PLANNED -> PUBLISHED -> REVOKED: nothing is issued, archived or revoked,
 * so the REVOKED step has nothing to do but close. */
static int
run_flip(struct job_ctx *ctx, struct job_row *job, const char *dn, int publish)
{
	if (strcmp(job->state, "PLANNED") == 0 || strcmp(job->state, "KEYS") == 0) {
		if (step_flip(ctx, job, dn, publish) == -1)
			return -1;
		failpoint("after-PUBLISHED");
	}
	if (strcmp(job->state, "PUBLISHED") == 0) {
		if (set_state(ctx->st, job, "REVOKED") == -1)
			return -1;
		failpoint("after-REVOKED");
	}
	return 0;
}

/* ---- REVOKED: the superseded certificates are revoked ------------------- */

static int
step_revoke(struct job_ctx *ctx, struct job_row *job)
{
	struct cert_rows old = { 0 };
	int reason = crl_reason_parse(job->reason ? job->reason : "superseded");
	int rc = -1;

	if (reason < 0)
		reason = CRL_REASON_SUPERSEDED;
	/* One transaction per certificate: a rerun finds the rest still
	 * superseded and revokes those. */
	if (store_cert_query(ctx->st, CQ_UUID_SUPERSEDED, job->uuid, &old) == -1)
		return -1;
	for (size_t i = 0; i < old.n; i++)
		if (job_revoke_cert(ctx, &old.v[i], reason) == -1)
			goto done;
	rc = set_state(ctx->st, job, "REVOKED");
done:
	cert_rows_free(&old);
	return rc;
}

/* ---- the runner ---------------------------------------------------------- */

static int
state_is(const struct job_row *job, const char *state)
{
	return strcmp(job->state, state) == 0;
}

static int
run_steps(struct job_ctx *ctx, struct job_row *job, const struct identity *id,
    int have_id, const char **why)
{
	int action = job_action_parse(job->action);
	int revoke = action == JOB_REVOKE;

	if (action == JOB_UNPUBLISH || action == JOB_REPUBLISH)
		return run_flip(ctx, job, have_id ? id->dn : NULL,
		    action == JOB_REPUBLISH);
	if (state_is(job, "PLANNED") || state_is(job, "KEYS")) {
		if (revoke) {
			if (set_state(ctx->st, job, "ISSUED") == -1)
				return -1;
		} else if (step_issue(ctx, job, id, why) == -1)
			return -1;
		failpoint("after-ISSUED");
	}
	if (state_is(job, "ISSUED")) {
		if (step_archive(ctx, job) == -1)
			return -1;
		failpoint("after-ARCHIVED");
	}
	if (state_is(job, "ARCHIVED")) {
		if (step_publish(ctx, job, have_id ? id->dn : NULL) == -1)
			return -1;
		failpoint("after-PUBLISHED");
	}
	if (state_is(job, "PUBLISHED")) {
		if (step_revoke(ctx, job) == -1)
			return -1;
		failpoint("after-REVOKED");
	}
	return 0;
}

int
job_run(struct job_ctx *ctx, const char *uuid)
{
	struct identity id;
	struct job_row job;
	const char *why = NULL;
	int found, have_id = 0, rc = -1;

	if ((found = store_job_get(ctx->st, uuid, &job)) != 1)
		return found == 0 ? 0 : -1;
	/* KEYS: an attempt got as far as signing.  What it signed and did not
	 * record is revoked first, whatever the job does next. */
	if (state_is(&job, "KEYS") && recover_unrecorded(ctx, uuid, NULL, 0) == -1) {
		postpone(ctx->st, &job, "certificates signed but not recorded are "
		    "not revoked yet");
		goto done;
	}
	if ((have_id = job_load_identity(ctx->st, uuid, &id)) == -1)
		goto done;
	if (!have_id && job_action_parse(job.action) != JOB_REVOKE &&
	    job_action_parse(job.action) != JOB_UNPUBLISH &&
	    (state_is(&job, "PLANNED") || state_is(&job, "KEYS"))) {
		/* Nothing certifiable any more: the plan is void.  (A withdrawal
		 * still runs: closing it makes the runner decide again, and a
		 * gone user's certificates are then revoked.) */
		log_info("user %s: %s job dropped; no certifiable identity", uuid, job.action);
		rc = store_job_delete(ctx->st, uuid);
		goto done;
	}
	if (run_steps(ctx, &job, &id, have_id, &why) == 0)
		rc = 0;
	else {
		postpone(ctx->st, &job, why ? why : "a step failed");
		rc = why != NULL ? -2 : -1;
	}
done:
	if (have_id == 1)
		identity_free(&id);
	job_row_free(&job);
	return rc;
}

/* Closes one REVOKED job; a revoke job also forgets the identity. */
static int
close_job(struct job_ctx *ctx, struct job_row *job)
{
	int rc;

	if (store_begin(ctx->st) == -1)
		return -1;
	store_job_delete(ctx->st, job->uuid);
	if (job_action_parse(job->action) == JOB_REVOKE)
		store_identity_delete(ctx->st, job->uuid);
	store_audit(ctx->st, "done", job->uuid, NULL, "%s job done", job->action);
	rc = store_commit(ctx->st);
	failpoint("after-DONE");
	return rc;
}

int
job_finish_batch(struct job_ctx *ctx, struct uuid_set *closed)
{
	struct job_row job;
	int64_t number;
	int found;

	/* The durable mark, not only this process's count: a crash between
	 * a revocation and its CRL must still end in a CRL. */
	if (ctx->revoked > 0 || store_crl_pending(ctx->st) == 1) {
		if (crl_publish(ctx->conf, ctx->st, ctx->signer, &number) == -1)
			return -1;
		ctx->revoked = 0;
	}
	/* Only REVOKED jobs are due now (others wait for their retry time, or
	 * are not REVOKED); the bound keeps a store error from spinning. */
	for (int i = 0; i < 100000; i++) {
		if ((found = store_job_next_in(ctx->st, "REVOKED", &job)) != 1)
			return found;
		if (close_job(ctx, &job) == -1) {
			job_row_free(&job);
			return -1;
		}
		if (closed != NULL)
			uuid_set_add(closed, job.uuid);
		job_row_free(&job);
	}
	return 0;
}
