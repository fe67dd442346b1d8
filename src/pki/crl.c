/*
 * crl.c - builds and writes the CRL.
 *
 * Owns: the CRL's content (v2, one entry per revocation with its reason
 * code, the CRL number and the CA's key identifier) and its files.
 * Never: touches the CA key (the signer signs, in the CA process), reads
 * the store (the caller hands the revocations over), or writes the CRL in
 * place.
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "pki/crl.h"

static const struct {
	int code;
	const char *name;
} reasons[] = {
	{ CRL_REASON_UNSPECIFIED, "unspecified" },
	{ CRL_REASON_KEY_COMPROMISE, "keyCompromise" },
	{ CRL_REASON_AFFILIATION_CHANGED, "affiliationChanged" },
	{ CRL_REASON_SUPERSEDED, "superseded" },
	{ CRL_REASON_CESSATION_OF_OPERATION, "cessationOfOperation" },
	{ CRL_REASON_PRIVILEGE_WITHDRAWN, "privilegeWithdrawn" },
	/* Only certsync's own reversible first step sets it (job_hold.c). */
	{ CRL_REASON_CERTIFICATE_HOLD, "certificateHold" },
};
#define NREASONS (sizeof(reasons) / sizeof(reasons[0]))

int
crl_reason_parse(const char *name)
{
	for (size_t i = 0; i < NREASONS; i++)
		if (strcasecmp(name, reasons[i].name) == 0)
			return reasons[i].code;
	return -1;
}

const char *
crl_reason_name(int code)
{
	for (size_t i = 0; i < NREASONS; i++)
		if (reasons[i].code == code)
			return reasons[i].name;
	return "unknown";
}

const char *
crl_reason_list(void)
{
	return "unspecified, keyCompromise, affiliationChanged, superseded, "
	    "cessationOfOperation, privilegeWithdrawn";
}

int
crl_add(X509_CRL *crl, const ASN1_INTEGER *serial, time_t when, int reason)
{
	X509_REVOKED *rev = X509_REVOKED_new();
	ASN1_ENUMERATED *code = NULL;
	ASN1_TIME *t = NULL;
	int rc = -1;

	if (rev == NULL || (t = ASN1_TIME_set(NULL, when)) == NULL ||
	    !X509_REVOKED_set_serialNumber(rev, (ASN1_INTEGER *)serial) ||
	    !X509_REVOKED_set_revocationDate(rev, t))
		goto done;
	/* RFC 5280 5.3.1: "unspecified" is expressed by leaving the reason out. */
	if (reason > CRL_REASON_UNSPECIFIED) {
		if ((code = ASN1_ENUMERATED_new()) == NULL ||
		    !ASN1_ENUMERATED_set(code, reason) ||
		    !X509_REVOKED_add1_ext_i2d(rev, NID_crl_reason, code, 0, 0))
			goto done;
	}
	if (!X509_CRL_add0_revoked(crl, rev))
		goto done;
	rev = NULL;
	rc = 0;
done:
	if (rc == -1)
		log_ssl("cannot add an entry to the CRL");
	X509_REVOKED_free(rev);
	ASN1_ENUMERATED_free(code);
	ASN1_TIME_free(t);
	return rc;
}

X509_CRL *
crl_new(X509 *ca, time_t now, time_t next)
{
	X509_CRL *crl = X509_CRL_new();
	ASN1_TIME *last = ASN1_TIME_set(NULL, now), *nxt = ASN1_TIME_set(NULL, next);

	if (crl == NULL || last == NULL || nxt == NULL ||
	    !X509_CRL_set_version(crl, X509_CRL_VERSION_2) ||
	    !X509_CRL_set_issuer_name(crl, X509_get_subject_name(ca)) ||
	    !X509_CRL_set1_lastUpdate(crl, last) ||
	    !X509_CRL_set1_nextUpdate(crl, nxt)) {
		log_ssl("cannot start a CRL");
		X509_CRL_free(crl);
		crl = NULL;
	}
	ASN1_TIME_free(last);
	ASN1_TIME_free(nxt);
	return crl;
}

int
crl_finish(X509_CRL *crl, X509 *ca, const ASN1_INTEGER *number)
{
	X509_EXTENSION *aki = NULL;
	X509V3_CTX ctx;
	int ok;

	X509V3_set_ctx(&ctx, ca, NULL, NULL, crl, 0);
	ok = X509_CRL_sort(crl) &&
	    X509_CRL_add1_ext_i2d(crl, NID_crl_number, (ASN1_INTEGER *)number, 0,
	    0) == 1 &&
	    (aki = X509V3_EXT_nconf_nid(NULL, &ctx, NID_authority_key_identifier,
	    "keyid:always")) != NULL &&
	    X509_CRL_add_ext(crl, aki, -1);
	X509_EXTENSION_free(aki);
	if (!ok)
		log_ssl("cannot finish the CRL");
	return ok ? 0 : -1;
}

static int
write_file(const char *path, X509_CRL *crl, int pem)
{
	unsigned char *der = NULL;
	BIO *bio = NULL;
	char *data;
	long len;
	int rc = -1;

	if (pem) {
		if ((bio = BIO_new(BIO_s_mem())) == NULL || !PEM_write_bio_X509_CRL(bio, crl))
			goto encode_fail;
		len = BIO_get_mem_data(bio, &data);
	} else {
		if ((len = i2d_X509_CRL(crl, &der)) <= 0)
			goto encode_fail;
		data = (char *)der;
	}
	if (fs_mkdir_p_parent(path, 0755) == -1 ||
	    fs_write_atomic(path, data, (size_t)len, 0644, 0) == -1)
		log_error("cannot write the CRL to %s: %s", path, strerror(errno));
	else
		rc = 0;
	goto done;
encode_fail:
	log_ssl("cannot encode the CRL");
done:
	BIO_free(bio);
	OPENSSL_free(der);
	return rc;
}

int
crl_write(const struct conf *conf, X509_CRL *crl)
{
	if (write_file(conf->crl.path, crl, 0) == -1 ||
	    (conf->crl.pem_path != NULL && write_file(conf->crl.pem_path, crl, 1) == -1))
		return -1;
	return 0;
}
