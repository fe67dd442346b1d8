/*
 * reload_check.c - a new configuration checked in full before the running
 * one is stopped.
 *
 * Owns: trying, on the loop thread and without stopping anything, each
 * thing certsyncd's start would open with the new configuration, so that a
 * reload that would fail (the CA key moved away, a password file gone) is
 * refused and the agent runs on with the configuration it has.  The new
 * configuration's CA process is started here, and handed to the caller
 * when every check passed: the running one stays until the swap.
 * Never: logs (the caller reports one line), keeps what it opened (but
 * that CA process), or touches the running runner, watcher, CA process or
 * store connection.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ca/ca_client.h"
#include "cmd/reload_check.h"
#include "lib/log.h"
#include "lib/log_guard.h"
#include "lib/secret.h"
#include "pki/archive.h"
#include "pki/certinfo.h"
#include "store/store.h"

/*
 * A CA process starts with conf: its key (a file, or a token) opens and
 * matches the certificate this process reads.  0 and *out, ready; or -1.
 */
static int
check_ca(const struct conf *conf, struct ca_client **out)
{
	X509 *cert = NULL;
	int permanent, rc;

	if ((cert = certinfo_read_pem(conf->ca.certificate, "[ca] certificate")) == NULL)
		return -1;
	rc = ca_client_open(conf, cert, out, &permanent);
	X509_free(cert);
	return rc;
}

/* Every secret file the new configuration names, as the start checks them. */
static int
check_secrets(const struct conf *conf)
{
	const struct { const char *path, *what; } files[] = {
		{ conf->archive.password_file, "[archive] password_file" },
		{ conf->keystore.password_file, "[keystore] password_file" },
		{ conf->directory.bind_dn != NULL && conf->directory.sasl_mech == NULL ?
		    conf->directory.bind_password_file : NULL,
		    "[directory] bind_password_file" },
		{ conf->directory.tls_key_file, "[directory] tls_key_file" },
		{ conf->directory.keytab, "[directory] keytab" },
	};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (files[i].path != NULL &&
		    secret_check_file(files[i].path, files[i].what) == -1)
			return -1;
	return 0;
}

/* The archive opens: its recovery agents load (the runner loads them
 * again when the new configuration starts). */
static int
check_archive(const struct conf *conf)
{
	struct archive *ar = NULL;

	if (archive_open(conf, time(NULL), &ar) == -1)
		return -1;
	archive_close(ar);
	return 0;
}

static int
check_rest(const struct conf *conf)
{
	struct store *st = NULL;

	if (conf->directory.base == NULL) {
		log_error("%s: [directory] base: is required to watch the directory",
		    conf->path);
		return -1;
	}
	if (conf->daemon.delivery_hook != NULL &&
	    access(conf->daemon.delivery_hook, X_OK) == -1) {
		log_error("[daemon] delivery_hook %s: %s", conf->daemon.delivery_hook,
		    strerror(errno));
		return -1;
	}
	if (store_open(conf->state.database, &st) == -1)
		return -1;
	store_close(st);
	return 0;
}

int
reload_check(const struct conf *conf, struct ca_client **ca, char *why, size_t len)
{
	int rc;

	*ca = NULL;
	/* The checks log as the start would; those lines become one. */
	log_quiet_begin();
	rc = check_secrets(conf) == 0 && check_archive(conf) == 0 &&
	    check_rest(conf) == 0 && check_ca(conf, ca) == 0 ? 0 : -1;
	log_quiet_end(why, len);
	if (rc == -1) {
		ca_client_free(*ca);
		*ca = NULL;
	}
	if (rc == -1 && why[0] == '\0')
		snprintf(why, len, "a check failed without saying why");
	return rc;
}
