/*
 * plan_gate.c - the safety catch: a pass's departures, planned together or
 * held together.
 *
 * Owns: staging each departure the planner decides (in the transaction of
 * the pass that decided it, so a crash loses none), judging the staged ones
 * after that transaction commits (gate.c's arithmetic over the users the
 * store knows and the departures of the last hour): all planned, or all
 * held with one error line saying how many, the limit, why and how to go
 * on; dropping a held departure when the directory shows the user again;
 * `certsyncctl release`; and the dry run's view of the same.
 * Never: decides for one user (reconcile.c does), plans a departure that is
 * held, or lets a held one through without an admin or the directory
 * saying so.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/escape.h"
#include "lib/log.h"
#include "pipeline/gate.h"
#include "pipeline/job.h"
#include "pipeline/plan.h"
#include "pki/crl.h"

/* The job a departure becomes; its name is what the store keeps. */
static enum job_action
departure_action(enum decision d)
{
	if (d == DECIDE_HOLD)
		return JOB_HOLD;
	return d == DECIDE_UNPUBLISH ? JOB_UNPUBLISH : JOB_REVOKE;
}

int
plan_gate_stage(struct plan_ctx *ctx, const char *uuid, const char *dn,
    const struct verdict *v)
{
	struct dry_departure *d;

	ctx->staged[ctx->origin]++;
	ctx->settle_due = 1;
	if (!ctx->dry_run) {
		log_debug("%s: %s, judged with its pass: %s", dn, decision_name(v->decision),
		    v->why);
		return store_removal_stage(ctx->st, uuid, dn,
		    job_action_name(departure_action(v->decision)),
		    crl_reason_name(v->reason), v->why);
	}
	if ((d = realloc(ctx->dry, (ctx->ndry + 1) * sizeof(*d))) == NULL)
		fatal("out of memory");
	ctx->dry = d;
	d = &ctx->dry[ctx->ndry++];
	d->decision = v->decision;
	if ((d->uuid = strdup(uuid)) == NULL || (d->dn = strdup(dn)) == NULL ||
	    (d->why = strdup(v->why)) == NULL)
		fatal("out of memory");
	return 0;
}

int
plan_gate_seen(struct plan_ctx *ctx, const char *uuid)
{
	int held;

	/* A staged one goes too: gone and back within one pass is no
	 * departure.  A dry run only counts. */
	if ((held = ctx->dry_run ? store_removal_held(ctx->st, uuid) :
	    store_removal_drop(ctx->st, uuid)) == -1)
		return -1;
	held = ctx->dry_run ? held : held == 2;
	ctx->back += held;
	if (held && !ctx->dry_run)
		store_audit(ctx->st, "unhold", uuid, NULL, "in the directory again; "
		    "its held departure is dropped");
	return 0;
}

/* ---- why a pass is held ------------------------------------------------- */

/* Appends ", " (if buf has text) and fmt to buf. */
static void add(char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
add(char *buf, size_t len, const char *fmt, ...)
{
	size_t used = strlen(buf);
	va_list ap;

	if (used > 0 && used + 2 < len) {
		memcpy(buf + used, "; ", 3);
		used += 2;
	}
	va_start(ap, fmt);
	vsnprintf(buf + used, len - used, fmt, ap);
	va_end(ap);
}

/* What the pass did, in words an admin acts on. */
static void
describe(const struct plan_ctx *ctx, size_t recent, char *buf, size_t len)
{
	buf[0] = '\0';
	if (ctx->staged[ORIGIN_SWEEP] > 0) {
		add(buf, len, "the sweep after a complete read%s found %zu of the %zu "
		    "known users in the directory", ctx->scope_changed ? " with a new "
		    "[directory] base, scope or filter" : "", ctx->sweep_found,
		    ctx->sweep_known);
		if (ctx->sweep_found * 2 < ctx->sweep_known)
			add(buf, len, "check [directory] base, scope and filter, and "
			    "that the service account may still read the users");
	}
	if (ctx->staged[ORIGIN_GONE] > 0)
		add(buf, len, "%zu deleted or moved out of scope",
		    ctx->staged[ORIGIN_GONE]);
	if (ctx->staged[ORIGIN_ENTRY] > 0)
		add(buf, len, "%zu disabled", ctx->staged[ORIGIN_ENTRY]);
	if (ctx->staged[ORIGIN_RECHECK] > 0)
		add(buf, len, "%zu gone or disabled when decided again",
		    ctx->staged[ORIGIN_RECHECK]);
	if (buf[0] == '\0')
		add(buf, len, "staged earlier (by a run that stopped before judging "
		    "them, or by the other thread)");
	if (recent > 0)
		add(buf, len, "%zu more left within the last hour", recent);
}

/* The one loud line (or a quiet one when the same users are held again). */
static void
log_held(const struct plan_ctx *ctx, size_t n, size_t fresh, size_t known,
    size_t limit, const char *why)
{
	char max[32], over[256];

	if (fresh == 0) {
		log_info("the safety catch holds the same %zu user(s) again: %s", n, why);
		return;
	}
	gate_threshold_text(&ctx->conf->reconcile.max_revoke, max, sizeof(max));
	if (n >= known && known >= 2)
		snprintf(over, sizeof(over), "every one of the %zu known users", known);
	else
		snprintf(over, sizeof(over), "more than the %zu that [reconcile] "
		    "max_revoke = %s allows with %zu known users", limit, max, known);
	log_error("HELD by the safety catch: %zu user(s) would be taken out of the "
	    "directory at once (put on hold, revoked or withdrawn), %s: %s.  Nothing "
	    "is withdrawn for them; \"certsyncctl release\" lets them through, or "
	    "they leave the held set when the directory shows them again", n, over,
	    why);
}

/* ---- judging -------------------------------------------------------------- */

struct judged {
	size_t planned, held, fresh, was_held, limit;
};

/* A staged departure planned as decided; recorded for the window. */
static int
let_through(struct plan_ctx *ctx, const struct held_row *r, int64_t now)
{
	int reason = r->reason ? crl_reason_parse(r->reason) : -1;
	int action = job_action_parse(r->action);

	if (action < 0) {
		log_error("user %s: a staged departure \"%s\" unknown to this certsync; "
		    "left staged", r->uuid, r->action ? r->action : "");
		return -1;
	}
	log_notice("%s: %s: %s", r->dn ? r->dn : r->uuid, r->action, r->why);
	if (job_plan(ctx->st, r->uuid, (enum job_action)action,
	    reason < 0 ? CRL_REASON_CESSATION_OF_OPERATION : reason, r->why, 0) == -1 ||
	    store_departure_add(ctx->st, r->uuid, now, now - GATE_WINDOW) == -1 ||
	    store_removal_drop(ctx->st, r->uuid) == -1)
		return -1;
	ctx->kick_pending = 1;
	ctx->planned++;
	return 0;
}

/* Judges rows; the pass's verdict in *j.  0, or -1 (roll back). */
static int
judge(struct plan_ctx *ctx, const struct held_rows *rows, size_t known,
    size_t recent, const char *why, struct judged *j)
{
	int64_t now = time(NULL);
	int held = gate_holds(&ctx->conf->reconcile.max_revoke, rows->n, recent, known,
	    &j->limit);

	for (size_t i = 0; i < rows->n; i++) {
		const struct held_row *r = &rows->v[i];

		j->was_held += r->held_at != 0;
		if (!held) {
			if (let_through(ctx, r, now) == -1)
				return -1;
			j->planned++;
			continue;
		}
		j->fresh += r->held_at == 0;
		if (store_removal_hold(ctx->st, r->uuid, why, now) == -1)
			return -1;
		if (r->held_at == 0)
			store_audit(ctx->st, "held", r->uuid, NULL, "%s held by the "
			    "safety catch: %s", r->action, why);
		j->held++;
	}
	return 0;
}

/* How many users the catch compares with, and left within the window. */
static int
counts(struct plan_ctx *ctx, size_t *known, size_t *recent)
{
	return store_directory_users(ctx->st, known) == -1 ||
	    store_departures_since(ctx->st, time(NULL) - GATE_WINDOW, recent) == -1 ?
	    -1 : 0;
}

static void
log_back(struct plan_ctx *ctx)
{
	struct held_rows left = { 0 };

	if (ctx->back == 0 || store_removals(ctx->st, 0, &left) == -1)
		return;
	if (left.n == 0)
		log_notice("%zu held user(s) are in the directory again; the held set is "
		    "empty", ctx->back);
	else
		log_notice("%zu held user(s) are in the directory again, their departure "
		    "dropped; %zu still held", ctx->back, left.n);
	held_rows_free(&left);
}

static void
reset(struct plan_ctx *ctx)
{
	ctx->settle_due = 0;
	memset(ctx->staged, 0, sizeof(ctx->staged));
	ctx->sweep_known = ctx->sweep_found = ctx->back = 0;
	ctx->scope_changed = 0;
}

int
plan_gate_settle(struct plan_ctx *ctx)
{
	struct held_rows staged = { 0 };
	struct judged j = { 0 };
	size_t known = 0, recent = 0;
	char why[1024];
	int rc = -1;

	/* Most drains stage nothing: no transaction for them. */
	if (!ctx->settle_due) {
		log_back(ctx);
		reset(ctx);
		return 0;
	}
	if (store_begin(ctx->st) == -1)
		return -1;
	if (store_removals(ctx->st, 1, &staged) == -1 || counts(ctx, &known, &recent) == -1)
		goto fail;
	describe(ctx, recent, why, sizeof(why));
	if (judge(ctx, &staged, known, recent, why, &j) == -1)
		goto fail;
	if (store_commit(ctx->st) == -1)
		goto done;
	rc = 0;
	if (j.held > 0)
		log_held(ctx, j.held, j.fresh, known, j.limit, why);
	else if (j.was_held > 0)
		log_notice("%zu held user(s) are still gone, in a pass within [reconcile] "
		    "max_revoke: their departure goes ahead", j.was_held);
	log_back(ctx);
	goto done;
fail:
	store_rollback(ctx->st);
	log_error("the safety catch could not judge the departures staged; they stay "
	    "staged and are judged after the next pass");
done:
	held_rows_free(&staged);
	reset(ctx);
	ctx->settle_due = rc == -1;	/* a failed one is tried again */
	return rc;
}

/* ---- the dry run ------------------------------------------------------------ */

void
plan_gate_report(struct plan_ctx *ctx)
{
	size_t known = 0, recent = 0, limit = 0;
	char why[1024];
	int held;

	if (counts(ctx, &known, &recent) == -1)
		known = recent = 0;
	describe(ctx, recent, why, sizeof(why));
	held = gate_holds(&ctx->conf->reconcile.max_revoke, ctx->ndry, recent, known,
	    &limit);
	for (size_t i = 0; i < ctx->ndry; i++) {
		struct dry_departure *d = &ctx->dry[i];

		/* The DN and the uuid come from the directory: escaped. */
		if (held)
			escape_line(ctx->out, "%-8s %s (%s): %s: %s [the safety catch "
			    "would hold it: %s]", "held", d->dn, d->uuid,
			    decision_name(d->decision), d->why, why);
		else
			escape_line(ctx->out, "%-8s %s (%s): %s%s",
			    decision_name(d->decision), d->dn, d->uuid, d->why,
			    store_removal_held(ctx->st, d->uuid) == 1 ? " [held by the "
			    "safety catch now; this pass would let it go ahead]" : "");
		free(d->uuid);
		free(d->dn);
		free(d->why);
	}
	if (ctx->back > 0)
		fprintf(ctx->out, "%zu user(s) held by the safety catch are in the "
		    "directory again: their departure would be dropped\n", ctx->back);
	if (held)
		ctx->held += ctx->ndry;
	else
		ctx->planned += ctx->ndry;
	free(ctx->dry);
	ctx->dry = NULL;
	ctx->ndry = 0;
	reset(ctx);
}

/* ---- release ------------------------------------------------------------------ */

int
plan_release(struct store *st, const char *uuid, size_t *n)
{
	struct held_rows held = { 0 };
	int rc = -1;

	*n = 0;
	if (store_begin(st) == -1)
		return -1;
	if (store_removals(st, 0, &held) == -1)
		goto done;
	for (size_t i = 0; i < held.n; i++) {
		const struct held_row *r = &held.v[i];
		int action = job_action_parse(r->action);
		int reason = r->reason ? crl_reason_parse(r->reason) : -1;

		if ((uuid != NULL && strcmp(uuid, r->uuid) != 0) || action < 0)
			continue;
		if (job_plan(st, r->uuid, (enum job_action)action,
		    reason < 0 ? CRL_REASON_CESSATION_OF_OPERATION : reason, r->why, 0) == -1 ||
		    store_removal_drop(st, r->uuid) == -1)
			goto done;
		store_audit(st, "release", r->uuid, NULL, "%s released by the admin: %s",
		    r->action, r->why);
		(*n)++;
	}
	rc = 0;
done:
	held_rows_free(&held);
	if (rc == 0)
		return store_commit(st);
	store_rollback(st);
	return -1;
}
