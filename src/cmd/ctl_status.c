/*
 * ctl_status.c - certsyncctl plan, status and audit: looking, not touching.
 *
 * Owns: the dry run's command, the agent's state as the store has it, and
 * the audit trail's printout.
 * Never: records anything (plan reads the directory and writes nothing;
 * status and audit only read the store).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cmd/ctl.h"
#include "lib/escape.h"
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

/* The queue: jobs by state, jobs parked after a failure retrying cannot
 * mend, users skipped for bad data.  0, or -1. */
static int
print_queue(struct ctl *ctl)
{
	int jobs = 0, skipped = 0, parked = 0;

	printf("jobs:\n");
	if (store_job_counts(ctl->st, print_job_count, &jobs) == -1)
		return -1;
	printf("  %-10s %d\n", "queued", jobs);
	printf("failed jobs (parked until the entry changes, certsyncd restarts, or "
	    "certsyncctl retry):\n");
	if (store_job_each_parked(ctl->st, print_parked, &parked) == -1)
		return -1;
	if (parked == 0)
		printf("  none\n");
	printf("skipped users:\n");
	if (store_identity_each(ctl->st, 1, print_skipped, &skipped) == -1)
		return -1;
	if (skipped == 0)
		printf("  none\n");
	return 0;
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

int
cmd_status(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	int rc;

	if ((rc = ctl_no_arguments(cmd, argc, argv)) != -1)
		return rc;
	print_state(ctl, "daemon:", "daemon");
	print_state(ctl, "connection:", "connection");
	print_state(ctl, "source:", "source");
	print_state(ctl, "last event:", "last_event");
	print_checkpoints(ctl);
	if (print_queue(ctl) == -1)
		return EX_SOFTWARE;
	print_output(ctl);
	return 0;
}
