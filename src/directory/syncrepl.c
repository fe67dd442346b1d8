/*
 * syncrepl.c - RFC 4533 on the wire: the request control and the decoding
 * of entries, sync info messages and the sync done control.
 *
 * Owns: BER in and out for content synchronization.  Never: calls
 * ldap_result (watch.c drains), or touches the store.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory/ds389.h"
#include "directory/syncrepl.h"
#include "lib/log.h"

/* The attributes we read; never the certificate attributes, so our own
 * writes cannot look like a change worth acting on. */
char **
syncrepl_wanted_attrs(const struct conf *c, int with_uuid)
{
	static char *attrs[12];
	int n = 0;

	attrs[n++] = c->directory.mail_attribute;
	if (c->directory.alias_attribute != NULL)
		attrs[n++] = c->directory.alias_attribute;
	attrs[n++] = c->directory.display_name_attribute;
	attrs[n++] = c->directory.given_name_attribute;
	attrs[n++] = c->directory.surname_attribute;
	attrs[n++] = c->directory.uid_attribute;
	if (c->directory.flavor == DIR_FLAVOR_AD) {
		attrs[n++] = (char *)"userAccountControl";
		if (with_uuid) {
			attrs[n++] = (char *)"objectGUID";
			attrs[n++] = (char *)"isDeleted";
		}
	} else if (with_uuid)
		attrs[n++] = (char *)(c->directory.flavor == DIR_FLAVOR_389DS ?
		    DS389_ID_ATTR : "entryUUID");
	attrs[n] = NULL;
	return attrs;
}

int
syncrepl_scope(const struct conf *c)
{
	return strcmp(c->directory.scope, "one") == 0 ? LDAP_SCOPE_ONELEVEL :
	    LDAP_SCOPE_SUBTREE;
}

int
syncrepl_search(LDAP *ld, const struct conf *conf, int mode,
    const struct berval *cookie, int *msgid)
{
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL };
	struct berval value = { 0, NULL };
	int rc;

	if (ber == NULL)
		fatal("out of memory");
	if (ber_printf(ber, "{e", (ber_int_t)mode) == -1 ||
	    (cookie != NULL && cookie->bv_val != NULL &&
	    ber_printf(ber, "O", cookie) == -1) ||
	    ber_printf(ber, "N}") == -1 || ber_flatten2(ber, &value, 0) == -1) {
		ber_free(ber, 1);
		return LDAP_ENCODING_ERROR;
	}
	rc = ldap_control_create(LDAP_CONTROL_SYNC, 1, &value, 1, &ctrl);
	ber_free(ber, 1);
	if (rc != LDAP_SUCCESS)
		return rc;
	ctrls[0] = ctrl;
	rc = ldap_search_ext(ld, conf->directory.base, syncrepl_scope(conf),
	    conf->directory.filter, syncrepl_wanted_attrs(conf, 0), 0, ctrls, NULL, NULL, 0,
	    msgid);
	ldap_control_free(ctrl);
	return rc;
}

int
syncrepl_poll_search(LDAP *ld, const struct conf *conf, int *msgid)
{
	return ldap_search_ext(ld, conf->directory.base, syncrepl_scope(conf),
	    conf->directory.filter, syncrepl_wanted_attrs(conf, 1), 0, NULL, NULL, NULL, 0,
	    msgid);
}

int
syncrepl_id_search(LDAP *ld, const struct conf *conf, int *msgid)
{
	char *attrs[] = { (char *)syncrepl_id_attr(conf->directory.flavor), NULL };

	return ldap_search_ext(ld, conf->directory.base, syncrepl_scope(conf),
	    conf->directory.filter, attrs, 0, NULL, NULL, NULL, 0, msgid);
}

static void
format_uuid(const struct berval *bv, char out[37])
{
	const unsigned char *u = (const unsigned char *)bv->bv_val;

	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2], u[3], u[4], u[5], u[6],
	    u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

/* ---- entries ----------------------------------------------------------------- */

static void
add_attr(struct dir_entry *e, char *name, struct berval **vals)
{
	struct dir_attr *a;
	size_t n = (size_t)ldap_count_values_len(vals);

	if ((e->attrs = realloc(e->attrs, (e->nattrs + 1) * sizeof(*e->attrs))) == NULL)
		fatal("out of memory");
	a = &e->attrs[e->nattrs++];
	a->name = name;
	a->nvalues = n;
	if ((a->values = calloc(n ? n : 1, sizeof(*a->values))) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++) {
		struct dir_value *v = &a->values[i];
		char *copy = malloc(vals[i]->bv_len + 1);

		if (copy == NULL)
			fatal("out of memory");
		memcpy(copy, vals[i]->bv_val, vals[i]->bv_len);
		copy[vals[i]->bv_len] = '\0';
		v->val = copy;
		v->len = vals[i]->bv_len;
	}
}

void
syncrepl_guid_text(const unsigned char g[16], char out[37])
{
	/* Microsoft's textual form: the first three fields little-endian,
	 * as Get-ADUser and the DEL: names of deleted objects show it. */
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-"
	    "%02x%02x%02x%02x%02x%02x", g[3], g[2], g[1], g[0], g[5], g[4], g[7],
	    g[6], g[8], g[9], g[10], g[11], g[12], g[13], g[14], g[15]);
}

/* DN and attributes of msg into e (uuid left to the caller). */
int
syncrepl_read_entry(LDAP *ld, LDAPMessage *msg, struct dir_entry *e)
{
	BerElement *ber = NULL;
	char *dn, *a;

	memset(e, 0, sizeof(*e));
	if ((dn = ldap_get_dn(ld, msg)) == NULL)
		return -1;
	if ((e->dn = strdup(dn)) == NULL)
		fatal("out of memory");
	ldap_memfree(dn);
	for (a = ldap_first_attribute(ld, msg, &ber); a != NULL;
	    a = ldap_next_attribute(ld, msg, ber)) {
		struct berval **vals = ldap_get_values_len(ld, msg, a);
		char *name = strdup(a);

		if (name == NULL)
			fatal("out of memory");
		add_attr(e, name, vals);
		ldap_value_free_len(vals);
		ldap_memfree(a);
	}
	ber_free(ber, 0);
	return 0;
}

const char *
syncrepl_id_attr(enum dir_flavor flavor)
{
	switch (flavor) {
	case DIR_FLAVOR_AD: return "objectGUID";
	case DIR_FLAVOR_389DS: return DS389_ID_ATTR;
	default: return "entryUUID";
	}
}

/* The uuid an id value stands for, as the sync state control sends it. */
static int
id_text(enum dir_flavor flavor, const struct dir_value *v, char out[37])
{
	switch (flavor) {
	case DIR_FLAVOR_AD:
		if (v->len != 16)
			return -1;
		syncrepl_guid_text((const unsigned char *)v->val, out);
		return 0;
	case DIR_FLAVOR_389DS:
		return ds389_uuid(v->val, v->len, out);
	default:
		if (v->len == 0 || v->len > 36)
			return -1;
		memcpy(out, v->val, v->len);
		out[v->len] = '\0';
		return 0;
	}
}

int
syncrepl_entry(LDAP *ld, enum dir_flavor flavor, LDAPMessage *msg,
    struct dir_entry *e)
{
	const char *want = syncrepl_id_attr(flavor);
	char uuid[37];

	if (syncrepl_read_entry(ld, msg, e) == -1)
		return -1;
	for (size_t i = 0; i < e->nattrs && e->uuid == NULL; i++) {
		const struct dir_attr *a = &e->attrs[i];

		if (a->nvalues != 1 || strcasecmp(a->name, want) != 0 ||
		    id_text(flavor, &a->values[0], uuid) == -1)
			continue;
		if ((e->uuid = strdup(uuid)) == NULL)
			fatal("out of memory");
	}
	return 0;
}

/* ---- sync state, sync info, sync done -------------------------------------- */

/*
 * A BER reader over a control's or message's value, or NULL when there is
 * no value to read: liblber 2.5's ber_scanf dereferences a NULL buffer, and
 * ber_init leaves it NULL for an empty value, which a server may send (an
 * absent or zero-length controlValue).
 */
static BerElement *
value_reader(const struct berval *value)
{
	if (value == NULL || value->bv_val == NULL || value->bv_len == 0)
		return NULL;
	return ber_init((struct berval *)value);
}

/* See syncrepl.h.  The value is copied (ber_init), never written. */
int
syncrepl_decode_state(const struct berval *value, struct sync_event *ev, int *state)
{
	struct berval uuid = { 0, NULL };
	ber_int_t st = -1;
	BerElement *ber;
	ber_len_t len;
	int rc = -1;

	if ((ber = value_reader(value)) == NULL)
		return -1;
	if (ber_scanf(ber, "{em", &st, &uuid) != LBER_ERROR && uuid.bv_len == 16) {
		format_uuid(&uuid, ev->uuid);
		if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
		    ber_scanf(ber, "o", &ev->cookie) == LBER_ERROR)
			ev->cookie.bv_val = NULL;
		*state = st;
		rc = 0;
	}
	ber_free(ber, 1);
	return rc;
}

static int
parse_entry(LDAP *ld, LDAPMessage *msg, struct sync_event *ev)
{
	LDAPControl **ctrls = NULL, *c;
	int state, rc = -1;

	if (ldap_get_entry_controls(ld, msg, &ctrls) != LDAP_SUCCESS ||
	    (c = ldap_control_find(LDAP_CONTROL_SYNC_STATE, ctrls, NULL)) == NULL ||
	    syncrepl_decode_state(&c->ldctl_value, ev, &state) == -1)
		goto done;
	rc = 0;
	switch (state) {
	case LDAP_SYNC_PRESENT: ev->type = SE_PRESENT; break;
	case LDAP_SYNC_DELETE: ev->type = SE_DELETE; break;
	case LDAP_SYNC_ADD:
	case LDAP_SYNC_MODIFY:
		ev->type = SE_ENTRY;
		if (syncrepl_read_entry(ld, msg, &ev->entry) == -1)
			rc = -1;
		else if ((ev->entry.uuid = strdup(ev->uuid)) == NULL)
			fatal("out of memory");
		break;
	default:
		rc = -1;
	}
done:
	ldap_controls_free(ctrls);
	return rc;
}

/* The optional cookie and boolean inside refreshDelete/refreshPresent/syncIdSet. */
static int
parse_phase(BerElement *ber, struct sync_event *ev, int *flag)
{
	ber_len_t len;
	ber_tag_t tag;
	ber_int_t b;

	if (ber_scanf(ber, "{") == LBER_ERROR)
		return -1;
	tag = ber_peek_tag(ber, &len);
	if (tag == LDAP_TAG_SYNC_COOKIE) {
		if (ber_scanf(ber, "o", &ev->cookie) == LBER_ERROR)
			return -1;
		tag = ber_peek_tag(ber, &len);
	}
	if (tag == LDAP_TAG_REFRESHDONE) {	/* same tag as refreshDeletes */
		if (ber_scanf(ber, "b", &b) == LBER_ERROR)
			return -1;
		*flag = b != 0;
	}
	return 0;
}

static int
parse_idset(BerElement *ber, struct sync_event *ev)
{
	BerVarray set = NULL;

	ev->refresh_deletes = 0;
	if (parse_phase(ber, ev, &ev->refresh_deletes) == -1 ||
	    ber_scanf(ber, "[W]", &set) == LBER_ERROR)
		return -1;
	for (size_t i = 0; set != NULL && set[i].bv_val != NULL; i++) {
		if (set[i].bv_len != 16)
			continue;
		if ((ev->uuids = realloc(ev->uuids, (ev->nuuids + 1) * sizeof(char *))) == NULL ||
		    (ev->uuids[ev->nuuids] = malloc(37)) == NULL)
			fatal("out of memory");
		format_uuid(&set[i], ev->uuids[ev->nuuids++]);
	}
	ber_bvarray_free(set);
	ev->type = SE_IDSET;
	return 0;
}

/* See syncrepl.h. */
int
syncrepl_decode_info(const struct berval *value, struct sync_event *ev)
{
	BerElement *ber;
	ber_len_t len;
	int rc = -1;

	if ((ber = value_reader(value)) == NULL)
		return -1;
	ev->refresh_done = 1;	/* DEFAULT TRUE */
	switch (ber_peek_tag(ber, &len)) {
	case LDAP_TAG_SYNC_NEW_COOKIE:
		ev->type = SE_COOKIE;
		rc = ber_scanf(ber, "o", &ev->cookie) == LBER_ERROR ? -1 : 0;
		break;
	case LDAP_TAG_SYNC_REFRESH_DELETE:
		ev->type = SE_DELETE_END;
		rc = parse_phase(ber, ev, &ev->refresh_done);
		break;
	case LDAP_TAG_SYNC_REFRESH_PRESENT:
		ev->type = SE_PRESENT_END;
		rc = parse_phase(ber, ev, &ev->refresh_done);
		break;
	case LDAP_TAG_SYNC_ID_SET:
		rc = parse_idset(ber, ev);
		break;
	}
	ber_free(ber, 1);
	return rc;
}

static int
parse_info(LDAP *ld, LDAPMessage *msg, struct sync_event *ev)
{
	struct berval *data = NULL;
	char *oid = NULL;
	int rc;

	if (ldap_parse_intermediate(ld, msg, &oid, &data, NULL, 0) != LDAP_SUCCESS)
		return -1;
	if (oid == NULL || strcmp(oid, LDAP_SYNC_INFO) != 0 || data == NULL) {
		ev->type = SE_IGNORE;
		rc = 0;
	} else
		rc = syncrepl_decode_info(data, ev);
	ber_memfree(oid);
	ber_bvfree(data);
	return rc;
}

/* See syncrepl.h.
 * syncDoneValue ::= SEQUENCE { cookie OPTIONAL, refreshDeletes BOOLEAN
 * DEFAULT FALSE }.  refreshDeletes TRUE means the server sent only the
 * changes (from its session log): no sweep must follow, or every unchanged
 * user would look deleted. */
void
syncrepl_decode_done(const struct berval *value, struct sync_event *ev)
{
	BerElement *ber;
	ber_tag_t tag;
	ber_len_t len;
	ber_int_t b;

	if ((ber = value_reader(value)) == NULL)
		return;
	tag = ber_scanf(ber, "{") == LBER_ERROR ? LBER_ERROR : ber_peek_tag(ber, &len);
	if (tag == LDAP_TAG_SYNC_COOKIE)
		tag = ber_scanf(ber, "o", &ev->cookie) == LBER_ERROR ?
		    LBER_ERROR : ber_peek_tag(ber, &len);
	if (tag == LDAP_TAG_REFRESHDELETES && ber_scanf(ber, "b", &b) != LBER_ERROR)
		ev->refresh_deletes = b != 0;
	ber_free(ber, 1);
}

static int
parse_done(LDAP *ld, LDAPMessage *msg, struct sync_event *ev)
{
	LDAPControl **ctrls = NULL, *c;
	int err = 0;

	ev->type = SE_DONE;
	if (ldap_parse_result(ld, msg, &err, NULL, NULL, NULL, &ctrls, 0) != LDAP_SUCCESS)
		return -1;
	ev->result = err;
	if ((c = ldap_control_find(LDAP_CONTROL_SYNC_DONE, ctrls, NULL)) != NULL)
		syncrepl_decode_done(&c->ldctl_value, ev);
	ldap_controls_free(ctrls);
	return 0;
}

int
syncrepl_parse(LDAP *ld, LDAPMessage *msg, struct sync_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	switch (ldap_msgtype(msg)) {
	case LDAP_RES_SEARCH_ENTRY:
		return parse_entry(ld, msg, ev);
	case LDAP_RES_INTERMEDIATE:
		return parse_info(ld, msg, ev);
	case LDAP_RES_SEARCH_RESULT:
		return parse_done(ld, msg, ev);
	default:
		ev->type = SE_IGNORE;
		return 0;
	}
}

void
sync_event_free(struct sync_event *ev)
{
	ber_memfree(ev->cookie.bv_val);
	for (size_t i = 0; i < ev->nuuids; i++)
		free(ev->uuids[i]);
	free(ev->uuids);
	dir_entry_free(&ev->entry);
	memset(ev, 0, sizeof(*ev));
}
