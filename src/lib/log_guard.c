/*
 * log_guard.c - what keeps the log readable while something is broken.
 *
 * Owns: the table of recent warnings and errors (a line that comes again
 * word for word within its minute is printed 3 times, then counted, not
 * printed: a store that cannot be written must not write 300 lines a
 * minute), each thread's first
 * problem since it asked, and a thread's quiet spell.
 * Never: holds back a notice or anything below, or forgets a count: a
 * held-back line's count is logged when its minute is over (with the next
 * line logged), or at exit.
 */
#include "config.h"

#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "lib/log_guard.h"

#define SLOTS 32               /* distinct lines tracked at once */
#define TEXT_MAX 512           /* of a line, kept for its summary */
#define SUMMARIES_MAX LOG_GUARD_SUMMARIES
#define LEVEL_WARNING 1        /* enum log_level's: errors 0, warnings 1 */
#define BURST 3                /* a line's copies printed in its minute before
                                  the rest are counted: an event that happens
                                  twice (a job parked again) is no storm */

struct slot {
	uint64_t hash;             /* of the whole line: 0 for a free slot */
	int level;
	time_t since;              /* the first one of its minute */
	unsigned seen;             /* copies printed since */
	unsigned held;             /* repeats not printed since */
	char text[TEXT_MAX];
};

static pthread_mutex_t guard_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[SLOTS];

static __thread char first_problem[TEXT_MAX];
static __thread int quiet;
static __thread char quiet_first[TEXT_MAX];

static uint64_t
fnv1a(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h != 0 ? h : 1;
}

/* Frees a slot, saving its count for a summary if it held any back. */
static void
release(struct slot *s, struct log_summary *out, size_t *n)
{
	if (s->held > 0 && *n < SUMMARIES_MAX) {
		out[*n].level = s->level;
		out[*n].held = s->held;
		memcpy(out[*n].text, s->text, sizeof(s->text));
		(*n)++;
	}
	memset(s, 0, sizeof(*s));
}

/* Under the lock: 1 to print line, 0 to hold it back. */
static int
track(int level, const char *line, time_t now, struct log_summary *out, size_t *n)
{
	uint64_t h = fnv1a(line);
	struct slot *oldest = &slots[0];

	for (size_t i = 0; i < SLOTS; i++) {
		struct slot *s = &slots[i];

		if (s->hash != 0 && now - s->since >= LOG_GUARD_WINDOW)
			release(s, out, n);
		if (s->hash == h && s->level == level) {
			if (s->seen < BURST) {
				s->seen++;
				return 1;
			}
			s->held++;
			return 0;
		}
		if (s->hash == 0 || (oldest->hash != 0 && s->since < oldest->since))
			oldest = s;
	}
	release(oldest, out, n);
	oldest->hash = h;
	oldest->level = level;
	oldest->since = now;
	oldest->seen = 1;
	snprintf(oldest->text, sizeof(oldest->text), "%s", line);
	return 1;
}

int
log_guard(int level, const char *line, struct log_summary *sum, size_t *n)
{
	int print;

	*n = 0;
	if (level <= LEVEL_WARNING && first_problem[0] == '\0')
		snprintf(first_problem, sizeof(first_problem), "%s", line);
	if (quiet) {
		if (level <= LEVEL_WARNING && quiet_first[0] == '\0')
			snprintf(quiet_first, sizeof(quiet_first), "%s", line);
		return 0;
	}
	if (level > LEVEL_WARNING)
		return 1;
	pthread_mutex_lock(&guard_lock);
	print = track(level, line, time(NULL), sum, n);
	pthread_mutex_unlock(&guard_lock);
	return print;
}

size_t
log_guard_drain(struct log_summary *sum)
{
	size_t n = 0;

	pthread_mutex_lock(&guard_lock);
	for (size_t i = 0; i < SLOTS && n < SUMMARIES_MAX; i++)
		if (slots[i].hash != 0)
			release(&slots[i], sum, &n);
	pthread_mutex_unlock(&guard_lock);
	return n;
}

const char *
log_first_problem(void)
{
	return first_problem[0] != '\0' ? first_problem : NULL;
}

void
log_problem_clear(void)
{
	first_problem[0] = '\0';
}

void
log_quiet_begin(void)
{
	quiet = 1;
	quiet_first[0] = '\0';
}

void
log_quiet_end(char *buf, size_t len)
{
	quiet = 0;
	snprintf(buf, len, "%s", quiet_first);
}
