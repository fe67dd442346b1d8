/*
 * workers.c - the thread pool behind workers_map().
 *
 * Owns: its threads, and handing out the indexes of the range in hand one
 * at a time under a lock (the work items are milliseconds; the lock is
 * not where the time goes).
 * Never: keeps a range after workers_map() returns, or blocks a signal
 * the daemon handles (its threads block them all: signals go to the loop).
 */
#include "config.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/workers.h"

#define WORKERS_MAX 64

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t work, idle;
	pthread_t threads[WORKERS_MAX];
	int nthreads;
	int stopping;
	/* The range in hand. */
	void (*fn)(void *, size_t);
	void *arg;
	size_t n, next, done;
	unsigned generation;
};

/* Takes the next index under the lock: 1 and *i, or 0 when none is left. */
static int
take(struct workers *w, size_t *i)
{
	if (w->fn == NULL || w->next >= w->n)
		return 0;
	*i = w->next++;
	return 1;
}

/* Runs indexes until none is left; the caller holds the lock. */
static void
drain(struct workers *w)
{
	size_t i;

	while (take(w, &i)) {
		void (*fn)(void *, size_t) = w->fn;
		void *arg = w->arg;

		pthread_mutex_unlock(&w->lock);
		fn(arg, i);
		pthread_mutex_lock(&w->lock);
		if (++w->done == w->n)
			pthread_cond_broadcast(&w->idle);
	}
}

static void *
worker_main(void *arg)
{
	struct workers *w = arg;
	unsigned seen = 0;

	pthread_mutex_lock(&w->lock);
	while (!w->stopping) {
		if (w->generation == seen) {
			pthread_cond_wait(&w->work, &w->lock);
			continue;
		}
		seen = w->generation;
		drain(w);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct workers *
workers_start(int n)
{
	struct workers *w = calloc(1, sizeof(*w));
	sigset_t all, old;

	if (w == NULL)
		fatal("out of memory");
	if (n <= 0) {
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		n = cpus > 1 ? (int)cpus - 1 : 0;
	}
	if (n > WORKERS_MAX)
		n = WORKERS_MAX;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->idle, NULL);
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < n; i++) {
		if (pthread_create(&w->threads[w->nthreads], NULL, worker_main, w) != 0) {
			log_warn("cannot start worker thread %d of %d; going on with %d",
			    i + 1, n, w->nthreads);
			break;
		}
		w->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return w;
}

void
workers_stop(struct workers *w)
{
	if (w == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = 1;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->lock);
	for (int i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->idle);
	free(w);
}

void
workers_map(struct workers *w, size_t n, void (*fn)(void *arg, size_t i), void *arg)
{
	if (n == 0)
		return;
	if (w == NULL || w->nthreads == 0 || n == 1) {
		for (size_t i = 0; i < n; i++)
			fn(arg, i);
		return;
	}
	pthread_mutex_lock(&w->lock);
	w->fn = fn;
	w->arg = arg;
	w->n = n;
	w->next = w->done = 0;
	w->generation++;
	pthread_cond_broadcast(&w->work);
	drain(w);
	while (w->done < w->n)
		pthread_cond_wait(&w->idle, &w->lock);
	w->fn = NULL;
	pthread_mutex_unlock(&w->lock);
}

int
workers_width(const struct workers *w)
{
	return w == NULL ? 1 : w->nthreads + 1;
}
