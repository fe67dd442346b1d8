/*
 * plan.c - turns directory changes into planned jobs.
 *
 * Owns: the per-entry pipeline identity -> duplicates -> store -> reconcile
 * -> job, its log lines (one per decision, naming the DN), the sweep, and
 * finding the holds that are due; and the same duplicate check and
 * decision for an admin's `certsyncctl issue`.  What feeds it from the
 * directory is in plan_read.c; a departure goes to the safety catch
 * (plan_gate.c) instead of straight to a job.
 * Never: writes anything in dry-run mode; never plans over a job in flight.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "lib/escape.h"
#include "lib/log.h"
#include "lib/uuid_set.h"
#include "lib/metrics.h"
#include "pipeline/identity_row.h"
#include "pipeline/job.h"
#include "pipeline/plan.h"
#include "pipeline/reconcile.h"
#include "pki/crl.h"

/* ---- set-up --------------------------------------------------------------- */

int
plan_init(struct plan_ctx *ctx, const struct conf *conf, struct store *st,
    int dry_run, FILE *out)
{
	X509 *ca = NULL;
	BIO *bio;

	memset(ctx, 0, sizeof(*ctx));
	ctx->conf = conf;
	ctx->st = st;
	ctx->dry_run = dry_run;
	ctx->out = out;
	ctx->settle_due = 1;	/* what a crash left staged, at the first flush */
	if ((bio = BIO_new_file(conf->ca.certificate, "r")) != NULL)
		ca = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	if (ca == NULL) {
		log_ssl("[ca] certificate %s: cannot read", conf->ca.certificate);
		return -1;
	}
	ctx->ca_key_id = reconcile_key_id(X509_get0_subject_key_id(ca));
	X509_free(ca);
	return 0;
}

void
plan_free(struct plan_ctx *ctx)
{
	free(ctx->ca_key_id);
	ctx->ca_key_id = NULL;
	for (size_t i = 0; i < ctx->ndry; i++) {
		free(ctx->dry[i].uuid);
		free(ctx->dry[i].dn);
		free(ctx->dry[i].why);
	}
	free(ctx->dry);
	ctx->dry = NULL;
	ctx->ndry = 0;
}

/* ---- deciding --------------------------------------------------------------- */

/* Counts the published values (of one attribute) that are active
 * certificates: the store records digests, so the active certificates'
 * DER are hashed, once each, on the first value. */
struct published_count {
	const struct cert_rows *active;
	unsigned char (*digests)[STORE_DIGEST_LEN];
	size_t n;
};

static int
count_published(void *arg, const unsigned char digest[STORE_DIGEST_LEN])
{
	struct published_count *pc = arg;

	if (pc->digests == NULL) {
		if ((pc->digests = calloc(pc->active->n, STORE_DIGEST_LEN)) == NULL)
			fatal("out of memory");
		for (size_t i = 0; i < pc->active->n; i++)
			store_value_digest(pc->active->v[i].der, pc->active->v[i].der_len,
			    pc->digests[i]);
	}
	for (size_t i = 0; i < pc->active->n; i++)
		if (memcmp(pc->digests[i], digest, STORE_DIGEST_LEN) == 0) {
			pc->n++;
			break;
		}
	return 0;
}

int64_t
plan_hold_seconds(const struct conf *c)
{
#ifdef CS_FAILPOINTS
	/* Test builds only: a hold of seconds, so a test sees it end. */
	const char *secs = getenv("CERTSYNC_HOLD_SECONDS");

	if (secs != NULL && atoi(secs) > 0)
		return atoi(secs);
#endif
	return (int64_t)c->reconcile.hold_days * 86400;
}

/* The policy of [reconcile] and [certificates]; ca_key_id NULL: the CA key
 * is not compared. */
static void
policy_of(const struct conf *c, const char *ca_key_id, struct reconcile_policy *p)
{
	*p = (struct reconcile_policy){
		.hold_seconds = plan_hold_seconds(c),
		.on_address_change = c->reconcile.on_address_change,
		.on_name_change = c->reconcile.on_name_change,
		.renew_before_days = c->certificates.renew_before_days,
		.mode = c->certificates.mode,
		.subject_template = c->certificates.subject,
		.ca_key_id = ca_key_id,
		.on_disable = c->reconcile.on_disable,
	};
}

/* reconcile() for uuid (id NULL: gone) against what the store holds: its
 * active certificates, those on hold and, unless all_published, how many
 * of the active ones the store records as published. */
static void
decide_with(const struct conf *c, struct store *st, const struct reconcile_policy *p,
    const struct identity *id, const char *uuid, int all_published, struct verdict *v)
{
	struct cert_rows active = { 0 }, on_hold = { 0 };
	struct published_count pc = { &active, NULL, 0 };

	/* On a store failure active stays empty; the job's own steps
	 * re-read everything, so the worst case is a redundant plan. */
	store_cert_query(st, CQ_UUID_ACTIVE, uuid, &active);
	store_cert_query(st, CQ_UUID_ON_HOLD, uuid, &on_hold);
	/* What the store records as in the directory: every active
	 * certificate, unless withdrawn while the user was disabled.  On a
	 * failure, all of them (at worst a redundant withdrawal). */
	if (all_published || (active.n > 0 && store_published_each(st, uuid,
	    c->publish.certificate_attribute, count_published, &pc) == -1))
		pc.n = active.n;
	reconcile(p, id, &active, &on_hold, pc.n, time(NULL), v);
	free(pc.digests);
	cert_rows_free(&active);
	cert_rows_free(&on_hold);
}

static void
decide(struct plan_ctx *ctx, const struct identity *id, const char *uuid,
    struct verdict *v)
{
	struct reconcile_policy policy;

	policy_of(ctx->conf, ctx->ca_key_id, &policy);
	decide_with(ctx->conf, ctx->st, &policy, id, uuid, 0, v);
}

enum job_action
plan_manual(const struct conf *conf, struct store *st, const struct identity *id,
    struct verdict *v)
{
	struct reconcile_policy policy;

	policy_of(conf, NULL, &policy);
	/* The admin asks for certificates: every change counts.  Publication
	 * is not the question (the job publishes its new certificates), so
	 * all count as published. */
	policy.on_address_change = policy.on_name_change = 1;
	decide_with(conf, st, &policy, id, id->uuid, 1, v);
	if (v->decision == DECIDE_ENROLL)
		return JOB_ENROLL;
	if (v->decision == DECIDE_REISSUE)
		return JOB_REISSUE;
	v->reason = CRL_REASON_SUPERSEDED;
	snprintf(v->why, sizeof(v->why), "renewal asked for by the admin");
	return JOB_RENEW;
}

static enum job_action
action_of(enum decision d)
{
	switch (d) {
	case DECIDE_ENROLL: return JOB_ENROLL;
	case DECIDE_RENEW: return JOB_RENEW;
	case DECIDE_REVOKE: return JOB_REVOKE;
	case DECIDE_UNPUBLISH: return JOB_UNPUBLISH;
	case DECIDE_REPUBLISH: return JOB_REPUBLISH;
	case DECIDE_HOLD: return JOB_HOLD;
	case DECIDE_LIFT: return JOB_LIFT;
	default: return JOB_REISSUE;
	}
}

/*
 * A new CA key makes every user due at once; [reconcile] ca_change_per_minute
 * spreads those reissues out instead, each job due a little after the last.
 */
static int64_t
not_before(struct plan_ctx *ctx, const struct verdict *v)
{
	int64_t now = time(NULL), at;
	int per_min = ctx->conf->reconcile.ca_change_per_minute;

	if (!v->ca_changed)
		return 0;
	at = ctx->ca_next > now ? ctx->ca_next : now;
	ctx->ca_next = at + (60 + per_min - 1) / per_min;
	return at;
}

/* A window of PLAN_LOUD_WINDOW seconds that is over: the decisions it kept
 * at info said in one line, and a new window. */
static void
quiet_window(struct plan_ctx *ctx)
{
	int64_t now = time(NULL);

	if (now - ctx->loud_since < PLAN_LOUD_WINDOW)
		return;
	if (ctx->hushed > 0)
		log_notice("... and %zu more user(s) planned (a line each at info); "
		    "certsyncctl status shows the progress", ctx->hushed);
	ctx->loud = ctx->hushed = 0;
	ctx->loud_since = now;
}

static int
act(struct plan_ctx *ctx, const char *uuid, const char *dn, const struct verdict *v)
{
	if (v->decision == DECIDE_NOTHING) {
		ctx->unchanged++;
		log_debug("%s: nothing to do (%s)", dn, v->why);
		return 0;
	}
	/* Not a job yet: judged with the rest of its pass. */
	if (v->departure)
		return plan_gate_stage(ctx, uuid, dn, v);
	if (ctx->dry_run) {
		escape_line(ctx->out, "%-8s %s (%s): %s", decision_name(v->decision),
		    dn, uuid, v->why);
		ctx->planned++;
		return 0;
	}
	/* One line per user, but not thousands at notice in a mass event. */
	quiet_window(ctx);
	if (ctx->loud < PLAN_LOUD_MAX)
		ctx->loud++;
	else
		ctx->hushed++;
	log_at(ctx->hushed == 0 ? LOG_LVL_NOTICE : LOG_LVL_INFO, "%s: %s: %s",
	    dn, decision_name(v->decision), v->why);
	if (job_plan(ctx->st, uuid, action_of(v->decision), v->reason, v->why,
	    not_before(ctx, v)) == -1)
		return -1;
	ctx->planned++;
	ctx->kick_pending = 1;
	return 0;
}

void
plan_flush(struct plan_ctx *ctx)
{
	if (!ctx->dry_run)
		plan_gate_settle(ctx);	/* logs its own failure */
	if (ctx->hushed > 0)
		quiet_window(ctx);
	if (ctx->kick_pending && ctx->kick != NULL)
		ctx->kick(ctx->kick_arg);
	ctx->kick_pending = 0;
}

static int
skip(struct plan_ctx *ctx, const struct dir_entry *e, const char *why)
{
	ctx->skipped++;
	log_warn("%s: skipped: %s", e->dn, why);
	/* Refused, but there: not a departure. */
	if (e->uuid != NULL && plan_gate_seen(ctx, e->uuid) == -1)
		return -1;
	if (ctx->dry_run) {
		escape_line(ctx->out, "%-8s %s (%s): %s", "skip", e->dn,
		    e->uuid ? e->uuid : "?", why);
		return 0;
	}
	return e->uuid ? store_identity_skip(ctx->st, e->uuid, e->dn, why) : 0;
}

int
plan_address_taken(struct store *st, const struct identity *id, const char **address,
    char **owner)
{
	for (size_t i = 0; i < id->addresses.n; i++) {
		if (store_address_owner(st, id->addresses.v[i], id->uuid, owner) == 1) {
			*address = id->addresses.v[i];
			return 1;
		}
	}
	*address = NULL;
	return 0;
}

/* Another user holding one of id's addresses makes both ambiguous: the
 * newcomer is refused; the one who had it keeps it. */
static int
duplicate(struct plan_ctx *ctx, const struct identity *id, char *why, size_t len)
{
	const char *address;
	char *owner = NULL;

	if (plan_address_taken(ctx->st, id, &address, &owner) != 1)
		return 0;
	snprintf(why, len, "address %s is also used by %s", address, owner);
	free(owner);
	return 1;
}

static int
in_flight(struct plan_ctx *ctx, const char *uuid)
{
	struct job_row job;
	int found;

	if (ctx->dry_run || (found = store_job_get(ctx->st, uuid, &job)) != 1)
		return 0;
	job_row_free(&job);
	return 1;
}

/*
 * A parked job (retrying could not help) gets another attempt when its
 * user's values change: the cause may be gone.  changed: the entry's values
 * differ from what the store held.  With dry_run, the parked job is what
 * is reported for the user.  Returns 1 when uuid has a parked job.
 */
static int
parked_job(struct plan_ctx *ctx, const char *uuid, const char *dn, int changed)
{
	struct job_row job;
	int n = 0;

	if (store_job_get(ctx->st, uuid, &job) != 1)
		return 0;
	if (job.parked_at == 0) {
		job_row_free(&job);
		return 0;
	}
	if (ctx->dry_run) {
		escape_line(ctx->out, "%-8s %s (%s): %s job parked: %s", "failed", dn,
		    uuid, job.action, job.last_error ? job.last_error : "?");
		ctx->planned++;
	} else if (changed && store_job_unpark(ctx->st, uuid, &n) == 0 && n > 0) {
		log_notice("%s: its values changed: the parked %s job runs again", dn,
		    job.action);
		ctx->kick_pending = 1;
	}
	job_row_free(&job);
	return 1;
}

/* Whether id's values differ from those the store holds for the user;
 * *save: whether its row needs writing (changed, or marked skipped).  An
 * unchanged user's row is left alone: a full pass over 100,000 users
 * would otherwise rewrite every row and its addresses. */
static int
values_changed(struct plan_ctx *ctx, const struct identity *id, int *save)
{
	struct identity old;
	int same, skipped;

	*save = 1;
	if (identity_load_marked(ctx->st, id->uuid, &old, &skipped) != 1)
		return 1;
	same = identity_same(&old, id);
	identity_free(&old);
	*save = !same || skipped;
	return !same;
}

static struct identity_map
identity_map(const struct conf *c)
{
	struct identity_map m = {
		.mail = c->directory.mail_attribute,
		.aliases = c->directory.alias_attribute,
		.display_name = c->directory.display_name_attribute,
		.given_name = c->directory.given_name_attribute,
		.surname = c->directory.surname_attribute,
		.uid = c->directory.uid_attribute,
		.ad = c->directory.flavor == DIR_FLAVOR_AD,
		.subject = c->certificates.subject,
	};

	return m;
}

int
plan_entry(struct plan_ctx *ctx, const struct dir_entry *e)
{
	struct identity_map map = identity_map(ctx->conf);
	struct identity id;
	struct verdict v;
	char why[512];
	double arrived = metrics_clock();
	size_t planned = ctx->planned;
	int rc = 0, changed, save;

	if (identity_from_entry(&map, e, &id, why, sizeof(why)) == -1)
		return skip(ctx, e, why);
	if (duplicate(ctx, &id, why, sizeof(why))) {
		rc = skip(ctx, e, why);
		goto done;
	}
	changed = values_changed(ctx, &id, &save);
	if (!ctx->dry_run && save && identity_save(ctx->st, &id) == -1) {
		rc = -1;
		goto done;
	}
	if (parked_job(ctx, id.uuid, e->dn, changed))
		goto done;
	/* Our own certificate writes come back as modifications too: with a
	 * job in flight the runner decides again when it ends. */
	if (in_flight(ctx, id.uuid))
		goto done;
	decide(ctx, &id, id.uuid, &v);
	/* There, and not leaving: a held departure of the user is void. */
	if (!v.departure && plan_gate_seen(ctx, id.uuid) == -1) {
		rc = -1;
		goto done;
	}
	ctx->origin = ORIGIN_ENTRY;
	rc = act(ctx, id.uuid, e->dn, &v);
	/* Timed from here to its publication (H_CHANGE_TO_PUBLISHED). */
	if (rc == 0 && ctx->planned > planned && !ctx->dry_run)
		metrics_change_arrived(id.uuid, arrived);
done:
	identity_free(&id);
	return rc;
}

/* The same steps as plan_entry's up to its first write or decision: with a
 * job row (in flight or parked) and the values unchanged it stops there. */
int
plan_entry_quiet(struct plan_ctx *ctx, const struct dir_entry *e)
{
	struct identity_map map = identity_map(ctx->conf);
	struct identity id;
	char why[512];
	int quiet = 0, changed, save;

	if (ctx->dry_run || identity_from_entry(&map, e, &id, why, sizeof(why)) == -1)
		return 0;
	if (!duplicate(ctx, &id, why, sizeof(why))) {
		changed = values_changed(ctx, &id, &save);
		quiet = !changed && !save && in_flight(ctx, id.uuid);
	}
	identity_free(&id);
	return quiet;
}

static int
gone_or_recheck(struct plan_ctx *ctx, const char *uuid, int gone)
{
	struct identity id;
	struct identity_row row;
	struct verdict v;
	int have, known, rc;

	if (in_flight(ctx, uuid)) {
		/* Decided when the job ends; but the departure must not be
		 * lost meanwhile: the runner's recheck then sees a gone user.
		 * A parked job would never end: it runs again, finds no
		 * identity, and ends. */
		if (gone && store_job_unpark(ctx->st, uuid, NULL) == 0)
			ctx->kick_pending = 1;
		return gone ? store_identity_gone(ctx->st, uuid) : 0;
	}
	if ((have = identity_load(ctx->st, uuid, &id)) == -1)
		return -1;
	if ((known = store_identity_get(ctx->st, uuid, &row)) == -1) {
		if (have)
			identity_free(&id);
		return -1;
	}
	decide(ctx, gone || !have ? NULL : &id, uuid, &v);
	/* Out of scope and never ours (an AD full round reports every user,
	 * Administrator and Guest too): not "up to date", just not counted. */
	if (gone && !known && !have && v.decision == DECIDE_NOTHING) {
		identity_row_free(&row);
		return 0;
	}
	/* Gone (now, or marked gone during a job) and nothing left to revoke. */
	if ((gone || (!have && row.dn != NULL && row.mail == NULL &&
	    row.skipped == NULL)) &&
	    v.decision == DECIDE_NOTHING && !ctx->dry_run)
		store_identity_delete(ctx->st, uuid);
	rc = act(ctx, uuid, row.dn ? row.dn : uuid, &v);
	identity_row_free(&row);
	if (have)
		identity_free(&id);
	return rc;
}

int
plan_gone(struct plan_ctx *ctx, const char *uuid)
{
	double arrived = metrics_clock();
	size_t planned = ctx->planned;
	int rc;

	ctx->origin = ORIGIN_GONE;
	rc = gone_or_recheck(ctx, uuid, 1);
	if (rc == 0 && ctx->planned > planned && !ctx->dry_run)
		metrics_change_arrived(uuid, arrived);
	return rc;
}

int
plan_recheck(struct plan_ctx *ctx, const char *uuid)
{
	ctx->origin = ORIGIN_RECHECK;
	return gone_or_recheck(ctx, uuid, 0);
}

/* Collected first: planning writes to the table being walked. */
struct uuid_walk {
	struct uuid_set all;
};

static void
collect(void *arg, const char *uuid, const char *dn, const char *skipped)
{
	struct uuid_walk *w = arg;

	if (dn != NULL)	/* manual identities (certsyncctl issue) have no DN */
		uuid_set_add(&w->all, uuid);
}

/* Each directory identity not in except, gone or rechecked; *known (may
 * be NULL) gets how many there are, and *found how many except held. */
static int
for_each_directory_identity(struct plan_ctx *ctx, struct uuid_set *except, int gone,
    size_t *known, size_t *found)
{
	struct uuid_walk w = { { 0 } };
	int rc = 0;

	if (store_identity_each(ctx->st, 0, collect, &w) == -1)
		return -1;
	if (known != NULL)
		*known = w.all.n;
	for (size_t i = 0; i < w.all.n && rc == 0; i++) {
		if (except != NULL && uuid_set_has(except, w.all.v[i])) {
			if (found != NULL)
				(*found)++;
			continue;
		}
		ctx->origin = gone ? ORIGIN_SWEEP : ORIGIN_RECHECK;
		rc = gone_or_recheck(ctx, w.all.v[i], gone);
	}
	uuid_set_clear(&w.all);
	return rc;
}

/* Whether the scope differs from the one the last pass completed with
 * (the watcher records it once a pass is complete, after its sweep). */
static int
scope_differs(struct plan_ctx *ctx)
{
	char *was = NULL, *now = conf_scope_text(ctx->conf);
	int differs = store_state_get(ctx->st, "scope", &was, NULL) == 1 &&
	    was != NULL && strcmp(was, now) != 0;

	free(was);
	free(now);
	return differs;
}

int
plan_sweep(struct plan_ctx *ctx, struct uuid_set *seen)
{
	/* For the line that says why a pass is held: how much of what
	 * certsync knows the read showed, and whether its scope is new. */
	ctx->sweep_found = 0;
	ctx->scope_changed = scope_differs(ctx);
	return for_each_directory_identity(ctx, seen, 1, &ctx->sweep_known,
	    &ctx->sweep_found);
}

int
plan_recheck_all(struct plan_ctx *ctx)
{
	return for_each_directory_identity(ctx, NULL, 0, NULL, NULL);
}

static void
collect_due(void *arg, const char *uuid)
{
	uuid_set_add(arg, uuid);
}

int
plan_holds_due(struct plan_ctx *ctx)
{
	struct uuid_set due = { 0 };
	int rc = 0;

	if (store_holds_due(ctx->st, time(NULL) - plan_hold_seconds(ctx->conf),
	    collect_due, &due) == -1)
		return -1;
	for (size_t i = 0; i < due.n && rc == 0; i++)
		rc = plan_recheck(ctx, due.v[i]);
	uuid_set_clear(&due);
	return rc;
}
