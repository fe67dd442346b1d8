/*
 * identities.c - the users as last seen in the directory.
 *
 * Owns: the identities table (addresses, names, enabled, why a user was
 * skipped) and the address index that keeps one mailbox to one person.
 * Never: normalizes anything: the identity stage hands over what it
 * vouched for, and reads it back through identity_row.c.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

/* Keeps identity_addresses in step with the identity's mail and aliases. */
static int
index_addresses(struct store *st, const struct identity_row *id)
{
	char *all = NULL, *save = NULL, *a;
	sqlite3_stmt *stmt;
	int rc = 0;

	if ((stmt = db_prepare(st, "DELETE FROM identity_addresses WHERE uuid = ?")) == NULL)
		return -1;
	db_bind_packed(stmt, 1, id->uuid, 1);
	if (db_step_done(st, stmt, "index identity addresses") == -1)
		return -1;
	if (asprintf(&all, "%s\n%s", id->mail ? id->mail : "",
	    id->aliases ? id->aliases : "") == -1)
		fatal("out of memory");
	for (a = strtok_r(all, "\n", &save); a != NULL && rc == 0;
	    a = strtok_r(NULL, "\n", &save)) {
		if ((stmt = db_prepare(st, "INSERT OR IGNORE INTO identity_addresses "
		    "(uuid, address) VALUES (?, ?)")) == NULL) {
			rc = -1;
			break;
		}
		db_bind_packed(stmt, 1, id->uuid, 1);
		db_bind_text(stmt, 2, a);
		rc = db_step_done(st, stmt, "index identity addresses");
	}
	free(all);
	return rc;
}

int
store_identity_put(struct store *st, const struct identity_row *id)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT OR REPLACE INTO identities (uuid, dn, "
	    "mail, aliases, display_name, given_name, surname, enabled, skipped, "
	    "updated_at, uid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	db_bind_packed(stmt, 1, id->uuid, 1);
	db_bind_text(stmt, 2, id->dn);
	db_bind_text(stmt, 3, id->mail);
	db_bind_text(stmt, 4, id->aliases);
	db_bind_text(stmt, 5, id->display_name);
	db_bind_text(stmt, 6, id->given_name);
	db_bind_text(stmt, 7, id->surname);
	sqlite3_bind_int(stmt, 8, id->enabled);
	db_bind_text(stmt, 9, id->skipped);
	sqlite3_bind_int64(stmt, 10, id->updated_at ? id->updated_at : time(NULL));
	db_bind_text(stmt, 11, id->uid);
	if (store_begin(st) == -1) {
		db_release(st, stmt);
		return -1;
	}
	if (db_step_done(st, stmt, "store identity") == -1 ||
	    index_addresses(st, id) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_identity_skip(struct store *st, const char *uuid, const char *dn,
    const char *why)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT INTO identities (uuid, dn, skipped, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (uuid) DO UPDATE SET "
	    "dn = ?2, skipped = ?3, updated_at = ?4");

	if (stmt == NULL)
		return -1;
	db_bind_packed(stmt, 1, uuid, 1);
	db_bind_text(stmt, 2, dn);
	db_bind_text(stmt, 3, why);
	sqlite3_bind_int64(stmt, 4, time(NULL));
	return db_step_done(st, stmt, "mark identity skipped");
}

int
store_identity_delete(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt;
	int rc = 0;

	if (store_begin(st) == -1)
		return -1;
	for (int i = 0; i < 2 && rc == 0; i++) {
		if ((stmt = db_prepare(st, i == 0 ? "DELETE FROM identities WHERE uuid = ?" :
		    "DELETE FROM identity_addresses WHERE uuid = ?")) == NULL) {
			rc = -1;
			break;
		}
		db_bind_packed(stmt, 1, uuid, 1);
		rc = db_step_done(st, stmt, "delete identity");
	}
	if (rc == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_identity_gone(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt;
	int rc = 0;

	if (store_begin(st) == -1)
		return -1;
	for (int i = 0; i < 2 && rc == 0; i++) {
		if ((stmt = db_prepare(st, i == 0 ? "UPDATE identities SET mail = NULL, "
		    "aliases = NULL, enabled = 0, skipped = NULL WHERE uuid = ?" :
		    "DELETE FROM identity_addresses WHERE uuid = ?")) == NULL) {
			rc = -1;
			break;
		}
		db_bind_packed(stmt, 1, uuid, 1);
		rc = db_step_done(st, stmt, "mark identity gone");
	}
	if (rc == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_address_owner(struct store *st, const char *address, const char *not_uuid,
    char **owner)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT " UUID_TEXT_SQL("i.uuid")
	    " || ' (' || coalesce(i.dn, '') || ')' FROM identity_addresses a "
	    "JOIN identities i ON i.uuid = a.uuid WHERE a.address = ? AND "
	    "a.uuid != ? LIMIT 1");
	int rc;

	*owner = NULL;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, address);
	db_bind_packed(stmt, 2, not_uuid, 1);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*owner = db_col_text(stmt, 0);
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "look up an address owner");
}

int
store_identity_each(struct store *st, int skipped_only,
    void (*fn)(void *arg, const char *uuid, const char *dn, const char *skipped),
    void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, skipped_only ?
	    "SELECT uuid, dn, skipped FROM identities WHERE skipped IS NOT NULL ORDER BY dn" :
	    "SELECT uuid, dn, skipped FROM identities ORDER BY uuid");
	int rc;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		char *uuid = db_col_packed(stmt, 0, 1);

		fn(arg, uuid, (const char *)sqlite3_column_text(stmt, 1),
		    (const char *)sqlite3_column_text(stmt, 2));
		free(uuid);
	}
	db_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list identities");
}

int
store_identity_get(struct store *st, const char *uuid, struct identity_row *out)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT uuid, dn, mail, aliases, display_name, "
	    "given_name, surname, enabled, skipped, updated_at, uid FROM identities "
	    "WHERE uuid = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	if (stmt == NULL)
		return -1;
	db_bind_packed(stmt, 1, uuid, 1);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		out->uuid = db_col_packed(stmt, 0, 1);
		out->dn = db_col_text(stmt, 1);
		out->mail = db_col_text(stmt, 2);
		out->aliases = db_col_text(stmt, 3);
		out->display_name = db_col_text(stmt, 4);
		out->given_name = db_col_text(stmt, 5);
		out->surname = db_col_text(stmt, 6);
		out->enabled = sqlite3_column_int(stmt, 7);
		out->skipped = db_col_text(stmt, 8);
		out->updated_at = sqlite3_column_int64(stmt, 9);
		out->uid = db_col_text(stmt, 10);
	}
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, "read identity");
}

void
identity_row_free(struct identity_row *id)
{
	free(id->uuid);
	free(id->dn);
	free(id->mail);
	free(id->aliases);
	free(id->display_name);
	free(id->given_name);
	free(id->surname);
	free(id->uid);
	free(id->skipped);
	memset(id, 0, sizeof(*id));
}
