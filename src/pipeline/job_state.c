/*
 * job_state.c - a job's words in the store.
 *
 * Owns: the one name table of the actions, and writing a job's new state.
 * Never: decides which state comes next (job.c does).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "pipeline/job_state.h"

static const char *const action_names[] = { "enroll", "reissue", "renew", "revoke",
    "unpublish", "republish" };
#define N_ACTIONS ((int)(sizeof(action_names) / sizeof(action_names[0])))

const char *
job_action_name(enum job_action action)
{
	return action_names[action];
}

int
job_action_parse(const char *name)
{
	for (int i = 0; i < N_ACTIONS; i++)
		if (strcmp(name, action_names[i]) == 0)
			return i;
	return -1;
}

int
job_set_state(struct store *st, struct job_row *job, const char *state)
{
	char *copy = strdup(state);

	if (copy == NULL)
		fatal("out of memory");
	free(job->state);
	job->state = copy;
	job->updated_at = time(NULL);
	job->next_attempt = 0;
	return store_job_put(st, job);
}
