/*
 * ctl_recover.c - certsyncctl recover: an archived key handed back.
 *
 * Owns: the command line, picking the one key asked for, opening it the way
 * its row says it is protected (the archive password file here; recovery
 * agents in ctl_recover_kra.c), and writing it with its certificate and
 * the CA's as a new PKCS#12 under the user's password.  Every hand-out is
 * in the audit trail with who asked.
 * Never: overwrites a file, writes the key under a password file that
 * others may read, or prints a password (but the one --combine is asked
 * for).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd/ctl.h"
#include "lib/escape.h"
#include "cmd/ctl_recover.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pki/keystore.h"

/* The one certificate whose key to hand back; EX_* when not exactly one. */
static int
recover_pick(const struct command *cmd, const char *what, struct cert_rows *rows,
    const struct cert_row **pick)
{
	size_t found = 0;

	*pick = NULL;
	for (size_t i = 0; i < rows->n; i++) {
		const struct cert_row *r = &rows->v[i];
		int by_mail = strchr(what, '@') != NULL;

		if (r->archive_path == NULL && r->keystore_path == NULL)
			continue;
		/* By address, hand back encryption keys: those open old mail. */
		if (by_mail && r->kind == CERT_KIND_SIGNING)
			continue;
		if (!by_mail || r->archive_path != NULL) {
			*pick = r;
			found++;
		}
	}
	if (found == 1)
		return 0;
	if (found == 0)
		log_error("%s: no archived key for %s", cmd->name, what);
	else {
		log_error("%s: %s has %zu archived keys; name one by serial:",
		    cmd->name, what, found);
		for (size_t i = 0; i < rows->n; i++)
			if (rows->v[i].archive_path && rows->v[i].kind != CERT_KIND_SIGNING)
				log_error("  %s (%s, %s)", rows->v[i].serial,
				    cert_kind_name(rows->v[i].kind), rows->v[i].addresses);
	}
	return found == 0 ? EX_NOINPUT : EX_USAGE;
}

/* A key in the keystore, or archived under the password file. */
static int
open_with_password_file(struct ctl *ctl, const struct cert_row *r, EVP_PKEY **key,
    X509 **cert)
{
	int archived = r->archive_path != NULL;
	const char *pwfile = keystore_password_file(ctl->conf,
	    archived ? AREA_ARCHIVE : AREA_KEYSTORE);
	char *pw = NULL;
	int rc = EX_SOFTWARE;

	if (pwfile == NULL) {
		log_error("recover: %s is protected by the archive password file, and "
		    "[archive] password_file is not set (it was when the key was "
		    "archived): set it again to recover keys archived before the "
		    "recovery agents", r->archive_path);
		return EX_CONFIG;
	}
	if ((pw = secret_read_password(pwfile, archived ? "[archive] password_file" :
	    "[keystore] password_file")) != NULL &&
	    keystore_load(archived ? r->archive_path : r->keystore_path, pw, key,
	    cert) == 0)
		rc = 0;
	secret_free(pw);
	return rc;
}

/* key + cert + CA as a new PKCS#12 at req->out under the password in
 * req->pwfile; how says how the key was opened, for the audit trail. */
static int
hand_out(struct ctl *ctl, const struct cert_row *r, EVP_PKEY *key, X509 *cert,
    const struct recover_req *req, const char *how)
{
	const char *src = r->archive_path != NULL ? r->archive_path : r->keystore_path;
	struct p12_params params = { ctl->conf->archive.profile,
	    ctl->conf->archive.iterations };
	char *newpw = NULL, friendly[256], who[160];
	unsigned char *der = NULL;
	size_t len;
	int rc = EX_SOFTWARE;

	if ((newpw = secret_read_password(req->pwfile, "--password-file")) == NULL)
		return EX_NOINPUT;
	snprintf(friendly, sizeof(friendly), "%s (%s) %s", r->addresses,
	    cert_kind_name(r->kind), r->serial);
	if (keystore_p12_encode(key, cert, ctl->ca_cert, friendly, newpw,
	    &params, &der, &len) == -1)
		goto done;
	if (fs_write_atomic(req->out, der, len, 0600, 1) == -1) {
		log_error("recover: cannot write %s: %s%s", req->out, strerror(errno),
		    errno == EEXIST ? " (refusing to overwrite it)" : "");
		rc = EX_CANTCREAT;
		goto done;
	}
	ctl_who(who, sizeof(who));
	store_audit(ctl->st, "recover", r->uuid, r->serial, "key from %s (%s) handed "
	    "out as %s, asked by %s", src, how, req->out, who);
	escape_line(stdout, "recovered the %s key of %s (%s) into %s", cert_kind_name(r->kind),
	    r->serial, r->addresses, req->out);
	rc = 0;
done:
	secret_free(newpw);
	OPENSSL_free(der);
	return rc;
}

/* What the picked row calls for, given what the command line holds. */
static int
recover_row(struct ctl *ctl, const struct command *cmd, const struct cert_row *r,
    const struct recover_req *req)
{
	int agents = r->archive_path != NULL &&
	    r->archive_protection == ARCHIVE_RECOVERY_AGENTS;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	char *how = NULL;
	int rc;

	if (agents && req->nagents == 0 && req->pwfile == NULL)
		return recover_shares(ctl, r, req->out);
	if (agents && req->nagents == 0)
		return ctl_usage_error(cmd, "the key of %s is protected by recovery "
		    "agents: without --password-file, --out names a directory for "
		    "the officers' shares; or give the officers' --agent-key files",
		    r->serial);
	if (!agents && req->nagents > 0)
		return ctl_usage_error(cmd, "the key of %s is protected by %s, not by "
		    "recovery agents: leave out --agent-key", r->serial,
		    r->archive_path != NULL ? "the archive password file" : "the keystore");
	if (req->pwfile == NULL)
		return ctl_usage_error(cmd, "%s", "--password-file is required");
	/* A bad password file stops us before any officer's key is read. */
	if (secret_check_file(req->pwfile, "--password-file") == -1)
		return EX_NOINPUT;
	rc = agents ? recover_by_agents(ctl, r, req, &key, &cert, &how) :
	    open_with_password_file(ctl, r, &key, &cert);
	if (rc == 0)
		rc = hand_out(ctl, r, key, cert, req, how != NULL ? how :
		    r->archive_path != NULL ? "archive password file" : "keystore");
	free(how);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

/* One option into req: -1 to go on, else an exit code. */
static int
recover_option(const struct command *cmd, int c, struct recover_req *req)
{
	struct recover_agent *a = NULL;

	switch (c) {
	case 'o': req->out = optarg; break;
	case 'p': req->pwfile = optarg; break;
	case 'P': req->password_out = optarg; break;
	case 'C': req->combine = 1; break;
	case 'k':
		if ((a = realloc(req->agents, (req->nagents + 1) * sizeof(*a))) == NULL)
			fatal("out of memory");
		req->agents = a;
		req->agents[req->nagents++] = (struct recover_agent){ optarg, NULL };
		break;
	case 'c':
		if (req->nagents == 0 || req->agents[req->nagents - 1].cert != NULL)
			return ctl_usage_error(cmd, "--agent-cert %s must follow the "
			    "--agent-key it belongs to", optarg);
		req->agents[req->nagents - 1].cert = optarg;
		break;
	}
	return -1;
}

/* The options that do not go with --combine, and those it needs. */
static int
check_combine(const struct command *cmd, const struct recover_req *req, int nfiles)
{
	if (req->out != NULL || req->pwfile != NULL || req->nagents > 0)
		return ctl_usage_error(cmd, "%s", "--combine takes decrypted share "
		    "files only (and --password-out)");
	if (nfiles == 0)
		return ctl_usage_error(cmd, "%s", "--combine needs the decrypted share "
		    "files");
	return -1;
}

int
cmd_recover(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "agent-key", required_argument, NULL, 'k' },
		{ "agent-cert", required_argument, NULL, 'c' },
		{ "combine", no_argument, NULL, 'C' },
		{ "password-out", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct recover_req req = { 0 };
	const struct cert_row *pick;
	struct cert_rows rows = { 0 };
	int c, rc;

	while ((rc = ctl_getopt(cmd, argc, argv, "o:p:k:c:CP:h", opts, &c)) == -1 &&
	    c != -1 && (rc = recover_option(cmd, c, &req)) == -1)
		;
	if (rc != -1)
		goto done;
	if (req.combine) {
		if ((rc = check_combine(cmd, &req, argc - optind)) == -1)
			rc = recover_combine(cmd, argv + optind, argc - optind,
			    req.password_out);
		goto done;
	}
	if (req.password_out != NULL)
		rc = ctl_usage_error(cmd, "%s", "--password-out goes with --combine");
	else if (req.out == NULL)
		rc = ctl_usage_error(cmd, "%s", "--out is required");
	else if (optind + 1 != argc)
		rc = ctl_usage_error(cmd, "%s", "one EMAIL or SERIAL is needed");
	else if ((rc = ctl_lookup(ctl, cmd, argv[optind], &rows)) == 0 &&
	    (rc = recover_pick(cmd, argv[optind], &rows, &pick)) == 0)
		rc = recover_row(ctl, cmd, pick, &req);
done:
	cert_rows_free(&rows);
	free(req.agents);
	return rc;
}
