/*
 * enroll.h - one user's certificates, end to end: enroll, reissue, revoke.
 *
 * Owns: the order of the steps for a user - keys, archive the superseded
 * keys, issue, keystore, record, revoke - so that no step loses a key.
 * Never: writes a CRL (callers regenerate it once per batch), talks to the
 * directory (publishing is its own stage), or touches the CA key (signer).
 */
#ifndef CERTSYNC_ENROLL_H
#define CERTSYNC_ENROLL_H

#include "address.h"
#include "conf.h"
#include "signer.h"
#include "store.h"

struct enroll_ctx {
	const struct conf *conf;
	struct store *st;
	struct signer *signer;
};

/* Who to certify.  addresses are normalized; v[0] is the primary. */
struct enroll_subject {
	const char *uuid;          /* the identity: directory uuid, or manual id */
	const char *dn;            /* NULL for manual enrollment */
	const struct address_list *addresses;
	const char *display_name;
	const char *given_name;
	const char *surname;
	const char *uid;
};

enum enroll_action { ENROLL_NEW, ENROLL_REISSUE };

struct enroll_outcome {
	enum enroll_action action;
	int reason;                /* CRL reason for the superseded ones */
	size_t issued;             /* new certificates */
	size_t revoked;            /* superseded certificates revoked */
	size_t archived;           /* superseded keys archived */
	int64_t ids[2];            /* store ids of the new certificates */
};

/*
 * Issues the subject's certificates.  If it already has active ones they
 * are superseded: their keys archived first, then the new ones issued and
 * recorded, then the old ones revoked (affiliationChanged when the
 * addresses changed, superseded otherwise).
 * Returns 0, or -1 after logging one line naming the subject; *why is set
 * for a refusal the admin must fix (bad name, CA expired), else NULL.
 */
int enroll_user(struct enroll_ctx *ctx, const struct enroll_subject *subj,
    struct enroll_outcome *out, const char **why);

/*
 * Revokes one certificate with reason.  A key still in the keystore is
 * archived first, then removed from the keystore.  Idempotent.
 * Returns 0, or -1 after logging.
 */
int enroll_revoke(struct enroll_ctx *ctx, const struct cert_row *row, int reason);

#endif
