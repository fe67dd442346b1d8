/*
 * status.c - the agent's state in one snapshot, a STATUS line and a
 * health verdict.
 *
 * Owns: which facts make "healthy" (connected, a CRL not past its
 * nextUpdate, no revocation waiting for its CRL too long) and how the
 * snapshot reads as one line.  Text that came from outside (a server's
 * error message inside the connection state) is made printable here: it
 * ends up in systemd's newline-separated protocol and in HTTP bodies.
 * Never: writes anything, or takes longer than a few indexed reads.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/metrics.h"
#include "ops/status.h"
#include "pki/certinfo.h"

/* Control characters (a newline would start another assignment in a
 * notify message) become spaces. */
static void
copy_printable(char *dst, size_t len, const char *src)
{
	size_t i;

	for (i = 0; src != NULL && src[i] != '\0' && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
	if (len > 0)
		dst[i] = '\0';
}

static void
add_jobs(void *arg, const char *state, int n)
{
	struct ops_status *s = arg;

	s->jobs += n;
	if (state != NULL && strcmp(state, "parked") == 0)
		s->parked += n;
}

static void
read_state(struct store *st, const char *key, char *buf, size_t len)
{
	char *value = NULL;

	buf[0] = '\0';
	if (store_state_get(st, key, &value, NULL) == 1)
		copy_printable(buf, len, value);
	free(value);
}

void
ops_status_read(struct store *st, struct ops_status *s)
{
	memset(s, 0, sizeof(*s));
	s->connected = metrics_get(M_DIR_CONNECTED) != 0;
	s->known = metrics_get(M_DIR_STATE_CHANGES) != 0;
	s->last_published = metrics_get(M_LAST_PUBLISHED);
	s->pending_since = metrics_get(M_REVOCATION_WAITING);
	if (st == NULL)
		return;
	read_state(st, "connection", s->connection, sizeof(s->connection));
	read_state(st, "source", s->source, sizeof(s->source));
	if (store_job_counts(st, add_jobs, s) == -1)
		s->jobs = s->parked = 0;
	s->crl_pending = store_crl_pending(st) == 1;
	/* Pending from before this process started: waiting since then at
	 * least (the runner writes that CRL first thing). */
	if (s->crl_pending && s->pending_since == 0)
		s->pending_since = metrics_get(M_START_TIME);
}

void
ops_status_line(const struct ops_status *s, char *buf, size_t len)
{
	char when[32], jobs[64];

	if (s->jobs == 0)
		snprintf(jobs, sizeof(jobs), "no jobs queued");
	else if (s->parked > 0)
		snprintf(jobs, sizeof(jobs), "%d job%s queued, %d parked (certsyncctl "
		    "status)", s->jobs, s->jobs == 1 ? "" : "s", s->parked);
	else
		snprintf(jobs, sizeof(jobs), "%d job%s queued", s->jobs,
		    s->jobs == 1 ? "" : "s");
	if (s->last_published != 0)
		certinfo_fmt_time((time_t)s->last_published, when, sizeof(when));
	if (!s->known)
		snprintf(buf, len, "connecting to the directory; %s", jobs);
	else if (s->connected)
		snprintf(buf, len, "directory connected (%s); %s; %s%s",
		    s->source[0] ? s->source : "?", jobs,
		    s->last_published ? "last change published " : "nothing published yet",
		    s->last_published ? when : "");
	else
		snprintf(buf, len, "directory %s; %s", s->connection[0] ?
		    s->connection : "not connected", jobs);
}

/* Appends one reason line to why. */
static void
reason(char *why, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
reason(char *why, size_t len, const char *fmt, ...)
{
	size_t used = strlen(why);
	va_list ap;

	if (used + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(why + used, len - used, fmt, ap);
	va_end(ap);
	used = strlen(why);
	if (used + 1 < len) {
		why[used] = '\n';
		why[used + 1] = '\0';
	}
}

int
ops_health(const struct conf *conf, const struct ops_status *s,
    const struct served_file *crl, time_t now, char *why, size_t len)
{
	int64_t waited = s->pending_since ? (int64_t)now - s->pending_since : 0;

	why[0] = '\0';
	if (!s->connected)
		reason(why, len, "directory not connected: %s", s->connection[0] ?
		    s->connection : "no connection attempt has ended yet");
	if (!crl->loaded)
		reason(why, len, "no CRL: %s", crl->error[0] ? crl->error : "not read");
	else if (crl->next_update != 0 && now >= crl->next_update)
		reason(why, len, "CRL past its nextUpdate by %llds",
		    (long long)(now - crl->next_update));
	if (s->crl_pending && waited > conf->http.revocation_delay_max)
		reason(why, len, "a revocation has waited %llds for its CRL (more "
		    "than [http] revocation_delay_max = %ds)", (long long)waited,
		    conf->http.revocation_delay_max);
	return why[0] == '\0';
}
