/*
 * store.c - the embedded state store on SQLite.
 *
 * Owns: the database file, its schema and migrations, and every statement
 * run against it.  WAL mode with synchronous=FULL: once a call returns 0
 * outside a transaction, or store_commit() returns 0, it survives a crash.
 * Never: stores private keys or secrets, or edits the audit trail (SQLite
 * triggers refuse UPDATE and DELETE on it, so not even a bug here can).
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "store/store.h"

struct store {
	sqlite3 *db;
	char *path;
	int depth;          /* transaction nesting */
	int failed;         /* an inner step failed: the outer commit rolls back */
};

/*
 * Forward migrations: entry i takes the schema from version i to i + 1.
 * Never edit a released entry; append a new one.
 */
static const char *const migrations[] = {
	/* 0 -> 1 */
	"CREATE TABLE identities ("
	"  uuid TEXT PRIMARY KEY,"
	"  dn TEXT, mail TEXT, aliases TEXT,"
	"  display_name TEXT, given_name TEXT, surname TEXT,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  skipped TEXT,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE certificates ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL,"
	"  issuer TEXT NOT NULL,"
	"  serial TEXT NOT NULL,"
	"  fingerprint TEXT NOT NULL UNIQUE,"
	"  kind TEXT NOT NULL CHECK (kind IN ('signing','encryption','dual')),"
	"  status TEXT NOT NULL CHECK (status IN ('pending','active','superseded','revoked')),"
	"  subject TEXT NOT NULL,"
	"  addresses TEXT NOT NULL,"
	"  key_type TEXT,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  der BLOB NOT NULL,"
	"  keystore_path TEXT,"
	"  archive_path TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  UNIQUE (issuer, serial));"
	"CREATE INDEX certificates_uuid ON certificates (uuid, status);"
	"CREATE INDEX certificates_serial ON certificates (serial);"
	"CREATE TABLE certificate_addresses ("
	"  cert_id INTEGER NOT NULL REFERENCES certificates (id),"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (cert_id, address));"
	"CREATE INDEX certificate_addresses_address ON certificate_addresses (address);"
	"CREATE TABLE revocations ("
	"  cert_id INTEGER PRIMARY KEY REFERENCES certificates (id),"
	"  reason INTEGER NOT NULL,"
	"  revoked_at INTEGER NOT NULL);"
	"CREATE TABLE jobs ("
	"  uuid TEXT PRIMARY KEY,"
	"  state TEXT NOT NULL CHECK (state IN ('PLANNED','KEYS','ISSUED',"
	"    'ARCHIVED','PUBLISHED','REVOKED','DONE')),"
	"  action TEXT NOT NULL,"
	"  reason TEXT,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  next_attempt INTEGER NOT NULL DEFAULT 0,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE identity_addresses ("
	"  uuid TEXT NOT NULL,"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (uuid, address));"
	"CREATE INDEX identity_addresses_address ON identity_addresses (address);"
	"CREATE TABLE published ("
	"  uuid TEXT NOT NULL,"
	"  attribute TEXT NOT NULL,"
	"  value BLOB NOT NULL,"
	"  PRIMARY KEY (uuid, attribute, value));"
	"CREATE TABLE deliveries ("
	"  cert_id INTEGER PRIMARY KEY REFERENCES certificates (id),"
	"  uuid TEXT NOT NULL,"
	"  attempts INTEGER NOT NULL DEFAULT 0,"
	"  next_attempt INTEGER NOT NULL DEFAULT 0,"
	"  last_error TEXT,"
	"  done INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE daemon_state ("
	"  key TEXT PRIMARY KEY,"
	"  value TEXT,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE checkpoints ("
	"  source TEXT PRIMARY KEY,"
	"  cookie BLOB,"
	"  server_id TEXT,"
	"  updated_at INTEGER NOT NULL);"
	"CREATE TABLE crl_state ("
	"  id INTEGER PRIMARY KEY CHECK (id = 1),"
	"  number INTEGER NOT NULL,"
	"  this_update INTEGER NOT NULL,"
	"  next_update INTEGER NOT NULL,"
	"  pending INTEGER NOT NULL DEFAULT 0);"
	"CREATE TABLE audit ("
	"  id INTEGER PRIMARY KEY AUTOINCREMENT,"
	"  at INTEGER NOT NULL,"
	"  action TEXT NOT NULL,"
	"  uuid TEXT, serial TEXT, detail TEXT);"
	"CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;"
	"CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
	"  BEGIN SELECT RAISE(ABORT, 'the audit trail is append-only'); END;",

	/* 1: the last full copy of each Active Directory user, for merging
	 * DirSync's partial attribute sets into. */
	"CREATE TABLE directory_copies ("
	"  uuid TEXT PRIMARY KEY,"
	"  dn TEXT NOT NULL,"
	"  attrs BLOB NOT NULL,"
	"  updated_at INTEGER NOT NULL);",
};
#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static const char *const status_names[] = { "pending", "active", "superseded", "revoked" };

const char *
cert_status_name(enum cert_status status)
{
	return status_names[status];
}

static int
db_fail(struct store *st, const char *what)
{
	log_error("state store %s: %s: %s", st->path, what, sqlite3_errmsg(st->db));
	st->failed = 1;
	return -1;
}

static int
exec(struct store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		log_error("state store %s: %s", st->path, err ? err : "unknown error");
		sqlite3_free(err);
		st->failed = 1;
		return -1;
	}
	return 0;
}

static sqlite3_stmt *
prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *stmt = NULL;

	if (sqlite3_prepare_v2(st->db, sql, -1, &stmt, NULL) != SQLITE_OK) {
		db_fail(st, "prepare");
		return NULL;
	}
	return stmt;
}

/* Binds NULL for a NULL string, so optional columns stay NULL. */
static void
bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

static char *
col_text(sqlite3_stmt *stmt, int i)
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
static int
step_done(struct store *st, sqlite3_stmt *stmt, const char *what)
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

static int
read_version(struct store *st)
{
	sqlite3_stmt *stmt = prepare(st, "PRAGMA user_version");
	int version = -1;

	if (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW)
		version = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return version;
}

/*
 * Each step and its version bump commit together, so a crash mid-migration
 * leaves the old version, never half a new one.  The version is read under
 * the write lock: two processes opening a new store at once (the daemon's
 * threads, certsyncctl) must not both run the same step.
 */
static int
migrate(struct store *st)
{
	char pragma[64];
	int version;

	for (;;) {
		if (exec(st, "BEGIN IMMEDIATE") == -1)
			return -1;
		if ((version = read_version(st)) < 0)
			goto fail;
		if (version > SCHEMA_VERSION) {
			log_error("state store %s: schema version %d was written by a "
			    "newer certsync (this one knows up to %d); refusing to touch it",
			    st->path, version, SCHEMA_VERSION);
			goto fail;
		}
		if (version == SCHEMA_VERSION)
			break;
		snprintf(pragma, sizeof(pragma), "PRAGMA user_version = %d", version + 1);
		if (exec(st, migrations[version]) == -1 || exec(st, pragma) == -1)
			goto fail;
		if (exec(st, "COMMIT") == -1)
			return -1;
		log_info("state store %s: migrated to schema version %d", st->path,
		    version + 1);
	}
	if (exec(st, "COMMIT") == -1)
		return -1;
	st->failed = 0;
	return 0;
fail:
	exec(st, "ROLLBACK");
	return -1;
}

/*
 * WAL mode, set on every open.  On a new database the first switch takes
 * an exclusive lock, and SQLite answers a second process doing the same at
 * that moment with SQLITE_BUSY at once, without its busy handler (the
 * daemon starting while certsyncctl status runs, say): try again, for up
 * to the same 5 s the busy timeout allows.
 */
static int
set_wal(struct store *st)
{
	struct timespec pause = { 0, 50 * 1000 * 1000 };

	for (int i = 0; i < 100; i++) {
		int rc = sqlite3_exec(st->db, "PRAGMA journal_mode = WAL", NULL, NULL, NULL);

		if (rc == SQLITE_OK)
			return 0;
		if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED)
			break;
		nanosleep(&pause, NULL);
	}
	return exec(st, "PRAGMA journal_mode = WAL");	/* says why */
}

int
store_open(const char *path, struct store **out)
{
	struct store *st;

	*out = NULL;
	if (fs_mkdir_p_parent(path, 0700) == -1) {
		log_error("state store %s: cannot create its directory: %s", path,
		    strerror(errno));
		return -1;
	}
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup(path)) == NULL)
		fatal("out of memory");
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READWRITE |
	    SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		db_fail(st, "cannot open");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (set_wal(st) == -1 ||
	    exec(st, "PRAGMA synchronous = FULL") == -1 ||
	    exec(st, "PRAGMA foreign_keys = ON") == -1 ||
	    migrate(st) == -1)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	sqlite3_close_v2(st->db);
	free(st->path);
	free(st);
}

int
store_schema_version(struct store *st)
{
	sqlite3_stmt *stmt = prepare(st, "PRAGMA user_version");
	int v = -1;

	if (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	return v;
}

int
store_begin(struct store *st)
{
	if (st->depth++ > 0)
		return 0;
	st->failed = 0;
	if (exec(st, "BEGIN IMMEDIATE") == -1) {
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
		exec(st, "ROLLBACK");
		log_error("state store %s: transaction rolled back after an error",
		    st->path);
		return -1;
	}
	return exec(st, "COMMIT");
}

void
store_rollback(struct store *st)
{
	if (st->depth == 0)
		return;
	st->failed = 1;
	if (--st->depth == 0)
		exec(st, "ROLLBACK");
}

/* ---- certificates ------------------------------------------------------ */

static int
insert_addresses(struct store *st, int64_t id, const char *joined)
{
	char *copy, *save = NULL, *a;
	int rc = 0;

	if ((copy = strdup(joined)) == NULL)
		fatal("out of memory");
	for (a = strtok_r(copy, ", ", &save); a != NULL && rc == 0;
	    a = strtok_r(NULL, ", ", &save)) {
		sqlite3_stmt *stmt = prepare(st, "INSERT OR IGNORE INTO "
		    "certificate_addresses (cert_id, address) VALUES (?, ?)");

		if (stmt == NULL) {
			rc = -1;
			break;
		}
		sqlite3_bind_int64(stmt, 1, id);
		bind_text(stmt, 2, a);
		rc = step_done(st, stmt, "insert certificate address");
	}
	free(copy);
	return rc;
}

int
store_cert_insert(struct store *st, struct cert_row *row)
{
	sqlite3_stmt *stmt;
	int rc;

	if (store_begin(st) == -1)
		return -1;
	stmt = prepare(st, "INSERT INTO certificates (uuid, issuer, serial, "
	    "fingerprint, kind, status, subject, addresses, key_type, not_before, "
	    "not_after, der, keystore_path, archive_path, created_at) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (stmt == NULL) {
		store_rollback(st);
		return -1;
	}
	bind_text(stmt, 1, row->uuid);
	bind_text(stmt, 2, row->issuer);
	bind_text(stmt, 3, row->serial);
	bind_text(stmt, 4, row->fingerprint);
	bind_text(stmt, 5, cert_kind_name(row->kind));
	bind_text(stmt, 6, cert_status_name(row->status));
	bind_text(stmt, 7, row->subject);
	bind_text(stmt, 8, row->addresses);
	bind_text(stmt, 9, row->key_type);
	sqlite3_bind_int64(stmt, 10, row->not_before);
	sqlite3_bind_int64(stmt, 11, row->not_after);
	sqlite3_bind_blob(stmt, 12, row->der, (int)row->der_len, SQLITE_TRANSIENT);
	bind_text(stmt, 13, row->keystore_path);
	bind_text(stmt, 14, row->archive_path);
	sqlite3_bind_int64(stmt, 15, row->created_at);
	if (step_done(st, stmt, "insert certificate") == -1) {
		store_rollback(st);
		return -1;
	}
	row->id = sqlite3_last_insert_rowid(st->db);
	rc = insert_addresses(st, row->id, row->addresses);
	if (rc == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

#define CERT_COLUMNS \
	"c.id, c.uuid, c.issuer, c.serial, c.fingerprint, c.kind, c.status, " \
	"c.subject, c.addresses, c.key_type, c.not_before, c.not_after, c.der, " \
	"c.keystore_path, c.archive_path, c.created_at, r.reason, r.revoked_at"
#define CERT_FROM \
	" FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id "

static void
read_cert_row(sqlite3_stmt *stmt, struct cert_row *row)
{
	const void *blob;
	char *kind, *status;

	memset(row, 0, sizeof(*row));
	row->id = sqlite3_column_int64(stmt, 0);
	row->uuid = col_text(stmt, 1);
	row->issuer = col_text(stmt, 2);
	row->serial = col_text(stmt, 3);
	row->fingerprint = col_text(stmt, 4);
	kind = col_text(stmt, 5);
	status = col_text(stmt, 6);
	row->kind = (enum cert_kind)cert_kind_parse(kind);
	row->status = CERT_REVOKED;
	for (int i = 0; i <= CERT_REVOKED; i++)
		if (strcmp(status, status_names[i]) == 0)
			row->status = (enum cert_status)i;
	free(kind);
	free(status);
	row->subject = col_text(stmt, 7);
	row->addresses = col_text(stmt, 8);
	row->key_type = col_text(stmt, 9);
	row->not_before = sqlite3_column_int64(stmt, 10);
	row->not_after = sqlite3_column_int64(stmt, 11);
	row->der_len = (size_t)sqlite3_column_bytes(stmt, 12);
	blob = sqlite3_column_blob(stmt, 12);
	if ((row->der = malloc(row->der_len ? row->der_len : 1)) == NULL)
		fatal("out of memory");
	if (row->der_len)
		memcpy(row->der, blob, row->der_len);
	row->keystore_path = col_text(stmt, 13);
	row->archive_path = col_text(stmt, 14);
	row->created_at = sqlite3_column_int64(stmt, 15);
	row->reason = sqlite3_column_type(stmt, 16) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(stmt, 16);
	row->revoked_at = sqlite3_column_int64(stmt, 17);
}

static const char *
cert_query_sql(enum cert_query q)
{
	switch (q) {
	case CQ_ALL:
		return "SELECT " CERT_COLUMNS CERT_FROM "ORDER BY c.id";
	case CQ_UUID:
		return "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.uuid = ?1 ORDER BY c.id";
	case CQ_UUID_ACTIVE:
		return "SELECT " CERT_COLUMNS CERT_FROM
		    "WHERE c.uuid = ?1 AND c.status = 'active' ORDER BY c.id";
	case CQ_UUID_PENDING:
		return "SELECT " CERT_COLUMNS CERT_FROM
		    "WHERE c.uuid = ?1 AND c.status = 'pending' ORDER BY c.id";
	case CQ_UUID_SUPERSEDED:
		return "SELECT " CERT_COLUMNS CERT_FROM
		    "WHERE c.uuid = ?1 AND c.status = 'superseded' ORDER BY c.id";
	case CQ_SERIAL:
		return "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.serial = ?1 ORDER BY c.id";
	case CQ_ADDRESS:
		return "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.id IN (SELECT cert_id "
		    "FROM certificate_addresses WHERE address = ?1) ORDER BY c.id";
	case CQ_REVOKED:
	default:
		return "SELECT " CERT_COLUMNS CERT_FROM
		    "WHERE r.cert_id IS NOT NULL AND c.issuer = ?1 ORDER BY r.revoked_at, c.id";
	}
}

int
store_cert_query(struct store *st, enum cert_query q, const char *arg,
    struct cert_rows *out)
{
	sqlite3_stmt *stmt;
	int rc;

	out->v = NULL;
	out->n = 0;
	if ((stmt = prepare(st, cert_query_sql(q))) == NULL)
		return -1;
	if (q != CQ_ALL)
		bind_text(stmt, 1, arg);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct cert_row *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (v == NULL)
			fatal("out of memory");
		out->v = v;
		read_cert_row(stmt, &out->v[out->n++]);
	}
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE) {
		cert_rows_free(out);
		return db_fail(st, "query certificates");
	}
	return 0;
}

int
store_cert_set_status(struct store *st, int64_t id, enum cert_status status)
{
	sqlite3_stmt *stmt = prepare(st, "UPDATE certificates SET status = ? WHERE id = ?");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, cert_status_name(status));
	sqlite3_bind_int64(stmt, 2, id);
	return step_done(st, stmt, "update certificate status");
}

int
store_cert_set_paths(struct store *st, int64_t id, const char *keystore_path,
    const char *archive_path)
{
	sqlite3_stmt *stmt = prepare(st, "UPDATE certificates SET keystore_path = ?, "
	    "archive_path = ? WHERE id = ?");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, keystore_path);
	bind_text(stmt, 2, archive_path);
	sqlite3_bind_int64(stmt, 3, id);
	return step_done(st, stmt, "update certificate paths");
}

/* A revocation not yet in a written CRL: durable, so a crash cannot lose it. */
static int
mark_crl_pending(struct store *st)
{
	return exec(st, "INSERT INTO crl_state (id, number, this_update, next_update, "
	    "pending) VALUES (1, 0, 0, 0, 1) ON CONFLICT (id) DO UPDATE SET pending = 1");
}

int
store_crl_pending(struct store *st)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT pending FROM crl_state WHERE id = 1");
	int rc, pending = 0;

	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		pending = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "read the CRL state");
	return pending != 0;
}

int
store_revoke(struct store *st, int64_t cert_id, int reason, int64_t when)
{
	sqlite3_stmt *stmt;

	if (store_begin(st) == -1)
		return -1;
	/* OR IGNORE: the first revocation's reason and time stand. */
	if ((stmt = prepare(st, "INSERT OR IGNORE INTO revocations (cert_id, reason, "
	    "revoked_at) VALUES (?, ?, ?)")) == NULL) {
		store_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, cert_id);
	sqlite3_bind_int(stmt, 2, reason);
	sqlite3_bind_int64(stmt, 3, when);
	if (step_done(st, stmt, "insert revocation") == -1 ||
	    store_cert_set_status(st, cert_id, CERT_REVOKED) == -1 ||
	    mark_crl_pending(st) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

void
cert_row_free(struct cert_row *row)
{
	free(row->uuid);
	free(row->issuer);
	free(row->serial);
	free(row->fingerprint);
	free(row->subject);
	free(row->addresses);
	free(row->key_type);
	free(row->der);
	free(row->keystore_path);
	free(row->archive_path);
	memset(row, 0, sizeof(*row));
}

void
cert_rows_free(struct cert_rows *rows)
{
	for (size_t i = 0; i < rows->n; i++)
		cert_row_free(&rows->v[i]);
	free(rows->v);
	rows->v = NULL;
	rows->n = 0;
}

/* ---- CRL number -------------------------------------------------------- */

int
store_crl_next(struct store *st, int64_t this_update, int64_t next_update,
    int64_t *number)
{
	sqlite3_stmt *stmt;

	if (store_begin(st) == -1)
		return -1;
	if ((stmt = prepare(st, "INSERT INTO crl_state (id, number, this_update, "
	    "next_update) VALUES (1, 1, ?1, ?2) ON CONFLICT (id) DO UPDATE SET "
	    "number = number + 1, this_update = ?1, next_update = ?2")) == NULL) {
		store_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, this_update);
	sqlite3_bind_int64(stmt, 2, next_update);
	if (step_done(st, stmt, "advance the CRL number") == -1 ||
	    store_crl_last(st, number, NULL) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_crl_written(struct store *st, int64_t number)
{
	sqlite3_stmt *stmt = prepare(st, "UPDATE crl_state SET pending = 0 WHERE "
	    "id = 1 AND number = ?");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, number);
	return step_done(st, stmt, "mark the CRL written");
}

int
store_crl_last(struct store *st, int64_t *number, int64_t *issued_at)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT number, this_update FROM crl_state "
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
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "read the CRL number");
	return 0;
}

/* ---- identities -------------------------------------------------------- */

static int index_addresses(struct store *st, const struct identity_row *id);

int
store_identity_put(struct store *st, const struct identity_row *id)
{
	sqlite3_stmt *stmt = prepare(st, "INSERT OR REPLACE INTO identities (uuid, dn, "
	    "mail, aliases, display_name, given_name, surname, enabled, skipped, "
	    "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, id->uuid);
	bind_text(stmt, 2, id->dn);
	bind_text(stmt, 3, id->mail);
	bind_text(stmt, 4, id->aliases);
	bind_text(stmt, 5, id->display_name);
	bind_text(stmt, 6, id->given_name);
	bind_text(stmt, 7, id->surname);
	sqlite3_bind_int(stmt, 8, id->enabled);
	bind_text(stmt, 9, id->skipped);
	sqlite3_bind_int64(stmt, 10, id->updated_at ? id->updated_at : time(NULL));
	if (store_begin(st) == -1) {
		sqlite3_finalize(stmt);
		return -1;
	}
	if (step_done(st, stmt, "store identity") == -1 ||
	    index_addresses(st, id) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

/* Keeps identity_addresses in step with the identity's mail and aliases. */
static int
index_addresses(struct store *st, const struct identity_row *id)
{
	char *all = NULL, *save = NULL, *a;
	sqlite3_stmt *stmt;
	int rc = 0;

	if ((stmt = prepare(st, "DELETE FROM identity_addresses WHERE uuid = ?")) == NULL)
		return -1;
	bind_text(stmt, 1, id->uuid);
	if (step_done(st, stmt, "index identity addresses") == -1)
		return -1;
	if (asprintf(&all, "%s\n%s", id->mail ? id->mail : "",
	    id->aliases ? id->aliases : "") == -1)
		fatal("out of memory");
	for (a = strtok_r(all, "\n", &save); a != NULL && rc == 0;
	    a = strtok_r(NULL, "\n", &save)) {
		if ((stmt = prepare(st, "INSERT OR IGNORE INTO identity_addresses "
		    "(uuid, address) VALUES (?, ?)")) == NULL) {
			rc = -1;
			break;
		}
		bind_text(stmt, 1, id->uuid);
		bind_text(stmt, 2, a);
		rc = step_done(st, stmt, "index identity addresses");
	}
	free(all);
	return rc;
}

int
store_identity_skip(struct store *st, const char *uuid, const char *dn,
    const char *why)
{
	sqlite3_stmt *stmt = prepare(st, "INSERT INTO identities (uuid, dn, skipped, "
	    "updated_at) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (uuid) DO UPDATE SET "
	    "dn = ?2, skipped = ?3, updated_at = ?4");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	bind_text(stmt, 2, dn);
	bind_text(stmt, 3, why);
	sqlite3_bind_int64(stmt, 4, time(NULL));
	return step_done(st, stmt, "mark identity skipped");
}

int
store_identity_delete(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt;
	int rc = 0;

	if (store_begin(st) == -1)
		return -1;
	for (int i = 0; i < 2 && rc == 0; i++) {
		if ((stmt = prepare(st, i == 0 ? "DELETE FROM identities WHERE uuid = ?" :
		    "DELETE FROM identity_addresses WHERE uuid = ?")) == NULL) {
			rc = -1;
			break;
		}
		bind_text(stmt, 1, uuid);
		rc = step_done(st, stmt, "delete identity");
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
	sqlite3_stmt *stmt = prepare(st, "SELECT i.uuid || ' (' || coalesce(i.dn, '') "
	    "|| ')' FROM identity_addresses a JOIN identities i ON i.uuid = a.uuid "
	    "WHERE a.address = ? AND a.uuid != ? LIMIT 1");
	int rc;

	*owner = NULL;
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, address);
	bind_text(stmt, 2, not_uuid);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*owner = col_text(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "look up an address owner");
}

int
store_identity_each(struct store *st, int skipped_only,
    void (*fn)(void *arg, const char *uuid, const char *dn, const char *skipped),
    void *arg)
{
	sqlite3_stmt *stmt = prepare(st, skipped_only ?
	    "SELECT uuid, dn, skipped FROM identities WHERE skipped IS NOT NULL ORDER BY dn" :
	    "SELECT uuid, dn, skipped FROM identities ORDER BY uuid");
	int rc;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(stmt, 0),
		    (const char *)sqlite3_column_text(stmt, 1),
		    (const char *)sqlite3_column_text(stmt, 2));
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list identities");
}

int
store_identity_get(struct store *st, const char *uuid, struct identity_row *out)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT uuid, dn, mail, aliases, display_name, "
	    "given_name, surname, enabled, skipped, updated_at FROM identities "
	    "WHERE uuid = ?");
	int rc;

	memset(out, 0, sizeof(*out));
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		out->uuid = col_text(stmt, 0);
		out->dn = col_text(stmt, 1);
		out->mail = col_text(stmt, 2);
		out->aliases = col_text(stmt, 3);
		out->display_name = col_text(stmt, 4);
		out->given_name = col_text(stmt, 5);
		out->surname = col_text(stmt, 6);
		out->enabled = sqlite3_column_int(stmt, 7);
		out->skipped = col_text(stmt, 8);
		out->updated_at = sqlite3_column_int64(stmt, 9);
	}
	sqlite3_finalize(stmt);
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
	free(id->skipped);
	memset(id, 0, sizeof(*id));
}

/* ---- jobs -------------------------------------------------------------- */

int
store_job_put(struct store *st, const struct job_row *job)
{
	sqlite3_stmt *stmt = prepare(st, "INSERT OR REPLACE INTO jobs (uuid, state, "
	    "action, reason, attempts, last_error, updated_at, next_attempt) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, job->uuid);
	bind_text(stmt, 2, job->state);
	bind_text(stmt, 3, job->action);
	bind_text(stmt, 4, job->reason);
	sqlite3_bind_int(stmt, 5, job->attempts);
	bind_text(stmt, 6, job->last_error);
	sqlite3_bind_int64(stmt, 7, job->updated_at ? job->updated_at : time(NULL));
	sqlite3_bind_int64(stmt, 8, job->next_attempt);
	return step_done(st, stmt, "store job");
}

#define JOB_COLUMNS \
	"uuid, state, action, reason, attempts, last_error, updated_at, next_attempt"

/* One row of JOB_COLUMNS into out; finalizes stmt.  1 found, 0 not, -1. */
static int
read_job(struct store *st, sqlite3_stmt *stmt, struct job_row *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		out->uuid = col_text(stmt, 0);
		out->state = col_text(stmt, 1);
		out->action = col_text(stmt, 2);
		out->reason = col_text(stmt, 3);
		out->attempts = sqlite3_column_int(stmt, 4);
		out->last_error = col_text(stmt, 5);
		out->updated_at = sqlite3_column_int64(stmt, 6);
		out->next_attempt = sqlite3_column_int64(stmt, 7);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, "read job");
}

int
store_job_get(struct store *st, const char *uuid, struct job_row *out)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE uuid = ?");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	return read_job(st, stmt, out);
}

int
store_job_postpone(struct store *st, const char *uuid, int attempts,
    int64_t next_attempt, const char *error)
{
	sqlite3_stmt *stmt = prepare(st, "UPDATE jobs SET attempts = ?, "
	    "next_attempt = ?, last_error = ? WHERE uuid = ?");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, attempts);
	sqlite3_bind_int64(stmt, 2, next_attempt);
	bind_text(stmt, 3, error);
	bind_text(stmt, 4, uuid);
	return step_done(st, stmt, "postpone job");
}

int
store_identity_gone(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt;
	int rc = 0;

	if (store_begin(st) == -1)
		return -1;
	for (int i = 0; i < 2 && rc == 0; i++) {
		if ((stmt = prepare(st, i == 0 ? "UPDATE identities SET mail = NULL, "
		    "aliases = NULL, enabled = 0, skipped = NULL WHERE uuid = ?" :
		    "DELETE FROM identity_addresses WHERE uuid = ?")) == NULL) {
			rc = -1;
			break;
		}
		bind_text(stmt, 1, uuid);
		rc = step_done(st, stmt, "mark identity gone");
	}
	if (rc == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_job_next(struct store *st, int64_t now, struct job_row *out)
{
	/* REVOKED jobs wait for the batch's CRL, not for the runner. */
	sqlite3_stmt *stmt = prepare(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE "
	    "state != 'REVOKED' AND next_attempt <= ? ORDER BY next_attempt, "
	    "updated_at LIMIT 1");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	return read_job(st, stmt, out);
}

int
store_job_next_in(struct store *st, const char *state, struct job_row *out)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE "
	    "state = ? ORDER BY updated_at LIMIT 1");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, state);
	return read_job(st, stmt, out);
}

int
store_job_next_due(struct store *st, int64_t *when)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT min(next_attempt) FROM jobs "
	    "WHERE state != 'REVOKED'");
	int rc;

	*when = 0;
	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW &&
	    sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
		*when = sqlite3_column_int64(stmt, 0);
		sqlite3_finalize(stmt);
		return 1;
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(st, "read job times");
}

int
store_job_counts(struct store *st, void (*fn)(void *, const char *, int), void *arg)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT state, count(*) FROM jobs GROUP BY state");
	int rc;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(stmt, 0),
		    sqlite3_column_int(stmt, 1));
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "count jobs");
}

int
store_job_delete(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt = prepare(st, "DELETE FROM jobs WHERE uuid = ?");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	return step_done(st, stmt, "delete job");
}

void
job_row_free(struct job_row *job)
{
	free(job->uuid);
	free(job->state);
	free(job->action);
	free(job->reason);
	free(job->last_error);
	memset(job, 0, sizeof(*job));
}

/* ---- checkpoints ------------------------------------------------------- */

int
store_checkpoint_put(struct store *st, const char *source, const void *cookie,
    size_t len, const char *server_id)
{
	sqlite3_stmt *stmt = prepare(st, "INSERT OR REPLACE INTO checkpoints (source, "
	    "cookie, server_id, updated_at) VALUES (?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, source);
	if (cookie == NULL)
		sqlite3_bind_null(stmt, 2);
	else
		sqlite3_bind_blob(stmt, 2, cookie, (int)len, SQLITE_TRANSIENT);
	bind_text(stmt, 3, server_id);
	sqlite3_bind_int64(stmt, 4, time(NULL));
	return step_done(st, stmt, "store checkpoint");
}

int
store_checkpoint_get(struct store *st, const char *source, void **cookie,
    size_t *len, char **server_id)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT cookie, server_id FROM checkpoints "
	    "WHERE source = ?");
	int rc;

	*cookie = NULL;
	*len = 0;
	if (server_id != NULL)
		*server_id = NULL;
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, source);
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
			*server_id = col_text(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, "read checkpoint");
}

int
store_copy_put(struct store *st, const char *uuid, const char *dn,
    const void *attrs, size_t len)
{
	sqlite3_stmt *stmt = prepare(st, "INSERT OR REPLACE INTO directory_copies "
	    "(uuid, dn, attrs, updated_at) VALUES (?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	bind_text(stmt, 2, dn);
	sqlite3_bind_blob(stmt, 3, attrs, (int)len, SQLITE_TRANSIENT);
	sqlite3_bind_int64(stmt, 4, time(NULL));
	return step_done(st, stmt, "store directory copy");
}

int
store_copy_get(struct store *st, const char *uuid, char **dn, void **attrs,
    size_t *len)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT dn, attrs FROM directory_copies "
	    "WHERE uuid = ?");
	int rc;

	*dn = NULL;
	*attrs = NULL;
	*len = 0;
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		int n = sqlite3_column_bytes(stmt, 1);
		const void *blob = sqlite3_column_blob(stmt, 1);

		*dn = col_text(stmt, 0);
		if ((*attrs = malloc(n > 0 ? (size_t)n : 1)) == NULL)
			fatal("out of memory");
		if (blob != NULL)
			memcpy(*attrs, blob, (size_t)n);
		*len = (size_t)n;
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, "read directory copy");
}

int
store_copy_delete(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt = prepare(st, uuid != NULL ?
	    "DELETE FROM directory_copies WHERE uuid = ?" :
	    "DELETE FROM directory_copies");

	if (stmt == NULL)
		return -1;
	if (uuid != NULL)
		bind_text(stmt, 1, uuid);
	return step_done(st, stmt, "delete directory copy");
}

int
store_checkpoint_age(struct store *st, const char *source, int64_t *updated_at)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT updated_at FROM checkpoints WHERE "
	    "source = ? AND cookie IS NOT NULL");
	int rc;

	*updated_at = 0;
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, source);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		*updated_at = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "read checkpoint");
}

/* ---- published values -------------------------------------------------- */

int
store_published(struct store *st, int add, const char *uuid, const char *attr,
    const void *value, size_t len)
{
	sqlite3_stmt *stmt = prepare(st, add ?
	    "INSERT OR IGNORE INTO published (uuid, attribute, value) VALUES (?, ?, ?)" :
	    "DELETE FROM published WHERE uuid = ? AND attribute = ? AND value = ?");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	bind_text(stmt, 2, attr);
	sqlite3_bind_blob(stmt, 3, value, (int)len, SQLITE_TRANSIENT);
	return step_done(st, stmt, "record a published value");
}

int
store_published_has(struct store *st, const char *uuid, const char *attr,
    const void *value, size_t len)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT 1 FROM published WHERE uuid = ? "
	    "AND attribute = ? AND value = ?");
	int rc;

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	bind_text(stmt, 2, attr);
	sqlite3_bind_blob(stmt, 3, value, (int)len, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "look up a published value");
}

int
store_published_each(struct store *st, const char *uuid, const char *attr,
    int (*fn)(void *arg, const void *value, size_t len), void *arg)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT value FROM published WHERE uuid = ? "
	    "AND attribute = ?");
	int rc;

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	bind_text(stmt, 2, attr);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		if (fn(arg, sqlite3_column_blob(stmt, 0),
		    (size_t)sqlite3_column_bytes(stmt, 0)) == -1)
			break;
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return -1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list published values");
}

/* ---- deliveries ------------------------------------------------------- */

int
store_delivery_queue(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt = prepare(st, "INSERT OR IGNORE INTO deliveries (cert_id, "
	    "uuid) SELECT id, uuid FROM certificates WHERE uuid = ? AND status = "
	    "'active' AND keystore_path IS NOT NULL");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	return step_done(st, stmt, "queue a delivery");
}

int
store_delivery_due(struct store *st, int64_t now, size_t max,
    struct delivery_row *rows, size_t *n)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT d.cert_id, d.uuid, i.dn, c.serial, "
	    "c.kind, c.addresses, c.keystore_path, d.attempts FROM deliveries d "
	    "JOIN certificates c ON c.id = d.cert_id LEFT JOIN identities i ON "
	    "i.uuid = d.uuid WHERE d.done = 0 AND d.next_attempt <= ? AND "
	    "c.keystore_path IS NOT NULL ORDER BY d.next_attempt, d.cert_id LIMIT ?");
	int rc;

	*n = 0;
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct delivery_row *r = &rows[(*n)++];

		r->cert_id = sqlite3_column_int64(stmt, 0);
		r->uuid = col_text(stmt, 1);
		r->dn = col_text(stmt, 2);
		r->serial = col_text(stmt, 3);
		r->kind = col_text(stmt, 4);
		r->addresses = col_text(stmt, 5);
		r->keystore_path = col_text(stmt, 6);
		r->attempts = sqlite3_column_int(stmt, 7);
	}
	sqlite3_finalize(stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list deliveries");
}

int
store_delivery_result(struct store *st, int64_t cert_id, int ok, const char *err,
    int64_t next_attempt)
{
	sqlite3_stmt *stmt = prepare(st, "UPDATE deliveries SET done = ?, attempts = "
	    "attempts + 1, last_error = ?, next_attempt = ? WHERE cert_id = ?");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, ok);
	bind_text(stmt, 2, err);
	sqlite3_bind_int64(stmt, 3, next_attempt);
	sqlite3_bind_int64(stmt, 4, cert_id);
	return step_done(st, stmt, "record a delivery");
}

int
store_delivery_next(struct store *st, int64_t *when)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT min(next_attempt) FROM deliveries "
	    "WHERE done = 0");
	int rc;

	*when = 0;
	if (stmt == NULL)
		return -1;
	rc = sqlite3_step(stmt);
	if (rc == SQLITE_ROW && sqlite3_column_type(stmt, 0) != SQLITE_NULL)
		*when = sqlite3_column_int64(stmt, 0);
	sqlite3_finalize(stmt);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return db_fail(st, "read delivery times");
	return *when ? 1 : 0;
}

int
store_delivery_counts(struct store *st, int *pending, int *failing)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT count(*), count(last_error) FROM "
	    "deliveries WHERE done = 0");
	int rc;

	*pending = *failing = 0;
	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*pending = sqlite3_column_int(stmt, 0);
		*failing = sqlite3_column_int(stmt, 1);
	}
	sqlite3_finalize(stmt);
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

/* ---- daemon state ------------------------------------------------------ */

int
store_state_set(struct store *st, const char *key, const char *value)
{
	sqlite3_stmt *stmt = prepare(st, "INSERT OR REPLACE INTO daemon_state (key, "
	    "value, updated_at) VALUES (?, ?, ?)");

	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, key);
	bind_text(stmt, 2, value);
	sqlite3_bind_int64(stmt, 3, time(NULL));
	return step_done(st, stmt, "record daemon state");
}

int
store_state_get(struct store *st, const char *key, char **value, int64_t *updated_at)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT value, updated_at FROM daemon_state "
	    "WHERE key = ?");
	int rc;

	*value = NULL;
	if (updated_at != NULL)
		*updated_at = 0;
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, key);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*value = col_text(stmt, 0);
		if (updated_at != NULL)
			*updated_at = sqlite3_column_int64(stmt, 1);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "read daemon state");
}

/* ---- audit ------------------------------------------------------------- */

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
	if ((stmt = prepare(st, "INSERT INTO audit (at, action, uuid, serial, detail) "
	    "VALUES (?, ?, ?, ?, ?)")) == NULL) {
		free(detail);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, time(NULL));
	bind_text(stmt, 2, action);
	bind_text(stmt, 3, uuid);
	bind_text(stmt, 4, serial);
	bind_text(stmt, 5, detail);
	rc = step_done(st, stmt, "append to the audit trail");
	free(detail);
	return rc;
}

int
store_audit_each(struct store *st, int limit,
    void (*fn)(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail), void *arg)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT at, action, uuid, serial, detail FROM "
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
	sqlite3_finalize(stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "read the audit trail");
	return 0;
}

/* No index serves action = 'sign': a full pass over the trail, which runs
 * at the runner's start and when a job is resumed in KEYS, not per job. */
int
store_unrecorded(struct store *st, const char *uuid, struct unrecorded_rows *out)
{
	sqlite3_stmt *stmt = prepare(st, "SELECT a.uuid, a.serial, a.detail, a.at "
	    "FROM audit a WHERE a.action = 'sign' AND a.uuid IS NOT NULL AND "
	    "a.serial IS NOT NULL AND (?1 IS NULL OR a.uuid = ?1) AND NOT EXISTS "
	    "(SELECT 1 FROM certificates c WHERE c.serial = a.serial) ORDER BY a.id");
	int rc;

	out->v = NULL;
	out->n = 0;
	if (stmt == NULL)
		return -1;
	bind_text(stmt, 1, uuid);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct unrecorded_row *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (v == NULL)
			fatal("out of memory");
		out->v = v;
		v = &out->v[out->n++];
		v->uuid = col_text(stmt, 0);
		v->serial = col_text(stmt, 1);
		v->detail = col_text(stmt, 2);
		v->signed_at = sqlite3_column_int64(stmt, 3);
	}
	sqlite3_finalize(stmt);
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
