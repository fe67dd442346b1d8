/*
 * reconcile.h - deciding what a user needs.
 *
 * Owns: one pure function of (the user as the directory has them now, the
 * certificates we hold for them, the policy, the time): enroll, reissue,
 * renew, revoke or nothing, with the CRL reason and a sentence saying why.
 * Never: looks at certificate attributes in the directory (our own writes
 * come back through the change source and must cause no work), performs
 * I/O, or reads the clock.
 */
#ifndef CERTSYNC_RECONCILE_H
#define CERTSYNC_RECONCILE_H

#include <time.h>

#include "identity.h"
#include "store.h"

enum decision { DECIDE_NOTHING, DECIDE_ENROLL, DECIDE_REISSUE, DECIDE_RENEW,
    DECIDE_REVOKE };

struct reconcile_policy {
	int on_address_change;
	int on_name_change;
	int renew_before_days;
	enum cert_mode mode;
	const char *subject_template;
	const char *ca_key_id;      /* hex SKI of the CA now; NULL: not checked */
};

struct verdict {
	enum decision decision;
	int reason;                 /* CRL reason for what gets superseded */
	int ca_changed;             /* reissue because the CA key changed */
	char why[512];
};

/*
 * id is NULL when the user is gone (deleted, or no longer matches the
 * filter).  active holds our active certificates of the user.
 */
void reconcile(const struct reconcile_policy *policy, const struct identity *id,
    const struct cert_rows *active, time_t now, struct verdict *out);

const char *decision_name(enum decision d);

/* The hex key identifier (SKI of a CA, AKI of a certificate); caller frees. */
char *reconcile_key_id(const ASN1_OCTET_STRING *id);

#endif
