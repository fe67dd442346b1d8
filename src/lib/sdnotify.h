/*
 * sdnotify.h - the service manager's notification protocol (sd_notify(3)).
 *
 * Owns: the socket named by $NOTIFY_SOCKET (a path, or '@' for Linux's
 * abstract namespace) and the watchdog interval systemd asked for
 * ($WATCHDOG_USEC, for this process only when $WATCHDOG_PID says so).
 * The protocol is one datagram of "KEY=VALUE" lines per message; systemd
 * documents it as stable, so certsync speaks it itself rather than link
 * libsystemd: no build dependency, and the same code runs where there is
 * no systemd (the variables are simply not set).
 * Never: lets the variables reach a child (the delivery hook must not
 * speak for the agent), or fails the agent over a message that could not
 * be sent (it logs that once).
 */
#ifndef CERTSYNC_SDNOTIFY_H
#define CERTSYNC_SDNOTIFY_H

#include <stdint.h>

struct sdnotify;

/*
 * Reads and unsets NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (call it
 * before any thread starts: unsetenv is not thread-safe).  Returns a
 * handle, or NULL when there is no service manager to tell (nothing set,
 * or an address it cannot use, logged once); every call below accepts
 * NULL and then does nothing.
 */
struct sdnotify *sdnotify_open(void);
void sdnotify_close(struct sdnotify *n);

/* The watchdog interval in microseconds systemd wants this process to
 * keep, or 0 for none. */
uint64_t sdnotify_watchdog_usec(const struct sdnotify *n);

/* Sends one message (its lines joined by '\n', e.g. "READY=1\nSTATUS=up").
 * Returns 0, or -1 (logged the first time only). */
int sdnotify_send(struct sdnotify *n, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#endif
