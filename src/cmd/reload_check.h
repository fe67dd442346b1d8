/*
 * reload_check.h - a new configuration checked in full before the running
 * one is stopped.
 *
 * Owns: the list of what a start of certsyncd needs besides a file that
 * parses (every secret file readable and private, the CA key opening with
 * its certificate, the archive's recovery agents loading, the state store
 * opening, the delivery hook runnable).
 * Never: stops or changes anything running; what it opens, it closes.
 */
#ifndef CERTSYNC_RELOAD_CHECK_H
#define CERTSYNC_RELOAD_CHECK_H

#include <stddef.h>

#include "lib/conf.h"

/* 0 when conf could start; -1 with the first problem, one line, in why
 * (nothing is logged). */
int reload_check(const struct conf *conf, char *why, size_t len);

#endif
