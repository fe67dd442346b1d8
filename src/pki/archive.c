/*
 * archive.c - writing archive files, under the password file or to the
 * recovery agents.
 *
 * Owns: the archive's mode (password file or recovery agents), the agents
 * and their quorum, the order of the writes in recovery-agent mode (bundle,
 * then file, each durable), and telling which protection a file left by an
 * interrupted attempt has.
 * Never: writes a password it made anywhere, or keeps it past the encoding
 * of its file; overwrites an archive file; leaves a stale bundle that could
 * pass for the protection of a password-file archive file.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/failpoint.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pki/archive.h"
#include "pki/certinfo.h"
#include "pki/keystore.h"

#define BUNDLE_MAX (1024 * 1024)

struct archive {
	const struct conf *conf;
	struct kra_agents agents;	/* n == 0: password-file mode */
	X509 **certs;			/* the agents' certificates, for kra_wrap */
	int quorum;
};

static int
recovery_mode(const struct archive *ar)
{
	return ar->agents.n > 0;
}

int
archive_open(const struct conf *conf, time_t now, struct archive **out)
{
	const char *pattern = conf->archive.recovery_agents;
	struct archive *ar = NULL;
	char what[1024];

	*out = NULL;
	if ((ar = calloc(1, sizeof(*ar))) == NULL)
		fatal("out of memory");
	ar->conf = conf;
	ar->quorum = conf->archive.recovery_quorum;
	if (pattern == NULL) {
		*out = ar;
		return 0;
	}
	snprintf(what, sizeof(what), "%s: [archive] recovery_agents", conf->path);
	if (kra_load_agents(pattern, what, now, &ar->agents) == -1)
		goto fail;
	if ((size_t)ar->quorum > ar->agents.n) {
		log_error("%s: [archive] recovery_quorum: %d is more than the %zu "
		    "recovery agent(s) that [archive] recovery_agents names",
		    conf->path, ar->quorum, ar->agents.n);
		goto fail;
	}
	if ((ar->certs = calloc(ar->agents.n, sizeof(*ar->certs))) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < ar->agents.n; i++)
		ar->certs[i] = ar->agents.v[i].cert;
	log_notice("archive: each file's password goes to %zu recovery agent(s), "
	    "any %d of whom can rebuild it", ar->agents.n, ar->quorum);
	*out = ar;
	return 0;
fail:
	archive_close(ar);
	return -1;
}

void
archive_close(struct archive *ar)
{
	if (ar == NULL)
		return;
	kra_agents_free(&ar->agents);
	free(ar->certs);
	free(ar);
}

const struct kra_agents *
archive_agents(const struct archive *ar)
{
	return recovery_mode(ar) ? &ar->agents : NULL;
}

void
archive_copy_free(struct archive_copy *copy)
{
	free(copy->path);
	OPENSSL_free(copy->bundle);
	memset(copy, 0, sizeof(*copy));
}

char *
archive_bundle_file(const char *file)
{
	char *p = NULL;

	if (asprintf(&p, "%s.kra", file) == -1)
		fatal("out of memory");
	return p;
}

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* ---- recovery agents ----------------------------------------------------- */

/* Agents are checked at load; one that has expired since must not get a
 * share its officer may no longer be trusted with.  0, or -1 after logging
 * (the key then stays in the keystore until the agents are replaced). */
static int
agents_still_valid(const struct archive *ar)
{
	char err[KRA_ERR_LEN];
	int rc = 0;

	for (size_t i = 0; i < ar->agents.n; i++) {
		if (kra_agent_check(ar->agents.v[i].cert, time(NULL), err,
		    sizeof(err)) == 0)
			continue;
		log_error("%s: [archive] recovery_agents: %s: %s; replace it and "
		    "reload (SIGHUP)", ar->conf->path, ar->agents.v[i].path, err);
		rc = -1;
	}
	return rc;
}

/*
 * The PKCS#12 of key under a fresh random password, and that password
 * split and wrapped to the agents.  The password lives on this stack
 * frame only, and is wiped before it returns.  0 with *p12 and *bundle
 * (caller frees both with OPENSSL_free), or -1 after logging.
 */
static int
seal(const struct archive *ar, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *label, const char *friendly, unsigned char **p12,
    size_t *p12_len, unsigned char **bundle, size_t *bundle_len)
{
	struct p12_params params = { ar->conf->archive.profile, ARCHIVE_KRA_ITERATIONS };
	unsigned char secret[KRA_SECRET_LEN];
	char password[KRA_PASSWORD_LEN + 1], err[KRA_ERR_LEN];
	int rc = -1;

	*p12 = *bundle = NULL;
	if (kra_secret_new(secret) == -1) {
		log_error("%s: the random generator failed; not archived", label);
		return -1;
	}
	kra_password_text(secret, password);
	if (keystore_p12_encode(key, cert, ca, friendly, password, &params, p12,
	    p12_len) == -1)
		goto done;
	if (kra_wrap(secret, label, ar->certs, ar->agents.n, ar->quorum, bundle,
	    bundle_len, err, sizeof(err)) == -1) {
		log_error("%s: cannot wrap its password to the recovery agents: %s",
		    label, err);
		OPENSSL_free(*p12);
		*p12 = NULL;
		goto done;
	}
	rc = 0;
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(password, sizeof(password));
	return rc;
}

/*
 * The bundle first, then the file, each durable before the next: a crash
 * in between leaves a bundle without its file (harmless; the next attempt
 * replaces it), never a file whose password nobody holds.
 */
static int
write_wrapped(struct archive *ar, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *file, const char *friendly, struct archive_copy *out)
{
	unsigned char *p12 = NULL, *bundle = NULL;
	size_t p12_len = 0, bundle_len = 0;
	char *kra = NULL;
	int rc = -1;

	if (agents_still_valid(ar) == -1 ||
	    seal(ar, key, cert, ca, base_name(file), friendly, &p12, &p12_len,
	    &bundle, &bundle_len) == -1)
		return -1;
	kra = archive_bundle_file(file);
	if (fs_write_atomic(kra, bundle, bundle_len, 0600, 0) == -1) {
		log_error("cannot write %s: %s", kra, strerror(errno));
		goto done;
	}
	failpoint("archive-after-bundle");
	if (fs_write_atomic(file, p12, p12_len, 0600, 1) == -1) {
		log_error("cannot write %s: %s", file, strerror(errno));
		goto done;
	}
	out->protection = ARCHIVE_RECOVERY_AGENTS;
	out->bundle = bundle;
	out->bundle_len = bundle_len;
	bundle = NULL;
	rc = 0;
done:
	OPENSSL_free(p12);
	OPENSSL_free(bundle);
	free(kra);
	return rc;
}

/* ---- the password file --------------------------------------------------- */

/* A bundle beside the file could only be left by a recovery-agent attempt
 * that died before writing its file; it goes first, so it never passes for
 * the protection of the file written now. */
static int
write_with_password_file(struct archive *ar, EVP_PKEY *key, X509 *cert,
    X509 *ca, const char *kind, const char *friendly, const char *file,
    struct archive_copy *out)
{
	char *kra = archive_bundle_file(file), *path = NULL;
	int rc = -1;

	if (fs_unlink_durable(kra) == -1) {
		log_error("cannot remove %s: %s", kra, strerror(errno));
		goto done;
	}
	if (keystore_save(ar->conf, AREA_ARCHIVE, key, cert, ca, kind, friendly,
	    &path) == -1)
		goto done;
	free(path);	/* the same name as file */
	out->protection = ARCHIVE_PASSWORD_FILE;
	rc = 0;
done:
	free(kra);
	return rc;
}

/* ---- a file from an earlier attempt ---------------------------------------- */

/* The bundle beside file, if it is one for file (its label names it).
 * 0 with *der (caller frees with OPENSSL_free), or -1 (nothing logged). */
static int
bundle_beside(const char *file, unsigned char **der, size_t *len)
{
	struct kra_bundle b = { 0 };
	char err[KRA_ERR_LEN], *kra = archive_bundle_file(file);
	unsigned char *buf = NULL;
	int rc = -1;

	*der = NULL;
	if (fs_read_file(kra, BUNDLE_MAX, &buf, len) == -1)
		goto done;
	if (kra_bundle_decode(buf, *len, &b, err, sizeof(err)) == -1) {
		log_warn("%s: not a recovery-agent bundle: %s", kra, err);
		goto done;
	}
	if (strcmp(b.label, base_name(file)) == 0 &&
	    (*der = OPENSSL_memdup(buf, *len)) != NULL)
		rc = 0;
	kra_bundle_free(&b);
done:
	free(buf);
	free(kra);
	return rc;
}

/*
 * file exists: an attempt wrote it and died before it was recorded.  Its
 * name carries the certificate's serial (random, 158 bits), so it is this
 * key's.  Which protection it has: the password file if that opens it and
 * it holds cert; else the bundle beside it, which the bundle-first order
 * guarantees for any file written in recovery-agent mode.
 */
static int
adopt(struct archive *ar, X509 *cert, const char *file, struct archive_copy *out)
{
	const char *pwfile = ar->conf->archive.password_file;
	char *pw = NULL;
	int opens = 0;

	if (pwfile != NULL) {
		if ((pw = secret_read_password(pwfile, "[archive] password_file")) == NULL)
			return -1;
		opens = keystore_holds(file, pw, cert);
		secret_free(pw);
	}
	if (opens)
		out->protection = ARCHIVE_PASSWORD_FILE;
	else if (bundle_beside(file, &out->bundle, &out->bundle_len) == 0)
		out->protection = ARCHIVE_RECOVERY_AGENTS;
	else {
		log_error("%s exists, but %s; it is left as it is, and the key stays "
		    "in the keystore", file, pwfile != NULL ? "the archive password "
		    "file does not open it (with this certificate in it), and no "
		    "recovery-agent bundle for it lies beside it" : "no "
		    "recovery-agent bundle for it lies beside it");
		return -1;
	}
	log_info("%s: written by an earlier attempt (%s); kept", file,
	    archive_protection_name(out->protection));
	return 0;
}

int
archive_write(struct archive *ar, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *kind, const char *friendly, struct archive_copy *out)
{
	const char *dir = ar->conf->archive.directory;
	char *serial = NULL;
	int rc = -1;

	memset(out, 0, sizeof(*out));
	if ((serial = certinfo_serial(cert)) == NULL)
		return -1;
	out->path = keystore_file(ar->conf, AREA_ARCHIVE, kind, serial);
	if (fs_mkdir_p(dir, 0700) == -1)
		log_error("cannot create %s: %s", dir, strerror(errno));
	else if (access(out->path, F_OK) == 0)
		rc = adopt(ar, cert, out->path, out);
	else if (recovery_mode(ar))
		rc = write_wrapped(ar, key, cert, ca, out->path, friendly, out);
	else
		rc = write_with_password_file(ar, key, cert, ca, kind, friendly,
		    out->path, out);
	if (rc == 0)
		failpoint("archive-after-file");
	else
		archive_copy_free(out);
	free(serial);
	return rc;
}
