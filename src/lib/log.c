/*
 * log.c - leveled logging to stderr or syslog.
 *
 * Owns: the log destination and level, and that every line is one line:
 * each is escaped whole (escape.h) before it goes out, so a value from the
 * directory, the command line or a file can neither start a forged line of
 * its own nor drive the terminal, whichever call site printed it.
 * Never: decides what is a secret; it prints what it is given, so callers
 * must not give it one.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>

#include <openssl/err.h>

#include "lib/escape.h"
#include "lib/log.h"
#include "lib/log_guard.h"

static const char *log_prog = "certsync";
static enum log_level log_level = LOG_LVL_NOTICE;
static int log_syslog;
/* The last error line, for a process that must hand its reason on; while
 * holding, error lines go nowhere else (the reason is handed on instead). */
static char log_last[512];
static int log_holding;

static const char *const level_names[] = {
	"error", "warning", "notice", "info", "debug",
};
static const int level_prio[] = {
	LOG_ERR, LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG,
};

void
log_init(const char *progname)
{
	log_prog = progname;
}

void
log_to_syslog(int facility)
{
	openlog(log_prog, LOG_PID | LOG_NDELAY, facility);
	log_syslog = 1;
}

void
log_set_level(enum log_level level)
{
	log_level = level;
}

enum log_level
log_get_level(void)
{
	return log_level;
}

int
log_level_parse(const char *name)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++)
		if (strcmp(name, level_names[i]) == 0)
			return (int)i;
	return -1;
}

static void log_vemit(enum log_level, const char *, va_list)
    __attribute__((format(printf, 2, 0)));

static __thread int in_summary;   /* logging log_guard's summaries */

/* The counts of lines log_guard held back, one line each. */
static void
log_summaries(const struct log_summary *sum, size_t n)
{
	in_summary = 1;
	for (size_t i = 0; i < n; i++) {
		if (sum[i].level == LOG_LVL_ERROR)
			log_error("%s (%u more in the last minute)", sum[i].text,
			    sum[i].held);
		else
			log_warn("%s (%u more in the last minute)", sum[i].text,
			    sum[i].held);
	}
	in_summary = 0;
}

void
log_flush(void)
{
	struct log_summary sum[LOG_GUARD_SUMMARIES];
	size_t n;

	while ((n = log_guard_drain(sum)) > 0)
		log_summaries(sum, n);
}

static void
log_vemit(enum log_level level, const char *fmt, va_list ap)
{
	char line[2048], safe[ESCAPE_GROWTH * sizeof(line) + 16];
	int n;

	if (level > log_level)
		return;
	if ((n = vsnprintf(line, sizeof(line), fmt, ap)) < 0)
		return;
	/* A repeat within its minute, or a quiet thread's line (log_guard.h);
	 * it keeps the raw text, which its callers store, not print.  A
	 * summary it hands back is logged first, and not guarded again. */
	if (!in_summary) {
		struct log_summary sum[LOG_GUARD_SUMMARIES];
		size_t nsum = 0;
		int print = log_guard((int)level, line, sum, &nsum);

		log_summaries(sum, nsum);
		if (!print)
			return;
	}
	/* The whole line, not the arguments one by one: no call site can
	 * forget it. */
	escape_text(safe, sizeof(safe), line,
	    (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	if ((size_t)n >= sizeof(line))
		strcat(safe, " [cut]");
	/* Raw: whoever is handed it logs it, and escapes it then. */
	if (level == LOG_LVL_ERROR) {
		snprintf(log_last, sizeof(log_last), "%.*s", (int)sizeof(log_last) - 1,
		    line);
		if (log_holding)
			return;
	}
	if (log_syslog) {
		syslog(level_prio[level], "%s", safe);
		return;
	}
	/* Errors and warnings say so; the rest is plain, like a tool's output. */
	if (level <= LOG_LVL_WARNING)
		fprintf(stderr, "%s: %s: %s\n", log_prog, level_names[level], safe);
	else
		fprintf(stderr, "%s: %s\n", log_prog, safe);
}

#define LOG_FN(name, level)                      \
	void name(const char *fmt, ...)          \
	{                                        \
		va_list ap;                      \
		va_start(ap, fmt);               \
		log_vemit(level, fmt, ap);       \
		va_end(ap);                      \
	}

LOG_FN(log_error, LOG_LVL_ERROR)
LOG_FN(log_warn, LOG_LVL_WARNING)
LOG_FN(log_notice, LOG_LVL_NOTICE)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

const char *
log_last_error(void)
{
	return log_last;
}

void
log_hold_errors(int on)
{
	log_holding = on;
}

void
log_ssl(const char *fmt, ...)
{
	char msg[1024], reason[256] = "no detail from OpenSSL";
	unsigned long e, last = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	/* The newest entry is the most specific; older ones are context. */
	while ((e = ERR_get_error()) != 0)
		last = e;
	if (last != 0)
		ERR_error_string_n(last, reason, sizeof(reason));
	log_error("%s (%s)", msg, reason);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	log_holding = 0;	/* a broken invariant is nobody else's to tell */
	va_start(ap, fmt);
	log_vemit(LOG_LVL_ERROR, fmt, ap);
	va_end(ap);
	exit(EX_SOFTWARE);
}
