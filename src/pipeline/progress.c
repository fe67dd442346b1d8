/*
 * progress.c - the runner's progress, its line and its facts (progress.h).
 *
 * Owns: a ring of (time, jobs closed so far) samples, one per batch, from
 * which the rate of the last minute is read; the "progress" fact
 * ("<jobs closed in the last minute> <unix time>") and "key_pool" fact
 * ("<level> <size>") in daemon_state, and their printout.
 * Never: counts a job twice (the runner hands over the jobs it closed).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "lib/failpoint.h"
#include "lib/log.h"
#include "lib/metrics.h"
#include "pipeline/progress.h"
#include "pki/keypool.h"

#define LINE_EVERY 10.0        /* seconds between progress lines (a test may
                                  ask for fewer: CERTSYNC_PROGRESS_EVERY) */
#define WRITE_EVERY 1.0        /* seconds between writes of the fact */

static double
wall_now(void)
{
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

void
progress_init(struct progress *p)
{
	/* The first line comes after LINE_EVERY: a short burst logs none. */
	*p = (struct progress){ .pool_written = -1 };
	p->last_line = wall_now();
}

double
progress_rate(const struct progress *p, double now)
{
	int64_t oldest = p->done;

	/* The jobs closed since the oldest sample of the last minute. */
	for (int i = 0; i < p->n; i++) {
		int k = (p->head - 1 - i + PROGRESS_SAMPLES) % PROGRESS_SAMPLES;

		if (now - p->ring[k].at > 60.0)
			break;
		oldest = p->ring[k].done;
	}
	return (double)(p->done - oldest);
}

/* "1h 02m", "3m 20s", "45s" into buf. */
static const char *
duration(double s, char *buf, size_t len)
{
	long t = (long)(s + 0.5);

	if (t >= 3600)
		snprintf(buf, len, "%ldh %02ldm", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(buf, len, "%ldm %02lds", t / 60, t % 60);
	else
		snprintf(buf, len, "%lds", t);
	return buf;
}

/* Jobs waiting (not parked): the backlog. */
static void
count_waiting(void *arg, const char *state, int n)
{
	int *waiting = arg;

	if (state != NULL && *state != 'p')	/* "parked" */
		*waiting += n;
}

static void
log_line(struct progress *p, struct store *st, double now)
{
	double rate = progress_rate(p, now);
	char eta[32] = "";
	int waiting = 0;

	if (store_job_counts(st, count_waiting, &waiting) == -1 || waiting == 0)
		return;
	if (rate > 0)
		duration(waiting / (rate / 60.0), eta, sizeof(eta));
	log_notice("progress: %d job(s) waiting, %.0f done in the last minute, %lld "
	    "since start%s%s", waiting, rate, (long long)p->done, rate > 0 ?
	    "; done in about " : "", eta);
}

void
progress_closed(struct progress *p, struct store *st, size_t n,
    const struct keypool *pool)
{
	double now = wall_now();
	char fact[64];

	p->done += (int64_t)n;
	metrics_add(M_JOBS_DONE, (int64_t)n);
	p->ring[p->head].at = now;
	p->ring[p->head].done = p->done;
	p->head = (p->head + 1) % PROGRESS_SAMPLES;
	if (p->n < PROGRESS_SAMPLES)
		p->n++;
	if (now - p->last_write >= WRITE_EVERY) {
		snprintf(fact, sizeof(fact), "%.0f %.0f", progress_rate(p, now), now);
		store_state_set(st, "progress", fact);
		progress_pool(p, st, pool);
		p->last_write = now;
	}
	if (now - p->last_line >= failpoint_number("CERTSYNC_PROGRESS_EVERY", LINE_EVERY)) {
		log_line(p, st, now);
		p->last_line = now;
	}
}

void
progress_pool(struct progress *p, struct store *st, const struct keypool *pool)
{
	char fact[64];
	int level = keypool_level(pool);

	if (keypool_size(pool) == 0 || level == p->pool_written)
		return;
	snprintf(fact, sizeof(fact), "%d %d", level, keypool_size(pool));
	if (store_state_set(st, "key_pool", fact) == 0)
		p->pool_written = level;
}

void
progress_print(struct store *st, int waiting, FILE *out)
{
	char *fact = NULL, eta[32];
	double rate = 0, at = 0, now = wall_now();
	int level, size;

	if (store_state_get(st, "progress", &fact, NULL) == 1 && fact != NULL)
		sscanf(fact, "%lf %lf", &rate, &at);
	free(fact);
	fact = NULL;
	if (now - at > 60.0)
		rate = 0;	/* nothing closed for a minute */
	fprintf(out, "%-14s %d job(s) waiting, %.0f done in the last minute", "progress:",
	    waiting, rate);
	if (waiting > 0 && rate > 0)
		fprintf(out, ", done in about %s", duration(waiting / (rate / 60.0), eta,
		    sizeof(eta)));
	fprintf(out, "\n");
	if (store_state_get(st, "key_pool", &fact, NULL) == 1 && fact != NULL &&
	    sscanf(fact, "%d %d", &level, &size) == 2)
		fprintf(out, "%-14s %d of %d keys\n", "key pool:", level, size);
	free(fact);
}
