/*
 * db.c - transactions and the statement helpers.
 *
 * Owns: nesting transactions (only the outermost begin and commit reach
 * SQLite; a failure inside makes the outermost commit roll back) and the
 * helpers every table family prepares, binds and steps its statements with.
 * Never: commits a transaction in which a step failed.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "store/internal.h"

int
db_fail(struct store *st, const char *what)
{
	snprintf(st->error, sizeof(st->error), "%s", sqlite3_errmsg(st->db));
	log_error("state store %s: %s: %s", st->path, what, st->error);
	metrics_add(M_ERR_STORE, 1);
	st->failed = 1;
	return -1;
}

const char *
store_error(const struct store *st)
{
	return st->error[0] != '\0' ? st->error : "no error recorded";
}

int
db_exec(struct store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		snprintf(st->error, sizeof(st->error), "%s", err ? err : "unknown error");
		log_error("state store %s: %s", st->path, st->error);
		metrics_add(M_ERR_STORE, 1);
		sqlite3_free(err);
		st->failed = 1;
		return -1;
	}
	return 0;
}

sqlite3_stmt *
db_prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *stmt = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		db_fail(st, "prepare");
		return NULL;
	}
	return stmt;
}

/* Binds NULL for a NULL string, so optional columns stay NULL. */
void
db_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

char *
db_col_text(sqlite3_stmt *stmt, int i)
{
	const unsigned char *s = sqlite3_column_text(stmt, i);
	char *out;

	if (s == NULL)
		return NULL;
	if ((out = strdup((const char *)s)) == NULL)
		fatal("out of memory");
	return out;
}

/* Steps a statement that returns no rows, then finalizes it. */
int
db_step_done(struct store *st, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_DONE) {
		db_fail(st, what);
		sqlite3_finalize(stmt);
		return -1;
	}
	sqlite3_finalize(stmt);
	return 0;
}

int
store_begin(struct store *st)
{
	if (st->depth++ > 0)
		return 0;
	st->failed = 0;
	if (db_exec(st, "BEGIN IMMEDIATE") == -1) {
		st->depth = 0;
		return -1;
	}
	return 0;
}

int
store_commit(struct store *st)
{
	if (st->depth == 0)
		fatal("store_commit without store_begin");
	if (--st->depth > 0)
		return st->failed ? -1 : 0;
	if (st->failed) {
		db_exec(st, "ROLLBACK");
		log_error("state store %s: transaction rolled back after an error",
		    st->path);
		return -1;
	}
	return db_exec(st, "COMMIT");
}

void
store_rollback(struct store *st)
{
	if (st->depth == 0)
		return;
	st->failed = 1;
	if (--st->depth == 0)
		db_exec(st, "ROLLBACK");
}
