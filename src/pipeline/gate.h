/*
 * gate.h - the safety catch's arithmetic: how many users one pass may take
 * out of the directory before the pass is held.
 *
 * Owns: the limit [reconcile] max_revoke gives for a number of known users,
 * and the verdict on a pass: through, or held.  Pure functions.
 * Never: reads the store or the clock, or logs: the planner's gate
 * (plan_gate.c) counts and acts.
 */
#ifndef CERTSYNC_GATE_H
#define CERTSYNC_GATE_H

#include <stddef.h>

#include "lib/conf.h"

/* A share never lets fewer than this many through: one departure in a
 * small directory is an everyday event, not an accident. */
#define GATE_FLOOR 3
/* Departures counted together, in seconds: a stream of single deletions
 * (an OU deleted entry by entry) adds up within it. */
#define GATE_WINDOW 3600

/*
 * The most users one pass (with the window) may remove when the store
 * knows `known` directory users: a count as it is; a share of known,
 * rounded down, but at least GATE_FLOOR.
 */
size_t gate_limit(const struct threshold *max, size_t known);

/*
 * Whether a pass removing n users is held, with recent other users removed
 * within GATE_WINDOW: when n + recent exceeds the limit, or when the pass
 * alone removes every known user and there are at least two (however the
 * limit reads: a directory that suddenly shows nobody is never news to
 * act on).  *limit (may be NULL) gets gate_limit().  1 held, 0 through;
 * a pass that removes nobody is never held.
 */
int gate_holds(const struct threshold *max, size_t n, size_t recent, size_t known,
    size_t *limit);

/* "5%", "0.5%" or "20", as the configuration would spell it. */
void gate_threshold_text(const struct threshold *max, char *buf, size_t len);

#endif
