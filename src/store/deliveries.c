/*
 * deliveries.c - the queue of new keys for the delivery hook.
 *
 * Owns: the deliveries table: one row per new key file, its attempts and
 * next try.  Rows are queued in the publish step's own transaction, so a
 * crash cannot skip a delivery.
 * Never: holds a password; the hook gets the password file's path only.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "store/internal.h"

int
store_delivery_queue(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT OR IGNORE INTO deliveries (cert_id, "
	    "uuid) SELECT id, ?2 FROM certificates WHERE uuid = ?1 AND status = "
	    "'active' AND keystore_dir IS NOT NULL");

	if (stmt == NULL)
		return -1;
	db_bind_packed(stmt, 1, uuid, 1);
	db_bind_text(stmt, 2, uuid);
	return db_step_done(st, stmt, "queue a delivery");
}

int
store_delivery_due(struct store *st, int64_t now, size_t max,
    struct delivery_row *rows, size_t *n)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT d.cert_id, d.uuid, i.dn, c.serial, "
	    "c.kind, c.addresses, " KEY_PATH_SQL("c.keystore_dir", "c.keystore_file")
	    ", d.attempts FROM deliveries d "
	    "JOIN certificates c ON c.id = d.cert_id LEFT JOIN identities i ON "
	    "i.uuid = certsync_pack(d.uuid, 1) WHERE d.done = 0 AND d.next_attempt <= ? AND "
	    "c.keystore_dir IS NOT NULL ORDER BY d.next_attempt, d.cert_id LIMIT ?");
	int rc;

	*n = 0;
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct delivery_row *r = &rows[(*n)++];

		r->cert_id = sqlite3_column_int64(stmt, 0);
		r->uuid = db_col_text(stmt, 1);
		r->dn = db_col_text(stmt, 2);
		r->serial = db_col_packed(stmt, 3, 0);
		r->kind = db_col_text(stmt, 4);
		r->addresses = db_col_text(stmt, 5);
		r->keystore_path = db_col_text(stmt, 6);
		r->attempts = sqlite3_column_int(stmt, 7);
	}
	db_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list deliveries");
}

int
store_delivery_result(struct store *st, int64_t cert_id, int ok, const char *err,
    int64_t next_attempt)
{
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE deliveries SET done = ?, attempts = "
	    "attempts + 1, last_error = ?, next_attempt = ? WHERE cert_id = ?");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, ok);
	db_bind_text(stmt, 2, err);
	sqlite3_bind_int64(stmt, 3, next_attempt);
	sqlite3_bind_int64(stmt, 4, cert_id);
	return db_step_done(st, stmt, "record a delivery");
}

int
store_delivery_next(struct store *st, int64_t *when)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT min(next_attempt) FROM deliveries "
	    "WHERE done = 0");
	int rc;

	*when = 0;
	if (stmt == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		*when = sqlite3_column_int64(stmt, 0);
	db_release(st, stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "read delivery times");
	return *when ? 1 : 0;
}

int
store_delivery_counts(struct store *st, int *pending, int *failing)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT count(*), count(last_error) FROM "
	    "deliveries WHERE done = 0");
	int rc;

	*pending = *failing = 0;
	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*pending = sqlite3_column_int(stmt, 0);
		*failing = sqlite3_column_int(stmt, 1);
	}
	db_release(st, stmt);
	return rc == SQLITE_ROW ? 0 : db_fail(st, "count deliveries");
}

void
delivery_row_free(struct delivery_row *r)
{
	free(r->uuid);
	free(r->dn);
	free(r->serial);
	free(r->kind);
	free(r->addresses);
	free(r->keystore_path);
	memset(r, 0, sizeof(*r));
}
