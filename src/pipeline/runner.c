/*
 * runner.c - runs planned jobs on a worker thread, a batch at a time.
 *
 * Owns: the runner thread and what it holds: a store connection, the CA
 * process's client (ca_client.h), the publisher, the archive (its recovery
 * agents are loaded when the runner starts: at start-up and on every
 * reload), the keystore, the key pool and the workers.  It takes the due
 * jobs, oldest first, in batches sized to take about a second, runs each
 * batch step by step to REVOKED (job_run_many), rewrites the CRL once for
 * the batch, closes the jobs, and reconciles their users again.  Between
 * batches it sleeps until kicked or a retry is due.  Before the first
 * batch it clears what a kill left in its directories (leftovers.c),
 * revokes what a crash left signed but not recorded
 * (job_recover_unrecorded), but what a job in KEYS will record, and
 * releases the parked jobs for one more attempt.  A CRL due without
 * revocations (the first one, or a fresh one before nextUpdate) is written
 * with the batch, checked at least every IDLE_WAIT seconds.  It keeps what
 * a failed attempt signed and could not record, for the next attempt
 * (job_kept.c), and backs every job off for a while after failures in a
 * row, in memory, so that a store that cannot be written costs a few
 * attempts a minute.  While the CA process is down, job work waits (it is
 * restarted with backoff, its state kept in the store for `certsyncctl
 * status`); each time it comes up, its audit log is held against the store
 * (ca_ledger.c).  It keeps the progress: the rate, the progress line, the
 * key pool's level (progress.c).
 * Never: touches the event loop or the watcher's connection.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory/publish.h"
#include "lib/failpoint.h"
#include "lib/log.h"
#include "pipeline/ca_ledger.h"
#include "pipeline/deliver.h"
#include "pipeline/crl_publish.h"
#include "pipeline/job.h"
#include "pipeline/job_kept.h"
#include "pipeline/job_unrecorded.h"
#include "pipeline/leftovers.h"
#include "pipeline/plan.h"
#include "pipeline/progress.h"
#include "pipeline/runner.h"
#include "pki/archive.h"
#include "pki/keypool.h"
#include "pki/keystore.h"
#include "lib/memtrim.h"
#include "lib/workers.h"

#define IDLE_WAIT 30           /* seconds between checks when nothing is due */
#define POOL_WAIT 2            /* ... while the key pool fills (its level is
                                  written for certsyncctl status) */
#define BACKOFF_MAX 60            /* seconds, the longest back-off after failures */
#define BATCH_MAX 500          /* jobs per batch before the CRL is rewritten */
#define LOUD_MAX 20            /* more jobs due than this: a mass event, whose
                                  per-user lines go to info until it is over */
#define TRIM_AFTER 100         /* jobs: a burst whose heap pages are handed
                                  back once the queue is empty (memtrim.h) */
#define BATCH_SECONDS 1.0      /* what a batch should take: the next one's size
                                  follows the last one's rate */

struct runner {
	const struct conf *conf;
	struct store *st;
	struct ca_client *ca;
	unsigned ca_seen;          /* the CA process's start last looked at */
	char ca_status[600];       /* as last written to the store */
	struct publisher *pub;
	struct deliver *deliver;
	struct archive *archive;
	struct keystore *keystore;
	struct keypool *keypool;
	struct workers *workers;
	struct job_ctx jctx;
	struct plan_ctx plan;
	size_t batch;              /* the next batch's size */
	size_t since_trim;         /* jobs run since the heap was last trimmed */
	struct progress progress;

	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;       /* on CLOCK_MONOTONIC */
	int kicked, stopping, draining;

	/* In memory, so it holds whatever fails, the store included: after
	 * jobs failed in a row no job runs before backoff_until (1 s, 2 s, 4 s,
	 * ... up to BACKOFF_MAX), on top of each job's own backoff.  A failure
	 * that is everyone's (the directory, the store) then costs a few
	 * attempts a minute, not one per user. */
	int fails;
	int64_t backoff_until;
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

static int
should_stop(void *arg)
{
	struct runner *r = arg;
	int stop;

	pthread_mutex_lock(&r->lock);
	stop = r->stopping && !r->draining;
	pthread_mutex_unlock(&r->lock);
	return stop;
}

/* Test builds only: CERTSYNC_BATCH_DELAY_MS slows every batch down, so a
 * test can watch a backlog drain (agent_progress.sh). */
static void
batch_delay(void)
{
	double ms = failpoint_number("CERTSYNC_BATCH_DELAY_MS", 0);
	struct timespec t = { (time_t)(ms / 1000), (long)((ms - (double)(long)(ms /
	    1000) * 1000) * 1e6) };

	if (ms > 0)
		nanosleep(&t, NULL);
}

static double
seconds_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* The next batch sized after the last one's rate, so that it takes about
 * BATCH_SECONDS: a burst of cheap jobs (EC keys, a warm key pool) goes in
 * big batches, whose shared flushes pay most; RSA keys made on the spot in
 * small ones, so the first users do not wait for the last. */
static void
resize(struct runner *r, size_t n, double took)
{
	/* A test may cap it (CERTSYNC_BATCH_MAX), to see a reissue under way. */
	double most = failpoint_number("CERTSYNC_BATCH_MAX", BATCH_MAX);
	size_t least = 2 * (size_t)workers_width(r->workers);
	double next = took > 0 ? (double)n / took * BATCH_SECONDS : most;

	if (least > most)
		least = (size_t)most;
	if (n < r->batch && r->batch <= most)
		return;	/* the backlog, not the rate, set this one's size */
	r->batch = next < (double)least ? least : next > most ? (size_t)most :
	    (size_t)next;
}

/* RSA jobs beyond this batch, and fewer keys in the pool than the batch
 * takes: the backlog's keys are made at the runner's priority, on every
 * core, continuously, while this batch is signed, written and published
 * (keys are then what the event waits for: a filler at nice 19 gets next
 * to nothing on a machine shared with other work).  Not for EC keys: the
 * workers make a batch's in milliseconds.  Off when the backlog fits in a
 * batch, or none runs. */
static void
hurry(struct runner *r, int backlog)
{
	size_t keys = r->conf->certificates.mode == CERT_MODE_DUAL ? 1 : 2;

	keypool_hurry(r->keypool, backlog &&
	    r->conf->certificates.key.alg == KEY_ALG_RSA &&
	    (size_t)keypool_level(r->keypool) < keys * r->batch);
}

/* Runs a batch of due jobs, at once; collects the uuids of those that ran.
 * Returns how many were due; *failed is set when one failed (then the
 * runner pauses, so a broken store cannot turn into a tight retry loop). */
static size_t
run_batch(struct runner *r, struct uuid_set *ran, int *failed)
{
	struct uuid_set due = { 0 };
	double t0 = seconds_now();
	size_t n;
	int *rcs;

	*failed = 0;
	if (time(NULL) < r->backoff_until) {
		hurry(r, 0);
		return 0;
	}
	/* One more than a loud batch, or than this one: enough to tell a mass
	 * event, and a backlog beyond this batch. */
	if (should_stop(r) || store_job_list(r->st, time(NULL), NULL,
	    (r->batch > LOUD_MAX ? r->batch : LOUD_MAX) + 1, &due) == -1 || due.n == 0) {
		r->jctx.quiet = 0;	/* the backlog is gone */
		hurry(r, 0);
		uuid_set_clear(&due);
		return 0;
	}
	if (due.n > LOUD_MAX)
		r->jctx.quiet = 1;
	hurry(r, due.n > r->batch);
	while (due.n > r->batch)
		free(due.v[--due.n]);
	if ((rcs = calloc(due.n, sizeof(*rcs))) == NULL)
		fatal("out of memory");
	job_run_many(&r->jctx, due.v, due.n, rcs);
	for (size_t i = 0; i < due.n; i++) {
		if (rcs[i] == 0) {
			uuid_set_add(ran, due.v[i]);
			r->fails = 0;
		} else if (rcs[i] == -1)
			*failed = 1;	/* -2: parked; nothing is broken, go on */
	}
	resize(r, due.n, seconds_now() - t0);
	batch_delay();
	n = due.n;
	free(rcs);
	uuid_set_clear(&due);
	return n;
}

/* Closes the batch (CRL, DONE) and takes a fresh look at each closed user:
 * changes that came in while their job ran are planned now, and so is
 * what a job leads to.  So at each user whose job was dropped (no
 * certifiable identity left, a departure among them): what the user still
 * holds is decided now, not at the next full pass.  A user whose job is
 * still in flight is left to it.  One transaction: the loop cannot plan
 * between look and plan.  *next gets how many jobs that planned: they are
 * due at once.  0, or -1 when the CRL could not be written (the runner
 * then holds back, as after a failed job: each attempt signs a CRL and
 * takes a CRL number; ran is kept for the next round). */
static int
finish_batch(struct runner *r, struct uuid_set *ran, size_t *next)
{
	struct uuid_set closed = { 0 };
	size_t before = r->plan.planned;

	if (job_finish_batch(&r->jctx, &closed) == -1) {
		log_error("the CRL could not be rewritten; the batch's jobs stay "
		    "REVOKED and are closed after the next successful CRL");
		/* The store may be what failed (full, locked): the users are
		 * looked at after the next CRL, not now. */
		uuid_set_clear(&closed);
		return -1;
	}
	progress_closed(&r->progress, r->st, closed.n, r->keypool);
	if (store_begin(r->st) == 0) {
		for (size_t i = 0; i < closed.n; i++)
			plan_recheck(&r->plan, closed.v[i]);
		for (size_t i = 0; i < ran->n; i++)
			if (!uuid_set_has(&closed, ran->v[i]))
				plan_recheck(&r->plan, ran->v[i]);
		store_commit(r->st);
	}
	/* A user who left mid-job leaves now: judged by the safety catch. */
	if (closed.n > 0 || ran->n > 0)
		plan_flush(&r->plan);
	uuid_set_clear(&closed);
	uuid_set_clear(ran);
	*next = r->plan.planned - before;
	return 0;
}

/* After a failed batch: the back-off grows with the failures in a row, and
 * lasts at least until a retry the store could not record. */
static void
back_off(struct runner *r)
{
	int64_t delay = 1, max = r->conf->daemon.retry_max < BACKOFF_MAX ?
	    r->conf->daemon.retry_max : BACKOFF_MAX;

	for (int i = 0; i < r->fails && delay < max; i++)
		delay *= 2;
	r->fails++;
	r->backoff_until = time(NULL) + (delay < max ? delay : max);
	if (r->backoff_until < r->jctx.retry_unrecorded)
		r->backoff_until = r->jctx.retry_unrecorded;
	r->jctx.retry_unrecorded = 0;
}

/*
 * Sleeps until kicked, stopped, or the next retry (not before the back-offs
 * end) or delivery is due; never less than a second: what is due "now"
 * right after a round tried it is a retry the store did not record, and
 * must not be tried again in a tight loop.  ca_wait is the CA process's
 * (0: none; -1: no job until kicked, the CA process being stopped for
 * good; else the time it restarts or its ceiling lifts).  While the key
 * pool fills it wakes every POOL_WAIT seconds to write its level.
 */
static void
wait_for_work(struct runner *r, int64_t deliver_due, int64_t ca_wait)
{
	int filling = keypool_level(r->keypool) < keypool_size(r->keypool);
	struct timespec now, until;
	int64_t due = 0, wake, delta;
	int64_t from = ca_wait > r->backoff_until ? ca_wait : r->backoff_until;

	progress_pool(&r->progress, r->st, r->keypool);
	clock_gettime(CLOCK_REALTIME, &now);
	wake = now.tv_sec + (filling ? POOL_WAIT : IDLE_WAIT);
	if (ca_wait != -1 && store_job_next_due(r->st, &due) == 1 && due < wake)
		wake = due > from ? due : from;
	if (deliver_due > 0 && deliver_due < wake)
		wake = deliver_due;
	/* The end of a back-off: a CRL still to write, or a CA process to
	 * start again, is tried then. */
	if (from > now.tv_sec && from < wake)
		wake = from;
	delta = wake - now.tv_sec;
	clock_gettime(CLOCK_MONOTONIC, &until);
	until.tv_sec += (time_t)(delta > 1 ? delta : 1);
	pthread_mutex_lock(&r->lock);
	while (!r->kicked && !r->stopping &&
	    pthread_cond_timedwait(&r->cond, &r->lock, &until) != ETIMEDOUT)
		;
	r->kicked = 0;
	pthread_mutex_unlock(&r->lock);
}

/*
 * The CA process up, restarted if its time has come (a kick after SIGCHLD
 * brings us here at once); its state in the store when it changed; what a
 * dead one may have signed looked at when a new one is up.  1 if it is up;
 * else 0 with *ca_wait the time jobs wait for (-1: until kicked).
 */
static int
ca_ready(struct runner *r, int64_t *ca_wait)
{
	char status[sizeof(r->ca_status)];
	int up = ca_client_ensure(r->ca) == 0;

	ca_client_status(r->ca, status, sizeof(status));
	if (strcmp(status, r->ca_status) != 0 &&
	    store_state_set(r->st, "ca_process", status) == 0)
		snprintf(r->ca_status, sizeof(r->ca_status), "%s", status);
	if (up && ca_client_generation(r->ca) != r->ca_seen) {
		r->ca_seen = ca_client_generation(r->ca);
		if (ca_ledger_check(&r->jctx) == -1)
			log_error("the CA process's audit log could not be held against "
			    "the store; tried again when it next starts");
	}
	*ca_wait = up ? 0 : ca_client_state(r->ca) == CA_STOPPED ? -1 :
	    (int64_t)ca_client_next_start(r->ca);
	return up;
}

/* One round: the CA process looked at, a batch run and closed.  Returns
 * how many jobs ran, and how many closing the batch planned (due at once:
 * --once waits for them, and nobody sleeps over them); *failed when a job
 * or the CRL failed; *ca_wait as ca_ready's (or a job's wait for the CA
 * process's ceiling). */
static size_t
round_once(struct runner *r, struct uuid_set *ran, int *first, int *failed,
    int64_t *ca_wait)
{
	size_t n = 0, next = 0;

	*failed = 0;
	if (!ca_ready(r, ca_wait)) {
		hurry(r, 0);	/* no batch runs: the pool fills at nice 19 */
		return 0;
	}
	n = run_batch(r, ran, failed);
	/* The first time round it also closes a batch a crash left open;
	 * a CRL that could not be written is tried again each round. */
	if ((*first || n > 0 || r->jctx.revoked > 0 || ran->n > 0 ||
	    store_crl_pending(r->st) == 1 ||
	    crl_publish_due(r->conf, r->st, time(NULL)) == 1) &&
	    time(NULL) >= r->backoff_until && finish_batch(r, ran, &next) == -1)
		*failed = 1;
	*first = 0;
	/* A job waiting for the CA process (its ceiling): all of them wait. */
	if (r->jctx.ca_wait_until > time(NULL))
		*ca_wait = r->jctx.ca_wait_until;
	return n + next;
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

/* A burst over (nothing ran this round, nothing failed): its heap pages
 * back to the kernel, or the RSS of the mass event stays for good. */
static void
idle_trim(struct runner *r, size_t n, int failed)
{
	r->since_trim += n;
	if (n > 0 || failed || r->since_trim < TRIM_AFTER)
		return;
	mem_trim();
	r->since_trim = 0;
}

static void *
runner_main(void *arg)
{
	struct runner *r = arg;
	struct uuid_set ran = { 0 };
	int first = 1;

	leftovers_sweep(&r->jctx);
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
		int failed = 0, asked_before = stop_asked(r, NULL), stop, draining;
		int64_t deliver_due, ca_wait = 0;
		size_t n = round_once(r, &ran, &first, &failed, &ca_wait);

		deliver_due = deliver_poll(r->deliver);
		stop = stop_asked(r, &draining);
		if (stop && (!draining || (n == 0 && asked_before) || failed))
			break;
		if (failed)
			back_off(r);
		idle_trim(r, n, failed);
		if (n == 0 || failed || ca_wait != 0)
			wait_for_work(r, deliver_due, ca_wait);
	}
	deliver_finish(r->deliver);
	uuid_set_clear(&ran);
	return NULL;
}

int
runner_start(const struct conf *conf, struct ca_client *ca, struct runner **out)
{
	pthread_condattr_t cattr;
	struct runner *r;

	if ((r = calloc(1, sizeof(*r))) == NULL)
		fatal("out of memory");
	r->conf = conf;
	r->ca = ca;
	pthread_mutex_init(&r->lock, NULL);
	pthread_condattr_init(&cattr);
	/* The waits are durations: a clock set back must not stretch them. */
	pthread_condattr_setclock(&cattr, CLOCK_MONOTONIC);
	pthread_cond_init(&r->cond, &cattr);
	pthread_condattr_destroy(&cattr);
	if (store_open(conf->state.database, &r->st) == -1 ||
	    archive_open(conf, time(NULL), &r->archive) == -1 ||
	    keystore_open(conf, r->st, &r->keystore) == -1 ||
	    publish_open(conf, &r->pub) == -1 ||
	    plan_init(&r->plan, conf, r->st, 0, NULL) == -1 ||
	    deliver_open(conf, r->st, &r->deliver) == -1)
		goto fail;
	r->jctx.conf = conf;
	r->jctx.st = r->st;
	r->jctx.ca = r->ca;
	r->jctx.ca_cert = ca_client_ca(r->ca);
	r->jctx.pub = r->pub;
	r->jctx.crl_refresh = 1;
	r->jctx.archive = r->archive;
	r->jctx.keystore = r->keystore;
	r->jctx.workers = r->workers = workers_start(conf->daemon.workers);
	r->jctx.keypool = r->keypool = keypool_start(&conf->certificates.key,
	    conf->certificates.key_pool, 0);
	r->jctx.kept = kept_new();
	r->jctx.should_stop = should_stop;
	r->jctx.stop_arg = r;
	r->batch = 2 * (size_t)workers_width(r->workers);
	progress_init(&r->progress);
	if (pthread_create(&r->thread, NULL, runner_main, r) != 0) {
		log_error("cannot start the job runner thread");
		goto fail;
	}
	*out = r;
	return 0;
fail:
	kept_free(r->jctx.kept);
	deliver_close(r->deliver);
	plan_free(&r->plan);
	publish_close(r->pub);
	keypool_stop(r->keypool);
	workers_stop(r->workers);
	keystore_close(r->keystore);
	archive_close(r->archive);
	ca_client_free(r->ca);
	store_close(r->st);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->cond);
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
	keypool_stop(r->keypool);
	workers_stop(r->workers);
	keystore_close(r->keystore);
	archive_close(r->archive);
	kept_free(r->jctx.kept);
	ca_client_free(r->ca);
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
