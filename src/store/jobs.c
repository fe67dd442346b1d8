/*
 * jobs.c - one row per user with work in flight.
 *
 * Owns: the jobs table: state, action, CRL reason, attempts, the retry
 * time, the last error, and the mark of a parked job (a failure retrying
 * cannot mend: it is not due until released; writing the whole job, as a
 * step or a new plan does, releases it too).
 * Never: interprets a state or an action: they stay text here, as stored
 * (the job driver holds them as enums and spells them at this edge); the
 * schema refuses a state it does not know.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "store/internal.h"

int
store_job_put(struct store *st, const struct job_row *job)
{
	sqlite3_stmt *stmt = db_prepare(st, "INSERT OR REPLACE INTO jobs (uuid, state, "
	    "action, reason, attempts, last_error, updated_at, next_attempt) VALUES "
	    "(?, ?, ?, ?, ?, ?, ?, ?)");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, job->uuid);
	db_bind_text(stmt, 2, job->state);
	db_bind_text(stmt, 3, job->action);
	db_bind_text(stmt, 4, job->reason);
	sqlite3_bind_int(stmt, 5, job->attempts);
	db_bind_text(stmt, 6, job->last_error);
	sqlite3_bind_int64(stmt, 7, job->updated_at ? job->updated_at : time(NULL));
	sqlite3_bind_int64(stmt, 8, job->next_attempt);
	return db_step_done(st, stmt, "store job");
}

#define JOB_COLUMNS \
	"uuid, state, action, reason, attempts, last_error, updated_at, next_attempt, " \
	"coalesce(parked_at, 0)"

/* One row of JOB_COLUMNS into out; finalizes stmt.  1 found, 0 not, -1. */
static int
read_job(struct store *st, sqlite3_stmt *stmt, struct job_row *out)
{
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		out->uuid = db_col_text(stmt, 0);
		out->state = db_col_text(stmt, 1);
		out->action = db_col_text(stmt, 2);
		out->reason = db_col_text(stmt, 3);
		out->attempts = sqlite3_column_int(stmt, 4);
		out->last_error = db_col_text(stmt, 5);
		out->updated_at = sqlite3_column_int64(stmt, 6);
		out->next_attempt = sqlite3_column_int64(stmt, 7);
		out->parked_at = sqlite3_column_int64(stmt, 8);
	}
	db_release(st, stmt);
	if (rc == SQLITE_ROW)
		return 1;
	if (rc == SQLITE_DONE)
		return 0;
	return db_fail(st, "read job");
}

int
store_job_get(struct store *st, const char *uuid, struct job_row *out)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE uuid = ?");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	return read_job(st, stmt, out);
}

int
store_job_postpone(struct store *st, const char *uuid, int attempts,
    int64_t next_attempt, const char *error)
{
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE jobs SET attempts = ?, "
	    "next_attempt = ?, last_error = ? WHERE uuid = ?");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, attempts);
	sqlite3_bind_int64(stmt, 2, next_attempt);
	db_bind_text(stmt, 3, error);
	db_bind_text(stmt, 4, uuid);
	return db_step_done(st, stmt, "postpone job");
}

int
store_job_park(struct store *st, const char *uuid, int attempts, const char *error)
{
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE jobs SET attempts = ?, "
	    "last_error = ?, parked_at = ? WHERE uuid = ?");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int(stmt, 1, attempts);
	db_bind_text(stmt, 2, error);
	sqlite3_bind_int64(stmt, 3, time(NULL));
	db_bind_text(stmt, 4, uuid);
	return db_step_done(st, stmt, "park job");
}

int
store_job_unpark(struct store *st, const char *uuid, int *n)
{
	/* ?1 NULL: every parked job. */
	sqlite3_stmt *stmt = db_prepare(st, "UPDATE jobs SET parked_at = NULL, "
	    "attempts = 0, next_attempt = 0 WHERE parked_at IS NOT NULL AND "
	    "(?1 IS NULL OR uuid = ?1)");
	int rc;

	if (n != NULL)
		*n = 0;
	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	if ((rc = db_step_done(st, stmt, "release parked jobs")) == 0 && n != NULL)
		*n = sqlite3_changes(st->db);
	return rc;
}

/* A job of the list and its user's DN, per row of sql (the columns of
 * JOB_LIST); the strings are borrowed for the call. */
#define JOB_LIST "SELECT j.uuid, j.state, j.action, j.reason, j.attempts, " \
	"j.last_error, j.updated_at, j.next_attempt, coalesce(j.parked_at, 0), " \
	"i.dn FROM jobs j LEFT JOIN identities i ON i.uuid = certsync_pack(j.uuid, 1) " \
	"WHERE "

static int
each_job(struct store *st, const char *sql,
    void (*fn)(void *arg, const struct job_row *job, const char *dn), void *arg,
    const char *what)
{
	sqlite3_stmt *stmt = db_prepare(st, sql);
	int rc;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		struct job_row job = {
			.uuid = (char *)sqlite3_column_text(stmt, 0),
			.state = (char *)sqlite3_column_text(stmt, 1),
			.action = (char *)sqlite3_column_text(stmt, 2),
			.reason = (char *)sqlite3_column_text(stmt, 3),
			.attempts = sqlite3_column_int(stmt, 4),
			.last_error = (char *)sqlite3_column_text(stmt, 5),
			.updated_at = sqlite3_column_int64(stmt, 6),
			.next_attempt = sqlite3_column_int64(stmt, 7),
			.parked_at = sqlite3_column_int64(stmt, 8),
		};

		fn(arg, &job, (const char *)sqlite3_column_text(stmt, 9));
	}
	db_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, what);
}

int
store_job_each_parked(struct store *st,
    void (*fn)(void *arg, const struct job_row *job, const char *dn), void *arg)
{
	return each_job(st, JOB_LIST "j.parked_at IS NOT NULL ORDER BY j.parked_at, "
	    "j.uuid", fn, arg, "list parked jobs");
}

int
store_job_each_failing(struct store *st,
    void (*fn)(void *arg, const struct job_row *job, const char *dn), void *arg)
{
	return each_job(st, JOB_LIST "j.attempts > 0 AND j.parked_at IS NULL ORDER BY "
	    "j.next_attempt, j.uuid", fn, arg, "list failing jobs");
}

int
store_job_next(struct store *st, int64_t now, struct job_row *out)
{
	/* REVOKED jobs wait for the batch's CRL, not for the runner; parked
	 * ones for someone to act. */
	sqlite3_stmt *stmt = db_prepare(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE "
	    "state != 'REVOKED' AND parked_at IS NULL AND next_attempt <= ? "
	    "ORDER BY next_attempt, updated_at LIMIT 1");

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	return read_job(st, stmt, out);
}

int
store_job_next_in(struct store *st, const char *state, struct job_row *out)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT " JOB_COLUMNS " FROM jobs WHERE "
	    "state = ? ORDER BY updated_at LIMIT 1");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, state);
	return read_job(st, stmt, out);
}

int
store_job_next_due(struct store *st, int64_t *when)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT min(next_attempt) FROM jobs "
	    "WHERE state != 'REVOKED' AND parked_at IS NULL");
	int rc;

	*when = 0;
	if (stmt == NULL)
		return -1;
	if ((rc = sqlite3_step(stmt)) == SQLITE_ROW &&
	    sqlite3_column_type(stmt, 0) != SQLITE_NULL) {
		*when = sqlite3_column_int64(stmt, 0);
		db_release(st, stmt);
		return 1;
	}
	db_release(st, stmt);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : db_fail(st, "read job times");
}

int
store_job_counts(struct store *st, void (*fn)(void *, const char *, int), void *arg)
{
	sqlite3_stmt *stmt = db_prepare(st, "SELECT CASE WHEN parked_at IS NULL "
	    "THEN state ELSE 'parked' END, count(*) FROM jobs GROUP BY 1");
	int rc;

	if (stmt == NULL)
		return -1;
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		fn(arg, (const char *)sqlite3_column_text(stmt, 0),
		    sqlite3_column_int(stmt, 1));
	db_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "count jobs");
}

int
store_job_delete(struct store *st, const char *uuid)
{
	sqlite3_stmt *stmt = db_prepare(st, "DELETE FROM jobs WHERE uuid = ?");

	if (stmt == NULL)
		return -1;
	db_bind_text(stmt, 1, uuid);
	return db_step_done(st, stmt, "delete job");
}

void
job_row_free(struct job_row *job)
{
	free(job->uuid);
	free(job->state);
	free(job->action);
	free(job->reason);
	free(job->last_error);
	memset(job, 0, sizeof(*job));
}

int
store_job_list(struct store *st, int64_t now, const char *state, size_t max,
    struct uuid_set *out)
{
	/* Due: as store_job_next() picks them, oldest first.  In a state:
	 * whatever their retry time. */
	sqlite3_stmt *stmt = db_prepare(st, state == NULL ?
	    "SELECT uuid FROM jobs WHERE state != 'REVOKED' AND parked_at IS NULL "
	    "AND next_attempt <= ?1 ORDER BY next_attempt, updated_at LIMIT ?2" :
	    "SELECT uuid FROM jobs WHERE state = ?3 ORDER BY updated_at LIMIT ?2");
	int rc;

	if (stmt == NULL)
		return -1;
	sqlite3_bind_int64(stmt, 1, now);
	sqlite3_bind_int64(stmt, 2, (sqlite3_int64)max);
	db_bind_text(stmt, 3, state);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW)
		uuid_set_add(out, (const char *)sqlite3_column_text(stmt, 0));
	db_release(st, stmt);
	return rc == SQLITE_DONE ? 0 : db_fail(st, "list jobs");
}
