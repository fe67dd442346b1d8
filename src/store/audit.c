/*
 * audit.c - the append-only audit trail.
 *
 * Owns: appending records (what happened, to whom, which serial), reading
 * them back, and the search for certificates the CA signed that no row
 * records (a "sign" record without its certificate).
 * Since schema 8 a record's uuid and serial are kept as bytes when their
 * text is the usual spelling (a lower-case RFC 4122 UUID; a serial in
 * upper-case hex): 16 and 20 bytes for 36 and 40 characters, in the
 * trail's seven records per enrollment.  They read back as the same text
 * (through the view audit_text); anything else, and every record from
 * before, stays text.
 * Never: updates or deletes a record (the schema's triggers refuse it too).
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "lib/log.h"
#include "store/internal.h"

#define UUID_BYTES 16
#define UUID_TEXT 36
#define SERIAL_BYTES 64	/* longer serials stay text */

static int
hex_digit(char c, int upper)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= (upper ? 'A' : 'a') && c <= (upper ? 'F' : 'f'))
		return c - (upper ? 'A' : 'a') + 10;
	return -1;
}

/* The bytes s spells in hex of one case (dashes where a UUID has them,
 * for a UUID): their number, or 0 when s is not such text. */
static size_t
pack(const char *s, int uuid, unsigned char *out, size_t max)
{
	size_t n = 0, len = s != NULL ? strlen(s) : 0;

	if (len == 0 || (uuid && len != UUID_TEXT) || (!uuid && (len % 2 || len > 2 * max)))
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

/* Binds s at i as pack() keeps it: its bytes, or its text. */
static void
bind_packed(sqlite3_stmt *stmt, int i, const char *s, int uuid)
{
	unsigned char b[SERIAL_BYTES];
	size_t n = pack(s, uuid, b, uuid ? UUID_BYTES : sizeof(b));

	if (n > 0)
		sqlite3_bind_blob(stmt, i, b, (int)n, SQLITE_TRANSIENT);
	else
		db_bind_text(stmt, i, s);
}

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
	if ((stmt = db_prepare(st, "INSERT INTO audit (at, action, uuid, serial, detail) "
	    "VALUES (?, ?, ?, ?, ?)")) == NULL) {
		free(detail);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, time(NULL));
	db_bind_text(stmt, 2, action);
	bind_packed(stmt, 3, uuid, 1);
	bind_packed(stmt, 4, serial, 0);
	db_bind_text(stmt, 5, detail);
	rc = db_step_done(st, stmt, "append to the audit trail");
	free(detail);
	return rc;
}

int
store_audit_each(struct store *st, int limit,
    void (*fn)(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail), void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT at, action, uuid, serial, detail FROM "
	    "(SELECT * FROM audit_text ORDER BY id DESC LIMIT ?) ORDER BY id");
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
	db_release(st, stmt);
	if (rc != SQLITE_DONE)
		return db_fail(st, "read the audit trail");
	return 0;
}

/* No index serves action = 'sign': a full pass over the trail, which runs
 * at the runner's start and when a job is resumed in KEYS, not per job. */
int
store_unrecorded(struct store *st, const char *uuid, struct unrecorded_rows *out)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT a.uuid, a.serial, a.detail, a.at "
	    "FROM audit_text a WHERE a.action = 'sign' AND a.uuid IS NOT NULL AND "
	    "a.serial IS NOT NULL AND (?1 IS NULL OR a.uuid = ?1) AND NOT EXISTS "
	    "(SELECT 1 FROM certificates c WHERE c.serial = a.serial) ORDER BY a.id");
	int rc;

	out->v = NULL;
	out->n = 0;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct unrecorded_row *v = realloc(out->v, (out->n + 1) * sizeof(*v));

		if (v == NULL)
			fatal("out of memory");
		out->v = v;
		v = &out->v[out->n++];
		v->uuid = db_col_text(stmt, 0);
		v->serial = db_col_text(stmt, 1);
		v->detail = db_col_text(stmt, 2);
		v->signed_at = sqlite3_column_int64(stmt, 3);
	}
	db_release(st, stmt);
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
