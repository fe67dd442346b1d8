/*
 * ca_client.h - the CA process, as certsyncd and certsyncctl see it.
 *
 * Owns: starting certsync-ca (fork and exec: a fresh address space with
 * nothing of the parent's heap, safe from a threaded parent), waiting for
 * it to say it is ready and signs for the same CA certificate the parent
 * read, noticing when it dies, restarting it with backoff (never after a
 * permanent failure: a wrong PIN tried again would lock the token), and
 * the requests in flight, matched to their replies by id.
 * Never: holds or asks for the CA private key; sends bytes to be signed
 * (it says what to issue, from the profile's own view of it); takes a
 * certificate back without checking that it is the one asked for.
 *
 * Return convention for requests: CA_OK; CA_REFUSED when the CA process
 * (or the profile, before asking) said no, which the same request will
 * always meet again (the reason in ca_client_error); CA_LATER when not now:
 * the CA process is down or restarting, it died with the request in
 * flight, its ceiling on signatures was reached, or it could not serve the
 * request (its audit log failed) (try again at ca_client_retry_at).  Others: 0, or -1 after logging.
 *
 * A client is used by one thread at a time.
 */
#ifndef CERTSYNC_CA_CLIENT_H
#define CERTSYNC_CA_CLIENT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/conf.h"
#include "lib/vocab.h"
#include "pki/address.h"

enum ca_result { CA_OK = 0, CA_REFUSED = 1, CA_LATER = 2 };

enum ca_state {
	CA_UP,           /* running, ready */
	CA_RESTARTING,   /* down; restarted at ca_client_retry_at */
	CA_STOPPED,      /* down for good: a restart cannot help (wrong PIN,
	                    key and certificate apart); a reload may */
};

struct workers;

/* What to issue: a certificate of kind for key's public half. */
struct ca_issue_req {
	enum cert_kind kind;
	EVP_PKEY *key;
	const struct address_list *addresses;   /* normalized, v[0] primary */
	struct subject_vars vars;
	const char *user;                       /* whom it is for, for the audit */
};

/* One entry of a CRL. */
struct ca_revoked {
	const char *serial;     /* upper-case hex */
	int64_t when;
	int reason;             /* a CRL reason code */
};

struct ca_client;

/*
 * A client for [ca] of conf (which must outlive it), whose certificate is
 * ca: the file, read by the caller (the client keeps a reference).
 * Nothing is started yet.
 */
struct ca_client *ca_client_new(const struct conf *conf, X509 *ca);
/* That certificate, the client's: for what needs the CA certificate. */
X509 *ca_client_ca(const struct ca_client *c);

/*
 * Starts the CA process and waits until it is ready.  0; or -1 after
 * logging why, with the client CA_RESTARTING or CA_STOPPED.
 */
int ca_client_start(struct ca_client *c);

/*
 * new and start in one, for certsyncctl and for checking that a reloaded
 * configuration can start a CA process before the running one is
 * stopped.  0 and *out; or -1 after logging, with *permanent set when
 * only a change of configuration (or PIN, or token) can help.
 */
int ca_client_open(const struct conf *conf, X509 *ca, struct ca_client **out,
    int *permanent);

/*
 * Notices a CA process that died (its exit status logged) and restarts it
 * when its backoff has passed.  0 if it is up, else -1.
 */
int ca_client_ensure(struct ca_client *c);
enum ca_state ca_client_state(const struct ca_client *c);
/* CA_RESTARTING: when the next start is due. */
time_t ca_client_next_start(const struct ca_client *c);
/* Counts the starts: a caller that must look at what a dead CA process
 * may have signed (pipeline/ca_ledger.c) does so when it changes. */
unsigned ca_client_generation(const struct ca_client *c);
/* The line `certsyncctl status` shows: "running (pid N)", "restarting
 * (why)", "stopped: why; ...".  Into buf; returns buf. */
const char *ca_client_status(const struct ca_client *c, char *buf, size_t len);

/* Closes the socket (the CA process ends) and reaps it; NULL is fine. */
void ca_client_free(struct ca_client *c);

/*
 * Sends a request; up to CA_MAX_IN_FLIGHT may be in flight.  The issue
 * request names what the profile makes of req (built here from the same
 * configuration and CA certificate); the CA process builds it again and
 * refuses any difference.  CA_OK and *id, CA_REFUSED (the profile cannot
 * build it: the CA expired, say) or CA_LATER.
 */
int ca_client_submit_issue(struct ca_client *c, const struct ca_issue_req *req,
    uint64_t *id);
int ca_client_submit_crl(struct ca_client *c, int64_t number, time_t this_update,
    time_t next_update, const struct ca_revoked *v, size_t n, uint64_t *id);

/* The reply to request id: CA_OK and the signed certificate or CRL (the
 * caller frees it), or CA_REFUSED, or CA_LATER. */
int ca_client_wait_cert(struct ca_client *c, uint64_t id, X509 **cert);
int ca_client_wait_crl(struct ca_client *c, uint64_t id, X509_CRL **crl);

/*
 * The one door for a batch of certificates: every request of reqs sent,
 * up to CA_MAX_IN_FLIGHT in flight at once (the CA process answers what
 * has arrived together, with one fdatasync of its audit log), the oldest
 * waited for when the window is full, then the rest.  certs[i] gets
 * request i's certificate (the caller frees it) when rcs[i] is CA_OK; else
 * rcs[i] is CA_REFUSED or CA_LATER as above, with the reason in why[i].
 * The profile's certificates are built on the workers w (NULL: on the
 * caller's thread); each signed one is checked on the caller's thread as
 * its reply comes, while the CA process signs the ones behind it.
 */
void ca_client_issue_many(struct ca_client *c, struct workers *w,
    const struct ca_issue_req *reqs, size_t n, X509 **certs, int *rcs,
    char (*why)[256]);

/*
 * certsyncctl init-ca: runs certsync-ca --init-ca, which makes the CA's
 * self-signed certificate (and, for a key file, the key: no other program
 * ever holds it), and waits for it.  Returns its exit status: 0, or a
 * sysexits code after it logged why.
 */
int ca_client_init_ca(const struct conf *conf, const char *subject, int days,
    const char *key_type);

/* The reason of the last CA_REFUSED or CA_LATER. */
const char *ca_client_error(const struct ca_client *c);
/* CA_LATER: when to try again (a restart's or the ceiling's time). */
time_t ca_client_retry_at(const struct ca_client *c);

#endif
