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

/* The attributes a read asks for: ours, and (OpenLDAP) entryCSN, which
 * a replace asserts is unchanged (publish_apply). */
static void
read_attrs(const struct conf *c, char *attrs[4])
{
	int k = 1;

	attrs[0] = c->publish.certificate_attribute;
	attrs[1] = attrs[2] = attrs[3] = NULL;
	if (c->publish.smime_attribute != NULL)
		attrs[k++] = c->publish.smime_attribute;
	if (c->directory.flavor == DIR_FLAVOR_OPENLDAP)
		attrs[k] = "entryCSN";
}

/* What a read found (search rc, its messages) into now.  PUBLISH_*. */
static enum publish_rc
parse_read(struct publisher *p, const char *dn, int rc, LDAPMessage *res,
    struct entry_now *now)
{
	const struct conf *c = p->conf;
	LDAPMessage *e;
	BerElement *ber = NULL;
	char *a;

	/* Success without the entry is a deleted one too: 389-ds answers so
	 * when the account may not read the nearest existing ancestor.  Not
	 * worth retrying: an entry hidden from us is one we cannot publish to. */
	if (rc == LDAP_NO_SUCH_OBJECT ||
	    (rc == LDAP_SUCCESS && ldap_first_entry(p->ld, res) == NULL))
		return PUBLISH_GONE;
	if (rc != LDAP_SUCCESS || (e = ldap_first_entry(p->ld, res)) == NULL) {
		/* A lost server is retried: a warning, not an error. */
		(ldapconn_lost(rc) ? log_warn : log_error)("publish %s: cannot read "
		    "the entry: %s; will retry", dn, ldap_err2string(rc));
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
	return PUBLISH_OK;
}

/* Reads the two attributes of dn, and its entryCSN.  Returns PUBLISH_*. */
static enum publish_rc
read_entry(struct publisher *p, const char *dn, struct entry_now *now)
{
	struct timeval tv = { p->conf->directory.network_timeout, 0 };
	LDAPMessage *res = NULL;
	enum publish_rc out;
	char *attrs[4];
	int rc;

	read_attrs(p->conf, attrs);
	rc = ldap_search_ext_s(p->ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
	    NULL, NULL, &tv, 0, &res);
	out = parse_read(p, dn, rc, res, now);
	if (out == PUBLISH_RETRY && ldapconn_lost(rc))
		drop_connection(p);
	ldap_msgfree(res);
	return out;
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

/* Whether the value (data, len) is one of ours: its digest among the
 * recorded ones (the store keeps digests of what we published). */
static int
in_blobs(const struct blobs *digests, const void *data, size_t len)
{
	unsigned char d[STORE_DIGEST_LEN];

	if (digests->n == 0)
		return 0;
	store_value_digest(data, len, d);
	for (size_t i = 0; i < digests->n; i++)
		if (digests->len[i] == STORE_DIGEST_LEN &&
		    memcmp(digests->v[i], d, STORE_DIGEST_LEN) == 0)
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
 * entry since our read and another try is allowed.  The caller drops a
 * lost connection (ldapconn_lost(rc)) once nothing else is in flight. */
static int
modify_result(const char *dn, int rc, int may_retry)
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
	return PUBLISH_RETRY;
}

/*
 * What the entry as read (now) needs: the modifications into mods (none
 * when nothing differs) and, for a replace on a server with entryCSN, the
 * assertion that guards it into *ctrl (the caller frees it).  PUBLISH_OK,
 * or PUBLISH_RETRY after logging.
 */
static int
plan_write(struct publisher *p, const char *dn, const struct publish_change *change,
    const struct entry_now *now, struct mods *mods, LDAPControl **ctrl)
{
	const struct conf *c = p->conf;
	const unsigned char *smime = c->publish.smime_attribute != NULL ?
	    change->smime : NULL;
	long after = 0;
	int replaces;

	*ctrl = NULL;
	memset(mods, 0, sizeof(*mods));
	replaces = plan_mods(c, mods, now, change, smime, change->smime_len, &after);
	if (after > c->publish.max_values) {
		log_error("publish %s: %s would hold %ld values, more than [publish] "
		    "max_values %d; remove stale values by hand", dn,
		    c->publish.certificate_attribute, after, c->publish.max_values);
		return PUBLISH_RETRY;
	}
	/* Only OpenLDAP replaces (plan_smime), and reads entryCSN: 389-ds
	 * would ignore a non-critical assertion control and refuse a critical
	 * one (it has none); it and AD write by value. */
	if (mods->count > 0 && replaces && now->csn != NULL)
		return assert_unchanged(p, dn, now->csn, ctrl);
	return PUBLISH_OK;
}

static void
entry_now_free(struct entry_now *now)
{
	ldap_value_free_len(now->cert.v);
	ldap_value_free_len(now->smime.v);
	free(now->csn);
	memset(now, 0, sizeof(*now));
}

/* One try: read the entry, plan what differs, write it (nothing when
 * nothing differs).  PUBLISH_*, or RACED (only when may_retry). */
static int
publish_once(struct publisher *p, const char *dn, const struct publish_change *change,
    int may_retry)
{
	struct entry_now now = { { NULL, 0 }, { NULL, 0 }, NULL };
	LDAPControl *assert_ctrl = NULL, *ctrls[2] = { NULL, NULL };
	struct mods *mods = calloc(1, sizeof(*mods));
	int rc, lrc;

	if (mods == NULL)
		fatal("out of memory");
	if ((rc = read_entry(p, dn, &now)) != PUBLISH_OK ||
	    (rc = plan_write(p, dn, change, &now, mods, &assert_ctrl)) != PUBLISH_OK ||
	    mods->count == 0)
		goto done;	/* a failure, or nothing differs */
	ctrls[0] = assert_ctrl;
	race_hook();
	lrc = ldap_modify_ext_s(p->ld, dn, mods->list, assert_ctrl ? ctrls : NULL, NULL);
	rc = modify_result(dn, lrc, may_retry);
	if (ldapconn_lost(lrc))
		drop_connection(p);
done:
	ldap_control_free(assert_ctrl);
	entry_now_free(&now);
	free(mods);
	return rc;
}

enum publish_rc
publish_apply(struct publisher *p, const char *dn, const struct publish_change *change)
{
	int rc;

	if ((rc = connect_writer(p)) != PUBLISH_OK)
		return rc;
	for (int i = 0; (rc = publish_once(p, dn, change, i + 1 < RACE_TRIES)) == RACED &&
	    p->ld != NULL; i++)
		;
	return rc;
}

/* ---- many entries at once ---------------------------------------------------- */

/* Operations in flight at once on the writer connection: enough to keep
 * the server busy, few enough that one slow entry holds up little. */
#define WINDOW 64

/* One entry's way through publish_apply_many(). */
struct pending {
	struct publish_req *req;
	struct entry_now now;
	struct mods mods;
	LDAPControl *ctrl;
	int msgid;
	int lrc;                   /* the LDAP error of a send that failed */
	int rc;                    /* PUBLISH_*, or RACED */
	int write;                 /* read and planned: a modify to send */
};

typedef int (*send_fn)(struct publisher *, struct pending *);
typedef void (*recv_fn)(struct publisher *, struct pending *, int, LDAPMessage *);

/* The search for e's entry sent: its msgid, or -1 (e->rc set). */
static int
send_read(struct publisher *p, struct pending *e)
{
	char *attrs[4];
	int msgid = -1, rc;

	read_attrs(p->conf, attrs);
	if ((rc = ldap_search_ext(p->ld, e->req->dn, LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, NULL, 0, &msgid)) != LDAP_SUCCESS) {
		e->lrc = rc;
		e->rc = parse_read(p, e->req->dn, rc, NULL, &e->now);
		return -1;
	}
	return msgid;
}

static void
recv_read(struct publisher *p, struct pending *e, int rc, LDAPMessage *res)
{
	e->rc = parse_read(p, e->req->dn, rc, res, &e->now);
}

/* The modify planned for e sent: its msgid, or -1 (nothing to send, or a
 * failure: e->rc says which). */
static int
send_write(struct publisher *p, struct pending *e)
{
	LDAPControl *ctrls[2] = { e->ctrl, NULL };
	int msgid = -1, rc;

	if (!e->write)
		return -1;
	if ((rc = ldap_modify_ext(p->ld, e->req->dn, e->mods.list, e->ctrl ? ctrls : NULL,
	    NULL, &msgid)) != LDAP_SUCCESS) {
		e->lrc = rc;
		e->rc = modify_result(e->req->dn, rc, 1);
		return -1;
	}
	return msgid;
}

static void
recv_write(struct publisher *p, struct pending *e, int rc, LDAPMessage *res)
{
	(void)p;
	(void)res;
	e->rc = modify_result(e->req->dn, rc, 1);
}

/* The reply res's operation in v (by msgid), or NULL. */
static struct pending *
owner(struct pending *v, size_t n, LDAPMessage *res)
{
	int id = ldap_msgid(res);

	for (size_t i = 0; i < n; i++)
		if (v[i].msgid == id && id >= 0)
			return &v[i];
	return NULL;
}

/*
 * send for each of v, at most WINDOW in flight, recv with each reply.  A
 * connection that breaks (or a server that stops answering within
 * network_timeout) fails what is in flight and what is left (PUBLISH_RETRY)
 * and is dropped once nothing is in flight.  Returns 0, or -1 when the
 * connection was lost.
 */
static int
pipelined(struct publisher *p, struct pending *v, size_t n, send_fn send, recv_fn recv)
{
	struct timeval tv = { p->conf->directory.network_timeout, 0 };
	size_t next = 0, inflight = 0;
	int lost = 0;

	while ((next < n && !lost) || inflight > 0) {
		LDAPMessage *res = NULL;
		struct pending *e;
		int code = LDAP_OTHER;

		for (; next < n && !lost && inflight < WINDOW; next++)
			if ((v[next].msgid = send(p, &v[next])) >= 0)
				inflight++;
			else if (ldapconn_lost(v[next].lrc))
				lost = 1;
		if (inflight == 0)
			continue;
		if (ldap_result(p->ld, LDAP_RES_ANY, LDAP_MSG_ALL, &tv, &res) <= 0) {
			lost = 1;
			for (size_t i = 0; i < n; i++)
				if (v[i].msgid >= 0) {
					recv(p, &v[i], LDAP_SERVER_DOWN, NULL);
					v[i].msgid = -1;
				}
			inflight = 0;
			ldap_msgfree(res);
			continue;
		}
		if ((e = owner(v, n, res)) != NULL) {
			ldap_parse_result(p->ld, res, &code, NULL, NULL, NULL, NULL, 0);
			recv(p, e, code, res);
			e->msgid = -1;
			inflight--;
			lost |= ldapconn_lost(code);
		}
		ldap_msgfree(res);
	}
	for (; next < n; next++)
		v[next].rc = PUBLISH_RETRY;
	if (lost)
		drop_connection(p);
	return lost ? -1 : 0;
}

/* Each entry read: its modifications planned (e->write when there are). */
static void
plan_writes(struct publisher *p, struct pending *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct pending *e = &v[i];

		if (e->rc != PUBLISH_OK)
			continue;
		e->rc = plan_write(p, e->req->dn, e->req->change, &e->now, &e->mods, &e->ctrl);
		e->write = e->rc == PUBLISH_OK && e->mods.count > 0;
	}
}

void
publish_apply_many(struct publisher *p, struct publish_req *v, size_t n)
{
	struct pending *e = calloc(n ? n : 1, sizeof(*e));

	if (e == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++) {
		e[i].req = &v[i];
		e[i].rc = PUBLISH_RETRY;
		e[i].msgid = -1;
	}
	if (n > 0 && connect_writer(p) == PUBLISH_OK) {
		if (pipelined(p, e, n, send_read, recv_read) == 0) {
			plan_writes(p, e, n);
			race_hook();
			pipelined(p, e, n, send_write, recv_write);
		} else
			for (size_t i = 0; i < n; i++)	/* read, not written */
				if (e[i].rc == PUBLISH_OK)
					e[i].rc = PUBLISH_RETRY;
	}
	for (size_t i = 0; i < n; i++) {
		/* Another writer came between our read and our write: that entry
		 * is read and written again, on its own. */
		if (e[i].rc == RACED)
			e[i].rc = publish_apply(p, v[i].dn, v[i].change);
		*v[i].rc = e[i].rc;
		ldap_control_free(e[i].ctrl);
		entry_now_free(&e[i].now);
	}
	free(e);
}
