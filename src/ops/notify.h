/*
 * notify.h - what certsyncd tells systemd, and when (sd_notify(3)).
 *
 * Owns: the policy over the protocol of lib/sdnotify.c: READY=1 once the
 * configuration is loaded, the store open, the runner started and the
 * first connection attempt to the directory has ended, connected or not
 * (at the latest READY_LATEST seconds after the start of the run); STATUS=
 * whenever the one-line status changes (looked at every second, sent only
 * when different); WATCHDOG=1 from the event loop at half of the interval
 * systemd asked for; RELOADING=1 (with MONOTONIC_USEC=) on SIGHUP, READY=1
 * again when the reloaded run is up; STOPPING=1 on SIGTERM.
 * Never: delays the agent: a message that cannot be sent is logged once.
 */
#ifndef CERTSYNC_NOTIFY_H
#define CERTSYNC_NOTIFY_H

#include <event2/event.h>

#include "store/store.h"

#define READY_LATEST 45		/* seconds: under systemd's 90 s start timeout */

struct notifier;

/* Reads and clears the environment (NOTIFY_SOCKET, WATCHDOG_*): call it
 * before any thread starts.  NULL when there is no service manager to
 * tell; every function below accepts NULL. */
struct notifier *notify_open(void);
void notify_close(struct notifier *n);

/* A run of the loop begins (start, or after a reload): the timers go on
 * base, the status is read from st (the loop's store connection). */
void notify_attach(struct notifier *n, struct event_base *base, struct store *st);
/* The run ends: its timers go. */
void notify_detach(struct notifier *n);

void notify_reloading(struct notifier *n);
void notify_stopping(struct notifier *n);

#endif
