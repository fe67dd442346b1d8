/*
 * ctl_status.c - certsyncctl plan, status and audit: looking, not touching.
 *
 * Owns: the dry run's command, the agent's state as the store has it (and
 * whether the process that recorded it still runs; the safety catch's held
 * set and the certificates on hold), the failing jobs, what stops every
 * job (a write lock held elsewhere, a full file system), and the audit
 * trail's printout.
 * Never: records anything (plan reads the directory and writes nothing;
 * status and audit only read the store, opened read-only), or takes a
 * lock it could hold against the agent.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <sys/statvfs.h>
#include <time.h>

#include "cmd/ctl.h"
#include "lib/escape.h"
#include "lib/proc.h"
#include "pipeline/plan.h"
#include "pki/certinfo.h"

static void
print_audit(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail)
{
	char when[32];

	/* The trail keeps the raw value; only its printed form is escaped. */
	escape_line(stdout, "%s %-8s %s %s %s",
	    certinfo_fmt_time((time_t)at, when, sizeof(when)), action,
	    uuid ? uuid : "-", serial ? serial : "-", detail ? detail : "");
}

int
cmd_audit(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "last", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	long last = 50;
	int c, rc;

	while ((rc = ctl_getopt(cmd, argc, argv, "n:h", opts, &c)) == -1 && c != -1) {
		errno = 0;
		last = strtol(optarg, &end, 10);
		if (errno || *end || last < 0 || last > 1000000)
			return ctl_usage_error(cmd, "--last \"%s\" is not a count (0 for all)",
			    optarg);
	}
	if (rc != -1)
		return rc;
	if (optind != argc)
		return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	return store_audit_each(ctl->st, (int)last, print_audit, NULL) == -1 ?
	    EX_SOFTWARE : 0;
}

int
cmd_plan(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	int rc;

	if ((rc = ctl_no_arguments(cmd, argc, argv)) != -1)
		return rc;
	return plan_report(ctl->conf, ctl->st, stdout);
}

static const char *
age(int64_t t, char *buf, size_t len)
{
	int64_t d = time(NULL) - t;

	if (t == 0)
		snprintf(buf, len, "never");
	else if (d < 120)
		snprintf(buf, len, "%llds ago", (long long)d);
	else if (d < 7200)
		snprintf(buf, len, "%lldm ago", (long long)d / 60);
	else
		snprintf(buf, len, "%lldh ago", (long long)d / 3600);
	return buf;
}

static void
print_state(struct ctl *ctl, const char *label, const char *key)
{
	char *value = NULL, when[32];
	int64_t at = 0;

	if (store_state_get(ctl->st, key, &value, &at) == 1)
		escape_line(stdout, "%-14s %s (%s)", label, value && *value ? value : "-",
		    age(at, when, sizeof(when)));
	else
		printf("%-14s unknown\n", label);
	free(value);
}

/*
 * Whether the agent runs: the store says "running" from its start to its
 * stop, so a killed agent would stay "running" for ever; the pid and start
 * time it recorded tell whether that process still exists.  Returns 1
 * running, 0 not, -1 cannot tell.
 */
static int
print_daemon(struct ctl *ctl)
{
	char *value = NULL, *tag = NULL, when[32];
	int64_t at = 0;
	long pid = 0;
	int alive = -1;

	if (store_state_get(ctl->st, "daemon", &value, &at) != 1 || value == NULL) {
		printf("%-14s unknown (it never ran with this store)\n", "daemon:");
		free(value);
		return 0;
	}
	if (strncmp(value, "running", 7) != 0)
		alive = 0;
	else if (store_state_get(ctl->st, "pid", &tag, NULL) == 1)
		alive = proc_tag_alive(tag, &pid);
	if (alive == 1)
		escape_line(stdout, "%-14s %s, pid %ld (started %s)", "daemon:", value, pid,
		    age(at, when, sizeof(when)));
	else if (alive == 0 && strncmp(value, "running", 7) == 0)
		escape_line(stdout, "%-14s not running: pid %ld ended without "
		    "stopping (killed, or it crashed; started %s)", "daemon:", pid,
		    age(at, when, sizeof(when)));
	else
		escape_line(stdout, "%-14s %s (%s)", "daemon:", value,
		    age(at, when, sizeof(when)));
	free(value);
	free(tag);
	return alive;
}

/* What the agent last said of its connection, or of its CA process; only
 * history once it is gone. */
static void
print_live(struct ctl *ctl, const char *label, const char *key, int alive)
{
	char *value = NULL, when[32];
	int64_t at = 0;

	if (alive != 0) {
		print_state(ctl, label, key);
		return;
	}
	if (store_state_get(ctl->st, key, &value, &at) == 1)
		escape_line(stdout, "%-14s none: the agent is not running (it last "
		    "said \"%s\", %s)", label, value ? value : "-",
		    age(at, when, sizeof(when)));
	else
		printf("%-14s none: the agent is not running\n", label);
	free(value);
}

/* A reload the running agent refused: it runs the configuration before. */
static void
print_reload(struct ctl *ctl, int alive)
{
	char *value = NULL, when[32];
	int64_t at = 0;

	if (alive != 0 && store_state_get(ctl->st, "reload", &value, &at) == 1 &&
	    value != NULL && *value != '\0')
		escape_line(stdout, "%-14s %s (%s)", "reload:", value,
		    age(at, when, sizeof(when)));
	free(value);
}

static void
print_job_count(void *arg, const char *state, int n)
{
	int *total = arg;

	escape_line(stdout, "  %-10s %d", state, n);
	*total += n;
}

static void
print_skipped(void *arg, const char *uuid, const char *dn, const char *skipped)
{
	int *n = arg;

	escape_line(stdout, "  %s (%s): %s", dn ? dn : "?", uuid, skipped);
	(*n)++;
}

/* Where each change source stands: the age of its saved checkpoint. */
static void
print_checkpoints(struct ctl *ctl)
{
	static const char *const sources[][2] = {
		{ "syncrepl", "syncrepl cookie" }, { "dirsync", "DirSync cookie" },
		{ "usn", "uSNChanged watermark" },
	};
	char when[32];
	int64_t cp_at = 0;
	int found = 0;

	for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
		if (store_checkpoint_age(ctl->st, sources[i][0], &cp_at) != 1)
			continue;
		printf("%-14s %s saved %s\n", found++ ? "" : "checkpoint:",
		    sources[i][1], age(cp_at, when, sizeof(when)));
	}
	if (!found)
		printf("%-14s none (the next start does a full refresh)\n",
		    "checkpoint:");
}

#define FAILING_SHOWN 10        /* failing jobs listed; the rest are counted */
#define SPACE_LOW (1024 * 1024) /* bytes free: below, a file system is full */

/* One job that failed and is retried: what it is doing, how often it
 * tried, when it tries again, and why the last attempt failed. */
static void
print_failing(void *arg, const struct job_row *job, const char *dn)
{
	int *n = arg;
	int64_t in = job->next_attempt - time(NULL);
	char next[48];

	if ((*n)++ >= FAILING_SHOWN)
		return;
	if (in > 0)
		snprintf(next, sizeof(next), "next retry in %llds", (long long)in);
	else
		snprintf(next, sizeof(next), "due now");
	escape_line(stdout, "  %s (%s): %s job in %s, %d failed attempt(s), %s: %s",
	    dn ? dn : "?", job->uuid, job->action, job->state, job->attempts, next,
	    job->last_error ? job->last_error : "no error recorded");
}

static void
print_parked(void *arg, const struct job_row *job, const char *dn)
{
	char when[32];
	int *n = arg;

	escape_line(stdout, "  %s (%s): %s job in %s, parked %s: %s", dn ? dn : "?",
	    job->uuid, job->action, job->state, age(job->parked_at, when, sizeof(when)),
	    job->last_error ? job->last_error : "?");
	(*n)++;
}

/* The jobs that failed: those retried with backoff, then those parked
 * after a failure retrying cannot mend.  0, or -1. */
static int
print_failed_jobs(struct ctl *ctl)
{
	int failing = 0, parked = 0;

	printf("failing jobs:\n");
	if (store_job_each_failing(ctl->st, print_failing, &failing) == -1)
		return -1;
	if (failing == 0)
		printf("  none\n");
	else if (failing > FAILING_SHOWN)
		printf("  ... and %d more\n", failing - FAILING_SHOWN);
	printf("failed jobs (parked until the entry changes, certsyncd restarts, or "
	    "certsyncctl retry):\n");
	if (store_job_each_parked(ctl->st, print_parked, &parked) == -1)
		return -1;
	if (parked == 0)
		printf("  none\n");
	return 0;
}

/* The queue: jobs by state, the failed ones, users skipped for bad data.
 * 0, or -1. */
static int
print_queue(struct ctl *ctl)
{
	int jobs = 0, skipped = 0;

	printf("jobs:\n");
	if (store_job_counts(ctl->st, print_job_count, &jobs) == -1)
		return -1;
	printf("  %-10s %d\n", "queued", jobs);
	if (print_failed_jobs(ctl) == -1)
		return -1;
	printf("skipped users:\n");
	if (store_identity_each(ctl->st, 1, print_skipped, &skipped) == -1)
		return -1;
	if (skipped == 0)
		printf("  none\n");
	return 0;
}

/* One reason the held set was held for: how many, since when, why. */
static void
print_held_group(void *arg, const char *pass, size_t n, int64_t since)
{
	int *groups = arg;
	char when[32];

	escape_line(stdout, "%-14s %zu user(s) since %s: %s", (*groups)++ ? "" : "held:",
	    n, certinfo_fmt_time((time_t)since, when, sizeof(when)), pass);
}

/* The users the safety catch holds.  0, or -1. */
static int
print_held(struct ctl *ctl)
{
	int groups = 0;

	if (store_held_groups(ctl->st, print_held_group, &groups) == -1)
		return -1;
	if (groups == 0)
		printf("%-14s none\n", "held:");
	else
		printf("%-14s certsyncctl plan marks them; certsyncctl release lets them "
		    "through\n", "");
	return 0;
}

/* Certificates on hold: how many, whose, since when. */
static void
print_holds(struct ctl *ctl)
{
	char when[32];
	int64_t oldest = 0;
	int certs = 0, users = 0;

	if (store_hold_counts(ctl->st, &certs, &users, &oldest) == -1)
		return;
	if (certs == 0)
		printf("%-14s none\n", "on hold:");
	else
		printf("%-14s %d certificate(s) of %d user(s), the first since %s; revoked "
		    "for good after [reconcile] hold_days = %d unless their user is back\n",
		    "on hold:", certs, users,
		    certinfo_fmt_time((time_t)oldest, when, sizeof(when)),
		    ctl->conf->reconcile.hold_days);
}

/* What came out: keys waiting for the delivery hook, the last CRL. */
static void
print_output(struct ctl *ctl)
{
	char when[32];
	int64_t crl_number = 0, crl_at = 0;
	int pending = 0, failing = 0;

	if (ctl->conf->daemon.delivery_hook != NULL &&
	    store_delivery_counts(ctl->st, &pending, &failing) == 0)
		printf("%-14s %d key(s) waiting for the hook, %d of them failed at "
		    "least once\n", "deliveries:", pending, failing);
	store_crl_last(ctl->st, &crl_number, &crl_at);
	if (crl_number > 0)
		printf("%-14s number %lld, written %s\n", "CRL:", (long long)crl_number,
		    age(crl_at, when, sizeof(when)));
	else
		printf("%-14s none yet\n", "CRL:");
}

/*
 * Another process holding the store's write lock stops every write of the
 * agent.  The agent's own transactions are short, so a lock held by the
 * same process through a second of samples is worth naming.
 */
static void
print_store_lock(struct ctl *ctl)
{
	struct timespec pause = { 0, 200 * 1000 * 1000 };
	char comm[64] = "?", path[64];
	long pid = 0, first = 0;
	FILE *f;

	for (int i = 0; i < 5; i++) {
		if (i > 0)
			nanosleep(&pause, NULL);
		if (store_write_lock_holder(ctl->conf->state.database, &pid) != 1 ||
		    (i > 0 && pid != first))
			return;
		first = pid;
	}
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((f = fopen(path, "r")) != NULL) {
		if (fgets(comm, sizeof(comm), f) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	escape_line(stdout, "%-14s locked for writing by pid %ld (%s): nothing can "
	    "be recorded until it lets go", "state store:", pid, comm);
}

/* A full file system under the store, the keystore or the archive stops
 * every job; say so rather than leave the admin to guess from the errors. */
static void
print_space(struct ctl *ctl)
{
	const char *dirs[][2] = {
		{ "state store:", ctl->conf->state.database },
		{ "keystore:", ctl->conf->keystore.directory },
		{ "archive:", ctl->conf->archive.directory },
	};
	char dir[4096];
	struct statvfs vfs;

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		char *slash;

		snprintf(dir, sizeof(dir), "%s", dirs[i][1]);
		if (i == 0 && (slash = strrchr(dir, '/')) != NULL)
			*slash = '\0';	/* the database's directory */
		if (dir[0] == '\0' || statvfs(dir, &vfs) == -1)
			continue;
		if ((unsigned long long)vfs.f_bavail * vfs.f_frsize < SPACE_LOW)
			escape_line(stdout, "%-14s the file system of %s is full (%llu KiB free)",
			    dirs[i][0], dir, (unsigned long long)vfs.f_bavail *
			    vfs.f_frsize / 1024);
	}
}

int
cmd_status(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	int rc, alive;

	if ((rc = ctl_no_arguments(cmd, argc, argv)) != -1)
		return rc;
	alive = print_daemon(ctl);
	print_reload(ctl, alive);
	print_live(ctl, "CA process:", "ca_process", alive);
	print_live(ctl, "connection:", "connection", alive);
	print_state(ctl, "source:", "source");
	print_state(ctl, "last event:", "last_event");
	print_checkpoints(ctl);
	if (print_queue(ctl) == -1 || print_held(ctl) == -1)
		return EX_SOFTWARE;
	print_holds(ctl);
	print_output(ctl);
	print_store_lock(ctl);
	print_space(ctl);
	return 0;
}
