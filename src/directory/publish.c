/*
 * publish.c - makes users' entries show our current certificates.
 *
 * Owns: the writer connection and the value-level modify.  It reads the
 * entry first and sends only what differs: deletes of our own superseded
 * values that are present, adds of our new values that are missing.  On
 * OpenLDAP the S/MIME attribute, which has no equality rule to delete one
 * value by, is replaced with exactly the values read minus ours plus our
 * new one, asserting entryCSN; AD and 389-ds take it value by value (the
 * value itself is made when the certificates are issued: pki/smime_value.c).
 * Never: drops a value it was not handed as ours, or lets an entry grow
 * past [publish] max_values.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "directory/ldapconn.h"
#include "directory/publish.h"
#include "lib/log.h"

struct publisher {
	const struct conf *conf;
	LDAP *ld;
};

/* Values present in the entry for one attribute. */
struct present {
	struct berval **v;
	size_t n;
};

/* The entry as read: the values of our two attributes, and its entryCSN. */
struct entry_now {
	struct present cert, smime;
	char *csn;
};

/* How often a replace of the S/MIME attribute is tried in all when the
 * entry changed between our read and our write; RACED says "read again". */
#define RACE_TRIES 3
#define RACED 2

void
blobs_add(struct blobs *b, const void *data, size_t len)
{
	if ((b->v = realloc(b->v, (b->n + 1) * sizeof(*b->v))) == NULL ||
	    (b->len = realloc(b->len, (b->n + 1) * sizeof(*b->len))) == NULL ||
	    (b->v[b->n] = malloc(len ? len : 1)) == NULL)
		fatal("out of memory");
	memcpy(b->v[b->n], data, len);
	b->len[b->n++] = len;
}

void
blobs_free(struct blobs *b)
{
	for (size_t i = 0; i < b->n; i++)
		free(b->v[i]);
	free(b->v);
	free(b->len);
	memset(b, 0, sizeof(*b));
}

int
publish_open(const struct conf *conf, struct publisher **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		fatal("out of memory");
	(*out)->conf = conf;
	return 0;
}

void
publish_close(struct publisher *p)
{
	if (p == NULL)
		return;
	if (p->ld != NULL)
		ldap_unbind_ext_s(p->ld, NULL, NULL);
	free(p);
}

static void
drop_connection(struct publisher *p)
{
	if (p->ld != NULL)
		ldap_unbind_ext_s(p->ld, NULL, NULL);
	p->ld = NULL;
}

/* "userCertificate;binary" and "userCertificate" name the same attribute. */
static int
same_attr(const char *a, const char *b)
{
	size_t la = strcspn(a, ";"), lb = strcspn(b, ";");

	return la == lb && strncasecmp(a, b, la) == 0;
}

static int
has_value(const struct present *p, const void *data, size_t len)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->v[i]->bv_len == len && memcmp(p->v[i]->bv_val, data, len) == 0)
			return 1;
	return 0;
}

/* Reads the two attributes of dn, and its entryCSN.  Returns PUBLISH_*. */
static enum publish_rc
read_entry(struct publisher *p, const char *dn, struct entry_now *now)
{
	const struct conf *c = p->conf;
	char *attrs[4] = { c->publish.certificate_attribute, NULL, NULL, NULL };
	int k = 1;
	struct timeval tv = { c->directory.network_timeout, 0 };
	LDAPMessage *res = NULL, *e;
	BerElement *ber = NULL;
	char *a;
	int rc;

	if (c->publish.smime_attribute != NULL)
		attrs[k++] = c->publish.smime_attribute;
	/* OpenLDAP: what a replace asserts is unchanged (publish_apply). */
	if (c->directory.flavor == DIR_FLAVOR_OPENLDAP)
		attrs[k] = "entryCSN";
	rc = ldap_search_ext_s(p->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
	    NULL, NULL, &tv, 0, &res);
	/* Success without the entry is a deleted one too: 389-ds answers so
	 * when the account may not read the nearest existing ancestor.  Not
	 * worth retrying: an entry hidden from us is one we cannot publish to. */
	if (rc == LDAP_NO_SUCH_OBJECT ||
	    (rc == LDAP_SUCCESS && ldap_first_entry(p->ld, res) == NULL)) {
		ldap_msgfree(res);
		return PUBLISH_GONE;
	}
	if (rc != LDAP_SUCCESS || (e = ldap_first_entry(p->ld, res)) == NULL) {
		/* A lost server is retried: a warning, not an error. */
		(ldapconn_lost(rc) ? log_warn : log_error)("publish %s: cannot read "
		    "the entry: %s; will retry", dn, ldap_err2string(rc));
		if (ldapconn_lost(rc))
			drop_connection(p);
		ldap_msgfree(res);
		return PUBLISH_RETRY;
	}
	for (a = ldap_first_attribute(p->ld, e, &ber); a != NULL;
	    a = ldap_next_attribute(p->ld, e, ber)) {
		struct present *into = same_attr(a, c->publish.certificate_attribute) ?
		    &now->cert : (c->publish.smime_attribute != NULL &&
		    same_attr(a, c->publish.smime_attribute)) ? &now->smime : NULL;

		if (into != NULL && into->v == NULL) {
			into->v = ldap_get_values_len(p->ld, e, a);
			into->n = (size_t)ldap_count_values_len(into->v);
		} else if (strcasecmp(a, "entryCSN") == 0 && now->csn == NULL) {
			struct berval **v = ldap_get_values_len(p->ld, e, a);

			if (v != NULL && v[0] != NULL && v[0]->bv_len < 128 &&
			    (now->csn = strndup(v[0]->bv_val, v[0]->bv_len)) == NULL)
				fatal("out of memory");
			ldap_value_free_len(v);
		}
		ldap_memfree(a);
	}
	ber_free(ber, 0);
	ldap_msgfree(res);
	return PUBLISH_OK;
}

/* The modifications, built over borrowed buffers. */
struct mods {
	LDAPMod m[4];
	LDAPMod *list[5];
	struct berval *bv[4][32];
	struct berval store[4][32];
	int count;
};

/* The modification for (op, attr), created empty if new. */
static int
mod_slot(struct mods *mods, int op, const char *attr)
{
	int i;

	for (i = 0; i < mods->count; i++)
		if (mods->m[i].mod_op == (op | LDAP_MOD_BVALUES) &&
		    strcmp(mods->m[i].mod_type, attr) == 0)
			return i;
	mods->m[i].mod_op = op | LDAP_MOD_BVALUES;
	mods->m[i].mod_type = (char *)attr;
	mods->m[i].mod_bvalues = mods->bv[i];
	mods->list[i] = &mods->m[i];
	mods->count++;
	return i;
}

static void
mod_value(struct mods *mods, int op, const char *attr, const void *data, size_t len)
{
	int i = mod_slot(mods, op, attr), k;

	for (k = 0; mods->bv[i][k] != NULL; k++)
		;
	if (k >= 31)
		fatal("publish: too many values in one modification");
	mods->store[i][k].bv_val = (char *)data;
	mods->store[i][k].bv_len = len;
	mods->bv[i][k] = &mods->store[i][k];
}

static int
in_blobs(const struct blobs *b, const void *data, size_t len)
{
	for (size_t i = 0; i < b->n; i++)
		if (b->len[i] == len && memcmp(b->v[i], data, len) == 0)
			return 1;
	return 0;
}

/*
 * userSMIMECertificate has no equality rule in OpenLDAP's schema, so a
 * single value cannot be deleted: the attribute is replaced with the values
 * present that are not ours, plus our new one (publish_apply guards it
 * with an assertion).  Active Directory and 389-ds match the exact value:
 * there it is written value by value, like the certificate attribute, and
 * the one modify is a compare-and-swap: it deletes the exact values read
 * (refused, noSuchAttribute, if another writer took one away meanwhile)
 * and only adds, so a value another writer added meanwhile stays.  Changed
 * only if needed.  Returns 1 when the plan replaces the attribute.
 */
static int
plan_smime(struct mods *mods, const char *sattr, const struct present *smime,
    const struct blobs *old_smime, const unsigned char *new_smime, size_t new_len,
    int by_value)
{
	int changed = new_smime != NULL && !has_value(smime, new_smime, new_len);

	for (size_t i = 0; i < smime->n && !changed; i++)
		if (in_blobs(old_smime, smime->v[i]->bv_val, smime->v[i]->bv_len) &&
		    (new_smime == NULL || smime->v[i]->bv_len != new_len ||
		    memcmp(smime->v[i]->bv_val, new_smime, new_len) != 0))
			changed = 1;
	if (!changed)
		return 0;
	if (by_value) {
		for (size_t i = 0; i < smime->n; i++)
			if (in_blobs(old_smime, smime->v[i]->bv_val, smime->v[i]->bv_len) &&
			    (new_smime == NULL || smime->v[i]->bv_len != new_len ||
			    memcmp(smime->v[i]->bv_val, new_smime, new_len) != 0))
				mod_value(mods, LDAP_MOD_DELETE, sattr,
				    smime->v[i]->bv_val, smime->v[i]->bv_len);
		if (new_smime != NULL && !has_value(smime, new_smime, new_len))
			mod_value(mods, LDAP_MOD_ADD, sattr, new_smime, new_len);
		return 0;
	}
	mod_slot(mods, LDAP_MOD_REPLACE, sattr);
	for (size_t i = 0; i < smime->n; i++)
		if (!in_blobs(old_smime, smime->v[i]->bv_val, smime->v[i]->bv_len))
			mod_value(mods, LDAP_MOD_REPLACE, sattr, smime->v[i]->bv_val,
			    smime->v[i]->bv_len);
	if (new_smime != NULL)
		mod_value(mods, LDAP_MOD_REPLACE, sattr, new_smime, new_len);
	return 1;
}

/* The modifications that make the entry as read (now) show what change
 * asks; *after is how many certificate values it will hold.  Returns 1
 * when the plan replaces the S/MIME attribute. */
static int
plan_mods(const struct conf *c, struct mods *mods, const struct entry_now *now,
    const struct publish_change *change, const unsigned char *new_smime,
    size_t new_len, long *after)
{
	const char *cattr = c->publish.certificate_attribute;
	const char *sattr = c->publish.smime_attribute;
	const struct cert_rows *add = change->add, *remove = change->remove;

	*after = (long)now->cert.n;
	for (size_t i = 0; i < remove->n; i++)
		if (has_value(&now->cert, remove->v[i].der, remove->v[i].der_len)) {
			mod_value(mods, LDAP_MOD_DELETE, cattr, remove->v[i].der,
			    remove->v[i].der_len);
			(*after)--;
		}
	for (size_t i = 0; i < add->n; i++)
		if (!has_value(&now->cert, add->v[i].der, add->v[i].der_len)) {
			mod_value(mods, LDAP_MOD_ADD, cattr, add->v[i].der, add->v[i].der_len);
			(*after)++;
		}
	if (sattr == NULL)
		return 0;
	return plan_smime(mods, sattr, &now->smime, change->old_smime, new_smime,
	    new_len, c->directory.flavor != DIR_FLAVOR_OPENLDAP);
}

static enum publish_rc
connect_writer(struct publisher *p)
{
	char err[512];

	if (p->ld != NULL)
		return PUBLISH_OK;
	if ((p->ld = ldapconn_open(p->conf, err, sizeof(err))) == NULL) {
		log_error("publish: %s", err);
		return PUBLISH_RETRY;
	}
	return PUBLISH_OK;
}

/* Test builds only: CERTSYNC_PUBLISH_RACE is a command run once between
 * the read and the write, as another writer would. */
static void
race_hook(void)
{
#ifdef CS_FAILPOINTS
	const char *cmd = getenv("CERTSYNC_PUBLISH_RACE");

	if (cmd != NULL && *cmd != '\0') {
		char *copy = strdup(cmd);

		unsetenv("CERTSYNC_PUBLISH_RACE");
		if (copy == NULL || system(copy) != 0)
			log_warn("failpoint: CERTSYNC_PUBLISH_RACE failed");
		free(copy);
	}
#endif
}

/* A replace writes back what was read: only if nobody wrote the entry
 * since, which the assertion on its entryCSN guarantees.  PUBLISH_OK with
 * *ctrl, or PUBLISH_RETRY after logging. */
static int
assert_unchanged(struct publisher *p, const char *dn, const char *csn,
    LDAPControl **ctrl)
{
	char filter[160];

	snprintf(filter, sizeof(filter), "(entryCSN=%s)", csn);
	if (ldap_create_assertion_control(p->ld, filter, 1, ctrl) != LDAP_SUCCESS) {
		log_error("publish %s: cannot encode the assertion control", dn);
		return PUBLISH_RETRY;
	}
	return PUBLISH_OK;
}

/* The modify's result: PUBLISH_*, or RACED when another writer changed the
 * entry since our read and another try is allowed. */
static int
modify_result(struct publisher *p, const char *dn, int rc, int may_retry)
{
	if (rc == LDAP_SUCCESS)
		return PUBLISH_OK;
	if (rc == LDAP_NO_SUCH_OBJECT)
		return PUBLISH_GONE;
	/* The assertion failed (OpenLDAP), or a value we delete is gone or
	 * one we add is there (a compare-and-swap by value lost its race). */
	if ((rc == LDAP_ASSERTION_FAILED || rc == LDAP_NO_SUCH_ATTRIBUTE ||
	    rc == LDAP_TYPE_OR_VALUE_EXISTS) && may_retry) {
		log_notice("publish %s: the entry changed between our read and our "
		    "write; reading it again", dn);
		return RACED;
	}
	log_error("publish %s: modify failed: %s", dn, ldap_err2string(rc));
	if (ldapconn_lost(rc))
		drop_connection(p);
	return PUBLISH_RETRY;
}

/* One try: read the entry, plan what differs, write it (nothing when
 * nothing differs).  PUBLISH_*, or RACED (only when may_retry). */
static int
publish_once(struct publisher *p, const char *dn, const struct publish_change *change,
    const unsigned char *smime, size_t smime_len, int may_retry)
{
	const struct conf *c = p->conf;
	struct entry_now now = { { NULL, 0 }, { NULL, 0 }, NULL };
	LDAPControl *assert_ctrl = NULL, *ctrls[2] = { NULL, NULL };
	struct mods mods;
	long after = 0;
	int rc, replaces;

	memset(&mods, 0, sizeof(mods));
	if ((rc = read_entry(p, dn, &now)) != PUBLISH_OK)
		goto done;
	replaces = plan_mods(c, &mods, &now, change, smime, smime_len, &after);
	if (after > c->publish.max_values) {
		log_error("publish %s: %s would hold %ld values, more than [publish] "
		    "max_values %d; remove stale values by hand", dn,
		    c->publish.certificate_attribute, after, c->publish.max_values);
		rc = PUBLISH_RETRY;
		goto done;
	}
	if (mods.count == 0)
		goto done;	/* nothing differs */
	/* Only OpenLDAP replaces (plan_smime), and reads entryCSN: 389-ds
	 * would ignore a non-critical assertion control and refuse a critical
	 * one (it has none); it and AD write by value. */
	if (replaces && now.csn != NULL &&
	    (rc = assert_unchanged(p, dn, now.csn, &assert_ctrl)) != PUBLISH_OK)
		goto done;
	ctrls[0] = assert_ctrl;
	race_hook();
	rc = modify_result(p, dn, ldap_modify_ext_s(p->ld, dn, mods.list,
	    assert_ctrl ? ctrls : NULL, NULL), may_retry);
done:
	ldap_control_free(assert_ctrl);
	ldap_value_free_len(now.cert.v);
	ldap_value_free_len(now.smime.v);
	free(now.csn);
	return rc;
}

enum publish_rc
publish_apply(struct publisher *p, const char *dn, const struct publish_change *change)
{
	const unsigned char *smime = p->conf->publish.smime_attribute != NULL ?
	    change->smime : NULL;
	int rc;

	if ((rc = connect_writer(p)) != PUBLISH_OK)
		return rc;
	for (int i = 0; (rc = publish_once(p, dn, change, smime, change->smime_len,
	    i + 1 < RACE_TRIES)) == RACED; i++)
		;
	return rc;
}
