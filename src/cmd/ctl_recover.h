/*
 * ctl_recover.h - what the two files of certsyncctl recover share.
 *
 * Owns: the request as the command line states it, and the split: 
 * ctl_recover.c picks the key and hands it out (password-file archive
 * files, and the PKCS#12 for the user); ctl_recover_kra.c does what
 * recovery agents need (the officers' shares, their keys, --combine).
 * Never: seen outside src/cmd/.
 *
 * Return convention: 0 or a sysexits code, after logging (ctl.h).
 */
#ifndef CERTSYNC_CTL_RECOVER_H
#define CERTSYNC_CTL_RECOVER_H

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cmd/ctl.h"

/* One --agent-key, and the --agent-cert that followed it (or NULL). */
struct recover_agent {
	const char *key;
	const char *cert;
};

struct recover_req {
	const char *out;              /* --out: the PKCS#12, or the shares' directory */
	const char *pwfile;           /* --password-file: the user's new password */
	const char *password_out;     /* --password-out (--combine) */
	struct recover_agent *agents; /* --agent-key ... */
	size_t nagents;
	int combine;                  /* --combine SHARE... */
};

/*
 * A key under recovery agents, no agent key given: writes the officers'
 * packet into the new directory dir (one envelope per agent, a copy of the
 * archive file, README.txt with the steps) and prints the steps.
 */
int recover_shares(struct ctl *ctl, const struct cert_row *r, const char *dir);

/*
 * A key under recovery agents, with at least M agents' keys: opens each
 * one's share, rebuilds the password, opens the archive file.  0 with *key
 * and *cert (caller frees) and *who naming the agents (caller frees), or an
 * exit code.
 */
int recover_by_agents(struct ctl *ctl, const struct cert_row *r,
    const struct recover_req *req, EVP_PKEY **key, X509 **cert, char **who);

/* --combine: decrypted shares (KraShare DER files) -> the archive password,
 * on stdout or into --password-out (mode 0600, never overwritten).  Needs
 * no configuration. */
int recover_combine(const struct command *cmd, char **files, int n,
    const char *password_out);

#endif
