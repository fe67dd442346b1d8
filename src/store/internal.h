/*
 * internal.h - what the files of the store share, and nobody else.
 *
 * Owns: the database handle and the statement helpers.  Each helper that
 * fails logs one line naming the database and marks the transaction in
 * progress as failed, so its outermost store_commit() rolls back.
 * Never: included from outside src/store/: the rest of certsync sees
 * store.h only.
 */
#ifndef CERTSYNC_STORE_INTERNAL_H
#define CERTSYNC_STORE_INTERNAL_H

#include <sqlite3.h>

#include "store/store.h"

/* Statements prepared once and kept, by their SQL text's address (every
 * statement of the store is a string literal). */
#define STMT_CACHE 64

struct cached_stmt {
	const char *sql;
	sqlite3_stmt *stmt;
	int busy;           /* handed out, not released yet */
};

struct store {
	sqlite3 *db;
	char *path;
	int depth;          /* transaction nesting */
	int failed;         /* an inner step failed: the outer commit rolls back */
	struct cached_stmt cache[STMT_CACHE];
	int ncache;
	char error[256];    /* SQLite's word on the last failure, for store_error() */
	int unwritable;     /* the last failure was the file's (full, locked),
	                       and nothing was committed since */
};

/* Logs what failed with SQLite's message, marks the transaction failed;
 * returns -1. */
int db_fail(struct store *st, const char *what);
/* Runs SQL without results.  0, or -1 after logging. */
int db_exec(struct store *st, const char *sql);
/* A prepared statement, or NULL after logging: the one prepared before
 * for the same literal sql when it is free (parsing SQL is a tenth of a
 * batch's CPU otherwise).  Hand it back with db_release(). */
sqlite3_stmt *db_prepare(struct store *st, const char *sql);
/* Done with stmt: reset and kept for the next db_prepare(), or finalized. */
void db_release(struct store *st, sqlite3_stmt *stmt);
/* Finalizes every kept statement (before the database is closed). */
void db_cache_clear(struct store *st);
/* Binds NULL for a NULL string, so optional columns stay NULL. */
void db_bind_text(sqlite3_stmt *stmt, int i, const char *s);
/* A copy of a text column (caller frees), NULL for SQL NULL. */
char *db_col_text(sqlite3_stmt *stmt, int i);
/* Steps a statement that returns no rows, then finalizes it.  0, or -1. */
int db_step_done(struct store *st, sqlite3_stmt *stmt, const char *what);

/* Registers the SQL functions the migrations use (certsync_sha256, in
 * published.c) on st's connection.  0, or -1 after logging. */
int db_register_functions(struct store *st);

/* A key file's absolute path as stored since schema 8 (schema.c): its
 * directory (key_dirs) and its name, NULL for the keystore's own
 * <kind>-<serial>.p12; NULL when the directory is.  For the certificates
 * row aliased c; dir and file are its two columns. */
#define KEY_PATH_SQL(dir, file) \
	"((SELECT k.path FROM key_dirs k WHERE k.id = " dir ") || " \
	"coalesce(" file ", c.kind || '-' || " SERIAL_TEXT_SQL("c.serial") " || '.p12'))"

/*
 * Uuids and serials as bytes (audit since schema 8, certificates and
 * published since 9): a lower-case RFC 4122 UUID is kept as its 16 bytes,
 * a serial in upper-case hex (of an even length, up to DB_SERIAL_BYTES) as
 * its bytes; anything else stays the text it was.  The same text reads
 * back (db_col_packed(); in SQL, UUID_TEXT_SQL and SERIAL_TEXT_SQL).
 */
#define DB_UUID_BYTES 16
#define DB_UUID_TEXT 36
#define DB_SERIAL_BYTES 64
/* The bytes s spells: their number, or 0 when s is not such text. */
size_t db_pack(const char *s, int uuid, unsigned char *out, size_t max);
/* Binds s at i as db_pack() keeps it: its bytes, or its text. */
void db_bind_packed(sqlite3_stmt *stmt, int i, const char *s, int uuid);
/* A copy of a column bound so, as the text it was (caller frees). */
char *db_col_packed(sqlite3_stmt *stmt, int i, int uuid);
/* Registers certsync_pack(text, is_uuid) on st's connection (published.c's
 * db_register_functions() calls it).  0, or -1 after logging. */
int db_register_pack(struct store *st);
#define UUID_TEXT_SQL(c) \
	"CASE WHEN typeof(" c ") = 'blob' AND length(" c ") = 16 THEN " \
	"lower(substr(hex(" c "), 1, 8) || '-' || substr(hex(" c "), 9, 4) || '-' || " \
	"substr(hex(" c "), 13, 4) || '-' || substr(hex(" c "), 17, 4) || '-' || " \
	"substr(hex(" c "), 21)) WHEN typeof(" c ") = 'blob' THEN hex(" c ") ELSE " c " END"
#define SERIAL_TEXT_SQL(c) \
	"CASE WHEN typeof(" c ") = 'blob' THEN hex(" c ") ELSE " c " END"

/* Marks a revocation as not yet in a written CRL (state.c). */
int db_crl_mark_pending(struct store *st);

#endif
