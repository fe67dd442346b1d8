/*
 * watch.c - the directory connection and the sync search, on the loop.
 *
 * Owns: connecting (on a helper thread, so a slow server never blocks the
 * loop), the backoff with jitter between attempts, logging each connection
 * state change once, draining ldap_result with a zero timeout until it
 * returns 0, and feeding plan.c.  Each drain is one transaction, with the
 * cookie written last in it: the cookie is never ahead of the changes.
 * Never: holds a message across drains, or retries in a busy loop.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "ldapconn.h"
#include "log.h"
#include "syncrepl.h"
#include "watch.h"

#define CHECKPOINT "syncrepl"
#define DRAIN_MAX 500          /* messages per callback before yielding */

struct watch {
	struct event_base *base;
	const struct conf *conf;
	struct store *st;
	struct plan_ctx *plan;
	int once, poll;
	void (*on_refreshed)(void *);
	void *arg;

	LDAP *ld;
	int msgid;
	struct event *ev_read, *ev_retry, *ev_connected, *ev_poll;

	pthread_t thread;
	int thread_running;
	LDAP *new_ld;              /* handed over by the connect thread */
	char new_err[512];

	int backoff;               /* seconds before the next attempt */
	int failed;                /* --once: gave up after a failure */
	int in_refresh;
	struct uuid_set seen;
	char state[600];           /* last logged connection state */
};

static void connect_async(struct watch *w);

static void
set_state(struct watch *w, int error, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
set_state(struct watch *w, int error, const char *fmt, ...)
{
	char buf[sizeof(w->state)];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (strcmp(buf, w->state) == 0)
		return;	/* one line per change, not per attempt */
	snprintf(w->state, sizeof(w->state), "%s", buf);
	if (error)
		log_warn("directory %s: %s", w->conf->directory.uri, buf);
	else
		log_notice("directory %s: %s", w->conf->directory.uri, buf);
	store_state_set(w->st, "connection", buf);
}

/* ---- connecting ----------------------------------------------------------- */

static void *
connect_main(void *arg)
{
	struct watch *w = arg;

	w->new_ld = ldapconn_open(w->conf, w->new_err, sizeof(w->new_err));
	event_active(w->ev_connected, 0, 0);
	return NULL;
}

static void
schedule_retry(struct watch *w)
{
	unsigned char r;
	struct timeval tv;
	int ms = w->backoff * 1000;

	/* +-20% jitter, so many agents do not reconnect in step. */
	RAND_bytes(&r, 1);
	ms += (ms / 5) * ((int)r - 128) / 128;
	tv.tv_sec = ms / 1000;
	tv.tv_usec = (ms % 1000) * 1000;
	evtimer_add(w->ev_retry, &tv);
	if (w->backoff < w->conf->directory.reconnect_max)
		w->backoff = w->backoff * 2 > w->conf->directory.reconnect_max ?
		    w->conf->directory.reconnect_max : w->backoff * 2;
}

static void
drop(struct watch *w, const char *why)
{
	if (w->ev_read != NULL) {
		event_free(w->ev_read);
		w->ev_read = NULL;
	}
	if (w->ld != NULL)
		ldap_unbind_ext_s(w->ld, NULL, NULL);
	w->ld = NULL;
	uuid_set_clear(&w->seen);
	if (w->once) {
		/* One pass was asked for: say why it cannot be done, and stop. */
		set_state(w, 1, "cannot complete the pass: %s", why);
		w->failed = 1;
		event_base_loopbreak(w->base);
		return;
	}
	set_state(w, 1, "disconnected: %s; retrying with backoff up to %ds", why,
	    w->conf->directory.reconnect_max);
	schedule_retry(w);
}

int
watch_failed(const struct watch *w)
{
	return w != NULL && w->failed;
}

static void
on_retry(evutil_socket_t fd, short what, void *arg)
{
	connect_async(arg);
}

static int start_search(struct watch *w);
static void on_read(evutil_socket_t fd, short what, void *arg);

static void
on_connected(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	int sock = -1;

	pthread_join(w->thread, NULL);
	w->thread_running = 0;
	if (w->new_ld == NULL) {
		drop(w, w->new_err);
		return;
	}
	w->ld = w->new_ld;
	w->new_ld = NULL;
	if (ldap_get_option(w->ld, LDAP_OPT_DESC, &sock) != LDAP_OPT_SUCCESS || sock < 0) {
		drop(w, "no socket after bind");
		return;
	}
	w->ev_read = event_new(w->base, sock, EV_READ | EV_PERSIST, on_read, w);
	if (w->ev_read == NULL || event_add(w->ev_read, NULL) == -1 ||
	    start_search(w) == -1)
		return;
	w->backoff = 1;
}

static void
connect_async(struct watch *w)
{
	if (w->thread_running || w->ld != NULL)
		return;
	w->thread_running = 1;
	if (pthread_create(&w->thread, NULL, connect_main, w) != 0) {
		w->thread_running = 0;
		drop(w, "cannot start a connect thread");
	}
}

/* ---- searching ---------------------------------------------------------------- */

static int
start_search(struct watch *w)
{
	struct berval cookie = { 0, NULL };
	void *blob = NULL;
	size_t len = 0;
	int rc, resumed = 0;

	w->in_refresh = 1;
	uuid_set_clear(&w->seen);
	/* The refresh summary counts this pass only. */
	w->plan->planned = w->plan->skipped = w->plan->unchanged = 0;
	if (w->poll)
		rc = syncrepl_poll_search(w->ld, w->conf, &w->msgid);
	else {
		if (store_checkpoint_get(w->st, CHECKPOINT, &blob, &len, NULL) == 1) {
			cookie.bv_val = blob;
			cookie.bv_len = len;
			resumed = blob != NULL;
		}
		rc = syncrepl_search(w->ld, w->conf, w->once ? LDAP_SYNC_REFRESH_ONLY :
		    LDAP_SYNC_REFRESH_AND_PERSIST, &cookie, &w->msgid);
	}
	free(blob);
	if (rc != LDAP_SUCCESS) {
		drop(w, ldap_err2string(rc));
		return -1;
	}
	if (w->poll)
		set_state(w, 0, "connected; polling every %ds",
		    w->conf->directory.poll_interval);
	else
		set_state(w, 0, "connected; syncrepl %s", resumed ?
		    "resuming from the stored cookie" : "full refresh (no cookie)");
	store_state_set(w->st, "source", w->poll ? "poll" : "syncrepl");
	return 0;
}

static void
save_cookie(struct watch *w, const struct berval *cookie)
{
	if (cookie->bv_val != NULL && !w->plan->dry_run)
		store_checkpoint_put(w->st, CHECKPOINT, cookie->bv_val, cookie->bv_len, NULL);
}

static void
refresh_complete(struct watch *w)
{
	if (!w->in_refresh)
		return;
	w->in_refresh = 0;
	log_notice("directory %s: refresh complete: %zu planned, %zu skipped, "
	    "%zu up to date", w->conf->directory.uri, w->plan->planned,
	    w->plan->skipped, w->plan->unchanged);
	store_state_set(w->st, "refreshed", "yes");
	if (w->once && w->on_refreshed != NULL)
		w->on_refreshed(w->arg);
}

static void
handle_done(struct watch *w, struct sync_event *ev)
{
	if (ev->result == LDAP_SYNC_REFRESH_REQUIRED) {
		/* The server cannot resume from our cookie: reload in full.
		 * Reconcile makes that cheap: unchanged users need no work. */
		log_notice("directory %s: the server asks for a full refresh",
		    w->conf->directory.uri);
		store_checkpoint_put(w->st, CHECKPOINT, NULL, 0, NULL);
		uuid_set_clear(&w->seen);
		start_search(w);
		return;
	}
	if (ev->result != LDAP_SUCCESS) {
		drop(w, ldap_err2string(ev->result));
		return;
	}
	if (!w->once && !w->poll) {
		/* A persist search should never end; if the server ends it,
		 * sweeping now would judge every user by the few seen since
		 * the refresh.  Start over from the cookie instead. */
		drop(w, "the server ended the persistent search");
		return;
	}
	/* refreshOnly, or a poll: a present phase unless told otherwise. */
	if (!ev->refresh_deletes && w->in_refresh)
		plan_sweep(w->plan, &w->seen);
	uuid_set_clear(&w->seen);
	save_cookie(w, &ev->cookie);
	refresh_complete(w);
	if (w->poll && !w->once) {
		struct timeval tv = { w->conf->directory.poll_interval, 0 };

		evtimer_add(w->ev_poll, &tv);
		w->in_refresh = 0;
	}
}

static void
handle_idset(struct watch *w, struct sync_event *ev)
{
	for (size_t i = 0; i < ev->nuuids; i++) {
		if (ev->refresh_deletes)
			plan_gone(w->plan, ev->uuids[i]);
		else
			uuid_set_add(&w->seen, ev->uuids[i]);
	}
}

static void
handle_event(struct watch *w, struct sync_event *ev)
{
	switch (ev->type) {
	case SE_ENTRY:
		if (w->in_refresh)	/* the persist stage needs no sweep */
			uuid_set_add(&w->seen, ev->uuid);
		plan_entry(w->plan, &ev->entry);
		break;
	case SE_PRESENT:
		if (w->in_refresh)
			uuid_set_add(&w->seen, ev->uuid);
		break;
	case SE_DELETE:
		plan_gone(w->plan, ev->uuid);
		break;
	case SE_IDSET:
		handle_idset(w, ev);
		break;
	case SE_PRESENT_END:
		if (w->in_refresh)
			plan_sweep(w->plan, &w->seen);
		uuid_set_clear(&w->seen);
		break;
	case SE_DELETE_END:
		uuid_set_clear(&w->seen);
		break;
	case SE_DONE:
		handle_done(w, ev);
		return;
	default:
		break;
	}
	save_cookie(w, &ev->cookie);
	if ((ev->type == SE_PRESENT_END || ev->type == SE_DELETE_END) &&
	    ev->refresh_done)
		refresh_complete(w);
}

static void
handle_poll_message(struct watch *w, LDAPMessage *msg)
{
	struct sync_event ev;
	struct dir_entry e;

	if (ldap_msgtype(msg) == LDAP_RES_SEARCH_ENTRY) {
		if (syncrepl_entry(w->ld, msg, &e) == 0) {
			if (e.uuid != NULL)
				uuid_set_add(&w->seen, e.uuid);
			plan_entry(w->plan, &e);
			dir_entry_free(&e);
		}
		return;
	}
	if (syncrepl_parse(w->ld, msg, &ev) == 0 && ev.type == SE_DONE)
		handle_done(w, &ev);
	sync_event_free(&ev);
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	struct timeval zero = { 0, 0 };
	int i, rc = 0;

	if (store_begin(w->st) == -1)
		return;
	for (i = 0; i < DRAIN_MAX && w->ld != NULL; i++) {
		LDAPMessage *msg = NULL;
		struct sync_event ev;

		if ((rc = ldap_result(w->ld, w->msgid, LDAP_MSG_ONE, &zero, &msg)) == 0)
			break;
		if (rc == -1) {
			int err = LDAP_SERVER_DOWN;

			ldap_get_option(w->ld, LDAP_OPT_RESULT_CODE, &err);
			ldap_msgfree(msg);
			store_commit(w->st);
			plan_flush(w->plan);
			drop(w, ldap_err2string(err));
			return;
		}
		store_state_set(w->st, "last_event", "");
		if (w->poll)
			handle_poll_message(w, msg);
		else if (syncrepl_parse(w->ld, msg, &ev) == 0) {
			handle_event(w, &ev);
			sync_event_free(&ev);
		} else {
			sync_event_free(&ev);	/* what was decoded before the fault */
			log_warn("directory %s: a malformed sync message was ignored",
			    w->conf->directory.uri);
		}
		ldap_msgfree(msg);
	}
	if (store_commit(w->st) == -1) {
		/* The messages are consumed but their effects are not stored:
		 * search again from the last committed cookie. */
		drop(w, "the state store could not record the changes");
		return;
	}
	plan_flush(w->plan);
	/* libldap may hold parsed data the fd no longer signals: come back. */
	if (i == DRAIN_MAX && w->ev_read != NULL)
		event_active(w->ev_read, EV_READ, 0);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	if (w->ld == NULL)
		return;	/* a reconnect will start the next pass */
	start_search(w);
}

/* ---- lifetime ------------------------------------------------------------------ */

int
watch_start(struct event_base *base, const struct conf *conf, struct store *st,
    struct plan_ctx *plan, int once, void (*on_refreshed)(void *), void *arg,
    struct watch **out)
{
	struct watch *w;

	if (conf->directory.base == NULL) {
		log_error("%s: [directory] base: is required to watch the directory",
		    conf->path);
		return -1;
	}
	if ((w = calloc(1, sizeof(*w))) == NULL)
		fatal("out of memory");
	w->base = base;
	w->conf = conf;
	w->st = st;
	w->plan = plan;
	w->once = once;
	w->poll = strcmp(conf->directory.source, "poll") == 0;
	w->on_refreshed = on_refreshed;
	w->arg = arg;
	w->backoff = 1;
	if ((w->ev_retry = evtimer_new(base, on_retry, w)) == NULL ||
	    (w->ev_poll = evtimer_new(base, on_poll, w)) == NULL ||
	    (w->ev_connected = event_new(base, -1, 0, on_connected, w)) == NULL)
		fatal("out of memory");
	connect_async(w);
	*out = w;
	return 0;
}

void
watch_stop(struct watch *w)
{
	if (w == NULL)
		return;
	if (w->thread_running) {
		pthread_join(w->thread, NULL);
		if (w->new_ld != NULL)
			ldap_unbind_ext_s(w->new_ld, NULL, NULL);
	}
	if (w->ev_read != NULL)
		event_free(w->ev_read);
	if (w->ld != NULL)
		ldap_unbind_ext_s(w->ld, NULL, NULL);
	event_free(w->ev_retry);
	event_free(w->ev_poll);
	event_free(w->ev_connected);
	uuid_set_clear(&w->seen);
	free(w);
}
