/*
 * ctl_release.c - certsyncctl release: the admin lets held departures
 * through.
 *
 * Owns: naming whom to release (all, or one user by uuid, DN or address),
 * handing them to the planner (plan_release: the jobs they were decided
 * as), and waking the running agent so its runner starts them now.
 * Never: decides anything itself, or signals a process that is not
 * certsyncd (a stale pid file may name another one).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sysexits.h>

#include "cmd/ctl.h"
#include "lib/log.h"
#include "pipeline/plan.h"

/* The held user who matches what: a uuid, a DN (case aside) or one of
 * the addresses of their certificates.  A copy of the uuid, or NULL. */
static char *
held_user(struct ctl *ctl, const char *what)
{
	struct held_rows held = { 0 };
	struct cert_rows certs = { 0 };
	char *uuid = NULL;

	if (store_removals(ctl->st, 0, &held) == -1)
		return NULL;
	if (strchr(what, '@') != NULL && strchr(what, '=') == NULL)
		store_cert_query(ctl->st, CQ_ADDRESS, what, &certs);
	for (size_t i = 0; i < held.n && uuid == NULL; i++) {
		const struct held_row *r = &held.v[i];
		int match = strcmp(r->uuid, what) == 0 ||
		    (r->dn != NULL && strcasecmp(r->dn, what) == 0);

		for (size_t c = 0; c < certs.n && !match; c++)
			match = strcmp(certs.v[c].uuid, r->uuid) == 0;
		if (match && (uuid = strdup(r->uuid)) == NULL)
			fatal("out of memory");
	}
	cert_rows_free(&certs);
	held_rows_free(&held);
	return uuid;
}

/* The agent's pid from [daemon] pid_file, if it is certsyncd: > 0, or 0. */
static long
agent_pid(const struct conf *conf)
{
	char path[64], comm[64] = "";
	FILE *f;
	long pid = 0;

	if (conf->daemon.pid_file == NULL || (f = fopen(conf->daemon.pid_file, "r")) == NULL)
		return 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if (pid == 0 || (f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(comm, sizeof(comm), f) == NULL)
		comm[0] = '\0';
	fclose(f);
	return strncmp(comm, "certsyncd", 9) == 0 ? pid : 0;
}

/* SIGUSR1 makes the agent's runner look for due jobs at once. */
static void
wake_agent(struct ctl *ctl)
{
	long pid = agent_pid(ctl->conf);

	if (pid > 0 && kill((pid_t)pid, SIGUSR1) == 0)
		printf("certsyncd (pid %ld) was woken: it starts them now\n", pid);
	else if (pid > 0)
		log_warn("release: cannot wake certsyncd (pid %ld): %s; it starts the "
		    "jobs within 30 s", pid, strerror(errno));
	else
		printf("no running certsyncd found through [daemon] pid_file: a "
		    "running one starts them within 30 s, else the next start does\n");
}

int
cmd_release(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *who = NULL;
	char *uuid = NULL;
	size_t n = 0;
	int c, rc;

	while ((rc = ctl_getopt(cmd, argc, argv, "u:h", opts, &c)) == -1 && c != -1)
		who = optarg;
	if (rc != -1)
		return rc;
	if (optind != argc)
		return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (who != NULL && (uuid = held_user(ctl, who)) == NULL) {
		log_error("release: %s is not held by the safety catch (certsyncctl "
		    "status shows the held set)", who);
		return EX_NOINPUT;
	}
	rc = plan_release(ctl->st, uuid, &n);
	free(uuid);
	if (rc == -1)
		return EX_SOFTWARE;
	if (n == 0) {
		printf("nothing is held by the safety catch\n");
		return 0;
	}
	printf("released %zu user(s): their departures are planned as decided\n", n);
	wake_agent(ctl);
	return 0;
}
