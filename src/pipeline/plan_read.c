/*
 * plan_read.c - the planner fed from the directory.
 *
 * Owns: the watcher's sink (entries, departures and sweeps into the
 * planner, its flush, and the summary of a pass), and the one blocking
 * pass over the directory behind certsyncd --dry-run and certsyncctl plan:
 * a plain search (in pages on Active Directory), each entry planned, then
 * the sweep, only after a complete read, and the departures judged as the
 * safety catch would.
 * Never: decides anything itself (plan.c does), or sweeps after a read
 * that did not finish: a user missing from it is not a departed one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "directory/dirsync.h"
#include "directory/ds389.h"
#include "directory/ldapconn.h"
#include "directory/syncrepl.h"
#include "directory/watch.h"
#include "lib/log.h"
#include "pipeline/plan.h"

static int
sink_entry(void *arg, const struct dir_entry *e)
{
	return plan_entry(arg, e);
}

static int
sink_quiet(void *arg, const struct dir_entry *e)
{
	return plan_entry_quiet(arg, e);
}

static int
sink_gone(void *arg, const char *uuid)
{
	return plan_gone(arg, uuid);
}

static int
sink_sweep(void *arg, struct uuid_set *seen)
{
	return plan_sweep(arg, seen);
}

static void
sink_flush(void *arg)
{
	plan_flush(arg);
}

/* A pass's summary counts that pass only. */
static void
sink_pass_begin(void *arg)
{
	struct plan_ctx *ctx = arg;

	ctx->planned = ctx->skipped = ctx->unchanged = 0;
}

static void
sink_pass_summary(void *arg, char *buf, size_t len)
{
	struct plan_ctx *ctx = arg;

	snprintf(buf, len, "%zu planned, %zu skipped, %zu up to date", ctx->planned,
	    ctx->skipped, ctx->unchanged);
}

void
plan_watch_sink(struct plan_ctx *ctx, struct watch_sink *sink)
{
	*sink = (struct watch_sink){
		.arg = ctx,
		.dry_run = ctx->dry_run,
		.entry = sink_entry,
		.quiet = sink_quiet,
		.gone = sink_gone,
		.sweep = sink_sweep,
		.flush = sink_flush,
		.pass_begin = sink_pass_begin,
		.pass_summary = sink_pass_summary,
	};
}

/* ---- one pass over the directory ---------------------------------------- */

/* One entry of the directory read: planned, and remembered for the sweep. */
struct dir_read {
	struct plan_ctx *ctx;
	struct uuid_set seen;
	size_t unidentified;       /* entries without a usable id */
};

static void
plan_read_entry(LDAP *ld, LDAPMessage *msg, void *arg)
{
	struct dir_read *r = arg;
	struct dir_entry e;

	if (syncrepl_entry(ld, r->ctx->conf->directory.flavor, msg, &e) != 0)
		return;
	if (e.uuid != NULL)
		uuid_set_add(&r->seen, e.uuid);
	else
		r->unidentified++;
	plan_entry(r->ctx, &e);
	dir_entry_free(&e);
}

/* OpenLDAP: one search, its entries as they come. */
static int
read_plain(struct plan_ctx *ctx, LDAP *ld, struct dir_read *r)
{
	struct timeval tv = { ctx->conf->directory.network_timeout * 6, 0 };
	LDAPMessage *msg = NULL;
	int msgid, rc = -1, done = 0, n;

	if ((n = syncrepl_poll_search(ld, ctx->conf, &msgid)) != LDAP_SUCCESS) {
		log_error("directory %s: search failed: %s", ctx->conf->directory.uri,
		    ldap_err2string(n));
		return -1;
	}
	while (!done && (n = ldap_result(ld, msgid, LDAP_MSG_ONE, &tv, &msg)) > 0) {
		int err_code = LDAP_OTHER;

		if (n == LDAP_RES_SEARCH_ENTRY)
			plan_read_entry(ld, msg, r);
		else if (n == LDAP_RES_SEARCH_RESULT) {
			ldap_parse_result(ld, msg, &err_code, NULL, NULL, NULL, NULL, 0);
			done = 1;
			if (err_code != LDAP_SUCCESS)
				log_error("directory %s: search failed: %s",
				    ctx->conf->directory.uri, ldap_err2string(err_code));
			else
				rc = 0;
		}
		ldap_msgfree(msg);
		msg = NULL;
	}
	if (!done)
		log_error("directory %s: the search did not finish", ctx->conf->directory.uri);
	return rc;
}

/* Active Directory: in pages, or it stops at MaxPageSize (1000) users. */
static int
read_paged(struct plan_ctx *ctx, LDAP *ld, struct dir_read *r)
{
	const struct conf *c = ctx->conf;
	char err[512];

	if (ad_paged_search(ld, c, c->directory.base, syncrepl_scope(c),
	    c->directory.filter, syncrepl_wanted_attrs(c, 1), NULL,
	    plan_read_entry, r, err, sizeof(err)) != LDAP_SUCCESS) {
		log_error("directory %s: %s", c->directory.uri, err);
		return -1;
	}
	return 0;
}

/* 389-ds read as OpenLDAP: ids that are not the ones syncrepl keys users
 * by.  0 when the server fits the flavor (or cannot say), -1 after logging. */
static int
server_fits(struct plan_ctx *ctx, LDAP *ld)
{
	struct ds389_server s;
	char err[256];
	int rc = 0;

	if (ctx->conf->directory.flavor != DIR_FLAVOR_OPENLDAP ||
	    ds389_rootdse(ld, ctx->conf->directory.network_timeout, &s, err,
	    sizeof(err)) == -1)
		return 0;
	if ((rc = ds389_check_flavor(ctx->conf->directory.flavor, &s, err,
	    sizeof(err))) == -1)
		log_error("directory %s: %s", ctx->conf->directory.uri, err);
	ds389_server_free(&s);
	return rc;
}

int
plan_directory(struct plan_ctx *ctx)
{
	struct dir_read r = { ctx, { 0 }, 0 };
	char err[512];
	LDAP *ld;
	int rc;

	if (ctx->conf->directory.base == NULL) {
		log_error("%s: [directory] base: is required to read the directory",
		    ctx->conf->path);
		return -1;
	}
	if ((ld = ldapconn_open(ctx->conf, err, sizeof(err))) == NULL) {
		log_error("directory %s: %s", ctx->conf->directory.uri, err);
		return -1;
	}
	if (server_fits(ctx, ld) == -1)
		rc = -1;
	else
		rc = ctx->conf->directory.flavor == DIR_FLAVOR_AD ?
		    read_paged(ctx, ld, &r) : read_plain(ctx, ld, &r);
	/* Only a complete read may sweep: a missing user is a departed one;
	 * but an entry without its id may be anyone. */
	if (rc == 0 && r.unidentified > 0)
		log_warn("directory %s: %zu entr%s in scope came without a usable %s "
		    "(may the service account read it?); nobody is taken for gone",
		    ctx->conf->directory.uri, r.unidentified,
		    r.unidentified == 1 ? "y" : "ies",
		    syncrepl_id_attr(ctx->conf->directory.flavor));
	else if (rc == 0)
		rc = plan_sweep(ctx, &r.seen);
	uuid_set_clear(&r.seen);
	ldap_unbind_ext_s(ld, NULL, NULL);
	return rc;
}

int
plan_report(const struct conf *conf, struct store *st, FILE *out)
{
	struct plan_ctx plan;
	int rc;

	if (plan_init(&plan, conf, st, 1, out) == -1)
		return EX_CONFIG;
	rc = plan_directory(&plan) == 0 ? 0 : EX_UNAVAILABLE;
	/* A directory read that failed plans nothing: no summary that would
	 * read like an empty plan (the error is on stderr). */
	if (rc == 0) {
		/* The departures, as the safety catch would judge the pass. */
		plan_gate_report(&plan);
		fprintf(out, "%zu to do, %zu skipped, %zu up to date", plan.planned,
		    plan.skipped, plan.unchanged);
		if (plan.held > 0)
			fprintf(out, ", %zu held by the safety catch", plan.held);
		fprintf(out, "\n");
	}
	plan_free(&plan);
	return rc;
}
