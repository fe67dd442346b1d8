/*
 * job_state.h - what the driver and every step of a job share.
 *
 * Owns: the context a job runs in, the actions a job is planned for with
 * their names in the store, and the one way a step moves its job on
 * (job_set_state), so each step commits its new state with its effects.
 * Never: runs a step; job.c orders them, one file per step does the work.
 */
#ifndef CERTSYNC_JOB_STATE_H
#define CERTSYNC_JOB_STATE_H

#include "ca/signer.h"
#include "lib/conf.h"
#include "store/store.h"

struct publisher;

enum job_action { JOB_ENROLL, JOB_REISSUE, JOB_RENEW, JOB_REVOKE, JOB_UNPUBLISH,
    JOB_REPUBLISH };

struct job_ctx {
	const struct conf *conf;
	struct store *st;
	struct signer *signer;
	struct publisher *pub;     /* NULL: no directory to publish to */
	int revoked;               /* revocations since the last CRL */
	int dry_run;               /* never set for a runner; see plan.c */
};

const char *job_action_name(enum job_action action);
int job_action_parse(const char *name);

/* Writes job in state, its retry time cleared; inside the caller's
 * transaction when there is one.  0, or -1 after logging. */
int job_set_state(struct store *st, struct job_row *job, const char *state);

#endif
