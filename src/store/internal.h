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
	"coalesce(" file ", c.kind || '-' || c.serial || '.p12'))"

/* Marks a revocation as not yet in a written CRL (state.c). */
int db_crl_mark_pending(struct store *st);

#endif
