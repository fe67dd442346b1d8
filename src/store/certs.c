/*
 * certs.c - certificates, the addresses they name, and their revocations.
 *
 * Owns: the certificates table (the DER, the status, where the key files
 * are and how the archive file is protected), the address index behind
 * `certsyncctl show EMAIL`, the userSMIMECertificate value kept with an
 * issue's signing certificate, and the revocations (each marks the CRL
 * pending in the same transaction).
 * Never: deletes a certificate row, or changes a revocation once made: a
 * second revocation of the same certificate keeps the first's reason and
 * time.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

static const char *const status_names[] = { "pending", "active", "superseded", "revoked" };

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

int
store_cert_insert(struct store *st, struct cert_row *row)
{
	sqlite3_stmt *stmt;
	int rc;

	if (store_begin(st) == -1)
		return -1;
	stmt = db_prepare(st, "INSERT INTO certificates (uuid, issuer, serial, "
	    "fingerprint, kind, status, subject, addresses, key_type, not_before, "
	    "not_after, der, keystore_path, archive_path, created_at, "
	    "archive_protection, archive_bundle) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
	if (stmt == NULL) {
		store_rollback(st);
		return -1;
	}
	db_bind_text(stmt, 1, row->uuid);
	db_bind_text(stmt, 2, row->issuer);
	db_bind_text(stmt, 3, row->serial);
	db_bind_text(stmt, 4, row->fingerprint);
	db_bind_text(stmt, 5, cert_kind_name(row->kind));
	db_bind_text(stmt, 6, cert_status_name(row->status));
	db_bind_text(stmt, 7, row->subject);
	db_bind_text(stmt, 8, row->addresses);
	db_bind_text(stmt, 9, row->key_type);
	sqlite3_bind_int64(stmt, 10, row->not_before);
	sqlite3_bind_int64(stmt, 11, row->not_after);
	sqlite3_bind_blob(stmt, 12, row->der, (int)row->der_len, SQLITE_TRANSIENT);
	db_bind_text(stmt, 13, row->keystore_path);
	db_bind_text(stmt, 14, row->archive_path);
	sqlite3_bind_int64(stmt, 15, row->created_at);
	bind_archive(stmt, 16, row->archive_path != NULL, row->archive_protection,
	    row->archive_bundle, row->archive_bundle_len);
	if (db_step_done(st, stmt, "insert certificate") == -1) {
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
	"c.keystore_path, c.archive_path, c.created_at, r.reason, r.revoked_at, " \
	"c.archive_protection, c.archive_bundle"

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
	row->uuid = db_col_text(stmt, 1);
	row->issuer = db_col_text(stmt, 2);
	row->serial = db_col_text(stmt, 3);
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
	row->keystore_path = db_col_text(stmt, 13);
	row->archive_path = db_col_text(stmt, 14);
	row->created_at = sqlite3_column_int64(stmt, 15);
	row->reason = sqlite3_column_type(stmt, 16) == SQLITE_NULL ? -1 :
	    sqlite3_column_int(stmt, 16);
	row->revoked_at = sqlite3_column_int64(stmt, 17);
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
	if ((stmt = db_prepare(st, cert_query_sql(q))) == NULL)
		return -1;
	if (q != CQ_ALL)
		db_bind_text(stmt, 1, arg);
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
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE certificates SET keystore_path = ?, "
	    "archive_path = ? WHERE id = ?");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, keystore_path);
	db_bind_text(stmt, 2, archive_path);
	sqlite3_bind_int64(stmt, 3, id);
	return db_step_done(st, stmt, "update certificate paths");
}

int
store_cert_set_archive(struct store *st, int64_t id, const char *archive_path,
    enum archive_protection protection, const unsigned char *bundle, size_t bundle_len)
{
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE certificates SET archive_path = ?, "
	    "archive_protection = ?, archive_bundle = ? WHERE id = ?");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, archive_path);
	bind_archive(stmt, 2, archive_path != NULL, protection, bundle, bundle_len);
	sqlite3_bind_int64(stmt, 4, id);
	return db_step_done(st, stmt, "record an archive file");
}

int
store_revoke(struct store *st, int64_t cert_id, int reason, int64_t when)
{
	sqlite3_stmt *stmt;

	if (store_begin(st) == -1)
		return -1;
	/* OR IGNORE: the first revocation's reason and time stand. */
	if ((stmt = db_prepare(st, "INSERT OR IGNORE INTO revocations (cert_id, reason, "
	    "revoked_at) VALUES (?, ?, ?)")) == NULL) {
		store_rollback(st);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, cert_id);
	sqlite3_bind_int(stmt, 2, reason);
	sqlite3_bind_int64(stmt, 3, when);
	if (db_step_done(st, stmt, "insert revocation") == -1 ||
	    store_cert_set_status(st, cert_id, CERT_REVOKED) == -1 ||
	    db_crl_mark_pending(st) == -1) {
		store_rollback(st);
		return -1;
	}
	return store_commit(st);
}

int
store_cert_smime_put(struct store *st, int64_t cert_id, const void *value, size_t len)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT INTO smime_values (cert_id, value) "
	    "VALUES (?, ?)");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, cert_id);
	sqlite3_bind_blob(stmt, 2, value, (int)len, SQLITE_TRANSIENT);
	return db_step_done(st, stmt, "record an S/MIME value");
}

int
store_cert_smime_get(struct store *st, int64_t cert_id, unsigned char **value,
    size_t *len)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT value FROM smime_values "
	    "WHERE cert_id = ?");
	int rc;

	*value = NULL;
	*len = 0;
	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, cert_id);
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		*len = (size_t)sqlite3_column_bytes(stmt, 0);
		if ((*value = malloc(*len ? *len : 1)) == NULL)
			fatal("out of memory");
		if (*len)
			memcpy(*value, sqlite3_column_blob(stmt, 0), *len);
	}
	sqlite3_finalize(stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "read an S/MIME value");
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
