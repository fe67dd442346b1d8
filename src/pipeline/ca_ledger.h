/*
 * ca_ledger.h - what the CA process signed, held against the store.
 *
 * Owns: reading the CA process's audit log ([ca] audit_log, ca_audit.h)
 * from where the last look stopped, and giving each certificate it signed
 * that the store has never heard of (no row, no sign record) the sign
 * record job_unrecorded.c acts on.  That closes the one window the sign
 * record alone leaves open: the CA process signed and audited, and then
 * this process (or the CA process, before its reply was read) died
 * before the sign record was written.  Nobody holds such a certificate,
 * nor its key (it was never written), so it is revoked by its serial.
 * Never: touches a certificate the store knows; one that a process still
 * running (another certsyncctl, say) may be about to record (those wait
 * for their process to end, or for RECENT_SIGN seconds); or one whose user
 * has no job signing (in KEYS), the state of every job that died between
 * signature and record: a store restored from a backup does not know what
 * was signed since, and that is no reason to revoke it (it is logged).
 */
#ifndef CERTSYNC_CA_LEDGER_H
#define CERTSYNC_CA_LEDGER_H

#include "pipeline/job_state.h"

/*
 * Looks at the audit log's new lines (the place is kept in the store's
 * state, "ca_audit_read").  Call it with no request in flight: at start
 * and whenever the CA process was restarted.  Returns how many signed
 * certificates it found unrecorded (each given to job_unrecorded.c), or
 * -1 after logging.
 */
int ca_ledger_check(struct job_ctx *ctx);

#endif
