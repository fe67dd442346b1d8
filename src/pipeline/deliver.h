/*
 * deliver.h - handing new keys over: the optional [daemon] delivery_hook.
 *
 * Owns: running the admin's command once per new key file, with the facts
 * in its environment (never the password: only the password file's path),
 * a timeout, and retries with backoff when it fails.
 * Never: waits for a hook on the runner's path: hooks are started and
 * reaped, so a slow or failing hook holds up no other user.
 */
#ifndef CERTSYNC_DELIVER_H
#define CERTSYNC_DELIVER_H

#include <stdint.h>

#include "lib/conf.h"
#include "store/store.h"

struct deliver;

int deliver_open(const struct conf *conf, struct store *st, struct deliver **out);
/* Reaps finished hooks, kills overdue ones, starts due ones.  Returns the
 * time something next needs doing (0: nothing pending). */
int64_t deliver_poll(struct deliver *d);
/* Waits for running hooks, each at most its timeout (then killed).
 * New keys are queued by the job itself, with their publication. */
void deliver_finish(struct deliver *d);
void deliver_close(struct deliver *d);

#endif
