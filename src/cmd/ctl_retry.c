/*
 * ctl_retry.c - certsyncctl retry: a parked job gets another attempt.
 *
 * Owns: releasing jobs parked after a failure retrying could not mend (the
 * profile refused the user's values, the CA had expired), once the admin
 * has fixed the cause, and the audit record that says so.
 * Never: runs a job itself (certsyncd's runner does, when it next looks),
 * or touches a job that is not parked: those are retried anyway.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <sysexits.h>

#include "cmd/ctl.h"
#include "lib/escape.h"
#include "lib/log.h"

int
cmd_retry(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "all", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *uuid = NULL;
	int c, rc, all = 0, n = 0;

	while ((rc = ctl_getopt(cmd, argc, argv, "ah", opts, &c)) == -1 && c != -1)
		all = 1;
	if (rc != -1)
		return rc;
	if (all == (optind < argc) || optind + 1 < argc)
		return ctl_usage_error(cmd, "%s", "one UUID, or --all, is needed");
	uuid = all ? NULL : argv[optind];
	if (store_job_unpark(ctl->st, uuid, &n) == -1)
		return EX_SOFTWARE;
	if (n == 0) {
		log_error("retry: %s", all ? "no job is parked" :
		    "that user has no parked job (certsyncctl status lists them)");
		return EX_NOINPUT;
	}
	store_audit(ctl->st, "retry", uuid, NULL, "%d parked job(s) released by the "
	    "admin", n);
	escape_line(stdout, "%d parked job(s) released; certsyncd runs %s within "
	    "30 seconds", n, n == 1 ? "it" : "them");
	return 0;
}
