/*
 * schema.c - opening the database, its schema and forward migrations.
 *
 * Owns: the file (its directory made mode 0700; WAL mode with
 * synchronous=FULL: once a call returns 0 outside a transaction, or
 * store_commit() returns 0, it survives a crash), the tables, the version
 * in PRAGMA user_version, and taking an older database forward, one step
 * per transaction.  The audit trail's triggers are here: SQLite itself
 * refuses UPDATE and DELETE on it, so not even a bug elsewhere can edit it.
 * Never: stores private keys or secrets (they live in PKCS#12 files the
 * store only indexes), edits a released migration (a new one is
 * appended), or touches a database written by a newer certsync.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sqlite3.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "store/internal.h"

/* Migration 8's spelling of KEY_PATH_SQL (internal.h), kept as released:
 * the serial was text then. */
#define KEY_PATH_SQL_8(dir, file) \
	"((SELECT k.path FROM key_dirs k WHERE k.id = " dir ") || " \
	"coalesce(" file ", c.kind || '-' || c.serial || '.p12'))"

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

	/* 2: the userSMIMECertificate value made when a user's certificates
	 * were issued (signed by the new signing key while it was in hand),
	 * kept with the signing (or dual) certificate, so that publishing and
	 * republishing write it without opening the keystore. */
	"CREATE TABLE smime_values ("
	"  cert_id INTEGER PRIMARY KEY REFERENCES certificates (id),"
	"  value BLOB NOT NULL);",

	/* 3: a job whose failure retrying cannot mend is parked (with the time,
	 * its reason in last_error) instead of retried; and the uid, which the
	 * subject template may use, is kept so a job issues what the identity
	 * stage checked. */
	("ALTER TABLE jobs ADD COLUMN parked_at INTEGER;"
	"ALTER TABLE identities ADD COLUMN uid TEXT;"),

	/* 4: how each archive file is protected, and for recovery agents the
	 * bundle that wraps its password (also beside the file).  Every file
	 * archived before this was under the archive password file. */
	"ALTER TABLE certificates ADD COLUMN archive_protection TEXT"
	"  CHECK (archive_protection IN ('password-file','recovery-agents'));"
	"ALTER TABLE certificates ADD COLUMN archive_bundle BLOB;"
	"UPDATE certificates SET archive_protection = 'password-file'"
	"  WHERE archive_path IS NOT NULL;",

	/* 5: the safety catch: a pass's departures staged until the pass is
	 * judged, or held until an admin releases them or the directory shows
	 * the users again (held); and the departures that went through, for
	 * the sliding window.  (A certificate on hold needs no column: it is
	 * what the CRL says it is, a revocation with reason certificateHold.) */
	("CREATE TABLE held ("
	"  uuid TEXT PRIMARY KEY,"
	"  dn TEXT,"
	"  action TEXT NOT NULL,"
	"  reason TEXT,"
	"  why TEXT NOT NULL,"
	"  staged INTEGER NOT NULL DEFAULT 1,"
	"  held_at INTEGER,"
	"  pass TEXT);"
	"CREATE TABLE departures ("
	"  uuid TEXT NOT NULL,"
	"  at INTEGER NOT NULL);"
	"CREATE INDEX departures_at ON departures (at);"),

	/* 6: state per user (issue 11: 22 KiB a user in state.db, 6.7 after).
	 * Published values recorded by their SHA-256 digest, not their
	 * bytes: the certificates' DER and the S/MIME values are kept once
	 * (certificates, smime_values), and the whole value in the table and
	 * again in its primary key was 12 KiB a user.  WITHOUT ROWID: the key
	 * is the row.  certsync_sha256() is published.c's, registered on every
	 * connection before migrating. */
	("CREATE TABLE published_digests ("
	"  uuid TEXT NOT NULL,"
	"  attribute TEXT NOT NULL,"
	"  digest BLOB NOT NULL,"
	"  PRIMARY KEY (uuid, attribute, digest)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO published_digests (uuid, attribute, digest)"
	"  SELECT uuid, attribute, certsync_sha256(value) FROM published;"
	"DROP TABLE published;"
	"ALTER TABLE published_digests RENAME TO published;"
	/* And an S/MIME value stored without the certificates it carries
	 * (smime.c): the user's are certificates rows, the CA certificate
	 * is kept once in smime_certs; parts says what fills each hole.
	 * Values stored before stay whole (parts NULL). */
	"ALTER TABLE smime_values ADD COLUMN parts TEXT;"
	"CREATE TABLE smime_certs ("
	"  id INTEGER PRIMARY KEY,"
	"  digest BLOB NOT NULL UNIQUE,"
	"  der BLOB NOT NULL);"
	/* And the two address tables WITHOUT ROWID: their primary key is
	 * the row, so it is not stored a second time in an index. */
	"CREATE TABLE certificate_addresses_v7 ("
	"  cert_id INTEGER NOT NULL REFERENCES certificates (id),"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (cert_id, address)) WITHOUT ROWID;"
	"INSERT INTO certificate_addresses_v7 (cert_id, address)"
	"  SELECT cert_id, address FROM certificate_addresses"
	"  WHERE cert_id IN (SELECT id FROM certificates);"	/* none other */
	"DROP TABLE certificate_addresses;"
	"ALTER TABLE certificate_addresses_v7 RENAME TO certificate_addresses;"
	"CREATE INDEX certificate_addresses_address ON certificate_addresses (address);"
	"CREATE TABLE identity_addresses_v7 ("
	"  uuid TEXT NOT NULL,"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (uuid, address)) WITHOUT ROWID;"
	"INSERT INTO identity_addresses_v7 (uuid, address)"
	"  SELECT uuid, address FROM identity_addresses;"
	"DROP TABLE identity_addresses;"
	"ALTER TABLE identity_addresses_v7 RENAME TO identity_addresses;"
	"CREATE INDEX identity_addresses_address ON identity_addresses (address);"),

	/* 7: state per user again (issue 11: 5.7 KiB a user in state.db, 4.4
	 * after, bench-scale at 2,000 users).
	 * Each certificate row was a third bigger than its DER; now:
	 * - fingerprint NULL when it is the SHA-256 of der (every row that
	 *   has its DER; certs.c computes it on reading), and no index on it:
	 *   (serial, issuer) is what makes a certificate unique;
	 * - the issuer's name kept once (issuers), a row says which by id;
	 * - the unique index led by serial, so it serves the lookups by
	 *   serial and certificates_serial goes;
	 * - each key file as its directory (key_dirs, kept once) and its name,
	 *   NULL when the name is the keystore's own, <kind>-<serial>.p12: the
	 *   same absolute path reads back (KEY_PATH_SQL in internal.h), for
	 *   old rows as for new ones.
	 * Run with foreign keys off (store_open turns them on after), as
	 * SQLite's way to rebuild a table others refer to asks; ids are kept,
	 * so every reference still holds. */
	("CREATE TABLE key_dirs ("
	"  id INTEGER PRIMARY KEY,"
	"  path TEXT NOT NULL UNIQUE);"
	"CREATE TABLE issuers ("
	"  id INTEGER PRIMARY KEY,"
	"  dn TEXT NOT NULL UNIQUE);"
	"INSERT OR IGNORE INTO issuers (dn) SELECT issuer FROM certificates ORDER BY id;"
	"INSERT OR IGNORE INTO key_dirs (path)"
	"  SELECT rtrim(keystore_path, replace(keystore_path, '/', ''))"
	"  FROM certificates WHERE keystore_path IS NOT NULL"
	"  UNION SELECT rtrim(archive_path, replace(archive_path, '/', ''))"
	"  FROM certificates WHERE archive_path IS NOT NULL;"
	"CREATE TABLE certificates_v8 ("
	"  id INTEGER PRIMARY KEY,"
	"  uuid TEXT NOT NULL,"
	"  issuer_id INTEGER NOT NULL REFERENCES issuers (id),"
	"  serial TEXT NOT NULL,"
	"  fingerprint TEXT,"
	"  kind TEXT NOT NULL CHECK (kind IN ('signing','encryption','dual')),"
	"  status TEXT NOT NULL CHECK (status IN ('pending','active','superseded','revoked')),"
	"  subject TEXT NOT NULL,"
	"  addresses TEXT NOT NULL,"
	"  key_type TEXT,"
	"  not_before INTEGER NOT NULL,"
	"  not_after INTEGER NOT NULL,"
	"  der BLOB NOT NULL,"
	"  keystore_dir INTEGER REFERENCES key_dirs (id),"
	"  keystore_file TEXT,"
	"  archive_dir INTEGER REFERENCES key_dirs (id),"
	"  archive_file TEXT,"
	"  created_at INTEGER NOT NULL,"
	"  archive_protection TEXT"
	"    CHECK (archive_protection IN ('password-file','recovery-agents')),"
	"  archive_bundle BLOB,"
	"  UNIQUE (serial, issuer_id));"
	"INSERT INTO certificates_v8 (id, uuid, issuer_id, serial, fingerprint, kind,"
	"  status, subject, addresses, key_type, not_before, not_after, der,"
	"  keystore_dir, keystore_file, archive_dir, archive_file, created_at,"
	"  archive_protection, archive_bundle)"
	"  SELECT id, uuid, (SELECT i.id FROM issuers i WHERE i.dn = issuer), serial,"
	"  CASE WHEN length(der) > 0 AND fingerprint = hex(certsync_sha256(der))"
	"    THEN NULL ELSE fingerprint END,"
	"  kind, status, subject, addresses, key_type, not_before, not_after, der,"
	"  (SELECT k.id FROM key_dirs k WHERE"
	"    k.path = rtrim(keystore_path, replace(keystore_path, '/', ''))),"
	"  nullif(substr(keystore_path, length(rtrim(keystore_path,"
	"    replace(keystore_path, '/', ''))) + 1), kind || '-' || serial || '.p12'),"
	"  (SELECT k.id FROM key_dirs k WHERE"
	"    k.path = rtrim(archive_path, replace(archive_path, '/', ''))),"
	"  nullif(substr(archive_path, length(rtrim(archive_path,"
	"    replace(archive_path, '/', ''))) + 1), kind || '-' || serial || '.p12'),"
	"  created_at, archive_protection, archive_bundle FROM certificates;"
	"DROP TABLE certificates;"
	"ALTER TABLE certificates_v8 RENAME TO certificates;"
	"CREATE INDEX certificates_uuid ON certificates (uuid, status);"
	/* And the certificates' addresses keyed by address: the key serves
	 * `certsyncctl show EMAIL`, and nothing looks them up by certificate
	 * (a row is never deleted), so no second index. */
	"CREATE TABLE certificate_addresses_v8 ("
	"  cert_id INTEGER NOT NULL REFERENCES certificates (id),"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (address, cert_id)) WITHOUT ROWID;"
	"INSERT INTO certificate_addresses_v8 (cert_id, address)"
	"  SELECT cert_id, address FROM certificate_addresses;"
	"DROP TABLE certificate_addresses;"
	"ALTER TABLE certificate_addresses_v8 RENAME TO certificate_addresses;"
	/* And identities WITHOUT ROWID: its key is the row, not stored again
	 * in an index. */
	"CREATE TABLE identities_v8 ("
	"  uuid TEXT PRIMARY KEY,"
	"  dn TEXT, mail TEXT, aliases TEXT,"
	"  display_name TEXT, given_name TEXT, surname TEXT,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  skipped TEXT,"
	"  updated_at INTEGER NOT NULL,"
	"  uid TEXT) WITHOUT ROWID;"
	"INSERT INTO identities_v8 (uuid, dn, mail, aliases, display_name, given_name,"
	"  surname, enabled, skipped, updated_at, uid)"
	"  SELECT uuid, dn, mail, aliases, display_name, given_name,"
	"  surname, enabled, skipped, updated_at, uid FROM identities;"
	"DROP TABLE identities;"
	"ALTER TABLE identities_v8 RENAME TO identities;"
	/* And each key file's whole path, for whoever reads the file with
	 * sqlite3 as before. */
	"CREATE VIEW certificate_files AS SELECT c.id, c.serial,"
	"  " KEY_PATH_SQL_8("c.keystore_dir", "c.keystore_file") " AS keystore_path,"
	"  " KEY_PATH_SQL_8("c.archive_dir", "c.archive_file") " AS archive_path"
	"  FROM certificates c;"
	/* And new audit records keep a usual uuid and serial as bytes
	 * (audit.c); audit_text reads every record as text, as it was
	 * written, and is what the store reads the trail through. */
	"CREATE VIEW audit_text AS SELECT id, at, action,"
	"  CASE WHEN typeof(uuid) = 'blob' AND length(uuid) = 16 THEN"
	"    lower(substr(hex(uuid), 1, 8) || '-' || substr(hex(uuid), 9, 4) || '-' ||"
	"    substr(hex(uuid), 13, 4) || '-' || substr(hex(uuid), 17, 4) || '-' ||"
	"    substr(hex(uuid), 21))"
	"  WHEN typeof(uuid) = 'blob' THEN hex(uuid) ELSE uuid END AS uuid,"
	"  CASE WHEN typeof(serial) = 'blob' THEN hex(serial) ELSE serial END AS serial,"
	"  detail FROM audit;"),

	/* 9: state per user, a third time (issue 11: 4.4 KiB a user in
	 * state.db, bench-scale at 2,000 users).
	 * - A certificate's uuid and serial kept as bytes when their text is
	 *   the usual spelling (internal.h's db_pack(): 16 and 20 bytes for 36
	 *   and 40 characters, in the row and again in each index), as the
	 *   audit's since 8; certificates_text reads them as text.
	 * - published: the uuid so too, and the attribute a number for the
	 *   three names certsync writes (1 userCertificate;binary,
	 *   2 userSMIMECertificate, 3 userCertificate; others stay text);
	 *   published_text reads them back.
	 * - identities' and identity_addresses' uuid as bytes too (jobs and
	 *   deliveries keep text: few rows, and joined through certsync_pack).
	 * - A "sign" record's closing "(fingerprint <64 hex digits>)" kept as
	 *   the digest's 32 bytes (audit.c), and the actions certsync writes
	 *   as numbers (audit.c's list, which this view's must match);
	 *   audit_text puts both back.
	 * certificates_uuid keeps the status: without it a query by uuid and
	 * status reads the rows themselves, and a full comparison at 10,000
	 * users took a quarter longer (rows out of SQLite's page cache).
	 * The views that name these columns are made again. */
	("DROP VIEW certificate_files;"
	"DROP VIEW audit_text;"
	"UPDATE certificates SET uuid = certsync_pack(uuid, 1),"
	"  serial = certsync_pack(serial, 0);"
	"CREATE VIEW certificate_files AS SELECT c.id,"
	"  " SERIAL_TEXT_SQL("c.serial") " AS serial,"
	"  " KEY_PATH_SQL("c.keystore_dir", "c.keystore_file") " AS keystore_path,"
	"  " KEY_PATH_SQL("c.archive_dir", "c.archive_file") " AS archive_path"
	"  FROM certificates c;"
	"CREATE VIEW certificates_text AS SELECT c.id,"
	"  " UUID_TEXT_SQL("c.uuid") " AS uuid,"
	"  (SELECT i.dn FROM issuers i WHERE i.id = c.issuer_id) AS issuer,"
	"  " SERIAL_TEXT_SQL("c.serial") " AS serial,"
	"  c.fingerprint,"	/* NULL: the SHA-256 of der */
	"  c.kind, c.status, c.subject, c.addresses, c.key_type, c.not_before,"
	"  c.not_after, c.der,"
	"  " KEY_PATH_SQL("c.keystore_dir", "c.keystore_file") " AS keystore_path,"
	"  " KEY_PATH_SQL("c.archive_dir", "c.archive_file") " AS archive_path,"
	"  c.created_at, c.archive_protection, c.archive_bundle"
	"  FROM certificates c;"
	"CREATE TABLE published_v9 ("
	"  uuid NOT NULL,"
	"  attribute NOT NULL,"
	"  digest BLOB NOT NULL,"
	"  PRIMARY KEY (uuid, attribute, digest)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO published_v9 (uuid, attribute, digest)"
	"  SELECT certsync_pack(uuid, 1), CASE attribute"
	"  WHEN 'userCertificate;binary' THEN 1 WHEN 'userSMIMECertificate' THEN 2"
	"  WHEN 'userCertificate' THEN 3 ELSE attribute END, digest FROM published;"
	"DROP TABLE published;"
	"ALTER TABLE published_v9 RENAME TO published;"
	"CREATE VIEW published_text AS SELECT " UUID_TEXT_SQL("uuid") " AS uuid,"
	"  CASE attribute WHEN 1 THEN 'userCertificate;binary'"
	"  WHEN 2 THEN 'userSMIMECertificate' WHEN 3 THEN 'userCertificate'"
	"  ELSE attribute END AS attribute, hex(digest) AS digest FROM published;"
	/* identities and identity_addresses: the uuid so too (WITHOUT
	 * ROWID, rebuilt); identities_text reads it back. */
	"CREATE TABLE identities_v9 ("
	"  uuid TEXT PRIMARY KEY,"
	"  dn TEXT, mail TEXT, aliases TEXT,"
	"  display_name TEXT, given_name TEXT, surname TEXT,"
	"  enabled INTEGER NOT NULL DEFAULT 1,"
	"  skipped TEXT,"
	"  updated_at INTEGER NOT NULL,"
	"  uid TEXT) WITHOUT ROWID;"
	"INSERT INTO identities_v9 (uuid, dn, mail, aliases, display_name, given_name,"
	"  surname, enabled, skipped, updated_at, uid)"
	"  SELECT certsync_pack(uuid, 1), dn, mail, aliases, display_name, given_name,"
	"  surname, enabled, skipped, updated_at, uid FROM identities;"
	"DROP TABLE identities;"
	"ALTER TABLE identities_v9 RENAME TO identities;"
	"CREATE TABLE identity_addresses_v9 ("
	"  uuid TEXT NOT NULL,"
	"  address TEXT NOT NULL COLLATE NOCASE,"
	"  PRIMARY KEY (uuid, address)) WITHOUT ROWID;"
	"INSERT INTO identity_addresses_v9 (uuid, address)"
	"  SELECT certsync_pack(uuid, 1), address FROM identity_addresses;"
	"DROP TABLE identity_addresses;"
	"ALTER TABLE identity_addresses_v9 RENAME TO identity_addresses;"
	"CREATE INDEX identity_addresses_address ON identity_addresses (address);"
	"CREATE VIEW identities_text AS SELECT " UUID_TEXT_SQL("uuid") " AS uuid,"
	"  dn, mail, aliases, display_name, given_name, surname, enabled, skipped,"
	"  updated_at, uid FROM identities;"
	"ALTER TABLE audit ADD COLUMN digest BLOB;"
	"CREATE VIEW audit_text AS SELECT id, at,"
	"  CASE action WHEN '1' THEN 'crl' WHEN '2' THEN 'plan' WHEN '3' THEN 'sign'"
	"  WHEN '4' THEN 'issue' WHEN '5' THEN 'publish' WHEN '6' THEN 'done'"
	"  WHEN '7' THEN 'revoke' WHEN '8' THEN 'archive' WHEN '9' THEN 'unpublish'"
	"  WHEN '10' THEN 'republish' WHEN '11' THEN 'recover' WHEN '12' THEN 'deliver'"
	"  WHEN '13' THEN 'hold' WHEN '14' THEN 'unhold' WHEN '15' THEN 'lift'"
	"  WHEN '16' THEN 'held' WHEN '17' THEN 'release' WHEN '18' THEN 'retry'"
	"  ELSE action END AS action,"
	"  " UUID_TEXT_SQL("uuid") " AS uuid,"
	"  " SERIAL_TEXT_SQL("serial") " AS serial,"
	"  CASE WHEN digest IS NULL THEN detail"
	"  ELSE detail || ' (fingerprint ' || hex(digest) || ')' END AS detail"
	"  FROM audit;"),
};

#define SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

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
		if (db_exec(st, "BEGIN IMMEDIATE") == -1)
			return -1;
		if ((version = store_schema_version(st)) < 0)
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
		if (db_exec(st, migrations[version]) == -1 || db_exec(st, pragma) == -1)
			goto fail;
		if (db_exec(st, "COMMIT") == -1)
			return -1;
		log_info("state store %s: migrated to schema version %d", st->path,
		    version + 1);
	}
	if (db_exec(st, "COMMIT") == -1)
		return -1;
	st->failed = 0;
	return 0;
fail:
	db_exec(st, "ROLLBACK");
	return -1;
}

int
store_schema_version(struct store *st)
{
	sqlite3_stmt *stmt = db_prepare(st, "PRAGMA user_version");
	int v = -1;

	if (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW)
		v = sqlite3_column_int(stmt, 0);
	db_release(st, stmt);
	return v;
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
	return db_exec(st, "PRAGMA journal_mode = WAL");	/* says why */
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
	/* Foreign keys on after migrating: a step that rebuilds a table
	 * others refer to (8's certificates) runs with them off, as SQLite
	 * asks, keeping every id. */
	if (set_wal(st) == -1 ||
	    db_exec(st, "PRAGMA synchronous = FULL") == -1 ||
	    db_register_functions(st) == -1 ||
	    migrate(st) == -1 ||
	    db_exec(st, "PRAGMA foreign_keys = ON") == -1)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

/* A read-only store is only read if its schema is exactly this one's. */
static int
check_version_ro(struct store *st)
{
	int version = store_schema_version(st);

	if (version < 0)
		return db_fail(st, "read the schema version");
	if (version > SCHEMA_VERSION) {
		log_error("state store %s: schema version %d was written by a newer "
		    "certsync (this one knows up to %d); refusing to read it",
		    st->path, version, SCHEMA_VERSION);
		return -1;
	}
	if (version < SCHEMA_VERSION) {
		log_error("state store %s: schema version %d needs migrating to %d, "
		    "which a command that only reads does not do; start certsyncd "
		    "(or run certsyncctl crl) once with this version", st->path,
		    version, SCHEMA_VERSION);
		return -1;
	}
	return 0;
}

int
store_open_ro(const char *path, struct store **out)
{
	struct store *st;
	int absent = access(path, F_OK) == -1 && errno == ENOENT;

	*out = NULL;
	if ((st = calloc(1, sizeof(*st))) == NULL || (st->path = strdup(path)) == NULL)
		fatal("out of memory");
	/* Nothing recorded yet: an empty store of this schema, in memory. */
	if (absent) {
		log_info("state store %s does not exist yet; nothing is recorded", path);
		if (sqlite3_open_v2(":memory:", &st->db, SQLITE_OPEN_READWRITE |
		    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK ||
		    db_register_functions(st) == -1 || migrate(st) == -1)
			goto fail;
		*out = st;
		return 0;
	}
	if (sqlite3_open_v2(path, &st->db, SQLITE_OPEN_READONLY |
	    SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
		db_fail(st, "cannot open for reading");
		goto fail;
	}
	sqlite3_busy_timeout(st->db, 5000);
	if (check_version_ro(st) == -1 || db_register_functions(st) == -1)
		goto fail;
	*out = st;
	return 0;
fail:
	store_close(st);
	return -1;
}

/*
 * SQLite in WAL mode marks a write transaction with a POSIX lock on one
 * byte of the -shm file (the first of its lock bytes, at offset 120:
 * WAL_WRITE_LOCK in its os_unix.c).  F_GETLK names a process holding it
 * without taking anything.
 */
#define WAL_WRITE_LOCK_BYTE 120

int
store_write_lock_holder(const char *path, long *pid)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET,
	    .l_start = WAL_WRITE_LOCK_BYTE, .l_len = 1 };
	char shm[4096];
	int fd, rc;

	*pid = 0;
	if (snprintf(shm, sizeof(shm), "%s-shm", path) >= (int)sizeof(shm) ||
	    (fd = open(shm, O_RDONLY | O_CLOEXEC)) == -1)
		return -1;
	rc = fcntl(fd, F_GETLK, &fl);
	close(fd);
	if (rc == -1)
		return -1;
	if (fl.l_type == F_UNLCK)
		return 0;
	*pid = (long)fl.l_pid;
	return 1;
}

void
store_close(struct store *st)
{
	if (st == NULL)
		return;
	db_cache_clear(st);
	sqlite3_close_v2(st->db);
	free(st->path);
	free(st);
}
