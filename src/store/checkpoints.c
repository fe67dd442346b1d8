/*
 * checkpoints.c - where each change source stands, and AD's entry copies.
 *
 * Owns: the checkpoints table (a syncrepl or DirSync cookie, a uSNChanged
 * watermark, with the server it came from) and the last full copy of each
 * Active Directory entry, which DirSync's partial answers are merged into.
 * Never: interprets a cookie or a copy (the change sources do).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

int
store_checkpoint_put(struct store *st, const char *source, const void *cookie,
    size_t len, const char *server_id)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT OR REPLACE INTO checkpoints (source, "
	    "cookie, server_id, updated_at) VALUES (?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, source);
	if (cookie == NULL)
		sqlite3_bind_null(stmt, 2);
	else
		sqlite3_bind_blob(stmt, 2, cookie, (int)len, SQLITE_TRANSIENT);
	db_bind_text(stmt, 3, server_id);
	sqlite3_bind_int64(stmt, 4, time(NULL));
	return db_step_done(st, stmt, "store checkpoint");
}

int
store_checkpoint_get(struct store *st, const char *source, void **cookie,
    size_t *len, char **server_id)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT cookie, server_id FROM checkpoints "
	    "WHERE source = ?");
	int rc;

	*cookie = NULL;
	*len = 0;
	if (server_id != NULL)
		*server_id = NULL;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, source);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(stmt, 0);
		const void *blob = sqlite3_column_blob(stmt, 0);

		if (blob != NULL) {
			if ((*cookie = malloc((size_t)n ? (size_t)n : 1)) == NULL)
				fatal("out of memory");
			memcpy(*cookie, blob, (size_t)n);
			*len = (size_t)n;
		}
		if (server_id != NULL)
			*server_id = db_col_text(stmt, 1);
	}
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, "read checkpoint");
}

int
store_checkpoint_age(struct store *st, const char *source, int64_t *updated_at)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT updated_at FROM checkpoints WHERE "
	    "source = ? AND cookie IS NOT NULL");
	int rc;

	*updated_at = 0;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, source);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*updated_at = sqlite3_column_int64(stmt, 0);
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "read checkpoint");
}

int
store_copy_put(struct store *st, const char *uuid, const char *dn,
    const void *attrs, size_t len)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT OR REPLACE INTO directory_copies "
	    "(uuid, dn, attrs, updated_at) VALUES (?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	db_bind_text(stmt, 2, dn);
	sqlite3_bind_blob(stmt, 3, attrs, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, time(NULL));
	return db_step_done(st, stmt, "store directory copy");
}

int
store_copy_get(struct store *st, const char *uuid, char **dn, void **attrs,
    size_t *len)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT dn, attrs FROM directory_copies "
	    "WHERE uuid = ?");
	int rc;

	*dn = NULL;
	*attrs = NULL;
	*len = 0;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(stmt, 1);
		const void *blob = sqlite3_column_blob(stmt, 1);

		*dn = db_col_text(stmt, 0);
		if ((*attrs = malloc(n > 0 ? (size_t)n : 1)) == NULL)
			fatal("out of memory");
		if (blob != NULL)
			memcpy(*attrs, blob, (size_t)n);
		*len = (size_t)n;
	}
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, "read directory copy");
}

int
store_copy_delete(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt = db_prepare(st, uuid != NULL ?
	    "DELETE FROM directory_copies WHERE uuid = ?" :
	    "DELETE FROM directory_copies");

	if (stmt == NULL)
		return -1;
	if (uuid != NULL)
		db_bind_text(stmt, 1, uuid);
	return db_step_done(st, stmt, "delete directory copy");
}
