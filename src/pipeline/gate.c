/*
 * gate.c - the safety catch's arithmetic.
 *
 * Owns: the limit a threshold gives, and whether a pass is held.
 * Never: looks at anything but its arguments.
 */
#include "config.h"

#include <stdio.h>

#include "pipeline/gate.h"

size_t
gate_limit(const struct threshold *max, size_t known)
{
	size_t limit;

	if (!max->percent)
		return (size_t)max->value;
	/* value is in hundredths of a percent: 500 is 5%. */
	limit = known / 10000 * (size_t)max->value +
	    known % 10000 * (size_t)max->value / 10000;
	return limit < GATE_FLOOR ? GATE_FLOOR : limit;
}

int
gate_holds(const struct threshold *max, size_t n, size_t recent, size_t known,
    size_t *limit)
{
	size_t l = gate_limit(max, known);

	if (limit != NULL)
		*limit = l;
	if (n == 0)
		return 0;
	if (known >= 2 && n >= known)
		return 1;
	return n + recent > l;
}

void
gate_threshold_text(const struct threshold *max, char *buf, size_t len)
{
	if (!max->percent)
		snprintf(buf, len, "%d", max->value);
	else if (max->value % 100 == 0)
		snprintf(buf, len, "%d%%", max->value / 100);
	else if (max->value % 10 == 0)
		snprintf(buf, len, "%d.%d%%", max->value / 100, max->value % 100 / 10);
	else
		snprintf(buf, len, "%d.%02d%%", max->value / 100, max->value % 100);
}
