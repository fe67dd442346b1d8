/*
 * check_reconcile.c - the decision for one user, as a pure function:
 * enroll, reissue (affiliationChanged / superseded), renew, revoke,
 * unpublish, republish, hold, lift, nothing; and which are departures.
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>

#include "pipeline/reconcile.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "check_main.h"

#define DAY 86400

static time_t now = 2000000000;

static struct reconcile_policy policy = {
	.on_address_change = 1,
	.on_name_change = 1,
	.renew_before_days = 30,
	.mode = CERT_MODE_SEPARATE,
	.subject_template = "CN=%{name}",
	.ca_key_id = NULL,
};

static void
id_init(struct identity *id, const char *name, const char *mail, const char *alias)
{
	const char *why;

	memset(id, 0, sizeof(*id));
	id->uuid = strdup("u1");
	id->dn = strdup("uid=a,dc=x");
	id->display_name = name ? strdup(name) : NULL;
	id->enabled = 1;
	address_list_add(&id->addresses, address_normalize(mail, &why));
	if (alias)
		address_list_add(&id->addresses, address_normalize(alias, &why));
}

/* Active certificates as the store would hold them. */
static void
held(struct cert_rows *rows, const char *subject, const char *addresses,
    time_t not_after, int dual)
{
	rows->n = dual ? 1 : 2;
	rows->v = calloc(rows->n, sizeof(*rows->v));
	for (size_t i = 0; i < rows->n; i++) {
		struct cert_row *r = &rows->v[i];

		r->kind = dual ? CERT_KIND_DUAL : i == 0 ? CERT_KIND_SIGNING :
		    CERT_KIND_ENCRYPTION;
		r->status = CERT_ACTIVE;
		r->subject = strdup(subject);
		r->addresses = strdup(addresses);
		r->serial = strdup(i == 0 ? "AA" : "BB");
		r->not_after = not_after;
		r->der = malloc(1);
	}
}

/* published: how many of rows the store records as in the directory. */
static struct verdict
decide_pub(const struct identity *id, const struct cert_rows *rows, size_t published)
{
	struct cert_rows none = { 0 };
	struct verdict v;

	reconcile(&policy, id, rows, &none, published, now, &v);
	return v;
}

/* Nothing active, on_hold on hold (since their revoked_at). */
static struct verdict
decide_held(const struct identity *id, const struct cert_rows *on_hold)
{
	struct cert_rows none = { 0 };
	struct verdict v;

	reconcile(&policy, id, &none, on_hold, 0, now, &v);
	return v;
}

/* rows put on hold since `since`. */
static void
on_hold_since(struct cert_rows *rows, time_t since)
{
	for (size_t i = 0; i < rows->n; i++) {
		rows->v[i].status = CERT_ON_HOLD;
		rows->v[i].reason = CRL_REASON_CERTIFICATE_HOLD;
		rows->v[i].revoked_at = since;
	}
}

/* All of them published, as they are unless withdrawn. */
static struct verdict
decide(const struct identity *id, const struct cert_rows *rows)
{
	return decide_pub(id, rows, rows->n);
}

START_TEST(new_user_is_enrolled)
{
	struct identity id;
	struct cert_rows none = { 0 };
	struct verdict v;

	id_init(&id, "Alice", "alice@example.org", NULL);
	v = decide(&id, &none);
	ck_assert_int_eq(v.decision, DECIDE_ENROLL);
	ck_assert_ptr_nonnull(strstr(v.why, "alice@example.org"));
	identity_free(&id);
}
END_TEST

START_TEST(unchanged_user_needs_nothing)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	id_init(&id, "Alice", "alice@example.org", "al@example.org");
	held(&rows, "CN=Alice", "alice@example.org, al@example.org", now + 300 * DAY, 0);
	v = decide(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_NOTHING);
	/* Alias order and case are not changes. */
	free(rows.v[0].addresses);
	rows.v[0].addresses = strdup("Alice@EXAMPLE.org, al@example.org");
	identity_free(&id);
	id_init(&id, "Alice", "alice@example.org", "al@example.org");
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_NOTHING);
	cert_rows_free(&rows);
	identity_free(&id);
}
END_TEST

START_TEST(address_change_reissues_affiliation_changed)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	v = decide(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_REISSUE);
	ck_assert_int_eq(v.reason, CRL_REASON_AFFILIATION_CHANGED);
	ck_assert_int_eq(v.ca_changed, 0);
	ck_assert_ptr_nonnull(strstr(v.why, "alice.smith@example.org"));
	identity_free(&id);
	/* An alias added is an address change too. */
	id_init(&id, "Alice", "alice@example.org", "new@example.org");
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_REISSUE);
	identity_free(&id);
	/* Unless address changes are configured not to trigger. */
	policy.on_address_change = 0;
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_NOTHING);
	policy.on_address_change = 1;
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

START_TEST(name_change_reissues_superseded)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	held(&rows, "CN=Alice Example", "alice@example.org", now + 300 * DAY, 0);
	id_init(&id, "Alice Smith", "alice@example.org", NULL);
	v = decide(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_REISSUE);
	ck_assert_int_eq(v.reason, CRL_REASON_SUPERSEDED);
	ck_assert_ptr_nonnull(strstr(v.why, "CN=Alice Smith"));
	policy.on_name_change = 0;
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_NOTHING);
	policy.on_name_change = 1;
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

START_TEST(near_expiry_renews)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	id_init(&id, "Alice", "alice@example.org", NULL);
	held(&rows, "CN=Alice", "alice@example.org", now + 29 * DAY, 0);
	v = decide(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_RENEW);
	ck_assert_int_eq(v.reason, CRL_REASON_SUPERSEDED);
	cert_rows_free(&rows);
	held(&rows, "CN=Alice", "alice@example.org", now + 31 * DAY, 0);
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_NOTHING);
	cert_rows_free(&rows);
	identity_free(&id);
}
END_TEST

START_TEST(gone_or_disabled_revokes)
{
	struct identity id;
	struct cert_rows rows, none = { 0 };
	struct verdict v;

	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	v = decide(NULL, &rows);
	ck_assert_int_eq(v.decision, DECIDE_REVOKE);
	ck_assert_int_eq(v.reason, CRL_REASON_CESSATION_OF_OPERATION);
	id_init(&id, "Alice", "alice@example.org", NULL);
	id.enabled = 0;
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_REVOKE);
	/* Nothing held, nothing to withdraw. */
	ck_assert_int_eq(decide(NULL, &none).decision, DECIDE_NOTHING);
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

START_TEST(mode_change_reissues)
{
	struct identity id;
	struct cert_rows rows;

	id_init(&id, "Alice", "alice@example.org", NULL);
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 1);
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_REISSUE);
	policy.mode = CERT_MODE_DUAL;
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_NOTHING);
	policy.mode = CERT_MODE_SEPARATE;
	cert_rows_free(&rows);
	identity_free(&id);
}
END_TEST

/* A certificate whose AKI is keyid, DER-encoded into row. */
static void
with_aki(struct cert_row *row, const char *keyid_hex)
{
	X509 *x = X509_new();
	X509_EXTENSION *ext;
	X509V3_CTX ctx;
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	unsigned char *der = NULL;
	char value[128];
	int n;

	X509_set_version(x, X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), 7);
	X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC,
	    (const unsigned char *)"x", -1, -1, 0);
	X509_set_issuer_name(x, X509_get_subject_name(x));
	X509_time_adj_ex(X509_getm_notBefore(x), 0, 0, &now);
	X509_time_adj_ex(X509_getm_notAfter(x), 1, 0, &now);
	X509_set_pubkey(x, k);
	X509V3_set_ctx(&ctx, NULL, x, NULL, NULL, 0);
	snprintf(value, sizeof(value), "%s", keyid_hex);
	{
		AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
		BIGNUM *bn = NULL;
		unsigned char buf[64];
		int len;

		BN_hex2bn(&bn, value);
		len = BN_bn2bin(bn, buf);
		akid->keyid = ASN1_OCTET_STRING_new();
		ASN1_OCTET_STRING_set(akid->keyid, buf, len);
		ext = X509V3_EXT_i2d(NID_authority_key_identifier, 0, akid);
		X509_add_ext(x, ext, -1);
		X509_EXTENSION_free(ext);
		AUTHORITY_KEYID_free(akid);
		BN_free(bn);
	}
	X509_sign(x, k, EVP_sha256());
	n = i2d_X509(x, &der);
	free(row->der);
	row->der = malloc((size_t)n);
	memcpy(row->der, der, (size_t)n);
	row->der_len = (size_t)n;
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(k);
}

START_TEST(other_ca_key_reissues)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	id_init(&id, "Alice", "alice@example.org", NULL);
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	with_aki(&rows.v[0], "A1B2C3");
	with_aki(&rows.v[1], "A1B2C3");
	policy.ca_key_id = "A1B2C3";
	ck_assert_int_eq(decide(&id, &rows).decision, DECIDE_NOTHING);
	policy.ca_key_id = "D4E5F6";
	v = decide(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_REISSUE);
	ck_assert_ptr_nonnull(strstr(v.why, "another CA key"));
	ck_assert_int_eq(v.ca_changed, 1);
	policy.ca_key_id = NULL;
	cert_rows_free(&rows);
	identity_free(&id);
}
END_TEST

START_TEST(disabled_unpublish_withdraws)
{
	struct identity id;
	struct cert_rows rows, none = { 0 };
	struct verdict v;

	policy.on_disable = DISABLE_UNPUBLISH;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	id_init(&id, "Alice", "alice@example.org", NULL);
	id.enabled = 0;
	/* Published: withdrawn, nothing revoked. */
	v = decide_pub(&id, &rows, 2);
	ck_assert_int_eq(v.decision, DECIDE_UNPUBLISH);
	ck_assert_int_eq(v.reason, CRL_REASON_UNSPECIFIED);
	ck_assert_ptr_nonnull(strstr(v.why, "disabled"));
	ck_assert_str_eq(decision_name(v.decision), "unpublish");
	/* Partly published (not a state the jobs leave): withdrawn too. */
	ck_assert_int_eq(decide_pub(&id, &rows, 1).decision, DECIDE_UNPUBLISH);
	/* Already withdrawn: nothing; they stay active. */
	v = decide_pub(&id, &rows, 0);
	ck_assert_int_eq(v.decision, DECIDE_NOTHING);
	ck_assert_ptr_nonnull(strstr(v.why, "kept valid"));
	/* A disabled user with nothing held is not enrolled. */
	ck_assert_int_eq(decide_pub(&id, &none, 0).decision, DECIDE_NOTHING);
	policy.on_disable = DISABLE_REVOKE;
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

START_TEST(disabled_unpublish_never_reissues)
{
	struct identity id;
	struct cert_rows rows;

	policy.on_disable = DISABLE_UNPUBLISH;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	/* A new address while disabled: no certificate for a disabled user. */
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	id.enabled = 0;
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_NOTHING);
	ck_assert_int_eq(decide_pub(&id, &rows, 2).decision, DECIDE_UNPUBLISH);
	identity_free(&id);
	/* A new name likewise. */
	id_init(&id, "Alice Smith", "alice@example.org", NULL);
	id.enabled = 0;
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_NOTHING);
	identity_free(&id);
	cert_rows_free(&rows);
	/* A renewal waits; so does the wrong set of kinds. */
	id_init(&id, "Alice", "alice@example.org", NULL);
	id.enabled = 0;
	held(&rows, "CN=Alice", "alice@example.org", now + 2 * DAY, 0);
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_NOTHING);
	ck_assert_int_eq(decide_pub(&id, &rows, 2).decision, DECIDE_UNPUBLISH);
	cert_rows_free(&rows);
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 1);
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_NOTHING);
	policy.on_disable = DISABLE_REVOKE;
	cert_rows_free(&rows);
	identity_free(&id);
}
END_TEST

START_TEST(reenabled_republishes)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	policy.on_disable = DISABLE_UNPUBLISH;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	id_init(&id, "Alice", "alice@example.org", NULL);
	v = decide_pub(&id, &rows, 0);
	ck_assert_int_eq(v.decision, DECIDE_REPUBLISH);
	ck_assert_int_eq(v.reason, CRL_REASON_UNSPECIFIED);
	ck_assert_str_eq(decision_name(v.decision), "republish");
	ck_assert_int_eq(decide_pub(&id, &rows, 1).decision, DECIDE_REPUBLISH);
	ck_assert_int_eq(decide_pub(&id, &rows, 2).decision, DECIDE_NOTHING);
	/* Certificates not in the directory are published whatever the
	 * policy (with revoke, only an earlier unpublish leaves them so). */
	policy.on_disable = DISABLE_REVOKE;
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_REPUBLISH);
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

/*
 * Re-enabled with a change that calls for new certificates: the reissue
 * (or renewal) wins over the republish, since its job publishes the new
 * certificates and revokes the withdrawn ones; publishing the old ones
 * first would only show certificates about to be revoked.
 */
START_TEST(reenabled_with_changes_reissues)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	policy.on_disable = DISABLE_UNPUBLISH;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	v = decide_pub(&id, &rows, 0);
	ck_assert_int_eq(v.decision, DECIDE_REISSUE);
	ck_assert_int_eq(v.reason, CRL_REASON_AFFILIATION_CHANGED);
	/* With on_address_change = no, the new address waits for the renewal:
	 * the old certificates are published again. */
	policy.on_address_change = 0;
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_REPUBLISH);
	policy.on_address_change = 1;
	identity_free(&id);
	id_init(&id, "Alice Smith", "alice@example.org", NULL);
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_REISSUE);
	identity_free(&id);
	cert_rows_free(&rows);
	/* Expiring while withdrawn: renewed, not republished. */
	id_init(&id, "Alice", "alice@example.org", NULL);
	held(&rows, "CN=Alice", "alice@example.org", now + 2 * DAY, 0);
	ck_assert_int_eq(decide_pub(&id, &rows, 0).decision, DECIDE_RENEW);
	policy.on_disable = DISABLE_REVOKE;
	cert_rows_free(&rows);
	identity_free(&id);
}
END_TEST

START_TEST(gone_revokes_under_both_policies)
{
	struct cert_rows rows, none = { 0 };
	struct verdict v;

	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	for (int i = 0; i < 2; i++) {
		policy.on_disable = i == 0 ? DISABLE_REVOKE : DISABLE_UNPUBLISH;
		/* Published or withdrawn while disabled: revoked once gone. */
		for (size_t pub = 0; pub <= rows.n; pub++) {
			v = decide_pub(NULL, &rows, pub);
			ck_assert_int_eq(v.decision, DECIDE_REVOKE);
			ck_assert_int_eq(v.reason, CRL_REASON_CESSATION_OF_OPERATION);
		}
		ck_assert_int_eq(decide_pub(NULL, &none, 0).decision, DECIDE_NOTHING);
	}
	policy.on_disable = DISABLE_REVOKE;
	cert_rows_free(&rows);
}
END_TEST

START_TEST(revoke_policy_unchanged)
{
	struct identity id;
	struct cert_rows rows, none = { 0 };
	struct verdict v;

	ck_assert_int_eq(policy.on_disable, DISABLE_REVOKE);
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	id.enabled = 0;
	/* Disabled: revoked, published or not, changed or not. */
	for (size_t pub = 0; pub <= rows.n; pub++) {
		v = decide_pub(&id, &rows, pub);
		ck_assert_int_eq(v.decision, DECIDE_REVOKE);
		ck_assert_int_eq(v.reason, CRL_REASON_CESSATION_OF_OPERATION);
		ck_assert_str_eq(v.why, "the user is disabled");
	}
	ck_assert_int_eq(decide_pub(&id, &none, 0).decision, DECIDE_NOTHING);
	/* Re-enabled, nothing active is left: enrolled anew. */
	id.enabled = 1;
	ck_assert_int_eq(decide_pub(&id, &none, 0).decision, DECIDE_ENROLL);
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

/* A departure is put on hold first, and counted by the safety catch. */
START_TEST(departure_puts_on_hold)
{
	struct identity id;
	struct cert_rows rows, none = { 0 };
	struct verdict v;

	policy.hold_seconds = 7 * DAY;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	v = decide(NULL, &rows);
	ck_assert_int_eq(v.decision, DECIDE_HOLD);
	ck_assert_int_eq(v.reason, CRL_REASON_CERTIFICATE_HOLD);
	ck_assert_int_eq(v.departure, 1);
	ck_assert_str_eq(decision_name(v.decision), "hold");
	ck_assert_ptr_nonnull(strstr(v.why, "gone from the directory"));
	ck_assert_ptr_nonnull(strstr(v.why, "7 day(s)"));
	/* Disabled under on_disable = revoke: the same. */
	id_init(&id, "Alice", "alice@example.org", NULL);
	id.enabled = 0;
	v = decide(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_HOLD);
	ck_assert_int_eq(v.departure, 1);
	ck_assert_ptr_nonnull(strstr(v.why, "disabled"));
	/* Nothing to hold: nothing, and no departure to count. */
	v = decide(NULL, &none);
	ck_assert_int_eq(v.decision, DECIDE_NOTHING);
	ck_assert_int_eq(v.departure, 0);
	/* hold_days = 0: revoked at once, still a departure. */
	policy.hold_seconds = 0;
	v = decide(NULL, &rows);
	ck_assert_int_eq(v.decision, DECIDE_REVOKE);
	ck_assert_int_eq(v.reason, CRL_REASON_CESSATION_OF_OPERATION);
	ck_assert_int_eq(v.departure, 1);
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

/* On hold for hold_days: revoked for good, not counted again. */
START_TEST(hold_ends_in_revocation)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	policy.hold_seconds = 7 * DAY;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	on_hold_since(&rows, now - 7 * DAY + 60);
	v = decide_held(NULL, &rows);
	ck_assert_int_eq(v.decision, DECIDE_NOTHING);
	ck_assert_ptr_nonnull(strstr(v.why, "on hold"));
	on_hold_since(&rows, now - 7 * DAY);
	v = decide_held(NULL, &rows);
	ck_assert_int_eq(v.decision, DECIDE_REVOKE);
	ck_assert_int_eq(v.reason, CRL_REASON_CESSATION_OF_OPERATION);
	ck_assert_int_eq(v.departure, 0);
	ck_assert_ptr_nonnull(strstr(v.why, "for good"));
	/* The oldest hold counts. */
	rows.v[1].revoked_at = now;
	ck_assert_int_eq(decide_held(NULL, &rows).decision, DECIDE_REVOKE);
	/* Still disabled (on_disable = revoke) is no return. */
	id_init(&id, "Alice", "alice@example.org", NULL);
	id.enabled = 0;
	ck_assert_int_eq(decide_held(&id, &rows).decision, DECIDE_REVOKE);
	policy.hold_seconds = 0;
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

/* Back in the directory: the same certificates if they still fit. */
START_TEST(return_lifts_the_hold)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	policy.hold_seconds = 7 * DAY;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	on_hold_since(&rows, now - DAY);
	id_init(&id, "Alice", "alice@example.org", NULL);
	v = decide_held(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_LIFT);
	ck_assert_int_eq(v.departure, 0);
	ck_assert_str_eq(decision_name(v.decision), "lift");
	ck_assert_ptr_nonnull(strstr(v.why, "published again"));
	/* Past hold_days but not revoked yet: back is back. */
	on_hold_since(&rows, now - 30 * DAY);
	ck_assert_int_eq(decide_held(&id, &rows).decision, DECIDE_LIFT);
	/* Back, but disabled under on_disable = unpublish: lifted, not
	 * published, never reissued (its address changed meanwhile). */
	policy.on_disable = DISABLE_UNPUBLISH;
	identity_free(&id);
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	id.enabled = 0;
	v = decide_held(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_LIFT);
	ck_assert_ptr_nonnull(strstr(v.why, "not published"));
	policy.on_disable = DISABLE_REVOKE;
	policy.hold_seconds = 0;
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

/* Back with changes: new certificates, the held ones superseded. */
START_TEST(return_with_changes_reissues)
{
	struct identity id;
	struct cert_rows rows;
	struct verdict v;

	policy.hold_seconds = 7 * DAY;
	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	on_hold_since(&rows, now - DAY);
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	v = decide_held(&id, &rows);
	ck_assert_int_eq(v.decision, DECIDE_REISSUE);
	ck_assert_int_eq(v.reason, CRL_REASON_AFFILIATION_CHANGED);
	ck_assert_int_eq(v.departure, 0);
	ck_assert_ptr_nonnull(strstr(v.why, "alice.smith@example.org"));
	ck_assert_ptr_nonnull(strstr(v.why, "back"));
	identity_free(&id);
	id_init(&id, "Alice Smith", "alice@example.org", NULL);
	ck_assert_int_eq(decide_held(&id, &rows).decision, DECIDE_REISSUE);
	identity_free(&id);
	cert_rows_free(&rows);
	/* Expiring meanwhile: renewed. */
	held(&rows, "CN=Alice", "alice@example.org", now + 2 * DAY, 0);
	on_hold_since(&rows, now - DAY);
	id_init(&id, "Alice", "alice@example.org", NULL);
	ck_assert_int_eq(decide_held(&id, &rows).decision, DECIDE_RENEW);
	policy.hold_seconds = 0;
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

/* Which decisions the safety catch counts: those that take a user who
 * left out of the directory, and no other. */
START_TEST(only_departures_count)
{
	struct identity id;
	struct cert_rows rows, none = { 0 };

	held(&rows, "CN=Alice", "alice@example.org", now + 300 * DAY, 0);
	id_init(&id, "Alice", "alice.smith@example.org", NULL);
	ck_assert_int_eq(decide(&id, &rows).departure, 0);	/* reissue */
	ck_assert_int_eq(decide(&id, &none).departure, 0);	/* enroll */
	identity_free(&id);
	id_init(&id, "Alice", "alice@example.org", NULL);
	ck_assert_int_eq(decide_pub(&id, &rows, 0).departure, 0);	/* republish */
	policy.on_disable = DISABLE_UNPUBLISH;
	id.enabled = 0;
	ck_assert_int_eq(decide_pub(&id, &rows, 2).decision, DECIDE_UNPUBLISH);
	ck_assert_int_eq(decide_pub(&id, &rows, 2).departure, 1);
	policy.on_disable = DISABLE_REVOKE;
	identity_free(&id);
	cert_rows_free(&rows);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("reconcile");
	TCase *tc = tcase_create("decisions");

	tcase_add_test(tc, new_user_is_enrolled);
	tcase_add_test(tc, unchanged_user_needs_nothing);
	tcase_add_test(tc, address_change_reissues_affiliation_changed);
	tcase_add_test(tc, name_change_reissues_superseded);
	tcase_add_test(tc, near_expiry_renews);
	tcase_add_test(tc, gone_or_disabled_revokes);
	tcase_add_test(tc, mode_change_reissues);
	tcase_add_test(tc, other_ca_key_reissues);
	tcase_add_test(tc, disabled_unpublish_withdraws);
	tcase_add_test(tc, disabled_unpublish_never_reissues);
	tcase_add_test(tc, reenabled_republishes);
	tcase_add_test(tc, reenabled_with_changes_reissues);
	tcase_add_test(tc, gone_revokes_under_both_policies);
	tcase_add_test(tc, revoke_policy_unchanged);
	tcase_add_test(tc, departure_puts_on_hold);
	tcase_add_test(tc, hold_ends_in_revocation);
	tcase_add_test(tc, return_lifts_the_hold);
	tcase_add_test(tc, return_with_changes_reissues);
	tcase_add_test(tc, only_departures_count);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
