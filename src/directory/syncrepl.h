/*
 * syncrepl.h - RFC 4533 content synchronization, our own driver.
 *
 * Owns: encoding the sync request control and decoding what comes back
 * (entries with their sync state, sync info messages, the sync done
 * control) into events.  libldap's ldap_sync_poll() is not used: driven
 * from an fd loop it drops the last message of a burst.
 * Never: blocks, or decides anything; watch.c feeds it messages drained
 * with a zero timeout, and plan.c decides.
 */
#ifndef CERTSYNC_SYNCREPL_H
#define CERTSYNC_SYNCREPL_H

#include <ldap.h>

#include "directory/entry.h"
#include "lib/conf.h"

enum sync_event_type {
	SE_ENTRY,        /* added or changed: entry holds its attributes */
	SE_PRESENT,      /* unchanged (present phase) */
	SE_DELETE,       /* deleted, or out of scope */
	SE_COOKIE,       /* a new cookie only */
	SE_PRESENT_END,  /* present phase over: unseen entries are gone */
	SE_DELETE_END,   /* delete phase over */
	SE_IDSET,        /* uuids at once: present, or deleted if refresh_deletes */
	SE_DONE,         /* SearchResultDone: result holds the LDAP result code */
	SE_IGNORE,       /* anything else (a referral, an unknown response) */
};

struct sync_event {
	enum sync_event_type type;
	char uuid[37];
	struct berval cookie;      /* bv_val NULL when the message had none */
	int refresh_done;
	int refresh_deletes;
	char **uuids;              /* SE_IDSET */
	size_t nuuids;
	int result;                /* SE_DONE */
	struct dir_entry entry;    /* SE_ENTRY */
};

/*
 * Starts a sync search on base/filter for the identity attributes, in mode
 * LDAP_SYNC_REFRESH_ONLY or LDAP_SYNC_REFRESH_AND_PERSIST, from cookie if
 * given.  Returns the LDAP result code; *msgid on success.
 */
int syncrepl_search(LDAP *ld, const struct conf *conf, int mode,
    const struct berval *cookie, int *msgid);

/*
 * Starts a plain search (the poll source), asking for the id too.
 */
int syncrepl_poll_search(LDAP *ld, const struct conf *conf, int *msgid);

/*
 * Starts a plain search for the users in scope that asks for their id
 * alone (389-ds's presence check).  The LDAP result code; *msgid.
 */
int syncrepl_id_search(LDAP *ld, const struct conf *conf, int *msgid);

/* The id attribute of flavor's entries: entryUUID, objectGUID (ad),
 * nsUniqueId (389ds). */
const char *syncrepl_id_attr(enum dir_flavor flavor);

/* Decodes msg.  0 and *ev (free with sync_event_free), or -1 if malformed. */
int syncrepl_parse(LDAP *ld, LDAPMessage *msg, struct sync_event *ev);
void sync_event_free(struct sync_event *ev);

/*
 * The three values syncrepl_parse() decodes, each from the server's bytes
 * alone (what tests/fuzz feeds them).  ev starts zeroed; what they decode
 * lands in it, also on -1 (sync_event_free frees it either way).  An
 * absent or empty value decodes as malformed.
 * decode_state: the Sync State Control (uuid, cookie; the state into *state,
 * an LDAP_SYNC_* value), -1 if malformed or the uuid is not 16 bytes.
 * decode_info: the Sync Info Message (type, cookie, flags, uuids), -1 if
 * malformed.  decode_done: the Sync Done Control (cookie, refresh_deletes),
 * as far as it decodes: the search result itself counts either way.
 */
int syncrepl_decode_state(const struct berval *value, struct sync_event *ev, int *state);
int syncrepl_decode_info(const struct berval *value, struct sync_event *ev);
void syncrepl_decode_done(const struct berval *value, struct sync_event *ev);

/* The attributes a search asks for: the mapped ones, userAccountControl on
 * AD, and with with_uuid the id (entryUUID; AD: objectGUID, isDeleted;
 * 389ds: nsUniqueId).
 * Never a certificate attribute: our own writes must not look like news. */
char **syncrepl_wanted_attrs(const struct conf *conf, int with_uuid);
/* [directory] scope as an LDAP search scope. */
int syncrepl_scope(const struct conf *conf);

/* DN and attributes of msg into e, uuid left NULL.  0, or -1. */
int syncrepl_read_entry(LDAP *ld, LDAPMessage *msg, struct dir_entry *e);

/* A 16-byte objectGUID in Microsoft's textual form. */
void syncrepl_guid_text(const unsigned char guid[16], char out[37]);

/*
 * An entry of a plain search, its uuid from flavor's id attribute, in
 * the form the sync state control gives it: entryUUID as it is; AD:
 * objectGUID in Microsoft's text; 389ds: nsUniqueId turned into RFC 4122
 * text (ds389_uuid()), never entryUUID, which 389-ds does not sync by.
 * uuid NULL when the entry has no usable id.  0, or -1.
 */
int syncrepl_entry(LDAP *ld, enum dir_flavor flavor, LDAPMessage *msg,
    struct dir_entry *e);

#endif
