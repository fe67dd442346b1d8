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
	const struct blobs *old_smime;   /* our S/MIME values, to be replaced */
	const unsigned char *smime;      /* our S/MIME value to show, or NULL */
	size_t smime_len;
};

/*
 * Makes the entry at dn hold the certificates in change->add and not those
 * in change->remove, and (unless the attribute is off) the S/MIME value
 * change->smime in place of the values in old_smime: none of ours when it
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

#endif
