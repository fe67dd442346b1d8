/*
 * watch.c - the directory connection and the change source, on the loop.
 *
 * Owns: connecting (on a helper thread, so a slow server never blocks the
 * loop), picking the source (syncrepl, poll, or on Active Directory
 * DirSync or uSNChanged rounds), the backoff with jitter between attempts,
 * logging each connection state change once, draining ldap_result with a
 * zero timeout until it returns 0, and handing entries and departures to
 * the sink (the planner, wired in by certsyncd).  Each drain, and each AD
 * round, is one transaction with the cookie written last in it: the
 * cookie is never ahead of the changes.  A drain whose entries would all
 * change nothing (the sink says so: in a mass event, the echo of
 * certsync's own publishing) takes no transaction: its cookie is kept
 * and written with the next one, or within COOKIE_LAG_S.
 * AD rounds run on a helper thread with a connection of their own; the
 * loop's connection carries the change notification search, which only
 * rings the bell for the next round.
 * A silent watching connection is probed (idle_probe): a server that
 * stopped answering (a frozen slapd still accepts TCP and acknowledges
 * keepalives) is found within a probe's timeout and reconnected with
 * backoff, and the state says "not answering since".  The backoff starts
 * over only once a connection proved itself (its first changes recorded),
 * so a server that accepts and then fails is not retried every second.
 * Never: holds a message across drains, retries in a busy loop, blocks the
 * loop on the directory, or decides what an entry means (the sink does).
 */
#include "config.h"

#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/rand.h>

#include "directory/dirsync.h"
#include "directory/ds389.h"
#include "directory/ldapconn.h"
#include "directory/syncrepl.h"
#include "directory/watch.h"
#include "lib/log.h"
#include "lib/memtrim.h"
#include "lib/metrics.h"

#define CHECKPOINT "syncrepl"
#define DRAIN_MAX 500          /* messages per callback before yielding */
/* Under a stream of changes (a mass rename: a notification per modify,
 * ours included), AD rounds begin at most every ROUND_GAP_MS, so each
 * carries many objects and a round's fixed cost (the server's search, the
 * scope check, a durable commit) is paid per batch, not per user.  A
 * stream begins with a round that found two changed objects or more (a
 * full pass does not count), or with one that found none after two bells
 * or more (echoes: our own publishing, which DirSync does not return since
 * it never asks for a certificate attribute, or changes of attributes we
 * do not read), and lasts until no round found any for STREAM_MS;
 * otherwise a round starts at once: one change's latency is untouched.
 * In a stream the change notification search is abandoned
 * (notify_follow_stream) and rounds run on a ROUND_GAP_MS timer. */
#define ROUND_GAP_MS 500
#define STREAM_MS 5000
/* A cookie kept from quiet drains is written at most this late; until
 * then a restart resumes from an older one and is sent those quiet
 * entries again, which still change nothing. */
#define COOKIE_LAG_S 1

enum mode { M_SYNCREPL, M_POLL, M_DIRSYNC, M_USN };
static const char *const mode_names[] = { "syncrepl", "poll", "dirsync", "usn" };

struct watch {
	struct event_base *base;
	const struct conf *conf;
	struct store *st;
	struct watch_sink sink;    /* the planner, wired in by certsyncd */
	int once, poll;
	enum mode mode;
	void (*on_refreshed)(void *);
	void *arg;

	LDAP *ld;
	int msgid;
	struct event *ev_read, *ev_retry, *ev_connected, *ev_poll;

	pthread_t thread;
	int thread_running;
	LDAP *new_ld;              /* handed over by the connect thread */
	LDAP *new_round_ld;
	enum mode new_mode;
	struct ad_server new_server;
	char new_err[512];

	/* Active Directory rounds */
	LDAP *round_ld;            /* used by the round thread only */
	struct ad_server server;
	pthread_t round_thread;
	int round_running, round_again, round_orphan, force_full, round_full;
	struct timespec round_began; /* when the last round started */
	struct timespec busy_began;  /* the last one of a stream that found some */
	int notify_on;             /* the change notification search runs */
	unsigned bells;            /* notifications since the last round began */
	unsigned round_bells;      /* those before the round in progress began */
	int usn_fallback;          /* auto: DirSync was refused, use uSNChanged */
	struct berval round_cookie;
	uint64_t round_since;
	char *round_nc;		/* the round thread's own copy: drop() frees w->server */
	struct ad_round round;
	struct event *ev_round_done;

	/* 389 Directory Server (flavor = 389ds) */
	struct ds389_server ds, new_ds;	/* its rootDSE, read at connect */
	int presence_on;           /* the presence check runs (presence_start) */
	int presence_msgid;
	struct uuid_set present;   /* ids in scope it found, and users sent meanwhile */
	size_t unidentified;       /* entries of a plain search without a usable id */

	int backoff;               /* seconds before the next attempt */
	time_t down_since;         /* the first failure since the last healthy moment */
	int probe_msgid;           /* a probe awaiting its answer, or 0 */
	int probe_grace;           /* its deadline was put off once already */
	time_t last_heard;         /* the last message on the connection */
	struct event *ev_probe;
	struct berval kept_cookie; /* of quiet drains, not yet written */
	struct event *ev_cookie;   /* writes it within COOKIE_LAG_S */
	int reading;               /* quiet entries read in one snapshot */
	int failed;                /* --once: gave up after a failure */
	int in_refresh;
	int full;                  /* this refresh was asked without a cookie */
	int swept;                 /* this refresh swept already */
	int scope_noted;           /* the changed scope was logged */
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
	metrics_set(M_DIR_CONNECTED, !error);	/* every non-error state is connected */
	metrics_add(M_DIR_STATE_CHANGES, 1);
	if (error)
		log_warn("directory %s: %s", w->conf->directory.uri, buf);
	else
		log_notice("directory %s: %s", w->conf->directory.uri, buf);
	store_state_set(w->st, "connection", buf);
}

/* ---- connecting ----------------------------------------------------------- */

/* Which source to run against this server (on the connect thread). */
static int
pick_mode(struct watch *w, const struct ad_server *s, enum mode *out)
{
	const char *src = w->conf->directory.source;

	if (strcmp(src, "syncrepl") == 0)
		*out = M_SYNCREPL;
	else if (strcmp(src, "poll") == 0)
		*out = M_POLL;
	else if (strcmp(src, "dirsync") == 0)
		*out = M_DIRSYNC;
	else if (strcmp(src, "usn") == 0)
		*out = M_USN;
	else if (s->syncrepl)
		*out = M_SYNCREPL;
	else if (s->dirsync && !w->usn_fallback)
		*out = M_DIRSYNC;
	else if (s->show_deleted && s->naming_context != NULL)
		*out = M_USN;
	else
		*out = M_POLL;
	if ((*out == M_DIRSYNC || *out == M_USN) && s->naming_context == NULL) {
		snprintf(w->new_err, sizeof(w->new_err), "source = %s: the rootDSE names "
		    "no defaultNamingContext; is this Active Directory?", src);
		return -1;
	}
	if (*out == M_DIRSYNC && !s->dirsync) {
		snprintf(w->new_err, sizeof(w->new_err), "source = dirsync: the server "
		    "does not offer the DirSync control (%s)", AD_OID_DIRSYNC);
		return -1;
	}
	if (*out == M_USN && !s->show_deleted) {
		snprintf(w->new_err, sizeof(w->new_err), "source = usn: the server "
		    "does not offer the show-deleted control (%s)", AD_OID_SHOW_DELETED);
		return -1;
	}
	return 0;
}

/*
 * What an LDAP server that is not AD says of itself (on the connect
 * thread).  389-ds read as OpenLDAP would sync by ids that its plain
 * searches do not give, and sweep everyone after a resumed refresh: it is
 * refused with one line that says what to set.  With flavor = 389ds the
 * retro changelog's numbers tell whether the stored cookie still holds;
 * a rootDSE that cannot be read only means it cannot tell (a full
 * refresh).  0, or -1 with new_err.
 */
static int
check_server(struct watch *w)
{
	char err[256];

	if (ds389_rootdse(w->new_ld, w->conf->directory.network_timeout,
	    &w->new_ds, err, sizeof(err)) == -1)
		return 0;
	return ds389_check_flavor(w->conf->directory.flavor, &w->new_ds,
	    w->new_err, sizeof(w->new_err));
}

static void *
connect_main(void *arg)
{
	struct watch *w = arg;
	int ad = w->conf->directory.flavor == DIR_FLAVOR_AD ||
	    strcmp(w->conf->directory.source, "auto") == 0;

	w->new_mode = w->poll ? M_POLL : M_SYNCREPL;
	if ((w->new_ld = ldapconn_open(w->conf, w->new_err, sizeof(w->new_err))) == NULL)
		goto out;
	if (w->conf->directory.flavor != DIR_FLAVOR_AD && check_server(w) == -1)
		goto fail;
	if (!ad)
		goto out;
	if (ad_rootdse(w->new_ld, &w->new_server, w->new_err, sizeof(w->new_err)) == -1 ||
	    ad_server_identity(w->new_ld, w->conf, &w->new_server, w->new_err,
	    sizeof(w->new_err)) == -1 ||
	    pick_mode(w, &w->new_server, &w->new_mode) == -1)
		goto fail;
	/* Rounds block: they get a connection of their own. */
	if ((w->new_mode == M_DIRSYNC || w->new_mode == M_USN) &&
	    (w->new_round_ld = ldapconn_open(w->conf, w->new_err,
	    sizeof(w->new_err))) == NULL)
		goto fail;
	goto out;
fail:
	ldap_unbind_ext_s(w->new_ld, NULL, NULL);
	w->new_ld = NULL;
	ad_server_free(&w->new_server);
	ds389_server_free(&w->new_ds);
out:
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

/* The kept cookie is not needed: the search starts again from the one
 * stored, and the quiet entries after it change nothing a second time. */
static void
forget_cookie(struct watch *w)
{
	free(w->kept_cookie.bv_val);
	w->kept_cookie.bv_val = NULL;
	w->kept_cookie.bv_len = 0;
	evtimer_del(w->ev_cookie);
}

/* Drops the connection; hung: the server stopped answering (a timeout),
 * rather than refused or closed it. */
static void
drop_as(struct watch *w, const char *why, int hung)
{
	char since[40];

	metrics_add(M_ERR_DIRECTORY, 1);
	w->probe_msgid = 0;
	evtimer_del(w->ev_probe);
	forget_cookie(w);
	if (w->ev_read != NULL) {
		event_free(w->ev_read);
		w->ev_read = NULL;
	}
	if (w->ld != NULL)
		ldap_unbind_ext_s(w->ld, NULL, NULL);
	w->ld = NULL;
	if (w->round_running)
		w->round_orphan = 1;	/* on_round_done unbinds it */
	else if (w->round_ld != NULL) {
		ldap_unbind_ext_s(w->round_ld, NULL, NULL);
		w->round_ld = NULL;
	}
	ad_server_free(&w->server);
	ds389_server_free(&w->ds);
	evtimer_del(w->ev_poll);
	uuid_set_clear(&w->seen);
	uuid_set_clear(&w->present);
	w->presence_on = 0;
	if (w->once) {
		/* One pass was asked for: say why it cannot be done, and stop. */
		set_state(w, 1, "cannot complete the pass: %s", why);
		w->failed = 1;
		event_base_loopbreak(w->base);
		return;
	}
	if (w->down_since == 0)
		w->down_since = time(NULL);
	strftime(since, sizeof(since), "%Y-%m-%d %H:%M:%S UTC", gmtime(&w->down_since));
	if (hung)
		set_state(w, 1, "not answering since %s: %s; retrying with backoff up "
		    "to %ds", since, why, w->conf->directory.reconnect_max);
	else
		set_state(w, 1, "disconnected: %s; retrying with backoff up to %ds "
		    "(down since %s)", why, w->conf->directory.reconnect_max, since);
	schedule_retry(w);
}

static void
drop(struct watch *w, const char *why)
{
	/* A connect or bind that timed out: the server is there but silent. */
	drop_as(w, why, strstr(why, ldap_err2string(LDAP_TIMEOUT)) != NULL);
}

/* The store failed under a drain: what was read is not kept, so the search
 * starts again from the last cookie, after the backoff. */
static void
drop_store(struct watch *w, const char *what)
{
	char why[400];

	snprintf(why, sizeof(why), "the state store could not %s (%s)", what,
	    store_error(w->st));
	drop_as(w, why, 0);
}

/* The connection proved itself: the next failure starts the backoff over. */
static void
healthy(struct watch *w)
{
	w->backoff = 1;
	w->down_since = 0;
}

int
watch_failed(const struct watch *w)
{
	return w != NULL && w->failed;
}

/* ---- probing a silent connection -------------------------------------------- */

/*
 * SSSD bounds each operation (ldap_opt_timeout) and renews its connections
 * on a timer (ldap_connection_expire_timeout); a persistent search has no
 * operation to bound, so it is the silence that is bounded here: after
 * idle_probe seconds without a message, a base search of the rootDSE
 * (asking for no attribute) goes over the same connection, and an answer
 * must come within network_timeout.  Sent and read without blocking: the
 * answer is picked up by the drains.
 */
static void
probe_arm(struct watch *w, int seconds)
{
	struct timeval tv = { seconds, 0 };

	if (w->conf->directory.idle_probe > 0 && w->ld != NULL)
		evtimer_add(w->ev_probe, &tv);
}

static void
probe_answered(struct watch *w)
{
	w->probe_msgid = 0;
	w->last_heard = time(NULL);
	evtimer_del(w->ev_probe);
	probe_arm(w, w->conf->directory.idle_probe);
}

/* Whether msg is (part of) the probe's answer; its end settles the probe. */
static int
probe_message(struct watch *w, LDAPMessage *msg)
{
	if (w->probe_msgid == 0 || ldap_msgid(msg) != w->probe_msgid)
		return 0;
	if (ldap_msgtype(msg) == LDAP_RES_SEARCH_RESULT)
		probe_answered(w);
	return 1;
}

/* An answer may be waiting on the socket while the loop was busy (the
 * store, say): then the deadline is the loop's, not the server's. */
static int
probe_waiting(struct watch *w)
{
	struct pollfd pfd = { .fd = -1, .events = POLLIN };

	if (ldap_get_option(w->ld, LDAP_OPT_DESC, &pfd.fd) != LDAP_OPT_SUCCESS ||
	    pfd.fd < 0)
		return 0;
	return poll(&pfd, 1, 0) == 1;
}

static void
on_probe(evutil_socket_t fd, short what, void *arg)
{
	static char *const no_attrs[] = { LDAP_NO_ATTRS, NULL };
	struct watch *w = arg;
	time_t quiet = time(NULL) - w->last_heard;
	char why[128];
	int rc;

	if (w->ld == NULL)
		return;
	if (w->probe_msgid != 0) {
		if (!w->probe_grace && probe_waiting(w)) {
			w->probe_grace = 1;	/* a second to read it */
			event_active(w->ev_read, EV_READ, 0);
			probe_arm(w, 1);
			return;
		}
		snprintf(why, sizeof(why), "no answer to a probe within %ds",
		    w->conf->directory.network_timeout);
		drop_as(w, why, 1);
		return;
	}
	if (quiet < w->conf->directory.idle_probe) {
		probe_arm(w, w->conf->directory.idle_probe - (int)quiet);
		return;
	}
	w->probe_grace = 0;
	rc = ldap_search_ext(w->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)",
	    (char **)no_attrs, 0, NULL, NULL, NULL, 1, &w->probe_msgid);
	if (rc != LDAP_SUCCESS) {
		w->probe_msgid = 0;
		drop(w, ldap_err2string(rc));
		return;
	}
	probe_arm(w, w->conf->directory.network_timeout);
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
	w->round_ld = w->new_round_ld;
	w->new_round_ld = NULL;
	w->server = w->new_server;
	memset(&w->new_server, 0, sizeof(w->new_server));
	w->ds = w->new_ds;
	memset(&w->new_ds, 0, sizeof(w->new_ds));
	w->mode = w->new_mode;
	w->poll = w->mode == M_POLL;
	if (ldap_get_option(w->ld, LDAP_OPT_DESC, &sock) != LDAP_OPT_SUCCESS || sock < 0) {
		drop(w, "no socket after bind");
		return;
	}
	w->ev_read = event_new(w->base, sock, EV_READ | EV_PERSIST, on_read, w);
	if (w->ev_read == NULL || event_add(w->ev_read, NULL) == -1 ||
	    start_search(w) == -1)
		return;
	/* Not healthy() yet: a server that accepts and then fails at once
	 * (or whose changes cannot be recorded) keeps its backoff. */
	w->last_heard = time(NULL);
	probe_arm(w, w->conf->directory.idle_probe);
}

static void
connect_async(struct watch *w)
{
	if (w->thread_running || w->ld != NULL)
		return;
	if (w->round_running) {
		/* A round of the lost connection is still unwinding. */
		struct timeval tv = { 1, 0 };

		evtimer_add(w->ev_retry, &tv);
		return;
	}
	w->thread_running = 1;
	if (pthread_create(&w->thread, NULL, connect_main, w) != 0) {
		w->thread_running = 0;
		drop(w, "cannot start a connect thread");
	}
}

/* ---- searching ---------------------------------------------------------------- */

static int start_ad(struct watch *w);

/*
 * Whether [directory] base, scope or filter changed since the last pass
 * completed (a reload, or an edit and a restart): a stored cookie then
 * speaks of other users, so the pass starts from none, and its sweep
 * compares the new scope with what certsync knows (the planner's safety
 * catch judges what that sweep would remove).
 */
static int
scope_changed(struct watch *w)
{
	char *was = NULL, *now = conf_scope_text(w->conf);
	int changed;

	changed = store_state_get(w->st, "scope", &was, NULL) == 1 && was != NULL &&
	    strcmp(was, now) != 0;
	if (changed && !w->scope_noted++)	/* once, not per reconnect */
		log_notice("directory %s: [directory] base, scope or filter changed "
		    "since the last pass (was %s, now %s); a full pass follows, "
		    "compared with what certsync knows", w->conf->directory.uri, was, now);
	free(was);
	free(now);
	return changed;
}

/* A pass completed with this scope: the next one compares with it. */
static void
scope_settled(struct watch *w)
{
	char *now;

	if (w->sink.dry_run)
		return;
	now = conf_scope_text(w->conf);
	store_state_set(w->st, "scope", now);
	free(now);
}

static int
is_389(const struct watch *w)
{
	return w->conf->directory.flavor == DIR_FLAVOR_389DS;
}

/* The stored cookie into *cookie (bv_val NULL: none, or one 389-ds would
 * resume from with changes missing).  Caller frees bv_val. */
static void
stored_cookie(struct watch *w, struct berval *cookie)
{
	void *blob = NULL;
	size_t len = 0;
	char why[200];

	cookie->bv_val = NULL;
	cookie->bv_len = 0;
	if (store_checkpoint_get(w->st, CHECKPOINT, &blob, &len, NULL) != 1 ||
	    blob == NULL)
		return;
	if (is_389(w) && ds389_cookie_stale(&w->ds, blob, len, why, sizeof(why))) {
		log_notice("directory %s: not resuming from the stored cookie: %s; "
		    "a full refresh follows, compared with what certsync knows",
		    w->conf->directory.uri, why);
		free(blob);
		return;
	}
	cookie->bv_val = blob;
	cookie->bv_len = len;
}

static int
start_search(struct watch *w)
{
	struct berval cookie = { 0, NULL };
	int rc;

	if (w->mode == M_DIRSYNC || w->mode == M_USN)
		return start_ad(w);

	w->in_refresh = 1;
	w->unidentified = 0;
	w->swept = 0;
	uuid_set_clear(&w->seen);
	/* The refresh summary counts this pass only. */
	w->sink.pass_begin(w->sink.arg);
	if (w->poll)
		rc = syncrepl_poll_search(w->ld, w->conf, &w->msgid);
	else {
		if (!scope_changed(w))
			stored_cookie(w, &cookie);
		/* Only a refresh asked without a cookie sends every entry. */
		w->full = cookie.bv_val == NULL;
		rc = syncrepl_search(w->ld, w->conf, w->once ? LDAP_SYNC_REFRESH_ONLY :
		    LDAP_SYNC_REFRESH_AND_PERSIST, &cookie, &w->msgid);
	}
	free(cookie.bv_val);
	if (rc != LDAP_SUCCESS) {
		drop(w, ldap_err2string(rc));
		return -1;
	}
	if (w->poll)
		set_state(w, 0, "connected; polling every %ds",
		    w->conf->directory.poll_interval);
	else
		set_state(w, 0, "connected; syncrepl %s", !w->full ?
		    "resuming from the stored cookie" : "full refresh (no cookie)");
	store_state_set(w->st, "source", w->poll ? "poll" : "syncrepl");
	return 0;
}

static void
save_cookie(struct watch *w, const struct berval *cookie)
{
	if (cookie->bv_val != NULL && !w->sink.dry_run)
		store_checkpoint_put(w->st, CHECKPOINT, cookie->bv_val, cookie->bv_len, NULL);
}

static void
refresh_complete(struct watch *w)
{
	char summary[128];

	if (!w->in_refresh)
		return;
	w->in_refresh = 0;
	w->sink.pass_summary(w->sink.arg, summary, sizeof(summary));
	log_notice("directory %s: refresh complete: %s", w->conf->directory.uri,
	    summary);
	store_state_set(w->st, "refreshed", "yes");
	scope_settled(w);
	/* A full refresh parsed every entry in scope: its pages go back. */
	mem_trim();
	if (w->once && w->on_refreshed != NULL)
		w->on_refreshed(w->arg);
}

/*
 * After a complete read: everyone certsync knows that in_scope lacks is
 * gone, unless entries of the pass came without a usable id (the service
 * account may not read it): any of them may be such a user.  At most once
 * a pass: a second sweep, after seen was cleared, would take everyone for
 * gone.
 */
static void
sweep(struct watch *w, struct uuid_set *in_scope)
{
	if (w->swept)
		return;
	w->swept = 1;
	if (w->unidentified > 0) {
		log_warn("directory %s: %zu entr%s in scope came without a usable %s "
		    "(may the service account read it?); nobody is taken for gone "
		    "in this pass", w->conf->directory.uri, w->unidentified,
		    w->unidentified == 1 ? "y" : "ies",
		    syncrepl_id_attr(w->conf->directory.flavor));
		return;
	}
	w->sink.sweep(w->sink.arg, in_scope);
}

/*
 * 389-ds: the presence check, a plain search for the ids of every user in
 * scope (nothing else is read).  When it completes, whoever certsync knows
 * and it did not find is gone.  Users the sync stream sends meanwhile count
 * as found: the search may have passed them before they came in scope.
 */
static void
presence_start(struct watch *w)
{
	int rc;

	uuid_set_clear(&w->present);
	w->unidentified = 0;
	w->swept = 0;
	if ((rc = syncrepl_id_search(w->ld, w->conf, &w->presence_msgid)) !=
	    LDAP_SUCCESS) {
		drop(w, ldap_err2string(rc));
		return;
	}
	w->presence_on = 1;
}

static void
presence_message(struct watch *w, LDAPMessage *msg)
{
	struct dir_entry e;
	int err = LDAP_OTHER;
	char why[300];

	if (ldap_msgtype(msg) == LDAP_RES_SEARCH_ENTRY) {
		if (syncrepl_entry(w->ld, w->conf->directory.flavor, msg, &e) == 0) {
			if (e.uuid != NULL)
				uuid_set_add(&w->present, e.uuid);
			else
				w->unidentified++;
			dir_entry_free(&e);
		}
		return;
	}
	if (ldap_msgtype(msg) != LDAP_RES_SEARCH_RESULT)
		return;		/* a referral: not ours to follow */
	w->presence_on = 0;
	ldap_parse_result(w->ld, msg, &err, NULL, NULL, NULL, NULL, 0);
	if (err != LDAP_SUCCESS) {
		snprintf(why, sizeof(why), "the search for the users still in scope "
		    "failed: %s", ldap_err2string(err));
		drop(w, why);
		return;
	}
	sweep(w, &w->present);
	uuid_set_clear(&w->present);
	uuid_set_clear(&w->seen);
	refresh_complete(w);
}

/*
 * 389-ds: its refresh is over.  Asked without a cookie it sent every entry:
 * whoever it did not send is gone.  Resumed from a cookie it sent only the
 * changes (the departed in a syncIdSet, handled already) and, whatever
 * refreshDeletes says, nobody else is gone; but a user who left the filter
 * meanwhile (mail removed) it does not report: the presence check finds
 * them.  Returns 1 when the presence check carries the pass on.
 */
static int
ds389_refresh_over(struct watch *w)
{
	if (!w->in_refresh)
		return 0;
	if (w->full)
		sweep(w, &w->seen);
	uuid_set_clear(&w->seen);
	if (w->full)
		return 0;
	presence_start(w);
	return 1;
}

/* The sync search ended with result, an error. */
static void
sync_refused(struct watch *w, int result)
{
	char why[300];

	if (is_389(w) && result == LDAP_UNWILLING_TO_PERFORM) {
		/* Temporary: a session ends, a slot frees; the backoff grows. */
		snprintf(why, sizeof(why), "the server refused the sync search (%s): "
		    "389-ds runs at most 10 persistent ones at once (Content "
		    "Synchronization's nsslapd-pluginarg0)", ldap_err2string(result));
		drop(w, why);
	} else
		drop(w, ldap_err2string(result));
}

static void
handle_done(struct watch *w, struct sync_event *ev)
{
	if (ev->result == LDAP_SYNC_REFRESH_REQUIRED) {
		/* The server cannot resume from our cookie: reload in full.
		 * Reconcile makes that cheap: unchanged users need no work. */
		log_notice("directory %s: the server refused the stored cookie "
		    "(e-syncRefreshRequired); a full refresh follows, compared with "
		    "what certsync knows", w->conf->directory.uri);
		store_checkpoint_put(w->st, CHECKPOINT, NULL, 0, NULL);
		uuid_set_clear(&w->seen);
		start_search(w);
		return;
	}
	if (ev->result != LDAP_SUCCESS) {
		sync_refused(w, ev->result);
		return;
	}
	if (!w->once && !w->poll) {
		/* A persist search should never end; if the server ends it,
		 * sweeping now would judge every user by the few seen since
		 * the refresh.  Start over from the cookie instead. */
		drop(w, "the server ended the persistent search");
		return;
	}
	save_cookie(w, &ev->cookie);
	/* refreshOnly, or a poll: a present phase unless told otherwise, and
	 * a refresh asked without a cookie whatever it says; 389-ds says
	 * nothing it means (ds389_refresh_over). */
	if (is_389(w) && !w->poll) {
		if (ds389_refresh_over(w))
			return;
	} else if ((!ev->refresh_deletes || w->full) && w->in_refresh)
		sweep(w, &w->seen);
	uuid_set_clear(&w->seen);
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
			w->sink.gone(w->sink.arg, ev->uuids[i]);
		else
			uuid_set_add(&w->seen, ev->uuids[i]);
	}
}

/*
 * The end of a refresh phase.  After a present phase, whoever it did not
 * name is gone; and after a refresh asked without a cookie, which sent
 * every entry in scope, whatever phase it ends with (OpenLDAP ends it with
 * a delete phase): a full refresh after a refused cookie or a changed
 * scope misses no departure.  On 389-ds only the end of the refresh
 * counts, and ds389_refresh_over() decides.
 */
static void
phase_end(struct watch *w, struct sync_event *ev)
{
	if (is_389(w)) {
		if (ev->refresh_done && ds389_refresh_over(w))
			return;
	} else if (w->in_refresh && (ev->type == SE_PRESENT_END ||
	    (w->full && ev->refresh_done)))
		sweep(w, &w->seen);
	uuid_set_clear(&w->seen);
	if (ev->refresh_done)
		refresh_complete(w);
}

static void
handle_event(struct watch *w, struct sync_event *ev)
{
	switch (ev->type) {
	case SE_ENTRY:
		if (w->in_refresh)	/* the persist stage needs no sweep */
			uuid_set_add(&w->seen, ev->uuid);
		if (w->presence_on)
			uuid_set_add(&w->present, ev->uuid);
		w->sink.entry(w->sink.arg, &ev->entry);
		break;
	case SE_PRESENT:
		if (w->in_refresh)
			uuid_set_add(&w->seen, ev->uuid);
		break;
	case SE_DELETE:
		w->sink.gone(w->sink.arg, ev->uuid);
		break;
	case SE_IDSET:
		handle_idset(w, ev);
		break;
	case SE_PRESENT_END:
	case SE_DELETE_END:
		save_cookie(w, &ev->cookie);
		phase_end(w, ev);
		return;
	case SE_DONE:
		handle_done(w, ev);
		return;
	default:
		break;
	}
	save_cookie(w, &ev->cookie);
}

static void
handle_poll_message(struct watch *w, LDAPMessage *msg)
{
	struct sync_event ev;
	struct dir_entry e;

	if (ldap_msgtype(msg) == LDAP_RES_SEARCH_ENTRY) {
		if (syncrepl_entry(w->ld, w->conf->directory.flavor, msg, &e) == 0) {
			if (e.uuid != NULL)
				uuid_set_add(&w->seen, e.uuid);
			else
				w->unidentified++;
			w->sink.entry(w->sink.arg, &e);
			dir_entry_free(&e);
		}
		return;
	}
	if (syncrepl_parse(w->ld, msg, &ev) == 0 && ev.type == SE_DONE)
		handle_done(w, &ev);
	sync_event_free(&ev);
}

static void start_round(struct watch *w);
static void on_notify_read(struct watch *w);
static int notify_start(struct watch *w);

/* One message of the watching connection, read with LDAP_RES_ANY (so
 * that libldap keeps none back that the socket no longer signals): the
 * probe's answer, the presence check's (389-ds), or the search's.  1 for a
 * message of the change source. */
static int
handle_message(struct watch *w, LDAPMessage *msg)
{
	struct sync_event ev;

	w->last_heard = time(NULL);
	if (probe_message(w, msg))
		return 0;
	if (w->presence_on && ldap_msgid(msg) == w->presence_msgid) {
		presence_message(w, msg);
		return 1;
	}
	if (ldap_msgid(msg) != w->msgid)
		return 0;	/* of a search that is over */
	store_state_set(w->st, "last_event", "");
	metrics_set(M_DIR_LAST_EVENT, (int64_t)time(NULL));
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
	return 1;
}

/* The cookie of a quiet entry, kept until a transaction writes it. */
static void
keep_cookie(struct watch *w, const struct berval *cookie)
{
	char *copy;

	if (cookie->bv_val == NULL)
		return;
	if ((copy = realloc(w->kept_cookie.bv_val, cookie->bv_len)) == NULL)
		fatal("out of memory");
	memcpy(copy, cookie->bv_val, cookie->bv_len);
	w->kept_cookie.bv_val = copy;
	w->kept_cookie.bv_len = cookie->bv_len;
}

/*
 * Whether msg is an entry of the persist stage that the sink says would
 * change nothing (the echo of certsync's own publishing); then it is
 * consumed here, its cookie kept.  Entries of a refresh are never quiet:
 * they count for its sweep.  1 or 0.
 */
static int
quiet_message(struct watch *w, LDAPMessage *msg)
{
	struct sync_event ev;
	int quiet;

	memset(&ev, 0, sizeof(ev));
	if (w->sink.quiet == NULL || w->sink.dry_run || w->poll || w->in_refresh ||
	    w->presence_on || ldap_msgid(msg) != w->msgid ||
	    ldap_msgtype(msg) != LDAP_RES_SEARCH_ENTRY)
		return 0;
	/* One snapshot for the drain's reads: a read transaction per
	 * statement would drop the page cache after each of the runner's
	 * commits. */
	if (!w->reading && store_begin_read(w->st) == 0)
		w->reading = 1;
	quiet = w->reading && syncrepl_parse(w->ld, msg, &ev) == 0 &&
	    ev.type == SE_ENTRY && w->sink.quiet(w->sink.arg, &ev.entry) == 1;
	if (quiet) {
		w->last_heard = time(NULL);
		metrics_set(M_DIR_LAST_EVENT, (int64_t)time(NULL));
		keep_cookie(w, &ev.cookie);
	}
	sync_event_free(&ev);
	return quiet;
}

/* The snapshot quiet entries were read in ends (nothing was written). */
static void
end_read(struct watch *w)
{
	if (w->reading)
		store_commit(w->st);
	w->reading = 0;
}

/* A drain's transaction begins, with the cookie quiet entries left (and
 * the time of the last event they are).  0, or -1 (nothing begun). */
static int
begin_drain(struct watch *w)
{
	end_read(w);
	if (store_begin(w->st) == -1)
		return -1;
	if (w->kept_cookie.bv_val != NULL) {
		store_state_set(w->st, "last_event", "");
		save_cookie(w, &w->kept_cookie);
	}
	return 0;
}

/* Commits a drain's transaction; on failure the connection is dropped
 * (the search starts again from the last cookie committed).  0 or -1. */
static int
end_drain(struct watch *w, int changes)
{
	if (store_commit(w->st) == -1) {
		/* The messages are consumed but their effects are not stored:
		 * search again from the last committed cookie. */
		drop_store(w, "record the changes");
		return -1;
	}
	forget_cookie(w);	/* written */
	/* Recorded, and still up (an error result drops it): proven. */
	if (changes > 0 && w->ld != NULL)
		healthy(w);
	w->sink.flush(w->sink.arg);
	return 0;
}

/* A cookie kept from quiet drains, written COOKIE_LAG_S after the first. */
static void
on_cookie(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	if (w->ld == NULL || w->kept_cookie.bv_val == NULL)
		return;
	if (begin_drain(w) == -1)
		drop_store(w, "start a transaction");
	else
		end_drain(w, 0);
}

/*
 * Drains the watching connection: at most DRAIN_MAX messages, until
 * ldap_result has none.  The transaction begins at the first message that
 * may change something (reading on without one would consume changes
 * unrecorded); the quiet ones before it need none.  *open: it began.
 * Returns how many messages were read, or -1 after dropping the connection.
 */
static int
drain(struct watch *w, int *open, int *changes)
{
	struct timeval zero = { 0, 0 };
	int i, rc, err;

	for (i = 0; i < DRAIN_MAX && w->ld != NULL; i++) {
		LDAPMessage *msg = NULL;

		/* The sync (or poll) search, the presence check beside it,
		 * and the probe. */
		if ((rc = ldap_result(w->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero, &msg)) == 0)
			break;
		if (rc == -1) {
			err = LDAP_SERVER_DOWN;
			ldap_get_option(w->ld, LDAP_OPT_RESULT_CODE, &err);
			ldap_msgfree(msg);
			end_read(w);
			if (*open) {
				store_commit(w->st);
				w->sink.flush(w->sink.arg);
			}
			drop(w, ldap_err2string(err));
			return -1;
		}
		if (!*open && !quiet_message(w, msg)) {
			if (begin_drain(w) == -1) {
				ldap_msgfree(msg);
				drop_store(w, "start a transaction");
				return -1;
			}
			*open = 1;
		}
		if (*open)
			*changes += handle_message(w, msg);
		ldap_msgfree(msg);
	}
	return i;
}

static void
on_read(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	int n, open = 0, changes = 0;

	if (w->mode == M_DIRSYNC || w->mode == M_USN) {
		on_notify_read(w);
		return;
	}
	if ((n = drain(w, &open, &changes)) == -1)
		return;
	end_read(w);
	if (open && end_drain(w, changes) == -1)
		return;
	if (w->kept_cookie.bv_val != NULL && !evtimer_pending(w->ev_cookie, NULL)) {
		struct timeval lag = { COOKIE_LAG_S, 0 };

		evtimer_add(w->ev_cookie, &lag);
	}
	/* libldap may hold parsed data the fd no longer signals: come back. */
	if (n == DRAIN_MAX && w->ev_read != NULL)
		event_active(w->ev_read, EV_READ, 0);
}

static void
on_poll(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;

	if (w->ld == NULL)
		return;	/* a reconnect will start the next pass */
	if (w->mode == M_DIRSYNC || w->mode == M_USN)
		start_round(w);
	else
		start_search(w);
}

/* ---- Active Directory rounds ---------------------------------------------------- */

static const char *
ad_checkpoint(const struct watch *w)
{
	return w->mode == M_USN ? "usn" : "dirsync";
}

/* The connection state and the source, as they are now (the mode can
 * change after the first round: DirSync refused, uSNChanged instead). */
static void
announce_rounds(struct watch *w)
{
	set_state(w, 0, "connected to %s; %s rounds%s", w->server.service_name ?
	    w->server.service_name : "the server", mode_names[w->mode],
	    w->server.notification && !w->once ? ", started by change notification" :
	    "");
	store_state_set(w->st, "source", mode_names[w->mode]);
}

static int
start_ad(struct watch *w)
{
	w->in_refresh = 1;
	w->sink.pass_begin(w->sink.arg);
	if (scope_changed(w))
		w->force_full = 1;
	w->notify_on = 0;
	w->bells = w->round_bells = 0;
	memset(&w->busy_began, 0, sizeof(w->busy_began));
	if (notify_start(w) == -1)
		return -1;
	announce_rounds(w);
	start_round(w);
	return 0;
}

static void *
round_main(void *arg)
{
	struct watch *w = arg;
	const char *nc = w->round_nc;

	if (w->mode == M_DIRSYNC)
		ad_dirsync_round(w->round_ld, w->conf, nc,
		    w->round_cookie.bv_len ? &w->round_cookie : NULL, &w->round);
	else {
		/* The server's USN before the search: what changes after
		 * it comes in the next round. */
		struct ad_server now;

		memset(&w->round, 0, sizeof(w->round));
		if (ad_rootdse(w->round_ld, &now, w->round.err,
		    sizeof(w->round.err)) == -1)
			w->round.rc = LDAP_SERVER_DOWN;
		else
			ad_usn_round(w->round_ld, w->conf, nc, w->round_since,
			    now.highest_usn, &w->round);
		ad_server_free(&now);
	}
	if (w->round.rc == LDAP_SUCCESS)
		ad_scope_check(w->round_ld, w->conf, &w->round);
	event_active(w->ev_round_done, 0, 0);
	return NULL;
}

/*
 * Whether a checkpoint stored with server_id may be used on this DC: the
 * same name and, when both say, the same database (invocationId; a DC
 * restored from backup has a new one).  A checkpoint of an older certsync,
 * or from a time the invocationId could not be read, has the name alone.
 */
static int
same_server(const char *stored, const struct ad_server *now)
{
	static const char tag[] = " invocationId=";
	const char *s_inv, *n_inv;
	size_t s_name, n_name;

	if (stored == NULL || now->server_id == NULL)
		return 0;
	s_inv = strstr(stored, tag);
	n_inv = strstr(now->server_id, tag);
	s_name = s_inv ? (size_t)(s_inv - stored) : strlen(stored);
	n_name = n_inv ? (size_t)(n_inv - now->server_id) : strlen(now->server_id);
	if (s_name != n_name || strncmp(stored, now->server_id, s_name) != 0)
		return 0;
	return s_inv == NULL || n_inv == NULL || strcmp(s_inv, n_inv) == 0;
}

static long
ms_since(const struct timespec *then, const struct timespec *now)
{
	return (long)(now->tv_sec - then->tv_sec) * 1000 +
	    (now->tv_nsec - then->tv_nsec) / 1000000;
}

/* Whether a stream of changes runs at time t. */
static int
in_stream(const struct watch *w, const struct timespec *t)
{
	return w->busy_began.tv_sec != 0 && ms_since(&w->busy_began, t) < STREAM_MS;
}

static int
in_stream_now(const struct watch *w)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return in_stream(w, &now);
}

/* Milliseconds until the next round may begin (ROUND_GAP_MS after the
 * last one, in a stream), or 0 for now. */
static long
round_wait_ms(const struct watch *w)
{
	struct timespec now;
	long since;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (!in_stream(w, &now))
		return 0;
	since = ms_since(&w->round_began, &now);
	return since >= 0 && since < ROUND_GAP_MS ? ROUND_GAP_MS - since : 0;
}

/* Sends the change notification search unless --once or the server has
 * none; 0, or -1 after dropping the connection. */
static int
notify_start(struct watch *w)
{
	int rc;

	if (w->once || !w->server.notification || w->notify_on)
		return 0;
	/* On the naming context: a user moved out of base must ring the
	 * bell too.  Samba sends no notification for a deletion (tried on
	 * Deleted Objects with show-deleted as well): those are found by
	 * the round every poll_interval seconds. */
	if ((rc = ad_notify_search(w->ld, w->server.naming_context, 0,
	    &w->msgid)) != LDAP_SUCCESS) {
		drop(w, ldap_err2string(rc));
		return -1;
	}
	w->notify_on = 1;
	return 0;
}

/*
 * In a stream the notification search is abandoned: Samba runs every
 * pending one again after each modify (a scan of the partition: 7 ms of
 * its CPU at 1,000 users, growing with it), twice a user in a mass event
 * (the admin's modify and ours), while the rounds on the timer find the
 * changes anyway.  Once the stream is over it is sent again, and one more
 * round finds what changed in between.  0, or -1 after dropping.
 */
static int
notify_follow_stream(struct watch *w)
{
	if (w->once || !w->server.notification)
		return 0;
	if (in_stream_now(w)) {
		if (w->notify_on) {
			ldap_abandon_ext(w->ld, w->msgid, NULL, NULL);
			w->notify_on = 0;
		}
		return 0;
	}
	if (w->notify_on)
		return 0;
	if (notify_start(w) == -1)
		return -1;
	w->round_again = 1;
	return 0;
}

static void
start_round(struct watch *w)
{
	char *server_id = NULL;
	void *blob = NULL;
	size_t len = 0;
	long wait_ms;
	int have;

	if (w->round_running) {
		w->round_again = 1;	/* the bell rang during a round */
		return;
	}
	if (w->ld == NULL || w->round_ld == NULL)
		return;
	if ((wait_ms = round_wait_ms(w)) > 0) {
		/* on_poll starts it; later bells find it set. */
		struct timeval tv = { 0, wait_ms * 1000 };

		evtimer_add(w->ev_poll, &tv);
		return;
	}
	clock_gettime(CLOCK_MONOTONIC, &w->round_began);
	evtimer_del(w->ev_poll);
	w->round_again = 0;
	w->round_bells = w->bells;
	w->bells = 0;
	free(w->round_cookie.bv_val);
	memset(&w->round_cookie, 0, sizeof(w->round_cookie));
	w->round_since = 0;
	have = store_checkpoint_get(w->st, ad_checkpoint(w), &blob, &len, &server_id);
	if (have == 1 && blob != NULL && !w->force_full) {
		if (!same_server(server_id, &w->server)) {
			log_notice("directory %s: the stored %s checkpoint is from "
			    "another domain controller, or from before a restore "
			    "(%s); a full pass follows, compared with what certsync "
			    "knows", w->conf->directory.uri,
			    mode_names[w->mode], server_id ? server_id : "unknown");
			free(blob);
		} else if (w->mode == M_USN) {
			w->round_since = ad_usn_since(blob, len);
			free(blob);
		} else {
			w->round_cookie.bv_val = blob;
			w->round_cookie.bv_len = len;
		}
	} else
		free(blob);
	free(server_id);
	w->round_full = w->force_full;	/* cleared once the round is applied */
	free(w->round_nc);
	if ((w->round_nc = strdup(w->server.naming_context)) == NULL)
		fatal("out of memory");
	w->round_running = 1;
	if (pthread_create(&w->round_thread, NULL, round_main, w) != 0) {
		w->round_running = 0;
		drop(w, "cannot start a round thread");
	}
}

/* 389-ds: the presence check finds users who left the filter while no
 * persistent search watched (mail removed); the rest it reports itself. */
static void
ds389_full_pass(struct watch *w)
{
	if (w->ld == NULL || w->in_refresh || w->presence_on)
		return;	/* a refresh in progress checks presence itself */
	log_info("directory %s: checking which users are still in scope, as "
	    "[directory] full_reconcile_hours asks", w->conf->directory.uri);
	w->in_refresh = 1;
	w->sink.pass_begin(w->sink.arg);
	presence_start(w);
}

void
watch_full_pass(struct watch *w)
{
	if (w != NULL && w->mode == M_SYNCREPL && is_389(w))
		ds389_full_pass(w);
	if (w == NULL || (w->mode != M_DIRSYNC && w->mode != M_USN))
		return;
	log_info("directory %s: a full %s pass, as [directory] "
	    "full_reconcile_hours asks", w->conf->directory.uri, mode_names[w->mode]);
	w->force_full = 1;
	start_round(w);	/* or after the round in progress */
}

/* One object of a round to the sink, merged with its stored copy. */
static int
apply_object(struct watch *w, struct ad_object *o, int merge, struct uuid_set *seen)
{
	struct dir_entry merged;
	unsigned char *packed = NULL;
	void *blob = NULL;
	char *dn = NULL, *uuid;
	size_t len = 0;
	int rc = 0, dry = w->sink.dry_run;

	if (o->deleted) {
		if (!dry && store_copy_delete(w->st, o->entry.uuid) == -1)
			return -1;
		return w->sink.gone(w->sink.arg, o->entry.uuid);
	}
	if ((uuid = strdup(o->entry.uuid)) == NULL)
		fatal("out of memory");
	memset(&merged, 0, sizeof(merged));
	if (merge && store_copy_get(w->st, uuid, &dn, &blob, &len) == 1 &&
	    ad_unpack(blob, len, &merged) == 0) {
		merged.dn = dn;
		dn = NULL;
		ad_merge(&merged, &o->entry);
	} else {
		/* No copy: the round sent the whole object (a full round,
		 * a new object, or a uSNChanged round). */
		merged = o->entry;
		memset(&o->entry, 0, sizeof(o->entry));
		free((char *)merged.uuid);
	}
	merged.uuid = uuid;
	free(blob);
	free(dn);
	if (!dry) {
		ad_pack(&merged, &packed, &len);
		rc = store_copy_put(w->st, uuid, merged.dn, packed, len);
		free(packed);
	}
	if (rc == 0) {
		if (o->in_scope) {
			uuid_set_add(seen, uuid);
			rc = w->sink.entry(w->sink.arg, &merged);
		} else
			rc = w->sink.gone(w->sink.arg, uuid);
	}
	dir_entry_free(&merged);
	return rc;
}

static void
apply_round(struct watch *w, struct ad_round *r)
{
	struct uuid_set seen = { NULL, 0, 0, 0 };
	int merge = w->mode == M_DIRSYNC && !r->full;

	if (store_begin(w->st) == -1) {
		drop_store(w, "start a transaction");
		return;
	}
	for (size_t i = 0; i < r->n; i++) {
		if (apply_object(w, &r->v[i], merge, &seen) == -1) {
			/* Nothing of the round is kept: the next one repeats it. */
			store_rollback(w->st);
			uuid_set_clear(&seen);
			drop_store(w, "record the changes");
			return;
		}
	}
	if (r->full)
		w->sink.sweep(w->sink.arg, &seen);
	uuid_set_clear(&seen);
	if (!w->sink.dry_run)
		store_checkpoint_put(w->st, ad_checkpoint(w), r->cookie.bv_val,
		    r->cookie.bv_len, w->server.server_id);
	if (store_commit(w->st) == -1) {
		drop_store(w, "record the changes");
		return;
	}
	healthy(w);
	metrics_set(M_DIR_LAST_EVENT, (int64_t)time(NULL));
	if (w->round_full)	/* the full pass asked for is done */
		w->force_full = w->round_full = 0;
	w->sink.flush(w->sink.arg);
	log_info("directory %s: %s round: %zu object(s)%s", w->conf->directory.uri,
	    mode_names[w->mode], r->n, r->full ? ", full pass" : "");
	refresh_complete(w);
}

/* After a round: the bell as the stream wants it, then the next round
 * now (the bell rang meanwhile), or on the timer. */
static void
next_round(struct watch *w)
{
	struct timeval tv = { w->conf->directory.poll_interval, 0 };

	if (notify_follow_stream(w) == -1)
		return;
	if (w->round_again) {
		start_round(w);
		return;
	}
	/* No bell rings in a stream: the timer starts the rounds. */
	if (!w->notify_on && in_stream_now(w))
		tv = (struct timeval){ 0, ROUND_GAP_MS * 1000 };
	evtimer_add(w->ev_poll, &tv);
}

/*
 * Whether round r, just applied, starts a stream or keeps one going.  A
 * full pass is no stream.  Two objects or more start one; so do two bells
 * or more for a round that found nothing: echoes, a modify per user of our
 * publishing (Samba re-runs the notification search after each modify: a
 * scan of the partition whose cost grows with it).  One bell alone is one
 * change's, not a stream's: a single change and its echo keep their
 * latency.  In a stream, a round that found any keeps it going.
 */
static int
starts_stream(const struct watch *w, const struct ad_round *r)
{
	if (r->full)
		return 0;
	return r->n >= 2 || (r->n == 0 && w->round_bells >= 2) ||
	    (r->n == 1 && in_stream(w, &w->round_began));
}

static void
on_round_done(evutil_socket_t fd, short what, void *arg)
{
	struct watch *w = arg;
	struct ad_round *r = &w->round;
	int full;

	pthread_join(w->round_thread, NULL);
	w->round_running = 0;
	if (w->round_orphan) {
		/* The connection was lost meanwhile; the reconnect starts over. */
		w->round_orphan = 0;
		if (w->round_ld != NULL)
			ldap_unbind_ext_s(w->round_ld, NULL, NULL);
		w->round_ld = NULL;
		ad_round_free(r);
		return;
	}
	if (r->rc != LDAP_SUCCESS) {
		if (r->cookie_refused) {
			log_notice("directory %s: the domain controller refused the "
			    "stored DirSync cookie (%s); a full pass follows, compared "
			    "with what certsync knows", w->conf->directory.uri, r->err);
			w->force_full = 1;
			ad_round_free(r);
			start_round(w);
			return;
		}
		if (w->mode == M_DIRSYNC && r->rc == LDAP_INSUFFICIENT_ACCESS &&
		    strcmp(w->conf->directory.source, "auto") == 0 &&
		    w->server.show_deleted) {
			log_warn("directory %s: DirSync is refused to this account "
			    "(it lacks \"Replicating Directory Changes\"); using "
			    "uSNChanged rounds instead", w->conf->directory.uri);
			w->usn_fallback = 1;
			w->mode = M_USN;
			announce_rounds(w);
			ad_round_free(r);
			start_round(w);
			return;
		}
		drop(w, r->err);
		ad_round_free(r);
		return;
	}
	full = r->full;
	apply_round(w, r);
	if (starts_stream(w, r))
		w->busy_began = w->round_began;
	ad_round_free(r);
	if (full)	/* the round held every user in scope: its pages go back */
		mem_trim();
	if (w->ld == NULL || (w->once && !w->in_refresh))
		return;
	next_round(w);
}

/* Change notifications: each one only starts a round. */
static void
on_notify_read(struct watch *w)
{
	struct timeval zero = { 0, 0 };
	int i, kick = 0;

	for (i = 0; i < DRAIN_MAX && w->ld != NULL; i++) {
		LDAPMessage *msg = NULL;
		/* Any of the notification searches (the rounds run on
		 * a connection of their own). */
		int rc = ldap_result(w->ld, LDAP_RES_ANY, LDAP_MSG_ONE, &zero, &msg);

		if (rc == 0)
			break;
		if (rc == -1) {
			int err = LDAP_SERVER_DOWN;

			ldap_get_option(w->ld, LDAP_OPT_RESULT_CODE, &err);
			drop(w, ldap_err2string(err));
			return;
		}
		w->last_heard = time(NULL);
		if (probe_message(w, msg))
			;	/* the probe's answer, not a notification */
		else if (rc == LDAP_RES_SEARCH_ENTRY) {
			kick = 1;
			w->bells++;
		} else if (rc == LDAP_RES_SEARCH_RESULT &&
		    (!w->notify_on || ldap_msgid(msg) != w->msgid))
			;	/* of a search abandoned in a stream */
		else if (rc == LDAP_RES_SEARCH_RESULT) {
			int err = LDAP_OTHER;
			char why[300];

			ldap_parse_result(w->ld, msg, &err, NULL, NULL, NULL, NULL, 0);
			snprintf(why, sizeof(why), "the change notification search "
			    "ended: %s", ldap_err2string(err));
			ldap_msgfree(msg);
			drop(w, why);
			return;
		}
		ldap_msgfree(msg);
	}
	if (kick)
		start_round(w);
	if (i == DRAIN_MAX && w->ev_read != NULL)
		event_active(w->ev_read, EV_READ, 0);
}

/* ---- lifetime ------------------------------------------------------------------ */

int
watch_start(struct event_base *base, const struct conf *conf, struct store *st,
    const struct watch_sink *sink, int once, void (*on_refreshed)(void *), void *arg,
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
	w->sink = *sink;
	w->once = once;
	w->poll = strcmp(conf->directory.source, "poll") == 0;
	w->on_refreshed = on_refreshed;
	w->arg = arg;
	w->backoff = 1;
	if ((w->ev_retry = evtimer_new(base, on_retry, w)) == NULL ||
	    (w->ev_poll = evtimer_new(base, on_poll, w)) == NULL ||
	    (w->ev_connected = event_new(base, -1, 0, on_connected, w)) == NULL ||
	    (w->ev_round_done = event_new(base, -1, 0, on_round_done, w)) == NULL ||
	    (w->ev_probe = evtimer_new(base, on_probe, w)) == NULL ||
	    (w->ev_cookie = evtimer_new(base, on_cookie, w)) == NULL)
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
	metrics_set(M_DIR_CONNECTED, 0);
	if (w->thread_running) {
		pthread_join(w->thread, NULL);
		if (w->new_ld != NULL)
			ldap_unbind_ext_s(w->new_ld, NULL, NULL);
		if (w->new_round_ld != NULL)
			ldap_unbind_ext_s(w->new_round_ld, NULL, NULL);
		ad_server_free(&w->new_server);
		ds389_server_free(&w->new_ds);
	}
	if (w->round_running) {
		pthread_join(w->round_thread, NULL);
		ad_round_free(&w->round);
	}
	if (w->round_ld != NULL)
		ldap_unbind_ext_s(w->round_ld, NULL, NULL);
	ad_server_free(&w->server);
	ds389_server_free(&w->ds);
	uuid_set_clear(&w->present);
	free(w->round_cookie.bv_val);
	free(w->round_nc);
	if (w->ev_read != NULL)
		event_free(w->ev_read);
	if (w->ld != NULL)
		ldap_unbind_ext_s(w->ld, NULL, NULL);
	event_free(w->ev_retry);
	event_free(w->ev_poll);
	event_free(w->ev_connected);
	event_free(w->ev_round_done);
	event_free(w->ev_probe);
	event_free(w->ev_cookie);
	free(w->kept_cookie.bv_val);
	uuid_set_clear(&w->seen);
	free(w);
}
