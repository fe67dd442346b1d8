/*
 * check_store.c - the SQLite state store: schema, migrations, certificates,
 * revocations, CRL numbers, identities, jobs, checkpoints, the audit trail
 * and what it says was signed but never recorded; and the published values
 * behind [reconcile] on_disable = unpublish, from the decision to the
 * closed job (without a directory).
 */
#include "config.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <sqlite3.h>

#include "lib/conf.h"
#include "pipeline/job.h"
#include "pipeline/plan.h"
#include "pki/crl.h"
#include "store/store.h"
#include "check_main.h"

/* The schema version this certsync writes. */
#define SCHEMA 9

static char dir[] = "/tmp/check_store.XXXXXX";
static char path[512];
static struct store *st;

static void
setup(void)
{
	strcpy(dir, "/tmp/check_store.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(dir));
	/* A missing parent directory is created. */
	snprintf(path, sizeof(path), "%s/sub/state.db", dir);
	ck_assert_int_eq(store_open(path, &st), 0);
}

static void
teardown(void)
{
	char cmd[600];

	store_close(st);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
row_init(struct cert_row *r, const char *uuid, const char *serial,
    enum cert_kind kind, const char *addresses)
{
	static unsigned char der[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	static char fp[65];

	memset(r, 0, sizeof(*r));
	r->uuid = (char *)uuid;
	r->issuer = (char *)"CN=Test CA";
	r->serial = (char *)serial;
	snprintf(fp, sizeof(fp), "FP%s", serial);
	r->fingerprint = fp;
	r->kind = kind;
	r->status = CERT_ACTIVE;
	r->subject = (char *)"CN=Someone";
	r->addresses = (char *)addresses;
	r->key_type = (char *)"rsa:2048";
	r->not_before = 1000;
	r->not_after = 2000;
	r->der = der;
	r->der_len = sizeof(der);
	r->keystore_path = (char *)"/ks/x.p12";
	r->created_at = 1500;
}

static int64_t
insert(const char *uuid, const char *serial, enum cert_kind kind, const char *addrs)
{
	struct cert_row r;

	row_init(&r, uuid, serial, kind, addrs);
	ck_assert_int_eq(store_cert_insert(st, &r), 0);
	ck_assert_int_gt(r.id, 0);
	return r.id;
}

static size_t
count(enum cert_query q, const char *arg)
{
	struct cert_rows rows;
	size_t n;

	ck_assert_int_eq(store_cert_query(st, q, arg, &rows), 0);
	n = rows.n;
	cert_rows_free(&rows);
	return n;
}

static int
raw_exec(const char *sql)
{
	sqlite3 *db;
	int rc;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
	sqlite3_close(db);
	return rc;
}

/* Version 6's published table (whole values), and no table of kept S/MIME
 * certificates, for a store taken back to an older version; SMIME_V6: its
 * smime_values (whole values). */
#define PUBLISHED_V6 "DROP TABLE published; DROP TABLE smime_certs;" \
	"CREATE TABLE published (uuid TEXT NOT NULL, attribute TEXT NOT NULL," \
	"  value BLOB NOT NULL, PRIMARY KEY (uuid, attribute, value));"
#define SMIME_V6 "ALTER TABLE smime_values DROP COLUMN parts;"

/* A new (empty) store taken back to before version 9, without version 8's
 * views: version 8's published table and audit trail. */
#define V9_BACK "DROP VIEW certificate_files; DROP VIEW audit_text;" \
	"DROP VIEW certificates_text; DROP VIEW published_text;" \
	"DROP VIEW identities_text;" \
	"ALTER TABLE audit DROP COLUMN digest; DROP TABLE published;" \
	"CREATE TABLE published (uuid TEXT NOT NULL, attribute TEXT NOT NULL," \
	"  digest BLOB NOT NULL, PRIMARY KEY (uuid, attribute, digest)) WITHOUT ROWID;"
/* A key file's path from version 8's columns (KEY_PATH_SQL in the store). */
#define KEY_PATH_V8(d, f) "(SELECT k.path FROM key_dirs k WHERE k.id = c." d ") || " \
	"coalesce(c." f ", c.kind || '-' || c.serial || '.p12')"
/* Version 7's certificates table (fingerprint and both paths whole; its
 * indexes) with version 8's rows, and not version 8's views, for a store
 * taken back to an older version. */
#define CERTS_V7 V9_BACK \
	"CREATE TABLE certificates_v7 (id INTEGER PRIMARY KEY," \
	"  uuid TEXT NOT NULL, issuer TEXT NOT NULL, serial TEXT NOT NULL," \
	"  fingerprint TEXT NOT NULL UNIQUE, kind TEXT NOT NULL CHECK (kind IN" \
	"  ('signing','encryption','dual')), status TEXT NOT NULL CHECK (status IN" \
	"  ('pending','active','superseded','revoked')), subject TEXT NOT NULL," \
	"  addresses TEXT NOT NULL, key_type TEXT, not_before INTEGER NOT NULL," \
	"  not_after INTEGER NOT NULL, der BLOB NOT NULL, keystore_path TEXT," \
	"  archive_path TEXT, created_at INTEGER NOT NULL, archive_protection TEXT" \
	"  CHECK (archive_protection IN ('password-file','recovery-agents'))," \
	"  archive_bundle BLOB, UNIQUE (issuer, serial));" \
	"INSERT INTO certificates_v7 SELECT c.id, c.uuid," \
	"  (SELECT i.dn FROM issuers i WHERE i.id = c.issuer_id), c.serial," \
	"  coalesce(c.fingerprint, 'FP' || c.serial), c.kind, c.status, c.subject," \
	"  c.addresses, c.key_type, c.not_before, c.not_after, c.der, " \
	KEY_PATH_V8("keystore_dir", "keystore_file") ", " \
	KEY_PATH_V8("archive_dir", "archive_file") ", c.created_at," \
	"  c.archive_protection, c.archive_bundle FROM certificates c;" \
	"DROP TABLE certificates; DROP TABLE key_dirs; DROP TABLE issuers;" \
	"ALTER TABLE certificates_v7 RENAME TO certificates;" \
	"CREATE INDEX certificates_uuid ON certificates (uuid, status);" \
	"CREATE INDEX certificates_serial ON certificates (serial);" \
	"CREATE TABLE certificate_addresses_v7 (cert_id INTEGER NOT NULL" \
	"  REFERENCES certificates (id), address TEXT NOT NULL COLLATE NOCASE," \
	"  PRIMARY KEY (cert_id, address)) WITHOUT ROWID;" \
	"INSERT INTO certificate_addresses_v7 SELECT cert_id, address" \
	"  FROM certificate_addresses; DROP TABLE certificate_addresses;" \
	"ALTER TABLE certificate_addresses_v7 RENAME TO certificate_addresses;" \
	"CREATE INDEX certificate_addresses_address ON certificate_addresses (address);"

/* The one integer a query returns. */
static int
raw_count(const char *sql)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;
	int n;

	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, sql, -1, &stmt, NULL), SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	n = sqlite3_column_int(stmt, 0);
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	return n;
}

START_TEST(schema_and_wal)
{
	sqlite3 *db;
	sqlite3_stmt *stmt;

	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_int_eq(sqlite3_open(path, &db), SQLITE_OK);
	ck_assert_int_eq(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, NULL),
	    SQLITE_OK);
	ck_assert_int_eq(sqlite3_step(stmt), SQLITE_ROW);
	ck_assert_str_eq((const char *)sqlite3_column_text(stmt, 0), "wal");
	sqlite3_finalize(stmt);
	sqlite3_close(db);
	/* Reopening keeps the data and the version. */
	insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	store_close(st);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_uint_eq(count(CQ_ALL, NULL), 1);
}
END_TEST

/* Processes opening a new store at the same moment (certsyncd starting
 * while certsyncctl runs) all get it: none is refused as "locked". */
START_TEST(new_store_opened_at_once)
{
	enum { ROUNDS = 40, PROCS = 6 };

	for (int r = 0; r < ROUNDS; r++) {
		char p2[600];
		pid_t pids[PROCS];

		snprintf(p2, sizeof(p2), "%s/race-%d.db", dir, r);
		for (int k = 0; k < PROCS; k++) {
			ck_assert_int_ne(pids[k] = fork(), -1);
			if (pids[k] == 0) {
				struct store *s2;
				int ok = store_open(p2, &s2) == 0 &&
				    store_schema_version(s2) == SCHEMA;

				store_close(s2);
				_exit(ok ? 0 : 1);
			}
		}
		for (int k = 0; k < PROCS; k++) {
			int status;

			ck_assert_int_eq(waitpid(pids[k], &status, 0), pids[k]);
			ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
			    "round %d: a process could not open the new store", r);
		}
	}
}
END_TEST

/* The first certificate row, read back. */
static void
first_row(struct cert_row *out)
{
	struct cert_rows rows;

	ck_assert_int_eq(store_cert_query(st, CQ_ALL, NULL, &rows), 0);
	ck_assert_uint_ge(rows.n, 1);
	*out = rows.v[0];
	memset(&rows.v[0], 0, sizeof(rows.v[0]));
	cert_rows_free(&rows);
}

/* Each archive row says how its file is protected; with recovery agents
 * the store keeps the bundle; a password-file row has none. */
START_TEST(archive_protection_recorded)
{
	static const unsigned char bundle[] = { 0x30, 0x03, 0x02, 0x01, 0x01 };
	struct cert_row r;
	int64_t a = insert("u1", "AA", CERT_KIND_ENCRYPTION, "a@example.org");
	int64_t b = insert("u1", "BB", CERT_KIND_SIGNING, "a@example.org");

	ck_assert_int_eq(store_cert_set_archive(st, a, "/ar/a.p12",
	    ARCHIVE_RECOVERY_AGENTS, bundle, sizeof(bundle)), 0);
	ck_assert_int_eq(store_cert_set_archive(st, b, "/ar/b.p12",
	    ARCHIVE_PASSWORD_FILE, NULL, 0), 0);
	/* Clearing the keystore path keeps the archive's record. */
	ck_assert_int_eq(store_cert_set_paths(st, a, NULL, "/ar/a.p12"), 0);
	first_row(&r);
	ck_assert_str_eq(r.archive_path, "/ar/a.p12");
	ck_assert_ptr_null(r.keystore_path);
	ck_assert_int_eq(r.archive_protection, ARCHIVE_RECOVERY_AGENTS);
	ck_assert_uint_eq(r.archive_bundle_len, sizeof(bundle));
	ck_assert_mem_eq(r.archive_bundle, bundle, sizeof(bundle));
	cert_row_free(&r);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE id = 2 AND "
	    "archive_protection = 'password-file' AND archive_bundle IS NULL"), 1);
	/* Only the two words are stored. */
	ck_assert_int_ne(raw_exec("UPDATE certificates SET archive_protection = "
	    "'none' WHERE id = 1"), SQLITE_OK);
}
END_TEST

/* A store from before the archive protection was recorded: its archived
 * rows were all under the password file, and say so after the migration. */
START_TEST(archive_protection_migrated)
{
	struct cert_row r;
	int64_t a = insert("u1", "AA", CERT_KIND_ENCRYPTION, "a@example.org");

	insert("u1", "BB", CERT_KIND_SIGNING, "a@example.org");
	ck_assert_int_eq(store_cert_set_paths(st, a, NULL, "/ar/a.p12"), 0);
	store_close(st);
	st = NULL;
	/* Back to version 4, as an older certsync left it. */
	ck_assert_int_eq(raw_exec(CERTS_V7
	    "ALTER TABLE certificates DROP COLUMN archive_bundle;"
	    "ALTER TABLE certificates DROP COLUMN archive_protection;"
	    "DROP TABLE held; DROP TABLE departures;"
	    SMIME_V6 PUBLISHED_V6 "PRAGMA user_version = 4"), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_uint_eq(count(CQ_ALL, NULL), 2);
	first_row(&r);
	ck_assert_str_eq(r.archive_path, "/ar/a.p12");
	ck_assert_int_eq(r.archive_protection, ARCHIVE_PASSWORD_FILE);
	ck_assert_ptr_null(r.archive_bundle);
	cert_row_free(&r);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE id = 1 AND "
	    "archive_protection = 'password-file'"), 1);
	/* The row without an archive file has no protection recorded. */
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE "
	    "archive_protection IS NULL"), 1);
}
END_TEST

START_TEST(newer_schema_refused)
{
	struct store *other = NULL;

	ck_assert_int_eq(raw_exec("PRAGMA user_version = 99"), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &other), -1);
	ck_assert_ptr_null(other);
}
END_TEST

/* The userSMIMECertificate value kept with a signing certificate: once
 * per certificate; and a store of version 2 (before it was kept) takes
 * the step forward with its certificates. */
START_TEST(smime_value_kept_and_migrated)
{
	static const unsigned char v[] = { 0x30, 0x80, 0x00, 0x01, 0x02 };
	int64_t sign = insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	unsigned char *got = NULL;
	size_t len = 0;

	ck_assert_int_eq(store_cert_smime_put(st, sign, v, sizeof(v)), 0);
	ck_assert_int_eq(store_cert_smime_get(st, sign, &got, &len), 1);
	ck_assert_uint_eq(len, sizeof(v));
	ck_assert_int_eq(memcmp(got, v, len), 0);
	free(got);
	ck_assert_int_eq(store_cert_smime_get(st, sign + 1, &got, &len), 0);
	ck_assert_ptr_null(got);
	ck_assert_int_eq(store_cert_smime_put(st, sign, v, sizeof(v)), -1);
	/* Version 2 as it was: no such table (nor the archive's columns of
	 * versions 4 and 5, nor the safety catch's tables of version 6). */
	store_close(st);
	ck_assert_int_eq(raw_exec(CERTS_V7 "DROP TABLE smime_values;"
	    "ALTER TABLE jobs DROP COLUMN parked_at;"
	    "ALTER TABLE identities DROP COLUMN uid;"
	    "ALTER TABLE certificates DROP COLUMN archive_bundle;"
	    "ALTER TABLE certificates DROP COLUMN archive_protection;"
	    "DROP TABLE held; DROP TABLE departures;"
	    PUBLISHED_V6 "PRAGMA user_version = 2"), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_uint_eq(count(CQ_ALL, NULL), 1);
	ck_assert_int_eq(store_cert_smime_get(st, sign, &got, &len), 0);
	ck_assert_int_eq(store_cert_smime_put(st, sign, v, sizeof(v)), 0);
}
END_TEST

START_TEST(certificate_queries)
{
	struct cert_rows rows;

	insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org, alias@example.org");
	insert("u1", "BB", CERT_KIND_ENCRYPTION, "a@example.org, alias@example.org");
	insert("u2", "CC", CERT_KIND_DUAL, "b@example.org");
	ck_assert_uint_eq(count(CQ_ALL, NULL), 3);
	ck_assert_uint_eq(count(CQ_UUID, "u1"), 2);
	ck_assert_uint_eq(count(CQ_UUID, "nobody"), 0);
	ck_assert_uint_eq(count(CQ_ADDRESS, "ALIAS@example.org"), 2);
	ck_assert_uint_eq(count(CQ_ADDRESS, "b@example.org"), 1);
	ck_assert_int_eq(store_cert_query(st, CQ_SERIAL, "BB", &rows), 0);
	ck_assert_uint_eq(rows.n, 1);
	ck_assert_int_eq(rows.v[0].kind, CERT_KIND_ENCRYPTION);
	ck_assert_int_eq(rows.v[0].status, CERT_ACTIVE);
	ck_assert_str_eq(rows.v[0].keystore_path, "/ks/x.p12");
	ck_assert_ptr_null(rows.v[0].archive_path);
	ck_assert_int_eq(rows.v[0].reason, -1);
	ck_assert_uint_eq(rows.v[0].der_len, 5);
	ck_assert_int_eq(store_cert_set_paths(st, rows.v[0].id, NULL, "/ar/x.p12"), 0);
	cert_rows_free(&rows);
	ck_assert_int_eq(store_cert_query(st, CQ_SERIAL, "BB", &rows), 0);
	ck_assert_ptr_null(rows.v[0].keystore_path);
	ck_assert_str_eq(rows.v[0].archive_path, "/ar/x.p12");
	cert_rows_free(&rows);
}
END_TEST

/* store_cert_each's callback: the serials it saw, one taken from the row. */
struct seen_serials {
	char *v[8];
	size_t n;
};

static void
take_serial(void *arg, struct cert_row *row)
{
	struct seen_serials *seen = arg;

	ck_assert_uint_lt(seen->n, 8);
	seen->v[seen->n++] = row->serial;
	row->serial = NULL;	/* taken: the row is freed without it */
}

START_TEST(key_leftovers_streamed)
{
	struct seen_serials seen = { { NULL }, 0 };
	int64_t bb, cc, dd;

	insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	bb = insert("u1", "BB", CERT_KIND_ENCRYPTION, "a@example.org");
	cc = insert("u2", "CC", CERT_KIND_SIGNING, "b@example.org");
	dd = insert("u2", "DD", CERT_KIND_ENCRYPTION, "b@example.org");
	/* BB and DD: out of use, archived, no keystore path: a kill may have
	 * left their files.  CC: revoked, its keystore path still set. */
	ck_assert_int_eq(store_cert_set_status(st, bb, CERT_SUPERSEDED), 0);
	ck_assert_int_eq(store_cert_set_paths(st, bb, NULL, "/ar/bb.p12"), 0);
	ck_assert_int_eq(store_revoke(st, cc, 4, 5000), 0);
	ck_assert_int_eq(store_cert_set_paths(st, cc, "/ks/cc.p12", "/ar/cc.p12"), 0);
	ck_assert_int_eq(store_revoke(st, dd, 4, 5000), 0);
	ck_assert_int_eq(store_cert_set_paths(st, dd, NULL, "/ar/dd.p12"), 0);
	ck_assert_int_eq(store_cert_each(st, CQ_KEY_LEFTOVERS, NULL, take_serial, &seen), 0);
	ck_assert_uint_eq(seen.n, 2);
	ck_assert_str_eq(seen.v[0], "BB");
	ck_assert_str_eq(seen.v[1], "DD");
	for (size_t i = 0; i < seen.n; i++)
		free(seen.v[i]);
	ck_assert_int_eq(store_cert_serial_known(st, "CC"), 1);
	ck_assert_int_eq(store_cert_serial_known(st, "EE"), 0);
}
END_TEST

START_TEST(duplicate_serial_refused)
{
	struct cert_row r;

	insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	row_init(&r, "u2", "AA", CERT_KIND_SIGNING, "b@example.org");
	r.fingerprint = (char *)"OTHER";
	ck_assert_int_eq(store_cert_insert(st, &r), -1);
	/* The failed insert left nothing behind, addresses included. */
	ck_assert_uint_eq(count(CQ_ADDRESS, "b@example.org"), 0);
}
END_TEST

START_TEST(revocation_idempotent)
{
	int64_t id = insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	struct cert_rows rows;

	insert("u1", "BB", CERT_KIND_ENCRYPTION, "a@example.org");
	ck_assert_int_eq(store_revoke(st, id, 3, 5000), 0);
	ck_assert_int_eq(store_revoke(st, id, 1, 6000), 0);
	ck_assert_int_eq(store_cert_query(st, CQ_REVOKED, "CN=Test CA", &rows), 0);
	ck_assert_uint_eq(rows.n, 1);
	ck_assert_int_eq(rows.v[0].reason, 3);
	ck_assert_int_eq(rows.v[0].revoked_at, 5000);
	ck_assert_int_eq(rows.v[0].status, CERT_REVOKED);
	cert_rows_free(&rows);
	ck_assert_uint_eq(count(CQ_REVOKED, "CN=Other CA"), 0);
	ck_assert_uint_eq(count(CQ_UUID_ACTIVE, "u1"), 1);
}
END_TEST

START_TEST(crl_pending_until_written)
{
	int64_t id = insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org"), n = -1;

	ck_assert_int_eq(store_crl_pending(st), 0);
	ck_assert_int_eq(store_revoke(st, id, 4, 5000), 0);
	ck_assert_int_eq(store_crl_pending(st), 1);
	/* A number taken but not yet written does not clear it... */
	ck_assert_int_eq(store_crl_next(st, 100, 200, &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(store_crl_pending(st), 1);
	/* ...nor does the write of an older number. */
	ck_assert_int_eq(store_crl_written(st, 0), 0);
	ck_assert_int_eq(store_crl_pending(st), 1);
	ck_assert_int_eq(store_crl_written(st, 1), 0);
	ck_assert_int_eq(store_crl_pending(st), 0);
	/* It survives a reopen: a crash cannot lose it. */
	id = insert("u1", "BB", CERT_KIND_ENCRYPTION, "a@example.org");
	ck_assert_int_eq(store_revoke(st, id, 4, 5001), 0);
	store_close(st);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_crl_pending(st), 1);
}
END_TEST

START_TEST(crl_numbers_monotonic)
{
	int64_t n = -1, at = -1;

	ck_assert_int_eq(store_crl_last(st, &n, &at), 0);
	ck_assert_int_eq(n, 0);
	for (int64_t want = 1; want <= 3; want++) {
		ck_assert_int_eq(store_crl_next(st, 100 * want, 200 * want, &n), 0);
		ck_assert_int_eq(n, want);
	}
	ck_assert_int_eq(store_crl_last(st, &n, &at), 0);
	ck_assert_int_eq(n, 3);
	ck_assert_int_eq(at, 300);
}
END_TEST

static int audit_rows;
static void
count_audit(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail)
{
	audit_rows++;
	if (audit_rows == 1) {
		ck_assert_str_eq(action, "issue");
		ck_assert_str_eq(detail, "signing 42");
	}
}

START_TEST(audit_append_only)
{
	ck_assert_int_eq(store_audit(st, "issue", "u1", "AA", "signing %d", 42), 0);
	ck_assert_int_eq(store_audit(st, "revoke", "u1", "AA", "x"), 0);
	audit_rows = 0;
	ck_assert_int_eq(store_audit_each(st, 0, count_audit, NULL), 0);
	ck_assert_int_eq(audit_rows, 2);
	ck_assert_int_ne(raw_exec("UPDATE audit SET action = 'x'"), SQLITE_OK);
	ck_assert_int_ne(raw_exec("DELETE FROM audit"), SQLITE_OK);
	audit_rows = 0;
	ck_assert_int_eq(store_audit_each(st, 0, count_audit, NULL), 0);
	ck_assert_int_eq(audit_rows, 2);
}
END_TEST

START_TEST(transactions_roll_back)
{
	ck_assert_int_eq(store_begin(st), 0);
	insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	store_rollback(st);
	ck_assert_uint_eq(count(CQ_ALL, NULL), 0);
	/* An inner failure dooms the outer transaction. */
	ck_assert_int_eq(store_begin(st), 0);
	insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	ck_assert_int_eq(store_begin(st), 0);
	store_rollback(st);
	ck_assert_int_eq(store_commit(st), -1);
	ck_assert_uint_eq(count(CQ_ALL, NULL), 0);
}
END_TEST

/* The watcher reads the echo of its own publishing in a read transaction:
 * the runner's connection must write meanwhile without waiting for it
 * (an IMMEDIATE one would hold it 5 s, then fail), and the reader keeps
 * its snapshot until it ends. */
START_TEST(read_transaction_takes_no_write_lock)
{
	struct store *writer = NULL;
	char *v = NULL;

	ck_assert_int_eq(store_open(path, &writer), 0);
	ck_assert_int_eq(store_begin_read(st), 0);
	ck_assert_int_eq(store_state_get(st, "k", &v, NULL), 0);
	ck_assert_int_eq(store_begin(writer), 0);
	ck_assert_int_eq(store_state_set(writer, "k", "v"), 0);
	ck_assert_int_eq(store_commit(writer), 0);
	ck_assert_int_eq(store_state_get(st, "k", &v, NULL), 0);
	ck_assert_int_eq(store_commit(st), 0);
	ck_assert_int_eq(store_state_get(st, "k", &v, NULL), 1);
	ck_assert_str_eq(v, "v");
	free(v);
	store_close(writer);
}
END_TEST

START_TEST(identities_jobs_checkpoints)
{
	struct identity_row id = { .uuid = (char *)"u1", .dn = (char *)"uid=a,dc=x",
	    .mail = (char *)"a@example.org", .aliases = (char *)"b@example.org\nc@example.org",
	    .display_name = (char *)"A", .enabled = 1 }, got;
	struct job_row job = { .uuid = (char *)"u1", .state = (char *)"KEYS",
	    .action = (char *)"reissue", .reason = (char *)"mail changed" }, gj;
	void *cookie;
	size_t len;
	char *server;

	ck_assert_int_eq(store_identity_put(st, &id), 0);
	ck_assert_int_eq(store_identity_get(st, "u1", &got), 1);
	ck_assert_str_eq(got.aliases, "b@example.org\nc@example.org");
	ck_assert_int_eq(got.enabled, 1);
	ck_assert_ptr_null(got.skipped);
	identity_row_free(&got);
	ck_assert_int_eq(store_identity_get(st, "u9", &got), 0);

	ck_assert_int_eq(store_job_put(st, &job), 0);
	job.state = (char *)"ISSUED";
	ck_assert_int_eq(store_job_put(st, &job), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &gj), 1);
	ck_assert_str_eq(gj.state, "ISSUED");
	job_row_free(&gj);
	job.state = (char *)"BOGUS";
	ck_assert_int_eq(store_job_put(st, &job), -1);
	ck_assert_int_eq(store_job_delete(st, "u1"), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &gj), 0);

	ck_assert_int_eq(store_checkpoint_get(st, "syncrepl", &cookie, &len, &server), 0);
	ck_assert_int_eq(store_checkpoint_put(st, "syncrepl", "rid=001,csn=x", 13, "dc1"), 0);
	ck_assert_int_eq(store_checkpoint_get(st, "syncrepl", &cookie, &len, &server), 1);
	ck_assert_uint_eq(len, 13);
	ck_assert_int_eq(memcmp(cookie, "rid=001,csn=x", 13), 0);
	ck_assert_str_eq(server, "dc1");
	free(cookie);
	free(server);
}
END_TEST

/* ---- certificates signed but not recorded ------------------------------ */

/* "uuid serial detail;" per unrecorded certificate, in order. */
static const char *
unrecorded(const char *uuid)
{
	static char buf[512];
	struct unrecorded_rows un;
	size_t len = 0;

	buf[0] = '\0';
	ck_assert_int_eq(store_unrecorded(st, uuid, &un), 0);
	for (size_t i = 0; i < un.n; i++) {
		ck_assert_int_gt(un.v[i].signed_at, 0);
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %s %s;",
		    un.v[i].uuid, un.v[i].serial, un.v[i].detail);
	}
	unrecorded_rows_free(&un);
	return buf;
}

/* A sign record is the CA's word that a serial exists; one without a row is
 * what a crash between signing and recording leaves. */
START_TEST(signed_but_not_recorded)
{
	ck_assert_str_eq(unrecorded(NULL), "");
	ck_assert_int_eq(store_audit(st, "sign", "u1", "AA", "s1"), 0);
	ck_assert_int_eq(store_audit(st, "sign", "u1", "BB", "e1"), 0);
	ck_assert_int_eq(store_audit(st, "sign", "u2", "CC", "s2"), 0);
	/* Other records, and sign records without a serial or a user, are not. */
	ck_assert_int_eq(store_audit(st, "issue", "u1", "DD", "x"), 0);
	ck_assert_int_eq(store_audit(st, "revoke", "u2", "EE", "x"), 0);
	ck_assert_int_eq(store_audit(st, "sign", "u1", NULL, "x"), 0);
	ck_assert_int_eq(store_audit(st, "sign", NULL, "FF", "x"), 0);
	ck_assert_str_eq(unrecorded(NULL), "u1 AA s1;u1 BB e1;u2 CC s2;");
	ck_assert_str_eq(unrecorded("u1"), "u1 AA s1;u1 BB e1;");
	ck_assert_str_eq(unrecorded("u2"), "u2 CC s2;");
	ck_assert_str_eq(unrecorded("u3"), "");

	/* Recorded, whatever its status or owner: accounted for. */
	insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	ck_assert_str_eq(unrecorded("u1"), "u1 BB e1;");
	ck_assert_int_eq(store_revoke(st, insert("u9", "CC", CERT_KIND_SIGNING,
	    "c@example.org"), CRL_REASON_SUPERSEDED, 1700), 0);
	ck_assert_str_eq(unrecorded(NULL), "u1 BB e1;");
	insert("u1", "BB", CERT_KIND_ENCRYPTION, "a@example.org");
	ck_assert_str_eq(unrecorded(NULL), "");
}
END_TEST

static void
audit_line(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail)
{
	size_t len = strlen(arg);

	(void)at;
	snprintf((char *)arg + len, 512 - len, "%s %s %s %s;", action,
	    uuid ? uuid : "-", serial ? serial : "-", detail);
}

/* A record's usual uuid and serial are kept as bytes, anything else (and a
 * record from before) as text; all read back as written, and the search
 * for unrecorded certificates finds them either way. */
START_TEST(audit_uuid_serial_packed)
{
	static const char *const u = "41167fe4-84ba-1041-8cab-07c2fa0e3e94";
	char lines[512] = "";

	ck_assert_int_eq(raw_exec("INSERT INTO audit (at, action, uuid, serial, detail)"
	    " VALUES (1, 'sign', '41167fe4-84ba-1041-8cab-07c2fa0e3e94', '0A1B', 'old')"),
	    SQLITE_OK);
	ck_assert_int_eq(store_audit(st, "sign", u, "0A1B", "new"), 0);
	ck_assert_int_eq(store_audit(st, "sign", "41167FE4-84BA-1041-8CAB-07C2FA0E3E94",
	    "0a1b", "c"), 0);
	ck_assert_int_eq(store_audit(st, "sign", "66446001-1dd211b2-8a5ddb6c-4ad90000",
	    "ABC", "d"), 0);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM audit WHERE typeof(uuid) = "
	    "'blob' AND length(uuid) = 16 AND typeof(serial) = 'blob'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM audit WHERE typeof(uuid) = "
	    "'text' AND typeof(serial) = 'text'"), 3);
	ck_assert_int_eq(store_audit_each(st, 0, audit_line, lines), 0);
	ck_assert_str_eq(lines, "sign 41167fe4-84ba-1041-8cab-07c2fa0e3e94 0A1B old;"
	    "sign 41167fe4-84ba-1041-8cab-07c2fa0e3e94 0A1B new;"
	    "sign 41167FE4-84BA-1041-8CAB-07C2FA0E3E94 0a1b c;"
	    "sign 66446001-1dd211b2-8a5ddb6c-4ad90000 ABC d;");
	ck_assert_str_eq(unrecorded(u), "41167fe4-84ba-1041-8cab-07c2fa0e3e94 0A1B old;"
	    "41167fe4-84ba-1041-8cab-07c2fa0e3e94 0A1B new;");
	insert(u, "0A1B", CERT_KIND_SIGNING, "a@example.org");
	ck_assert_str_eq(unrecorded(u), "");
	ck_assert_str_eq(unrecorded(NULL), "41167FE4-84BA-1041-8CAB-07C2FA0E3E94 0a1b c;"
	    "66446001-1dd211b2-8a5ddb6c-4ad90000 ABC d;");
}
END_TEST

/* A job in KEYS may have signed what it did not record: planning again
 * keeps that state, so the next run looks; the other states are as before. */
START_TEST(replanning_keeps_keys)
{
	struct job_row job = { .uuid = (char *)"u1", .state = (char *)"KEYS",
	    .action = (char *)"renew", .reason = (char *)"superseded", .attempts = 3,
	    .next_attempt = 99999 }, got;

	ck_assert_int_eq(store_job_put(st, &job), 0);
	ck_assert_int_eq(job_plan(st, "u1", JOB_REISSUE, CRL_REASON_AFFILIATION_CHANGED,
	    "mail changed", 0), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &got), 1);
	ck_assert_str_eq(got.state, "KEYS");
	ck_assert_str_eq(got.action, "reissue");
	ck_assert_str_eq(got.reason, "affiliationChanged");
	ck_assert_int_eq(got.attempts, 0);
	ck_assert_int_eq(got.next_attempt, 0);
	job_row_free(&got);

	job.state = (char *)"PLANNED";
	ck_assert_int_eq(store_job_put(st, &job), 0);
	ck_assert_int_eq(job_plan(st, "u1", JOB_REVOKE, CRL_REASON_CESSATION_OF_OPERATION,
	    "gone", 0), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &got), 1);
	ck_assert_str_eq(got.state, "PLANNED");
	ck_assert_str_eq(got.action, "revoke");
	job_row_free(&got);

	job.state = (char *)"ISSUED";
	ck_assert_int_eq(store_job_put(st, &job), 0);
	ck_assert_int_eq(job_plan(st, "u1", JOB_REVOKE, CRL_REASON_CESSATION_OF_OPERATION,
	    "gone", 0), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &got), 1);
	ck_assert_str_eq(got.state, "ISSUED");
	ck_assert_str_eq(got.action, "renew");
	job_row_free(&got);

	ck_assert_int_eq(store_job_delete(st, "u1"), 0);
	ck_assert_int_eq(job_plan(st, "u1", JOB_ENROLL, CRL_REASON_SUPERSEDED, "new", 0), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &got), 1);
	ck_assert_str_eq(got.state, "PLANNED");
	job_row_free(&got);
}
END_TEST

static void
count_state(void *arg, const char *state, int n)
{
	char *out = arg;

	snprintf(out + strlen(out), 256 - strlen(out), "%s=%d;", state, n);
}

static void
list_parked(void *arg, const struct job_row *job, const char *dn)
{
	char *out = arg;

	snprintf(out + strlen(out), 256 - strlen(out), "%s %s %s: %s;", job->uuid,
	    dn ? dn : "-", job->state, job->last_error);
}

/* A job retrying cannot help is parked: never due, listed with its reason,
 * released by uuid, all at once, or by writing the job anew. */
START_TEST(parked_jobs)
{
	struct identity_row id = { .uuid = (char *)"u1", .dn = (char *)"uid=a,dc=x",
	    .mail = (char *)"a@example.org", .uid = (char *)"asmith", .enabled = 1 };
	struct job_row job = { .uuid = (char *)"u1", .state = (char *)"KEYS",
	    .action = (char *)"enroll", .reason = (char *)"superseded" }, got;
	struct identity_row back;
	char text[256] = "";
	int64_t when;
	int n;

	ck_assert_int_eq(store_identity_put(st, &id), 0);
	/* The uid is kept: the subject template may use it. */
	ck_assert_int_eq(store_identity_get(st, "u1", &back), 1);
	ck_assert_str_eq(back.uid, "asmith");
	identity_row_free(&back);
	ck_assert_int_eq(store_job_put(st, &job), 0);
	job.uuid = (char *)"u2";
	job.state = (char *)"PLANNED";
	ck_assert_int_eq(store_job_put(st, &job), 0);
	ck_assert_int_eq(store_job_park(st, "u1", 1, "the CA certificate has expired"), 0);
	ck_assert_int_eq(store_job_park(st, "u2", 1, "subject CN too long"), 0);
	ck_assert_int_eq(store_job_next(st, time(NULL) + 99999, &got), 0);
	ck_assert_int_eq(store_job_next_due(st, &when), 0);
	ck_assert_int_eq(store_job_counts(st, count_state, text), 0);
	ck_assert_str_eq(text, "parked=2;");
	text[0] = '\0';
	ck_assert_int_eq(store_job_each_parked(st, list_parked, text), 0);
	ck_assert_str_eq(text, "u1 uid=a,dc=x KEYS: the CA certificate has expired;"
	    "u2 - PLANNED: subject CN too long;");
	ck_assert_int_eq(store_job_get(st, "u1", &got), 1);
	ck_assert_int_gt(got.parked_at, 0);
	ck_assert_int_eq(got.attempts, 1);
	job_row_free(&got);

	ck_assert_int_eq(store_job_unpark(st, "u1", &n), 0);
	ck_assert_int_eq(n, 1);
	ck_assert_int_eq(store_job_unpark(st, "u1", &n), 0);
	ck_assert_int_eq(n, 0);
	ck_assert_int_eq(store_job_next(st, time(NULL), &got), 1);
	ck_assert_str_eq(got.uuid, "u1");
	ck_assert_int_eq(got.parked_at, 0);
	ck_assert_int_eq(got.attempts, 0);
	job_row_free(&got);
	/* Writing the job (a step, a new plan) releases it too. */
	ck_assert_int_eq(store_job_put(st, &job), 0);
	ck_assert_int_eq(store_job_get(st, "u2", &got), 1);
	ck_assert_int_eq(got.parked_at, 0);
	job_row_free(&got);
	ck_assert_int_eq(store_job_park(st, "u1", 1, "x"), 0);
	ck_assert_int_eq(store_job_park(st, "u2", 1, "y"), 0);
	ck_assert_int_eq(store_job_unpark(st, NULL, &n), 0);
	ck_assert_int_eq(n, 2);
}
END_TEST

/* A version 3 store (before parked jobs and stored uids) opens, migrates
 * and keeps its rows. */
START_TEST(migrates_from_version_3)
{
	struct identity_row got;
	struct job_row job;

	store_close(st);
	st = NULL;
	ck_assert_int_eq(raw_exec(CERTS_V7 "ALTER TABLE jobs DROP COLUMN parked_at;"
	    "ALTER TABLE identities DROP COLUMN uid;"
	    "ALTER TABLE certificates DROP COLUMN archive_bundle;"
	    "ALTER TABLE certificates DROP COLUMN archive_protection;"
	    "DROP TABLE held; DROP TABLE departures;"
	    "INSERT INTO identities (uuid, dn, mail, enabled, updated_at) VALUES "
	    "('u1', 'uid=a,dc=x', 'a@example.org', 1, 5);"
	    "INSERT INTO jobs (uuid, state, action, updated_at) VALUES "
	    "('u1', 'KEYS', 'enroll', 5);"
	    SMIME_V6 PUBLISHED_V6 "PRAGMA user_version = 3;"), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_int_eq(store_identity_get(st, "u1", &got), 1);
	ck_assert_str_eq(got.mail, "a@example.org");
	ck_assert_ptr_null(got.uid);
	identity_row_free(&got);
	ck_assert_int_eq(store_job_get(st, "u1", &job), 1);
	ck_assert_str_eq(job.state, "KEYS");
	ck_assert_int_eq(job.parked_at, 0);
	job_row_free(&job);
}
END_TEST

/* ---- on_disable = unpublish: decision, job, published values ------------ */

static int
count_value(void *arg, const unsigned char digest[STORE_DIGEST_LEN])
{
	(void)digest;
	++*(int *)arg;
	return 0;
}

/* One value, exactly: its user, its attribute, all of its bytes. */
START_TEST(published_value_lookup)
{
	static const unsigned char v[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	static const unsigned char w[] = { 0x30, 0x03, 0x02, 0x01, 0x08 };
	const char *cattr = "userCertificate";

	ck_assert_int_eq(store_published_has(st, "u1", cattr, v, sizeof(v)), 0);
	ck_assert_int_eq(store_published(st, 1, "u1", cattr, v, sizeof(v)), 0);
	ck_assert_int_eq(store_published_has(st, "u1", cattr, v, sizeof(v)), 1);
	ck_assert_int_eq(store_published_has(st, "u2", cattr, v, sizeof(v)), 0);
	ck_assert_int_eq(store_published_has(st, "u1", "userSMIMECertificate", v,
	    sizeof(v)), 0);
	ck_assert_int_eq(store_published_has(st, "u1", cattr, w, sizeof(w)), 0);
	ck_assert_int_eq(store_published_has(st, "u1", cattr, v, sizeof(v) - 1), 0);
	ck_assert_int_eq(store_published(st, 0, "u1", cattr, v, sizeof(v)), 0);
	ck_assert_int_eq(store_published_has(st, "u1", cattr, v, sizeof(v)), 0);
}
END_TEST

static int
published_count(const char *attr)
{
	int n = 0;

	ck_assert_int_eq(store_published_each(st, "u1", attr, count_value, &n), 0);
	return n;
}

static void
count_flips(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail)
{
	int *n = arg;

	(void)at;
	(void)uuid;
	(void)detail;
	if (serial != NULL && strcmp(action, "unpublish") == 0)
		n[0]++;
	if (serial != NULL && strcmp(action, "republish") == 0)
		n[1]++;
}

static void
put_user(const char *mail, int enabled)
{
	struct identity_row id = { .uuid = (char *)"u1", .dn = (char *)"uid=a,dc=x",
	    .mail = (char *)mail, .display_name = (char *)"A", .enabled = enabled };

	ck_assert_int_eq(store_identity_put(st, &id), 0);
}

/* The action of the job planned for u1, "" when none. */
static const char *
planned(void)
{
	static char action[32];
	struct job_row job;

	action[0] = '\0';
	if (store_job_get(st, "u1", &job) == 1) {
		ck_assert_str_eq(job.state, "PLANNED");
		snprintf(action, sizeof(action), "%s", job.action);
		job_row_free(&job);
	}
	return action;
}

/* u1 decided again (gone: as departed), and the safety catch's verdict. */
static void
recheck(struct plan_ctx *plan, int gone)
{
	ck_assert_int_eq(gone ? plan_gone(plan, "u1") : plan_recheck(plan, "u1"), 0);
	plan_flush(plan);
}

static void
run_and_close(struct job_ctx *jctx)
{
	struct job_row job;

	ck_assert_int_eq(job_run(jctx, "u1"), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &job), 1);
	ck_assert_str_eq(job.state, "REVOKED");
	job_row_free(&job);
	ck_assert_int_eq(job_finish_batch(jctx, NULL), 0);
	ck_assert_int_eq(store_job_get(st, "u1", &job), 0);
	ck_assert_int_eq(jctx->revoked, 0);
}

START_TEST(unpublish_keeps_certificates_valid)
{
	static unsigned char der[2][5] = { { 0x30, 0x03, 0x02, 0x01, 0x01 },
	    { 0x30, 0x03, 0x02, 0x01, 0x02 } };
	const char *cattr = "userCertificate;binary", *sattr = "userSMIMECertificate";
	struct conf conf;
	struct plan_ctx plan;
	struct job_ctx jctx;
	struct cert_rows rows;
	int audits[2] = { 0, 0 };

	memset(&conf, 0, sizeof(conf));
	conf.publish.certificate_attribute = (char *)cattr;
	conf.publish.smime_attribute = (char *)sattr;
	conf.reconcile.on_disable = DISABLE_UNPUBLISH;
	conf.reconcile.max_revoke = (struct threshold){ 1, 500 };
	conf.reconcile.on_address_change = 1;
	conf.certificates.renew_before_days = 30;
	conf.certificates.mode = CERT_MODE_SEPARATE;
	memset(&plan, 0, sizeof(plan));
	plan.conf = &conf;
	plan.st = st;
	memset(&jctx, 0, sizeof(jctx));
	jctx.conf = &conf;
	jctx.st = st;

	/* An enrolled user, as a publish step leaves them. */
	put_user("a@example.org", 1);
	for (int i = 0; i < 2; i++) {
		struct cert_row r;

		row_init(&r, "u1", i == 0 ? "AA" : "BB", i == 0 ? CERT_KIND_SIGNING :
		    CERT_KIND_ENCRYPTION, "a@example.org");
		r.der = der[i];
		r.not_after = time(NULL) + 365 * 86400;
		ck_assert_int_eq(store_cert_insert(st, &r), 0);
		ck_assert_int_eq(store_published(st, 1, "u1", cattr, der[i], 5), 0);
	}
	ck_assert_int_eq(store_published(st, 1, "u1", sattr, "p7", 2), 0);
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "");
	ck_assert_int_eq(store_published_has(st, "u1", cattr, der[0], 5), 1);

	/* Disabled: withdrawn, still active, nothing revoked. */
	put_user("a@example.org", 0);
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "unpublish");
	run_and_close(&jctx);
	ck_assert_int_eq(published_count(cattr), 0);
	ck_assert_int_eq(published_count(sattr), 0);
	ck_assert_uint_eq(count(CQ_UUID_ACTIVE, "u1"), 2);
	ck_assert_int_eq(store_cert_query(st, CQ_UUID_ACTIVE, "u1", &rows), 0);
	for (size_t i = 0; i < rows.n; i++) {
		ck_assert_ptr_nonnull(rows.v[i].keystore_path);
		ck_assert_int_eq(rows.v[i].revoked_at, 0);
	}
	cert_rows_free(&rows);
	ck_assert_int_eq(store_crl_pending(st), 0);
	/* What certsyncctl list shows as withdrawn. */
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(store_published_has(st, "u1", cattr, der[i], 5), 0);

	/* Withdrawn: nothing more, even with a new address. */
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "");
	put_user("new@example.org", 0);
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "");

	/* Enabled again: the same certificates are published again. */
	put_user("a@example.org", 1);
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "republish");
	run_and_close(&jctx);
	ck_assert_int_eq(published_count(cattr), 2);
	for (int i = 0; i < 2; i++)
		ck_assert_int_eq(store_published_has(st, "u1", cattr, der[i], 5), 1);
	ck_assert_uint_eq(count(CQ_UUID_ACTIVE, "u1"), 2);
	ck_assert_uint_eq(count(CQ_UUID, "u1"), 2);
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "");

	/* One audit record per certificate and step. */
	ck_assert_int_eq(store_audit_each(st, 0, count_flips, audits), 0);
	ck_assert_int_eq(audits[0], 2);
	ck_assert_int_eq(audits[1], 2);

	/* Disabled, withdrawn, then deleted: revoked. */
	put_user("a@example.org", 0);
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "unpublish");
	run_and_close(&jctx);
	recheck(&plan, 1);
	ck_assert_str_eq(planned(), "revoke");

	/* With revoke, a disabled user is revoked, published or not. */
	ck_assert_int_eq(store_job_delete(st, "u1"), 0);
	put_user("a@example.org", 0);
	conf.reconcile.on_disable = DISABLE_REVOKE;
	recheck(&plan, 0);
	ck_assert_str_eq(planned(), "revoke");
}
END_TEST

/* Hold, lift, and a hold made final: the CRL's view of each. */
START_TEST(holds_are_the_reversible_revocation)
{
	int64_t a = insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	int64_t b = insert("u1", "BB", CERT_KIND_ENCRYPTION, "a@example.org");
	struct cert_rows rows;
	int certs, users;
	int64_t oldest;

	ck_assert_int_eq(store_hold(st, a, 1000), 0);
	ck_assert_int_eq(store_hold(st, b, 1100), 0);
	ck_assert_int_eq(store_crl_pending(st), 1);
	ck_assert_uint_eq(count(CQ_UUID_ON_HOLD, "u1"), 2);
	ck_assert_uint_eq(count(CQ_UUID_ACTIVE, "u1"), 0);
	ck_assert_uint_eq(count(CQ_UUID_CURRENT, "u1"), 2);
	/* On the CRL, as certificateHold, since the hold. */
	ck_assert_int_eq(store_cert_query(st, CQ_REVOKED, "CN=Test CA", &rows), 0);
	ck_assert_uint_eq(rows.n, 2);
	ck_assert_int_eq(rows.v[0].reason, CRL_REASON_CERTIFICATE_HOLD);
	ck_assert_int_eq(rows.v[0].revoked_at, 1000);
	ck_assert_int_eq(rows.v[0].status, CERT_ON_HOLD);
	ck_assert_str_eq(cert_status_name(rows.v[0].status), "on-hold");
	cert_rows_free(&rows);
	ck_assert_int_eq(store_hold_counts(st, &certs, &users, &oldest), 0);
	ck_assert_int_eq(certs, 2);
	ck_assert_int_eq(users, 1);
	ck_assert_int_eq(oldest, 1000);
	/* Holding again changes nothing. */
	ck_assert_int_eq(store_hold(st, a, 5000), 0);
	ck_assert_int_eq(store_cert_query(st, CQ_SERIAL, "AA", &rows), 0);
	ck_assert_int_eq(rows.v[0].revoked_at, 1000);
	cert_rows_free(&rows);

	/* Lifted: active, off the CRL; lifting again changes nothing. */
	ck_assert_int_eq(store_lift(st, a), 0);
	ck_assert_int_eq(store_lift(st, a), 0);
	ck_assert_uint_eq(count(CQ_UUID_ACTIVE, "u1"), 1);
	ck_assert_uint_eq(count(CQ_REVOKED, "CN=Test CA"), 1);

	/* Made final: the reason changes, the date stays; final is final. */
	ck_assert_int_eq(store_revoke(st, b, CRL_REASON_CESSATION_OF_OPERATION, 9000), 0);
	ck_assert_int_eq(store_revoke(st, b, CRL_REASON_KEY_COMPROMISE, 9500), 0);
	ck_assert_int_eq(store_cert_query(st, CQ_SERIAL, "BB", &rows), 0);
	ck_assert_int_eq(rows.v[0].status, CERT_REVOKED);
	ck_assert_int_eq(rows.v[0].reason, CRL_REASON_CESSATION_OF_OPERATION);
	ck_assert_int_eq(rows.v[0].revoked_at, 1100);
	cert_rows_free(&rows);
	/* A revoked certificate is not put on hold, nor lifted. */
	ck_assert_int_eq(store_hold(st, b, 9900), 0);
	ck_assert_int_eq(store_lift(st, b), 0);
	ck_assert_uint_eq(count(CQ_UUID_ON_HOLD, "u1"), 0);
	ck_assert_uint_eq(count(CQ_REVOKED, "CN=Test CA"), 1);
}
END_TEST

static void
collect_uuid(void *arg, const char *uuid)
{
	strcat(arg, uuid);
	strcat(arg, " ");
}

START_TEST(holds_due)
{
	char due[64] = "";

	ck_assert_int_eq(store_hold(st, insert("u1", "AA", CERT_KIND_DUAL,
	    "a@example.org"), 1000), 0);
	ck_assert_int_eq(store_hold(st, insert("u2", "BB", CERT_KIND_DUAL,
	    "b@example.org"), 2000), 0);
	ck_assert_int_eq(store_holds_due(st, 999, collect_uuid, due), 0);
	ck_assert_str_eq(due, "");
	ck_assert_int_eq(store_holds_due(st, 1000, collect_uuid, due), 0);
	ck_assert_str_eq(due, "u1 ");
	due[0] = '\0';
	ck_assert_int_eq(store_holds_due(st, 5000, collect_uuid, due), 0);
	ck_assert_str_eq(due, "u1 u2 ");
}
END_TEST

/* A store as the certsync before holds (schema 2) left it opens, migrated:
 * rows, ids and revocations kept, references whole, holds possible. */
START_TEST(schema_2_migrates)
{
	static const char *const v2 =
	    "CREATE TABLE certificates (id INTEGER PRIMARY KEY, uuid TEXT NOT NULL,"
	    " issuer TEXT NOT NULL, serial TEXT NOT NULL, fingerprint TEXT NOT NULL"
	    " UNIQUE, kind TEXT NOT NULL CHECK (kind IN ('signing','encryption',"
	    "'dual')), status TEXT NOT NULL CHECK (status IN ('pending','active',"
	    "'superseded','revoked')), subject TEXT NOT NULL, addresses TEXT NOT"
	    " NULL, key_type TEXT, not_before INTEGER NOT NULL, not_after INTEGER"
	    " NOT NULL, der BLOB NOT NULL, keystore_path TEXT, archive_path TEXT,"
	    " created_at INTEGER NOT NULL, UNIQUE (issuer, serial));"
	    "CREATE TABLE certificate_addresses (cert_id INTEGER NOT NULL REFERENCES"
	    " certificates (id), address TEXT NOT NULL COLLATE NOCASE, PRIMARY KEY"
	    " (cert_id, address));"
	    "CREATE TABLE revocations (cert_id INTEGER PRIMARY KEY REFERENCES"
	    " certificates (id), reason INTEGER NOT NULL, revoked_at INTEGER NOT NULL);"
	    "CREATE TABLE deliveries (cert_id INTEGER PRIMARY KEY REFERENCES"
	    " certificates (id), uuid TEXT NOT NULL, attempts INTEGER NOT NULL"
	    " DEFAULT 0, next_attempt INTEGER NOT NULL DEFAULT 0, last_error TEXT,"
	    " done INTEGER NOT NULL DEFAULT 0);"
	    "CREATE TABLE identities (uuid TEXT PRIMARY KEY, dn TEXT, mail TEXT,"
	    " aliases TEXT, display_name TEXT, given_name TEXT, surname TEXT,"
	    " enabled INTEGER NOT NULL DEFAULT 1, skipped TEXT, updated_at INTEGER"
	    " NOT NULL);"
	    "CREATE TABLE jobs (uuid TEXT PRIMARY KEY, state TEXT NOT NULL, action"
	    " TEXT NOT NULL, reason TEXT, attempts INTEGER NOT NULL DEFAULT 0,"
	    " last_error TEXT, next_attempt INTEGER NOT NULL DEFAULT 0, updated_at"
	    " INTEGER NOT NULL);"
	    "CREATE TABLE crl_state (id INTEGER PRIMARY KEY CHECK (id = 1), number"
	    " INTEGER NOT NULL, this_update INTEGER NOT NULL, next_update INTEGER"
	    " NOT NULL, pending INTEGER NOT NULL DEFAULT 0);"
	    "INSERT INTO certificates VALUES (7, 'u1', 'CN=Test CA', 'AA', 'F1',"
	    " 'signing', 'active', 'CN=A', 'a@example.org', 'ec:P-256', 1, 2, x'30',"
	    " '/ks/a.p12', NULL, 1);"
	    "INSERT INTO certificates VALUES (9, 'u1', 'CN=Test CA', 'BB', 'F2',"
	    " 'encryption', 'revoked', 'CN=A', 'a@example.org', 'ec:P-256', 1, 2,"
	    " x'31', NULL, '/ar/b.p12', 1);"
	    "CREATE TABLE identity_addresses (uuid TEXT NOT NULL, address TEXT NOT NULL"
	    " COLLATE NOCASE, PRIMARY KEY (uuid, address));"
	    "INSERT INTO identity_addresses VALUES ('u1', 'a@example.org');"
	    "INSERT INTO certificate_addresses VALUES (7, 'a@example.org');"
	    "INSERT INTO certificate_addresses VALUES (9, 'a@example.org');"
	    "INSERT INTO revocations VALUES (9, 3, 1234);"
	    "INSERT INTO deliveries (cert_id, uuid) VALUES (7, 'u1');"
	    "CREATE TABLE published (uuid TEXT NOT NULL, attribute TEXT NOT NULL,"
	    " value BLOB NOT NULL, PRIMARY KEY (uuid, attribute, value));"
	    "INSERT INTO published VALUES ('u1', 'userCertificate;binary', x'30');"
	    "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER"
	    " NOT NULL, action TEXT NOT NULL, uuid TEXT, serial TEXT, detail TEXT);"
	    "PRAGMA user_version = 2;";
	struct cert_rows rows;

	store_close(st);
	st = NULL;
	snprintf(path, sizeof(path), "%s/v2.db", dir);
	ck_assert_int_eq(raw_exec(v2), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_int_eq(store_published_has(st, "u1", "userCertificate;binary",
	    "\x30", 1), 1);
	ck_assert_uint_eq(count(CQ_ADDRESS, "a@example.org"), 2);
	ck_assert_int_eq(store_cert_query(st, CQ_SERIAL, "BB", &rows), 0);
	ck_assert_int_eq(rows.v[0].id, 9);
	ck_assert_int_eq(rows.v[0].reason, 3);
	ck_assert_int_eq(rows.v[0].revoked_at, 1234);
	ck_assert_str_eq(rows.v[0].archive_path, "/ar/b.p12");
	cert_rows_free(&rows);
	ck_assert_int_eq(store_hold(st, 7, 3000), 0);
	ck_assert_uint_eq(count(CQ_UUID_ON_HOLD, "u1"), 1);
	ck_assert_int_eq(raw_exec("PRAGMA foreign_keys = ON; INSERT INTO revocations "
	    "VALUES (99, 1, 1)"), SQLITE_CONSTRAINT);
	/* Version 7's address tables: the same rows, WITHOUT ROWID, their
	 * constraints and collation kept. */
	ck_assert_int_eq(raw_count("SELECT count(*) FROM identity_addresses WHERE "
	    "uuid = 'u1' AND address = 'A@EXAMPLE.org'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM sqlite_schema WHERE name IN "
	    "('identity_addresses', 'certificate_addresses') AND sql LIKE "
	    "'%WITHOUT ROWID'"), 2);
	ck_assert_int_eq(raw_exec("PRAGMA foreign_keys = ON; INSERT INTO "
	    "certificate_addresses VALUES (99, 'x@example.org')"), SQLITE_CONSTRAINT);
}
END_TEST

/* The digests version 7 records of the values below (sha256sum of the
 * bytes, computed apart). */
#define SHA_CERT "ECEDA61045DB145D209DEBF0D245E44B5B1CC52E3C04266AA2A486FDB6A2B285"
#define SHA_P7 "03FBD36C05856BCA596B0BCB4466F4F30F0119A41BE2B9FCEBFA71D68178B116"

static int
count_digest(const char *attr, const char *hex)
{
	char sql[300];

	snprintf(sql, sizeof(sql), "SELECT count(*) FROM published_text WHERE uuid = 'u1' "
	    "AND attribute = '%s' AND digest = '%s'", attr, hex);
	return raw_count(sql);
}

/* Version 6's published table (whole values) with data opens as version 7
 * (digests, WITHOUT ROWID) with the same published set: what was ours to
 * remove still is, nothing else is. */
START_TEST(published_values_migrate_to_digests)
{
	static const unsigned char cert[] = { 0x30, 0x03, 0x02, 0x01, 0x07 };
	static const unsigned char other[] = { 0x30, 0x03, 0x02, 0x01, 0x08 };
	const char *cattr = "userCertificate;binary", *sattr = "userSMIMECertificate";
	int n = 0;

	store_close(st);
	st = NULL;
	ck_assert_int_eq(raw_exec(CERTS_V7 PUBLISHED_V6 SMIME_V6
	    "INSERT INTO published VALUES ('u1', 'userCertificate;binary', x'3003020107');"
	    "INSERT INTO published VALUES ('u1', 'userSMIMECertificate', CAST('p7' AS BLOB));"
	    "INSERT INTO published VALUES ('u2', 'userCertificate;binary', x'3003020108');"
	    "PRAGMA user_version = 6;"), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM published"), 3);
	ck_assert_int_eq(count_digest(cattr, SHA_CERT), 1);
	ck_assert_int_eq(count_digest(sattr, SHA_P7), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM sqlite_schema WHERE name = "
	    "'published' AND sql LIKE '%WITHOUT ROWID%'"), 1);
	ck_assert_int_eq(store_published_has(st, "u1", cattr, cert, sizeof(cert)), 1);
	ck_assert_int_eq(store_published_has(st, "u1", sattr, "p7", 2), 1);
	ck_assert_int_eq(store_published_has(st, "u2", cattr, other, sizeof(other)), 1);
	ck_assert_int_eq(store_published_has(st, "u1", cattr, other, sizeof(other)), 0);
	ck_assert_int_eq(store_published_has(st, "u2", cattr, cert, sizeof(cert)), 0);
	ck_assert_int_eq(store_published_each(st, "u1", cattr, count_value, &n), 0);
	ck_assert_int_eq(n, 1);
	/* Withdrawn as before: by the value. */
	ck_assert_int_eq(store_published(st, 0, "u1", cattr, cert, sizeof(cert)), 0);
	ck_assert_int_eq(store_published_has(st, "u1", cattr, cert, sizeof(cert)), 0);
	ck_assert_int_eq(count_digest(cattr, SHA_CERT), 0);
}
END_TEST

/* SHA-256 of row_init's DER, 30 03 02 01 01. */
#define SHA_DER "1B65F68A522C858715F5DD951CD0402DC16691778814BF0759822B7A257421D0"

/* A version 7 store with rows opens as version 8: every row, id,
 * fingerprint, key file path, revocation, reference and identity read
 * back as they were; a fingerprint that is its DER's and a path with the
 * keystore's own name are no longer stored as text. */
START_TEST(schema_7_migrates)
{
	struct cert_rows rows;
	struct identity_row got;

	store_close(st);
	st = NULL;
	ck_assert_int_eq(raw_exec(CERTS_V7
	    "INSERT INTO certificates VALUES (3, 'u1', 'CN=Test CA', 'AA', '" SHA_DER
	    "', 'signing', 'active', 'CN=A', 'a@example.org', 'ec:P-256', 1, 2,"
	    " x'3003020101', '/ks/signing-AA.p12', NULL, 1, NULL, NULL);"
	    "INSERT INTO certificates VALUES (5, 'u1', 'CN=Test CA', 'BB', 'F2',"
	    " 'encryption', 'revoked', 'CN=A', 'a@example.org', 'ec:P-256', 1, 2,"
	    " x'3003020101', NULL, '/ar/old/b.p12', 1, 'recovery-agents', x'3000');"
	    "INSERT INTO certificates VALUES (6, 'u2', 'CN=Other CA', 'AA', 'F3',"
	    " 'dual', 'superseded', 'CN=B', 'b@example.org', NULL, 1, 2, x'',"
	    " 'rel.p12', '/ar/dual-AA.p12', 1, 'password-file', NULL);"
	    "INSERT INTO revocations VALUES (5, 1, 1234);"
	    "INSERT INTO certificate_addresses VALUES (3, 'a@example.org'),"
	    " (5, 'a@example.org'), (6, 'b@example.org');"
	    "INSERT INTO deliveries (cert_id, uuid) VALUES (3, 'u1');"
	    "INSERT INTO identities (uuid, dn, mail, enabled, updated_at, uid) VALUES"
	    " ('u1', 'uid=a,dc=x', 'a@example.org', 1, 5, 'a');"
	    "PRAGMA user_version = 7;"), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_int_eq(store_cert_query(st, CQ_ALL, NULL, &rows), 0);
	ck_assert_uint_eq(rows.n, 3);
	ck_assert_int_eq(rows.v[0].id, 3);
	ck_assert_str_eq(rows.v[0].fingerprint, SHA_DER);
	ck_assert_str_eq(rows.v[0].keystore_path, "/ks/signing-AA.p12");
	ck_assert_ptr_null(rows.v[0].archive_path);
	ck_assert_int_eq(rows.v[1].id, 5);
	ck_assert_str_eq(rows.v[1].fingerprint, "F2");
	ck_assert_ptr_null(rows.v[1].keystore_path);
	ck_assert_str_eq(rows.v[1].archive_path, "/ar/old/b.p12");
	ck_assert_int_eq(rows.v[1].archive_protection, ARCHIVE_RECOVERY_AGENTS);
	ck_assert_uint_eq(rows.v[1].archive_bundle_len, 2);
	ck_assert_int_eq(rows.v[1].reason, 1);
	ck_assert_int_eq(rows.v[1].revoked_at, 1234);
	ck_assert_str_eq(rows.v[2].issuer, "CN=Other CA");
	ck_assert_str_eq(rows.v[2].fingerprint, "F3");
	ck_assert_uint_eq(rows.v[2].der_len, 0);
	ck_assert_str_eq(rows.v[2].keystore_path, "rel.p12");
	ck_assert_str_eq(rows.v[2].archive_path, "/ar/dual-AA.p12");
	ck_assert_ptr_null(rows.v[2].key_type);
	cert_rows_free(&rows);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE "
	    "fingerprint IS NULL"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE "
	    "keystore_file IS NULL AND keystore_dir IS NOT NULL"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM key_dirs"), 4);
	/* Looked up by serial (the unique index now leads with it), by issuer
	 * for the CRL, by address; the same serial under two issuers. */
	ck_assert_uint_eq(count(CQ_SERIAL, "AA"), 2);
	ck_assert_uint_eq(count(CQ_REVOKED, "CN=Test CA"), 1);
	ck_assert_uint_eq(count(CQ_KEY_LEFTOVERS, NULL), 1);
	ck_assert_int_eq(store_cert_serial_known(st, "BB"), 1);
	ck_assert_int_eq(raw_exec("INSERT INTO certificates (uuid, issuer_id, serial,"
	    " kind, status, subject, addresses, not_before, not_after, der, created_at)"
	    " VALUES ('u3', (SELECT id FROM issuers WHERE dn = 'CN=Test CA'), x'AA',"
	    " 'dual', 'active', 'CN=C', 'c@x', 1, 2, x'30', 1)"), SQLITE_CONSTRAINT);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM issuers"), 2);
	ck_assert_uint_eq(count(CQ_ADDRESS, "A@example.org"), 2);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM sqlite_schema WHERE name IN "
	    "('certificates_serial', 'certificates_v8', 'identities_v8')"), 0);
	ck_assert_int_eq(store_identity_get(st, "u1", &got), 1);
	ck_assert_str_eq(got.dn, "uid=a,dc=x");
	ck_assert_str_eq(got.uid, "a");
	identity_row_free(&got);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM sqlite_schema WHERE name = "
	    "'identities' AND sql LIKE '%WITHOUT ROWID'"), 1);
	/* The references still hold, and are still enforced. */
	ck_assert_int_eq(raw_count("SELECT count(*) FROM pragma_foreign_key_check"), 0);
	ck_assert_int_eq(raw_exec("PRAGMA foreign_keys = ON; INSERT INTO revocations "
	    "VALUES (99, 1, 1)"), SQLITE_CONSTRAINT);
	/* A path moved keeps its name; one to a new directory is recorded. */
	ck_assert_int_eq(store_cert_set_paths(st, 3, NULL, "/ar2/signing-AA.p12"), 0);
	ck_assert_int_eq(store_cert_query(st, CQ_SERIAL, "BB", &rows), 0);
	cert_rows_free(&rows);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE id = 3 AND "
	    "keystore_dir IS NULL AND archive_file IS NULL AND archive_dir = "
	    "(SELECT id FROM key_dirs WHERE path = '/ar2/')"), 1);
}
END_TEST

/* Version 8's views, as migration 8 made them. */
#define VIEWS_V8 "CREATE VIEW certificate_files AS SELECT c.id, c.serial, " \
	KEY_PATH_V8("keystore_dir", "keystore_file") " AS keystore_path, " \
	KEY_PATH_V8("archive_dir", "archive_file") " AS archive_path FROM certificates c;" \
	"CREATE VIEW audit_text AS SELECT id, at, action, CASE WHEN typeof(uuid) =" \
	" 'blob' AND length(uuid) = 16 THEN lower(substr(hex(uuid), 1, 8) || '-' ||" \
	" substr(hex(uuid), 9, 4) || '-' || substr(hex(uuid), 13, 4) || '-' ||" \
	" substr(hex(uuid), 17, 4) || '-' || substr(hex(uuid), 21)) WHEN typeof(uuid)" \
	" = 'blob' THEN hex(uuid) ELSE uuid END AS uuid, CASE WHEN typeof(serial) =" \
	" 'blob' THEN hex(serial) ELSE serial END AS serial, detail FROM audit;"

#define U1 "0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0"
#define U1_HEX "0F1E2D3C4B5A69788796A5B4C3D2E1F0"
#define S1 "44171F7B57A7529898F1838CC20317D98017B80D"
#define FP_SIGN "signing certificate signed for a@example.org (fingerprint " SHA_DER ")"

static void
audit_at_line(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail)
{
	char *out = arg;
	size_t n = strlen(out);

	snprintf(out + n, 2048 - n, "%lld|%s|%s|%s|%s\n", (long long)at, action,
	    uuid ? uuid : "-", serial ? serial : "-", detail ? detail : "-");
}

/* A version 8 store with rows opens as version 9: every certificate,
 * published value and audit record reads back as the same text; usual
 * uuids and serials are bytes now, and the rest stays text; the views
 * an admin reads give the text. */
START_TEST(schema_8_migrates)
{
	struct cert_rows rows;
	struct identity_row got;
	char trail[2048] = "", *owner = NULL;

	store_close(st);
	st = NULL;
	ck_assert_int_eq(raw_exec(V9_BACK VIEWS_V8
	    "INSERT INTO issuers (id, dn) VALUES (1, 'CN=Test CA');"
	    "INSERT INTO key_dirs (id, path) VALUES (1, '/ks/');"
	    "INSERT INTO certificates (id, uuid, issuer_id, serial, kind, status,"
	    " subject, addresses, key_type, not_before, not_after, der, keystore_dir,"
	    " created_at) VALUES (3, '" U1 "', 1, '" S1 "', 'signing', 'active',"
	    " 'CN=A', 'a@example.org', 'ec:P-256', 1, 2, x'3003020101', 1, 1),"
	    " (4, 'U-Other', 1, 'ab1', 'encryption', 'active', 'CN=A',"
	    " 'a@example.org', 'ec:P-256', 1, 2, x'3003020102', 1, 1);"
	    "INSERT INTO revocations VALUES (4, 1, 1234);"
	    "INSERT INTO certificate_addresses VALUES (3, 'a@example.org'),"
	    " (4, 'a@example.org');"
	    "INSERT INTO published VALUES ('" U1 "', 'userCertificate;binary',"
	    " x'" SHA_DER "'), ('U-Other', 'x-own', x'" SHA_DER "');"
	    "INSERT INTO audit (at, action, uuid, serial, detail) VALUES"
	    " (7, 'sign', x'" U1_HEX "', x'" S1 "', '" FP_SIGN "'),"
	    " (8, 'issue', '" U1 "', '" S1 "', 'old text record'),"
	    " (9, 'sign', 'U-Other', 'ab1', 'encryption certificate signed for"
	    " a@example.org (fingerprint F2)');"
	    "INSERT INTO identities (uuid, dn, mail, enabled, updated_at, uid) VALUES"
	    " ('" U1 "', 'uid=a,dc=x', 'a@example.org', 1, 5, 'a'),"
	    " ('U-Other', 'uid=b,dc=x', 'b@example.org', 1, 5, 'b');"
	    "INSERT INTO identity_addresses VALUES ('" U1 "', 'a@example.org'),"
	    " ('U-Other', 'b@example.org');"
	    "PRAGMA user_version = 8;"), SQLITE_OK);
	ck_assert_int_eq(store_open(path, &st), 0);
	ck_assert_int_eq(store_schema_version(st), SCHEMA);
	ck_assert_int_eq(store_identity_get(st, U1, &got), 1);
	ck_assert_str_eq(got.uuid, U1);
	ck_assert_str_eq(got.dn, "uid=a,dc=x");
	identity_row_free(&got);
	ck_assert_int_eq(store_address_owner(st, "A@example.org", "U-Other", &owner), 1);
	ck_assert_str_eq(owner, U1 " (uid=a,dc=x)");
	free(owner);
	ck_assert_int_eq(store_address_owner(st, "b@example.org", U1, &owner), 1);
	ck_assert_str_eq(owner, "U-Other (uid=b,dc=x)");
	free(owner);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM identities WHERE"
	    " uuid = x'" U1_HEX "'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM identity_addresses WHERE"
	    " uuid = x'" U1_HEX "'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM identities_text WHERE"
	    " uuid = '" U1 "' AND uid = 'a'"), 1);
	ck_assert_int_eq(store_cert_query(st, CQ_ALL, NULL, &rows), 0);
	ck_assert_uint_eq(rows.n, 2);
	ck_assert_str_eq(rows.v[0].uuid, U1);
	ck_assert_str_eq(rows.v[0].serial, S1);
	ck_assert_str_eq(rows.v[0].keystore_path, "/ks/signing-" S1 ".p12");
	ck_assert_str_eq(rows.v[1].uuid, "U-Other");
	ck_assert_str_eq(rows.v[1].serial, "ab1");
	ck_assert_str_eq(rows.v[1].keystore_path, "/ks/encryption-ab1.p12");
	ck_assert_int_eq(rows.v[1].revoked_at, 1234);
	cert_rows_free(&rows);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE"
	    " uuid = x'" U1_HEX "' AND serial = x'" S1 "'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates WHERE"
	    " uuid = 'U-Other' AND serial = 'ab1'"), 1);
	ck_assert_uint_eq(count(CQ_UUID_ACTIVE, U1), 1);
	ck_assert_uint_eq(count(CQ_SERIAL, S1), 1);
	ck_assert_uint_eq(count(CQ_SERIAL, "ab1"), 1);
	ck_assert_int_eq(store_cert_serial_known(st, S1), 1);
	/* Published: the same set, what is ours is still ours. */
	ck_assert_int_eq(raw_count("SELECT count(*) FROM published"), 2);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM published WHERE"
	    " uuid = x'" U1_HEX "' AND attribute = 1"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM published_text WHERE"
	    " uuid = '" U1 "' AND attribute = 'userCertificate;binary' AND"
	    " digest = '" SHA_DER "'"), 1);
	ck_assert_int_eq(store_published_has(st, U1, "userCertificate;binary",
	    "\x30\x03\x02\x01\x01", 5), 1);
	ck_assert_int_eq(store_published_has(st, "U-Other", "x-own",
	    "\x30\x03\x02\x01\x01", 5), 1);
	/* The trail reads as it was written; a new sign record keeps its
	 * fingerprint as bytes and reads the same. */
	ck_assert_int_eq(store_audit(st, "sign", U1, S1, "%s", FP_SIGN), 0);
	ck_assert_int_eq(store_audit_each(st, 0, audit_at_line, trail), 0);
	{
		static const char before[] = "7|sign|" U1 "|" S1 "|" FP_SIGN "\n"
		    "8|issue|" U1 "|" S1 "|old text record\n"
		    "9|sign|U-Other|ab1|encryption certificate signed for"
		    " a@example.org (fingerprint F2)\n";
		const char *last = trail + sizeof(before) - 1;

		ck_assert_int_eq(strncmp(trail, before, sizeof(before) - 1), 0);
		ck_assert_ptr_nonnull(strstr(last, "|sign|" U1 "|" S1 "|" FP_SIGN "\n"));
	}
	ck_assert_int_eq(raw_count("SELECT count(*) FROM audit WHERE digest = x'"
	    SHA_DER "' AND detail = 'signing certificate signed for a@example.org'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM audit_text WHERE detail = '"
	    FP_SIGN "'"), 2);
	/* Every action certsync writes reads back by its name (kept as a
	 * number), and another action as it is. */
	{
		static const char *const actions[] = { "crl", "plan", "sign", "issue",
		    "publish", "done", "revoke", "archive", "unpublish", "republish",
		    "recover", "deliver", "hold", "unhold", "lift", "held", "release",
		    "retry", "something-new" };
		char sql[160];

		for (size_t k = 0; k < sizeof(actions) / sizeof(actions[0]); k++) {
			ck_assert_int_eq(store_audit(st, actions[k], NULL, NULL, "k%zu", k), 0);
			snprintf(sql, sizeof(sql), "SELECT count(*) FROM audit_text WHERE "
			    "action = '%s' AND detail = 'k%zu'", actions[k], k);
			ck_assert_int_eq(raw_count(sql), 1);
		}
		ck_assert_int_eq(raw_count("SELECT count(*) FROM audit WHERE "
		    "length(action) <= 2"), 18 + 1);	/* and the sign record above */
	}
	/* Admins' views: text. */
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificates_text WHERE"
	    " uuid = '" U1 "' AND serial = '" S1 "' AND keystore_path ="
	    " '/ks/signing-" S1 ".p12'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM certificate_files WHERE"
	    " serial = 'ab1' AND keystore_path = '/ks/encryption-ab1.p12'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM pragma_foreign_key_check"), 0);
}
END_TEST

/* A SignedData of the shape smime_value.c makes, cut down: ContentInfo {
 * id-signedData, [0] { SignedData { version 1, digestAlgorithms {},
 * encapContentInfo { id-data }, certificates [0] { CERT, 30 03 02 01 09 },
 * signerInfos {} } } }; CERT is row_init's DER. */
static const unsigned char signed_data[] = {
	0x30, 0x2f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
	0xa0, 0x22, 0x30, 0x20, 0x02, 0x01, 0x01, 0x31, 0x00,
	0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
	0xa0, 0x0a, 0x30, 0x03, 0x02, 0x01, 0x01, 0x30, 0x03, 0x02, 0x01, 0x09,
	0x31, 0x00,
};

static void
smime_round_trip(int64_t cert_id)
{
	unsigned char *got = NULL;
	size_t len = 0;

	ck_assert_int_eq(store_cert_smime_get(st, cert_id, &got, &len), 1);
	ck_assert_uint_eq(len, sizeof(signed_data));
	ck_assert_int_eq(memcmp(got, signed_data, len), 0);
	free(got);
}

/* A certificate cut down to what name_serial() walks: tbs { [0] { 2 },
 * serial 01 07, algorithm {}, issuer { { { 06 00 } } } }; and a SignedData
 * carrying it whose one signer names it by that issuer and serial. */
static const unsigned char named_cert[] = {
	0x30, 0x15, 0x30, 0x13, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x02, 0x01, 0x07,
	0x30, 0x00, 0x30, 0x06, 0x31, 0x04, 0x30, 0x02, 0x06, 0x00,
};
static const unsigned char named_data[] = {
	0x30, 0x4f, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
	0xa0, 0x42, 0x30, 0x40, 0x02, 0x01, 0x01, 0x31, 0x00,
	0x30, 0x0b, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
	0xa0, 0x17,
	0x30, 0x15, 0x30, 0x13, 0xa0, 0x03, 0x02, 0x01, 0x02, 0x02, 0x02, 0x01, 0x07,
	0x30, 0x00, 0x30, 0x06, 0x31, 0x04, 0x30, 0x02, 0x06, 0x00,
	0x31, 0x13, 0x30, 0x11, 0x02, 0x01, 0x01, 0x30, 0x0c,
	0x30, 0x06, 0x31, 0x04, 0x30, 0x02, 0x06, 0x00, 0x02, 0x02, 0x01, 0x07,
};

/* Since schema 9 a value's IssuerAndSerialNumber of one of the user's
 * certificates is a hole too, filled from that row's DER; byte for byte
 * back. */
START_TEST(smime_value_stored_without_issuer_and_serial)
{
	struct cert_row r;
	unsigned char *got = NULL;
	size_t len = 0;
	char want[160];

	ck_assert_uint_eq(sizeof(named_data), 81);
	row_init(&r, "u1", "0107", CERT_KIND_SIGNING, "a@example.org");
	r.der = (unsigned char *)named_cert;
	r.der_len = sizeof(named_cert);
	ck_assert_int_eq(store_cert_insert(st, &r), 0);
	ck_assert_int_eq(store_cert_smime_put(st, r.id, named_data, sizeof(named_data)), 0);
	ck_assert_int_eq(store_cert_smime_get(st, r.id, &got, &len), 1);
	ck_assert_uint_eq(len, sizeof(named_data));
	ck_assert_int_eq(memcmp(got, named_data, len), 0);
	free(got);
	snprintf(want, sizeof(want), "SELECT count(*) FROM smime_values WHERE "
	    "length(value) = 46 AND parts = 'c%lld@37 n%lld@69'", (long long)r.id,
	    (long long)r.id);
	ck_assert_int_eq(raw_count(want), 1);
}
END_TEST

/* An S/MIME value is stored without the certificates it carries: the
 * user's one as a reference to its row, the other (the CA's) once for
 * every value; read back byte for byte.  Without what fills a hole it is
 * an error, not another value. */
START_TEST(smime_value_stored_without_its_certificates)
{
	int64_t a = insert("u1", "AA", CERT_KIND_SIGNING, "a@example.org");
	int64_t b = insert("u2", "BB", CERT_KIND_SIGNING, "b@example.org");
	unsigned char *got = NULL;
	size_t len = 0;

	ck_assert_uint_eq(sizeof(signed_data), 49);
	ck_assert_int_eq(store_cert_smime_put(st, a, signed_data, sizeof(signed_data)), 0);
	ck_assert_int_eq(store_cert_smime_put(st, b, signed_data, sizeof(signed_data)), 0);
	smime_round_trip(a);
	smime_round_trip(b);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM smime_values WHERE "
	    "length(value) = 39 AND parts LIKE 'c%@37 s1@42'"), 2);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM smime_certs WHERE "
	    "der = x'3003020109'"), 1);
	ck_assert_int_eq(raw_count("SELECT count(*) FROM smime_certs"), 1);
	ck_assert_int_eq(raw_exec("DELETE FROM smime_certs"), SQLITE_OK);
	ck_assert_int_eq(store_cert_smime_get(st, a, &got, &len), -1);
	ck_assert_ptr_null(got);
}
END_TEST

/* ---- the safety catch, through the planner ------------------------------ */

static struct conf gate_conf;
static struct plan_ctx gate_plan;

/* n users u0.. with a DN and an active dual certificate each. */
static void
gate_setup(int n)
{
	memset(&gate_conf, 0, sizeof(gate_conf));
	gate_conf.reconcile.max_revoke = (struct threshold){ 1, 500 };
	gate_conf.reconcile.hold_days = 7;
	gate_conf.certificates.mode = CERT_MODE_DUAL;
	gate_conf.publish.certificate_attribute = (char *)"userCertificate;binary";
	memset(&gate_plan, 0, sizeof(gate_plan));
	gate_plan.conf = &gate_conf;
	gate_plan.st = st;
	for (int i = 0; i < n; i++) {
		char uuid[16], mail[64], serial[16];
		struct identity_row id = { .uuid = uuid, .dn = (char *)"uid=x,dc=x",
		    .mail = mail, .display_name = (char *)"X", .enabled = 1 };

		snprintf(uuid, sizeof(uuid), "u%d", i);
		snprintf(mail, sizeof(mail), "u%d@example.org", i);
		snprintf(serial, sizeof(serial), "%X", 0x100 + i);
		ck_assert_int_eq(store_identity_put(st, &id), 0);
		insert(uuid, serial, CERT_KIND_DUAL, mail);
	}
}

static size_t
jobs(void)
{
	size_t n = 0;
	struct job_row job;

	for (int i = 0; i < 20; i++) {
		char uuid[16];

		snprintf(uuid, sizeof(uuid), "u%d", i);
		if (store_job_get(st, uuid, &job) == 1) {
			ck_assert_str_eq(job.action, "hold");
			job_row_free(&job);
			n++;
		}
	}
	return n;
}

static size_t
held_n(void)
{
	struct held_rows rows;
	size_t n;

	ck_assert_int_eq(store_removals(st, 0, &rows), 0);
	n = rows.n;
	held_rows_free(&rows);
	return n;
}

/* A sweep that finds nobody: every departure held, none planned; seen
 * again: dropped; released: planned as decided. */
START_TEST(gate_holds_an_empty_sweep)
{
	struct uuid_set seen = { 0 };
	struct held_rows rows;
	size_t n = 0;

	gate_setup(10);
	ck_assert_int_eq(plan_sweep(&gate_plan, &seen), 0);
	plan_flush(&gate_plan);
	ck_assert_uint_eq(jobs(), 0);
	ck_assert_uint_eq(held_n(), 10);
	ck_assert_int_eq(store_removals(st, 0, &rows), 0);
	ck_assert_ptr_nonnull(strstr(rows.v[0].pass, "found 0 of the 10 known users"));
	ck_assert_str_eq(rows.v[0].action, "hold");
	ck_assert_str_eq(rows.v[0].reason, "certificateHold");
	ck_assert_int_gt(rows.v[0].held_at, 0);
	held_rows_free(&rows);
	ck_assert_uint_eq(count(CQ_UUID_ACTIVE, "u0"), 1);
	/* The same pass again: still held, still nothing planned. */
	ck_assert_int_eq(plan_sweep(&gate_plan, &seen), 0);
	plan_flush(&gate_plan);
	ck_assert_uint_eq(jobs(), 0);
	ck_assert_uint_eq(held_n(), 10);
	/* Seen again: dropped. */
	ck_assert_int_eq(plan_gate_seen(&gate_plan, "u3"), 0);
	ck_assert_uint_eq(gate_plan.back, 1);
	plan_flush(&gate_plan);
	ck_assert_uint_eq(held_n(), 9);
	/* One released, then the rest. */
	ck_assert_int_eq(plan_release(st, "u4", &n), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_uint_eq(jobs(), 1);
	ck_assert_int_eq(plan_release(st, NULL, &n), 0);
	ck_assert_uint_eq(n, 8);
	ck_assert_uint_eq(jobs(), 9);
	ck_assert_uint_eq(held_n(), 0);
}
END_TEST

/* A sweep within the limit goes ahead; one that later finds a held user
 * still gone, within the limit, lets it go too. */
START_TEST(gate_lets_a_few_through)
{
	struct uuid_set seen = { 0 };

	gate_setup(10);
	for (int i = 0; i < 7; i++) {
		char uuid[16];

		snprintf(uuid, sizeof(uuid), "u%d", i);
		uuid_set_add(&seen, uuid);
	}
	ck_assert_int_eq(plan_sweep(&gate_plan, &seen), 0);
	plan_flush(&gate_plan);
	ck_assert_uint_eq(jobs(), 3);
	ck_assert_uint_eq(held_n(), 0);
	uuid_set_clear(&seen);
}
END_TEST

/* Single departures add up within the window: the fourth within the hour
 * of ten known users is held. */
START_TEST(gate_window_catches_a_stream)
{
	gate_setup(10);
	for (int i = 0; i < 5; i++) {
		char uuid[16];

		snprintf(uuid, sizeof(uuid), "u%d", i);
		ck_assert_int_eq(plan_gone(&gate_plan, uuid), 0);
		plan_flush(&gate_plan);
	}
	ck_assert_uint_eq(jobs(), 3);
	ck_assert_uint_eq(held_n(), 2);
}
END_TEST

/* Two users, both gone at once: held though the floor is three. */
START_TEST(gate_holds_everyone)
{
	gate_setup(2);
	ck_assert_int_eq(plan_gone(&gate_plan, "u0"), 0);
	ck_assert_int_eq(plan_gone(&gate_plan, "u1"), 0);
	plan_flush(&gate_plan);
	ck_assert_uint_eq(jobs(), 0);
	ck_assert_uint_eq(held_n(), 2);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("store");
	TCase *tc = tcase_create("sqlite");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, schema_and_wal);
	tcase_add_test(tc, key_leftovers_streamed);
	tcase_add_test(tc, new_store_opened_at_once);
	tcase_add_test(tc, newer_schema_refused);
	tcase_add_test(tc, archive_protection_recorded);
	tcase_add_test(tc, archive_protection_migrated);
	tcase_add_test(tc, smime_value_kept_and_migrated);
	tcase_add_test(tc, certificate_queries);
	tcase_add_test(tc, duplicate_serial_refused);
	tcase_add_test(tc, revocation_idempotent);
	tcase_add_test(tc, crl_numbers_monotonic);
	tcase_add_test(tc, crl_pending_until_written);
	tcase_add_test(tc, audit_append_only);
	tcase_add_test(tc, transactions_roll_back);
	tcase_add_test(tc, read_transaction_takes_no_write_lock);
	tcase_add_test(tc, identities_jobs_checkpoints);
	tcase_add_test(tc, published_value_lookup);
	tcase_add_test(tc, unpublish_keeps_certificates_valid);
	tcase_add_test(tc, signed_but_not_recorded);
	tcase_add_test(tc, replanning_keeps_keys);
	tcase_add_test(tc, holds_are_the_reversible_revocation);
	tcase_add_test(tc, holds_due);
	tcase_add_test(tc, schema_2_migrates);
	tcase_add_test(tc, published_values_migrate_to_digests);
	tcase_add_test(tc, schema_7_migrates);
	tcase_add_test(tc, schema_8_migrates);
	tcase_add_test(tc, smime_value_stored_without_issuer_and_serial);
	tcase_add_test(tc, audit_uuid_serial_packed);
	tcase_add_test(tc, smime_value_stored_without_its_certificates);
	tcase_add_test(tc, gate_holds_an_empty_sweep);
	tcase_add_test(tc, gate_lets_a_few_through);
	tcase_add_test(tc, gate_window_catches_a_stream);
	tcase_add_test(tc, gate_holds_everyone);
	tcase_add_test(tc, parked_jobs);
	tcase_add_test(tc, migrates_from_version_3);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
