/*
 * job_state.h - what the driver and every step of a job share.
 *
 * Owns: a job in hand (struct job: its state and action as enums), the
 * context it runs in, and the storage edge: the one name table of the
 * states and of the actions, turned into text only where a job is read
 * from or written to the store.  A step moves its job on with
 * job_set_state(), inside the transaction that commits its effects.
 * Never: runs a step; job.c orders them, one file per step does the work.
 */
#ifndef CERTSYNC_JOB_STATE_H
#define CERTSYNC_JOB_STATE_H

#include <stdint.h>
#include <time.h>

#include <openssl/x509.h>

#include "ca/ca_client.h"
#include "lib/conf.h"
#include "pipeline/identity.h"
#include "store/store.h"

struct publisher;
struct archive;
struct keystore;
struct keypool;
struct workers;
struct kept_certs;

/* In this order; unpublish, republish, hold and lift go PLANNED ->
 * PUBLISHED -> REVOKED. */
enum job_state { JOB_PLANNED, JOB_KEYS, JOB_ISSUED, JOB_ARCHIVED, JOB_PUBLISHED,
    JOB_REVOKED, JOB_DONE };

/* Enroll, reissue and renew run the same steps; the action says why. */
enum job_action { JOB_ENROLL, JOB_REISSUE, JOB_RENEW, JOB_REVOKE, JOB_UNPUBLISH,
    JOB_REPUBLISH, JOB_HOLD, JOB_LIFT };

/* A job as the driver and the steps hold it. */
struct job {
	char *uuid;
	enum job_state state;
	enum job_action action;
	int reason;                /* CRL reason for what it supersedes */
	int attempts;
	char *last_error;
	int64_t updated_at;
	int64_t next_attempt;      /* not before this time (retry backoff) */
};

struct job_ctx {
	const struct conf *conf;
	struct store *st;
	struct ca_client *ca;      /* the CA process: it signs */
	X509 *ca_cert;             /* [ca] certificate, read from its file */
	struct publisher *pub;     /* NULL: no directory to publish to */
	struct archive *archive;   /* where superseded keys go (pki/archive.h) */
	struct keystore *keystore; /* where current keys wait (pki/keystore.h) */
	struct keypool *keypool;   /* keys made ahead; NULL: made when needed */
	struct workers *workers;   /* CPU work of a batch; NULL: this thread */
	int revoked;               /* CRL changes (revocations, holds put and
	                              lifted) since the last CRL */
	time_t ca_wait_until;      /* a step could not ask the CA process now
	                              (down, or its ceiling): the job waits
	                              until then, no attempt counted */
	int crl_refresh;           /* the daemon's runner: a batch also writes a
	                              CRL that is due (crl_publish_due) */
	int quiet;                 /* a mass event: per-user lines at info (the
	                              runner's progress lines speak for them) */
	/* Asked between the steps of a batch: 1 to stop there (NULL: never). */
	int (*should_stop)(void *arg);
	void *stop_arg;
	int64_t retry_unrecorded;  /* a retry time the store could not record:
	                              the runner holds every job until then */
	struct kept_certs *kept;   /* what failed attempts signed and could not
	                              record, for their next attempt; NULL: such
	                              certificates are revoked at once */
};

/*
 * One job of a batch, as the driver (job.c) and the steps hold it.  A
 * step takes the items in its state whose rc is 0, and moves each on or
 * sets its rc: -1 failed (why may say more; the driver puts it off), -2
 * retrying cannot help (why says why; the driver parks it).
 */
struct job_item {
	struct job job;
	struct identity id;        /* when have_id */
	int have_id;
	char *gone_dn;             /* no identity: the DN its row kept, for a
	                              job that only withdraws (job.c) */
	int rc;
	char why[256];
};

/* Marks it failed (rc -1, or -2 to park) with why (may be NULL). */
void job_item_fail(struct job_item *it, int rc, const char *why);
/* The user's entry: the identity's DN, or the one a gone user's row kept;
 * NULL when none is known (nothing to write to). */
const char *job_item_dn(const struct job_item *it);

/* "PLANNED" .. "DONE", as the store keeps them; and back (-1 if unknown). */
const char *job_state_name(enum job_state state);
int job_state_parse(const char *name);
/* "enroll" .. "lift"; and back (-1 if unknown). */
const char *job_action_name(enum job_action action);
int job_action_parse(const char *name);

/* uuid's job: 1 and *out (free with job_free), 0 none, -1 after logging. */
int job_get(struct store *st, const char *uuid, struct job *out);
/* The oldest job in state, whatever its retry time: 1, 0 none, -1. */
int job_next_in(struct store *st, enum job_state state, struct job *out);
/* Writes the whole job.  0, or -1 after logging. */
int job_put(struct store *st, const struct job *job);
/* Moves job to state, its retry time cleared, and writes it.  0, or -1. */
int job_set_state(struct store *st, struct job *job, enum job_state state);
void job_free(struct job *job);

#endif
