/*
 * metrics_page.c - /metrics: the in-memory metrics and the store's view.
 *
 * Owns: the metrics computed at scrape time (jobs by state, the CRL's
 * facts, a revocation pending), each family with its HELP and TYPE, after
 * the table of lib/metrics.h.  Every job state the code knows is always
 * listed (0 included), so a query never sees a series vanish; a state in
 * the store that this build does not know (a newer certsync wrote it) is
 * listed too, if its name is a plain word.
 * Never: lets a value from the store into a label unchecked.
 */
#include "config.h"

#include <string.h>

#include "lib/metrics.h"
#include "ops/metrics_page.h"
#include "pipeline/job_state.h"

#define KNOWN_STATES (JOB_REVOKED + 1)	/* DONE jobs are deleted */
#define OTHER_MAX 16

struct job_counts {
	int known[KNOWN_STATES];
	int parked;	/* the store's pseudo-state: a failure retrying cannot mend */
	char other[OTHER_MAX][32];
	int other_n[OTHER_MAX];
	size_t nother;
};

/* A label value we print as it is: letters, digits, '_' and '-'. */
static int
plain_word(const char *s)
{
	size_t len = strlen(s);

	return len > 0 && len < 32 && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "abcdefghijklmnopqrstuvwxyz0123456789_-") == len;
}

static void
count_state(void *arg, const char *state, int n)
{
	struct job_counts *c = arg;
	int s = state != NULL ? job_state_parse(state) : -1;

	if (s >= 0 && s < KNOWN_STATES)
		c->known[s] += n;
	else if (state != NULL && strcmp(state, "parked") == 0)
		c->parked += n;
	else if (state != NULL && plain_word(state) && c->nother < OTHER_MAX) {
		snprintf(c->other[c->nother], sizeof(c->other[0]), "%s", state);
		c->other_n[c->nother++] = n;
	}
}

static void
family(FILE *out, const char *name, const char *type, const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
write_jobs(FILE *out, struct store *st)
{
	struct job_counts c;

	memset(&c, 0, sizeof(c));
	if (store_job_counts(st, count_state, &c) == -1)
		return;		/* no family rather than wrong zeros */
	family(out, "certsync_jobs", "gauge", "Jobs in the state store by state "
	    "(a job per user with work in progress; parked: held after a failure "
	    "retrying cannot mend, until the entry changes or a restart)");
	for (int s = 0; s < KNOWN_STATES; s++)
		fprintf(out, "certsync_jobs{state=\"%s\"} %d\n",
		    job_state_name((enum job_state)s), c.known[s]);
	fprintf(out, "certsync_jobs{state=\"parked\"} %d\n", c.parked);
	for (size_t i = 0; i < c.nother; i++)
		fprintf(out, "certsync_jobs{state=\"%s\"} %d\n", c.other[i], c.other_n[i]);
}

static void
write_crl(FILE *out, struct store *st, const struct served_file *crl, time_t now)
{
	int64_t number = 0;
	int pending = store_crl_pending(st);

	if (store_crl_last(st, &number, NULL) == 0) {
		family(out, "certsync_crl_number", "gauge", "The number of the last CRL made");
		fprintf(out, "certsync_crl_number %lld\n", (long long)number);
	}
	if (pending >= 0) {
		family(out, "certsync_crl_pending", "gauge", "1 while a revocation is "
		    "not yet in a written CRL");
		fprintf(out, "certsync_crl_pending %d\n", pending);
	}
	if (crl == NULL || !crl->loaded)
		return;
	family(out, "certsync_crl_age_seconds", "gauge", "Seconds since the served "
	    "CRL's thisUpdate");
	fprintf(out, "certsync_crl_age_seconds %lld\n", (long long)(now - crl->this_update));
	if (crl->next_update == 0)
		return;
	family(out, "certsync_crl_next_update_seconds", "gauge", "Seconds until the "
	    "served CRL's nextUpdate (negative: past it)");
	fprintf(out, "certsync_crl_next_update_seconds %lld\n",
	    (long long)(crl->next_update - now));
}

int
metrics_page_write(FILE *out, struct store *st, const struct served_file *crl,
    time_t now)
{
	if (metrics_write(out, now) == -1)
		return -1;
	if (st != NULL) {
		write_jobs(out, st);
		write_crl(out, st, crl, now);
	}
	return ferror(out) ? -1 : 0;
}
