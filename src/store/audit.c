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
 * before, stays text.  Since schema 9 a detail's closing "(fingerprint
 * <hex>)", which every "sign" record has, is kept as the digest's bytes
 * (column digest), and audit_text spells it out again.
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

/* Since schema 9 the actions certsync writes are kept as their number here
 * ("1" for the first), which audit_text spells out again (AUDIT_ACTION_SQL,
 * made from this same list); any other action stays its name.  Append
 * only: a number once written means its name for good. */
#define AUDIT_ACTIONS(X) X("crl") X("plan") X("sign") X("issue") X("publish") \
	X("done") X("revoke") X("archive") X("unpublish") X("republish") \
	X("recover") X("deliver") X("hold") X("unhold") X("lift") X("held") \
	X("release") X("retry")
#define NAME_OF(n) n,
static const char *const action_names[] = { AUDIT_ACTIONS(NAME_OF) };

/* Binds action at i: its number among action_names, or its name. */
static void
bind_action(sqlite3_stmt *stmt, int i, const char *action)
{
	char code[8];

	for (size_t k = 0; k < sizeof(action_names) / sizeof(action_names[0]); k++)
		if (strcmp(action, action_names[k]) == 0) {
			snprintf(code, sizeof(code), "%zu", k + 1);
			sqlite3_bind_text(stmt, i, code, -1, SQLITE_TRANSIENT);
			return;
		}
	db_bind_text(stmt, i, action);
}

#define FP_OPEN " (fingerprint "
#define FP_HEX (2 * STORE_DIGEST_LEN)

/* Where detail's closing " (fingerprint <64 upper-case hex digits>)"
 * starts, with its digest in d: audit_text spells it out again.  The
 * detail's length when there is none. */
static size_t
split_fingerprint(const char *detail, unsigned char d[STORE_DIGEST_LEN])
{
	size_t len = strlen(detail), tail = sizeof(FP_OPEN) - 1 + FP_HEX + 1;
	char hex[FP_HEX + 1];
	const char *p;

	if (len < tail || detail[len - 1] != ')')
		return len;
	p = detail + len - tail;
	if (strncmp(p, FP_OPEN, sizeof(FP_OPEN) - 1) != 0)
		return len;
	memcpy(hex, p + sizeof(FP_OPEN) - 1, FP_HEX);
	hex[FP_HEX] = '\0';
	if (db_pack(hex, 0, d, STORE_DIGEST_LEN) != STORE_DIGEST_LEN)
		return len;
	return (size_t)(p - detail);
}

int
store_audit(struct store *st, const char *action, const char *uuid,
    const char *serial, const char *fmt, ...)
{
	sqlite3_stmt *stmt;
	unsigned char d[STORE_DIGEST_LEN];
	char *detail = NULL;
	size_t cut;
	va_list ap;
	int rc;

	va_start(ap, fmt);
	if (vasprintf(&detail, fmt, ap) == -1)
		fatal("out of memory");
	va_end(ap);
	if ((stmt = db_prepare(st, "INSERT INTO audit (at, action, uuid, serial, detail, "
	    "digest) VALUES (?, ?, ?, ?, ?, ?)")) == NULL) {
		free(detail);
		return -1;
	}
	sqlite3_bind_int64(stmt, 1, time(NULL));
	bind_action(stmt, 2, action);
	db_bind_packed(stmt, 3, uuid, 1);
	db_bind_packed(stmt, 4, serial, 0);
	if ((cut = split_fingerprint(detail, d)) < strlen(detail))
		sqlite3_bind_blob(stmt, 6, d, STORE_DIGEST_LEN, SQLITE_TRANSIENT);
	sqlite3_bind_text(stmt, 5, detail, (int)cut, SQLITE_TRANSIENT);
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
 * at the runner's start and when a job is resumed in KEYS, not per job.
 * The pass reads the stored columns (a sign record's action is "3", or
 * 'sign' from before schema 9; its serial bytes, or text from before 8),
 * and spells out through audit_text only the records it finds. */
int
store_unrecorded(struct store *st, const char *uuid, struct unrecorded_rows *out)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT a.uuid, a.serial, a.detail, a.at "
	    "FROM audit r JOIN audit_text a ON a.id = r.id WHERE r.action IN ('3', 'sign') "
	    "AND r.uuid IS NOT NULL AND r.serial IS NOT NULL AND NOT EXISTS "
	    "(SELECT 1 FROM certificates c WHERE c.serial = certsync_pack(r.serial, 0)) "
	    "AND (?1 IS NULL OR a.uuid = ?1) ORDER BY r.id");
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
