/*
 * runner.c - runs planned jobs on a worker thread.
 *
 * Owns: the runner thread and what it holds: a store connection, the signer,
 * the publisher, the archive (its recovery agents are loaded when the
 * runner starts: at start-up and on every reload).  It takes due jobs oldest first, runs each to REVOKED,
 * rewrites the CRL once for the batch, closes the jobs, and reconciles their
 * users again.  Between batches it sleeps until kicked or a retry is due.
 * Before the first batch it revokes what a crash left signed but not
 * recorded (job_recover_unrecorded), and releases the parked jobs for one
 * more attempt.  A CRL due without revocations (the first one, or a fresh
 * one before nextUpdate) is written with the batch, checked at least every
 * IDLE_WAIT seconds.
 * Never: touches the event loop or the watcher's connection.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory/publish.h"
#include "lib/log.h"
#include "pipeline/deliver.h"
#include "pipeline/crl_publish.h"
#include "pipeline/job.h"
#include "pipeline/job_unrecorded.h"
#include "pipeline/plan.h"
#include "pipeline/runner.h"
#include "pki/archive.h"

#define IDLE_WAIT 30           /* seconds between checks when nothing is due */
#define BATCH_MAX 200          /* jobs per batch before the CRL is rewritten */

struct runner {
	const struct conf *conf;
	struct store *st;
	struct signer *signer;
	struct publisher *pub;
	struct deliver *deliver;
	struct archive *archive;
	struct job_ctx jctx;
	struct plan_ctx plan;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int kicked, stopping, draining;
};

void
runner_kick(void *arg)
{
	struct runner *r = arg;

	pthread_mutex_lock(&r->lock);
	r->kicked = 1;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
}

/* Runs up to BATCH_MAX due jobs; collects their uuids.  Returns how many
 * ran; *failed is set when one failed (the batch then ends early, so a
 * broken store cannot turn into a tight retry loop). */
static size_t
run_batch(struct runner *r, struct uuid_set *ran, int *failed)
{
	size_t n = 0;
	int rc;

	*failed = 0;
	while (n < BATCH_MAX) {
		struct job_row job;

		pthread_mutex_lock(&r->lock);
		if (r->stopping && !r->draining) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		pthread_mutex_unlock(&r->lock);
		if (store_job_next(r->st, time(NULL), &job) != 1)
			break;
		if ((rc = job_run(&r->jctx, job.uuid)) == 0)
			uuid_set_add(ran, job.uuid);
		else if (rc == -1)
			*failed = 1;	/* -2: parked; nothing is broken, go on */
		job_row_free(&job);
		n++;
		if (*failed)
			break;
	}
	return n;
}

static void
recheck(struct runner *r, const char *uuid)
{
	/* One transaction: the loop cannot plan between look and plan. */
	if (store_begin(r->st) == 0) {
		plan_recheck(&r->plan, uuid);
		store_commit(r->st);
	}
}

/* Closes the batch (CRL, DONE) and takes a fresh look at each closed user:
 * changes that came in while their job ran are planned now.  So at each
 * user whose job was dropped (no certifiable identity left, a departure
 * among them): what the user still holds is decided now, not at the next
 * full pass.  A user whose job is still in flight is left to it. */
static void
finish_batch(struct runner *r, struct uuid_set *ran)
{
	struct uuid_set closed = { 0 };

	if (job_finish_batch(&r->jctx, &closed) == -1)
		log_error("the CRL could not be rewritten; the batch's jobs stay "
		    "REVOKED and are closed after the next successful CRL");
	for (size_t i = 0; i < closed.n; i++)
		recheck(r, closed.v[i]);
	for (size_t i = 0; i < ran->n; i++)
		if (!uuid_set_has(&closed, ran->v[i]))
			recheck(r, ran->v[i]);
	uuid_set_clear(&closed);
	uuid_set_clear(ran);
}

/* Sleeps until kicked, stopped, or the next retry or delivery is due; at
 * least a second after a failure. */
static void
wait_for_work(struct runner *r, int64_t deliver_due, int failed)
{
	struct timespec until;
	int64_t due = 0, now = time(NULL), wake = now + IDLE_WAIT;
	int64_t soonest = failed ? now + 1 : now;

	if (store_job_next_due(r->st, &due) == 1 && due < wake)
		wake = due > soonest ? due : soonest;
	if (deliver_due > 0 && deliver_due < wake)
		wake = deliver_due > soonest ? deliver_due : soonest;
	until.tv_sec = (time_t)wake;
	until.tv_nsec = 0;
	pthread_mutex_lock(&r->lock);
	while (!r->kicked && !r->stopping &&
	    pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
		;
	r->kicked = 0;
	pthread_mutex_unlock(&r->lock);
}

/* Whether a stop was asked for, and whether as a drain. */
static int
stop_asked(struct runner *r, int *draining)
{
	int stop;

	pthread_mutex_lock(&r->lock);
	stop = r->stopping;
	if (draining != NULL)
		*draining = r->draining;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* A start or a reload may be the admin's fix (a new CA, another profile):
 * every parked job gets one more attempt. */
static void
release_parked(struct runner *r)
{
	int n = 0;

	if (store_job_unpark(r->st, NULL, &n) == 0 && n > 0)
		log_notice("%d parked job(s) released for another attempt", n);
}

static void *
runner_main(void *arg)
{
	struct runner *r = arg;
	struct uuid_set ran = { 0 };
	int first = 1;

	/* What a crash left signed but not recorded is revoked before any job
	 * runs; the first round's CRL lists it. */
	if (job_recover_unrecorded(&r->jctx) == -1)
		log_error("some certificates signed but not recorded could not be "
		    "revoked; a resumed job of their user, or the next start, "
		    "tries again");
	release_parked(r);
	for (;;) {
		/* A drain ends with an empty round that began after it was
		 * asked for: jobs planned during an earlier round still run. */
		int failed = 0, asked_before = stop_asked(r, NULL);
		size_t n = run_batch(r, &ran, &failed);
		int64_t deliver_due;
		int stop, draining;

		/* The first time round it also closes a batch a crash left open;
		 * a CRL that could not be written is tried again each round. */
		if (first || n > 0 || r->jctx.revoked > 0 || ran.n > 0 ||
		    store_crl_pending(r->st) == 1 ||
		    crl_publish_due(r->conf, r->st, time(NULL)) == 1)
			finish_batch(r, &ran);
		first = 0;
		deliver_due = deliver_poll(r->deliver);
		stop = stop_asked(r, &draining);
		if (stop && (!draining || (n == 0 && asked_before) || failed))
			break;
		if (n == 0 || failed)
			wait_for_work(r, deliver_due, failed);
	}
	deliver_finish(r->deliver);
	uuid_set_clear(&ran);
	return NULL;
}

int
runner_start(const struct conf *conf, struct runner **out)
{
	struct runner *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("out of memory");
	r->conf = conf;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->cond, NULL);
	if (store_open(conf->state.database, &r->st) == -1 ||
	    signer_open(conf, &r->signer) == -1 ||
	    archive_open(conf, time(NULL), &r->archive) == -1 ||
	    publish_open(conf, &r->pub) == -1 ||
	    plan_init(&r->plan, conf, r->st, 0, NULL) == -1 ||
	    deliver_open(conf, r->st, &r->deliver) == -1)
		goto fail;
	r->jctx.conf = conf;
	r->jctx.st = r->st;
	r->jctx.signer = r->signer;
	r->jctx.pub = r->pub;
	r->jctx.crl_refresh = 1;
	r->jctx.archive = r->archive;
	if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
		log_error("cannot start the job runner thread");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	deliver_close(r->deliver);
	plan_free(&r->plan);
	publish_close(r->pub);
	archive_close(r->archive);
	signer_close(r->signer);
	store_close(r->st);
	free(r);
	return -1;
}

static void
runner_join(struct runner *r, int draining)
{
	pthread_mutex_lock(&r->lock);
	r->stopping = 1;
	r->draining = draining;
	pthread_cond_signal(&r->cond);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	deliver_close(r->deliver);
	plan_free(&r->plan);
	publish_close(r->pub);
	archive_close(r->archive);
	signer_close(r->signer);
	store_close(r->st);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
	free(r);
}

void
runner_drain(struct runner *r)
{
	runner_join(r, 1);
}

void
runner_stop(struct runner *r)
{
	if (r != NULL)
		runner_join(r, 0);
}
