/*
 * crl_publish.c - a new CRL, from the store's revocations to its files.
 *
 * Owns: the order of a CRL's making: the revocations of the current CA and
 * the next CRL number from the store (the number is taken before signing,
 * so it is never reused even if a write fails), the CRL built, signed and
 * written, and only then the store's pending mark cleared.
 * Also when one is due with no revocation: the first, a fresh one at half
 * of next_update_hours, and one whose file is gone.
 * Never: signs itself (the CA process builds and signs the CRL from the
 * entries it is sent), or clears the pending mark of a CRL that did not
 * reach its files.
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "pipeline/crl_publish.h"
#include "pki/certinfo.h"
#include "pki/crl.h"

/* The entries the CA process is asked to list: the revoked rows' serials,
 * times and reasons (which stay the rows'). */
static struct ca_revoked *
entries_of(const struct cert_rows *rows)
{
	struct ca_revoked *v = calloc(rows->n + 1, sizeof(*v));

	if (v == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < rows->n; i++) {
		v[i].serial = rows->v[i].serial;
		v[i].when = rows->v[i].revoked_at;
		v[i].reason = rows->v[i].reason;
	}
	return v;
}

/* Asks the CA process for the CRL; CA_OK and *crl, else logged. */
static int
sign_crl(struct ca_client *ca, int64_t number, time_t now, time_t next,
    const struct cert_rows *revoked, X509_CRL **crl)
{
	struct ca_revoked *v = entries_of(revoked);
	uint64_t id;
	int rc;

	if ((rc = ca_client_submit_crl(ca, number, now, next, v, revoked->n, &id)) == CA_OK)
		rc = ca_client_wait_crl(ca, id, crl);
	if (rc != CA_OK)
		log_error("CRL number %lld is not signed: %s", (long long)number,
		    ca_client_error(ca));
	free(v);
	return rc;
}

int
crl_publish(const struct conf *conf, struct store *st, struct ca_client *ca,
    X509 *ca_cert, int64_t *number)
{
	struct cert_rows revoked = { 0 };
	X509_CRL *crl = NULL;
	char *issuer = NULL;
	time_t now = time(NULL);
	time_t next = now + (time_t)conf->crl.next_update_hours * 3600;
	int rc = -1;

	if ((issuer = certinfo_name(X509_get_subject_name(ca_cert))) == NULL ||
	    store_cert_query(st, CQ_REVOKED, issuer, &revoked) == -1 ||
	    store_crl_next(st, now, next, number) == -1)
		goto done;
	if (sign_crl(ca, *number, now, next, &revoked, &crl) != CA_OK ||
	    crl_write(conf, crl) == -1)
		goto done;
	store_crl_written(st, *number);
	/* No revocation waits any more (the runner revokes on this thread). */
	metrics_set(M_REVOCATION_WAITING, 0);
	store_audit(st, "crl", NULL, NULL, "CRL number %lld with %zu entries",
	    (long long)*number, revoked.n);
	log_info("CRL number %lld written to %s with %zu entries",
	    (long long)*number, conf->crl.path, revoked.n);
	rc = 0;
done:
	X509_CRL_free(crl);
	cert_rows_free(&revoked);
	free(issuer);
	return rc;
}

int
crl_publish_due(const struct conf *conf, struct store *st, time_t now)
{
	int64_t number = 0, issued_at = 0;

	if (store_crl_last(st, &number, &issued_at) == -1)
		return -1;
	/* A file that is gone (a restore without crl/) is written again. */
	return number == 0 || access(conf->crl.path, F_OK) == -1 ||
	    now - issued_at >= (int64_t)conf->crl.next_update_hours * 3600 / 2;
}
