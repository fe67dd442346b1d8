/*
 * leftovers.c - what a kill leaves in certsync's directories, cleared when
 * the runner starts.
 *
 * Owns: the start-up sweep: temporary files of atomic writes whose writer
 * is gone (keystore, archive, CRL and CA directories; fsutil.c knows the
 * names), keystore copies of keys that are revoked and archived
 * (job_sweep_keystore), and one line naming the keystore files the store
 * knows nothing of.
 * Never: removes a file the store does not account for (those are only
 * reported), a temporary file whose writer is alive, or anything outside
 * the directories the configuration names.
 */
#include "config.h"

#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/fsutil.h"
#include "lib/log.h"
#include "pipeline/job_revoke.h"
#include "pipeline/leftovers.h"

#define NAMES_SHOWN 5          /* unknown files named in the report */

static void
tmp_removed(void *arg, const char *path)
{
	(void)arg;
	log_notice("removed %s: a temporary file its writer left when it was "
	    "killed", path);
}

/* The directory part of path into buf ("." when there is none). */
static const char *
dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = path != NULL ? strrchr(path, '/') : NULL;

	if (path == NULL)
		return NULL;
	if (slash == NULL)
		snprintf(buf, len, ".");
	else
		snprintf(buf, len, "%.*s", (int)(slash - path), path);
	return buf;
}

static void
sweep_tmp(const struct conf *conf)
{
	char d[4][PATH_MAX];
	const char *dirs[] = {
		conf->keystore.directory, conf->archive.directory,
		dir_of(conf->crl.path, d[0], sizeof(d[0])),
		dir_of(conf->crl.pem_path, d[1], sizeof(d[1])),
		dir_of(conf->ca.key, d[2], sizeof(d[2])),
		dir_of(conf->ca.certificate, d[3], sizeof(d[3])),
	};

	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		int seen = 0;

		for (size_t j = 0; j < i; j++)
			seen |= dirs[j] != NULL && dirs[i] != NULL &&
			    strcmp(dirs[i], dirs[j]) == 0;
		if (dirs[i] != NULL && !seen && fs_sweep_tmp(dirs[i], tmp_removed, NULL) == -1)
			log_warn("cannot look for temporary files in %s", dirs[i]);
	}
}

/* Whether the store knows serial: a certificate row, or a sign record. */
static int
known(struct store *st, const char *serial, const struct unrecorded_rows *un)
{
	int found;

	/* A row's existence only: no row read (two files a user). */
	if ((found = store_cert_serial_known(st, serial)) == -1)
		return 1;	/* cannot tell: not reported */
	for (size_t i = 0; !found && i < un->n; i++)
		found = strcmp(un->v[i].serial, serial) == 0;
	return found;
}

/* The serial of a keystore file's name "KIND-SERIAL.p12" into buf, or NULL. */
static const char *
serial_of(const char *name, char *buf, size_t len)
{
	const char *dash = strchr(name, '-');
	size_t n;

	if (dash == NULL || (n = strlen(dash + 1)) < 5 ||
	    strcmp(dash + 1 + n - 4, ".p12") != 0 || n - 4 >= len)
		return NULL;
	snprintf(buf, len, "%.*s", (int)(n - 4), dash + 1);
	return strspn(buf, "0123456789ABCDEF") == n - 4 ? buf : NULL;
}

/* One line for the keystore files the store does not know: left alone. */
static void
report_unknown(struct job_ctx *ctx)
{
	struct unrecorded_rows un = { 0 };
	char names[NAMES_SHOWN * 80] = "", serial[128];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if ((d = opendir(ctx->conf->keystore.directory)) == NULL)
		return;
	if (store_unrecorded(ctx->st, NULL, &un) == -1) {
		closedir(d);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || strstr(de->d_name, FS_TMP_TAG) != NULL)
			continue;
		if (serial_of(de->d_name, serial, sizeof(serial)) != NULL &&
		    known(ctx->st, serial, &un))
			continue;
		if (n++ < NAMES_SHOWN)
			snprintf(names + strlen(names), sizeof(names) - strlen(names),
			    "%s%.70s", n > 1 ? ", " : "", de->d_name);
	}
	closedir(d);
	unrecorded_rows_free(&un);
	if (n > 0)
		log_warn("keystore %s: %d file(s) the state store does not know, left "
		    "alone: %s%s", ctx->conf->keystore.directory, n, names,
		    n > NAMES_SHOWN ? ", ..." : "");
}

void
leftovers_sweep(struct job_ctx *ctx)
{
	int n;

	sweep_tmp(ctx->conf);
	if ((n = job_sweep_keystore(ctx, NULL)) > 0)
		log_notice("keystore: removed %d key file(s) of revoked certificates "
		    "a kill had left (their keys are archived)", n);
	report_unknown(ctx);
}
