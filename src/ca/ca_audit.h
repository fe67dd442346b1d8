/*
 * ca_audit.h - the CA process's own audit log: one line per signature,
 * refusal, CRL, start and stop, made durable before a certificate leaves.
 *
 * Owns: the log's line format, writing it (in the CA process, through a
 * descriptor it opened before dropping its privileges) and reading its
 * "sign" lines back (in certsyncd, which compares them with its store).
 * Never: holds a secret (no key, no PIN, no passphrase goes in a line), or
 * rewrites a line: the file is opened O_APPEND and only appended to.
 *
 * A line is tab-separated: the time (UTC, 2026-12-04T20:10:00Z), the event
 * (sign, refuse, crl, start, stop), then name=value fields.  A value's tab,
 * newline, backslash and every other byte outside printable ASCII are
 * written \xHH, so one line is one record whatever a subject holds:
 *
 *   TIME sign serial=HEX kind=signing user=UUID by=certsyncd[PID]
 *        addresses=a@x, b@x subject=CN=... spki-sha256=HEX fingerprint=HEX
 *   TIME refuse id=N by=... code=profile reason=...
 *   TIME crl number=N entries=N by=... sha256=HEX
 */
#ifndef CERTSYNC_CA_AUDIT_H
#define CERTSYNC_CA_AUDIT_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* What a "sign" line says about one certificate. */
struct ca_audit_sign {
	time_t at;
	char *serial;          /* upper-case hex, as certinfo spells it */
	char *kind;            /* signing, encryption, dual */
	char *user;
	char *by;              /* the requesting process: "certsyncd[1234]" */
	char *addresses;       /* joined with ", " */
	char *subject;
	char *spki_sha256;
	char *fingerprint;     /* SHA-256 of the certificate, upper-case hex */
};

/*
 * Opens (creating, mode 0600) the log for appending.  Returns the
 * descriptor, or -1 after logging.
 */
int ca_audit_open(const char *path);

/*
 * Appends one line: the event and its fields, given as name, value pairs
 * ending with NULL.  One write() per line, so two CA processes appending
 * to one file never interleave within a line.  0, or -1 with errno.
 */
int ca_audit_line(int fd, time_t at, const char *event, ...)
    __attribute__((sentinel));

/* A "sign" line for s (at, and every field set).  0, or -1 with errno. */
int ca_audit_write_sign(int fd, const struct ca_audit_sign *s);

/*
 * Reads a "sign" line back.  Returns 1 and *out (free with
 * ca_audit_sign_free) for a sign line, 0 for a line of another event, -1
 * for a line that is not one of ours.
 */
int ca_audit_parse_sign(const char *line, struct ca_audit_sign *out);
void ca_audit_sign_free(struct ca_audit_sign *s);

#endif
