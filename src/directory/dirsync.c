/*
 * dirsync.c - Active Directory's change sources: DirSync rounds, uSNChanged
 * rounds, the scope check, change notification, and stored copies.
 *
 * Owns: the AD controls on the wire and the shape of a round's result.
 * Every call blocks, bounded by [directory] network_timeout per request.
 * Never: touches the store or decides what a user needs; never asks for a
 * certificate attribute (our own writes must not come back as news).
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include "directory/dirsync.h"
#include "directory/ldapconn.h"
#include "directory/syncrepl.h"
#include "lib/log.h"

/* User objects, tombstones included (they keep objectClass); computers are
 * users too in AD's schema, and never get S/MIME certificates. */
#define USERS_FILTER "(&(objectClass=user)(!(objectClass=computer)))"
#define PAGE_SIZE 500
#define MAX_PAGES 100000        /* 50 million objects: a runaway server */
#define SCOPE_BATCH 40          /* GUIDs per scope-check search */

static void
set_err(struct ad_round *r, int rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_err(struct ad_round *r, int rc, const char *fmt, ...)
{
	va_list ap;

	r->rc = rc == LDAP_SUCCESS ? LDAP_OTHER : rc;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

static struct timeval
timeout(const struct conf *conf)
{
	struct timeval tv = { conf->directory.network_timeout, 0 };

	return tv;
}

/* The server's diagnostic for the last result, as " (text)", or "". */
static void
diagnostic(LDAP *ld, LDAPMessage *res, char *buf, size_t len)
{
	char *msg = NULL;

	buf[0] = '\0';
	if (res != NULL)
		ldap_parse_result(ld, res, NULL, NULL, &msg, NULL, NULL, 0);
	else
		ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg);
	if (msg != NULL && *msg != '\0')
		snprintf(buf, len, " (%.300s)", msg);
	ldap_memfree(msg);
}

/* ---- rootDSE -------------------------------------------------------------- */

/*
 * server_id: the DC's NTDS Settings name and its invocationId.  A DC
 * restored from a backup keeps its name but gets a new invocationId, and
 * USNs (and so cookies) from before the restore mean nothing there.  An
 * invocationId the account may not read leaves the name alone; a search
 * that fails otherwise (the connection, a timeout) fails the connect.
 */
int
ad_server_identity(LDAP *ld, const struct conf *conf, struct ad_server *out,
    char *err, size_t errlen)
{
	char *attrs[] = { "invocationId", NULL };
	struct timeval tv = timeout(conf);
	LDAPMessage *res = NULL, *e;
	struct berval **v = NULL;
	char guid[37] = "", *id;
	size_t len;
	int rc;

	if (out->service_name == NULL)
		return 0;
	rc = ldap_search_ext_s(ld, out->service_name, LDAP_SCOPE_BASE,
	    "(objectClass=*)", attrs, 0, NULL, NULL, &tv, 0, &res);
	if (rc == LDAP_SUCCESS && (e = ldap_first_entry(ld, res)) != NULL &&
	    (v = ldap_get_values_len(ld, e, "invocationId")) != NULL &&
	    v[0] != NULL && v[0]->bv_len == 16)
		syncrepl_guid_text((const unsigned char *)v[0]->bv_val, guid);
	ldap_value_free_len(v);
	ldap_msgfree(res);
	if (rc != LDAP_SUCCESS && rc != LDAP_NO_SUCH_OBJECT &&
	    rc != LDAP_INSUFFICIENT_ACCESS) {
		snprintf(err, errlen, "cannot read the invocationId of %s: %s",
		    out->service_name, ldap_err2string(rc));
		return -1;
	}
	len = strlen(out->service_name) + sizeof(" invocationId=") + sizeof(guid);
	if ((id = malloc(len)) == NULL)
		fatal("out of memory");
	if (guid[0] != '\0')
		snprintf(id, len, "%s invocationId=%s", out->service_name, guid);
	else
		snprintf(id, len, "%s", out->service_name);
	free(out->server_id);
	out->server_id = id;
	return 0;
}

int
ad_rootdse(LDAP *ld, struct ad_server *out, char *err, size_t errlen)
{
	char *attrs[] = { "defaultNamingContext", "dsServiceName", "vendorName",
	    "highestCommittedUSN", "supportedControl", NULL };
	LDAPMessage *res, *e = NULL;
	struct berval **ctl;
	char *usn;

	memset(out, 0, sizeof(*out));
	if ((res = ldapconn_rootdse(ld, attrs, 30, &e, err, errlen)) == NULL)
		return -1;
	out->naming_context = ldapconn_first_value(ld, e, "defaultNamingContext");
	out->service_name = ldapconn_first_value(ld, e, "dsServiceName");
	out->vendor = ldapconn_first_value(ld, e, "vendorName");
	if ((usn = ldapconn_first_value(ld, e, "highestCommittedUSN")) != NULL)
		out->highest_usn = strtoull(usn, NULL, 10);
	free(usn);
	ctl = ldap_get_values_len(ld, e, "supportedControl");
	for (size_t i = 0; ctl != NULL && ctl[i] != NULL; i++) {
		const struct berval *v = ctl[i];
#define IS(oid) (v->bv_len == strlen(oid) && memcmp(v->bv_val, oid, v->bv_len) == 0)
		out->dirsync |= IS(AD_OID_DIRSYNC);
		out->notification |= IS(AD_OID_NOTIFICATION);
		out->show_deleted |= IS(AD_OID_SHOW_DELETED);
		out->syncrepl |= IS(OID_SYNCREPL);
#undef IS
	}
	ldap_value_free_len(ctl);
	ldap_msgfree(res);
	return 0;
}

void
ad_server_free(struct ad_server *s)
{
	free(s->naming_context);
	free(s->service_name);
	free(s->server_id);
	free(s->vendor);
	memset(s, 0, sizeof(*s));
}

/* ---- round results ---------------------------------------------------------- */

static int
is_true(const struct dir_entry *e, const char *attr)
{
	for (size_t i = 0; i < e->nattrs; i++)
		if (strcasecmp(e->attrs[i].name, attr) == 0 && e->attrs[i].nvalues > 0)
			return e->attrs[i].values[0].len == 4 &&
			    strncasecmp(e->attrs[i].values[0].val, "TRUE", 4) == 0;
	return 0;
}

/* Adds the entry msg to r; an entry without a usable objectGUID is logged. */
static void
add_object(LDAP *ld, LDAPMessage *msg, struct ad_round *r)
{
	struct ad_object o;

	memset(&o, 0, sizeof(o));
	if (syncrepl_entry(ld, DIR_FLAVOR_AD, msg, &o.entry) == -1)
		return;
	if (o.entry.uuid == NULL) {
		log_warn("%s: skipped: no 16-byte objectGUID", o.entry.dn);
		dir_entry_free(&o.entry);
		return;
	}
	o.deleted = is_true(&o.entry, "isDeleted");
	if ((r->v = realloc(r->v, (r->n + 1) * sizeof(*r->v))) == NULL)
		fatal("out of memory");
	r->v[r->n++] = o;
}

void
ad_round_free(struct ad_round *r)
{
	for (size_t i = 0; i < r->n; i++)
		dir_entry_free(&r->v[i].entry);
	free(r->v);
	free(r->cookie.bv_val);
	memset(r, 0, sizeof(*r));
}

/* ---- DirSync ------------------------------------------------------------------- */

int
ad_dirsync_decode(LDAP *ld, const struct berval *value, int *more,
    struct berval *cookie)
{
	LDAPControl c = { (char *)AD_OID_DIRSYNC, *value, 0 };

	cookie->bv_val = NULL;
	cookie->bv_len = 0;
	*more = 0;
	/* libldap hands an empty value to ber_init, and liblber 2.5 then
	 * reads through a NULL buffer: refuse it here. */
	if (value->bv_val == NULL || value->bv_len == 0 ||
	    ldap_parse_dirsync_control(ld, &c, more, cookie) != LDAP_SUCCESS) {
		ber_memfree(cookie->bv_val);
		cookie->bv_val = NULL;
		cookie->bv_len = 0;
		*more = 0;
		return -1;
	}
	return 0;
}

/*
 * One page of a DirSync round, asked for from cookie cur (first: the
 * round's first page, where a refused cookie shows): its objects into r,
 * the next cookie into *next (allocated), *more set when the DC has more.
 * 0, or -1 with r->rc and r->err set.
 */
static int
dirsync_page(LDAP *ld, const struct conf *conf, const char *nc,
    const struct berval *cur, int first, struct ad_round *r, struct berval *next,
    int *more)
{
	LDAPControl *ctrl = NULL, *ctrls[2] = { NULL, NULL }, **rctrls = NULL, *c;
	LDAPMessage *res = NULL, *m;
	struct timeval tv = timeout(conf);
	/* flags 0: the classic DirSync, which needs "Replicating Directory
	 * Changes" and sees every attribute change.  libldap encodes an empty
	 * cookie, never a missing one. */
	struct berval none = { 0, (char *)"" };
	char why[320];
	int rc, err = LDAP_SUCCESS, cont = 0, ret = -1;

	rc = ldap_create_dirsync_control(ld, 0, 0, cur->bv_val ? (struct berval *)cur :
	    &none, &ctrl);
	if (rc != LDAP_SUCCESS) {
		set_err(r, rc, "cannot encode the DirSync control");
		return -1;
	}
	ctrl->ldctl_iscritical = 1;
	ctrls[0] = ctrl;
	rc = ldap_search_ext_s(ld, nc, LDAP_SCOPE_SUBTREE, USERS_FILTER,
	    syncrepl_wanted_attrs(conf, 1), 0, ctrls, NULL, &tv, 0, &res);
	ldap_control_free(ctrl);
	if (rc == LDAP_SUCCESS || res != NULL)
		ldap_parse_result(ld, res, &err, NULL, NULL, NULL, &rctrls, 0);
	if (rc == LDAP_SUCCESS)
		rc = err;
	if (rc != LDAP_SUCCESS) {
		diagnostic(ld, res, why, sizeof(why));
		/* A cookie the DC cannot use (another DC's, or from before a
		 * restore) fails the request itself. */
		r->cookie_refused = !r->full && first && !ldapconn_lost(rc) &&
		    rc != LDAP_INSUFFICIENT_ACCESS;
		set_err(r, rc, "DirSync on %s: %s%s", nc, ldap_err2string(rc), why);
		goto done;
	}
	for (m = ldap_first_entry(ld, res); m != NULL; m = ldap_next_entry(ld, m))
		add_object(ld, m, r);
	if ((c = ldap_control_find(AD_OID_DIRSYNC, rctrls, NULL)) == NULL ||
	    ad_dirsync_decode(ld, &c->ldctl_value, &cont, next) == -1) {
		set_err(r, LDAP_PROTOCOL_ERROR, "DirSync on %s: the answer has "
		    "no DirSync control", nc);
		goto done;
	}
	*more = cont != 0;
	ret = 0;
done:
	ldap_controls_free(rctrls);
	ldap_msgfree(res);
	return ret;
}

void
ad_dirsync_round(LDAP *ld, const struct conf *conf, const char *nc,
    const struct berval *cookie, struct ad_round *r)
{
	struct berval cur = { 0, NULL };
	int more = 1, pages = 0;

	memset(r, 0, sizeof(*r));
	r->full = cookie == NULL || cookie->bv_len == 0;
	if (!r->full && ber_dupbv(&cur, (struct berval *)cookie) == NULL)
		fatal("out of memory");
	while (more && pages++ < MAX_PAGES) {
		struct berval next = { 0, NULL };

		if (dirsync_page(ld, conf, nc, &cur, pages == 1, r, &next, &more) == -1)
			break;
		free(cur.bv_val);
		cur = next;		/* ldap_parse_dirsync_control allocated it */
	}
	if (r->rc == LDAP_SUCCESS && more)
		set_err(r, LDAP_SIZELIMIT_EXCEEDED, "DirSync on %s: more than %d pages",
		    nc, MAX_PAGES);
	if (r->rc == LDAP_SUCCESS)
		r->cookie = cur;
	else
		free(cur.bv_val);
}

/* ---- paged searches ---------------------------------------------------------- */

/* A search in pages of PAGE_SIZE (AD caps unpaged ones at MaxPageSize). */
int
ad_paged_search(LDAP *ld, const struct conf *conf, const char *base, int scope,
    const char *filter, char **attrs, LDAPControl *extra, page_fn *fn, void *arg,
    char *err, size_t errlen)
{
	struct berval cookie = { 0, NULL };
	struct timeval tv = timeout(conf);
	int pages = 0, rc = LDAP_SUCCESS;

	do {
		LDAPControl *page = NULL, *ctrls[3] = { NULL, NULL, NULL }, **rctrls = NULL, *c;
		LDAPMessage *res = NULL, *m;
		ber_int_t count;
		int result = LDAP_SUCCESS;
		char why[320];

		if ((rc = ldap_create_page_control(ld, PAGE_SIZE, &cookie, 0, &page)) !=
		    LDAP_SUCCESS) {
			snprintf(err, errlen, "cannot encode the paged results control");
			break;
		}
		ctrls[0] = page;
		ctrls[1] = extra;
		rc = ldap_search_ext_s(ld, base, scope, filter, attrs, 0, ctrls, NULL, &tv,
		    0, &res);
		ldap_control_free(page);
		if (rc == LDAP_SUCCESS || res != NULL)
			ldap_parse_result(ld, res, &result, NULL, NULL, NULL, &rctrls, 0);
		if (rc == LDAP_SUCCESS)
			rc = result;
		if (rc != LDAP_SUCCESS) {
			diagnostic(ld, res, why, sizeof(why));
			snprintf(err, errlen, "search of %s: %s%s", base,
			    ldap_err2string(rc), why);
			ldap_controls_free(rctrls);
			ldap_msgfree(res);
			break;
		}
		for (m = ldap_first_entry(ld, res); m != NULL; m = ldap_next_entry(ld, m))
			fn(ld, m, arg);
		free(cookie.bv_val);
		cookie.bv_val = NULL;
		cookie.bv_len = 0;
		if ((c = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, rctrls, NULL)) != NULL)
			ldap_parse_pageresponse_control(ld, c, &count, &cookie);
		ldap_controls_free(rctrls);
		ldap_msgfree(res);
	} while (cookie.bv_len > 0 && ++pages < MAX_PAGES);
	if (rc == LDAP_SUCCESS && cookie.bv_len > 0) {
		/* Cut short: callers that sweep must not take it for all. */
		snprintf(err, errlen, "search of %s: more than %d pages", base, MAX_PAGES);
		rc = LDAP_SIZELIMIT_EXCEEDED;
	}
	free(cookie.bv_val);
	return rc;
}

/* ---- uSNChanged ---------------------------------------------------------------- */

static void
usn_entry(LDAP *ld, LDAPMessage *m, void *arg)
{
	add_object(ld, m, arg);
}

void
ad_usn_round(LDAP *ld, const struct conf *conf, const char *nc,
    uint64_t since, uint64_t highest_usn, struct ad_round *r)
{
	LDAPControl *show = NULL;
	char filter[160], text[24];
	int rc;

	memset(r, 0, sizeof(*r));
	r->full = since == 0;
	snprintf(filter, sizeof(filter), "(&" USERS_FILTER "(uSNChanged>=%" PRIu64 "))",
	    since + 1);
	if ((rc = ldap_create_show_deleted_control(ld, &show)) != LDAP_SUCCESS) {
		set_err(r, rc, "cannot encode the show-deleted control");
		return;
	}
	show->ldctl_iscritical = 1;
	rc = ad_paged_search(ld, conf, nc, LDAP_SCOPE_SUBTREE, filter,
	    syncrepl_wanted_attrs(conf, 1), show, usn_entry, r, r->err, sizeof(r->err));
	ldap_control_free(show);
	if (rc != LDAP_SUCCESS) {
		r->rc = rc;
		return;
	}
	snprintf(text, sizeof(text), "%" PRIu64, highest_usn);
	if (ber_str2bv(text, 0, 1, &r->cookie) == NULL)
		fatal("out of memory");
}

uint64_t
ad_usn_since(const void *cookie, size_t len)
{
	const unsigned char *p = cookie;
	uint64_t v = 0;

	/* ad_usn_round wrote it as decimal text, and it comes back from the
	 * store: anything else (empty, a sign, a stray byte, more than 64
	 * bits) reads as 0, a full pass, never as a guessed USN. */
	if (len == 0 || len > 20)
		return 0;
	for (size_t i = 0; i < len; i++) {
		if (p[i] < '0' || p[i] > '9' || v > (UINT64_MAX - (p[i] - '0')) / 10)
			return 0;
		v = v * 10 + (uint64_t)(p[i] - '0');
	}
	return v;
}

/* ---- scope ------------------------------------------------------------------------ */

static void
scope_entry(LDAP *ld, LDAPMessage *m, void *arg)
{
	struct ad_round *r = arg;
	struct berval **v = ldap_get_values_len(ld, m, "objectGUID");
	char guid[37];

	if (v != NULL && v[0] != NULL && v[0]->bv_len == 16) {
		syncrepl_guid_text((const unsigned char *)v[0]->bv_val, guid);
		for (size_t i = 0; i < r->n; i++)
			if (!r->v[i].deleted && strcmp(r->v[i].entry.uuid, guid) == 0)
				r->v[i].in_scope = 1;
	}
	ldap_value_free_len(v);
}

/* The 16 bytes of a textual GUID as an escaped filter value. */
static void
guid_filter(const char *text, char *out)
{
	static const int order[16] = { 3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12,
	    13, 14, 15 };
	unsigned char g[16];
	int k = 0;

	for (const char *p = text; *p != '\0' && k < 32; p++) {
		int d;

		if (*p == '-')
			continue;
		d = *p <= '9' ? *p - '0' : (*p | 0x20) - 'a' + 10;
		if (k % 2 == 0)
			g[k / 2] = (unsigned char)(d << 4);
		else
			g[k / 2] |= (unsigned char)d;
		k++;
	}
	/* syncrepl_guid_text() swapped the first fields; swap them back. */
	for (int i = 0; i < 16; i++)
		out += sprintf(out, "\\%02x", g[order[i]]);
}

int
ad_scope_check(LDAP *ld, const struct conf *conf, struct ad_round *r)
{
	char *attrs[] = { "objectGUID", NULL };
	int scope = syncrepl_scope(conf);
	size_t flen = strlen(conf->directory.filter);
	int rc = LDAP_SUCCESS;

	if (r->full) {
		/* Everything: one (paged) search for the whole selection. */
		rc = ad_paged_search(ld, conf, conf->directory.base, scope,
		    conf->directory.filter, attrs, NULL, scope_entry, r, r->err,
		    sizeof(r->err));
		r->rc = rc;
		return rc == LDAP_SUCCESS ? 0 : -1;
	}
	for (size_t i = 0; i < r->n && rc == LDAP_SUCCESS;) {
		/* (&FILTER(|(objectGUID=\xx...)...)) for a batch of live objects */
		char *filter = malloc(flen + 16 + SCOPE_BATCH * (16 * 3 + 16));
		char *p;
		size_t k = 0;

		if (filter == NULL)
			fatal("out of memory");
		p = filter + sprintf(filter, "(&%s(|", conf->directory.filter);
		for (; i < r->n && k < SCOPE_BATCH; i++) {
			if (r->v[i].deleted)
				continue;
			p += sprintf(p, "(objectGUID=");
			guid_filter(r->v[i].entry.uuid, p);
			p += strlen(p);
			p += sprintf(p, ")");
			k++;
		}
		sprintf(p, "))");
		if (k > 0)
			rc = ad_paged_search(ld, conf, conf->directory.base, scope, filter,
			    attrs, NULL, scope_entry, r, r->err, sizeof(r->err));
		free(filter);
	}
	r->rc = rc;
	return rc == LDAP_SUCCESS ? 0 : -1;
}

/* ---- change notification ---------------------------------------------------------- */

int
ad_notify_search(LDAP *ld, const char *base, int show_deleted, int *msgid)
{
	char *attrs[] = { "objectGUID", NULL };
	LDAPControl *ctrl = NULL, *show = NULL, *ctrls[3] = { NULL, NULL, NULL };
	int rc;

	if ((rc = ldap_create_server_notification_control(ld, &ctrl)) != LDAP_SUCCESS)
		return rc;
	ctrl->ldctl_iscritical = 1;
	ctrls[0] = ctrl;
	/* Deletions move users into Deleted Objects, which only the
	 * show-deleted control lets a notification see. */
	if (show_deleted &&
	    (rc = ldap_create_show_deleted_control(ld, &show)) == LDAP_SUCCESS) {
		show->ldctl_iscritical = 1;
		ctrls[1] = show;
	}
	/* The filter must be (objectClass=*): AD allows no other. */
	rc = ldap_search_ext(ld, base, LDAP_SCOPE_SUBTREE, "(objectClass=*)", attrs, 0,
	    ctrls, NULL, NULL, 0, msgid);
	ldap_control_free(ctrl);
	if (show != NULL)
		ldap_control_free(show);
	return rc;
}

/* ---- stored copies ------------------------------------------------------------------ */

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void
put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		if ((b->p = realloc(b->p, b->cap)) == NULL)
			fatal("out of memory");
	}
	memcpy(b->p + b->len, data, len);
	b->len += len;
}

static void
put_u32(struct buf *b, uint32_t v)
{
	unsigned char x[4] = { v >> 24, v >> 16, v >> 8, v };

	put(b, x, 4);
}

/* Format: "CSC1", nattrs, then per attribute its name and values, each as a
 * 32-bit big-endian length and the bytes. */
void
ad_pack(const struct dir_entry *e, unsigned char **blob, size_t *len)
{
	struct buf b = { NULL, 0, 0 };

	put(&b, "CSC1", 4);
	put_u32(&b, (uint32_t)e->nattrs);
	for (size_t i = 0; i < e->nattrs; i++) {
		const struct dir_attr *a = &e->attrs[i];

		put_u32(&b, (uint32_t)strlen(a->name));
		put(&b, a->name, strlen(a->name));
		put_u32(&b, (uint32_t)a->nvalues);
		for (size_t j = 0; j < a->nvalues; j++) {
			put_u32(&b, (uint32_t)a->values[j].len);
			put(&b, a->values[j].val, a->values[j].len);
		}
	}
	*blob = b.p;
	*len = b.len;
}

static int
get_u32(const unsigned char **p, const unsigned char *end, uint32_t *v)
{
	if (end - *p < 4)
		return -1;
	*v = (uint32_t)(*p)[0] << 24 | (uint32_t)(*p)[1] << 16 |
	    (uint32_t)(*p)[2] << 8 | (*p)[3];
	*p += 4;
	return 0;
}

/* A NUL-terminated copy of len bytes at *p. */
static char *
get_bytes(const unsigned char **p, const unsigned char *end, uint32_t len)
{
	char *s;

	if ((size_t)(end - *p) < len)
		return NULL;
	if ((s = malloc((size_t)len + 1)) == NULL)
		fatal("out of memory");
	memcpy(s, *p, len);
	s[len] = '\0';
	*p += len;
	return s;
}

int
ad_unpack(const void *blob, size_t len, struct dir_entry *e)
{
	const unsigned char *p = blob, *end = p + len;
	uint32_t n, nv, l;

	memset(e, 0, sizeof(*e));
	if (len < 8 || memcmp(p, "CSC1", 4) != 0)
		return -1;
	p += 4;
	if (get_u32(&p, end, &n) == -1 || n > len)
		return -1;
	if ((e->attrs = calloc(n ? n : 1, sizeof(*e->attrs))) == NULL)
		fatal("out of memory");
	for (; e->nattrs < n; e->nattrs++) {
		struct dir_attr *a = &e->attrs[e->nattrs];

		/* ad_pack writes a name up to its NUL: one with a NUL
		 * inside is damage, not a name. */
		if (get_u32(&p, end, &l) == -1 ||
		    (a->name = get_bytes(&p, end, l)) == NULL ||
		    strlen(a->name) != l)
			goto bad;
		if (get_u32(&p, end, &nv) == -1 || nv > len ||
		    (a->values = calloc(nv ? nv : 1, sizeof(*a->values))) == NULL)
			goto bad;
		for (; a->nvalues < nv; a->nvalues++) {
			if (get_u32(&p, end, &l) == -1 ||
			    (a->values[a->nvalues].val = get_bytes(&p, end, l)) == NULL)
				goto bad;
			a->values[a->nvalues].len = l;
		}
	}
	if (p == end)
		return 0;
bad:
	e->nattrs += e->nattrs < n;	/* free the one being read too */
	dir_entry_free(e);
	return -1;
}

static void
copy_attr(struct dir_attr *to, const struct dir_attr *from)
{
	if ((to->name = strdup(from->name)) == NULL ||
	    (to->values = calloc(from->nvalues ? from->nvalues : 1,
	    sizeof(*to->values))) == NULL)
		fatal("out of memory");
	to->nvalues = from->nvalues;
	for (size_t j = 0; j < from->nvalues; j++) {
		char *v = malloc(from->values[j].len + 1);

		if (v == NULL)
			fatal("out of memory");
		memcpy(v, from->values[j].val, from->values[j].len);
		v[from->values[j].len] = '\0';
		to->values[j].val = v;
		to->values[j].len = from->values[j].len;
	}
}

void
ad_merge(struct dir_entry *copy, const struct dir_entry *partial)
{
	for (size_t i = 0; i < partial->nattrs; i++) {
		const struct dir_attr *pa = &partial->attrs[i];
		struct dir_attr *slot = NULL;

		for (size_t k = 0; k < copy->nattrs && slot == NULL; k++)
			if (strcasecmp(copy->attrs[k].name, pa->name) == 0)
				slot = &copy->attrs[k];
		if (slot != NULL) {
			for (size_t j = 0; j < slot->nvalues; j++)
				free((char *)slot->values[j].val);
			free(slot->values);
			free((char *)slot->name);
		} else {
			copy->attrs = realloc(copy->attrs,
			    (copy->nattrs + 1) * sizeof(*copy->attrs));
			if (copy->attrs == NULL)
				fatal("out of memory");
			slot = &copy->attrs[copy->nattrs++];
		}
		copy_attr(slot, pa);
	}
	if (partial->dn != NULL) {
		free((char *)copy->dn);
		if ((copy->dn = strdup(partial->dn)) == NULL)
			fatal("out of memory");
	}
}
