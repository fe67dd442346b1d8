/*
 * ctl_recover.c - certsyncctl recover: an archived key handed back.
 *
 * Owns: picking the one key asked for, and writing it with its
 * certificate and the CA's as a new PKCS#12 under the user's password.
 * Never: overwrites a file, or writes the key under a password file that
 * others may read.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd/ctl.h"
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

static int
recover_write(struct ctl *ctl, const struct cert_row *r, const char *out,
    const char *pwfile)
{
	int archived = r->archive_path != NULL;
	const char *src = archived ? r->archive_path : r->keystore_path;
	struct p12_params params = { ctl->conf->archive.profile,
	    ctl->conf->archive.iterations };
	char *oldpw = NULL, *newpw = NULL, friendly[256];
	unsigned char *der = NULL;
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	size_t len;
	int rc = EX_SOFTWARE;

	if ((newpw = secret_read_password(pwfile, "--password-file")) == NULL) {
		rc = EX_NOINPUT;
		goto done;
	}
	if ((oldpw = secret_read_password(keystore_password_file(ctl->conf,
	    archived ? AREA_ARCHIVE : AREA_KEYSTORE), archived ?
	    "[archive] password_file" : "[keystore] password_file")) == NULL ||
	    keystore_load(src, oldpw, &key, &cert) == -1)
		goto done;
	snprintf(friendly, sizeof(friendly), "%s (%s) %s", r->addresses,
	    cert_kind_name(r->kind), r->serial);
	if (keystore_p12_encode(key, cert, ctl->ca_cert, friendly, newpw,
	    &params, &der, &len) == -1)
		goto done;
	if (fs_write_atomic(out, der, len, 0600, 1) == -1) {
		log_error("recover: cannot write %s: %s%s", out, strerror(errno),
		    errno == EEXIST ? " (refusing to overwrite it)" : "");
		rc = EX_CANTCREAT;
		goto done;
	}
	store_audit(ctl->st, "recover", r->uuid, r->serial, "key from %s handed out as %s",
	    src, out);
	printf("recovered the %s key of %s (%s) into %s\n", cert_kind_name(r->kind),
	    r->serial, r->addresses, out);
	rc = 0;
done:
	secret_free(oldpw);
	secret_free(newpw);
	OPENSSL_free(der);
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

int
cmd_recover(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct cert_row *pick;
	struct cert_rows rows = { 0 };
	const char *out = NULL, *pwfile = NULL;
	int c, rc;

	while ((rc = ctl_getopt(cmd, argc, argv, "o:p:h", opts, &c)) == -1 && c != -1) {
		if (c == 'o')
			out = optarg;
		else
			pwfile = optarg;
	}
	if (rc != -1)
		return rc;
	if (out == NULL || pwfile == NULL)
		return ctl_usage_error(cmd, "%s", "--out and --password-file are required");
	if (optind + 1 != argc)
		return ctl_usage_error(cmd, "%s", "one EMAIL or SERIAL is needed");
	if ((rc = ctl_lookup(ctl, cmd, argv[optind], &rows)) != 0)
		return rc;
	if ((rc = recover_pick(cmd, argv[optind], &rows, &pick)) == 0)
		rc = recover_write(ctl, pick, out, pwfile);
	cert_rows_free(&rows);
	return rc;
}
