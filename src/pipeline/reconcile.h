/*
 * reconcile.h - deciding what a user needs.
 *
 * Owns: one pure function of (the user as the directory has them now, the
 * certificates we hold for them, active or on hold, and how many of those
 * are published, the policy, the time): enroll, reissue, renew, revoke,
 * unpublish, republish, hold, lift or nothing, with the CRL reason, whether
 * it is a departure (the safety catch counts those), and a sentence saying
 * why.
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
 * hold: withdraw the active certificates and put them on hold
 * (certificateHold), keys kept (a departed user, the reversible first step).
 * lift: the user is back: the hold is lifted, the same certificates active
 * again (and republished by the decision that follows).
 */
enum decision { DECIDE_NOTHING, DECIDE_ENROLL, DECIDE_REISSUE, DECIDE_RENEW,
    DECIDE_REVOKE, DECIDE_UNPUBLISH, DECIDE_REPUBLISH, DECIDE_HOLD, DECIDE_LIFT };

struct reconcile_policy {
	int on_address_change;
	int on_name_change;
	int renew_before_days;
	enum cert_mode mode;
	const char *subject_template;
	const char *ca_key_id;      /* hex SKI of the CA now; NULL: not checked */
	enum disable_policy on_disable; /* a disabled user: revoke or unpublish */
	int64_t hold_seconds;       /* on hold before final; 0: revoke at once */
};

struct verdict {
	enum decision decision;
	int reason;                 /* CRL reason for what gets superseded */
	int ca_changed;             /* reissue because the CA key changed */
	int departure;              /* takes a user who left out of the directory */
	char why[512];
};

/*
 * id is NULL when the user is gone (deleted, or no longer matches the
 * filter).  active holds our active certificates of the user, on_hold
 * those on hold (each with the date of its hold in revoked_at); published
 * says how many of the active ones the store records as published in the
 * directory (0 .. active->n; the rest were withdrawn while the user was
 * disabled, or are on their way back from a hold).
 *
 * Gone, or disabled with on_disable = revoke (a departure): active
 * certificates are put on hold (hold_seconds 0: revoked at once); when
 * only certificates on hold are left and the oldest hold is hold_seconds
 * old, revoke (cessationOfOperation; not a departure, its hold was).
 * Disabled with unpublish: unpublish while any is published (a departure),
 * else nothing (no reissue or renewal for a disabled user).
 * Back in the directory with certificates on hold and none active: lift
 * them if they still fit the user; if not (addresses, subject, kinds, CA,
 * expiry), reissue or renew, the held ones superseded by the new.
 * Enabled: enroll, reissue or renew as usual (a new certificate is
 * published, so it also ends a withdrawal); when none of those is due and
 * not all are published: republish.
 */
void reconcile(const struct reconcile_policy *policy, const struct identity *id,
    const struct cert_rows *active, const struct cert_rows *on_hold,
    size_t published, time_t now, struct verdict *out);

const char *decision_name(enum decision d);

/* The hex key identifier (SKI of a CA, AKI of a certificate); caller frees. */
char *reconcile_key_id(const ASN1_OCTET_STRING *id);

#endif
