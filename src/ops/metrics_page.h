/*
 * metrics_page.h - the /metrics page: Prometheus text format 0.0.4.
 *
 * Owns: putting together the in-memory metrics (lib/metrics.c) and what
 * only the store and the CRL file know at scrape time: jobs by state, the
 * CRL's number, age and time to its nextUpdate, whether a revocation waits
 * for its CRL.
 * Never: writes the store, or prints a label value it did not check.
 */
#ifndef CERTSYNC_METRICS_PAGE_H
#define CERTSYNC_METRICS_PAGE_H

#include <stdio.h>
#include <time.h>

#include "ops/served.h"
#include "store/store.h"

/* Writes the whole page to out.  Returns 0, or -1 on a write error. */
int metrics_page_write(FILE *out, struct store *st, const struct served_file *crl,
    time_t now);

#endif
