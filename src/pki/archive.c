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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "lib/failpoint.h"
#include "lib/fs_batch.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "lib/workers.h"
#include "pki/archive.h"
#include "pki/certinfo.h"
#include "pki/keystore.h"
#include "pki/p12.h"

#define BUNDLE_MAX (1024 * 1024)
#define P12_MAX (1024 * 1024)
#define PW_WHAT "[archive] password_file"

struct archive {
	const struct conf *conf;
	struct kra_agents agents;	/* n == 0: password-file mode */
	X509 **certs;			/* the agents' certificates, for kra_wrap */
	int quorum;
	/* Password-file mode: the password's keys, derived once for every
	 * file (a salt of their own, fresh per archive).  Made on first use. */
	struct p12_key *key;
	pthread_mutex_t lock;
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
	pthread_mutex_init(&ar->lock, NULL);
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
	p12_key_free(ar->key);
	pthread_mutex_destroy(&ar->lock);
	free(ar);
}

/* ---- the password file --------------------------------------------------- */

/* The key for the password file's password as it is now, made if needed:
 * the caller holds ar->lock.  0, or -1 after logging. */
static int
password_key_locked(struct archive *ar)
{
	const struct conf *c = ar->conf;
	char *pw = secret_read_password(c->archive.password_file, PW_WHAT);
	struct p12_key *k = NULL;
	int rc = 0;

	if (pw == NULL)
		return -1;
	if (ar->key == NULL || !p12_key_is(ar->key, pw)) {
		if ((rc = p12_key_new(pw, NULL, c->archive.iterations,
		    c->archive.profile, &k)) == 0) {
			p12_key_free(ar->key);
			ar->key = k;
		}
	}
	secret_free(pw);
	return rc;
}

int
archive_refresh(struct archive *ar)
{
	int rc;

	if (recovery_mode(ar) || ar->conf->archive.password_file == NULL)
		return 0;
	pthread_mutex_lock(&ar->lock);
	rc = password_key_locked(ar);
	pthread_mutex_unlock(&ar->lock);
	return rc;
}

/* The password's key (made on first use; archive_refresh() between batches
 * picks up a new password).  NULL after logging. */
static struct p12_key *
password_key(struct archive *ar)
{
	struct p12_key *k;

	pthread_mutex_lock(&ar->lock);
	if (ar->key == NULL)
		password_key_locked(ar);
	k = ar->key;
	pthread_mutex_unlock(&ar->lock);
	return k;
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

/* An item's PKCS#12 under k: from its key, or from its key's and
 * certificate's DER as they came out of the keystore (not parsed).  0, or
 * -1 after logging. */
static int
encode_item(struct p12_key *k, const struct archive_item *it, X509 *ca,
    unsigned char **der, size_t *len)
{
	struct p12_parts in = { .friendly = it->friendly };
	unsigned char *a = NULL;
	int n, rc;

	if (it->raw == NULL)
		return p12_encode(k, it->key, it->cert, ca, it->friendly, der, len);
	if (ca != NULL && (n = i2d_X509(ca, &a)) > 0) {
		in.ca = a;
		in.ca_len = (size_t)n;
	}
	in.key = it->raw->p8;
	in.key_len = it->raw->p8len;
	in.cert = it->raw->cert;
	in.cert_len = it->raw->cert_len;
	rc = p12_encode_parts(k, &in, der, len);
	OPENSSL_free(a);
	return rc;
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
seal(const struct archive *ar, const struct archive_item *it, X509 *ca,
    const char *label, unsigned char **p12, size_t *p12_len, unsigned char **bundle,
    size_t *bundle_len)
{
	unsigned char secret[KRA_SECRET_LEN];
	char password[KRA_PASSWORD_LEN + 1], err[KRA_ERR_LEN];
	struct p12_key *k = NULL;
	int rc = -1;

	*p12 = *bundle = NULL;
	if (kra_secret_new(secret) == -1) {
		log_error("%s: the random generator failed; not archived", label);
		return -1;
	}
	kra_password_text(secret, password);
	/* A password of its own: a fresh salt, one derivation of each kind. */
	if (p12_key_new(password, NULL, ARCHIVE_KRA_ITERATIONS, ar->conf->archive.profile,
	    &k) == -1 || encode_item(k, it, ca, p12, p12_len) == -1)
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
	p12_key_free(k);
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(password, sizeof(password));
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

/* Whether the password file opens the archive file at path and it holds
 * cert: 1 yes, 0 no (for whatever reason).  Logs nothing. */
static int
password_opens(struct archive *ar, const char *path, X509 *cert)
{
	struct p12_key *k = password_key(ar);
	unsigned char *buf = NULL;
	EVP_PKEY *key = NULL;
	X509 *old = NULL;
	size_t len;
	int same = 0;

	if (k == NULL || fs_read_file(path, P12_MAX, &buf, &len) == -1)
		goto done;
	if (p12_decode(k, buf, len, path, 1, &key, &old) == 0)
		same = X509_cmp(old, cert) == 0;
done:
	EVP_PKEY_free(key);
	X509_free(old);
	free(buf);
	return same;
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

	if (pwfile != NULL && password_opens(ar, file, cert))
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

/* ---- writing many files at once ------------------------------------------- */

/* adopt() for an item whose certificate may be DER only (parsed here: a
 * file left by an interrupted attempt is rare). */
static int
adopt_item(struct archive *ar, struct archive_item *it)
{
	const unsigned char *p;
	X509 *cert = it->cert;
	int rc;

	if (cert == NULL && it->raw != NULL) {
		p = it->raw->cert;
		cert = d2i_X509(NULL, &p, (long)it->raw->cert_len);
	}
	if (cert == NULL) {
		log_error("%s: exists, and the certificate to compare it with cannot "
		    "be read", it->out.path);
		return -1;
	}
	rc = adopt(ar, cert, it->out.path, &it->out);
	if (cert != it->cert)
		X509_free(cert);
	return rc;
}

/* What archive_write_many()'s steps share: per item, the file to write
 * (pending) and its PKCS#12 and bundle once sealed. */
struct batch {
	struct archive *ar;
	struct workers *w;
	X509 *ca;
	struct archive_item *v;
	size_t n;
	int *pending;
	unsigned char **p12, **bundle;
	size_t *p12_len, *bundle_len;
};

/* Each item named; one whose file an earlier attempt left is adopted now
 * (done), the others are to be written (pending). */
static void
name_items(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct archive_item *it = &b->v[i];
		char *serial;

		memset(&it->out, 0, sizeof(it->out));
		it->rc = -1;
		if (it->serial != NULL)
			serial = strdup(it->serial);
		else if (it->cert == NULL || (serial = certinfo_serial(it->cert)) == NULL)
			continue;	/* the key's file could not be read: logged */
		if (serial == NULL)
			fatal("out of memory");
		it->out.path = keystore_file(b->ar->conf, AREA_ARCHIVE, it->kind, serial);
		free(serial);
		if (access(it->out.path, F_OK) == 0)
			it->rc = adopt_item(b->ar, it);
		else if (it->key != NULL || it->raw != NULL)
			b->pending[i] = 1;
		else
			log_error("%s: no archive file, and no key to write one with",
			    it->out.path);
	}
}

/* On a worker: item i's PKCS#12, and with recovery agents its bundle. */
static void
seal_one(void *arg, size_t i)
{
	struct batch *b = arg;
	struct archive_item *it = &b->v[i];
	struct p12_key *k;

	if (!b->pending[i])
		return;
	if (recovery_mode(b->ar))
		b->pending[i] = seal(b->ar, it, b->ca, base_name(it->out.path),
		    &b->p12[i], &b->p12_len[i], &b->bundle[i], &b->bundle_len[i]) == 0;
	else
		b->pending[i] = (k = password_key(b->ar)) != NULL &&
		    encode_item(k, it, b->ca, &b->p12[i], &b->p12_len[i]) == 0;
}

/* The bundles (bundles set) or the files of the items still pending,
 * with shared flushes; an item whose write fails is done with. */
static void
write_stage(struct batch *b, int bundles)
{
	struct fs_file *f = calloc(b->n, sizeof(*f));
	char **names = calloc(b->n, sizeof(*names));
	size_t k = 0, *at = calloc(b->n, sizeof(*at));

	if (f == NULL || names == NULL || at == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < b->n; i++) {
		if (!b->pending[i])
			continue;
		names[k] = bundles ? archive_bundle_file(b->v[i].out.path) : NULL;
		f[k] = (struct fs_file){ .path = bundles ? names[k] : b->v[i].out.path,
		    .data = bundles ? b->bundle[i] : b->p12[i],
		    .len = bundles ? b->bundle_len[i] : b->p12_len[i], .mode = 0600,
		    .no_replace = !bundles };
		at[k++] = i;
	}
	fs_write_many(b->w, f, k);
	for (size_t j = 0; j < k; j++) {
		if (f[j].err != 0) {
			log_error("cannot write %s: %s", f[j].path, strerror(f[j].err));
			b->pending[at[j]] = 0;
		}
		free(names[j]);
	}
	free(f);
	free(names);
	free(at);
}

/* A bundle beside a file about to be written under the password file could
 * only be left by a recovery-agent attempt that died before writing its
 * file; it goes first, so it never passes for this file's protection. */
static void
drop_stale_bundles(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		char *kra;

		if (!b->pending[i])
			continue;
		kra = archive_bundle_file(b->v[i].out.path);
		if (fs_unlink_durable(kra) == -1) {
			log_error("cannot remove %s: %s", kra, strerror(errno));
			b->pending[i] = 0;
		}
		free(kra);
	}
}

/* Seals and writes the pending items: with recovery agents the bundles
 * first, durable before any file, so no file is ever without its
 * wrapped password. */
static void
write_pending(struct batch *b, struct workers *w)
{
	int recovery = recovery_mode(b->ar), any = 0;

	if (recovery && agents_still_valid(b->ar) == -1)
		memset(b->pending, 0, b->n * sizeof(*b->pending));
	if (!recovery)
		drop_stale_bundles(b);
	workers_map(w, b->n, seal_one, b);
	if (recovery) {
		write_stage(b, 1);
		failpoint("archive-after-bundle");
	}
	write_stage(b, 0);
	for (size_t i = 0; i < b->n; i++) {
		struct archive_item *it = &b->v[i];

		if (!b->pending[i])
			continue;
		it->out.protection = recovery ? ARCHIVE_RECOVERY_AGENTS :
		    ARCHIVE_PASSWORD_FILE;
		it->out.bundle = b->bundle[i];
		it->out.bundle_len = b->bundle_len[i];
		b->bundle[i] = NULL;
		it->rc = any = 1;
	}
	if (any)
		failpoint("archive-after-file");
}

static void
batch_free(struct batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		OPENSSL_free(b->p12[i]);
		OPENSSL_free(b->bundle[i]);
	}
	free(b->pending);
	free(b->p12);
	free(b->bundle);
	free(b->p12_len);
	free(b->bundle_len);
}

size_t
archive_write_many(struct archive *ar, struct workers *w, X509 *ca,
    struct archive_item *v, size_t n)
{
	const char *dir = ar->conf->archive.directory;
	struct batch b = { ar, w, ca, v, n, calloc(n + 1, sizeof(int)),
	    calloc(n + 1, sizeof(char *)), calloc(n + 1, sizeof(char *)),
	    calloc(n + 1, sizeof(size_t)), calloc(n + 1, sizeof(size_t)) };
	size_t failed = 0;

	if (b.pending == NULL || b.p12 == NULL || b.bundle == NULL ||
	    b.p12_len == NULL || b.bundle_len == NULL)
		fatal("out of memory");
	if (fs_mkdir_p(dir, 0700) == -1) {
		log_error("cannot create %s: %s", dir, strerror(errno));
		for (size_t i = 0; i < n; i++) {
			memset(&v[i].out, 0, sizeof(v[i].out));
			v[i].rc = -1;
		}
		batch_free(&b);
		return n;
	}
	name_items(&b);
	write_pending(&b, w);
	for (size_t i = 0; i < n; i++) {
		if (v[i].rc == 1)
			v[i].rc = 0;
		if (v[i].rc != 0) {
			archive_copy_free(&v[i].out);
			failed++;
		}
	}
	batch_free(&b);
	return failed;
}

int
archive_write(struct archive *ar, EVP_PKEY *key, X509 *cert, X509 *ca,
    const char *kind, const char *friendly, struct archive_copy *out)
{
	struct archive_item it = { key, cert, NULL, NULL, kind, friendly, { 0 }, -1 };

	archive_write_many(ar, NULL, ca, &it, 1);
	*out = it.out;
	return it.rc;
}
