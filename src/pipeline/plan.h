/*
 * plan.h - from directory changes to planned jobs.
 *
 * Owns: what the change sources do with an entry or a disappearance:
 * normalize, refuse duplicates, record the identity, reconcile, plan a job;
 * and the sweep after a full refresh.  With dry_run it prints each decision
 * and writes nothing (certsyncd --dry-run, certsyncctl plan).  The same
 * duplicate check and decision serve `certsyncctl issue`.  plan.c decides;
 * plan_read.c feeds it from the directory (the watcher's sink, the
 * one-pass read); plan_gate.c is the safety catch: a departure (a user's
 * certificates put on hold, revoked or withdrawn because the directory no
 * longer shows the user as they were) is staged, and the pass's departures
 * are judged together after its transaction commits: planned, or held.
 * Never: runs a job (the runner does), or plans work for a user whose job is
 * in flight (the runner reconciles them again when it ends).
 */
#ifndef CERTSYNC_PLAN_H
#define CERTSYNC_PLAN_H

#include <stdio.h>

#include "lib/conf.h"
#include "lib/uuid_set.h"
#include "pipeline/identity.h"
#include "pipeline/job_state.h"
#include "pipeline/reconcile.h"
#include "store/store.h"

/* Where a departure came from, for the line that says why a pass is held. */
enum plan_origin { ORIGIN_RECHECK, ORIGIN_ENTRY, ORIGIN_GONE, ORIGIN_SWEEP };

/* A departure a dry run would stage (plan_gate.c judges them at its end). */
struct dry_departure {
	char *uuid, *dn, *why;
	enum decision decision;
};

struct plan_ctx {
	const struct conf *conf;
	struct store *st;
	int dry_run;
	FILE *out;                 /* dry-run report */
	char *ca_key_id;           /* hex SKI of the current CA */
	size_t planned, skipped, unchanged, held;
	void (*kick)(void *arg);   /* wakes the runner; see plan_flush() */
	void *kick_arg;
	int kick_pending;          /* a job was planned since the last flush */
	size_t loud, hushed;       /* decisions logged at notice, and at info,
	                              in the window that began at loud_since */
	int64_t loud_since;
	int64_t ca_next;           /* when the next CA-change reissue may start */

	/* The safety catch, since the last settle (plan_gate.c). */
	enum plan_origin origin;   /* of the decisions being made now */
	size_t staged[4];          /* departures staged, per origin */
	size_t sweep_known, sweep_found; /* the last sweep: known, and seen */
	int scope_changed;         /* ... after [directory] base/scope/filter changed */
	size_t back;               /* held users the directory shows again */
	int settle_due;            /* staged since the last settle, or not yet
	                              settled since start (leftovers) */
	struct dry_departure *dry; /* a dry run's departures */
	size_t ndry;
};

/* Decisions logged at notice, one line each, in any PLAN_LOUD_WINDOW
 * seconds; in a mass event the rest go to info, and a line says how many
 * there were when the window is over. */
#define PLAN_LOUD_MAX 20
#define PLAN_LOUD_WINDOW 10

/*
 * After the transaction that staged departures and planned jobs commits:
 * judges the staged departures (planned, or held: one log line), says when
 * held users are back, and wakes the runner if a job was planned (it reads
 * through its own connection and would not see them before).
 */
void plan_flush(struct plan_ctx *ctx);

/* Reads the CA certificate for its key id.  0, or -1 after logging. */
int plan_init(struct plan_ctx *ctx, const struct conf *conf, struct store *st,
    int dry_run, FILE *out);
void plan_free(struct plan_ctx *ctx);

/* An entry added or changed.  0, or -1 on a store failure. */
int plan_entry(struct plan_ctx *ctx, const struct dir_entry *entry);
/*
 * Whether plan_entry(entry) would change nothing, read only and without a
 * transaction: the user's values are those stored (not marked skipped, no
 * address taken by another), and a job of the user is in flight or parked
 * (its end decides again).  That is the echo of certsync's own publishing
 * in a mass event.  1, or 0 (also on any store failure, and in a dry run).
 */
int plan_entry_quiet(struct plan_ctx *ctx, const struct dir_entry *entry);
/* A user deleted or out of scope. */
int plan_gone(struct plan_ctx *ctx, const char *uuid);
/* Decides again from what the store holds (after a job, on the daily pass). */
int plan_recheck(struct plan_ctx *ctx, const char *uuid);
/* After a complete refresh: every directory identity not in seen is gone. */
int plan_sweep(struct plan_ctx *ctx, struct uuid_set *seen);
/* plan_recheck for every directory identity (the periodic safety net). */
int plan_recheck_all(struct plan_ctx *ctx);
/* plan_recheck for every user with a hold older than [reconcile] hold_days
 * (their certificates are then revoked for good). */
int plan_holds_due(struct plan_ctx *ctx);
/* [reconcile] hold_days in seconds (with --enable-failpoints,
 * CERTSYNC_HOLD_SECONDS overrides it, for the tests). */
int64_t plan_hold_seconds(const struct conf *conf);

/*
 * The safety catch (plan_gate.c).  A departure: staged (in the caller's
 * transaction), or in a dry run kept for plan_gate_report().  Returns 0,
 * or -1 on a store failure.
 */
int plan_gate_stage(struct plan_ctx *ctx, const char *uuid, const char *dn,
    const struct verdict *v);
/* The directory shows uuid: a held departure of it is dropped. */
int plan_gate_seen(struct plan_ctx *ctx, const char *uuid);
/* Judges the staged departures; see plan_flush().  0, or -1. */
int plan_gate_settle(struct plan_ctx *ctx);
/* A dry run's departures, each printed as it would go: planned, or held. */
void plan_gate_report(struct plan_ctx *ctx);
/*
 * `certsyncctl release`: the held departures of uuid (NULL: all) planned
 * as they were decided, bypassing the catch.  *n gets how many.  0, or -1
 * after logging.
 */
int plan_release(struct store *st, const char *uuid, size_t *n);

/*
 * The first of id's addresses that another identity holds (one mailbox,
 * one person): 1 with *address (id's own string) and *owner, "uuid (dn)",
 * which the caller frees; 0 when none does (or the store cannot say).
 */
int plan_address_taken(struct store *st, const struct identity *id,
    const char **address, char **owner);

/*
 * The decision for the admin's `certsyncctl issue` of id (a manual
 * identity, no directory entry): reconcile() under [reconcile] and
 * [certificates], with every change counting and the CA key not compared.
 * What would be nothing, or a renewal, is a renewal the admin asked for.
 * Returns the job's action; *v says why, and with which CRL reason.
 */
enum job_action plan_manual(const struct conf *conf, struct store *st,
    const struct identity *id, struct verdict *v);

/* The watcher's sink, feeding ctx: entries, departures and sweeps to
 * plan_entry(), plan_gone() and plan_sweep(), its flush to plan_flush(). */
struct watch_sink;
void plan_watch_sink(struct plan_ctx *ctx, struct watch_sink *sink);

/*
 * One complete pass over the directory with a plain search, blocking:
 * for certsyncd --dry-run and certsyncctl plan (with ctx->dry_run set, it
 * prints and writes nothing).  Returns 0, or -1 after logging.
 */
int plan_directory(struct plan_ctx *ctx);

/*
 * The whole dry run for certsyncd --dry-run and certsyncctl plan: one pass
 * over the directory, a line per decision and a summary on out, nothing
 * written.  Returns 0, or a sysexits code after logging.
 */
int plan_report(const struct conf *conf, struct store *st, FILE *out);

#endif
