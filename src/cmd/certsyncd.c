/*
 * certsyncd.c - the agent: watches the directory, keeps certificates true.
 *
 * Owns: the process: options, the event loop (one explicit event_base),
 * signals (SIGTERM/SIGINT stop after the job in hand; SIGHUP reloads the
 * configuration and the recovery agents, keeping the old ones if the new
 * ones are bad or cannot start a CA process; SIGCHLD wakes the runner,
 * which notices a CA process that died; SIGUSR1, from certsyncctl release,
 * wakes the runner too), the pid file, the periodic full reconcile, the
 * timer that finds holds past [reconcile] hold_days, and the order of
 * start and stop: the CA process first, before any network code; the
 * moments systemd is told about (ops/notify.c) and the HTTP listener's
 * life, one per run of the loop (ops/http.c).
 * Never: does directory, crypto or job work itself; the watcher, planner
 * and runner do.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/thread.h>

#include "cmd/reload_check.h"
#include "directory/ldapconn.h"
#include "directory/watch.h"
#include "lib/conf.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/log_guard.h"
#include "lib/proc.h"
#include "lib/metrics.h"
#include "ops/http.h"
#include "ops/notify.h"
#include "pipeline/plan.h"
#include "pipeline/runner.h"
#include "pki/certinfo.h"
#include "store/store.h"

#ifndef CS_SYSCONFDIR
#define CS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF CS_SYSCONFDIR "/certsync/certsync.conf"

struct daemon {
	const char *conf_path;
	int foreground, once, dry_run, verbose;
	int unfinished;		/* --once: jobs left for a later run */
	int parked;		/* ... of which parked: someone must act */
	size_t held;		/* --once: users the safety catch holds */
	struct conf *conf;
	struct conf *next_conf;     /* a validated reload, waiting to be swapped in */
	struct ca_client *next_ca;  /* its CA process, started and ready */
	struct conf *prev_conf;     /* the one before a reload, while the new one runs */
	int started;                /* this run of the loop got past start() */
	int reload_failed;          /* a reload passed its checks but did not start */
	struct event_base *base;
	struct store *st;
	struct plan_ctx plan;
	struct runner *runner;
	struct watch *watch;
	struct http_server *http;  /* NULL: no [http] listen */
	struct notifier *notify;   /* NULL: not run by systemd */
	int stopping;
};

static void
usage(FILE *f)
{
	fprintf(f, "usage: certsyncd [-c CONF] [-f] [--once] [--dry-run] [-v]\n\n"
	    "  -c CONF     configuration file (default %s)\n"
	    "  -f          stay in the foreground\n"
	    "  --once      one full pass over the directory, finish its jobs, exit\n"
	    "  --dry-run   print what would be done for each user; change nothing\n"
	    "  -v          log decisions in detail\n\nSee certsyncd(8).\n",
	    DEFAULT_CONF);
}

static void
apply_logging(struct daemon *d)
{
	log_set_level(d->verbose ? LOG_LVL_DEBUG : (enum log_level)d->conf->log.level);
	if (d->conf->log.destination == LOG_DEST_SYSLOG)
		log_to_syslog(d->conf->log.facility);
}

/* ---- signals and timers ------------------------------------------------ */

static void
on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	log_notice("signal %d: finishing the job in hand, then stopping", (int)sig);
	notify_stopping(d->notify);
	d->stopping = 1;
	event_base_loopbreak(d->base);
}

static void
on_hup(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;
	struct conf *fresh = NULL;
	struct ca_client *ca = NULL;
	char why[512], note[600];

	if (conf_load(d->conf_path, &fresh) != 0) {
		log_error("%s: not reloaded; the running configuration stays in force",
		    d->conf_path);
		store_state_set(d->st, "reload", "refused: the file has mistakes "
		    "(see the log); the configuration before stays in force");
		return;
	}
	/* Checked in full before anything running is stopped (the recovery
	 * agents too): a start that would fail must not take the running
	 * agent down with it.  The new CA process is started by the check:
	 * the running one stays until the new configuration starts. */
	if (reload_check(fresh, &ca, why, sizeof(why)) == -1) {
		log_error("%s: not reloaded: %s; the running configuration stays in "
		    "force", d->conf_path, why);
		snprintf(note, sizeof(note), "refused: %s; the configuration before "
		    "stays in force", why);
		store_state_set(d->st, "reload", note);
		conf_free(fresh);
		return;
	}
	log_notice("%s: reloading the configuration", d->conf_path);
	notify_reloading(d->notify);
	ca_client_free(d->next_ca);
	conf_free(d->next_conf);
	d->next_conf = fresh;
	d->next_ca = ca;
	event_base_loopbreak(d->base);
}

/* A child ended: if it is the CA process, the runner notices now. */
static void
on_child(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	if (d->runner != NULL)
		runner_kick(d->runner);
}

/* Jobs were planned from outside (certsyncctl release): run them now. */
static void
on_usr1(evutil_socket_t sig, short what, void *arg)
{
	struct daemon *d = arg;

	log_info("signal %d: looking for planned jobs", (int)sig);
	if (d->runner != NULL)
		runner_kick(d->runner);
}

/* Holds past [reconcile] hold_days become final revocations. */
static void
check_holds(struct daemon *d)
{
	if (store_begin(d->st) == 0) {
		plan_holds_due(&d->plan);
		store_commit(d->st);
		plan_flush(&d->plan);
	}
}

static void
on_holds(evutil_socket_t fd, short what, void *arg)
{
	check_holds(arg);
}

static void
on_full_reconcile(evutil_socket_t fd, short what, void *arg)
{
	struct daemon *d = arg;

	log_info("periodic full reconcile");
	if (store_begin(d->st) == 0) {
		plan_recheck_all(&d->plan);
		plan_holds_due(&d->plan);
		store_commit(d->st);
		plan_flush(&d->plan);
	}
	watch_full_pass(d->watch);
}

static void
on_refreshed(void *arg)
{
	struct daemon *d = arg;

	event_base_loopbreak(d->base);
}

/* ---- one run of the loop, with one configuration ----------------------- */

static int
write_pid(const struct conf *conf)
{
	char buf[32];
	int n;

	if (conf->daemon.pid_file == NULL)
		return 0;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (fs_write_atomic(conf->daemon.pid_file, buf, (size_t)n, 0644, 0) == -1) {
		log_error("[daemon] pid_file %s: %s", conf->daemon.pid_file, strerror(errno));
		return -1;
	}
	return 0;
}

/* The CA process for conf, started: 0 and *out; or -1 after logging,
 * *permanent when it cannot start until the configuration changes.  A
 * temporary failure still gives *out, which the runner restarts. */
static int
start_ca(const struct conf *conf, struct ca_client **out, int *permanent)
{
	X509 *cert = certinfo_read_pem(conf->ca.certificate, "[ca] certificate");
	struct ca_client *c;

	*out = NULL;
	*permanent = 1;
	if (cert == NULL)
		return -1;
	c = ca_client_new(conf, cert);
	X509_free(cert);
	if (ca_client_start(c) == -1 && ca_client_state(c) == CA_STOPPED) {
		ca_client_free(c);
		return -1;
	}
	*permanent = 0;
	*out = c;
	return ca_client_state(c) == CA_UP ? 0 : -1;
}

/* The CA process (a reload started it), the store, the HTTP listener, the
 * planner and the runner, which takes the CA process.  0, or a sysexits
 * code after logging. */
static int
start_runner(struct daemon *d)
{
	struct ca_client *ca = NULL;
	int permanent = 0;

	/* The CA process before any network code. */
	if ((ca = d->next_ca) != NULL)
		d->next_ca = NULL;
	else if (start_ca(d->conf, &ca, &permanent) == -1 && permanent)
		return EX_CONFIG;
	if (store_open(d->conf->state.database, &d->st) == -1 ||
	    http_start(d->base, d->conf, d->st, &d->http) == -1) {
		ca_client_free(ca);
		return EX_UNAVAILABLE;
	}
	if (plan_init(&d->plan, d->conf, d->st, 0, NULL) == -1) {
		ca_client_free(ca);
		return EX_CONFIG;
	}
	return runner_start(d->conf, ca, &d->runner) == -1 ? EX_CONFIG : 0;
}

static int
start(struct daemon *d)
{
	struct watch_sink sink;
	char tag[64];
	int rc;

	if (d->conf->directory.base == NULL) {
		log_error("%s: [directory] base: is required to watch the directory",
		    d->conf->path);
		return EX_CONFIG;
	}
	if ((rc = start_runner(d)) != 0)
		return rc;
	d->plan.kick = runner_kick;
	d->plan.kick_arg = d->runner;
	/* Departures a crash left staged are judged, holds that came due
	 * while stopped are ended, and jobs a crash left in flight are due
	 * now: the runner resumes them. */
	check_holds(d);
	runner_kick(d->runner);
	/* The watcher hands what it reads to the planner. */
	plan_watch_sink(&d->plan, &sink);
	if (watch_start(d->base, d->conf, d->st, &sink, d->once, on_refreshed, d,
	    &d->watch) == -1)
		return EX_CONFIG;
	store_state_set(d->st, "daemon", d->once ? "running once" : "running");
	/* With the pid, status tells a running agent from a killed one. */
	if (proc_self_tag(tag, sizeof(tag)) == 0)
		store_state_set(d->st, "pid", tag);
	store_state_set(d->st, "reload", d->reload_failed ? "refused: the new "
	    "configuration passed its checks but could not start (see the log); "
	    "the configuration before is back in force" :
	    d->prev_conf != NULL ? "applied" : "");
	d->reload_failed = 0;
	return 0;
}

/* --once: the jobs left, the parked ones among them counted apart. */
static void
add_jobs(void *arg, const char *state, int n)
{
	struct daemon *d = arg;

	d->unfinished += n;
	if (strcmp(state, "parked") == 0)
		d->parked += n;
}

/* --once: how many users the safety catch holds now. */
static void
count_held(struct daemon *d)
{
	struct held_rows held = { 0 };

	if (d->st != NULL && store_removals(d->st, 0, &held) == 0)
		d->held = held.n;
	held_rows_free(&held);
}

static void
stop(struct daemon *d)
{
	notify_detach(d->notify);
	http_stop(d->http);
	d->http = NULL;
	watch_stop(d->watch);
	d->watch = NULL;
	if (d->runner != NULL) {
		if (d->once && !d->stopping) {
			runner_drain(d->runner);
			/* Finished jobs are deleted: what is left waits for a
			 * retry (a failed write, the directory) or its time. */
			d->unfinished = d->parked = 0;
			if (d->st != NULL &&
			    store_job_counts(d->st, add_jobs, d) == -1)
				d->unfinished = 1;
			count_held(d);
		} else
			runner_stop(d->runner);
	}
	d->runner = NULL;
	if (d->st != NULL) {
		store_state_set(d->st, "daemon", "stopped");
		store_state_set(d->st, "ca_process", "stopped with certsyncd");
	}
	plan_free(&d->plan);
	store_close(d->st);
	d->st = NULL;
}

/* How often holds are looked at: hourly, or as often as they last when
 * that is shorter (CERTSYNC_HOLD_SECONDS in the tests). */
static struct event *
holds_timer(struct daemon *d)
{
	int64_t hold = plan_hold_seconds(d->conf);
	struct timeval tv = { hold > 0 && hold < 3600 ? (time_t)hold : 3600, 0 };
	struct event *ev = event_new(d->base, -1, EV_PERSIST, on_holds, d);

	if (ev == NULL || event_add(ev, &tv) == -1)
		fatal("cannot set the timer for holds");
	return ev;
}

/* The periodic full reconcile, unless full_reconcile_hours is 0. */
static struct event *
full_reconcile_timer(struct daemon *d)
{
	struct timeval tv = { d->conf->directory.full_reconcile_hours * 3600L, 0 };
	struct event *ev;
#ifdef CS_FAILPOINTS
	/* Test builds only: the period in seconds, for the AD tests. */
	const char *secs = getenv("CERTSYNC_FULL_RECONCILE_SECONDS");

	if (secs != NULL && atoi(secs) > 0)
		tv.tv_sec = atoi(secs);
#endif
	if (d->conf->directory.full_reconcile_hours == 0)
		return NULL;
	if ((ev = event_new(d->base, -1, EV_PERSIST, on_full_reconcile, d)) == NULL ||
	    event_add(ev, &tv) == -1)
		fatal("cannot set the timer for the full reconcile");
	return ev;
}

/* After a --once pass that did its part: 0, or why a cron job should hear
 * of it (users held: 65; jobs left, parked or to retry: 75). */
static int
once_status(struct daemon *d)
{
	if (d->parked > 0)
		log_error("--once: %d job(s) failed and are parked: retrying cannot "
		    "help until the cause is fixed (certsyncctl status says why)",
		    d->parked);
	if (d->unfinished > d->parked)
		log_warn("--once: %d job(s) not finished: retries after a failure "
		    "(see the lines above, and certsyncctl status), or reissues "
		    "spread out by [reconcile] ca_change_per_minute; run again, or "
		    "let certsyncd run", d->unfinished - d->parked);
	if (d->held > 0) {
		log_warn("--once: %zu user(s) held by the safety catch (see the HELD "
		    "line, certsyncctl status and plan); certsyncctl release lets "
		    "them through", d->held);
		return EX_DATAERR;
	}
	return d->unfinished > 0 ? EX_TEMPFAIL : 0;
}

static int
run_loop(struct daemon *d)
{
	struct event *ev_term, *ev_int, *ev_hup, *ev_chld, *ev_usr1,
	    *ev_full = NULL, *ev_holds = NULL;
	int rc;

	if ((d->base = event_base_new()) == NULL)
		fatal("cannot create the event loop");
	ev_term = evsignal_new(d->base, SIGTERM, on_stop_signal, d);
	ev_int = evsignal_new(d->base, SIGINT, on_stop_signal, d);
	ev_hup = evsignal_new(d->base, SIGHUP, on_hup, d);
	ev_chld = evsignal_new(d->base, SIGCHLD, on_child, d);
	ev_usr1 = evsignal_new(d->base, SIGUSR1, on_usr1, d);
	event_add(ev_term, NULL);
	event_add(ev_int, NULL);
	event_add(ev_hup, NULL);
	event_add(ev_chld, NULL);
	event_add(ev_usr1, NULL);
	if (!d->once) {
		ev_holds = holds_timer(d);
		ev_full = full_reconcile_timer(d);
	}
	d->started = 0;
	if ((rc = start(d)) == 0) {
		d->started = 1;
		notify_attach(d->notify, d->base, d->st);
		event_base_dispatch(d->base);
		if (watch_failed(d->watch))
			rc = EX_UNAVAILABLE;
	}
	stop(d);
	if (rc == 0 && d->once)
		rc = once_status(d);
	if (ev_full != NULL)
		event_free(ev_full);
	if (ev_holds != NULL)
		event_free(ev_holds);
	event_free(ev_term);
	event_free(ev_int);
	event_free(ev_hup);
	event_free(ev_chld);
	event_free(ev_usr1);
	event_base_free(d->base);
	d->base = NULL;
	return rc;
}

static int
dry_run(struct daemon *d)
{
	struct store *st = NULL;
	int rc;

	if (store_open(d->conf->state.database, &st) == -1)
		return EX_UNAVAILABLE;
	rc = plan_report(d->conf, st, stdout);
	store_close(st);
	return rc;
}

/* The command line into d: -1 to go on, else the exit code (after --help,
 * --version, or a usage error, logged). */
static int
parse_options(struct daemon *d, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "once", no_argument, NULL, 'o' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	opterr = 0;	/* one line of our own for a bad option */
	while ((c = getopt_long(argc, argv, "c:fvhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': d->conf_path = optarg; break;
		case 'f': d->foreground = 1; break;
		case 'o': d->once = 1; break;
		case 'n': d->dry_run = 1; break;
		case 'v': d->verbose = 1; break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("certsyncd %s\n", PACKAGE_VERSION); return 0;
		default:
			log_error("unknown option \"%s\" (try certsyncd --help)",
			    argv[optind - 1]);
			return EX_USAGE;
		}
	}
	if (optind != argc) {
		log_error("unexpected argument \"%s\" (try certsyncd --help)",
		    argv[optind]);
		return EX_USAGE;
	}
	return -1;
}

/* The agent proper: in the background unless asked not to, with its pid
 * file, one run of the loop per configuration (a reload starts the next). */
static int
serve(struct daemon *d)
{
	char *pid_file = NULL;
	int rc;

	/* A peer that resets a connection must cost an error, not the process. */
	signal(SIGPIPE, SIG_IGN);
	/* The watcher's connect thread wakes the loop: libevent must lock. */
	if (evthread_use_pthreads() == -1)
		fatal("libevent without thread support");
	if (!d->foreground && !d->once && daemon(0, 0) == -1) {
		log_error("cannot become a daemon: %s", strerror(errno));
		return EX_OSERR;
	}
	if (write_pid(d->conf) == -1)
		return EX_CANTCREAT;
	/* The file written now is the one to remove, whatever a reload says. */
	if (d->conf->daemon.pid_file != NULL &&
	    (pid_file = strdup(d->conf->daemon.pid_file)) == NULL)
		fatal("out of memory");
	/* After daemon(): WATCHDOG_PID names the process that stays. */
	d->notify = notify_open();
	metrics_set(M_START_TIME, (int64_t)time(NULL));
	for (;;) {
		rc = run_loop(d);
		if (rc != 0 && !d->started && d->prev_conf != NULL) {
			/* Its checks passed, yet it did not start (something
			 * changed since): the one before takes over again. */
			log_error("%s: the reloaded configuration could not start; "
			    "going back to the one before", d->conf_path);
			conf_free(d->conf);
			d->conf = d->prev_conf;
			d->prev_conf = NULL;
			d->reload_failed = 1;
			apply_logging(d);
			continue;
		}
		conf_free(d->prev_conf);
		d->prev_conf = NULL;
		if (rc != 0 || d->stopping || d->once || d->next_conf == NULL)
			break;
		d->prev_conf = d->conf;
		d->conf = d->next_conf;
		d->next_conf = NULL;
		apply_logging(d);
		log_notice("%s: configuration reloaded", d->conf_path);
	}
	notify_stopping(d->notify);
	notify_close(d->notify);
	d->notify = NULL;
	if (pid_file != NULL)
		unlink(pid_file);
	free(pid_file);
	log_flush();
	log_notice("stopped");
	return rc;
}

int
main(int argc, char **argv)
{
	struct daemon d = { .conf_path = DEFAULT_CONF };
	int rc;

	log_init("certsyncd");
	if ((rc = parse_options(&d, argc, argv)) != -1)
		return rc;
	if ((rc = conf_load(d.conf_path, &d.conf)) != 0)
		return rc;
	apply_logging(&d);
	/* Before any thread: setenv() is not thread-safe.  So a reload does
	 * not re-read [directory] keytab; a restart does. */
	ldapconn_init_env(d.conf);
	rc = d.dry_run ? dry_run(&d) : serve(&d);
	ca_client_free(d.next_ca);
	conf_free(d.conf);
	conf_free(d.next_conf);
	conf_free(d.prev_conf);
	return rc;
}
