/*
 * job_kept.c - a failed attempt's certificates, kept for the next one.
 *
 * Owns: the runner's kept set (certificates an attempt signed and could not
 * record, with their keys, by user), and the keys step's first move: each
 * unrecorded certificate of the user is adopted (recorded as this
 * attempt's, no new signature) when the profile would issue exactly it now
 * for the user's identity, and revoked otherwise.  A retry after a store
 * that was full or locked for a minute therefore signs nothing new and
 * revokes nothing: the CRL does not grow with each attempt.
 * Never: adopts what the profile would not issue now (another address,
 * name, CA, key type or profile), or two of a kind; drops a kept key whose
 * certificate is still unrecorded.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "pipeline/job_kept.h"
#include "pki/certinfo.h"
#include "pki/issue.h"

#define KEPT_MAX 1024          /* certificates in the kept set; more are revoked */
#define HAND_MAX 8             /* of one user, taken back at once */
#define FRESH_SLACK 86400      /* seconds of validity an adopted one may lack */

struct kept_certs {
	struct fresh *v;
	size_t n;
};

struct kept_certs *
kept_new(void)
{
	struct kept_certs *h;

	if ((h = calloc(1, sizeof(*h))) == NULL ||
	    (h->v = calloc(KEPT_MAX, sizeof(*h->v))) == NULL)
		fatal("out of memory");
	return h;
}

void
kept_free(struct kept_certs *h)
{
	if (h == NULL)
		return;
	for (size_t i = 0; i < h->n; i++)
		job_fresh_free(&h->v[i]);
	free(h->v);
	free(h);
}

/* Moves *f into the kept set; 0, or -1 when it is full (f untouched). */
static int
kept_put(struct kept_certs *h, struct fresh *f)
{
	if (h == NULL || h->n == KEPT_MAX || f->row.serial == NULL || f->row.uuid == NULL)
		return -1;
	h->v[h->n++] = *f;
	memset(f, 0, sizeof(*f));
	return 0;
}

/* Moves uuid's certificates out of the kept set into out (at most max). */
static size_t
kept_take(struct kept_certs *h, const char *uuid, struct fresh *out, size_t max)
{
	size_t n = 0;

	for (size_t i = 0; h != NULL && i < h->n && n < max; ) {
		if (strcmp(h->v[i].row.uuid, uuid) != 0) {
			i++;
			continue;
		}
		out[n++] = h->v[i];
		h->v[i] = h->v[--h->n];
		memset(&h->v[h->n], 0, sizeof(h->v[h->n]));
	}
	return n;
}

/* Every extension of want is in have, with the same value and criticality,
 * and have has no other. */
static int
same_extensions(const X509 *want, const X509 *have)
{
	if (X509_get_ext_count(want) != X509_get_ext_count(have))
		return 0;
	for (int i = 0; i < X509_get_ext_count(want); i++) {
		X509_EXTENSION *a = X509_get_ext(want, i), *b;
		int j = X509_get_ext_by_OBJ(have, X509_EXTENSION_get_object(a), -1);

		if (j < 0 || (b = X509_get_ext(have, j)) == NULL ||
		    X509_EXTENSION_get_critical(a) != X509_EXTENSION_get_critical(b) ||
		    ASN1_OCTET_STRING_cmp(X509_EXTENSION_get_data(a),
		    X509_EXTENSION_get_data(b)) != 0)
			return 0;
	}
	return 1;
}

/*
 * Whether f is what the profile would issue now for id with f's key: the
 * same subject, issuer and extensions (addresses, usages, CA key, URLs),
 * the configured key type, and nearly the full validity.
 */
static int
still_right(struct job_ctx *ctx, const struct identity *id, const struct fresh *f)
{
	char namebuf[2 * IDENTITY_NAME_MAX + 2];
	struct issue_request req = {
		.kind = f->kind,
		.addresses = &id->addresses,
		.now = time(NULL),
		.key = f->key,
	};
	char why[256];
	X509 *want = NULL;
	time_t have_end = 0, want_end = 0;
	int right;

	if (f->row.key_type == NULL ||
	    strcmp(f->row.key_type, ctx->conf->certificates.key.name) != 0)
		return 0;
	identity_subject_vars(id, &req.vars, namebuf, sizeof(namebuf));
	if (issue_build(ctx->conf, ctx->ca_cert, &req, &want, why,
	    sizeof(why)) != 0)
		return 0;
	right = X509_NAME_cmp(X509_get_subject_name(want),
	    X509_get_subject_name(f->cert)) == 0 &&
	    X509_NAME_cmp(X509_get_issuer_name(want), X509_get_issuer_name(f->cert)) == 0 &&
	    same_extensions(want, f->cert) &&
	    certinfo_time(X509_get0_notAfter(f->cert), &have_end) == 0 &&
	    certinfo_time(X509_get0_notAfter(want), &want_end) == 0 &&
	    have_end + FRESH_SLACK >= want_end;
	X509_free(want);
	return right;
}

/* The empty slot for kind, or -1. */
static int
slot_for(const struct fresh *fresh, size_t n, enum cert_kind kind)
{
	for (size_t i = 0; i < n; i++)
		if (fresh[i].kind == kind && fresh[i].cert == NULL)
			return (int)i;
	return -1;
}

/* One unrecorded certificate u: adopted into its slot, or revoked.  Its
 * copy in hand (or from its keystore file) is used either way. */
static int
settle(struct job_ctx *ctx, const struct identity *id, const struct unrecorded_row *u,
    struct fresh *hand, size_t nh, struct fresh *fresh, size_t n)
{
	struct fresh loaded, *cand = NULL;
	int slot = -1, rc;

	memset(&loaded, 0, sizeof(loaded));
	for (size_t i = 0; i < nh && cand == NULL; i++)
		if (hand[i].cert != NULL && strcmp(hand[i].row.serial, u->serial) == 0)
			cand = &hand[i];
	/* 0: never written, -1: unreadable; either way it is revoked by serial. */
	if (cand == NULL && job_unrecorded_load(ctx, u, &loaded) == 1)
		cand = &loaded;
	if (cand != NULL)
		slot = slot_for(fresh, n, cand->kind);
	if (slot >= 0 && still_right(ctx, id, cand)) {
		fresh[slot] = *cand;
		fresh[slot].adopted = 1;
		memset(cand, 0, sizeof(*cand));
		log_info("user %s: %s certificate %s, signed by an earlier attempt and "
		    "not recorded, is still right: recording it, not signing again",
		    u->uuid, cert_kind_name(fresh[slot].kind), u->serial);
		return 0;
	}
	rc = job_unrecorded_revoke(ctx, u, cand);
	if (cand == &loaded || (cand != NULL && rc == 0))
		job_fresh_free(cand);
	return rc;
}

/* Whether serial is among the unrecorded ones. */
static int
unrecorded_has(const struct unrecorded_rows *un, const char *serial)
{
	for (size_t i = 0; i < un->n; i++)
		if (strcmp(un->v[i].serial, serial) == 0)
			return 1;
	return 0;
}

int
job_adopt_unrecorded(struct job_ctx *ctx, const struct identity *id,
    struct fresh *fresh, size_t n)
{
	struct fresh hand[HAND_MAX];
	struct unrecorded_rows un = { 0 };
	size_t nh;
	int rc = -1, listed = 0;

	memset(hand, 0, sizeof(hand));
	nh = kept_take(ctx->kept, id->uuid, hand, HAND_MAX);
	/* A kept certificate whose sign record could not be written gets it
	 * first: nothing the CA signed stays unaccounted for. */
	for (size_t i = 0; i < nh; i++)
		if (!hand[i].sign_logged) {
			if (job_sign_record(ctx->st, &hand[i].row) == -1)
				goto done;
			hand[i].sign_logged = 1;
		}
	if (store_unrecorded(ctx->st, id->uuid, &un) == -1)
		goto done;
	listed = 1;
	rc = 0;
	for (size_t i = un.n; i-- > 0; )	/* newest first */
		if (settle(ctx, id, &un.v[i], hand, nh, fresh, n) == -1)
			rc = -1;
done:
	/* Back into the kept set: what could not be settled.  One no longer
	 * unrecorded (a row records it now) needs no copy. */
	for (size_t i = 0; i < nh; i++)
		if (hand[i].cert != NULL && (listed && !unrecorded_has(&un, hand[i].row.serial)))
			job_fresh_free(&hand[i]);
		else if (hand[i].cert != NULL && kept_put(ctx->kept, &hand[i]) == -1)
			job_fresh_free(&hand[i]);	/* cannot happen: it came from there */
	unrecorded_rows_free(&un);
	return rc;
}

void
job_keep_unrecorded(struct job_ctx *ctx, const char *uuid, struct fresh *fresh,
    size_t n)
{
	int left = 0;

	for (size_t i = 0; i < n; i++) {
		if (fresh[i].cert == NULL)
			continue;
		if (kept_put(ctx->kept, &fresh[i]) == 0)
			continue;
		/* No kept set: revoked now, with the key in hand, which needs the
		 * sign record the recovery goes by. */
		if (!fresh[i].sign_logged && job_sign_record(ctx->st, &fresh[i].row) == 0)
			fresh[i].sign_logged = 1;
		left = 1;
	}
	if (left)
		job_recover_unrecorded_of(ctx, uuid, fresh, n);
}
