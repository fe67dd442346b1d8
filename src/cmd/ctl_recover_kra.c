/*
 * ctl_recover_kra.c - certsyncctl recover for keys under recovery agents.
 *
 * Owns: the officers' packet (one envelope per agent, named after its
 * officer, a copy of the archive file, and the steps, printed and in
 * README.txt), opening a key with the officers' own keys (--agent-key),
 * and --combine, which turns decrypted shares into the archive password.
 * Never: keeps a share, secret or password in memory it does not wipe,
 * writes a password anywhere but where --password-out says (mode 0600, a
 * new file), or overwrites a file.
 */
#include "config.h"

#include <sys/stat.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include "cmd/ctl.h"
#include "cmd/ctl_recover.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pki/archive.h"
#include "pki/keystore.h"
#include "pki/kra.h"

#define FILE_MAX (1024 * 1024)

/* ---- what the officers' packet names --------------------------------------- */

static const char *
base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash != NULL ? slash + 1 : path;
}

/* The bundle of r: the store's copy, else the one beside the file. */
static int
row_bundle(const struct cert_row *r, struct kra_bundle *b)
{
	unsigned char *buf = NULL;
	char err[KRA_ERR_LEN], *kra = archive_bundle_file(r->archive_path);
	size_t len = r->archive_bundle_len;
	int rc = -1;

	if (r->archive_bundle == NULL && fs_read_file(kra, FILE_MAX, &buf, &len) == -1)
		log_error("recover: the store has no recovery-agent bundle for %s, "
		    "and %s cannot be read: %s", r->serial, kra, strerror(errno));
	else if (kra_bundle_decode(buf != NULL ? buf : r->archive_bundle, len, b,
	    err, sizeof(err)) == -1)
		log_error("recover: the recovery-agent bundle of %s: %s", r->serial, err);
	else
		rc = 0;
	free(buf);
	free(kra);
	return rc;
}

/* The configured agents (to name officers, and to find the certificate of
 * an --agent-key); NULL when there are none or they do not load (logged). */
static struct archive *
configured_agents(struct ctl *ctl)
{
	struct archive *ar = NULL;

	if (ctl->conf->archive.recovery_agents == NULL ||
	    archive_open(ctl->conf, time(NULL), &ar) == -1)
		return NULL;
	return ar;
}

/* The configured agent whose certificate hash is fp, or NULL. */
static const struct kra_agent *
agent_by_fp(const struct archive *ar, const unsigned char *fp)
{
	const struct kra_agents *a = ar != NULL ? archive_agents(ar) : NULL;

	for (size_t i = 0; a != NULL && i < a->n; i++)
		if (memcmp(a->v[i].fp, fp, KRA_FP_LEN) == 0)
			return &a->v[i];
	return NULL;
}

/* An officer's name for a file: the CN, each run of anything but
 * [A-Za-z0-9.] as one '-' ("Alice (recovery agent)" -> "Alice-recovery-
 * agent"); or "agent-" and the fingerprint's first 4 bytes. */
static void
officer_file_name(X509 *cert, const unsigned char *fp, char *out, size_t len)
{
	char cn[64] = "";
	size_t i, o = 0;

	if (cert != NULL && X509_NAME_get_text_by_NID(X509_get_subject_name(cert),
	    NID_commonName, cn, sizeof(cn)) < 0)
		cn[0] = '\0';
	ERR_clear_error();
	for (i = 0; cn[i] != '\0'; i++) {
		if (strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789.", cn[i]) != NULL)
			cn[o++] = cn[i];
		else if (o > 0 && cn[o - 1] != '-')
			cn[o++] = '-';
	}
	while (o > 0 && (cn[o - 1] == '-' || cn[o - 1] == '.'))
		o--;
	cn[o] = '\0';
	if (cn[0] != '\0')
		snprintf(out, len, "%s", cn);
	else
		snprintf(out, len, "agent-%02X%02X%02X%02X", fp[0], fp[1], fp[2], fp[3]);
}

/* The officer's subject as openssl prints it (escaped), or a stand-in. */
static void
officer_subject(X509 *cert, char *out, size_t len)
{
	BIO *b = NULL;
	int n = 0;

	snprintf(out, len, "(not among the configured recovery agents)");
	if (cert == NULL || (b = BIO_new(BIO_s_mem())) == NULL)
		return;
	if (X509_NAME_print_ex(b, X509_get_subject_name(cert), 0,
	    XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB) >= 0 &&
	    (n = BIO_read(b, out, (int)len - 1)) > 0)
		out[n] = '\0';
	BIO_free(b);
}

/* fp as openssl x509 -fingerprint -sha256 prints it. */
static void
fp_text(const unsigned char *fp, char out[3 * KRA_FP_LEN])
{
	for (size_t i = 0; i < KRA_FP_LEN; i++)
		snprintf(out + 3 * i, 4, "%02X%s", fp[i], i + 1 < KRA_FP_LEN ? ":" : "");
}

/* ---- the packet ------------------------------------------------------------- */

struct packet {
	const struct cert_row *r;
	struct kra_bundle b;
	struct archive *agents;	/* configured ones, or NULL */
	const char *dir;
	char **share_files;	/* per envelope, its name in dir */
};

/* The steps, for the officers and the admin: printed and in README.txt. */
static void
packet_steps(FILE *f, const struct packet *p)
{
	const struct cert_row *r = p->r;
	const char *p12 = base_name(r->archive_path);
	char subject[512], fp[3 * KRA_FP_LEN];

	fprintf(f, "The %s key of certificate %s\n(%s, user %s) is archived in\n"
	    "  %s\nunder a password that only its recovery officers can rebuild: "
	    "any %d of these %zu.\n\n", cert_kind_name(r->kind), r->serial,
	    r->addresses, r->uuid, r->archive_path, p->b.threshold, p->b.n);
	for (size_t i = 0; i < p->b.n; i++) {
		const struct kra_agent *a = agent_by_fp(p->agents, p->b.v[i].cert_hash);

		officer_subject(a != NULL ? a->cert : NULL, subject, sizeof(subject));
		fp_text(p->b.v[i].cert_hash, fp);
		fprintf(f, "  %s\n      for %s\n      certificate SHA-256 %s\n",
		    p->share_files[i], subject, fp);
	}
	fprintf(f, "  %s\n      the archived key (a copy)\n\n", p12);
	fprintf(f, "1. Each officer, on their own machine, decrypts their share with "
	    "their\n   recovery-agent key and certificate (OpenSSL; NSS cannot):\n"
	    "     openssl cms -decrypt -inform DER -in %s \\\n"
	    "         -inkey officer.key -recip officer.crt -out share.der\n",
	    p->share_files[0]);
	if (p->b.threshold == 1)
		fprintf(f, "2. The archive password is the hex dump on the last line "
		    "of\n     openssl asn1parse -inform DER -in share.der\n");
	else
		fprintf(f, "2. Any %d officers bring their decrypted shares together "
		    "and run\n     certsyncctl recover --combine share1.der share2.der "
		    "...\n   which prints the archive password (--password-out FILE: "
		    "into a new\n   file, mode 0600).  One share alone says nothing "
		    "about it.\n", p->b.threshold);
	fprintf(f, "3. The file opens with it like any PKCS#12 (OpenSSL, NSS, "
	    "Windows):\n     openssl pkcs12 -in %s -nodes -passin file:password.txt\n\n"
	    "Or, where the officers choose to run it, with %s key file%s (mode 0600):\n"
	    "     certsyncctl recover %s --out user.p12 --password-file user.pass \\\n"
	    "         --agent-key officer1.key [--agent-cert officer1.crt] ...\n"
	    "writes the key as a new PKCS#12 under the password in user.pass.\n",
	    p12, p->b.threshold == 1 ? "one officer's" : "their", p->b.threshold == 1 ?
	    "" : "s", r->serial);
}

/* name into p->dir, a new file (mode 0600).  0, or -1 after logging. */
static int
packet_put(const struct packet *p, const char *name, const void *data, size_t len)
{
	char *path = fs_join(p->dir, name);
	int rc = 0;

	if (path == NULL || fs_write_atomic(path, data, len, 0600, 1) == -1) {
		log_error("recover: cannot write %s/%s: %s", p->dir, name, strerror(errno));
		rc = -1;
	}
	free(path);
	return rc;
}

/* The envelopes, named after their officers, and the copy of the archive
 * file, into p->dir.  0, or -1 after logging. */
static int
packet_files(struct packet *p)
{
	unsigned char *p12 = NULL;
	char name[96];
	size_t len = 0;
	int rc = -1;

	if ((p->share_files = calloc(p->b.n, sizeof(*p->share_files))) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < p->b.n; i++) {
		const struct kra_agent *a = agent_by_fp(p->agents, p->b.v[i].cert_hash);

		officer_file_name(a != NULL ? a->cert : NULL, p->b.v[i].cert_hash,
		    name, sizeof(name));
		if (asprintf(&p->share_files[i], "share-%zu-%s.cms", i + 1, name) == -1)
			fatal("out of memory");
		if (packet_put(p, p->share_files[i], p->b.v[i].envelope,
		    p->b.v[i].envelope_len) == -1)
			goto done;
	}
	if (fs_read_file(p->r->archive_path, FILE_MAX, &p12, &len) == -1)
		log_error("recover: cannot read %s: %s", p->r->archive_path, strerror(errno));
	else if (packet_put(p, base_name(p->r->archive_path), p12, len) == 0)
		rc = 0;
done:
	free(p12);
	return rc;
}

/* README.txt in the packet, and the same on stdout. */
static int
packet_readme(const struct packet *p)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int rc = -1;

	if (f == NULL)
		fatal("out of memory");
	packet_steps(f, p);
	fclose(f);
	if (packet_put(p, "README.txt", text, len) == 0) {
		printf("wrote the recovery officers' shares into %s/:\n\n%s", p->dir, text);
		rc = 0;
	}
	free(text);
	return rc;
}

int
recover_shares(struct ctl *ctl, const struct cert_row *r, const char *dir)
{
	struct packet p = { .r = r, .dir = dir };
	char who[160];
	int rc = EX_SOFTWARE;

	if (row_bundle(r, &p.b) == -1)
		return EX_DATAERR;
	p.agents = configured_agents(ctl);
	if (mkdir(dir, 0700) == -1) {
		log_error("recover: cannot create the directory %s: %s%s", dir,
		    strerror(errno), errno == EEXIST ? " (give a new one)" : "");
		rc = EX_CANTCREAT;
	} else if (packet_files(&p) == 0 && packet_readme(&p) == 0) {
		ctl_who(who, sizeof(who));
		store_audit(ctl->st, "recover", r->uuid, r->serial, "recovery-agent "
		    "shares of the key in %s written to %s (any %d of %zu officers), "
		    "asked by %s", r->archive_path, dir, p.b.threshold, p.b.n, who);
		rc = 0;
	}
	for (size_t i = 0; p.share_files != NULL && i < p.b.n; i++)
		free(p.share_files[i]);
	free(p.share_files);
	archive_close(p.agents);
	kra_bundle_free(&p.b);
	return rc;
}

/* ---- the officers' keys ------------------------------------------------------ */

/* A private key from a secret file (PEM; OpenSSL asks on the terminal for
 * the passphrase of an encrypted one).  NULL after logging. */
static EVP_PKEY *
read_agent_key(const char *path)
{
	EVP_PKEY *key = NULL;
	FILE *f = NULL;
	int fd;

	if ((fd = secret_open(path, "--agent-key")) == -1)
		return NULL;
	if ((f = fdopen(fd, "r")) == NULL)
		fatal("out of memory");
	if ((key = PEM_read_PrivateKey(f, NULL, NULL, NULL)) == NULL)
		log_error("recover: --agent-key %s: not a PEM private key, or a wrong "
		    "passphrase", path);
	ERR_clear_error();
	fclose(f);
	return key;
}

/* A certificate, PEM or DER.  NULL after logging. */
static X509 *
read_agent_cert(const char *path)
{
	unsigned char *buf = NULL;
	const unsigned char *p;
	X509 *cert = NULL;
	BIO *b = NULL;
	size_t len = 0;

	if (fs_read_file(path, FILE_MAX, &buf, &len) == -1) {
		log_error("recover: --agent-cert %s: %s", path, strerror(errno));
		return NULL;
	}
	if ((b = BIO_new_mem_buf(buf, (int)len)) != NULL)
		cert = PEM_read_bio_X509(b, NULL, NULL, NULL);
	p = buf;
	if (cert == NULL)
		cert = d2i_X509(NULL, &p, (long)len);
	if (cert == NULL)
		log_error("recover: --agent-cert %s: not a PEM or DER certificate", path);
	ERR_clear_error();
	BIO_free(b);
	free(buf);
	return cert;
}

/* The certificate of key: --agent-cert, or the configured agent of the
 * bundle whose key it is.  NULL after logging. */
static X509 *
agent_cert_for(const struct recover_agent *ra, EVP_PKEY *key,
    const struct kra_bundle *b, const struct archive *agents)
{
	const struct kra_agents *a = agents != NULL ? archive_agents(agents) : NULL;

	if (ra->cert != NULL)
		return read_agent_cert(ra->cert);
	for (size_t i = 0; a != NULL && i < a->n; i++) {
		if (kra_bundle_find(b, a->v[i].cert) == NULL ||
		    X509_check_private_key(a->v[i].cert, key) != 1)
			continue;
		X509_up_ref(a->v[i].cert);
		return a->v[i].cert;
	}
	ERR_clear_error();
	log_error("recover: --agent-key %s: no configured recovery agent of this "
	    "archive file has this key; name its certificate with --agent-cert",
	    ra->key);
	return NULL;
}

/* One officer's share of b, opened with their key.  0, or -1 after logging;
 * who gets the officer's name appended ("; " before all but the first). */
static int
open_share(const struct recover_agent *ra, const struct kra_bundle *b,
    const struct archive *agents, struct kra_share *share, FILE *who, size_t i)
{
	const struct kra_wrapped *w = NULL;
	char err[KRA_ERR_LEN], subject[512];
	EVP_PKEY *key = NULL;
	X509 *cert = NULL;
	int rc = -1;

	if ((key = read_agent_key(ra->key)) == NULL ||
	    (cert = agent_cert_for(ra, key, b, agents)) == NULL)
		goto done;
	if ((w = kra_bundle_find(b, cert)) == NULL)
		log_error("recover: --agent-key %s: its certificate is not one of this "
		    "archive file's recovery agents", ra->key);
	else if (kra_unwrap(w->envelope, w->envelope_len, key, cert, share, err,
	    sizeof(err)) == -1)
		log_error("recover: --agent-key %s: %s", ra->key, err);
	else {
		officer_subject(cert, subject, sizeof(subject));
		fprintf(who, "%s%s", i > 0 ? "; " : "", subject);
		rc = 0;
	}
done:
	EVP_PKEY_free(key);
	X509_free(cert);
	return rc;
}

/* The secret from the officers' keys.  0, or an exit code after logging. */
static int
secret_by_agents(struct ctl *ctl, const struct cert_row *r,
    const struct recover_req *req, unsigned char *secret, FILE *who)
{
	struct archive *agents = configured_agents(ctl);
	struct kra_share *shares = NULL;
	struct kra_bundle b = { 0 };
	char err[KRA_ERR_LEN];
	int rc = EX_DATAERR;

	if (row_bundle(r, &b) == -1)
		goto done;
	if ((shares = calloc(req->nagents, sizeof(*shares))) == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < req->nagents; i++)
		if (open_share(&req->agents[i], &b, agents, &shares[i], who, i) == -1)
			goto done;
	if (kra_combine(shares, req->nagents, secret, err, sizeof(err)) == -1)
		log_error("recover: the officers' shares of %s: %s", r->serial, err);
	else
		rc = 0;
done:
	for (size_t i = 0; shares != NULL && i < req->nagents; i++)
		kra_share_wipe(&shares[i]);
	free(shares);
	kra_bundle_free(&b);
	archive_close(agents);
	return rc;
}

/* Whether cert is the certificate of r (its DER, byte for byte). */
static int
is_row_cert(X509 *cert, const struct cert_row *r)
{
	unsigned char *der = NULL;
	int len = i2d_X509(cert, &der), same;

	same = len > 0 && (size_t)len == r->der_len &&
	    memcmp(der, r->der, r->der_len) == 0;
	OPENSSL_free(der);
	return same;
}

int
recover_by_agents(struct ctl *ctl, const struct cert_row *r,
    const struct recover_req *req, EVP_PKEY **key, X509 **cert, char **who)
{
	unsigned char secret[KRA_SECRET_LEN];
	char password[KRA_PASSWORD_LEN + 1], *names = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&names, &len);
	int rc;

	if (f == NULL)
		fatal("out of memory");
	fputs("recovery agents: ", f);
	rc = secret_by_agents(ctl, r, req, secret, f);
	fclose(f);
	if (rc == 0) {
		kra_password_text(secret, password);
		if (keystore_load(r->archive_path, password, key, cert) == -1)
			rc = EX_DATAERR;
		else if (!is_row_cert(*cert, r)) {
			log_error("recover: %s holds another certificate than %s",
			    r->archive_path, r->serial);
			rc = EX_DATAERR;
		}
	}
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(password, sizeof(password));
	*who = names;
	return rc;
}

/* ---- --combine ------------------------------------------------------------------ */

/* The decrypted share in path.  0, or -1 after logging. */
static int
read_share(const char *path, struct kra_share *share)
{
	unsigned char *buf = NULL;
	char err[KRA_ERR_LEN];
	size_t len = 0;
	int rc = -1;

	if (fs_read_file(path, 4096, &buf, &len) == -1)
		log_error("recover: %s: %s", path, strerror(errno));
	else if (kra_share_decode(buf, len, share, err, sizeof(err)) == -1)
		log_error("recover: %s: not a decrypted share (%s); decrypt it with "
		    "openssl cms -decrypt first", path, err);
	else
		rc = 0;
	if (buf != NULL)
		OPENSSL_cleanse(buf, len);
	free(buf);
	return rc;
}

/* The password, to stdout or into a new 0600 file. */
static int
put_password(const char *password, const struct kra_share *s, int k,
    const char *password_out)
{
	char line[KRA_PASSWORD_LEN + 2];

	if (password_out == NULL) {
		fprintf(stderr, "certsyncctl: recover: the password of %s, from %d of "
		    "%d shares:\n", s->label, k, s->total);
		printf("%s\n", password);
		return 0;
	}
	snprintf(line, sizeof(line), "%s\n", password);
	if (fs_write_atomic(password_out, line, strlen(line), 0600, 1) == -1) {
		log_error("recover: cannot write %s: %s%s", password_out, strerror(errno),
		    errno == EEXIST ? " (refusing to overwrite it)" : "");
		OPENSSL_cleanse(line, sizeof(line));
		return EX_CANTCREAT;
	}
	OPENSSL_cleanse(line, sizeof(line));
	printf("wrote the password of %s (from %d of %d shares) into %s\n", s->label,
	    k, s->total, password_out);
	return 0;
}

int
recover_combine(const struct command *cmd, char **files, int n,
    const char *password_out)
{
	struct kra_share *shares = calloc((size_t)n, sizeof(*shares));
	unsigned char secret[KRA_SECRET_LEN];
	char err[KRA_ERR_LEN], password[KRA_PASSWORD_LEN + 1];
	int rc = EX_DATAERR;

	if (shares == NULL)
		fatal("out of memory");
	for (int i = 0; i < n; i++)
		if (read_share(files[i], &shares[i]) == -1)
			goto done;
	if (kra_combine(shares, (size_t)n, secret, err, sizeof(err)) == -1) {
		log_error("%s: --combine: %s", cmd->name, err);
		goto done;
	}
	kra_password_text(secret, password);
	rc = put_password(password, &shares[0], n, password_out);
done:
	OPENSSL_cleanse(secret, sizeof(secret));
	OPENSSL_cleanse(password, sizeof(password));
	for (int i = 0; i < n; i++)
		kra_share_wipe(&shares[i]);
	free(shares);
	return rc;
}
