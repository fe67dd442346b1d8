/*
 * certsyncctl.c - the admin's command line: init-ca, issue, list, show,
 * revoke, crl, recover, audit.
 *
 * Owns: argument parsing, exit codes (sysexits) and the human-readable
 * output.  The work itself is done by the pipeline stages it calls.
 * Never: prints a password or key, or exits 0 when it did not do what was
 * asked.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/pem.h>

#include "ca/signer.h"
#include "directory/ldapconn.h"
#include "lib/conf.h"
#include "lib/fsutil.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pipeline/crl_publish.h"
#include "pipeline/identity.h"
#include "pipeline/job.h"
#include "pipeline/job_revoke.h"
#include "pipeline/plan.h"
#include "pipeline/reconcile.h"
#include "pki/address.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/keys.h"
#include "pki/keystore.h"
#include "store/store.h"

#ifndef CS_SYSCONFDIR
#define CS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF CS_SYSCONFDIR "/certsync/certsync.conf"

struct ctl {
	const char *conf_path;
	struct conf *conf;
	struct store *st;
	struct signer *signer;
};

struct command {
	const char *name;
	const char *usage;
	const char *help;
	int (*run)(struct ctl *, int, char **);
	int needs_signer;
};

static const struct command *find_command(const char *name);

static int usage_error(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int
usage_error(const struct command *cmd, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: %s (usage: certsyncctl %s)", cmd->name, msg, cmd->usage);
	return EX_USAGE;
}

/* Parses the common "--help" and rejects unknown options. */
static int
sub_getopt(const struct command *cmd, int argc, char **argv, const char *shortopts,
    const struct option *longopts, int *opt)
{
	int c, prev = optind;

	opterr = 0;	/* one line of our own, not getopt's as well */
	c = getopt_long(argc, argv, shortopts, longopts, NULL);
	*opt = c;
	if (c == 'h') {
		printf("usage: certsyncctl %s\n\n%s", cmd->usage, cmd->help);
		return 0;
	}
	if (c == ':' || (c == '?' && optopt != 0 && strchr(shortopts, optopt) != NULL))
		return usage_error(cmd, "option %s needs a value", argv[optind - 1]);
	if (c == '?')
		return usage_error(cmd, "unknown option \"%s\"",
		    argv[optind - 1 >= prev ? optind - 1 : prev]);
	return -1;
}

/* For commands that take nothing but --help: -1 to go on, else an exit code. */
static int
no_arguments(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((rc = sub_getopt(cmd, argc, argv, "h", opts, &c)) == -1 && c != -1)
		;
	if (rc != -1)
		return rc;
	if (optind != argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	return -1;
}

/* ---- init-ca ----------------------------------------------------------- */

static int
cmd_init_ca(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("init-ca");
	const char *subject = "CN=certsync CA";
	struct key_spec spec;
	char *end;
	long days = 3650;
	int c, rc;

	conf_parse_key_spec("rsa:3072", &spec);
	while ((rc = sub_getopt(cmd, argc, argv, "s:d:k:h", opts, &c)) == -1 && c != -1) {
		if (c == 's')
			subject = optarg;
		else if (c == 'd') {
			errno = 0;
			days = strtol(optarg, &end, 10);
			if (errno || *end || days < 1 || days > 36500)
				return usage_error(cmd, "--days \"%s\" is not a whole "
				    "number of days between 1 and 36500", optarg);
		} else if (c == 'k' && conf_parse_key_spec(optarg, &spec) == -1)
			return usage_error(cmd, "--key-type \"%s\" is not one of rsa:2048, "
			    "rsa:3072, rsa:4096, ec:P-256, ec:P-384", optarg);
	}
	if (rc != -1)
		return rc;
	if (optind != argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if ((rc = signer_init_ca(ctl->conf, subject, (int)days, &spec)) != 0)
		return rc;
	printf("CA key:         %s (mode 0600%s)\nCA certificate: %s\n",
	    ctl->conf->ca.key, ctl->conf->ca.passphrase_file ? ", encrypted" : "",
	    ctl->conf->ca.certificate);
	return 0;
}

/* ---- issue ------------------------------------------------------------- */

static int
add_address(const struct command *cmd, struct address_list *list, const char *text)
{
	const char *why = NULL;
	char *addr = address_normalize(text, &why);

	if (addr == NULL) {
		log_error("%s: address \"%s\" %s", cmd->name, text, why);
		return EX_DATAERR;
	}
	address_list_add(list, addr);
	return 0;
}

static void
print_active(struct ctl *ctl, const char *uuid)
{
	struct cert_rows rows = { 0 };
	char nb[32], na[32];

	if (store_cert_query(ctl->st, CQ_UUID_ACTIVE, uuid, &rows) == -1)
		return;
	for (size_t i = 0; i < rows.n; i++) {
		const struct cert_row *r = &rows.v[i];

		printf("%s certificate %s\n  subject:   %s\n  addresses: %s\n"
		    "  valid:     %s .. %s\n  key:       %s in %s\n",
		    cert_kind_name(r->kind), r->serial, r->subject, r->addresses,
		    certinfo_fmt_time(r->not_before, nb, sizeof(nb)),
		    certinfo_fmt_time(r->not_after, na, sizeof(na)),
		    r->key_type, r->keystore_path);
	}
	cert_rows_free(&rows);
}

static int
regenerate_crl(struct ctl *ctl)
{
	int64_t number;

	if (crl_publish(ctl->conf, ctl->st, ctl->signer, &number) == -1)
		return EX_IOERR;
	printf("CRL number %lld written to %s\n", (long long)number, ctl->conf->crl.path);
	return 0;
}

/* What to do for an explicit `issue`: reconcile says why; "nothing" still
 * renews, because the admin asked for new certificates. */
static void
decide_manual(struct ctl *ctl, const struct identity *id, enum job_action *action,
    struct verdict *v)
{
	const struct conf *c = ctl->conf;
	struct reconcile_policy policy = {
		.on_address_change = 1, .on_name_change = 1,
		.renew_before_days = c->certificates.renew_before_days,
		.mode = c->certificates.mode,
		.subject_template = c->certificates.subject,
	};
	struct cert_rows active = { 0 };

	store_cert_query(ctl->st, CQ_UUID_ACTIVE, id->uuid, &active);
	/* An admin's issue: publication is not the question (the job
	 * publishes its new certificates), so all count as published. */
	reconcile(&policy, id, &active, active.n, time(NULL), v);
	cert_rows_free(&active);
	switch (v->decision) {
	case DECIDE_ENROLL: *action = JOB_ENROLL; break;
	case DECIDE_REISSUE: *action = JOB_REISSUE; break;
	default:
		*action = JOB_RENEW;
		v->reason = CRL_REASON_SUPERSEDED;
		snprintf(v->why, sizeof(v->why), "renewal asked for by the admin");
	}
}

/* Runs the job by hand, as the daemon's runner would, without a directory. */
static int
run_manual_job(struct ctl *ctl, const struct identity *id)
{
	struct job_ctx jctx = { ctl->conf, ctl->st, ctl->signer, NULL, 0, 0 };
	struct identity_row row = {
		.uuid = id->uuid, .mail = id->addresses.v[0],
		.display_name = id->display_name, .given_name = id->given_name,
		.surname = id->surname, .enabled = 1,
	};
	enum job_action action;
	struct verdict v;
	int rc;

	/* One mailbox, one person: mail to it must not reach another's key. */
	for (size_t i = 0; i < id->addresses.n; i++) {
		char *owner = NULL;

		if (store_address_owner(ctl->st, id->addresses.v[i], id->uuid, &owner) == 1) {
			log_error("issue: address %s is already used by %s; refusing to "
			    "certify it for %s", id->addresses.v[i], owner, id->uuid);
			free(owner);
			return EX_DATAERR;
		}
	}
	row.aliases = identity_aliases_text(id);
	rc = store_identity_put(ctl->st, &row);
	free(row.aliases);
	if (rc == -1)
		return EX_SOFTWARE;
	decide_manual(ctl, id, &action, &v);
	if (job_plan(ctl->st, id->uuid, action, v.reason, v.why, 0) == -1)
		return EX_SOFTWARE;
	if ((rc = job_run(&jctx, id->uuid)) != 0) {
		struct unrecorded_rows un = { 0 };

		/* What this attempt revoked (certificates it signed but could
		 * not record) goes on the CRL now. */
		if (jctx.revoked > 0 && job_finish_batch(&jctx, NULL) == -1)
			log_error("issue: the CRL could not be rewritten; certsyncd or "
			    "the next certsyncctl command does it");
		/* The admin sees the reason now: no retry is left behind, unless
		 * a certificate it signed is still to be revoked: the job's KEYS
		 * state is what makes certsyncd look for it. */
		if (store_unrecorded(ctl->st, id->uuid, &un) == 0 && un.n == 0)
			store_job_delete(ctl->st, id->uuid);
		else
			log_error("issue: %zu certificate(s) signed for %s could not be "
			    "recorded nor revoked yet; the job is kept, and certsyncd "
			    "(or the next issue for this user) revokes them",
			    un.n, id->uuid);
		unrecorded_rows_free(&un);
		return rc == -2 ? EX_DATAERR : EX_SOFTWARE;
	}
	printf("%s user %s (%s):\n", action == JOB_ENROLL ? "enrolled" : "reissued",
	    id->uuid, v.why);
	print_active(ctl, id->uuid);
	if (jctx.revoked > 0)
		printf("previous certificates: %d revoked (%s), keys archived\n",
		    jctx.revoked, crl_reason_name(v.reason));
	return job_finish_batch(&jctx, NULL) == -1 ? EX_IOERR : 0;
}

static int
cmd_issue(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "given", required_argument, NULL, 'g' },
		{ "surname", required_argument, NULL, 's' },
		{ "alias", required_argument, NULL, 'a' },
		{ "user", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("issue");
	struct identity id;
	const char *user = NULL;
	char **aliases = NULL;
	size_t naliases = 0;
	int c, rc;

	memset(&id, 0, sizeof(id));
	while ((rc = sub_getopt(cmd, argc, argv, "n:g:s:a:u:h", opts, &c)) == -1 && c != -1) {
		switch (c) {
		case 'n': id.display_name = optarg; break;
		case 'g': id.given_name = optarg; break;
		case 's': id.surname = optarg; break;
		case 'u': user = optarg; break;
		case 'a':
			if ((aliases = realloc(aliases, (naliases + 1) * sizeof(*aliases))) == NULL)
				fatal("out of memory");
			aliases[naliases++] = optarg;
			break;
		}
	}
	if (rc != -1)
		goto done;
	if (optind + 1 != argc) {
		rc = usage_error(cmd, "%s", optind == argc ? "an EMAIL address is needed"
		    : "only one EMAIL address may be given (use --alias for more)");
		goto done;
	}
	if ((rc = add_address(cmd, &id.addresses, argv[optind])) != 0)
		goto done;
	for (size_t i = 0; i < naliases; i++)
		if ((rc = add_address(cmd, &id.addresses, aliases[i])) != 0)
			goto done;
	/* Without --user the primary address names the identity. */
	id.uuid = (char *)(user ? user : id.addresses.v[0]);
	id.enabled = 1;
	rc = run_manual_job(ctl, &id);
done:
	free(aliases);
	address_list_free(&id.addresses);
	return rc;
}

/* ---- list / show ------------------------------------------------------- */

/* The STATUS column: the store's status, except that an active certificate
 * of a disabled directory user that the store does not record in the
 * directory (withdrawn, [reconcile] on_disable = unpublish; valid, not
 * revoked) is "withdrawn".  Manual identities have no entry: never
 * withdrawn.  NULL when the store cannot say. */
static const char *
list_status(struct ctl *ctl, const struct cert_row *r)
{
	struct identity_row id;
	int have, published;

	if (r->status != CERT_ACTIVE)
		return cert_status_name(r->status);
	if ((have = store_identity_get(ctl->st, r->uuid, &id)) == -1)
		return NULL;
	if (!have || id.dn == NULL || id.enabled) {
		identity_row_free(&id);
		return cert_status_name(r->status);
	}
	identity_row_free(&id);
	published = store_published_has(ctl->st, r->uuid,
	    ctl->conf->publish.certificate_attribute, r->der, r->der_len);
	if (published == -1)
		return NULL;
	return published ? cert_status_name(r->status) : "withdrawn";
}

static int
cmd_list(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "active", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("list");
	struct cert_rows rows = { 0 };
	int c, rc, active_only = 0;

	while ((rc = sub_getopt(cmd, argc, argv, "ah", opts, &c)) == -1 && c != -1)
		active_only = 1;
	if (rc != -1)
		return rc;
	if (optind != argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	if (store_cert_query(ctl->st, CQ_ALL, NULL, &rows) == -1)
		return EX_SOFTWARE;
	printf("%-10s %-10s %-40s %-10s %s\n", "STATUS", "KIND", "SERIAL", "EXPIRES",
	    "ADDRESSES");
	for (size_t i = 0; i < rows.n; i++) {
		const struct cert_row *r = &rows.v[i];
		const char *status;
		char na[32];

		if (active_only && r->status != CERT_ACTIVE)
			continue;
		if ((status = list_status(ctl, r)) == NULL) {
			cert_rows_free(&rows);
			return EX_SOFTWARE;
		}
		certinfo_fmt_time(r->not_after, na, sizeof(na));
		na[10] = '\0';
		printf("%-10s %-10s %-40s %-10s %s\n", status,
		    cert_kind_name(r->kind), r->serial, na, r->addresses);
	}
	cert_rows_free(&rows);
	return 0;
}

static void
print_cert(const struct cert_row *r, const char *status)
{
	char nb[32], na[32], ra[32];

	printf("Serial:        %s\nStatus:        %s\nKind:          %s\n"
	    "User:          %s\nSubject:       %s\nAddresses:     %s\n"
	    "Issuer:        %s\nNot before:    %s\nNot after:     %s\n"
	    "SHA-256:       %s\nKey type:      %s\n",
	    r->serial, status, cert_kind_name(r->kind), r->uuid,
	    r->subject, r->addresses, r->issuer,
	    certinfo_fmt_time(r->not_before, nb, sizeof(nb)),
	    certinfo_fmt_time(r->not_after, na, sizeof(na)), r->fingerprint,
	    r->key_type ? r->key_type : "?");
	if (r->keystore_path)
		printf("Keystore file: %s\n", r->keystore_path);
	if (r->archive_path)
		printf("Archive file:  %s\n", r->archive_path);
	if (r->revoked_at)
		printf("Revoked:       %s (%s)\n",
		    certinfo_fmt_time(r->revoked_at, ra, sizeof(ra)),
		    crl_reason_name(r->reason));
}

/* EMAIL (any certificate naming it) or SERIAL; *rows empty if none. */
static int
lookup(struct ctl *ctl, const struct command *cmd, const char *what,
    struct cert_rows *rows)
{
	char *serial = NULL;
	int rc;

	if (strchr(what, '@') != NULL)
		rc = store_cert_query(ctl->st, CQ_ADDRESS, what, rows);
	else if ((serial = certinfo_parse_serial(what)) == NULL) {
		log_error("%s: \"%s\" is not a hex serial%s", cmd->name, what,
		    strcmp(cmd->name, "revoke") == 0 ? "" : " or an email address");
		return EX_USAGE;
	} else
		rc = store_cert_query(ctl->st, CQ_SERIAL, serial, rows);
	free(serial);
	if (rc == -1)
		return EX_SOFTWARE;
	if (rows->n == 0) {
		log_error("%s: no certificate for %s in the state store", cmd->name, what);
		return EX_NOINPUT;
	}
	return 0;
}

static int
cmd_show(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pem", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("show");
	struct cert_rows rows = { 0 };
	int c, rc, pem = 0;

	while ((rc = sub_getopt(cmd, argc, argv, "ph", opts, &c)) == -1 && c != -1)
		pem = 1;
	if (rc != -1)
		return rc;
	if (optind + 1 != argc)
		return usage_error(cmd, "%s", "one EMAIL or SERIAL is needed");
	if ((rc = lookup(ctl, cmd, argv[optind], &rows)) != 0)
		return rc;
	for (size_t i = 0; i < rows.n; i++) {
		const char *status = list_status(ctl, &rows.v[i]);

		if (status == NULL) {
			cert_rows_free(&rows);
			return EX_SOFTWARE;
		}
		if (i > 0)
			printf("\n");
		print_cert(&rows.v[i], status);
		if (pem) {
			X509 *x = certinfo_from_der(rows.v[i].der, rows.v[i].der_len);

			if (x != NULL)
				PEM_write_X509(stdout, x);
			X509_free(x);
		}
	}
	cert_rows_free(&rows);
	return 0;
}

/* ---- revoke / crl ------------------------------------------------------ */

static int
cmd_revoke(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("revoke");
	struct job_ctx jctx = { ctl->conf, ctl->st, ctl->signer, NULL, 0, 0 };
	struct cert_rows rows = { 0 };
	int c, rc, reason = -2;

	while ((rc = sub_getopt(cmd, argc, argv, "r:h", opts, &c)) == -1 && c != -1) {
		if ((reason = crl_reason_parse(optarg)) == -1) {
			log_error("revoke: --reason \"%s\" is not one of %s", optarg,
			    crl_reason_list());
			return EX_USAGE;
		}
	}
	if (rc != -1)
		return rc;
	if (reason == -2)
		return usage_error(cmd, "%s", "--reason is required");
	if (optind + 1 != argc)
		return usage_error(cmd, "%s", "one SERIAL is needed");
	if (strchr(argv[optind], '@') != NULL)
		return usage_error(cmd, "\"%s\" is an address; revoke takes a serial "
		    "(certsyncctl show %s lists them)", argv[optind], argv[optind]);
	if ((rc = lookup(ctl, cmd, argv[optind], &rows)) != 0)
		return rc;
	if (rows.v[0].status == CERT_REVOKED) {
		printf("certificate %s was already revoked (%s)\n", rows.v[0].serial,
		    crl_reason_name(rows.v[0].reason));
		rc = 0;
	} else if (job_revoke_cert(&jctx, &rows.v[0], reason) == -1)
		rc = EX_SOFTWARE;
	else {
		printf("revoked certificate %s (%s)\n", rows.v[0].serial,
		    crl_reason_name(reason));
		rc = regenerate_crl(ctl);
	}
	cert_rows_free(&rows);
	return rc;
}

static int
cmd_crl(struct ctl *ctl, int argc, char **argv)
{
	const struct command *cmd = find_command("crl");
	int rc;

	if ((rc = no_arguments(cmd, argc, argv)) != -1)
		return rc;
	return regenerate_crl(ctl);
}

/* ---- recover ----------------------------------------------------------- */

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
	if (keystore_p12_encode(key, cert, signer_ca(ctl->signer), friendly, newpw,
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

static int
cmd_recover(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "out", required_argument, NULL, 'o' },
		{ "password-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("recover");
	const struct cert_row *pick;
	struct cert_rows rows = { 0 };
	const char *out = NULL, *pwfile = NULL;
	int c, rc;

	while ((rc = sub_getopt(cmd, argc, argv, "o:p:h", opts, &c)) == -1 && c != -1) {
		if (c == 'o')
			out = optarg;
		else
			pwfile = optarg;
	}
	if (rc != -1)
		return rc;
	if (out == NULL || pwfile == NULL)
		return usage_error(cmd, "%s", "--out and --password-file are required");
	if (optind + 1 != argc)
		return usage_error(cmd, "%s", "one EMAIL or SERIAL is needed");
	if ((rc = lookup(ctl, cmd, argv[optind], &rows)) != 0)
		return rc;
	if ((rc = recover_pick(cmd, argv[optind], &rows, &pick)) == 0)
		rc = recover_write(ctl, pick, out, pwfile);
	cert_rows_free(&rows);
	return rc;
}

/* ---- audit ------------------------------------------------------------- */

static void
print_audit(void *arg, int64_t at, const char *action, const char *uuid,
    const char *serial, const char *detail)
{
	char when[32];

	printf("%s %-8s %s %s %s\n", certinfo_fmt_time((time_t)at, when, sizeof(when)),
	    action, uuid ? uuid : "-", serial ? serial : "-", detail ? detail : "");
}

static int
cmd_audit(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "last", required_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const struct command *cmd = find_command("audit");
	char *end;
	long last = 50;
	int c, rc;

	while ((rc = sub_getopt(cmd, argc, argv, "n:h", opts, &c)) == -1 && c != -1) {
		errno = 0;
		last = strtol(optarg, &end, 10);
		if (errno || *end || last < 0 || last > 1000000)
			return usage_error(cmd, "--last \"%s\" is not a count (0 for all)",
			    optarg);
	}
	if (rc != -1)
		return rc;
	if (optind != argc)
		return usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	return store_audit_each(ctl->st, (int)last, print_audit, NULL) == -1 ?
	    EX_SOFTWARE : 0;
}

/* ---- plan / status ------------------------------------------------------ */

static int
cmd_plan(struct ctl *ctl, int argc, char **argv)
{
	const struct command *cmd = find_command("plan");
	int rc;

	if ((rc = no_arguments(cmd, argc, argv)) != -1)
		return rc;
	return plan_report(ctl->conf, ctl->st, stdout);
}

static const char *
age(int64_t t, char *buf, size_t len)
{
	int64_t d = time(NULL) - t;

	if (t == 0)
		snprintf(buf, len, "never");
	else if (d < 120)
		snprintf(buf, len, "%llds ago", (long long)d);
	else if (d < 7200)
		snprintf(buf, len, "%lldm ago", (long long)d / 60);
	else
		snprintf(buf, len, "%lldh ago", (long long)d / 3600);
	return buf;
}

static void
print_state(struct ctl *ctl, const char *label, const char *key)
{
	char *value = NULL, when[32];
	int64_t at = 0;

	if (store_state_get(ctl->st, key, &value, &at) == 1)
		printf("%-14s %s (%s)\n", label, value && *value ? value : "-",
		    age(at, when, sizeof(when)));
	else
		printf("%-14s unknown\n", label);
	free(value);
}

static void
print_job_count(void *arg, const char *state, int n)
{
	int *total = arg;

	printf("  %-10s %d\n", state, n);
	*total += n;
}

static void
print_skipped(void *arg, const char *uuid, const char *dn, const char *skipped)
{
	int *n = arg;

	printf("  %s (%s): %s\n", dn ? dn : "?", uuid, skipped);
	(*n)++;
}

static int
cmd_status(struct ctl *ctl, int argc, char **argv)
{
	const struct command *cmd = find_command("status");
	char when[32];
	int64_t crl_number = 0, crl_at = 0, cp_at = 0;
	int rc, jobs = 0, skipped = 0, pending = 0, failing = 0;

	if ((rc = no_arguments(cmd, argc, argv)) != -1)
		return rc;
	print_state(ctl, "daemon:", "daemon");
	print_state(ctl, "connection:", "connection");
	print_state(ctl, "source:", "source");
	print_state(ctl, "last event:", "last_event");
	{
		static const char *const sources[][2] = {
			{ "syncrepl", "syncrepl cookie" }, { "dirsync", "DirSync cookie" },
			{ "usn", "uSNChanged watermark" },
		};
		int found = 0;

		for (size_t i = 0; i < sizeof(sources) / sizeof(sources[0]); i++) {
			if (store_checkpoint_age(ctl->st, sources[i][0], &cp_at) != 1)
				continue;
			printf("%-14s %s saved %s\n", found++ ? "" : "checkpoint:",
			    sources[i][1], age(cp_at, when, sizeof(when)));
		}
		if (!found)
			printf("%-14s none (the next start does a full refresh)\n",
			    "checkpoint:");
	}
	printf("jobs:\n");
	if (store_job_counts(ctl->st, print_job_count, &jobs) == -1)
		return EX_SOFTWARE;
	printf("  %-10s %d\n", "queued", jobs);
	printf("skipped users:\n");
	if (store_identity_each(ctl->st, 1, print_skipped, &skipped) == -1)
		return EX_SOFTWARE;
	if (skipped == 0)
		printf("  none\n");
	if (ctl->conf->daemon.delivery_hook != NULL &&
	    store_delivery_counts(ctl->st, &pending, &failing) == 0)
		printf("%-14s %d key(s) waiting for the hook, %d of them failed at "
		    "least once\n", "deliveries:", pending, failing);
	store_crl_last(ctl->st, &crl_number, &crl_at);
	if (crl_number > 0)
		printf("%-14s number %lld, written %s\n", "CRL:", (long long)crl_number,
		    age(crl_at, when, sizeof(when)));
	else
		printf("%-14s none yet\n", "CRL:");
	return 0;
}

/* ---- main -------------------------------------------------------------- */

static const struct command commands[] = {
	{ "init-ca", "init-ca [--subject DN] [--days N] [--key-type TYPE]",
	  "Makes a CA key and self-signed certificate at [ca] key and [ca] certificate,\n"
	  "for demos and tests.  Refuses to overwrite either file.  Defaults:\n"
	  "--subject \"CN=certsync CA\", --days 3650, --key-type rsa:3072.\n",
	  cmd_init_ca, 0 },
	{ "issue", "issue EMAIL [--name NAME] [--given G] [--surname S] [--alias ADDR]... [--user ID]",
	  "Issues signing and encryption certificates (or one dual-use certificate)\n"
	  "for EMAIL and its aliases.  --user names the identity (default: EMAIL); if it\n"
	  "already has certificates they are reissued: the old keys are archived, the\n"
	  "old certificates revoked and the CRL rewritten.\n",
	  cmd_issue, 1 },
	{ "list", "list [--active]",
	  "Lists every certificate in the state store (--active: only current ones).\n"
	  "A current certificate withdrawn from the directory while its user is\n"
	  "disabled ([reconcile] on_disable = unpublish) is listed as withdrawn: it\n"
	  "is still valid, and is published again when the user is enabled.\n",
	  cmd_list, 0 },
	{ "show", "show EMAIL|SERIAL [--pem]",
	  "Shows the certificates naming EMAIL, or the one with SERIAL (hex).\n",
	  cmd_show, 0 },
	{ "revoke", "revoke SERIAL --reason REASON",
	  "Revokes a certificate and rewrites the CRL.  Its key is archived first.\n"
	  "REASON: unspecified, keyCompromise, affiliationChanged, superseded,\n"
	  "cessationOfOperation, privilegeWithdrawn.\n",
	  cmd_revoke, 1 },
	{ "crl", "crl", "Regenerates the CRL now.\n", cmd_crl, 1 },
	{ "recover", "recover EMAIL|SERIAL --out FILE --password-file FILE",
	  "Hands an archived key back to its user: writes key, certificate and CA as a\n"
	  "new PKCS#12 (mode 0600, never overwriting) protected by the password in\n"
	  "--password-file (which must be mode 0600 or 0400).  By EMAIL it picks the\n"
	  "archived encryption key; when there are several, name one by SERIAL.\n",
	  cmd_recover, 1 },
	{ "plan", "plan",
	  "Reads the directory once and prints, per user, what certsyncd would do and\n"
	  "why (enroll, reissue, renew, revoke, skip), writing nothing.\n",
	  cmd_plan, 0 },
	{ "status", "status",
	  "Shows the agent's state: connection, change source, last event, checkpoint,\n"
	  "queued jobs by state, users skipped for bad directory data, CRL age.\n",
	  cmd_status, 0 },
	{ "audit", "audit [--last N]",
	  "Prints the last N entries of the audit trail (default 50, 0 for all).\n",
	  cmd_audit, 0 },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static const struct command *
find_command(const char *name)
{
	for (size_t i = 0; i < NCOMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void
usage(FILE *f)
{
	fprintf(f, "usage: certsyncctl [-c CONF] [-v] [-q] COMMAND [ARGS]\n\n"
	    "  -c CONF   configuration file (default %s)\n"
	    "  -v        more detail on stderr; -q only errors\n\ncommands:\n",
	    DEFAULT_CONF);
	for (size_t i = 0; i < NCOMMANDS; i++)
		fprintf(f, "  %s\n", commands[i].usage);
	fprintf(f, "\n'certsyncctl COMMAND --help' explains a command; see certsyncctl(8).\n");
}

static int
ctl_open(struct ctl *ctl, const struct command *cmd)
{
	int rc;

	if ((rc = conf_load(ctl->conf_path, &ctl->conf)) != 0)
		return rc;
	/* Before any thread (setenv() is not thread-safe). */
	ldapconn_init_env(ctl->conf);
	if (strcmp(cmd->name, "init-ca") == 0)
		return 0;
	if (store_open(ctl->conf->state.database, &ctl->st) == -1)
		return EX_UNAVAILABLE;
	if (!cmd->needs_signer)
		return 0;
	/* Check every secret now, so a bad one stops us before any work. */
	if (secret_check_file(ctl->conf->archive.password_file,
	    "[archive] password_file") == -1 ||
	    secret_check_file(ctl->conf->keystore.password_file,
	    "[keystore] password_file") == -1 ||
	    signer_open(ctl->conf, &ctl->signer) == -1)
		return EX_CONFIG;
	return 0;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct ctl ctl = { .conf_path = DEFAULT_CONF };
	const struct command *cmd;
	int c, rc;

	log_init("certsyncctl");
	opterr = 0;
	signal(SIGPIPE, SIG_IGN);	/* plan talks to the directory */
	/* The summary on stdout says what was done; stderr is for problems. */
	log_set_level(LOG_LVL_WARNING);
	while ((c = getopt_long(argc, argv, "+c:vqhV", opts, NULL)) != -1) {
		switch (c) {
		case 'c': ctl.conf_path = optarg; break;
		case 'v': log_set_level(LOG_LVL_DEBUG); break;
		case 'q': log_set_level(LOG_LVL_ERROR); break;
		case 'h': usage(stdout); return 0;
		case 'V': printf("certsyncctl %s\n", PACKAGE_VERSION); return 0;
		default:
			log_error("unknown option \"%s\" (try certsyncctl --help)",
			    argv[optind - 1]);
			return EX_USAGE;
		}
	}
	if (optind == argc) {
		usage(stderr);
		return EX_USAGE;
	}
	if ((cmd = find_command(argv[optind])) == NULL) {
		log_error("unknown command \"%s\" (try certsyncctl --help)", argv[optind]);
		return EX_USAGE;
	}
	argc -= optind;
	argv += optind;
	/* 0, not 1: GNU getopt then forgets the "+" (stop at the first
	 * operand) mode of the global parse, and permutes again. */
	optind = 0;
	/* --help works without a configuration file. */
	for (int i = 1; i < argc; i++)
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			printf("usage: certsyncctl %s\n\n%s", cmd->usage, cmd->help);
			return 0;
		}
	if ((rc = ctl_open(&ctl, cmd)) == 0)
		rc = cmd->run(&ctl, argc, argv);
	signer_close(ctl.signer);
	store_close(ctl.st);
	conf_free(ctl.conf);
	return rc;
}
