/*
 * published.c - the values certsync wrote to users' directory entries.
 *
 * Owns: the published table: per user and attribute, the exact values we
 * added and have not withdrawn.  It is what says a value is ours to
 * remove, and how many of a user's certificates the directory shows.
 * Never: decides anything about the directory; the publish step records
 * here what it did.
 */
#include "config.h"


#include <sqlite3.h>

#include "store/internal.h"

int
store_published(struct store *st, int add, const char *uuid, const char *attr,
    const void *value, size_t len)
{
	sqlite3_stmt *stmt = db_prepare(st, add ?
	    "INSERT OR IGNORE INTO published (uuid, attribute, value) VALUES (?, ?, ?)" :
	    "DELETE FROM published WHERE uuid = ? AND attribute = ? AND value = ?");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	db_bind_text(stmt, 2, attr);
	sqlite3_bind_blob(stmt, 3, value, (int)len, SQLITE_TRANSIENT);
	return db_step_done(st, stmt, "record a published value");
}

int
store_published_has(struct store *st, const char *uuid, const char *attr,
    const void *value, size_t len)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT 1 FROM published WHERE uuid = ? "
	    "AND attribute = ? AND value = ?");
	int rc;

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	db_bind_text(stmt, 2, attr);
	sqlite3_bind_blob(stmt, 3, value, (int)len, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "look up a published value");
}

int
store_published_each(struct store *st, const char *uuid, const char *attr,
    int (*fn)(void *arg, const void *value, size_t len), void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT value FROM published WHERE uuid = ? "
	    "AND attribute = ?");
	int rc;

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	db_bind_text(stmt, 2, attr);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		if (fn(arg, sqlite3_column_blob(stmt, 0),
		    (size_t)sqlite3_column_bytes(stmt, 0)) == -1)
			break;
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return -1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list published values");
}
