/*
 * progress.h - how a mass event is going: the backlog, the rate over the
 * last minute, when it will be done.
 *
 * Owns: the runner's count of the jobs it closed, the rate of the last
 * minute, the progress line certsyncd logs every 10 s while jobs wait, and
 * the "progress" and "key_pool" facts it keeps in the store for
 * `certsyncctl status` (which prints them with progress_print()).
 * Never: logs per user (a mass event's per-user lines go to info; this is
 * what notice shows of it), or writes the store more than once a second.
 */
#ifndef CERTSYNC_PROGRESS_H
#define CERTSYNC_PROGRESS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"

struct keypool;

#define PROGRESS_SAMPLES 128

struct progress {
	int64_t done;              /* jobs closed since the runner started */
	struct { double at; int64_t done; } ring[PROGRESS_SAMPLES];
	int head, n;
	double last_line, last_write;
	int pool_written;          /* the key pool level last written (-1: none) */
};

void progress_init(struct progress *p);

/* n jobs closed now: counted; the store's facts refreshed (at most once a
 * second), and the progress line logged every 10 s while jobs wait. */
void progress_closed(struct progress *p, struct store *st, size_t n,
    const struct keypool *pool);

/* The key pool's level, written when it changed (the runner calls it when
 * idle, too: the pool fills while nothing else happens). */
void progress_pool(struct progress *p, struct store *st, const struct keypool *pool);

/* Jobs closed in the last minute (per minute). */
double progress_rate(const struct progress *p, double now);

/* certsyncctl status: the backlog, the rate and an ETA, the key pool;
 * waiting is the number of jobs not parked. */
void progress_print(struct store *st, int waiting, FILE *out);

#endif
