/*
 * watch.h - the change source on the event loop: the directory connection,
 * its sync (or poll) search, and reconnecting.
 *
 * Owns: the watcher's LDAP handle, its fd event, the reconnect backoff, the
 * refresh bookkeeping (uuids seen) and the cookie.  The cookie is saved in
 * the same transaction as the changes before it.
 * Never: blocks the loop: connect and bind run on a short-lived thread,
 * results are drained with a zero timeout.
 */
#ifndef CERTSYNC_WATCH_H
#define CERTSYNC_WATCH_H

#include <event2/event.h>

#include "lib/conf.h"
#include "pipeline/plan.h"
#include "store/store.h"

struct watch;

/*
 * Starts watching.  once: one refresh (refreshOnly), then on_refreshed is
 * called; otherwise refreshAndPersist for as long as the loop runs.
 * Returns 0, or -1 after logging.
 */
int watch_start(struct event_base *base, const struct conf *conf,
    struct store *st, struct plan_ctx *plan, int once,
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
