/*
 * ca_ledger.c - the CA's audit log held against the store (ca_ledger.h).
 *
 * Owns: the reading place in the audit log (inode and offset, in the
 * store's state), the decision for each "sign" line (known, not yet
 * decidable, or unrecorded), and the sign record of an unrecorded one.
 * Never: reads past a line it cannot decide yet (the next look starts
 * there), or writes to the audit log (it is the CA process's).
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca_audit.h"
#include "lib/log.h"
#include "pipeline/ca_ledger.h"
#include "pipeline/job_unrecorded.h"

#define STATE_KEY "ca_audit_read"
/* A signature this old is nobody's in flight any more. */
#define RECENT_SIGN 300

struct place {
	unsigned long long ino;
	long long offset;
};

static void
place_load(struct store *st, struct place *pl)
{
	char *v = NULL;

	pl->ino = 0;
	pl->offset = 0;
	if (store_state_get(st, STATE_KEY, &v, NULL) == 1 && v != NULL &&
	    sscanf(v, "%llu:%lld", &pl->ino, &pl->offset) != 2)
		pl->offset = 0;
	free(v);
}

static void
place_save(struct store *st, const struct place *pl)
{
	char v[64];

	snprintf(v, sizeof(v), "%llu:%lld", pl->ino, pl->offset);
	store_state_set(st, STATE_KEY, v);
}

/* 1 if the signing may still be recorded by the process that asked for
 * it: another process, still running, and not long ago. */
static int
may_be_in_flight(const struct ca_audit_sign *s)
{
	const char *open = strrchr(s->by, '[');
	long pid = open ? strtol(open + 1, NULL, 10) : 0;

	if (pid <= 0 || pid == (long)getpid() || s->at < time(NULL) - RECENT_SIGN)
		return 0;
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

/* 1 if the store knows serial: a certificate row, or a sign record. */
static int
known(struct job_ctx *ctx, const struct ca_audit_sign *s)
{
	struct cert_rows rows = { 0 };
	struct unrecorded_rows un = { 0 };
	int found = 0;

	if (store_cert_query(ctx->st, CQ_SERIAL, s->serial, &rows) == -1)
		return -1;
	found = rows.n > 0;
	cert_rows_free(&rows);
	if (found)
		return 1;
	if (store_unrecorded(ctx->st, s->user, &un) == -1)
		return -1;
	for (size_t i = 0; i < un.n && !found; i++)
		found = strcmp(un.v[i].serial, s->serial) == 0;
	unrecorded_rows_free(&un);
	return found;
}

/* The sign record of a certificate only the CA's log knows, then the
 * recovery of its user's unrecorded certificates.  0, or -1. */
static int
record(struct job_ctx *ctx, const struct ca_audit_sign *s)
{
	struct cert_row row = {
		.uuid = s->user,
		.serial = s->serial,
		.addresses = s->addresses,
		.fingerprint = s->fingerprint,
	};
	int kind = cert_kind_parse(s->kind);

	if (kind < 0) {
		log_error("[ca] audit_log %s: certificate %s has an unknown kind \"%s\"",
		    ctx->conf->ca.audit_log, s->serial, s->kind);
		return -1;
	}
	row.kind = (enum cert_kind)kind;
	log_warn("user %s: %s certificate %s was signed by the CA process (for %s) "
	    "but never recorded: its reply was lost; it is revoked", s->user,
	    s->kind, s->serial, s->by);
	if (job_sign_record(ctx->st, &row) == -1)
		return -1;
	return job_recover_unrecorded_of(ctx, s->user, NULL, 0);
}

/*
 * 1 if a job of the certificate's user is signing (KEYS): the window this
 * file closes.  A signature the store does not know, with no job signing
 * for its user, is another story (a state store restored from a backup
 * does not know what was signed since): left alone, and said so.
 */
static int
job_signing(struct job_ctx *ctx, const struct ca_audit_sign *s)
{
	struct job job;
	int found = job_get(ctx->st, s->user, &job), keys;

	if (found != 1)
		keys = 0;
	else {
		keys = job.state == JOB_KEYS;
		job_free(&job);
	}
	if (found != -1 && !keys)
		log_warn("user %s: %s certificate %s, signed by the CA process for %s, "
		    "is unknown to the state store, and no job of the user is "
		    "signing; left as it is (was the store restored from a backup?)",
		    s->user, s->kind, s->serial, s->by);
	return found == -1 ? -1 : keys;
}

/* One line: 1 decided (the place may move past it), 0 not yet, -1. */
static int
decide(struct job_ctx *ctx, const char *line, int *found)
{
	struct ca_audit_sign s;
	int rc, k;

	if ((rc = ca_audit_parse_sign(line, &s)) <= 0)
		return 1;	/* another event, or not a line of ours */
	if ((k = known(ctx, &s)) == 1)
		rc = 1;
	else if (k == -1)
		rc = -1;
	else if (may_be_in_flight(&s))
		rc = 0;
	else if ((k = job_signing(ctx, &s)) != 1)
		rc = k == -1 ? -1 : 1;	/* decided: left alone */
	else {
		(*found)++;
		rc = record(ctx, &s) == -1 ? -1 : 1;
	}
	ca_audit_sign_free(&s);
	return rc;
}

/* Reads from pl, deciding each whole line; pl ends after the last one
 * decided.  Returns how many were unrecorded, or -1. */
static int
read_from(struct job_ctx *ctx, FILE *f, struct place *pl)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int found = 0, rc = 0;

	while ((n = getline(&line, &cap, f)) > 0) {
		if (line[n - 1] != '\n')
			break;	/* a line being written: the next look reads it */
		if ((rc = decide(ctx, line, &found)) != 1)
			break;
		pl->offset += n;
	}
	free(line);
	return rc == -1 ? -1 : found;
}

int
ca_ledger_check(struct job_ctx *ctx)
{
	const char *path = ctx->conf->ca.audit_log;
	struct place pl;
	struct stat sb;
	FILE *f;
	int fd, rc;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1) {
		if (errno == ENOENT)
			return 0;	/* nothing was signed yet */
		log_error("[ca] audit_log %s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	place_load(ctx->st, &pl);
	/* Another file (rotated), or a shorter one: from its start. */
	if (fstat(fd, &sb) == -1 || (unsigned long long)sb.st_ino != pl.ino ||
	    sb.st_size < pl.offset) {
		pl.ino = (unsigned long long)sb.st_ino;
		pl.offset = 0;
	}
	if (lseek(fd, (off_t)pl.offset, SEEK_SET) == -1 || (f = fdopen(fd, "r")) == NULL) {
		log_error("[ca] audit_log %s: cannot read: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	rc = read_from(ctx, f, &pl);
	fclose(f);
	place_save(ctx->st, &pl);
	return rc;
}
