/*
 * db.c - transactions and the statement helpers.
 *
 * Owns: nesting transactions (only the outermost begin and commit reach
 * SQLite; a failure inside makes the outermost commit roll back) and the
 * helpers every table family prepares, binds and steps its statements with,
 * among them a usual uuid's and serial's bytes in place of their text, both
 * ways (db_pack(), certsync_pack() in SQL).
 * Never: commits a transaction in which a step failed.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "store/internal.h"

/* Whether SQLite's last failure says the file cannot be written now (full,
 * locked, an I/O error): another write would meet the same. */
static void
note_unwritable(struct store *st)
{
	int code = sqlite3_errcode(st->db);

	st->unwritable = code == SQLITE_BUSY || code == SQLITE_LOCKED ||
	    code == SQLITE_FULL || code == SQLITE_IOERR || code == SQLITE_READONLY;
}

int
db_fail(struct store *st, const char *what)
{
	note_unwritable(st);
	snprintf(st->error, sizeof(st->error), "%s", sqlite3_errmsg(st->db));
	log_error("state store %s: %s: %s", st->path, what, st->error);
	metrics_add(M_ERR_STORE, 1);
	st->failed = 1;
	return -1;
}

const char *
store_error(const struct store *st)
{
	return st->error[0] != '\0' ? st->error : "no error recorded";
}

int
db_exec(struct store *st, const char *sql)
{
	char *err = NULL;

	if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
		note_unwritable(st);
		snprintf(st->error, sizeof(st->error), "%s", err ? err : "unknown error");
		log_error("state store %s: %s", st->path, st->error);
		metrics_add(M_ERR_STORE, 1);
		sqlite3_free(err);
		st->failed = 1;
		return -1;
	}
	return 0;
}

sqlite3_stmt *
db_prepare(struct store *st, const char *sql)
{
	sqlite3_stmt *stmt = NULL;
	int i, keep;

	for (i = 0; i < st->ncache && st->cache[i].sql != sql; i++)
		;
	if (i < st->ncache && !st->cache[i].busy) {
		st->cache[i].busy = 1;
		return st->cache[i].stmt;
	}
	/* In use already (a nested query of the same text) or the cache is
	 * full: one of its own, finalized when released. */
	keep = i == st->ncache && st->ncache < STMT_CACHE;
	if (sqlite3_prepare_v3(st->db, sql, -1, keep ? SQLITE_PREPARE_PERSISTENT : 0,
	    &stmt, NULL) != SQLITE_OK) {
		sqlite3_finalize(stmt);
		db_fail(st, "prepare");
		return NULL;
	}
	if (keep)
		st->cache[st->ncache++] = (struct cached_stmt){ sql, stmt, 1 };
	return stmt;
}

void
db_release(struct store *st, sqlite3_stmt *stmt)
{
	for (int i = 0; i < st->ncache; i++)
		if (st->cache[i].stmt == stmt) {
			sqlite3_reset(stmt);
			sqlite3_clear_bindings(stmt);
			st->cache[i].busy = 0;
			return;
		}
	sqlite3_finalize(stmt);
}

void
db_cache_clear(struct store *st)
{
	for (int i = 0; i < st->ncache; i++)
		sqlite3_finalize(st->cache[i].stmt);
	st->ncache = 0;
}

/* Binds NULL for a NULL string, so optional columns stay NULL. */
void
db_bind_text(sqlite3_stmt *stmt, int i, const char *s)
{
	if (s == NULL)
		sqlite3_bind_null(stmt, i);
	else
		sqlite3_bind_text(stmt, i, s, -1, SQLITE_TRANSIENT);
}

char *
db_col_text(sqlite3_stmt *stmt, int i)
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
int
db_step_done(struct store *st, sqlite3_stmt *stmt, const char *what)
{
	int rc = sqlite3_step(stmt);

	if (rc != SQLITE_DONE) {
		db_fail(st, what);
		db_release(st, stmt);
		return -1;
	}
	db_release(st, stmt);
	return 0;
}

int
store_begin(struct store *st)
{
	if (st->depth++ > 0)
		return 0;
	st->failed = 0;
	if (db_exec(st, "BEGIN IMMEDIATE") == -1) {
		st->depth = 0;
		return -1;
	}
	return 0;
}

int
store_begin_read(struct store *st)
{
	if (st->depth > 0)
		fatal("store_begin_read inside a transaction");
	st->depth = 1;
	st->failed = 0;
	if (db_exec(st, "BEGIN DEFERRED") == -1) {
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
		db_exec(st, "ROLLBACK");
		log_error("state store %s: transaction rolled back after an error",
		    st->path);
		return -1;
	}
	if (db_exec(st, "COMMIT") == -1)
		return -1;
	st->unwritable = 0;
	return 0;
}

int
store_unwritable(const struct store *st)
{
	return st->unwritable;
}

void
store_rollback(struct store *st)
{
	if (st->depth == 0)
		return;
	st->failed = 1;
	if (--st->depth == 0)
		db_exec(st, "ROLLBACK");
}

/* ---- uuids and serials as bytes (schema 8's audit, 9's other tables) -------------- */

static int
hex_digit(char c, int upper)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= (upper ? 'A' : 'a') && c <= (upper ? 'F' : 'f'))
		return c - (upper ? 'A' : 'a') + 10;
	return -1;
}

size_t
db_pack(const char *s, int uuid, unsigned char *out, size_t max)
{
	size_t n = 0, len = s != NULL ? strlen(s) : 0;

	if (len == 0 || (uuid && len != DB_UUID_TEXT) ||
	    (!uuid && (len % 2 || len > 2 * max)))
		return 0;
	for (size_t i = 0; i < len; i += 2) {
		int hi, lo;

		if (uuid && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (s[i++] != '-')
				return 0;
		}
		if ((hi = hex_digit(s[i], !uuid)) < 0 || (lo = hex_digit(s[i + 1], !uuid)) < 0)
			return 0;
		out[n++] = (unsigned char)(hi << 4 | lo);
	}
	return n;
}

void
db_bind_packed(sqlite3_stmt *stmt, int i, const char *s, int uuid)
{
	unsigned char b[DB_SERIAL_BYTES];
	size_t n = db_pack(s, uuid, b, uuid ? DB_UUID_BYTES : sizeof(b));

	if (n > 0)
		sqlite3_bind_blob(stmt, i, b, (int)n, SQLITE_TRANSIENT);
	else
		db_bind_text(stmt, i, s);
}

/* The text bytes b spell: a lower-case UUID for 16 of a uuid column, or
 * upper-case hex (what db_pack() took them from). */
static char *
unpack(const unsigned char *b, size_t n, int uuid)
{
	static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
	const char *digits = uuid && n == DB_UUID_BYTES ? lower : upper;
	char *out = malloc(2 * n + 5), *q = out;

	if (out == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++) {
		if (digits == lower && (i == 4 || i == 6 || i == 8 || i == 10))
			*q++ = '-';
		*q++ = digits[b[i] >> 4];
		*q++ = digits[b[i] & 15];
	}
	*q = '\0';
	return out;
}

char *
db_col_packed(sqlite3_stmt *stmt, int i, int uuid)
{
	if (sqlite3_column_type(stmt, i) != SQLITE_BLOB)
		return db_col_text(stmt, i);
	return unpack(sqlite3_column_blob(stmt, i),
	    (size_t)sqlite3_column_bytes(stmt, i), uuid);
}

/* SQL's certsync_pack(text, uuid): what db_bind_packed() binds, for the
 * migration that packs the rows before it and for comparing text (the
 * audit's, as audit_text reads it) with a packed column. */
static void
sql_pack(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
	unsigned char b[DB_SERIAL_BYTES];
	int uuid = sqlite3_value_int(argv[1]);
	size_t n;

	(void)argc;
	if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) {
		sqlite3_result_value(ctx, argv[0]);
		return;
	}
	n = db_pack((const char *)sqlite3_value_text(argv[0]), uuid, b,
	    uuid ? DB_UUID_BYTES : sizeof(b));
	if (n > 0)
		sqlite3_result_blob(ctx, b, (int)n, SQLITE_TRANSIENT);
	else
		sqlite3_result_value(ctx, argv[0]);
}

int
db_register_pack(struct store *st)
{
	if (sqlite3_create_function(st->db, "certsync_pack", 2, SQLITE_UTF8 |
	    SQLITE_DETERMINISTIC, NULL, sql_pack, NULL, NULL) != SQLITE_OK)
		return db_fail(st, "register certsync_pack()");
	return 0;
}
