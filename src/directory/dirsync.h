/*
 * dirsync.h - Active Directory's change sources, on the wire.
 *
 * Owns: reading the rootDSE (what the server offers, which DC it is);
 * one round of DirSync (1.2.840.113556.1.4.841) from a cookie, or of
 * uSNChanged polling with the show-deleted control (.417); the scope check
 * that asks the server which changed users [directory] base, scope and
 * filter select; the change notification search (.528), a doorbell only;
 * and packing, unpacking and merging the stored copies of entries.
 * Every function here blocks: watch.c runs rounds on a helper thread with
 * a connection of their own, and reads notifications on the loop.
 * Never: decides anything about certificates, or touches the store.
 */
#ifndef CERTSYNC_DIRSYNC_H
#define CERTSYNC_DIRSYNC_H

#include <stdint.h>

#include <ldap.h>

#include "directory/entry.h"
#include "lib/conf.h"

#define AD_OID_DIRSYNC      "1.2.840.113556.1.4.841"
#define AD_OID_NOTIFICATION "1.2.840.113556.1.4.528"
#define AD_OID_SHOW_DELETED "1.2.840.113556.1.4.417"
#define OID_SYNCREPL        "1.3.6.1.4.1.4203.1.9.1.1"

/* What the rootDSE says. */
struct ad_server {
	char *naming_context;      /* defaultNamingContext */
	char *service_name;        /* dsServiceName: which DC this is */
	char *server_id;           /* service_name and the DC's invocationId:
	                            * which database (a restored DC gets a new
	                            * one); what checkpoints are stored with */
	char *vendor;              /* vendorName, or NULL */
	uint64_t highest_usn;      /* highestCommittedUSN */
	int dirsync, notification, show_deleted, syncrepl;
};

int ad_rootdse(LDAP *ld, struct ad_server *out, char *err, size_t errlen);
/* Sets out->server_id from service_name and the DC's invocationId (read
 * from the server).  0, or -1 with err when the server could not be asked. */
int ad_server_identity(LDAP *ld, const struct conf *conf, struct ad_server *out,
    char *err, size_t errlen);
void ad_server_free(struct ad_server *s);

/* One user object a round saw. */
struct ad_object {
	struct dir_entry entry;    /* DirSync: only the attributes that changed */
	int deleted;               /* isDeleted: a tombstone */
	int in_scope;              /* base, scope and filter select it now */
};

struct ad_round {
	int full;                  /* from no cookie: everything was sent */
	struct ad_object *v;
	size_t n;
	struct berval cookie;      /* the checkpoint after this round */
	int rc;                    /* LDAP result; LDAP_SUCCESS when complete */
	int cookie_refused;        /* the DC rejected the cookie we sent */
	char err[512];
};

/*
 * One DirSync round over the naming context, from cookie (NULL or empty: a
 * full one), following the "more data" flag to the end.  The change
 * notification only says that something changed; this says what.
 */
void ad_dirsync_round(LDAP *ld, const struct conf *conf, const char *nc,
    const struct berval *cookie, struct ad_round *r);

/*
 * One uSNChanged round: users with uSNChanged above since (0: all), deleted
 * ones included; the checkpoint is highest_usn read just before, as text.
 */
void ad_usn_round(LDAP *ld, const struct conf *conf, const char *nc,
    uint64_t since, uint64_t highest_usn, struct ad_round *r);

/* The USN a uSNChanged round's checkpoint (its cookie) holds: the decimal
 * text ad_usn_round wrote; 0 (a full pass) for anything else. */
uint64_t ad_usn_since(const void *cookie, size_t len);

/* Sets in_scope on r's live objects by asking the server.  0, or -1 (r->rc). */
int ad_scope_check(LDAP *ld, const struct conf *conf, struct ad_round *r);

void ad_round_free(struct ad_round *r);

/*
 * A search in pages (AD answers an unpaged one with at most MaxPageSize
 * entries, then sizeLimitExceeded): fn is called for each entry, extra (or
 * NULL) is sent with the paged results control.  An LDAP result code; err
 * says what failed.
 */
typedef void page_fn(LDAP *ld, LDAPMessage *entry, void *arg);
int ad_paged_search(LDAP *ld, const struct conf *conf, const char *base,
    int scope, const char *filter, char **attrs, LDAPControl *extra,
    page_fn *fn, void *arg, char *err, size_t errlen);

/* Starts the change notification search under base, deleted objects
 * included when show_deleted.  LDAP result code. */
int ad_notify_search(LDAP *ld, const char *base, int show_deleted, int *msgid);

/* The DirSync response control's value (flag, unused, cookie): 0 with
 * *more and *cookie (allocated; free with ber_memfree), or -1 with both
 * empty.  ld only carries libldap's error code. */
int ad_dirsync_decode(LDAP *ld, const struct berval *value, int *more,
    struct berval *cookie);

/* A stored copy: attributes packed into one blob, and back. */
void ad_pack(const struct dir_entry *e, unsigned char **blob, size_t *len);
int ad_unpack(const void *blob, size_t len, struct dir_entry *e);

/* Overlays the attributes in partial onto copy (each replaces its namesake). */
void ad_merge(struct dir_entry *copy, const struct dir_entry *partial);

#endif
