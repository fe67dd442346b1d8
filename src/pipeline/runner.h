/*
 * runner.h - the job runner: a worker thread that runs planned jobs.
 *
 * Owns: its own store connection, the CA process's client (certsyncd
 * starts the CA process, before any network code; the runner restarts it
 * when it dies), the publisher's connection, and the batch (CRL rewritten
 * once after a batch of revocations).  After a job ends it reconciles the
 * user again, which is how changes that came in mid-job are picked up.
 * Never: runs on the event loop thread: keys, signatures, PKCS#12 and
 * directory writes all happen here.
 */
#ifndef CERTSYNC_RUNNER_H
#define CERTSYNC_RUNNER_H

#include "ca/ca_client.h"
#include "lib/conf.h"

struct runner;

/* Opens the runner's resources and starts its thread, with the client of
 * a CA process already started (the runner's from now on, even when it
 * fails).  0, or -1 after logging. */
int runner_start(const struct conf *conf, struct ca_client *ca, struct runner **out);
/* Wakes the runner: a job was planned.  Safe from any thread. */
void runner_kick(void *runner);
/* Asks the runner to stop once no job is due, then waits for it (--once). */
void runner_drain(struct runner *r);
/* Asks the runner to stop after the job in hand, waits, frees. */
void runner_stop(struct runner *r);

#endif
