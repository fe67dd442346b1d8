/*
 * status.h - what the agent is doing, in one snapshot: for systemd's
 * STATUS=, /metrics and /healthz.
 *
 * Owns: gathering the snapshot (the in-memory metrics, and a few cheap
 * reads of the loop's store connection: the connection text, the job
 * counts, the CRL's pending mark), the one-line STATUS text, and the
 * health verdict with its reasons.
 * Never: writes the store, or decides anything for the pipeline: it only
 * looks.
 */
#ifndef CERTSYNC_STATUS_H
#define CERTSYNC_STATUS_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "lib/conf.h"
#include "ops/served.h"
#include "store/store.h"

struct ops_status {
	int connected;              /* the change source is connected */
	int known;                  /* a connection attempt has ended */
	char connection[256];       /* the watcher's state, as certsyncctl status shows it */
	char source[24];            /* syncrepl, poll, dirsync, usn */
	int jobs;                   /* jobs in the store, any state */
	int parked;                 /* of those, parked (certsyncctl status lists them) */
	int64_t last_published;     /* Unix time, 0: none since start */
	int crl_pending;            /* a revocation is not in a written CRL */
	int64_t pending_since;      /* since when (Unix time; 0: unknown) */
};

/* Reads the snapshot; a store that cannot answer leaves its parts at 0
 * (the store has logged).  Never fails. */
void ops_status_read(struct store *st, struct ops_status *s);

/* The STATUS= line: "directory connected (syncrepl); 3 jobs queued; last
 * change published 2026-11-22 15:04:05Z", or with the reason when not
 * connected. */
void ops_status_line(const struct ops_status *s, char *buf, size_t len);

/*
 * The health verdict: 1 healthy; 0 with why, one reason a line: the
 * directory not connected, no CRL (or one past its nextUpdate), a
 * revocation waiting for its CRL longer than [http] revocation_delay_max.
 * crl is the served CRL, refreshed by the caller.
 */
int ops_health(const struct conf *conf, const struct ops_status *s,
    const struct served_file *crl, time_t now, char *why, size_t len);

#endif
