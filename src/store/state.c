/*
 * state.c - the CRL number, and the facts the daemon reports.
 *
 * Owns: the crl_state row (the number, monotonic and never reused, its
 * times, and the mark that a revocation is not in a written CRL yet) and
 * the daemon_state facts `certsyncctl status` shows.
 * Never: lets a CRL number go back or repeat, even when a write fails.
 */
#include "config.h"

#include <time.h>

#include <sqlite3.h>

#include "store/internal.h"

/* A revocation not yet in a written CRL: durable, so a crash cannot lose it. */
int
db_crl_mark_pending(struct store *st)
{
	return db_exec(st, "INSERT INTO crl_state (id, number, this_update, next_update, "
	    "pending) VALUES (1, 0, 0, 0, 1) ON CONFLICT (id) DO UPDATE SET pending = 1");
}

int
store_crl_pending(struct store *st)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT pending FROM crl_state WHERE id = 1");
	int rc, pending = 0;

	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		pending = sqlite3_column_int(stmt, 0);
	db_release(st, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "read the CRL state");
	return pending != 0;
}

int
store_crl_next(struct store *st, int64_t this_update, int64_t next_update,
    int64_t *number)
{
	sqlite3_stmt *stmt;

	if (store_begin(st) == -1)
		return -1;
	if ((stmt = db_prepare(st, "INSERT INTO crl_state (id, number, this_update, "
	    "next_update) VALUES (1, 1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET "
	    "number = number + 1, this_update = ?1, next_update = ?2")) == NULL) {
		store_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, this_update);
	sqlite3_bind_int64(stmt, 2, next_update);
	if (db_step_done(st, stmt, "advance the CRL number") == -1 ||
	    store_crl_last(st, number, NULL) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_crl_written(struct store *st, int64_t number)
{
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE crl_state SET pending = 0 WHERE "
	    "id = 1 AND number = ?");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, number);
	return db_step_done(st, stmt, "mark the CRL written");
}

int
store_crl_last(struct store *st, int64_t *number, int64_t *issued_at)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT number, this_update FROM crl_state "
	    "WHERE id = 1");
	int rc;

	if (stmt == NULL)
		return -1;
	*number = 0;
	if (issued_at != NULL)
		*issued_at = 0;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*number = sqlite3_column_int64(stmt, 0);
		if (issued_at != NULL)
			*issued_at = sqlite3_column_int64(stmt, 1);
	}
	db_release(st, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "read the CRL number");
	return 0;
}

int
store_state_set(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT OR REPLACE INTO daemon_state (key, "
	    "value, updated_at) VALUES (?, ?, ?)");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, key);
	db_bind_text(stmt, 2, value);
	sqlite3_bind_int64(stmt, 3, time(NULL));
	return db_step_done(st, stmt, "record daemon state");
}

int
store_state_get(struct store *st, const char *key, char **value, int64_t *updated_at)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT value, updated_at FROM daemon_state "
	    "WHERE key = ?");
	int rc;

	*value = NULL;
	if (updated_at != NULL)
		*updated_at = 0;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, key);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*value = db_col_text(stmt, 0);
		if (updated_at != NULL)
			*updated_at = sqlite3_column_int64(stmt, 1);
	}
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "read daemon state");
}
