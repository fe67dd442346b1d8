/*
 * job.c - the durable per-user state machine: which step comes next, for a
 * batch of jobs at once.
 *
 * Owns: the order of the users' steps and their crash safety: a job is
 * planned, resumed in whatever state it stood, run step by step (one file
 * per step: job_keys.c, job_archive.c, job_publish.c, job_revoke.c,
 * job_hold.c), put off with backoff when a step fails, parked when
 * retrying cannot help, and closed after its batch's CRL.  A batch goes
 * through one step at a time: every job in that step's state does it, and
 * its durable effects (one transaction, one flush of files) are shared by
 * all of them; a job that fails drops out of the batch and is put off
 * alone.  Flips, holds and lifts (one user at a time, nothing to sign) run
 * on their own, first.
 * Every step reads what the store says, does work that is harmless to
 * repeat, and commits its effects with the next state.
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
#define LOUD_MAX 20            /* a batch larger than this logs per user at info */

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

/* A failed step: the job stays where it is and is tried again later, after
 * a backoff that doubles with its attempts.  Returns the delay. */
static int64_t
retry_time(const struct job_ctx *ctx, struct job *job)
{
	int64_t delay = BACKOFF_FIRST, max = ctx->conf->daemon.retry_max;

	for (int i = 0; i < job->attempts && delay < max; i++)
		delay *= 2;
	if (delay > max)
		delay = max;
	job->attempts++;
	job->next_attempt = time(NULL) + delay;
	metrics_add(M_ERR_JOB, 1);
	return delay;
}

/* The retry's line, at level: recorded, or (the store cannot record even
 * that: it is full, or locked) kept in ctx for the runner, which holds
 * every job until then: the store would say the job is due at once. */
static void
retry_line(struct job_ctx *ctx, const struct job *job, const char *what,
    int64_t delay, int recorded, enum log_level level)
{
	if (recorded) {
		log_at(level, "user %s: %s; %s job retried in %llds (attempt %d)",
		    job->uuid, what, job_action_name(job->action), (long long)delay,
		    job->attempts);
		return;
	}
	if (ctx->retry_unrecorded < job->next_attempt)
		ctx->retry_unrecorded = job->next_attempt;
	log_at(level, "user %s: %s; could not record the retry (%s); jobs wait %llds "
	    "(attempt %d, not recorded)", job->uuid, what, store_error(ctx->st),
	    (long long)delay, job->attempts);
}

/* What a failed attempt reports: the reason the step gave, else the first
 * problem logged during the batch (the cause, not its echoes). */
static const char *
failure_text(const char *why)
{
	const char *first = log_first_problem();

	return why[0] != '\0' ? why : first != NULL ? first : "a step failed";
}

/* Whether the job signs new certificates for its user. */
static int
issues(const struct job *job, int have_id)
{
	return have_id && (job->action == JOB_ENROLL || job->action == JOB_REISSUE ||
	    job->action == JOB_RENEW);
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

/* ---- a batch's items ----------------------------------------------------------- */

/*
 * uuid's job into it: rc 0 to run it; 1 when there is nothing to run (no
 * job, or one dropped: no certifiable identity left); -1 after a failure
 * (it->why says what, when it is more than a logged store error).
 */
static int
load_item(struct job_ctx *ctx, const char *uuid, struct job_item *it)
{
	int found;

	if ((found = job_get(ctx->st, uuid, &it->job)) != 1)
		return it->rc = found == 0 ? 1 : -1;
	if ((it->have_id = identity_load(ctx->st, uuid, &it->id)) == -1) {
		it->have_id = 0;
		return it->rc = -1;
	}
	if (!it->have_id)
		it->gone_dn = gone_dn(ctx->st, &it->job);
	/* A resumed job: a kill may have left a revoked key in the keystore. */
	if (it->job.state != JOB_PLANNED)
		job_sweep_keystore(ctx, uuid);
	/* KEYS: an attempt got as far as signing.  A job that issues again
	 * records what it left that is still right, and revokes the rest
	 * (job_kept.c, in the keys step); any other job revokes it all first. */
	if (it->job.state == JOB_KEYS && !issues(&it->job, it->have_id) &&
	    job_recover_unrecorded_of(ctx, uuid, NULL, 0) == -1) {
		job_item_fail(it, -1, "certificates signed but not recorded are not "
		    "revoked yet");
		return -1;
	}
	if (!it->have_id && it->job.action != JOB_REVOKE &&
	    it->job.action != JOB_UNPUBLISH && it->job.action != JOB_HOLD &&
	    (it->job.state == JOB_PLANNED || it->job.state == JOB_KEYS)) {
		/* Nothing certifiable any more: the plan is void.  (A withdrawal
		 * still runs: closing it makes the runner decide again, and a
		 * gone user's certificates are then put on hold.  A lift for a
		 * user gone again meanwhile leaves the hold as it is.) */
		log_info("user %s: %s job dropped; no certifiable identity", uuid,
		    job_action_name(it->job.action));
		metrics_change_forget(uuid);
		return it->rc = store_job_delete(ctx->st, uuid) == 0 ? 1 : -1;
	}
	return 0;
}

static void
item_free(struct job_item *it)
{
	if (it->have_id)
		identity_free(&it->id);
	free(it->gone_dn);
	job_free(&it->job);
}

/* Which actions select_items() takes. */
enum pick { PICK_ANY, PICK_REVOKE, PICK_ISSUE };

/* Whether the job runs on its own, not step by step with the batch: a
 * flip, a hold or a lift (one user at a time, nothing signed). */
static int
solo(const struct job *job)
{
	return job->action == JOB_UNPUBLISH || job->action == JOB_REPUBLISH ||
	    job->action == JOB_HOLD || job->action == JOB_LIFT;
}

/* The items still going whose job is in state (KEYS counting as PLANNED)
 * and whose action pick takes (none that runs solo()), into sel; returns
 * how many. */
static size_t
select_items(struct job_item *v, size_t n, enum job_state state, enum pick pick,
    struct job_item **sel)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		enum job_state s = v[i].job.state == JOB_KEYS ? JOB_PLANNED : v[i].job.state;

		if (v[i].rc != 0 || solo(&v[i].job) || s != state)
			continue;
		if ((pick == PICK_ISSUE && v[i].job.action == JOB_REVOKE) ||
		    (pick == PICK_REVOKE && v[i].job.action != JOB_REVOKE))
			continue;
		sel[k++] = &v[i];
	}
	return k;
}

/* ---- the steps, each for the whole batch ------------------------------------------ */

/* A revoke job issues nothing: PLANNED -> ISSUED, one transaction. */
static void
skip_issue(struct job_ctx *ctx, struct job_item **sel, size_t k)
{
	int ok = store_begin(ctx->st) == 0;

	for (size_t i = 0; ok && i < k; i++)
		job_set_state(ctx->st, &sel[i]->job, JOB_ISSUED);
	if (!ok || store_commit(ctx->st) == -1)
		for (size_t i = 0; i < k; i++)
			job_item_fail(sel[i], -1, NULL);
}

/* Flips, holds and lifts, one by one, each to REVOKED. */
static void
run_solos(struct job_ctx *ctx, struct job_item *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *dn = job_item_dn(&v[i]);
		struct job *job = &v[i].job;
		int rc;

		if (v[i].rc != 0 || !solo(job))
			continue;
		if (job->action == JOB_HOLD)
			rc = run_hold(ctx, job, dn);
		else if (job->action == JOB_LIFT)
			rc = run_lift(ctx, job, &v[i].id, v[i].have_id);
		else
			rc = run_flip(ctx, job, dn);
		if (rc == -1)
			job_item_fail(&v[i], -1, NULL);
	}
}

/* Milliseconds on the monotonic clock, for the batch's debug line. */
static double
ms_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static int
stopping(const struct job_ctx *ctx)
{
	return ctx->should_stop != NULL && ctx->should_stop(ctx->stop_arg);
}

/* Every item of v through the steps, each step for all of them at once:
 * PLANNED/KEYS -> ISSUED -> ARCHIVED -> PUBLISHED -> REVOKED.  Between
 * steps it stops if asked: each job waits, durable, where it stands.
 * t[] gets the milliseconds each step took. */
static void
run_steps(struct job_ctx *ctx, struct job_item *v, size_t n, struct job_item **sel,
    double t[4])
{
	enum log_level level = n > LOUD_MAX || ctx->quiet ? LOG_LVL_INFO :
	    LOG_LVL_NOTICE;
	double t0 = ms_now();
	size_t k;

	run_solos(ctx, v, n);
	if ((k = select_items(v, n, JOB_PLANNED, PICK_ISSUE, sel)) > 0) {
		job_step_issue_many(ctx, sel, k, level);
		failpoint("after-ISSUED");
	}
	if ((k = select_items(v, n, JOB_PLANNED, PICK_REVOKE, sel)) > 0) {
		skip_issue(ctx, sel, k);
		failpoint("after-ISSUED");
	}
	t[0] = ms_now() - t0;
	if (stopping(ctx))
		return;
	if ((k = select_items(v, n, JOB_ISSUED, PICK_ANY, sel)) > 0) {
		job_step_archive_many(ctx, sel, k);
		failpoint("after-ARCHIVED");
	}
	t[1] = ms_now() - t0 - t[0];
	if ((k = select_items(v, n, JOB_ARCHIVED, PICK_ANY, sel)) > 0) {
		job_step_publish_many(ctx, sel, k, level);
		failpoint("after-PUBLISHED");
	}
	t[2] = ms_now() - t0 - t[0] - t[1];
	if (stopping(ctx))
		return;
	if ((k = select_items(v, n, JOB_PUBLISHED, PICK_ANY, sel)) > 0) {
		job_step_revoke_many(ctx, sel, k, level);
		failpoint("after-REVOKED");
	}
	t[3] = ms_now() - t0 - t[0] - t[1] - t[2];
}

/* Jobs of one batch failing together (the store, the keystore, the
 * directory: one cause, everyone's) make one warning, not one each; more
 * than this many, and the others' lines go to info. */
#define FAILED_LOUD 3

/* The failed items' retries recorded, only the retry columns (the
 * in-memory state may be one whose commit failed, and must not be written
 * now): one transaction, so a locked store costs one wait, not one per
 * job.  1 recorded, 0 not. */
static int
record_retries(struct job_ctx *ctx, struct job_item *v, size_t n)
{
	int ok;

	/* A store that just failed to take a write would make this wait its
	 * busy timeout, and fail: the runner holds the jobs in memory. */
	if (store_unwritable(ctx->st))
		return 0;
	ok = store_begin(ctx->st) == 0;

	for (size_t i = 0; ok && i < n; i++)
		if ((v[i].rc == -1 || v[i].rc == -3) && v[i].job.uuid != NULL &&
		    store_job_postpone(ctx->st, v[i].job.uuid, v[i].job.attempts,
		    v[i].job.next_attempt, failure_text(v[i].why)) == -1)
			ok = 0;
	if (ok)
		return store_commit(ctx->st) == 0;
	store_rollback(ctx->st);
	return 0;
}

/* Many failed together: one line at warning for all of them (the others'
 * at info, in retry_line()), saying what the first one's says. */
static void
retries_summary(struct job_ctx *ctx, const struct job_item *first, size_t failed,
    int recorded)
{
	const char *what = failure_text(first->why);
	long long delay = (long long)(first->job.next_attempt - time(NULL));

	if (recorded)
		log_warn("%zu jobs failed (user %s first): %s; retried in %llds or "
		    "more (a line each at info)", failed, first->job.uuid, what, delay);
	else
		log_warn("%zu jobs failed (user %s first): %s; could not record the "
		    "retry (%s); jobs wait %llds (not recorded; a line each at info)",
		    failed, first->job.uuid, what, store_error(ctx->st), delay);
}

/* The CA process could not sign now (it is down or restarting, or its
 * ceiling on signatures was reached): the job waits until ctx's
 * ca_wait_until, where it stands, without an attempt counted against it.
 * Recorded with the batch's retries (record_retries). */
static void
wait_for_ca(struct job_ctx *ctx, struct job_item *it)
{
	it->job.next_attempt = ctx->ca_wait_until;
	log_info("user %s: %s; %s job waits %llds", it->job.uuid,
	    failure_text(it->why), job_action_name(it->job.action),
	    (long long)(ctx->ca_wait_until - time(NULL)));
}

/* The outcome of each item: a failure put off or parked, a wait for the CA
 * process; rcs[i] 0, -1, -2 or -3 as job_run() returns. */
static void
conclude(struct job_ctx *ctx, struct job_item *v, size_t n, int *rcs)
{
	const struct job_item *first = NULL;
	size_t failed = 0, waiting = 0;
	int recorded;

	for (size_t i = 0; i < n; i++) {
		rcs[i] = v[i].rc < 0 ? v[i].rc : 0;
		if (v[i].rc == -2)
			rcs[i] = park(ctx->st, &v[i].job, v[i].have_id ? v[i].id.dn : NULL,
			    v[i].why);
		else if (v[i].rc == -3 && v[i].job.uuid != NULL) {
			wait_for_ca(ctx, &v[i]);
			waiting++;
		} else if (v[i].rc == -1 && v[i].job.uuid != NULL) {
			retry_time(ctx, &v[i].job);
			first = first != NULL ? first : &v[i];
			failed++;
		}
	}
	if (failed + waiting == 0)
		return;
	/* Not recorded: the runner holds every job until then (as a retry). */
	if (!(recorded = record_retries(ctx, v, n)) && waiting > 0 &&
	    ctx->retry_unrecorded < ctx->ca_wait_until)
		ctx->retry_unrecorded = ctx->ca_wait_until;
	if (failed == 0)
		return;
	for (size_t i = 0; i < n; i++)
		if (v[i].rc == -1 && v[i].job.uuid != NULL)
			retry_line(ctx, &v[i].job, failure_text(v[i].why),
			    v[i].job.next_attempt - time(NULL), recorded,
			    failed > FAILED_LOUD ? LOG_LVL_INFO : LOG_LVL_WARNING);
	if (failed > FAILED_LOUD)
		retries_summary(ctx, first, failed, recorded);
}

void
job_run_many(struct job_ctx *ctx, char *const *uuids, size_t n, int *rcs)
{
	struct job_item *v = calloc(n ? n : 1, sizeof(*v));
	struct job_item **sel = calloc(n ? n : 1, sizeof(*sel));
	double t[4] = { 0, 0, 0, 0 };

	if (v == NULL || sel == NULL)
		fatal("out of memory");
	ctx->ca_wait_until = 0;
	log_problem_clear();
	for (size_t i = 0; i < n; i++)
		load_item(ctx, uuids[i], &v[i]);
	run_steps(ctx, v, n, sel, t);
	conclude(ctx, v, n, rcs);
	log_debug("a batch of %zu job(s): issue %.0f ms, archive %.0f ms, publish "
	    "%.0f ms, revoke %.0f ms", n, t[0], t[1], t[2], t[3]);
	for (size_t i = 0; i < n; i++)
		item_free(&v[i]);
	free(sel);
	free(v);
}

int
job_run(struct job_ctx *ctx, const char *uuid)
{
	char *one = (char *)uuid;
	int rc;

	job_run_many(ctx, &one, 1, &rc);
	return rc;
}

/* ---- closing ---------------------------------------------------------------------- */

/* Closes one REVOKED job, inside the caller's transaction; a revoke or
 * hold job also forgets the identity (its addresses are free; a user back
 * from a hold is read anew). */
static void
close_job(struct job_ctx *ctx, struct job *job)
{
	store_job_delete(ctx->st, job->uuid);
	if (job->action == JOB_REVOKE || job->action == JOB_HOLD)
		store_identity_delete(ctx->st, job->uuid);
	store_audit(ctx->st, "done", job->uuid, NULL, "%s job done",
	    job_action_name(job->action));
}

/* Up to 1000 REVOKED jobs closed in one transaction; their uuids into
 * closed (may be NULL).  1 when some were, 0 when none was left, -1. */
static int
close_some(struct job_ctx *ctx, struct uuid_set *closed)
{
	struct uuid_set due = { 0 };
	int rc = -1;

	if (store_job_list(ctx->st, 0, job_state_name(JOB_REVOKED), 1000, &due) == -1)
		return -1;
	if (due.n == 0)
		return 0;
	if (store_begin(ctx->st) == 0) {
		for (size_t i = 0; i < due.n; i++) {
			struct job job;

			if (job_get(ctx->st, due.v[i], &job) != 1)
				continue;
			close_job(ctx, &job);
			job_free(&job);
		}
		rc = store_commit(ctx->st);
	}
	failpoint("after-DONE");
	for (size_t i = 0; rc == 0 && i < due.n; i++) {
		metrics_change_forget(due.v[i]);	/* if it never published */
		if (closed != NULL)
			uuid_set_add(closed, due.v[i]);
	}
	uuid_set_clear(&due);
	return rc == 0 ? 1 : -1;
}

int
job_finish_batch(struct job_ctx *ctx, struct uuid_set *closed)
{
	int64_t number;
	int more;

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
	for (int i = 0; i < 1000; i++)
		if ((more = close_some(ctx, closed)) != 1)
			return more;
	return 0;
}
