/*
 * notify.c - certsyncd's messages to systemd.
 *
 * Owns: when each message goes (see notify.h), the timers that drive them
 * on the loop, and the last STATUS sent (so an unchanged one is not sent
 * again).  READY waits for the first connection attempt so that
 * `systemctl start` returns with a STATUS that says whether the directory
 * answered; it does not wait for a connection, because an agent whose
 * directory is down must still start and keep retrying, not be killed by
 * the start timeout.
 * Never: sends from another thread than the loop's, or a watchdog ping
 * from anywhere but a loop timer (a stuck loop must go quiet).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "lib/sdnotify.h"
#include "ops/notify.h"
#include "ops/status.h"

#define STATUS_EVERY 1000000	/* microseconds between looks at the status */
#define READY_EVERY 100000	/* ... and at the first attempt, until READY */

struct notifier {
	struct sdnotify *sd;
	struct store *st;
	struct event *ev_status, *ev_watchdog, *ev_ready;
	int64_t baseline;	/* M_DIR_STATE_CHANGES when the run began */
	double ready_by;	/* READY at the latest then (metrics_clock()) */
	int ready, stopping;
	char last[512];		/* the last STATUS sent */
};

struct notifier *
notify_open(void)
{
	struct sdnotify *sd = sdnotify_open();
	struct notifier *n = NULL;

	if (sd == NULL)
		return NULL;
	if ((n = calloc(1, sizeof(*n))) == NULL)
		fatal("out of memory");
	n->sd = sd;
	return n;
}

void
notify_close(struct notifier *n)
{
	if (n == NULL)
		return;
	notify_detach(n);
	sdnotify_close(n->sd);
	free(n);
}

/* The status line now; "known" counts this run's attempts only. */
static void
status_now(struct notifier *n, char *buf, size_t len)
{
	struct ops_status s;

	ops_status_read(n->st, &s);
	s.known = metrics_get(M_DIR_STATE_CHANGES) != n->baseline;
	ops_status_line(&s, buf, len);
}

static void
send_ready(struct notifier *n, const char *status)
{
	n->ready = 1;
	snprintf(n->last, sizeof(n->last), "%s", status);
	sdnotify_send(n->sd, "READY=1\nSTATUS=%s", status);
	if (n->ev_ready != NULL)
		event_del(n->ev_ready);
}

static void
on_status(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	char line[sizeof(n->last)];

	if (n->stopping)
		return;
	status_now(n, line, sizeof(line));
	if (strcmp(line, n->last) != 0) {
		snprintf(n->last, sizeof(n->last), "%s", line);
		sdnotify_send(n->sd, "STATUS=%s", line);
	}
}

/* Until READY: has the first attempt ended?  Or is it taking so long (DNS,
 * a server that accepts and says nothing) that the start would time out:
 * ready anyway, the status says what it waits for. */
static void
on_ready_poll(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;
	char line[sizeof(n->last)];

	if (n->ready || n->stopping)
		return;
	if (metrics_get(M_DIR_STATE_CHANGES) == n->baseline &&
	    metrics_clock() < n->ready_by)
		return;
	status_now(n, line, sizeof(line));
	send_ready(n, line);
}

static void
on_watchdog(evutil_socket_t fd, short what, void *arg)
{
	struct notifier *n = arg;

	sdnotify_send(n->sd, "WATCHDOG=1");
}

static struct event *
add_timer(struct event_base *base, int persist, uint64_t usec,
    event_callback_fn fn, void *arg)
{
	struct event *ev = event_new(base, -1, persist ? EV_PERSIST : 0, fn, arg);
	struct timeval tv = { (time_t)(usec / 1000000), (suseconds_t)(usec % 1000000) };

	if (ev == NULL || event_add(ev, &tv) == -1)
		fatal("cannot add a timer to the event loop");
	return ev;
}

void
notify_attach(struct notifier *n, struct event_base *base, struct store *st)
{
	uint64_t wd = 0;

	if (n == NULL)
		return;
	notify_detach(n);
	n->st = st;
	n->baseline = metrics_get(M_DIR_STATE_CHANGES);
	n->ev_status = add_timer(base, 1, STATUS_EVERY, on_status, n);
	if (!n->ready) {
		n->ready_by = metrics_clock() + READY_LATEST;
		n->ev_ready = add_timer(base, 1, READY_EVERY, on_ready_poll, n);
	}
	if ((wd = sdnotify_watchdog_usec(n->sd)) > 0) {
		n->ev_watchdog = add_timer(base, 1, wd / 2, on_watchdog, n);
		log_info("watchdog: telling systemd every %.1fs", (double)wd / 2e6);
	}
	on_status(-1, 0, n);
}

void
notify_detach(struct notifier *n)
{
	struct event **evs[3];

	if (n == NULL)
		return;
	evs[0] = &n->ev_status;
	evs[1] = &n->ev_watchdog;
	evs[2] = &n->ev_ready;
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (*evs[i] != NULL)
			event_free(*evs[i]);
		*evs[i] = NULL;
	}
	n->st = NULL;
}

void
notify_reloading(struct notifier *n)
{
	struct timespec ts;

	if (n == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	n->ready = 0;
	snprintf(n->last, sizeof(n->last), "reloading the configuration");
	/* MONOTONIC_USEC: systemd 253+ matches the reload to this message. */
	sdnotify_send(n->sd, "RELOADING=1\nMONOTONIC_USEC=%llu\nSTATUS=%s",
	    (unsigned long long)ts.tv_sec * 1000000ULL +
	    (unsigned long long)ts.tv_nsec / 1000ULL, n->last);
}

void
notify_stopping(struct notifier *n)
{
	if (n == NULL || n->stopping)
		return;
	n->stopping = 1;
	sdnotify_send(n->sd, "STOPPING=1\nSTATUS=stopping: finishing the job in hand");
}
