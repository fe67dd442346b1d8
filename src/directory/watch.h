/*
 * watch.h - the change source on the event loop: the directory connection,
 * its sync (or poll) search, and reconnecting.
 *
 * Owns: the watcher's LDAP handle, its fd event, the reconnect backoff, the
 * refresh bookkeeping (uuids seen) and the cookie.  The cookie is saved in
 * the same transaction as the changes before it; after entries that change
 * nothing (sink.quiet) it is kept, and saved within a second.
 * Never: blocks the loop: connect and bind run on a short-lived thread,
 * results are drained with a zero timeout.
 */
#ifndef CERTSYNC_WATCH_H
#define CERTSYNC_WATCH_H

#include <event2/event.h>

#include <stddef.h>

#include "directory/entry.h"
#include "lib/conf.h"
#include "lib/uuid_set.h"
#include "store/store.h"

struct watch;

/*
 * Where the watcher hands what it reads: certsyncd wires the planner in
 * (plan_watch_sink()), so the directory side knows nothing above it.  The
 * calls come inside the watcher's transaction (but quiet), which commits
 * the cookie with them; a store failure in one (it returns -1) fails the
 * transaction, and the watcher reads again from the last committed cookie.
 */
struct watch_sink {
	void *arg;
	int dry_run;               /* writes nothing: no cookie, no copies */
	/* An entry added or changed; a user deleted or out of scope. */
	int (*entry)(void *arg, const struct dir_entry *e);
	/* Outside any transaction, read only: 1 when handing e to entry()
	 * would change nothing (the echo of certsync's own publishing), so
	 * it needs no transaction; 0 when it might (or on any doubt).  May
	 * be NULL: every entry goes to entry(). */
	int (*quiet)(void *arg, const struct dir_entry *e);
	int (*gone)(void *arg, const char *uuid);
	/* After a complete refresh: every user not in seen is gone. */
	int (*sweep)(void *arg, struct uuid_set *seen);
	/* The transaction committed: the work it planned may start. */
	void (*flush)(void *arg);
	/* A pass (a refresh, an AD round) begins; and what it did, as a
	 * phrase for the log line that ends it. */
	void (*pass_begin)(void *arg);
	void (*pass_summary)(void *arg, char *buf, size_t len);
};

/*
 * Starts watching, handing what it reads to sink (copied).  once: one
 * refresh (refreshOnly), then on_refreshed is called; otherwise
 * refreshAndPersist for as long as the loop runs.
 * Returns 0, or -1 after logging.
 */
int watch_start(struct event_base *base, const struct conf *conf,
    struct store *st, const struct watch_sink *sink, int once,
    void (*on_refreshed)(void *arg), void *arg, struct watch **out);
/* True when a --once watcher gave up (the directory could not be used). */
int watch_failed(const struct watch *w);
/*
 * The periodic full reconcile: an Active Directory watcher runs its next
 * round from no cookie (every user in scope read afresh, departed users
 * swept); for syncrepl and poll, whose refresh and rounds are already
 * whole, it does nothing.
 */
void watch_full_pass(struct watch *w);
/* Stops and frees; waits for a connect in progress (bounded by its timeout). */
void watch_stop(struct watch *w);

#endif
