/*
 * reconcile.h - deciding what a user needs.
 *
 * Owns: one pure function of (the user as the directory has them now, the
 * certificates we hold for them and how many of those are published, the
 * policy, the time): enroll, reissue, renew, revoke, unpublish, republish
 * or nothing, with the CRL reason and a sentence saying why.
 * Never: looks at certificate attributes in the directory (our own writes
 * come back through the change source and must cause no work), performs
 * I/O, or reads the clock.
 */
#ifndef CERTSYNC_RECONCILE_H
#define CERTSYNC_RECONCILE_H

#include <time.h>

#include "lib/conf.h"
#include "pipeline/identity.h"
#include "store/store.h"

/*
 * unpublish: withdraw the active certificates from the directory and keep
 * them valid (a disabled user, [reconcile] on_disable = unpublish).
 * republish: publish the active certificates again, unchanged (an enabled
 * user whose certificates are not in the directory).
 */
enum decision { DECIDE_NOTHING, DECIDE_ENROLL, DECIDE_REISSUE, DECIDE_RENEW,
    DECIDE_REVOKE, DECIDE_UNPUBLISH, DECIDE_REPUBLISH };

struct reconcile_policy {
	int on_address_change;
	int on_name_change;
	int renew_before_days;
	enum cert_mode mode;
	const char *subject_template;
	const char *ca_key_id;      /* hex SKI of the CA now; NULL: not checked */
	enum disable_policy on_disable; /* a disabled user: revoke or unpublish */
};

struct verdict {
	enum decision decision;
	int reason;                 /* CRL reason for what gets superseded */
	int ca_changed;             /* reissue because the CA key changed */
	char why[512];
};

/*
 * id is NULL when the user is gone (deleted, or no longer matches the
 * filter).  active holds our active certificates of the user; published
 * says how many of them the store records as published in the directory
 * (0 .. active->n; the rest were withdrawn while the user was disabled).
 *
 * Gone, with certificates: revoke, whatever the policy.  Disabled: with
 * on_disable = revoke, revoke; with unpublish, unpublish while any is
 * published, else nothing (no reissue or renewal for a disabled user).
 * Enabled: enroll, reissue or renew as usual (a new certificate is
 * published, so it also ends a withdrawal); when none of those is due and
 * not all are published: republish.
 */
void reconcile(const struct reconcile_policy *policy, const struct identity *id,
    const struct cert_rows *active, size_t published, time_t now,
    struct verdict *out);

const char *decision_name(enum decision d);

/* The hex key identifier (SKI of a CA, AKI of a certificate); caller frees. */
char *reconcile_key_id(const ASN1_OCTET_STRING *id);

#endif
