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

struct store {
	sqlite3 *db;
	char *path;
	int depth;          /* transaction nesting */
	int failed;         /* an inner step failed: the outer commit rolls back */
	char error[256];    /* SQLite's word on the last failure, for store_error() */
};

/* Logs what failed with SQLite's message, marks the transaction failed;
 * returns -1. */
int db_fail(struct store *st, const char *what);
/* Runs SQL without results.  0, or -1 after logging. */
int db_exec(struct store *st, const char *sql);
/* A prepared statement, or NULL after logging. */
sqlite3_stmt *db_prepare(struct store *st, const char *sql);
/* Binds NULL for a NULL string, so optional columns stay NULL. */
void db_bind_text(sqlite3_stmt *stmt, int i, const char *s);
/* A copy of a text column (caller frees), NULL for SQL NULL. */
char *db_col_text(sqlite3_stmt *stmt, int i);
/* Steps a statement that returns no rows, then finalizes it.  0, or -1. */
int db_step_done(struct store *st, sqlite3_stmt *stmt, const char *what);

/* Marks a revocation as not yet in a written CRL (state.c). */
int db_crl_mark_pending(struct store *st);

#endif
