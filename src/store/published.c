/*
 * published.c - the values certsync wrote to users' directory entries.
 *
 * Owns: the published table: per user and attribute, the SHA-256 digest
 * of each exact value we added and have not withdrawn.  It is what says a
 * value is ours to remove (a value the directory holds is ours when its
 * digest is here), and how many of a user's certificates the directory
 * shows.  Digests, not the values: the bytes are the certificates' DER
 * and the S/MIME values, which the store keeps once elsewhere; a copy
 * here (and another in the primary key) was 12 KiB a user.
 * Never: decides anything about the directory; the publish step records
 * here what it did.
 */
#include "config.h"

#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>
#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

/* SHA-256 fetched once: OpenSSL 3 looks a digest up by name on every call
 * otherwise, and every published value and every certificate row read
 * (its fingerprint, certs.c) is digested. */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void
sha256_fetch(void)
{
	if ((sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL)) == NULL)
		fatal("SHA-256 is not available");
}

void
store_value_digest(const void *value, size_t len,
    unsigned char digest[STORE_DIGEST_LEN])
{
	unsigned int n = 0;

	pthread_once(&sha256_once, sha256_fetch);
	if (EVP_Digest(value, len, digest, &n, sha256_md, NULL) != 1 ||
	    n != STORE_DIGEST_LEN)
		fatal("SHA-256 failed");
}

/* Binds an attribute's name at i: a number for the names certsync writes
 * (schema 9; published_text spells them out), its text otherwise. */
static void
bind_attribute(sqlite3_stmt *stmt, int i, const char *attr)
{
	static const char *const known[] = { "userCertificate;binary",
	    "userSMIMECertificate", "userCertificate" };

	for (size_t k = 0; attr != NULL && k < sizeof(known) / sizeof(known[0]); k++)
		if (strcmp(attr, known[k]) == 0) {
			sqlite3_bind_int(stmt, i, (int)k + 1);
			return;
		}
	db_bind_text(stmt, i, attr);
}

int
store_published_digest(struct store *st, int add, const char *uuid, const char *attr,
    const unsigned char digest[STORE_DIGEST_LEN])
{
	sqlite3_stmt *stmt = db_prepare(st, add ?
	    "INSERT OR IGNORE INTO published (uuid, attribute, digest) VALUES (?, ?, ?)" :
	    "DELETE FROM published WHERE uuid = ? AND attribute = ? AND digest = ?");

	if (stmt == NULL)
		return -1;
	db_bind_packed(stmt, 1, uuid, 1);
	bind_attribute(stmt, 2, attr);
	sqlite3_bind_blob(stmt, 3, digest, STORE_DIGEST_LEN, SQLITE_TRANSIENT);
	return db_step_done(st, stmt, "record a published value");
}

int
store_published(struct store *st, int add, const char *uuid, const char *attr,
    const void *value, size_t len)
{
	unsigned char digest[STORE_DIGEST_LEN];

	store_value_digest(value, len, digest);
	return store_published_digest(st, add, uuid, attr, digest);
}

int
store_published_has(struct store *st, const char *uuid, const char *attr,
    const void *value, size_t len)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT 1 FROM published WHERE uuid = ? "
	    "AND attribute = ? AND digest = ?");
	unsigned char digest[STORE_DIGEST_LEN];
	int rc;

	if (stmt == NULL)
		return -1;
	store_value_digest(value, len, digest);
	db_bind_packed(stmt, 1, uuid, 1);
	bind_attribute(stmt, 2, attr);
	sqlite3_bind_blob(stmt, 3, digest, STORE_DIGEST_LEN, SQLITE_TRANSIENT);
	rc = sqlite3_step(stmt);
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "look up a published value");
}

int
store_published_each(struct store *st, const char *uuid, const char *attr,
    int (*fn)(void *arg, const unsigned char digest[STORE_DIGEST_LEN]), void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT digest FROM published WHERE uuid = ? "
	    "AND attribute = ?");
	int rc;

	if (stmt == NULL)
		return -1;
	db_bind_packed(stmt, 1, uuid, 1);
	bind_attribute(stmt, 2, attr);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		/* Written by this file only; anything else is not ours. */
		if (sqlite3_column_bytes(stmt, 0) != STORE_DIGEST_LEN)
			continue;
		if (fn(arg, sqlite3_column_blob(stmt, 0)) == -1)
			break;
	}
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return -1;
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list published values");
}

/* SQL's certsync_sha256(blob), for migration 7 (published values to their
 * digests): the same digest as store_value_digest(). */
static void
sql_sha256(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned char digest[STORE_DIGEST_LEN];
	const void *v;

	(void)argc;
	if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	v = sqlite3_value_blob(argv[0]);
	store_value_digest(v != NULL ? v : "", (size_t)sqlite3_value_bytes(argv[0]),
	    digest);
	sqlite3_result_blob(ctx, digest, STORE_DIGEST_LEN, SQLITE_TRANSIENT);
}

int
db_register_functions(struct store *st)
{
	if (sqlite3_create_function(st->db, "certsync_sha256", 1, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, sql_sha256, NULL, NULL) != SQLITE_OK)
		return db_fail(st, "register certsync_sha256()");
	return db_register_pack(st);
}
