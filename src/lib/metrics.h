/*
 * metrics.h - the agent's counters and gauges, for /metrics and STATUS=.
 *
 * Owns: the one table of every metric the process keeps in memory (name,
 * type, labels, help), their values (atomics: any thread may count), the
 * change-to-published latency (a histogram fed by marks the planner sets
 * and publication clears), and their Prometheus text form.
 * Never: reads the store or a file (the ops layer adds what those say at
 * scrape time), blocks a thread for longer than a table update, or keeps
 * anything across a restart: counters start at 0, as Prometheus expects.
 */
#ifndef CERTSYNC_METRICS_H
#define CERTSYNC_METRICS_H

#include <stdint.h>
#include <stdio.h>

/*
 * Every metric there is, one X() each: adding one is one line here and a
 * metrics_add()/metrics_set() where the thing happens.
 *   X(ID, TYPE, NAME, LABELS, HELP)
 * TYPE: COUNTER (only goes up), GAUGE (set), GAUGE_OPT (a gauge shown only
 * once set, for a feature that may be off: the key pool), AGE (set to a
 * Unix time; shown, once set, as the seconds since then).
 * Lines with the same NAME (a family told apart by LABELS) stay together;
 * HELP is printed from the first of them.
 */
#define CS_METRICS(X) \
	X(M_ISSUED, COUNTER, "certsync_certificates_issued_total", "", \
	    "Certificates signed and recorded (a signing and an encryption one per user, or one dual)") \
	X(M_REVOKED, COUNTER, "certsync_certificates_revoked_total", "", \
	    "Certificates revoked (their keys archived first)") \
	X(M_PUBLISHED, COUNTER, "certsync_certificates_published_total", "", \
	    "Certificates written to users' directory entries") \
	X(M_ERR_DIRECTORY, COUNTER, "certsync_errors_total", "kind=\"directory\"", \
	    "Failures by kind: the directory connection lost or refused, a job step " \
	    "put off for a retry, a directory write refused, the CRL not written, a " \
	    "delivery hook failed, a state store operation failed") \
	X(M_ERR_JOB, COUNTER, "certsync_errors_total", "kind=\"job\"", "") \
	X(M_ERR_PUBLISH, COUNTER, "certsync_errors_total", "kind=\"publish\"", "") \
	X(M_ERR_CRL, COUNTER, "certsync_errors_total", "kind=\"crl\"", "") \
	X(M_ERR_DELIVERY, COUNTER, "certsync_errors_total", "kind=\"delivery\"", "") \
	X(M_ERR_STORE, COUNTER, "certsync_errors_total", "kind=\"store\"", "") \
	X(M_DIR_CONNECTED, GAUGE, "certsync_directory_connected", "", \
	    "1 while the change source is connected to the directory, else 0") \
	X(M_DIR_LAST_EVENT, AGE, "certsync_directory_last_event_seconds", "", \
	    "Seconds since the last message from the directory (a change, a sync " \
	    "message or the end of a round)") \
	X(M_DIR_STATE_CHANGES, COUNTER, "certsync_directory_state_changes_total", "", \
	    "Changes of the directory connection's state (connected, lost, " \
	    "refused), each logged once") \
	X(M_LAST_PUBLISHED, AGE, "certsync_last_publication_seconds", "", \
	    "Seconds since certsync last wrote a user's directory entry") \
	X(M_START_TIME, GAUGE, "certsync_start_time_seconds", "", \
	    "When this certsyncd process started (Unix time)") \
	X(M_KEY_POOL, GAUGE_OPT, "certsync_key_pool_keys", "", \
	    "Pre-generated keypairs waiting in the key pool") \
	/* In memory, for /healthz: since when a revocation waits for a CRL. */ \
	X(M_REVOCATION_WAITING, AGE, "certsync_revocation_waiting_seconds", "", \
	    "Seconds since the oldest revocation not yet in a written CRL was " \
	    "made (absent when none waits)")

/* Histograms, one X() each: X(ID, NAME, HELP); buckets in seconds. */
#define CS_HISTOGRAMS(X) \
	X(H_CHANGE_TO_PUBLISHED, "certsync_change_to_published_seconds", \
	    "From a directory change reaching the planner to the user's entry " \
	    "showing the result")

#define CS_METRIC_ID(id, type, name, labels, help) id,
enum metric_id { CS_METRICS(CS_METRIC_ID) M_COUNT };
#define CS_HISTOGRAM_ID(id, name, help) id,
enum histogram_id { CS_HISTOGRAMS(CS_HISTOGRAM_ID) H_COUNT };

/* Safe from any thread. */
void metrics_add(enum metric_id id, int64_t n);
void metrics_set(enum metric_id id, int64_t value);
/* An AGE metric set to now unless it is set already (0 clears it). */
void metrics_set_once(enum metric_id id, int64_t value);
int64_t metrics_get(enum metric_id id);
/* A value in seconds, as a histogram's sample. */
void metrics_observe(enum histogram_id id, double seconds);

/*
 * Change-to-published latency.  metrics_change_arrived(uuid, t) when a
 * change of uuid reaching the planner at t (metrics_clock()) planned a
 * job: the earliest mark per user is kept.  metrics_change_published(uuid)
 * when the user's entry shows the job's result: the time since the mark
 * goes into H_CHANGE_TO_PUBLISHED and the mark is gone.  A job that ends
 * without publishing forgets its mark (metrics_change_forget).  At most
 * a few thousand marks are held; beyond that changes are not timed.
 */
double metrics_clock(void);
void metrics_change_arrived(const char *uuid, double at);
void metrics_change_published(const char *uuid);
void metrics_change_forget(const char *uuid);

/* Writes every metric in the Prometheus text format (version 0.0.4),
 * AGE metrics against now.  Returns 0, or -1 on a write error. */
int metrics_write(FILE *out, int64_t now);

#endif
