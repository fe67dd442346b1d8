/*
 * plan.h - from directory changes to planned jobs.
 *
 * Owns: what the change sources do with an entry or a disappearance:
 * normalize, refuse duplicates, record the identity, reconcile, plan a job;
 * and the sweep after a full refresh.  With dry_run it prints each decision
 * and writes nothing (certsyncd --dry-run, certsyncctl plan).  The same
 * duplicate check and decision serve `certsyncctl issue`.  plan.c decides;
 * plan_read.c feeds it from the directory (the watcher's sink, the
 * one-pass read).
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

struct plan_ctx {
	const struct conf *conf;
	struct store *st;
	int dry_run;
	FILE *out;                 /* dry-run report */
	char *ca_key_id;           /* hex SKI of the current CA */
	size_t planned, skipped, unchanged;
	void (*kick)(void *arg);   /* wakes the runner; see plan_flush() */
	void *kick_arg;
	int kick_pending;          /* a job was planned since the last flush */
	size_t loud, hushed;       /* decisions logged at notice, and at info,
	                              in the window that began at loud_since */
	int64_t loud_since;
	int64_t ca_next;           /* when the next CA-change reissue may start */
};

/* Decisions logged at notice, one line each, in any PLAN_LOUD_WINDOW
 * seconds; in a mass event the rest go to info, and a line says how many
 * there were when the window is over. */
#define PLAN_LOUD_MAX 20
#define PLAN_LOUD_WINDOW 10

/*
 * Wakes the runner if a job was planned.  Call it after the transaction that
 * planned the jobs commits: the runner reads through its own connection and
 * would not see them before.
 */
void plan_flush(struct plan_ctx *ctx);

/* Reads the CA certificate for its key id.  0, or -1 after logging. */
int plan_init(struct plan_ctx *ctx, const struct conf *conf, struct store *st,
    int dry_run, FILE *out);
void plan_free(struct plan_ctx *ctx);

/* An entry added or changed.  0, or -1 on a store failure. */
int plan_entry(struct plan_ctx *ctx, const struct dir_entry *entry);
/* A user deleted or out of scope. */
int plan_gone(struct plan_ctx *ctx, const char *uuid);
/* Decides again from what the store holds (after a job, on the daily pass). */
int plan_recheck(struct plan_ctx *ctx, const char *uuid);
/* After a complete refresh: every directory identity not in seen is gone. */
int plan_sweep(struct plan_ctx *ctx, struct uuid_set *seen);
/* plan_recheck for every directory identity (the periodic safety net). */
int plan_recheck_all(struct plan_ctx *ctx);

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
