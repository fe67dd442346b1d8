/*
 * metrics.c - the in-memory metrics and their Prometheus text form.
 *
 * Owns: the values of the table in metrics.h (one atomic each, so the
 * runner thread and the loop count without a lock), the histograms and
 * the latency marks (behind one mutex: they change once per job, not per
 * message), and printing them all.
 * Never: allocates on the counting path (a mark is the one exception,
 * bounded by MARKS_MAX), or prints a label or help text it did not get
 * from the table (nothing from outside reaches the page from here).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/metrics.h"

#define MARKS_MAX 4096		/* users timed at once; more are not timed */
#define MARK_STALE 86400.0	/* a mark this old is dropped to make room */

enum metric_type { COUNTER, GAUGE, GAUGE_OPT, AGE };

struct metric_def {
	const char *name, *labels, *help;
	enum metric_type type;
};

#define CS_METRIC_DEF(id, type, name, labels, help) \
	[id] = { name, labels, help, type },
static const struct metric_def defs[M_COUNT] = { CS_METRICS(CS_METRIC_DEF) };

static _Atomic int64_t values[M_COUNT];
static _Atomic int values_set[M_COUNT];	/* GAUGE_OPT: set at least once */

/* Upper bounds in seconds, ascending; +Inf is implied. */
static const double buckets[] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600,
};
#define NBUCKETS (sizeof(buckets) / sizeof(buckets[0]))

struct histogram {
	const char *name, *help;
	uint64_t counts[NBUCKETS + 1];	/* per bucket, not cumulative; +Inf last */
	double sum;
};

#define CS_HISTOGRAM_DEF(id, name, help) [id] = { name, help, { 0 }, 0 },
static struct histogram hists[H_COUNT] = { CS_HISTOGRAMS(CS_HISTOGRAM_DEF) };

struct mark {
	char *uuid;
	double at;
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct mark *marks;
static size_t nmarks, marks_cap;

/* ---- counting --------------------------------------------------------------- */

void
metrics_add(enum metric_id id, int64_t n)
{
	atomic_fetch_add(&values[id], n);
}

void
metrics_set(enum metric_id id, int64_t value)
{
	atomic_store(&values[id], value);
	atomic_store(&values_set[id], 1);
}

void
metrics_set_once(enum metric_id id, int64_t value)
{
	int64_t zero = 0;

	atomic_compare_exchange_strong(&values[id], &zero, value);
}

int64_t
metrics_get(enum metric_id id)
{
	return atomic_load(&values[id]);
}

void
metrics_observe(enum histogram_id id, double seconds)
{
	size_t i = 0;

	while (i < NBUCKETS && seconds > buckets[i])
		i++;
	pthread_mutex_lock(&lock);
	hists[id].counts[i]++;
	hists[id].sum += seconds;
	pthread_mutex_unlock(&lock);
}

/* ---- latency marks ------------------------------------------------------------ */

double
metrics_clock(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The mark of uuid, or NULL; the lock is held. */
static struct mark *
mark_find(const char *uuid)
{
	for (size_t i = 0; i < nmarks; i++)
		if (strcmp(marks[i].uuid, uuid) == 0)
			return &marks[i];
	return NULL;
}

static void
mark_remove(struct mark *m)
{
	free(m->uuid);
	*m = marks[--nmarks];
}

/* Room for one more mark, dropping stale ones if full: 1, or 0 if none. */
static int
mark_room(double now)
{
	struct mark *grown = NULL;
	size_t cap;

	for (size_t i = nmarks; nmarks == MARKS_MAX && i-- > 0; )
		if (now - marks[i].at > MARK_STALE)
			mark_remove(&marks[i]);
	if (nmarks < marks_cap)
		return 1;
	if (nmarks == MARKS_MAX)
		return 0;
	cap = marks_cap ? marks_cap * 2 : 64;
	if ((grown = realloc(marks, cap * sizeof(*marks))) == NULL)
		return 0;	/* not timed: metrics never stop the agent */
	marks = grown;
	marks_cap = cap;
	return 1;
}

void
metrics_change_arrived(const char *uuid, double at)
{
	char *copy = NULL;

	pthread_mutex_lock(&lock);
	if (mark_find(uuid) == NULL && mark_room(at) &&
	    (copy = strdup(uuid)) != NULL)
		marks[nmarks++] = (struct mark){ copy, at };
	pthread_mutex_unlock(&lock);
}

void
metrics_change_published(const char *uuid)
{
	struct mark *m = NULL;
	double took = -1;

	pthread_mutex_lock(&lock);
	if ((m = mark_find(uuid)) != NULL) {
		took = metrics_clock() - m->at;
		mark_remove(m);
	}
	pthread_mutex_unlock(&lock);
	if (took >= 0)
		metrics_observe(H_CHANGE_TO_PUBLISHED, took);
}

void
metrics_change_forget(const char *uuid)
{
	struct mark *m = NULL;

	pthread_mutex_lock(&lock);
	if ((m = mark_find(uuid)) != NULL)
		mark_remove(m);
	pthread_mutex_unlock(&lock);
}

/* ---- the text format ------------------------------------------------------------ */

static const char *
type_name(enum metric_type t)
{
	return t == COUNTER ? "counter" : "gauge";
}

/* One sample of defs[i]; nothing for an AGE or GAUGE_OPT not yet set. */
static void
write_sample(FILE *out, size_t i, int64_t now)
{
	const struct metric_def *d = &defs[i];
	int64_t v = atomic_load(&values[i]);

	if ((d->type == AGE && v == 0) ||
	    (d->type == GAUGE_OPT && !atomic_load(&values_set[i])))
		return;
	if (d->type == AGE)
		v = now > v ? now - v : 0;
	if (d->labels[0] != '\0')
		fprintf(out, "%s{%s} %lld\n", d->name, d->labels, (long long)v);
	else
		fprintf(out, "%s %lld\n", d->name, (long long)v);
}

static void
write_histogram(FILE *out, const struct histogram *h)
{
	uint64_t counts[NBUCKETS + 1], cum = 0;
	double sum;

	pthread_mutex_lock(&lock);
	memcpy(counts, h->counts, sizeof(counts));
	sum = h->sum;
	pthread_mutex_unlock(&lock);
	fprintf(out, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
	for (size_t i = 0; i < NBUCKETS; i++) {
		cum += counts[i];
		fprintf(out, "%s_bucket{le=\"%g\"} %llu\n", h->name, buckets[i],
		    (unsigned long long)cum);
	}
	cum += counts[NBUCKETS];
	fprintf(out, "%s_bucket{le=\"+Inf\"} %llu\n", h->name, (unsigned long long)cum);
	fprintf(out, "%s_sum %.6f\n%s_count %llu\n", h->name, sum, h->name,
	    (unsigned long long)cum);
}

int
metrics_write(FILE *out, int64_t now)
{
	for (size_t i = 0; i < M_COUNT; i++) {
		if (i == 0 || strcmp(defs[i].name, defs[i - 1].name) != 0)
			fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", defs[i].name,
			    defs[i].help, defs[i].name, type_name(defs[i].type));
		write_sample(out, i, now);
	}
	for (size_t i = 0; i < H_COUNT; i++)
		write_histogram(out, &hists[i]);
	return ferror(out) ? -1 : 0;
}
