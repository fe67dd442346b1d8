/*
 * identity_row.h - an identity in the store, and back.
 *
 * Owns: the one mapping between struct identity and the store's
 * struct identity_row, for the planner, the jobs and certsyncctl.
 * Never: lets a stored address back in unchecked.
 */
#ifndef CERTSYNC_IDENTITY_ROW_H
#define CERTSYNC_IDENTITY_ROW_H

#include "pipeline/identity.h"
#include "store/store.h"

/* Stores id (clearing any skip reason) and indexes its addresses.  0, or
 * -1 after logging.  id->dn is NULL for a manual identity (certsyncctl
 * issue). */
int identity_save(struct store *st, const struct identity *id);

/* The identity the store holds for uuid, its addresses normalized again
 * (one that no longer passes is left out): 1 and *out (free with
 * identity_free), 0 when there is none with an address (never seen, only
 * skipped, or gone), -1 after logging. */
int identity_load(struct store *st, const char *uuid, struct identity *out);
/* identity_load, and *skipped: whether the row is marked skipped (a
 * refusal recorded after these values were stored). */
int identity_load_marked(struct store *st, const char *uuid, struct identity *out,
    int *skipped);

#endif
