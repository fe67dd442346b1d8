/*
 * workers.h - a pool of threads for CPU work: a parallel "for each".
 *
 * Owns: a fixed set of threads and the one kind of work they do: run
 * fn(arg, i) for every i of a range, each i once, the caller's thread
 * taking its share, and returning when all are done.  The work must be
 * self-contained (keys, PKCS#12, signatures, file writes): nothing on the
 * event loop, nothing in the store.
 * Never: runs two ranges at once (one caller at a time), or lets a range
 * outlive the call that started it.
 */
#ifndef CERTSYNC_WORKERS_H
#define CERTSYNC_WORKERS_H

#include <stddef.h>

struct workers;

/* n threads besides the caller's (0: one less than the CPUs online, so
 * that all of them work).  Never fails: out of threads, the caller does
 * the work alone. */
struct workers *workers_start(int n);
void workers_stop(struct workers *w);

/* fn(arg, i) for i in [0, n), spread over the pool and the caller; NULL w:
 * all on the caller's thread.  Returns when every call has returned. */
void workers_map(struct workers *w, size_t n, void (*fn)(void *arg, size_t i),
    void *arg);

/* How many threads work in a map: the pool's and the caller's. */
int workers_width(const struct workers *w);

#endif
