/*
 * job.c - the durable per-user state machine: which step comes next.
 *
 * Owns: the order of a user's steps and their crash safety: a job is
 * planned, resumed in whatever state it stood, run step by step (one file
 * per step: job_keys.c, job_archive.c, job_publish.c, job_revoke.c,
 * job_hold.c), put off with backoff when a step fails, parked when
 * retrying cannot help, and closed after its batch's CRL.
 * Every step reads what the store says, does work that is harmless to
 * repeat, and commits its effects with the next state in one transaction.
 * Never: loses a key, revokes before the successor is published, writes a
 * CRL per user (the batch does), or touches the CA key (the CA process does).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/failpoint.h"
#include "lib/log.h"
#include "lib/log_guard.h"
#include "lib/metrics.h"
#include "pipeline/crl_publish.h"
#include "pipeline/identity_row.h"
#include "pipeline/job.h"
#include "pipeline/job_archive.h"
#include "pipeline/job_hold.h"
#include "pipeline/job_keys.h"
#include "pipeline/job_publish.h"
#include "pipeline/job_revoke.h"
#include "pipeline/job_unrecorded.h"
#include "pki/crl.h"

#define BACKOFF_FIRST 5        /* seconds before the first retry */

int
job_plan(struct store *st, const char *uuid, enum job_action action, int reason,
    const char *why, int64_t not_before)
{
	struct job job;
	int found, keys, rc;

	if ((found = job_get(st, uuid, &job)) == -1)
		return -1;
	if (found && job.state != JOB_PLANNED && job.state != JOB_KEYS) {
		job_free(&job);
		return 0;
	}
	/* KEYS stays: an attempt may have signed certificates it did not
	 * record, and job_run() looks for them when it finds that state. */
	keys = found && job.state == JOB_KEYS;
	job_free(&job);
	job = (struct job){
		.uuid = (char *)uuid,
		.state = keys ? JOB_KEYS : JOB_PLANNED,
		.action = action,
		.reason = reason,
		.updated_at = time(NULL),
		.next_attempt = not_before,
	};
	if ((rc = job_put(st, &job)) == 0 && (action == JOB_UNPUBLISH ||
	    action == JOB_REPUBLISH || action == JOB_LIFT))	/* nothing revoked */
		store_audit(st, "plan", uuid, NULL, "%s: %s", job_action_name(action), why);
	else if (rc == 0)
		store_audit(st, "plan", uuid, NULL, "%s (%s): %s", job_action_name(action),
		    crl_reason_name(reason), why);
	return rc;
}

/*
 * A failed step: the job stays where it is and is tried again later.  When
 * the store cannot record even that (it is full, or locked), the retry
 * time is kept in ctx for the runner, which holds every job until then:
 * the store would say the job is due at once.  The line says which.
 */
static void
postpone(struct job_ctx *ctx, struct job *job, const char *what)
{
	int64_t delay = BACKOFF_FIRST, max = ctx->conf->daemon.retry_max;

	for (int i = 0; i < job->attempts && delay < max; i++)
		delay *= 2;
	if (delay > max)
		delay = max;
	job->attempts++;
	job->next_attempt = time(NULL) + delay;
	metrics_add(M_ERR_JOB, 1);
	/* Only the retry columns: the in-memory state may be one whose
	 * commit failed, and must not be written now. */
	if (store_job_postpone(ctx->st, job->uuid, job->attempts, job->next_attempt,
	    what) == 0) {
		log_warn("user %s: %s; %s job retried in %llds (attempt %d)", job->uuid,
		    what, job_action_name(job->action), (long long)delay, job->attempts);
		return;
	}
	if (ctx->retry_unrecorded < job->next_attempt)
		ctx->retry_unrecorded = job->next_attempt;
	log_warn("user %s: %s; could not record the retry (%s); jobs wait %llds "
	    "(attempt %d, not recorded)", job->uuid, what, store_error(ctx->st),
	    (long long)delay, job->attempts);
}

/* What a failed attempt reports: the reason the step gave, else the first
 * problem logged during it (the cause, not its echoes). */
static const char *
failure_text(const char *why)
{
	const char *first = log_first_problem();

	return why[0] != '\0' ? why : first != NULL ? first : "a step failed";
}

/* The CA process could not sign now (it is down or restarting, or its
 * ceiling on signatures was reached): the job waits until until, where it
 * stands, without an attempt counted against it. */
static void
wait_for_ca(struct job_ctx *ctx, struct job *job, time_t until, const char *what)
{
	job->next_attempt = until;
	if (store_job_postpone(ctx->st, job->uuid, job->attempts, job->next_attempt,
	    what) == -1 && ctx->retry_unrecorded < job->next_attempt)
		ctx->retry_unrecorded = job->next_attempt;
	log_info("user %s: %s; %s job waits %llds", job->uuid, what,
	    job_action_name(job->action), (long long)(until - time(NULL)));
}

/*
 * A failure retrying cannot mend (the profile refuses the user's values,
 * the CA has expired): the job is parked, not retried, until the user's
 * entry changes, certsyncd starts or reloads, or the admin runs certsyncctl
 * retry.  Returns -2, or -1 when the store could not record it.
 */
static int
park(struct store *st, struct job *job, const char *dn, const char *why)
{
	if (store_job_park(st, job->uuid, job->attempts + 1, why) == -1)
		return -1;
	log_error("%s (%s): %s job failed and is parked: %s; it runs again when "
	    "the entry changes, when certsyncd restarts or reloads, or after "
	    "certsyncctl retry %s", dn ? dn : "user", job->uuid,
	    job_action_name(job->action), why, job->uuid);
	return -2;
}

/* PLANNED -> PUBLISHED -> REVOKED: nothing is issued, archived or revoked,
 * so the REVOKED step has nothing to do but close. */
static int
run_flip(struct job_ctx *ctx, struct job *job, const char *dn)
{
	if (job->state == JOB_PLANNED || job->state == JOB_KEYS) {
		if (job_step_flip(ctx, job, dn, job->action == JOB_REPUBLISH) == -1)
			return -1;
		failpoint("after-PUBLISHED");
	}
	if (job->state == JOB_PUBLISHED) {
		if (job_set_state(ctx->st, job, JOB_REVOKED) == -1)
			return -1;
		failpoint("after-REVOKED");
	}
	return 0;
}

/* Hold: PLANNED -> PUBLISHED (withdrawn) -> REVOKED (on hold). */
static int
run_hold(struct job_ctx *ctx, struct job *job, const char *dn)
{
	if (job->state == JOB_PLANNED || job->state == JOB_KEYS) {
		if (job_step_flip(ctx, job, dn, 0) == -1)
			return -1;
		failpoint("after-PUBLISHED");
	}
	if (job->state == JOB_PUBLISHED) {
		if (job_step_hold(ctx, job) == -1)
			return -1;
		failpoint("after-REVOKED");
	}
	return 0;
}

/*
 * Lift: PLANNED -> ARCHIVED (the hold lifted; the keys were archived when
 * it was put on) -> PUBLISHED (the same certificates in the directory
 * again, unless the user is disabled) -> REVOKED (nothing more).  In one
 * job, so a crash between lifting and publishing cannot lose the publish.
 */
static int
run_lift(struct job_ctx *ctx, struct job *job, const struct identity *id, int have_id)
{
	if (job->state == JOB_PLANNED || job->state == JOB_KEYS) {
		if (job_step_lift(ctx, job) == -1)
			return -1;
		failpoint("after-ARCHIVED");
	}
	if (job->state == JOB_ISSUED || job->state == JOB_ARCHIVED) {
		if ((!have_id || id->enabled ? job_step_flip(ctx, job,
		    have_id ? id->dn : NULL, 1) :
		    job_set_state(ctx->st, job, JOB_PUBLISHED)) == -1)
			return -1;
		failpoint("after-PUBLISHED");
	}
	if (job->state == JOB_PUBLISHED) {
		if (job_set_state(ctx->st, job, JOB_REVOKED) == -1)
			return -1;
		failpoint("after-REVOKED");
	}
	return 0;
}

/* 0, or the failed step's -1 or -2 (see job_step_issue()).  dn: the
 * user's entry, NULL when none is known. */
static int
run_steps(struct job_ctx *ctx, struct job *job, const struct identity *id,
    int have_id, const char *dn, char *why, size_t whylen)
{
	int rc;

	if (job->action == JOB_UNPUBLISH || job->action == JOB_REPUBLISH)
		return run_flip(ctx, job, dn);
	if (job->action == JOB_HOLD)
		return run_hold(ctx, job, dn);
	if (job->action == JOB_LIFT)
		return run_lift(ctx, job, id, have_id);
	if (job->state == JOB_PLANNED || job->state == JOB_KEYS) {
		if (job->action == JOB_REVOKE) {
			if (job_set_state(ctx->st, job, JOB_ISSUED) == -1)
				return -1;
		} else if ((rc = job_step_issue(ctx, job, id, why, whylen)) != 0)
			return rc;
		failpoint("after-ISSUED");
	}
	if (job->state == JOB_ISSUED) {
		if (job_step_archive(ctx, job) == -1)
			return -1;
		failpoint("after-ARCHIVED");
	}
	if (job->state == JOB_ARCHIVED) {
		if (job_step_publish(ctx, job, dn) == -1)
			return -1;
		failpoint("after-PUBLISHED");
	}
	if (job->state == JOB_PUBLISHED) {
		if (job_step_revoke(ctx, job) == -1)
			return -1;
		failpoint("after-REVOKED");
	}
	return 0;
}

/* Whether the job signs new certificates for its user. */
static int
issues(const struct job *job, int have_id)
{
	return have_id && (job->action == JOB_ENROLL || job->action == JOB_REISSUE ||
	    job->action == JOB_RENEW);
}

/*
 * The entry of a user whose identity is gone (marked so by a departure
 * seen while the job was in flight, e.g. a sweep that finds the users a
 * release let through): its row keeps the DN, and a hold, revocation or
 * withdrawal must still take our values out of an entry that exists but
 * left the scope.  Not for a job that adds (it would wait for an entry
 * that may never come back).  A copy, or NULL.
 */
static char *
gone_dn(struct store *st, const struct job *job)
{
	struct identity_row row;
	char *dn = NULL;

	if ((job->action != JOB_HOLD && job->action != JOB_UNPUBLISH &&
	    job->action != JOB_REVOKE) || store_identity_get(st, job->uuid, &row) != 1)
		return NULL;
	dn = row.dn;
	row.dn = NULL;
	identity_row_free(&row);
	return dn;
}

int
job_run(struct job_ctx *ctx, const char *uuid)
{
	struct identity id;
	struct job job;
	char why[256] = "", *old_dn = NULL;
	int found, have_id = 0, rc = -1;

	ctx->ca_wait_until = 0;
	log_problem_clear();
	if ((found = job_get(ctx->st, uuid, &job)) != 1)
		return found == 0 ? 0 : -1;
	if ((have_id = identity_load(ctx->st, uuid, &id)) == -1)
		goto done;
	/* A resumed job: a kill may have left a revoked key in the keystore. */
	if (job.state != JOB_PLANNED)
		job_sweep_keystore(ctx, uuid);
	/* KEYS: an attempt got as far as signing.  A job that issues again
	 * records what it left that is still right, and revokes the rest
	 * (job_held.c); any other job revokes it all first. */
	if (job.state == JOB_KEYS && !issues(&job, have_id) &&
	    job_recover_unrecorded_of(ctx, uuid, NULL, 0) == -1) {
		postpone(ctx, &job, "certificates signed but not recorded are "
		    "not revoked yet");
		goto done;
	}
	if (!have_id && job.action != JOB_REVOKE && job.action != JOB_UNPUBLISH &&
	    job.action != JOB_HOLD && (job.state == JOB_PLANNED || job.state == JOB_KEYS)) {
		/* Nothing certifiable any more: the plan is void.  (A withdrawal
		 * still runs: closing it makes the runner decide again, and a
		 * gone user's certificates are then put on hold.  A lift for a
		 * user gone again meanwhile leaves the hold as it is.) */
		log_info("user %s: %s job dropped; no certifiable identity", uuid,
		    job_action_name(job.action));
		metrics_change_forget(uuid);
		rc = store_job_delete(ctx->st, uuid);
		goto done;
	}
	if (!have_id)
		old_dn = gone_dn(ctx->st, &job);
	if ((rc = run_steps(ctx, &job, &id, have_id, have_id ? id.dn : old_dn, why,
	    sizeof(why))) == -2)
		rc = park(ctx->st, &job, have_id ? id.dn : NULL, why);
	else if (rc != 0 && ctx->ca_wait_until > 0) {
		wait_for_ca(ctx, &job, ctx->ca_wait_until, failure_text(why));
		rc = -3;
	} else if (rc != 0)
		postpone(ctx, &job, failure_text(why));
done:
	if (have_id == 1)
		identity_free(&id);
	free(old_dn);
	job_free(&job);
	return rc;
}

/* Closes one REVOKED job; a revoke or hold job also forgets the identity
 * (its addresses are free; a user back from a hold is read anew). */
static int
close_job(struct job_ctx *ctx, struct job *job)
{
	int rc;

	if (store_begin(ctx->st) == -1)
		return -1;
	store_job_delete(ctx->st, job->uuid);
	if (job->action == JOB_REVOKE || job->action == JOB_HOLD)
		store_identity_delete(ctx->st, job->uuid);
	store_audit(ctx->st, "done", job->uuid, NULL, "%s job done",
	    job_action_name(job->action));
	rc = store_commit(ctx->st);
	metrics_change_forget(job->uuid);	/* if it never published */
	failpoint("after-DONE");
	return rc;
}

int
job_finish_batch(struct job_ctx *ctx, struct uuid_set *closed)
{
	struct job job;
	int64_t number;
	int found;

	/* The durable mark, not only this process's count: a crash between
	 * a revocation and its CRL must still end in a CRL. */
	if (ctx->revoked > 0 || store_crl_pending(ctx->st) == 1 || (ctx->crl_refresh &&
	    crl_publish_due(ctx->conf, ctx->st, time(NULL)) == 1)) {
		if (crl_publish(ctx->conf, ctx->st, ctx->ca, ctx->ca_cert, &number) == -1) {
			metrics_add(M_ERR_CRL, 1);
			return -1;
		}
		ctx->revoked = 0;
	}
	/* Only REVOKED jobs are due now (others wait for their retry time, or
	 * are not REVOKED); the bound keeps a store error from spinning. */
	for (int i = 0; i < 100000; i++) {
		if ((found = job_next_in(ctx->st, JOB_REVOKED, &job)) != 1)
			return found;
		if (close_job(ctx, &job) == -1) {
			job_free(&job);
			return -1;
		}
		if (closed != NULL)
			uuid_set_add(closed, job.uuid);
		job_free(&job);
	}
	return 0;
}
