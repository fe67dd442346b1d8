/*
 * ds389.h - 389 Directory Server's ways, as far as certsync must know them.
 *
 * Owns: the id (nsUniqueId, 8-8-8-8 hex digits, turned into the RFC 4122
 * text of the same 16 bytes, which is what 389-ds's Content
 * Synchronization sends as the syncUUID); what the rootDSE says (vendor,
 * the retro changelog's first and last change numbers); the change
 * number inside a 389-ds syncrepl cookie, and whether the changelog still
 * holds every change after it.  schema/389ds/README.md says why each
 * matters.
 * Never: decides anything about users or certificates, or touches the
 * store; the rootDSE read blocks, so watch.c calls it on its connect thread.
 */
#ifndef CERTSYNC_DS389_H
#define CERTSYNC_DS389_H

#include <stddef.h>
#include <stdint.h>

#include <ldap.h>

#include "lib/conf.h"

/* The id attribute: operational, returned only when asked for by name. */
#define DS389_ID_ATTR "nsUniqueId"

/*
 * An nsUniqueId value (len bytes, not NUL-terminated) as the uuid certsync
 * keys the user by: "83b93ebe-f01911f1-b43f90d8-b796781e" becomes
 * "83b93ebe-f019-11f1-b43f-90d8b796781e" (lower case).  0, or -1 when the
 * value is not 32 hex digits in four groups of eight.
 */
int ds389_uuid(const char *val, size_t len, char out[37]);

/* What the rootDSE says. */
struct ds389_server {
	char *vendor;              /* vendorName, or NULL */
	char *version;             /* vendorVersion, or NULL */
	int have_changelog;        /* first/lastchangenumber were there */
	uint64_t first, last;      /* the retro changelog's change numbers */
};

/* Reads the rootDSE (anyone may).  0, or -1 with a reason in err. */
int ds389_rootdse(LDAP *ld, int timeout, struct ds389_server *out, char *err,
    size_t errlen);
void ds389_server_free(struct ds389_server *s);

/* True when the server says it is a 389 Directory Server (or Red Hat's). */
int ds389_is_389(const struct ds389_server *s);

/*
 * Whether certsync may follow server s as flavor: 389-ds read as OpenLDAP
 * would be synced by ids its plain searches do not give, and swept after
 * every resumed refresh.  0, or -1 with a sentence in err that says what
 * to set.
 */
int ds389_check_flavor(enum dir_flavor flavor, const struct ds389_server *s,
    char *err, size_t errlen);

/*
 * Whether a syncrepl cookie (host:port#binddn:base:filter#CHANGENUMBER)
 * may be resumed from: 389-ds accepts a cookie older than its trimmed
 * retro changelog and silently loses the changes in between.  Returns 0
 * when the changelog still holds every change after the cookie's, or 1
 * with why (a clause for a log line) when it does not or cannot say.
 */
int ds389_cookie_stale(const struct ds389_server *s, const void *cookie,
    size_t len, char *why, size_t whylen);

#endif
