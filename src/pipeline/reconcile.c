/*
 * reconcile.c - the decision for one user.
 *
 * Owns: the rules.  Gone with certificates: put them on hold
 * (certificateHold), and revoke them (cessationOfOperation) once on hold
 * for hold_days.  Disabled with certificates: the same, or with
 * [reconcile] on_disable = unpublish, withdraw them from the directory
 * (unpublish) and otherwise leave them be.  Back with certificates on
 * hold: lift the hold if they still fit, else reissue.  No certificates:
 * enroll.  Addresses changed: reissue (affiliationChanged).  Name changed,
 * CA replaced, the wrong kinds for the mode: reissue (superseded).  Close
 * to expiry: renew (superseded).  Not all published: republish.  Else
 * nothing.
 * Never: performs I/O; everything it needs comes in its arguments.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "pipeline/reconcile.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/issue.h"

static const char *const decision_names[] = {
	"nothing", "enroll", "reissue", "renew", "revoke", "unpublish", "republish",
	"hold", "lift",
};

const char *
decision_name(enum decision d)
{
	return decision_names[d];
}

char *
reconcile_key_id(const ASN1_OCTET_STRING *id)
{
	char *hex;
	int n;

	if (id == NULL)
		return NULL;
	n = ASN1_STRING_length(id);
	if ((hex = malloc((size_t)n * 2 + 1)) == NULL)
		return NULL;
	for (int i = 0; i < n; i++)
		snprintf(hex + i * 2, 3, "%02X", ASN1_STRING_get0_data(id)[i]);
	hex[n * 2] = '\0';
	return hex;
}

static void verdict(struct verdict *, enum decision, int, const char *, ...)
    __attribute__((format(printf, 4, 5)));

static void
verdict(struct verdict *out, enum decision d, int reason, const char *fmt, ...)
{
	va_list ap;

	out->decision = d;
	out->reason = reason;
	out->ca_changed = 0;
	out->departure = 0;
	va_start(ap, fmt);
	vsnprintf(out->why, sizeof(out->why), fmt, ap);
	va_end(ap);
}

/* The subject our template gives the user now, as certinfo spells it. */
static char *
expected_subject(const struct reconcile_policy *p, const struct identity *id)
{
	struct subject_vars vars;
	char buf[2 * IDENTITY_NAME_MAX + 2], *s;
	X509_NAME *name = NULL;
	char why[256];

	identity_subject_vars(id, &vars, buf, sizeof(buf));
	if (issue_subject(p->subject_template, &vars, &name, why, sizeof(why)) == -1)
		return NULL;
	s = certinfo_name(name);
	X509_NAME_free(name);
	return s;
}

/* True when the active certificates are not the set the mode asks for. */
static int
wrong_kinds(const struct reconcile_policy *p, const struct cert_rows *active)
{
	int sign = 0, enc = 0, dual = 0;

	for (size_t i = 0; i < active->n; i++) {
		sign += active->v[i].kind == CERT_KIND_SIGNING;
		enc += active->v[i].kind == CERT_KIND_ENCRYPTION;
		dual += active->v[i].kind == CERT_KIND_DUAL;
	}
	if (p->mode == CERT_MODE_DUAL)
		return !(dual == 1 && sign == 0 && enc == 0);
	return !(sign == 1 && enc == 1 && dual == 0);
}

/* A certificate signed by a key other than the CA's current one. */
static int
other_ca(const struct reconcile_policy *p, const struct cert_row *row)
{
	X509 *x;
	char *aki;
	int other;

	if (p->ca_key_id == NULL)
		return 0;
	if ((x = certinfo_from_der(row->der, row->der_len)) == NULL)
		return 1;
	aki = reconcile_key_id(X509_get0_authority_key_id(x));
	other = aki == NULL || strcmp(aki, p->ca_key_id) != 0;
	free(aki);
	X509_free(x);
	return other;
}

static void
compare(const struct reconcile_policy *p, const struct identity *id,
    const struct cert_rows *active, time_t now, struct verdict *out)
{
	const struct cert_row *first = &active->v[0];
	struct address_list held;
	char *want = NULL, *have = NULL;

	if (address_list_split(first->addresses, &held) == 0) {
		int same = address_list_same(&held, &id->addresses);

		address_list_free(&held);
		if (!same && p->on_address_change) {
			have = address_list_join(&id->addresses);
			verdict(out, DECIDE_REISSUE, CRL_REASON_AFFILIATION_CHANGED,
			    "addresses changed from %s to %s", first->addresses, have);
			free(have);
			return;
		}
	}
	if (p->on_name_change && (want = expected_subject(p, id)) != NULL &&
	    strcmp(want, first->subject) != 0) {
		verdict(out, DECIDE_REISSUE, CRL_REASON_SUPERSEDED,
		    "subject changed from %s to %s", first->subject, want);
		free(want);
		return;
	}
	free(want);
	if (wrong_kinds(p, active)) {
		verdict(out, DECIDE_REISSUE, CRL_REASON_SUPERSEDED,
		    "the certificates held do not match [certificates] mode");
		return;
	}
	for (size_t i = 0; i < active->n; i++) {
		if (other_ca(p, &active->v[i])) {
			verdict(out, DECIDE_REISSUE, CRL_REASON_SUPERSEDED,
			    "certificate %s was issued by another CA key",
			    active->v[i].serial);
			out->ca_changed = 1;
			return;
		}
		if (active->v[i].not_after - now <
		    (time_t)p->renew_before_days * 86400) {
			verdict(out, DECIDE_RENEW, CRL_REASON_SUPERSEDED,
			    "certificate %s expires within renew_before_days",
			    active->v[i].serial);
			return;
		}
	}
	verdict(out, DECIDE_NOTHING, CRL_REASON_UNSPECIFIED, "up to date");
}

/* A disabled user under on_disable = unpublish: the certificates stay
 * valid and are only taken out of the directory; nothing new is issued. */
static void
disabled_unpublish(const struct cert_rows *active, size_t published,
    struct verdict *out)
{
	if (active->n == 0)
		verdict(out, DECIDE_NOTHING, CRL_REASON_UNSPECIFIED,
		    "no certificates to withdraw");
	else if (published > 0) {
		verdict(out, DECIDE_UNPUBLISH, CRL_REASON_UNSPECIFIED,
		    "the user is disabled; withdrawing %zu certificate(s) from the "
		    "directory, kept valid", active->n);
		out->departure = 1;
	} else
		verdict(out, DECIDE_NOTHING, CRL_REASON_UNSPECIFIED,
		    "the user is disabled; %zu certificate(s) kept valid, not "
		    "published", active->n);
}

/* "7 day(s)", or in seconds when the period is not whole days (tests). */
static const char *
period(int64_t seconds, char *buf, size_t len)
{
	if (seconds % 86400 == 0)
		snprintf(buf, len, "%lld day(s)", (long long)(seconds / 86400));
	else
		snprintf(buf, len, "%llds", (long long)seconds);
	return buf;
}

/* When the oldest hold began: the certificates are on hold together. */
static time_t
held_since(const struct cert_rows *on_hold)
{
	time_t since = 0;

	for (size_t i = 0; i < on_hold->n; i++)
		if (since == 0 || on_hold->v[i].revoked_at < since)
			since = (time_t)on_hold->v[i].revoked_at;
	return since;
}

/* Gone, or disabled under on_disable = revoke: on hold first, then final. */
static void
departed(const struct reconcile_policy *p, const char *what,
    const struct cert_rows *active, const struct cert_rows *on_hold, time_t now,
    struct verdict *out)
{
	char buf[32];
	time_t since = held_since(on_hold);

	if (active->n > 0 && p->hold_seconds > 0)
		verdict(out, DECIDE_HOLD, CRL_REASON_CERTIFICATE_HOLD, "the user is %s; "
		    "%zu certificate(s) withdrawn and put on hold for %s", what,
		    active->n, period(p->hold_seconds, buf, sizeof(buf)));
	else if (active->n > 0)
		verdict(out, DECIDE_REVOKE, CRL_REASON_CESSATION_OF_OPERATION,
		    "the user is %s", what);
	else if (on_hold->n > 0 && now - since >= p->hold_seconds) {
		verdict(out, DECIDE_REVOKE, CRL_REASON_CESSATION_OF_OPERATION,
		    "the user is %s, and %zu certificate(s) were on hold for %s: "
		    "revoked for good", what, on_hold->n,
		    period(p->hold_seconds, buf, sizeof(buf)));
		return;	/* the hold was the departure; this is its end */
	} else if (on_hold->n > 0) {
		verdict(out, DECIDE_NOTHING, CRL_REASON_UNSPECIFIED, "the user is %s; "
		    "%zu certificate(s) on hold, revoked for good in %s", what,
		    on_hold->n, period(since + p->hold_seconds - now, buf, sizeof(buf)));
		return;
	} else {
		verdict(out, DECIDE_NOTHING, CRL_REASON_UNSPECIFIED,
		    "no certificates to withdraw");
		return;
	}
	out->departure = 1;
}

/* Back in the directory, with certificates on hold and none active: the
 * same ones if they still fit; else new ones, which supersede them. */
static void
returned(const struct reconcile_policy *p, const struct identity *id,
    const struct cert_rows *on_hold, time_t now, struct verdict *out)
{
	char why[sizeof(out->why)];

	/* Disabled (on_disable = unpublish): never reissued, only lifted. */
	if (id->enabled)
		compare(p, id, on_hold, now, out);
	if (!id->enabled || out->decision == DECIDE_NOTHING) {
		verdict(out, DECIDE_LIFT, CRL_REASON_UNSPECIFIED, "the user is back; "
		    "lifting the hold on %zu certificate(s), the same ones %s", on_hold->n,
		    id->enabled ? "published again" : "kept valid, not published");
		return;
	}
	/* The change first, the return after: cut short, the change stays. */
	snprintf(why, sizeof(why), "%s", out->why);
	snprintf(out->why, sizeof(out->why), "%.400s (the user is back; the "
	    "certificates on hold are superseded)", why);
}

void
reconcile(const struct reconcile_policy *p, const struct identity *id,
    const struct cert_rows *active, const struct cert_rows *on_hold,
    size_t published, time_t now, struct verdict *out)
{
	if (id == NULL || (!id->enabled && p->on_disable != DISABLE_UNPUBLISH)) {
		departed(p, id == NULL ? "gone from the directory" : "disabled", active,
		    on_hold, now, out);
		return;
	}
	if (active->n == 0 && on_hold->n > 0) {
		returned(p, id, on_hold, now, out);
		return;
	}
	if (!id->enabled) {
		disabled_unpublish(active, published, out);
		return;
	}
	if (active->n == 0) {
		verdict(out, DECIDE_ENROLL, CRL_REASON_UNSPECIFIED,
		    "new user with %s", id->addresses.v[0]);
		return;
	}
	/* A reissue or renewal publishes its new certificates: it ends a
	 * withdrawal too, so it goes first. */
	compare(p, id, active, now, out);
	if (out->decision == DECIDE_NOTHING && published < active->n)
		verdict(out, DECIDE_REPUBLISH, CRL_REASON_UNSPECIFIED,
		    "the user is enabled; publishing %zu certificate(s) again, "
		    "unchanged", active->n);
}
