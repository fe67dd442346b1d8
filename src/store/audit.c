/*
 * audit.c - the append-only audit trail.
 *
 * Owns: appending records (what happened, to whom, which serial), reading
 * them back, and the search for certificates the CA signed that no row
 * records (a "sign" record without its certificate).
 * Never: updates or deletes a record (the schema's triggers refuse it too).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

int
store_audit(struct store *st, const char *action, const char *uuid,
    const char *serial, const char *fmt, ...)
{
	sqlite3_stmt *stmt;
	char *detail = NULL;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) == -1)
		fatal("out of memory");
	va_end(ap);
	if ((stmt = db_prepare(st, "INSERT INTO audit (at, action, uuid, serial, detail) "
	    "VALUES (?, ?, ?, ?, ?)")) == NULL) {
		free(detail);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, time(NULL));
	db_bind_text(stmt, 2, action);
	db_bind_text(stmt, 3, uuid);
	db_bind_text(stmt, 4, serial);
	db_bind_text(stmt, 5, detail);
	rc = db_step_done(st, stmt, "append to the audit trail");
	free(detail);
	return rc;
}

int
store_audit_each(struct store *st, int limit,
    void (*fn)(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail), void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT at, action, uuid, serial, detail FROM "
	    "(SELECT * FROM audit ORDER BY id DESC LIMIT ?) ORDER BY id");
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, limit > 0 ? limit : -1);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(arg, sqlite3_column_int64(stmt, 0),
		    (const char *)sqlite3_column_text(stmt, 1),
		    (const char *)sqlite3_column_text(stmt, 2),
		    (const char *)sqlite3_column_text(stmt, 3),
		    (const char *)sqlite3_column_text(stmt, 4));
	db_release(st, stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "read the audit trail");
	return 0;
}

/* No index serves action = 'sign': a full pass over the trail, which runs
 * at the runner's start and when a job is resumed in KEYS, not per job. */
int
store_unrecorded(struct store *st, const char *uuid, struct unrecorded_rows *out)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT a.uuid, a.serial, a.detail, a.at "
	    "FROM audit a WHERE a.action = 'sign' AND a.uuid IS NOT NULL AND "
	    "a.serial IS NOT NULL AND (?1 IS NULL OR a.uuid = ?1) AND NOT EXISTS "
	    "(SELECT 1 FROM certificates c WHERE c.serial = a.serial) ORDER BY a.id");
	int rc;

	out->v = NULL;
	out->n = 0;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct unrecorded_row *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (v == NULL)
			fatal("out of memory");
		out->v = v;
		v = &out->v[out->n++];
		v->uuid = db_col_text(stmt, 0);
		v->serial = db_col_text(stmt, 1);
		v->detail = db_col_text(stmt, 2);
		v->signed_at = sqlite3_column_int64(stmt, 3);
	}
	db_release(st, stmt);
	if (rc != SQLITE_DONE) {
		unrecorded_rows_free(out);
		return db_fail(st, "look for certificates signed but not recorded");
	}
	return 0;
}

void
unrecorded_rows_free(struct unrecorded_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++) {
		free(rows->v[i].uuid);
		free(rows->v[i].serial);
		free(rows->v[i].detail);
	}
	free(rows->v);
	rows->v = NULL;
	rows->n = 0;
}
