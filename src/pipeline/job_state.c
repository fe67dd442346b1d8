/*
 * job_state.c - a job's words, and the edge where they meet the store.
 *
 * Owns: the one name table of the states and of the actions, and the
 * translation between the store's job row (text) and struct job (enums).
 * Nothing else in certsync spells a state or an action.
 * Never: decides which state comes next (job.c does).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "lib/log.h"
#include "pipeline/job_state.h"
#include "pki/crl.h"

static const char *const state_names[] = { "PLANNED", "KEYS", "ISSUED", "ARCHIVED",
    "PUBLISHED", "REVOKED", "DONE" };
#define N_STATES ((int)(sizeof(state_names) / sizeof(state_names[0])))

static const char *const action_names[] = { "enroll", "reissue", "renew", "revoke",
    "unpublish", "republish", "hold", "lift" };
#define N_ACTIONS ((int)(sizeof(action_names) / sizeof(action_names[0])))

static int
parse(const char *const *names, int n, const char *name)
{
	for (int i = 0; name != NULL && i < n; i++)
		if (strcmp(name, names[i]) == 0)
			return i;
	return -1;
}

const char *
job_state_name(enum job_state state)
{
	return state_names[state];
}

int
job_state_parse(const char *name)
{
	return parse(state_names, N_STATES, name);
}

const char *
job_action_name(enum job_action action)
{
	return action_names[action];
}

int
job_action_parse(const char *name)
{
	return parse(action_names, N_ACTIONS, name);
}

/*
 * The row's words as enums.  The schema admits no other state.  An action
 * this certsync does not know (a newer one wrote it) runs as a reissue:
 * enroll, reissue and renew run the same steps.  A reason it does not
 * know is superseded, as the revoke step always took it.
 */
static int
from_row(struct job_row *row, struct job *out)
{
	int state = job_state_parse(row->state), action = job_action_parse(row->action);
	int reason = row->reason != NULL ? crl_reason_parse(row->reason) : -1;

	memset(out, 0, sizeof(*out));
	if (state < 0) {
		log_error("user %s: a job in state \"%s\", unknown to this certsync",
		    row->uuid, row->state ? row->state : "");
		job_row_free(row);
		return -1;
	}
	if (action < 0) {
		log_warn("user %s: job action \"%s\" unknown to this certsync; it "
		    "runs as a reissue", row->uuid, row->action ? row->action : "");
		action = JOB_REISSUE;
	}
	out->uuid = row->uuid;
	out->state = (enum job_state)state;
	out->action = (enum job_action)action;
	out->reason = reason < 0 ? CRL_REASON_SUPERSEDED : reason;
	out->attempts = row->attempts;
	out->last_error = row->last_error;
	out->updated_at = row->updated_at;
	out->next_attempt = row->next_attempt;
	free(row->state);
	free(row->action);
	free(row->reason);
	return 1;
}

int
job_get(struct store *st, const char *uuid, struct job *out)
{
	struct job_row row;
	int found;

	memset(out, 0, sizeof(*out));
	if ((found = store_job_get(st, uuid, &row)) != 1)
		return found;
	return from_row(&row, out);
}

int
job_next_in(struct store *st, enum job_state state, struct job *out)
{
	struct job_row row;
	int found;

	memset(out, 0, sizeof(*out));
	if ((found = store_job_next_in(st, job_state_name(state), &row)) != 1)
		return found;
	return from_row(&row, out);
}

int
job_put(struct store *st, const struct job *job)
{
	struct job_row row = {
		.uuid = job->uuid,
		.state = (char *)job_state_name(job->state),
		.action = (char *)job_action_name(job->action),
		.reason = (char *)crl_reason_name(job->reason),
		.attempts = job->attempts,
		.last_error = job->last_error,
		.updated_at = job->updated_at,
		.next_attempt = job->next_attempt,
	};

	return store_job_put(st, &row);
}

int
job_set_state(struct store *st, struct job *job, enum job_state state)
{
	job->state = state;
	job->updated_at = time(NULL);
	job->next_attempt = 0;
	return job_put(st, job);
}

void
job_free(struct job *job)
{
	free(job->uuid);
	free(job->last_error);
	memset(job, 0, sizeof(*job));
}
