/*
 * deliver.c - runs the delivery hook for new keys.
 *
 * Owns: the hook's processes: started with posix_spawn, reaped without
 * blocking, killed after [daemon] delivery_timeout.  A failure is logged
 * and retried with backoff; the key stays in the keystore either way.
 * Never: passes a secret in the environment or on the command line.
 */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/metrics.h"
#include "pipeline/deliver.h"

#define RUNNING_MAX 4
#define RETRY_FIRST 30
#define RETRY_MAX 3600

extern char **environ;

struct running {
	pid_t pid;
	int64_t cert_id;
	int attempts;
	time_t started;
	char serial[64];
};

struct deliver {
	const struct conf *conf;
	struct store *st;
	struct running run[RUNNING_MAX];
	size_t nrun;
};

int
deliver_open(const struct conf *conf, struct store *st, struct deliver **out)
{
	if ((*out = calloc(1, sizeof(**out))) == NULL)
		fatal("out of memory");
	(*out)->conf = conf;
	(*out)->st = st;
	return 0;
}

static int64_t
retry_at(int attempts)
{
	int64_t delay = RETRY_FIRST;

	for (int i = 0; i < attempts && delay < RETRY_MAX; i++)
		delay *= 2;
	return time(NULL) + (delay > RETRY_MAX ? RETRY_MAX : delay);
}

static void
finished(struct deliver *d, struct running *r, int status)
{
	char err[128];

	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		store_delivery_result(d->st, r->cert_id, 1, NULL, 0);
		store_audit(d->st, "deliver", NULL, r->serial, "delivery hook succeeded");
		log_info("delivery hook succeeded for certificate %s", r->serial);
		return;
	}
	if (WIFEXITED(status))
		snprintf(err, sizeof(err), "exited with status %d", WEXITSTATUS(status));
	else
		snprintf(err, sizeof(err), "killed by signal %d", WTERMSIG(status));
	log_warn("delivery hook for certificate %s %s; retrying later", r->serial, err);
	metrics_add(M_ERR_DELIVERY, 1);
	store_delivery_result(d->st, r->cert_id, 0, err, retry_at(r->attempts));
}

static void
reap(struct deliver *d)
{
	for (size_t i = 0; i < d->nrun; ) {
		struct running *r = &d->run[i];
		int status = 0;
		pid_t got = waitpid(r->pid, &status, WNOHANG);

		if (got == 0 && time(NULL) - r->started > d->conf->daemon.delivery_timeout) {
			log_warn("delivery hook for certificate %s ran past %ds; killing it",
			    r->serial, d->conf->daemon.delivery_timeout);
			kill(-r->pid, SIGKILL);	/* the whole group */
			got = waitpid(r->pid, &status, 0);
		}
		if (got == 0) {
			i++;
			continue;
		}
		if (got == r->pid)
			finished(d, r, status);
		d->run[i] = d->run[--d->nrun];
	}
}

static char *
env_var(const char *name, const char *value)
{
	char *s = NULL;

	if (asprintf(&s, "%s=%s", name, value ? value : "") == -1)
		fatal("out of memory");
	return s;
}

static void
start(struct deliver *d, const struct delivery_row *row)
{
	char *argv[] = { d->conf->daemon.delivery_hook, NULL };
	char *envp[10], mail[256];
	const char *path = getenv("PATH");
	struct running *r = &d->run[d->nrun];
	posix_spawnattr_t attr;
	int n = 0, rc;

	snprintf(mail, sizeof(mail), "%.*s", (int)strcspn(row->addresses, ","),
	    row->addresses);
	envp[n++] = env_var("CERTSYNC_UUID", row->uuid);
	envp[n++] = env_var("CERTSYNC_DN", row->dn);
	envp[n++] = env_var("CERTSYNC_MAIL", mail);
	envp[n++] = env_var("CERTSYNC_ADDRESSES", row->addresses);
	envp[n++] = env_var("CERTSYNC_KIND", row->kind);
	envp[n++] = env_var("CERTSYNC_SERIAL", row->serial);
	envp[n++] = env_var("CERTSYNC_KEYSTORE_FILE", row->keystore_path);
	envp[n++] = env_var("CERTSYNC_PASSWORD_FILE", d->conf->keystore.password_file);
	envp[n++] = env_var("PATH", path ? path : "/usr/bin:/bin");
	envp[n] = NULL;
	/* Its own process group, so a timeout kills what it started too. */
	if ((rc = posix_spawnattr_init(&attr)) == 0) {
		posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
		posix_spawnattr_setpgroup(&attr, 0);
		rc = posix_spawn(&r->pid, argv[0], NULL, &attr, argv, envp);
		posix_spawnattr_destroy(&attr);
	}
	for (int i = 0; i < n; i++)
		free(envp[i]);
	if (rc != 0) {
		log_warn("delivery hook %s cannot be started: %s; retrying later",
		    argv[0], strerror(rc));
		metrics_add(M_ERR_DELIVERY, 1);
		store_delivery_result(d->st, row->cert_id, 0, strerror(rc),
		    retry_at(row->attempts));
		return;
	}
	r->cert_id = row->cert_id;
	r->attempts = row->attempts;
	r->started = time(NULL);
	snprintf(r->serial, sizeof(r->serial), "%s", row->serial);
	d->nrun++;
}

int64_t
deliver_poll(struct deliver *d)
{
	struct delivery_row rows[RUNNING_MAX];
	int64_t next = 0;
	size_t n = 0;

	if (d->conf->daemon.delivery_hook == NULL)
		return 0;
	reap(d);
	if (d->nrun < RUNNING_MAX &&
	    store_delivery_due(d->st, time(NULL), RUNNING_MAX - d->nrun, rows, &n) == 0) {
		for (size_t i = 0; i < n; i++) {
			int busy = 0;

			for (size_t j = 0; j < d->nrun; j++)
				busy |= d->run[j].cert_id == rows[i].cert_id;
			if (!busy)
				start(d, &rows[i]);
			delivery_row_free(&rows[i]);
		}
	}
	if (d->nrun > 0)
		return time(NULL) + 1;	/* check on the running ones */
	store_delivery_next(d->st, &next);
	return next;
}

void
deliver_finish(struct deliver *d)
{
	/* Bounded: reap() kills a hook past its timeout, so this ends. */
	struct timespec tick = { 0, 100 * 1000 * 1000 };
	int rounds = (d == NULL ? 0 : d->conf->daemon.delivery_timeout + 2) * 10;

	for (int i = 0; d != NULL && d->nrun > 0 && i < rounds; i++) {
		reap(d);
		if (d->nrun > 0)
			nanosleep(&tick, NULL);
	}
}

void
deliver_close(struct deliver *d)
{
	free(d);
}
