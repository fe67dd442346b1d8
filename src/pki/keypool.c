/*
 * keypool.c - the pool of keypairs made ahead (see keypool.h).
 *
 * Owns: the keys waiting in the pool and the threads that make them.  A
 * filling thread makes one key at a time outside the lock and puts it in
 * if there is room (the pool is filled by whole keys or not at all).  The
 * fillers run at nice 19; while hurried (keypool_hurry: a backlog of RSA
 * jobs) they pause, and as many threads at the runner's priority, started
 * at the first hurry, fill it instead: the backlog's keys are made
 * continuously, one thread per core, whatever the runner is doing.
 * Never: runs a filler above nice 19, makes keys at the runner's priority
 * unless hurried, or keeps a key after keypool_stop().
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "pki/keypool.h"
#include "pki/keys.h"

#define FILLERS_MAX 16

struct keypool {
	const struct key_spec *spec;
	pthread_mutex_t lock;
	pthread_cond_t room;       /* fillers and hurriers: room, or their turn */
	pthread_cond_t filled;     /* keypool_take_wait(): a key came in */
	EVP_PKEY **keys;
	int size, level;
	int stopping;
	int hurry;                 /* a backlog: the hurriers fill, not the fillers */
	int threads;               /* of each kind */
	pthread_t fillers[FILLERS_MAX];
	int nfillers;
	pthread_t hurriers[FILLERS_MAX];
	int nhurriers, hurriers_tried;
};

/* Whether a key made now has a place; waits while the pool is full, or
 * while the other kind of thread is the one filling. */
static int
wait_for_room(struct keypool *p, int hurrier)
{
	pthread_mutex_lock(&p->lock);
	while (!p->stopping && (p->level >= p->size || p->hurry != hurrier))
		pthread_cond_wait(&p->room, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return !p->stopping;
}

/* Makes keys into the pool while wait_for_room() lets this kind. */
static void
fill(struct keypool *p, int hurrier)
{
	while (wait_for_room(p, hurrier)) {
		EVP_PKEY *key = keys_generate(p->spec);

		if (key == NULL) {
			sleep(1);	/* logged; do not spin on a broken library */
			continue;
		}
		pthread_mutex_lock(&p->lock);
		if (!p->stopping && p->level < p->size) {
			p->keys[p->level++] = key;
			key = NULL;
			metrics_set(M_KEY_POOL, p->level);
			pthread_cond_broadcast(&p->filled);
		}
		pthread_mutex_unlock(&p->lock);
		EVP_PKEY_free(key);
	}
}

static void *
filler_main(void *arg)
{
	struct keypool *p = arg;

	/* This thread only (Linux threads have a nice value of their own):
	 * keys are made with what nobody else wants. */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) == -1)
		log_debug("key pool: cannot lower a filling thread's priority");
	fill(p, 0);
	return NULL;
}

/* At the priority of the thread that first hurried the pool: a backlog's
 * keys are its own work, not what the machine leaves (a filler at nice 19
 * gets next to nothing on a busy machine). */
static void *
hurrier_main(void *arg)
{
	fill(arg, 1);
	return NULL;
}

struct keypool *
keypool_start(const struct key_spec *spec, int size, int threads)
{
	struct keypool *p = calloc(1, sizeof(*p));
	pthread_condattr_t mono;
	sigset_t all, old;

	if (p == NULL || (size > 0 && (p->keys = calloc((size_t)size,
	    sizeof(*p->keys))) == NULL))
		fatal("out of memory");
	p->spec = spec;
	p->size = size > 0 ? size : 0;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->room, NULL);
	pthread_condattr_init(&mono);
	pthread_condattr_setclock(&mono, CLOCK_MONOTONIC);
	pthread_cond_init(&p->filled, &mono);	/* a clock step is no wait */
	pthread_condattr_destroy(&mono);
	if (p->size == 0)
		return p;
	metrics_set(M_KEY_POOL, 0);
	if (threads <= 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads > FILLERS_MAX)
		threads = FILLERS_MAX;
	p->threads = threads;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < threads; i++)
		if (pthread_create(&p->fillers[p->nfillers], NULL, filler_main, p) == 0)
			p->nfillers++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->nfillers == 0)
		log_warn("key pool: cannot start a thread to fill it; keys are made "
		    "when needed");
	return p;
}

void
keypool_stop(struct keypool *p)
{
	if (p == NULL)
		return;
	pthread_mutex_lock(&p->lock);
	p->stopping = 1;
	pthread_cond_broadcast(&p->room);
	pthread_mutex_unlock(&p->lock);
	for (int i = 0; i < p->nfillers; i++)
		pthread_join(p->fillers[i], NULL);
	for (int i = 0; i < p->nhurriers; i++)
		pthread_join(p->hurriers[i], NULL);
	for (int i = 0; i < p->level; i++)
		EVP_PKEY_free(p->keys[i]);
	free(p->keys);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->room);
	pthread_cond_destroy(&p->filled);
	free(p);
}

/* The last key in, out of the pool for good; the caller holds the lock
 * and has seen the level above 0. */
static EVP_PKEY *
take_locked(struct keypool *p)
{
	EVP_PKEY *key = p->keys[--p->level];

	p->keys[p->level] = NULL;
	metrics_set(M_KEY_POOL, p->level);
	pthread_cond_broadcast(&p->room);	/* fillers and hurriers */
	return key;
}

EVP_PKEY *
keypool_take(struct keypool *p)
{
	EVP_PKEY *key = NULL;

	if (p == NULL || p->size == 0)
		return NULL;
	pthread_mutex_lock(&p->lock);
	if (p->level > 0)
		key = take_locked(p);
	pthread_mutex_unlock(&p->lock);
	return key;
}

/* The deadline `ms` milliseconds from now, on the condition's clock. */
static struct timespec
deadline_in(int ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

EVP_PKEY *
keypool_take_wait(struct keypool *p, int ms)
{
	EVP_PKEY *key = NULL;
	struct timespec until = deadline_in(ms);
	int rc = 0;

	if (p == NULL || p->size == 0)
		return NULL;
	pthread_mutex_lock(&p->lock);
	while (p->level == 0 && p->hurry && p->nhurriers > 0 && !p->stopping &&
	    rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&p->filled, &p->lock, &until);
	if (p->level > 0)
		key = take_locked(p);
	pthread_mutex_unlock(&p->lock);
	return key;
}

int
keypool_level(const struct keypool *p)
{
	int level;

	if (p == NULL)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&p->lock);
	level = p->level;
	pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
	return level;
}

int
keypool_size(const struct keypool *p)
{
	return p == NULL ? 0 : p->size;
}

/* The hurriers, started once, at the first hurry: as many as the fillers,
 * at the calling thread's priority.  The caller holds the lock. */
static void
start_hurriers(struct keypool *p)
{
	sigset_t all, old;

	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	for (int i = 0; i < p->threads; i++)
		if (pthread_create(&p->hurriers[p->nhurriers], NULL, hurrier_main, p) == 0)
			p->nhurriers++;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (p->nhurriers == 0)
		log_warn("key pool: cannot start a thread to hurry it; the backlog's "
		    "keys are made when needed");
}

void
keypool_hurry(struct keypool *p, int on)
{
	if (p == NULL || p->size == 0)
		return;
	on = on != 0;
	pthread_mutex_lock(&p->lock);
	if (on && !p->hurriers_tried) {
		p->hurriers_tried = 1;
		start_hurriers(p);
	}
	if (p->hurry != on && p->nhurriers > 0) {
		p->hurry = on;
		pthread_cond_broadcast(&p->room);
	}
	pthread_mutex_unlock(&p->lock);
}

int
keypool_hurried(const struct keypool *p)
{
	int hurried;

	if (p == NULL)
		return 0;
	pthread_mutex_lock((pthread_mutex_t *)&p->lock);
	hurried = p->hurry;
	pthread_mutex_unlock((pthread_mutex_t *)&p->lock);
	return hurried;
}
