/*
 * archive.h - superseded keys at rest: the archive's files, and how each
 * one is protected.
 *
 * Owns: writing the archive copy of a key (a write-once PKCS#12 in
 * [archive] directory, in keystore.h's format) under the configured
 * protection, and the recovery agents that protection names:
 *   password file    the password in [archive] password_file;
 *   recovery agents  a random 256-bit password of the file's own (kra.h),
 *                    split M-of-N and wrapped to the agents.  The bundle is
 *                    written durably beside the file ("<file>.kra") before
 *                    the file, and handed back for the store.  The password
 *                    exists only while the PKCS#12 is encoded, and is wiped
 *                    before anything is written: afterwards nothing on the
 *                    host opens the file.
 * A file that an interrupted attempt left behind is adopted with the
 * protection it really has.  This is the one place that writes archive
 * files: the job's archive step and the adoption of unrecorded
 * certificates both come here.
 * Never: keeps, logs or hands out a password it made; replaces an archive
 * file; leaves an archive file of recovery-agent mode without its bundle
 * beside it; falls back from recovery agents to the password file.
 *
 * Return convention: 0, or -1 after logging one line.
 */
#ifndef CERTSYNC_ARCHIVE_H
#define CERTSYNC_ARCHIVE_H

#include <stddef.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "lib/conf.h"
#include "lib/vocab.h"
#include "pki/kra.h"

/*
 * PBKDF2 and MAC iterations of an archive file in recovery-agent mode.
 * Its password is 256 random bits: no iteration count changes the cost of
 * guessing it, so the work is only what readers insist on.  OpenSSL 3.0,
 * NSS 3.87 (pk12util) and GnuTLS 3.7.9 (certtool) open files made with 1
 * (tests/integration/kra_tools.sh); readers in FIPS mode refuse fewer than
 * 1000 (SP 800-132's floor, OpenSSL's FIPS provider checks it), and 1000
 * is also [archive] iterations' floor.  So 1000: 1/100 of the default.
 */
#define ARCHIVE_KRA_ITERATIONS 1000

/* The archive's configuration and, in recovery-agent mode, its agents. */
struct archive;

/* One archive copy, as written (or found from an earlier attempt). */
struct archive_copy {
	char *path;                         /* the PKCS#12 file */
	enum archive_protection protection;
	unsigned char *bundle;              /* recovery agents: the KraBundle DER
	                                       that lies beside path; else NULL */
	size_t bundle_len;
};

/*
 * The archive of conf (which must outlive it).  With [archive]
 * recovery_agents set, loads the agents (kra_load_agents(): one line per
 * bad file) and checks 1 <= recovery_quorum <= their number.  Reads files:
 * call it from one thread (start-up, reload).  Returns 0 and *out (free
 * with archive_close), or -1 after logging.
 */
int archive_open(const struct conf *conf, time_t now, struct archive **out);
void archive_close(struct archive *ar);

/* The recovery agents; NULL in password-file mode. */
const struct kra_agents *archive_agents(const struct archive *ar);

/*
 * Writes key + cert + CA as "<kind>-<SERIAL>.p12" in the archive, under
 * the configured protection, and fills *out (free with archive_copy_free).
 * If the file is there already (an attempt that died before recording
 * it), it is kept and described instead: opened by the password file, or
 * with the bundle beside it.  The archive's directory is made (0700) when
 * missing; files are mode 0600.  Safe on a worker thread.
 */
int archive_write(struct archive *ar, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *kind, const char *friendly, struct archive_copy *out);

void archive_copy_free(struct archive_copy *copy);

/* "<file>.kra", the bundle's place beside an archive file (caller frees). */
char *archive_bundle_file(const char *file);

#endif
