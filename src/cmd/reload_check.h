/*
 * reload_check.h - a new configuration checked in full before the running
 * one is stopped.
 *
 * Owns: the list of what a start of certsyncd needs besides a file that
 * parses (every secret file readable and private, the CA key opening with
 * its certificate in a CA process of the new configuration, the archive's
 * recovery agents loading, the state store opening, the delivery hook
 * runnable).
 * Never: stops or changes anything running; what it opens, it closes.
 */
#ifndef CERTSYNC_RELOAD_CHECK_H
#define CERTSYNC_RELOAD_CHECK_H

#include <stddef.h>

#include "ca/ca_client.h"
#include "lib/conf.h"

/* 0 when conf could start, with *ca its CA process, started and ready
 * (the caller's); -1 with the first problem, one line, in why (nothing is
 * logged) and *ca NULL. */
int reload_check(const struct conf *conf, struct ca_client **ca, char *why,
    size_t len);

#endif
