/*
 * held.c - the safety catch's rows: removals staged, held, and the
 * departures that went through.
 *
 * Owns: the held table (a removal staged by the pass that decided it, or
 * held until an admin releases it or the directory shows the user again)
 * and the departures table (who went through, and when: the sliding
 * window), and the count of directory users the gate compares with.
 * Never: judges a pass (the planner's gate does), or plans a job.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

int
store_removal_stage(struct store *st, const char *uuid, const char *dn,
    const char *action, const char *reason, const char *why)
{
	/* A row already held keeps held_at and pass: the admin sees since
	 * when, and why, whatever later passes said. */
	sqlite3_stmt *stmt = db_prepare(st, "INSERT INTO held (uuid, dn, action, "
	    "reason, why, staged) VALUES (?1, ?2, ?3, ?4, ?5, 1) ON CONFLICT (uuid) "
	    "DO UPDATE SET dn = ?2, action = ?3, reason = ?4, why = ?5, staged = 1");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	db_bind_text(stmt, 2, dn);
	db_bind_text(stmt, 3, action);
	db_bind_text(stmt, 4, reason);
	db_bind_text(stmt, 5, why);
	return db_step_done(st, stmt, "stage a removal");
}

static void
read_held_row(sqlite3_stmt *stmt, struct held_row *r)
{
	r->uuid = db_col_text(stmt, 0);
	r->dn = db_col_text(stmt, 1);
	r->action = db_col_text(stmt, 2);
	r->reason = db_col_text(stmt, 3);
	r->why = db_col_text(stmt, 4);
	r->staged = sqlite3_column_int(stmt, 5);
	r->held_at = sqlite3_column_int64(stmt, 6);
	r->pass = db_col_text(stmt, 7);
}

int
store_removals(struct store *st, int staged, struct held_rows *out)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT uuid, dn, action, reason, why, "
	    "staged, coalesce(held_at, 0), pass FROM held WHERE staged = ? "
	    "ORDER BY dn, uuid");
	int rc;

	out->v = NULL;
	out->n = 0;
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, staged != 0);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct held_row *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (v == NULL)
			fatal("out of memory");
		out->v = v;
		read_held_row(stmt, &out->v[out->n++]);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		held_rows_free(out);
		return db_fail(st, "list removals");
	}
	return 0;
}

int
store_held_groups(struct store *st,
    void (*fn)(void *arg, const char *pass, size_t n, int64_t since), void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT coalesce(pass, ''), count(*), "
	    "min(held_at) FROM held WHERE staged = 0 GROUP BY pass ORDER BY 3");
	int rc;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(stmt, 0),
		    (size_t)sqlite3_column_int64(stmt, 1), sqlite3_column_int64(stmt, 2));
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "count the held set");
}

int
store_removal_hold(struct store *st, const char *uuid, const char *pass, int64_t now)
{
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE held SET staged = 0, "
	    "held_at = coalesce(held_at, ?2), pass = coalesce(pass, ?3) WHERE uuid = ?1");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	sqlite3_bind_int64(stmt, 2, now);
	db_bind_text(stmt, 3, pass);
	return db_step_done(st, stmt, "hold a removal");
}

int
store_removal_drop(struct store *st, const char *uuid)
{
	/* One statement, run for every user a pass sees: it says whether
	 * there was a row, and whether that row was held. */
	sqlite3_stmt *stmt = db_prepare(st, "DELETE FROM held WHERE uuid = ? "
	    "RETURNING held_at IS NOT NULL");
	int rc, held = 0, found = 0;

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		found = 1;
		held = sqlite3_column_int(stmt, 0);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "drop a removal");
	return held ? 2 : found;
}

void
held_rows_free(struct held_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		struct held_row *r = &rows->v[i];

		free(r->uuid);
		free(r->dn);
		free(r->action);
		free(r->reason);
		free(r->why);
		free(r->pass);
	}
	free(rows->v);
	rows->v = NULL;
	rows->n = 0;
}

int
store_removal_held(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT 1 FROM held WHERE uuid = ? AND "
	    "held_at IS NOT NULL");
	int rc;

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "look up a held removal");
}

int
store_departure_add(struct store *st, const char *uuid, int64_t at,
    int64_t forget_before)
{
	sqlite3_stmt *stmt;

	/* What the window no longer sees is of no use: pruned as it goes. */
	if ((stmt = db_prepare(st, "DELETE FROM departures WHERE at < ?")) == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, forget_before);
	if (db_step_done(st, stmt, "prune departures") == -1 ||
	    (stmt = db_prepare(st, "INSERT INTO departures (uuid, at) "
	    "VALUES (?, ?)")) == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	sqlite3_bind_int64(stmt, 2, at);
	return db_step_done(st, stmt, "record a departure");
}

int
store_departures_since(struct store *st, int64_t since, size_t *n)
{
	sqlite3_stmt *stmt;
	int rc;

	*n = 0;
	if ((stmt = db_prepare(st, "SELECT count(DISTINCT uuid) FROM departures "
	    "WHERE at >= ?")) == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, since);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : db_fail(st, "count departures");
}

int
store_directory_users(struct store *st, size_t *n)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT count(*) FROM identities "
	    "WHERE dn IS NOT NULL");
	int rc;

	*n = 0;
	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW ? 0 : db_fail(st, "count directory users");
}
