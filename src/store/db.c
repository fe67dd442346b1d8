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

/* Whether SQLite's last failure says the file cannot be written now (full,
 * locked, an I/O error): another write would meet the same. */
static void
note_unwritable(struct store *st)
{
	int code = sqlite3_errcode(st->db);

	st->unwritable = code == SQLITE_BUSY || code == SQLITE_LOCKED ||
	    code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY;
}

int
db_fail(struct store *st, const char *what)
{
	note_unwritable(st);
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
		note_unwritable(st);
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
	int i, keep;

	for (i = 0; i < st->ncache && st->cache[i].sql != sql; i++)
		;
	if (i < st->ncache && !st->cache[i].busy) {
		st->cache[i].busy = 1;
		return st->cache[i].stmt;
	}
	/* In use already (a nested query of the same text) or the cache is
	 * full: one of its own, finalized when released. */
	keep = i == st->ncache && st->ncache < STMT_CACHE;
	if (sqlite3_prepare_v3(st->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0,
	    &stmt, NULL) != SQLITE_OK) {
		sqlite3_finalize(stmt);
		db_fail(st, "prepare");
		return NULL;
	}
	if (keep)
		st->cache[st->ncache++] = (struct cached_stmt){ sql, stmt, 1 };
	return stmt;
}

void
db_release(struct store *st, sqlite3_stmt *stmt)
{
	for (int i = 0; i < st->ncache; i++)
		if (st->cache[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			st->cache[i].busy = 0;
			return;
		}
	sqlite3_finalize(stmt);
}

void
db_cache_clear(struct store *st)
{
	for (int i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].stmt);
	st->ncache = 0;
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
		db_release(st, stmt);
		return -1;
	}
	db_release(st, stmt);
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
store_begin_read(struct store *st)
{
	if (st->depth > 0)
		fatal("store_begin_read inside a transaction");
	st->depth = 1;
	st->failed = 0;
	if (db_exec(st, "BEGIN DEFERRED") == -1) {
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
	if (db_exec(st, "COMMIT") == -1)
		return -1;
	st->unwritable = 0;
	return 0;
}

int
store_unwritable(const struct store *st)
{
	return st->unwritable;
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
