/*
 * store.h - the embedded state: SQLite in WAL mode.
 *
 * Owns: the schema (versioned, forward migrations only) and every read and
 * write of identities, certificates, revocations, jobs, checkpoints, the
 * CRL number and the append-only audit trail.  This is the one face of
 * src/store/: schema.c opens and migrates the file, db.c holds the
 * transactions, and one file per table family does the rest (certs.c,
 * identities.c, jobs.c, published.c, checkpoints.c, deliveries.c, state.c,
 * held.c, audit.c); internal.h is theirs alone.
 * Never: holds private keys (they live in PKCS#12 files the store only
 * indexes), or lets anyone edit or delete an audit record.
 *
 * Return convention for this layer: 0 on success, -1 after logging; lookups
 * return 1 when found and 0 when not.
 */
#ifndef CERTSYNC_STORE_H
#define CERTSYNC_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "lib/uuid_set.h"
#include "lib/vocab.h"

struct store;

/*
 * pending: issued and recorded, not yet published; active: published (or,
 * with no directory, current), or withdrawn from the directory but still
 * valid while its user is disabled ([reconcile] on_disable = unpublish; the
 * published values tell which); superseded: replaced, not yet revoked;
 * on hold ("on-hold"): its user left the directory, so it is withdrawn and
 * on the CRL as certificateHold, the one revocation that can be taken back
 * (the user returns) or made final ([reconcile] hold_days later).  It is
 * stored as that revocation (status revoked, reason certificateHold) and
 * read back as CERT_ON_HOLD; store_cert_set_status() never writes it.
 */
enum cert_status { CERT_PENDING, CERT_ACTIVE, CERT_SUPERSEDED, CERT_REVOKED,
    CERT_ON_HOLD };

struct cert_row {
	int64_t id;
	char *uuid;           /* the identity the certificate was issued to */
	char *issuer;         /* RFC 2253 issuer name */
	char *serial;         /* upper-case hex, no leading zeros */
	char *fingerprint;    /* SHA-256, upper-case hex */
	enum cert_kind kind;
	enum cert_status status;
	char *subject;
	char *addresses;      /* rfc822Names joined with ", " */
	char *key_type;       /* "rsa:2048", ... */
	int64_t not_before, not_after, created_at;
	unsigned char *der;
	size_t der_len;
	char *keystore_path;  /* current key for delivery; NULL once moved */
	char *archive_path;   /* archived key; NULL until archived */
	enum archive_protection archive_protection; /* of archive_path */
	unsigned char *archive_bundle; /* recovery agents: the KraBundle DER, else NULL */
	size_t archive_bundle_len;
	int reason;           /* CRL reason code when revoked or on hold, else -1 */
	int64_t revoked_at;   /* 0 unless revoked or on hold (then: since when) */
};

struct cert_rows {
	struct cert_row *v;
	size_t n;
};

enum cert_query {
	CQ_ALL,            /* arg unused */
	CQ_UUID,           /* every certificate of identity arg */
	CQ_UUID_ACTIVE,    /* the active ones of identity arg */
	CQ_UUID_PENDING,   /* issued, not yet published, of identity arg */
	CQ_UUID_SUPERSEDED,/* replaced, not yet revoked, of identity arg */
	CQ_UUID_ON_HOLD,   /* on hold, of identity arg */
	CQ_UUID_CURRENT,   /* active or on hold: what a new set replaces */
	CQ_SERIAL,         /* arg: normalized hex serial */
	CQ_ADDRESS,        /* arg: any address in the SAN, case-insensitive */
	CQ_REVOKED,        /* arg: issuer name; for the CRL */
	CQ_KEY_LEFTOVERS,  /* arg unused: superseded or revoked, key archived and
	                    * out of the keystore (a kill may have left its file) */
};

struct identity_row {
	char *uuid;
	char *dn;
	char *mail;
	char *aliases;        /* newline-separated */
	char *display_name;
	char *given_name;
	char *surname;
	char *uid;
	int enabled;
	char *skipped;        /* why the last directory values were refused */
	int64_t updated_at;
};

struct job_row {
	char *uuid;
	char *state;          /* PLANNED KEYS ISSUED ARCHIVED PUBLISHED REVOKED DONE */
	char *action;         /* enroll reissue renew revoke unpublish republish hold lift */
	char *reason;
	int attempts;
	char *last_error;
	int64_t updated_at;
	int64_t next_attempt; /* not before this time (retry backoff) */
	int64_t parked_at;    /* 0, or when a failure retrying cannot mend
	                         parked it (last_error says which) */
};

/* Opens or creates the database (and its directory, mode 0700), migrates
 * it forward, refuses one from a newer certsync. */
int store_open(const char *path, struct store **out);
/* For the commands that only look (certsyncctl status, list, show, audit,
 * plan): opens read-only, so it works while the agent holds a write
 * transaction, and never migrates.  A database that needs a migration is
 * refused with a line saying so; one that does not exist yet reads as
 * empty. */
int store_open_ro(const char *path, struct store **out);
void store_close(struct store *st);
int store_schema_version(struct store *st);
/* Whether another process holds the store's write lock (a write
 * transaction): 1 and *pid, 0 none, -1 cannot tell (no -shm file: nobody
 * has it open).  Takes no lock itself. */
int store_write_lock_holder(const char *path, long *pid);
/* SQLite's message for the last failure on st ("database or disk is
 * full"), for a line that says what happened; valid until the next call. */
const char *store_error(const struct store *st);
/* 1 when the last failure said the file cannot be written now (full,
 * locked, an I/O error) and no transaction committed since: a caller with
 * more to write knows it would wait and fail the same way. */
int store_unwritable(const struct store *st);

/* Transactions nest: only the outermost begin/commit reaches SQLite. */
int store_begin(struct store *st);
int store_commit(struct store *st);
/* A read transaction, ended by store_commit: one snapshot (and one page
 * cache) for several reads, taking no lock a writer waits on.  Writing in
 * it may fail (the snapshot may be stale); nothing may nest in it. */
int store_begin_read(struct store *st);
void store_rollback(struct store *st);

/* Inserts a certificate and its addresses; sets row->id. */
int store_cert_insert(struct store *st, struct cert_row *row);
int store_cert_query(struct store *st, enum cert_query q, const char *arg,
    struct cert_rows *out);
/* Whether any certificate row has serial: 1, 0, or -1 (logged). */
int store_cert_serial_known(struct store *st, const char *serial);
/* The rows of q one at a time, for passes over every certificate: memory
 * stays one row whatever the store holds.  fn's row is freed after it
 * returns (it may take fields, setting them NULL).  fn may read the store
 * (other statements) while the pass runs.  0, or -1 (logged). */
int store_cert_each(struct store *st, enum cert_query q, const char *arg,
    void (*fn)(void *arg, struct cert_row *row), void *fn_arg);
int store_cert_set_status(struct store *st, int64_t id, enum cert_status status);
/* Sets both paths (NULL clears one). */
int store_cert_set_paths(struct store *st, int64_t id, const char *keystore_path,
    const char *archive_path);
/* Records the archive file of a certificate and how it is protected;
 * bundle (recovery agents) may be NULL.  The keystore path stays. */
int store_cert_set_archive(struct store *st, int64_t id, const char *archive_path,
    enum archive_protection protection, const unsigned char *bundle, size_t bundle_len);
/*
 * Records the revocation once; a second call for the same id is a no-op,
 * but for a certificate on hold: its hold becomes final with reason, and
 * keeps its date (the day it stopped being trusted).
 */
int store_revoke(struct store *st, int64_t cert_id, int reason, int64_t when);
/* Puts an active certificate on hold (certificateHold since when): 0, or
 * -1.  A certificate not active is left as it is. */
int store_hold(struct store *st, int64_t cert_id, int64_t when);
/* Lifts the hold: the certificate is active again and off the next CRL.
 * A certificate not on hold is left as it is. */
int store_lift(struct store *st, int64_t cert_id);
/* Calls fn per user with a certificate on hold since before cutoff. */
int store_holds_due(struct store *st, int64_t cutoff,
    void (*fn)(void *arg, const char *uuid), void *arg);
/* How many certificates, of how many users, are on hold, and the oldest
 * hold's date (0 if none). */
int store_hold_counts(struct store *st, int *certs, int *users, int64_t *oldest);
/*
 * The userSMIMECertificate value made with the certificates of one issue,
 * kept with their signing (or dual) certificate cert_id: put once, after
 * the certificates' rows (the certificates it carries are stored by
 * reference to them, smime.c); get: 1 and *value, the very bytes put
 * (caller frees with free()), 0 when none was kept (certificates issued
 * before certsync kept it), -1 after logging.
 */
int store_cert_smime_put(struct store *st, int64_t cert_id, const void *value,
    size_t len);
int store_cert_smime_get(struct store *st, int64_t cert_id, unsigned char **value,
    size_t *len);
void cert_row_free(struct cert_row *row);
void cert_rows_free(struct cert_rows *rows);
const char *cert_status_name(enum cert_status status);

/* The next CRL number (monotonic, starts at 1), recorded with its times. */
int store_crl_next(struct store *st, int64_t this_update, int64_t next_update,
    int64_t *number);
/* 1 when a revocation is not yet in a written CRL, 0 if none, -1. */
int store_crl_pending(struct store *st);
/* The CRL with number is on disk: clears the pending mark (unless a
 * revocation came in meanwhile and took a newer number). */
int store_crl_written(struct store *st, int64_t number);
/* The last CRL's number and time; 0 when no CRL was made yet. */
int store_crl_last(struct store *st, int64_t *number, int64_t *issued_at);

/* Stores the identity (clearing any skip reason) and indexes its addresses. */
int store_identity_put(struct store *st, const struct identity_row *id);
/* Records why the directory's values were refused; keeps the last good ones. */
int store_identity_skip(struct store *st, const char *uuid, const char *dn,
    const char *why);
int store_identity_delete(struct store *st, const char *uuid);
/* Another identity holding address: 1 and *owner "uuid (dn)" (caller frees). */
int store_address_owner(struct store *st, const char *address, const char *not_uuid,
    char **owner);
/* Calls fn per identity (or per skipped one). */
int store_identity_each(struct store *st, int skipped_only,
    void (*fn)(void *arg, const char *uuid, const char *dn, const char *skipped),
    void *arg);
int store_identity_get(struct store *st, const char *uuid, struct identity_row *out);
void identity_row_free(struct identity_row *id);

int store_job_put(struct store *st, const struct job_row *job);
int store_job_get(struct store *st, const char *uuid, struct job_row *out);
int store_job_delete(struct store *st, const char *uuid);
/* A failed attempt: only attempts, next_attempt and last_error change. */
int store_job_postpone(struct store *st, const char *uuid, int attempts,
    int64_t next_attempt, const char *error);
/* The user left the directory while a job was in flight: addresses and
 * names are forgotten (freeing the addresses for others), so the next
 * decision for the uuid is "gone".  The row stays for the job's sake. */
int store_identity_gone(struct store *st, const char *uuid);
/* A failure retrying cannot mend: the job is parked (not due again) with
 * error, until store_job_unpark() or a store_job_put() of the job. */
int store_job_park(struct store *st, const char *uuid, int attempts,
    const char *error);
/* Makes uuid's parked job (uuid NULL: every parked job) due now, its
 * attempts counted afresh; *n (may be NULL) says how many were parked. */
int store_job_unpark(struct store *st, const char *uuid, int *n);
/* Calls fn per parked job, oldest first, with its user's DN (NULL if the
 * store knows none). */
int store_job_each_parked(struct store *st,
    void (*fn)(void *arg, const struct job_row *job, const char *dn), void *arg);
/* The job due first (next_attempt <= now, not parked): 1 found, 0 none. */
int store_job_next(struct store *st, int64_t now, struct job_row *out);
/* When the next job not yet REVOKED nor parked is due: 1 and *when, or 0. */
int store_job_next_due(struct store *st, int64_t *when);
/* The oldest job in state, whatever its retry time: 1 found, 0 none. */
int store_job_next_in(struct store *st, const char *state, struct job_row *out);
/* Up to max uuids added to out: with state NULL the jobs due at now in the
 * order store_job_next() takes them, else the jobs in state, oldest first. */
int store_job_list(struct store *st, int64_t now, const char *state, size_t max,
    struct uuid_set *out);
/* Calls fn per job that failed at least once (attempts > 0) and is not
 * parked, the next retry first, with its user's DN as the store knows it
 * (or NULL); job's strings are borrowed for the call. */
int store_job_each_failing(struct store *st,
    void (*fn)(void *arg, const struct job_row *job, const char *dn), void *arg);
/* Calls fn(arg, state, count) per job state; parked jobs are counted
 * apart, as state "parked". */
int store_job_counts(struct store *st, void (*fn)(void *, const char *, int), void *arg);

/*
 * Values certsync wrote to a user's directory entry (add=1) or removed.
 * The store keeps their SHA-256 digests (STORE_DIGEST_LEN bytes), not the
 * values: a value the directory holds is ours when its digest is recorded.
 */
#define STORE_DIGEST_LEN 32
/* The digest the published values are recorded by. */
void store_value_digest(const void *value, size_t len,
    unsigned char digest[STORE_DIGEST_LEN]);
int store_published(struct store *st, int add, const char *uuid, const char *attr,
    const void *value, size_t len);
/* The same, for a value known by its digest (one store_published_each
 * gave). */
int store_published_digest(struct store *st, int add, const char *uuid, const char *attr,
    const unsigned char digest[STORE_DIGEST_LEN]);
/* Whether the store records value in attr of uuid's entry: 1 yes, 0 no
 * (never written, or withdrawn). */
int store_published_has(struct store *st, const char *uuid, const char *attr,
    const void *value, size_t len);
/* Calls fn per recorded value's digest; fn returning -1 stops (and
 * returns -1). */
int store_published_each(struct store *st, const char *uuid, const char *attr,
    int (*fn)(void *arg, const unsigned char digest[STORE_DIGEST_LEN]), void *arg);

/* A key waiting to be handed to the delivery hook. */
struct delivery_row {
	int64_t cert_id;
	char *uuid, *dn, *serial, *kind, *addresses, *keystore_path;
	int attempts;
};
/* Queues delivery of every active certificate of uuid that has a keystore
 * file and was never queued. */
int store_delivery_queue(struct store *st, const char *uuid);
/* Up to max deliveries due at now, oldest first; *n rows (free each). */
int store_delivery_due(struct store *st, int64_t now, size_t max,
    struct delivery_row *rows, size_t *n);
/* Marks one delivered (ok) or postpones it to next_attempt with err. */
int store_delivery_result(struct store *st, int64_t cert_id, int ok, const char *err,
    int64_t next_attempt);
/* The earliest next_attempt of an undelivered key: 1 and *when, or 0. */
int store_delivery_next(struct store *st, int64_t *when);
void delivery_row_free(struct delivery_row *row);
/* Undelivered keys, and how many of them have failed at least once. */
int store_delivery_counts(struct store *st, int *pending, int *failing);

/*
 * The safety catch (held.c).  A removal (a user's certificates put on
 * hold, revoked or withdrawn because the directory no longer shows the
 * user as they were) is staged by the pass that decides it, then judged
 * with the pass's others: planned, or held until an admin releases it or
 * the directory shows the user again.  action and reason are the job's
 * words (job_state.h, crl.h); pass says why the pass was held.
 */
struct held_row {
	char *uuid, *dn, *action, *reason, *why, *pass;
	int staged;           /* decided by a pass not yet judged */
	int64_t held_at;      /* 0: never held */
};

struct held_rows {
	struct held_row *v;
	size_t n;
};

/* Stages uuid's removal; a held one stays held (its date and pass kept). */
int store_removal_stage(struct store *st, const char *uuid, const char *dn,
    const char *action, const char *reason, const char *why);
/* The staged rows (staged = 1) or the held set (staged = 0). */
int store_removals(struct store *st, int staged, struct held_rows *out);
/* The held set by why it was held: fn per reason, with how many users and
 * since when, the oldest first. */
int store_held_groups(struct store *st,
    void (*fn)(void *arg, const char *pass, size_t n, int64_t since), void *arg);
/* A staged removal judged too many: held since now (or since it was first
 * held), for pass. */
int store_removal_hold(struct store *st, const char *uuid, const char *pass,
    int64_t now);
/* Forgets uuid's row, staged or held: 2 if it was held, 1 if only staged,
 * 0 if there was none. */
int store_removal_drop(struct store *st, const char *uuid);
/* Whether uuid's departure is held (or was, and is staged again): 1, 0. */
int store_removal_held(struct store *st, const char *uuid);
void held_rows_free(struct held_rows *rows);
/* A departure that went through (for the sliding window; records older
 * than forget_before are pruned), and how many users departed since. */
int store_departure_add(struct store *st, const char *uuid, int64_t at,
    int64_t forget_before);
int store_departures_since(struct store *st, int64_t since, size_t *n);
/* Users read from the directory (identities with a DN), for the gate. */
int store_directory_users(struct store *st, size_t *n);

/* Small facts the daemon reports for `certsyncctl status`. */
int store_state_set(struct store *st, const char *key, const char *value);
int store_state_get(struct store *st, const char *key, char **value,
    int64_t *updated_at);
void job_row_free(struct job_row *job);

int store_checkpoint_put(struct store *st, const char *source, const void *cookie,
    size_t len, const char *server_id);
/* *cookie is malloc'd (caller frees); *server_id too, may be NULL. */
int store_checkpoint_get(struct store *st, const char *source, void **cookie,
    size_t *len, char **server_id);

/*
 * The last full copy of a directory entry (AD DirSync sends only what
 * changed): dn and an opaque attribute blob (dirsync.c packs it).
 * get: 1 found (caller frees *dn and *attrs), 0 none.  delete with uuid
 * NULL forgets every copy.
 */
int store_copy_put(struct store *st, const char *uuid, const char *dn,
    const void *attrs, size_t len);
int store_copy_get(struct store *st, const char *uuid, char **dn, void **attrs,
    size_t *len);
int store_copy_delete(struct store *st, const char *uuid);

/* When a cookie was last saved for source: 1 and *updated_at, 0 if none. */
int store_checkpoint_age(struct store *st, const char *source, int64_t *updated_at);

/*
 * A certificate the CA signed (a "sign" audit record) that no certificate
 * row records: a crash or a failure came between signing it and recording
 * it.  detail is the sign record's text (job_unrecorded.c writes it and
 * reads it).
 */
struct unrecorded_row {
	char *uuid;
	char *serial;
	char *detail;
	int64_t signed_at;
};

struct unrecorded_rows {
	struct unrecorded_row *v;
	size_t n;
};

/* The unrecorded certificates of uuid (NULL: of anyone), oldest first. */
int store_unrecorded(struct store *st, const char *uuid, struct unrecorded_rows *out);
void unrecorded_rows_free(struct unrecorded_rows *rows);

/* Appends to the audit trail: what happened, to whom, which serial. */
int store_audit(struct store *st, const char *action, const char *uuid,
    const char *serial, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* Calls fn for each audit record, oldest first, at most limit (0: all). */
int store_audit_each(struct store *st, int limit,
    void (*fn)(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail), void *arg);

#endif
