/*
 * keypool.c - the pool of keypairs made ahead (see keypool.h).
 *
 * Owns: the keys waiting in the pool and the threads that make them.  A
 * filling thread makes one key at a time outside the lock and puts it in
 * if there is room (the pool is filled by whole keys or not at all).
 * Never: runs its threads above nice 19, or keeps a key after
 * keypool_stop().
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/syscall.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "pki/keypool.h"
#include "pki/keys.h"

#define FILLERS_MAX 16

struct keypool {
	const struct key_spec *spec;
	pthread_mutex_t lock;
	pthread_cond_t room;
	EVP_PKEY **keys;
	int size, level;
	int stopping;
	pthread_t fillers[FILLERS_MAX];
	int nfillers;
};

/* Whether a key made now has a place; waits while the pool is full. */
static int
wait_for_room(struct keypool *p)
{
	pthread_mutex_lock(&p->lock);
	while (!p->stopping && p->level >= p->size)
		pthread_cond_wait(&p->room, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return !p->stopping;
}

static void *
filler_main(void *arg)
{
	struct keypool *p = arg;

	/* This thread only (Linux threads have a nice value of their own):
	 * keys are made with what nobody else wants. */
	if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19) == -1)
		log_debug("key pool: cannot lower a filling thread's priority");
	while (wait_for_room(p)) {
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
		}
		pthread_mutex_unlock(&p->lock);
		EVP_PKEY_free(key);
	}
	return NULL;
}

struct keypool *
keypool_start(const struct key_spec *spec, int size, int threads)
{
	struct keypool *p = calloc(1, sizeof(*p));
	sigset_t all, old;

	if (p == NULL || (size > 0 && (p->keys = calloc((size_t)size,
	    sizeof(*p->keys))) == NULL))
		fatal("out of memory");
	p->spec = spec;
	p->size = size > 0 ? size : 0;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->room, NULL);
	if (p->size == 0)
		return p;
	metrics_set(M_KEY_POOL, 0);
	if (threads <= 0)
		threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (threads > FILLERS_MAX)
		threads = FILLERS_MAX;
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
	for (int i = 0; i < p->level; i++)
		EVP_PKEY_free(p->keys[i]);
	free(p->keys);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->room);
	free(p);
}

EVP_PKEY *
keypool_take(struct keypool *p)
{
	EVP_PKEY *key = NULL;

	if (p == NULL || p->size == 0)
		return NULL;
	pthread_mutex_lock(&p->lock);
	if (p->level > 0) {
		key = p->keys[--p->level];
		p->keys[p->level] = NULL;
		metrics_set(M_KEY_POOL, p->level);
		pthread_cond_signal(&p->room);
	}
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
