/*
 * keypool.h - keypairs made ahead, while the machine is idle.
 *
 * Owns: a pool of fresh keypairs of one key_spec, filled by threads of
 * their own at the lowest CPU priority (nice 19: they take what the rest
 * of the machine leaves), so that a burst of changes finds its keys made.
 * While a backlog waits for keys (keypool_hurry) it is filled at the
 * caller's priority instead, continuously, one thread per core: the
 * backlog's keys are made whatever the caller is doing meanwhile.
 * The pool lives in memory only: a key written anywhere would be one more
 * copy of a secret to protect, and after a restart refilling costs nothing
 * but idle CPU.
 * Never: hands a key out twice (a taken key leaves the pool for good, and
 * one that is not used is freed, not put back), or makes a key the caller
 * did not ask for the spec of.
 */
#ifndef CERTSYNC_KEYPOOL_H
#define CERTSYNC_KEYPOOL_H

#include <openssl/evp.h>

#include "lib/conf.h"

struct keypool;

/* A pool of up to size keys of spec (which must outlive it), filled by
 * threads threads (0: one per CPU).  size 0: no pool; keypool_take() then
 * always returns NULL.  Never fails. */
struct keypool *keypool_start(const struct key_spec *spec, int size, int threads);
/* Stops the filling threads and frees the keys left. */
void keypool_stop(struct keypool *p);

/* A key from the pool (the caller owns it), or NULL when it is empty. */
EVP_PKEY *keypool_take(struct keypool *p);
/* The same, but while hurried an empty pool is waited on, up to ms
 * milliseconds, for the hurriers' next key.  NULL: none came (not hurried,
 * no pool, or the time ran out). */
EVP_PKEY *keypool_take_wait(struct keypool *p, int ms);

/*
 * on: a backlog waits for keys.  The pool is then filled by threads at the
 * caller's priority (started at the first call, one per filler) and the
 * nice-19 fillers pause; off: the fillers fill it again.  Keys made either
 * way are taken the same way, each once.  No pool: nothing.
 */
void keypool_hurry(struct keypool *p, int on);
/* Whether it is hurried now. */
int keypool_hurried(const struct keypool *p);

/* How many keys wait in the pool, and how many it holds when full. */
int keypool_level(const struct keypool *p);
int keypool_size(const struct keypool *p);

#endif
