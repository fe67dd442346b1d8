/*
 * publish.h - writing certificates to users' directory entries.
 *
 * Owns: the writer's LDAP connection and the modify that makes an entry
 * show our new certificates and no longer show our superseded ones:
 * DER values in the certificate attribute (userCertificate;binary on
 * OpenLDAP, userCertificate on AD) and one value in the S/MIME attribute
 * (userSMIMECertificate: the CMS SignedData made when the certificates
 * were issued, pki/smime_value.h), at most [publish] max_values.
 * Never: deletes a value it was not told is ours, or replaces an attribute
 * wholesale (other issuers' certificates live there too).
 */
#ifndef CERTSYNC_PUBLISH_H
#define CERTSYNC_PUBLISH_H

#include <stddef.h>

#include "lib/conf.h"
#include "store/store.h"

struct publisher;

enum publish_rc { PUBLISH_OK = 0, PUBLISH_GONE = 1, PUBLISH_RETRY = -1 };

/* A list of binary values. */
struct blobs {
	unsigned char **v;
	size_t *len;
	size_t n;
};
void blobs_add(struct blobs *b, const void *data, size_t len);
void blobs_free(struct blobs *b);

/* Prepares a publisher; it connects on first use and after errors. */
int publish_open(const struct conf *conf, struct publisher **out);
void publish_close(struct publisher *p);

/* What one publication changes in an entry. */
struct publish_change {
	const struct cert_rows *add;     /* our certificates to show */
	const struct cert_rows *remove;  /* ours to show no more */
	const struct blobs *old_smime;   /* the digests (store_value_digest) of
	                                    our S/MIME values, to be replaced */
	const unsigned char *smime;      /* our S/MIME value to show, or NULL */
	size_t smime_len;
};

/*
 * Makes the entry at dn hold the certificates in change->add and not those
 * in change->remove, and (unless the attribute is off) the S/MIME value
 * change->smime in place of the values whose digests are in old_smime:
 * none of ours when it
 * is NULL.  Reads the entry first, so values already there or already gone
 * are fine: the step can run again after a crash.  A write that loses a
 * race with another writer (a replace whose entryCSN assertion fails, a
 * delete of a value that is gone) is read and planned again, a few times
 * at most.
 * Returns PUBLISH_OK, PUBLISH_GONE (no such entry, or a search that
 * succeeds without it), or PUBLISH_RETRY after logging one line naming the
 * DN.
 */
enum publish_rc publish_apply(struct publisher *p, const char *dn,
    const struct publish_change *change);

/* One entry of publish_apply_many(). */
struct publish_req {
	const char *dn;
	const struct publish_change *change;
	enum publish_rc *rc;             /* out: as publish_apply() returns */
};

/*
 * publish_apply() for n entries at once: the reads of all of them in
 * flight together on the writer connection, then the modifies, with the
 * same guards (exact values; on OpenLDAP an RFC 4528 assertion on
 * entryCSN for a replace of the S/MIME attribute; on AD value by value).
 * An entry that lost a race with another writer is read and written again
 * on its own.  Each request's rc says how it went (a line logged for each
 * failure, naming the DN).
 */
void publish_apply_many(struct publisher *p, struct publish_req *v, size_t n);

#endif
