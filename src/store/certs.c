/*
 * certs.c - certificates, the addresses they name, and their revocations.
 *
 * Owns: the certificates table (the DER, the status, where the key files
 * are and how the archive file is protected; since schema 8 with the
 * issuers and key_dirs it refers to, and a fingerprint read from the DER
 * rather than stored), the address index behind
 * `certsyncctl show EMAIL`, and the revocations (each marks the CRL
 * pending in the same transaction).  (The userSMIMECertificate value kept
 * with an issue's signing certificate: smime.c.)
 * Holds among the revocations: a certificate on hold is stored as what
 * the CRL says it is, a revocation with reason certificateHold (its status
 * column says revoked; read back, CERT_ON_HOLD), the one revocation that
 * can be lifted (the row goes) or made final (its reason changes, its date
 * stays).
 * Never: deletes a certificate row, or changes a final revocation once
 * made: a second revocation of the same certificate keeps the first's
 * reason and time.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/x509v3.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

/* One word each: certsyncctl list prints them in a column scripts split.
 * "on-hold" is never stored (see above). */
static const char *const status_names[] = { "pending", "active", "superseded", "revoked",
    "on-hold" };

/* certificateHold (RFC 5280 CRLReason 6), as the SQL spells it. */
#define HOLD_SQL "6"
_Static_assert(CRL_REASON_CERTIFICATE_HOLD == 6, "certificateHold is reason 6");
/* A certificate on hold, and one that is current (active, or on hold). */
#define ON_HOLD_SQL "(c.status = 'revoked' AND r.reason = " HOLD_SQL ")"

const char *
cert_status_name(enum cert_status status)
{
	return status_names[status];
}

static int
insert_addresses(struct store *st, int64_t id, const char *joined)
{
	char *copy, *save = NULL, *a;
	int rc = 0;

	if ((copy = strdup(joined)) == NULL)
		fatal("out of memory");
	for (a = strtok_r(copy, ", ", &save); a != NULL && rc == 0;
	    a = strtok_r(NULL, ", ", &save)) {
		sqlite3_stmt *stmt = db_prepare(st, "INSERT OR IGNORE INTO "
		    "certificate_addresses (cert_id, address) VALUES (?, ?)");

		if (stmt == NULL) {
			rc = -1;
			break;
		}
		sqlite3_bind_int64(stmt, 1, id);
		db_bind_text(stmt, 2, a);
		rc = db_step_done(st, stmt, "insert certificate address");
	}
	free(copy);
	return rc;
}

/* The upper-case hex SHA-256 of der (caller frees), as certinfo spells a
 * fingerprint. */
static char *
der_fingerprint(const unsigned char *der, size_t len)
{
	static const char digits[] = "0123456789ABCDEF";
	unsigned char digest[STORE_DIGEST_LEN];
	char *hex;

	store_value_digest(der, len, digest);
	if ((hex = malloc(2 * STORE_DIGEST_LEN + 1)) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < STORE_DIGEST_LEN; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 0xf];
	}
	hex[2 * STORE_DIGEST_LEN] = '\0';
	return hex;
}

/* The fingerprint to store: NULL when it is der's (read back from the
 * DER), which is every row but one recorded without its DER
 * (job_unrecorded.c).  fp is the caller's to free. */
static const char *
fingerprint_to_store(const struct cert_row *row, char **fp)
{
	*fp = NULL;
	if (row->fingerprint == NULL || row->der_len == 0)
		return row->fingerprint;
	*fp = der_fingerprint(row->der, row->der_len);
	return strcmp(*fp, row->fingerprint) == 0 ? NULL : row->fingerprint;
}

/*
 * A key file's path split as the certificates table keeps it (schema 8):
 * *dir (caller frees; NULL for no path) up to its last '/', recorded in
 * key_dirs, and *file pointing at the rest, in path.  0, or -1.
 */
static int
key_dir(struct store *st, const char *path, char **dir, const char **file)
{
	const char *slash;
	sqlite3_stmt *stmt;
	size_t n;

	*dir = NULL;
	*file = NULL;
	if (path == NULL)
		return 0;
	slash = strrchr(path, '/');
	n = slash != NULL ? (size_t)(slash - path) + 1 : 0;
	if ((*dir = strndup(path, n)) == NULL)
		fatal("out of memory");
	*file = path + n;
	if ((stmt = db_prepare(st, "INSERT OR IGNORE INTO key_dirs (path) VALUES (?)")) == NULL)
		return -1;
	db_bind_text(stmt, 1, *dir);
	return db_step_done(st, stmt, "record a key directory");
}

/* The issuer's name in issuers (schema 8), which rows refer to by id.
 * 0, or -1. */
static int
note_issuer(struct store *st, const char *dn)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT OR IGNORE INTO issuers (dn) VALUES (?)");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, dn);
	return db_step_done(st, stmt, "record an issuer");
}

/* A key file's directory and name as bound: ?dir, ?file give the columns
 * (a name that is the keystore's own, <kind>-<serial>.p12, stored NULL). */
#define DIR_ID(p) "(SELECT id FROM key_dirs WHERE path = " p ")"
#define FILE_OF(p, kind, serial) "nullif(" p ", " kind " || '-' || " serial " || '.p12')"

/* Binds the protection (NULL without an archive file) at i, the bundle at
 * i + 1. */
static void
bind_archive(sqlite3_stmt *stmt, int i, int archived, enum archive_protection p,
    const unsigned char *bundle, size_t len)
{
	db_bind_text(stmt, i, archived ? archive_protection_name(p) : NULL);
	if (bundle != NULL)
		sqlite3_bind_blob(stmt, i + 1, bundle, (int)len, SQLITE_TRANSIENT);
	else
		sqlite3_bind_null(stmt, i + 1);
}

/* The INSERT for store_cert_insert(): ?2 the issuer's name (in issuers
 * already), ?13 to ?16 the key files' directories and names (key_dir()). */
static sqlite3_stmt *
prepare_insert(struct store *st)
{
	return db_prepare(st, "INSERT INTO certificates (uuid, issuer_id, serial, "
	    "fingerprint, kind, status, subject, addresses, key_type, not_before, "
	    "not_after, der, keystore_dir, keystore_file, archive_dir, archive_file, "
	    "created_at, archive_protection, archive_bundle) VALUES "
	    "(?1, (SELECT id FROM issuers WHERE dn = ?2), ?3, ?4, ?5, ?6, ?7, ?8, ?9, "
	    "?10, ?11, ?12, " DIR_ID("?13") ", "
	    FILE_OF("?14", "?5", SERIAL_TEXT_SQL("?3")) ", " DIR_ID("?15") ", "
	    FILE_OF("?16", "?5", SERIAL_TEXT_SQL("?3")) ", ?17, ?18, ?19)");
}

int
store_cert_insert(struct store *st, struct cert_row *row)
{
	char *ks_dir = NULL, *ar_dir = NULL, *fp = NULL;
	const char *ks_file, *ar_file;
	sqlite3_stmt *stmt = NULL;
	int rc = -1;

	if (store_begin(st) == -1)
		return -1;
	if (note_issuer(st, row->issuer) == -1 ||
	    key_dir(st, row->keystore_path, &ks_dir, &ks_file) == -1 ||
	    key_dir(st, row->archive_path, &ar_dir, &ar_file) == -1 ||
	    (stmt = prepare_insert(st)) == NULL)
		goto done;
	db_bind_packed(stmt, 1, row->uuid, 1);
	db_bind_text(stmt, 2, row->issuer);
	db_bind_packed(stmt, 3, row->serial, 0);
	db_bind_text(stmt, 4, fingerprint_to_store(row, &fp));
	db_bind_text(stmt, 5, cert_kind_name(row->kind));
	db_bind_text(stmt, 6, cert_status_name(row->status));
	db_bind_text(stmt, 7, row->subject);
	db_bind_text(stmt, 8, row->addresses);
	db_bind_text(stmt, 9, row->key_type);
	sqlite3_bind_int64(stmt, 10, row->not_before);
	sqlite3_bind_int64(stmt, 11, row->not_after);
	sqlite3_bind_blob(stmt, 12, row->der, (int)row->der_len, SQLITE_TRANSIENT);
	db_bind_text(stmt, 13, ks_dir);
	db_bind_text(stmt, 14, ks_file);
	db_bind_text(stmt, 15, ar_dir);
	db_bind_text(stmt, 16, ar_file);
	sqlite3_bind_int64(stmt, 17, row->created_at);
	bind_archive(stmt, 18, row->archive_path != NULL, row->archive_protection,
	    row->archive_bundle, row->archive_bundle_len);
	rc = db_step_done(st, stmt, "insert certificate");
	stmt = NULL;
	if (rc == 0) {
		row->id = sqlite3_last_insert_rowid(st->db);
		rc = insert_addresses(st, row->id, row->addresses);
	}
done:
	if (stmt != NULL)
		db_release(st, stmt);
	free(ks_dir);
	free(ar_dir);
	free(fp);
	if (rc == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

#define CERT_COLUMNS \
	"c.id, c.uuid, (SELECT i.dn FROM issuers i WHERE i.id = c.issuer_id), " \
	"c.serial, c.fingerprint, c.kind, c.status, " \
	"c.subject, c.addresses, c.key_type, c.not_before, c.not_after, c.der, " \
	KEY_PATH_SQL("c.keystore_dir", "c.keystore_file") ", " \
	KEY_PATH_SQL("c.archive_dir", "c.archive_file") ", " \
	"c.created_at, r.reason, r.revoked_at, c.archive_protection, c.archive_bundle"

#define CERT_FROM \
	" FROM certificates c LEFT JOIN revocations r ON r.cert_id = c.id "

/* The protection at i (a row from before it was recorded, or an unknown
 * word, reads as the password file: all there was), the bundle at i + 1. */
static void
read_archive(sqlite3_stmt *stmt, int i, struct cert_row *row)
{
	const unsigned char *p = (const unsigned char *)sqlite3_column_text(stmt, i);
	const void *blob = sqlite3_column_blob(stmt, i + 1);
	int prot = p != NULL ? archive_protection_parse((const char *)p) : -1;

	row->archive_protection = prot == -1 ? ARCHIVE_PASSWORD_FILE :
	    (enum archive_protection)prot;
	row->archive_bundle_len = (size_t)sqlite3_column_bytes(stmt, i + 1);
	if (blob == NULL || row->archive_bundle_len == 0) {
		row->archive_bundle_len = 0;
		return;
	}
	if ((row->archive_bundle = malloc(row->archive_bundle_len)) == NULL)
		fatal("out of memory");
	memcpy(row->archive_bundle, blob, row->archive_bundle_len);
}

static void
read_cert_row(sqlite3_stmt *stmt, struct cert_row *row)
{
	const void *blob;
	char *kind, *status;

	memset(row, 0, sizeof(*row));
	row->id = sqlite3_column_int64(stmt, 0);
	row->uuid = db_col_packed(stmt, 1, 1);
	row->issuer = db_col_text(stmt, 2);
	row->serial = db_col_packed(stmt, 3, 0);
	row->fingerprint = db_col_text(stmt, 4);
	kind = db_col_text(stmt, 5);
	status = db_col_text(stmt, 6);
	row->kind = (enum cert_kind)cert_kind_parse(kind);
	row->status = CERT_REVOKED;
	for (int i = 0; i <= CERT_REVOKED; i++)
		if (strcmp(status, status_names[i]) == 0)
			row->status = (enum cert_status)i;
	free(kind);
	free(status);
	row->subject = db_col_text(stmt, 7);
	row->addresses = db_col_text(stmt, 8);
	row->key_type = db_col_text(stmt, 9);
	row->not_before = sqlite3_column_int64(stmt, 10);
	row->not_after = sqlite3_column_int64(stmt, 11);
	row->der_len = (size_t)sqlite3_column_bytes(stmt, 12);
	blob = sqlite3_column_blob(stmt, 12);
	if ((row->der = malloc(row->der_len ? row->der_len : 1)) == NULL)
		fatal("out of memory");
	if (row->der_len)
		memcpy(row->der, blob, row->der_len);
	if (row->fingerprint == NULL && row->der_len > 0)
		row->fingerprint = der_fingerprint(row->der, row->der_len);
	row->keystore_path = db_col_text(stmt, 13);
	row->archive_path = db_col_text(stmt, 14);
	row->created_at = sqlite3_column_int64(stmt, 15);
	row->reason = sqlite3_column_type(stmt, 16) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(stmt, 16);
	row->revoked_at = sqlite3_column_int64(stmt, 17);
	if (row->status == CERT_REVOKED && row->reason == CRL_REASON_CERTIFICATE_HOLD)
		row->status = CERT_ON_HOLD;
	read_archive(stmt, 18, row);
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
	case CQ_UUID_ON_HOLD:
		return "SELECT " CERT_COLUMNS CERT_FROM
		    "WHERE c.uuid = ?1 AND " ON_HOLD_SQL " ORDER BY c.id";
	case CQ_UUID_CURRENT:
		return "SELECT " CERT_COLUMNS CERT_FROM
		    "WHERE c.uuid = ?1 AND (c.status = 'active' OR " ON_HOLD_SQL ") "
		    "ORDER BY c.id";
	case CQ_SERIAL:
		return "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.serial = ?1 ORDER BY c.id";
	case CQ_ADDRESS:
		return "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.id IN (SELECT cert_id "
		    "FROM certificate_addresses WHERE address = ?1) ORDER BY c.id";
	case CQ_KEY_LEFTOVERS:
		return "SELECT " CERT_COLUMNS CERT_FROM "WHERE c.status IN ('superseded', "
		    "'revoked') AND c.archive_dir IS NOT NULL AND c.keystore_dir IS NULL "
		    "ORDER BY c.id";
	case CQ_REVOKED:
	default:
		/* From the revocations: there are fewer of them. */
		return "SELECT " CERT_COLUMNS " FROM revocations r CROSS JOIN "
		    "certificates c ON c.id = r.cert_id WHERE c.issuer_id = (SELECT id "
		    "FROM issuers WHERE dn = ?1) ORDER BY r.revoked_at, c.id";
	}
}

int
store_cert_each(struct store *st, enum cert_query q, const char *arg,
    void (*fn)(void *arg, struct cert_row *row), void *fn_arg)
{
	sqlite3_stmt *stmt;
	struct cert_row row;
	int rc;

	if ((stmt = db_prepare(st, cert_query_sql(q))) == NULL)
		return -1;
	if (q == CQ_SERIAL)
		db_bind_packed(stmt, 1, arg, 0);
	else if (q == CQ_ADDRESS || q == CQ_REVOKED)
		db_bind_text(stmt, 1, arg);
	else if (q != CQ_ALL && q != CQ_KEY_LEFTOVERS)
		db_bind_packed(stmt, 1, arg, 1);	/* a uuid */
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		read_cert_row(stmt, &row);
		fn(fn_arg, &row);
		cert_row_free(&row);
	}
	db_release(st, stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "query certificates");
	return 0;
}

int
store_cert_serial_known(struct store *st, const char *serial)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT 1 FROM certificates WHERE serial = ?1 "
	    "LIMIT 1");
	int rc;

	if (stmt == NULL)
		return -1;
	db_bind_packed(stmt, 1, serial, 0);
	rc = sqlite3_step(stmt);
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "look up a certificate serial");
}

/* store_cert_query's collector: the row moves into the array. */
static void
append_row(void *arg, struct cert_row *row)
{
	struct cert_rows *out = arg;
	struct cert_row *v = realloc(out->v, (out->n + 1) * sizeof(*v));

	if (v == NULL)
		fatal("out of memory");
	out->v = v;
	out->v[out->n++] = *row;
	memset(row, 0, sizeof(*row));
}

int
store_cert_query(struct store *st, enum cert_query q, const char *arg,
    struct cert_rows *out)
{
	out->v = NULL;
	out->n = 0;
	if (store_cert_each(st, q, arg, append_row, out) == -1) {
		cert_rows_free(out);
		return -1;
	}
	return 0;
}

int
store_cert_set_status(struct store *st, int64_t id, enum cert_status status)
{
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE certificates SET status = ? WHERE id = ?");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, cert_status_name(status));
	sqlite3_bind_int64(stmt, 2, id);
	return db_step_done(st, stmt, "update certificate status");
}

int
store_cert_set_paths(struct store *st, int64_t id, const char *keystore_path,
    const char *archive_path)
{
	char *ks_dir = NULL, *ar_dir = NULL;
	const char *ks_file, *ar_file;
	sqlite3_stmt *stmt = NULL;
	int rc = -1;

	if (key_dir(st, keystore_path, &ks_dir, &ks_file) == -1 ||
	    key_dir(st, archive_path, &ar_dir, &ar_file) == -1 ||
	    (stmt = db_prepare(st, "UPDATE certificates SET keystore_dir = "
	    DIR_ID("?1") ", keystore_file = " FILE_OF("?2", "kind", SERIAL_TEXT_SQL("serial")) ", "
	    "archive_dir = " DIR_ID("?3") ", archive_file = "
	    FILE_OF("?4", "kind", SERIAL_TEXT_SQL("serial")) " WHERE id = ?5")) == NULL)
		goto done;
	db_bind_text(stmt, 1, ks_dir);
	db_bind_text(stmt, 2, ks_file);
	db_bind_text(stmt, 3, ar_dir);
	db_bind_text(stmt, 4, ar_file);
	sqlite3_bind_int64(stmt, 5, id);
	rc = db_step_done(st, stmt, "update certificate paths");
done:
	free(ks_dir);
	free(ar_dir);
	return rc;
}

int
store_cert_set_archive(struct store *st, int64_t id, const char *archive_path,
    enum archive_protection protection, const unsigned char *bundle, size_t bundle_len)
{
	char *ar_dir = NULL;
	const char *ar_file;
	sqlite3_stmt *stmt = NULL;
	int rc = -1;

	if (key_dir(st, archive_path, &ar_dir, &ar_file) == -1 ||
	    (stmt = db_prepare(st, "UPDATE certificates SET archive_dir = "
	    DIR_ID("?1") ", archive_file = " FILE_OF("?2", "kind", SERIAL_TEXT_SQL("serial")) ", "
	    "archive_protection = ?3, archive_bundle = ?4 WHERE id = ?5")) == NULL)
		goto done;
	db_bind_text(stmt, 1, ar_dir);
	db_bind_text(stmt, 2, ar_file);
	bind_archive(stmt, 3, archive_path != NULL, protection, bundle, bundle_len);
	sqlite3_bind_int64(stmt, 5, id);
	rc = db_step_done(st, stmt, "record an archive file");
done:
	free(ar_dir);
	return rc;
}

/* Runs sql (?1 the certificate; ?2 and ?3, if it has them, as given), sets
 * the status and marks the CRL pending, all in one transaction.  0, or -1. */
static int
change_revocation(struct store *st, const char *sql, int64_t cert_id, int64_t a,
    int64_t b, enum cert_status status, const char *what)
{
	sqlite3_stmt *stmt;

	if (store_begin(st) == -1)
		return -1;
	if ((stmt = db_prepare(st, sql)) == NULL) {
		store_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, cert_id);
	if (sqlite3_bind_parameter_count(stmt) >= 3) {
		sqlite3_bind_int64(stmt, 2, a);
		sqlite3_bind_int64(stmt, 3, b);
	}
	if (db_step_done(st, stmt, what) == -1 ||
	    store_cert_set_status(st, cert_id, status) == -1 ||
	    db_crl_mark_pending(st) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_revoke(struct store *st, int64_t cert_id, int reason, int64_t when)
{
	/* The first revocation's reason and time stand, but a hold's reason
	 * gives way to the final one: RFC 5280 lets a hold end in a
	 * revocation, and its date is when the certificate stopped being
	 * trusted, so a signature made on hold never looks older. */
	return change_revocation(st, "INSERT INTO revocations (cert_id, reason, "
	    "revoked_at) VALUES (?1, ?2, ?3) ON CONFLICT (cert_id) DO UPDATE SET "
	    "reason = excluded.reason WHERE revocations.reason = " HOLD_SQL,
	    cert_id, reason, when, CERT_REVOKED, "insert revocation");
}

/* The certificate's status as read back (CERT_ON_HOLD for a hold): 1 and
 * *status, 0 if there is no such row, -1. */
static int
cert_status(struct store *st, int64_t cert_id, enum cert_status *status)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT c.status, r.reason FROM certificates c "
	    "LEFT JOIN revocations r ON r.cert_id = c.id WHERE c.id = ?");
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, cert_id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		const char *s = (const char *)sqlite3_column_text(stmt, 0);

		for (int i = 0; i <= CERT_REVOKED; i++)
			if (s != NULL && strcmp(s, status_names[i]) == 0)
				*status = (enum cert_status)i;
		if (*status == CERT_REVOKED && sqlite3_column_type(stmt, 1) != SQLITE_NULL &&
		    sqlite3_column_int(stmt, 1) == CRL_REASON_CERTIFICATE_HOLD)
			*status = CERT_ON_HOLD;
	}
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "read certificate status");
}

int
store_hold(struct store *st, int64_t cert_id, int64_t when)
{
	enum cert_status now = CERT_REVOKED;
	int found = cert_status(st, cert_id, &now);

	if (found != 1 || now != CERT_ACTIVE)
		return found == -1 ? -1 : 0;
	return change_revocation(st, "INSERT INTO revocations (cert_id, reason, "
	    "revoked_at) VALUES (?1, ?2, ?3)", cert_id, CRL_REASON_CERTIFICATE_HOLD,
	    when, CERT_REVOKED, "put certificate on hold");
}

int
store_lift(struct store *st, int64_t cert_id)
{
	enum cert_status now = CERT_REVOKED;
	int found = cert_status(st, cert_id, &now);

	if (found != 1 || now != CERT_ON_HOLD)
		return found == -1 ? -1 : 0;
	/* A full CRL leaves a lifted hold out (removeFromCRL is for delta
	 * CRLs): the row goes, and the next CRL no longer lists it. */
	return change_revocation(st, "DELETE FROM revocations WHERE cert_id = ?1 AND "
	    "reason = " HOLD_SQL, cert_id, 0, 0, CERT_ACTIVE, "lift hold");
}

int
store_holds_due(struct store *st, int64_t cutoff,
    void (*fn)(void *arg, const char *uuid), void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT DISTINCT " UUID_TEXT_SQL("c.uuid")
	    " AS u FROM certificates c JOIN revocations r ON r.cert_id = c.id WHERE "
	    ON_HOLD_SQL " AND r.revoked_at <= ? ORDER BY u");
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, cutoff);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(stmt, 0));
	db_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list holds due");
}

int
store_hold_counts(struct store *st, int *certs, int *users, int64_t *oldest)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT count(*), count(DISTINCT c.uuid), "
	    "coalesce(min(r.revoked_at), 0) FROM certificates c JOIN revocations r "
	    "ON r.cert_id = c.id WHERE " ON_HOLD_SQL);
	int rc;

	*certs = *users = 0;
	*oldest = 0;
	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*certs = sqlite3_column_int(stmt, 0);
		*users = sqlite3_column_int(stmt, 1);
		*oldest = sqlite3_column_int64(stmt, 2);
	}
	db_release(st, stmt);
	return rc == SQLITE_ROW ? 0 : db_fail(st, "count holds");
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
	free(row->archive_bundle);
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
