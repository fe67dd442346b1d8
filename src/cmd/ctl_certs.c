/*
 * ctl_certs.c - certsyncctl list, show, revoke and crl.
 *
 * Owns: the certificate listings (a withdrawn certificate shown as such,
 * one on hold with the date of its hold) and revoking by serial (a
 * certificate on hold too: its hold becomes final), with the CRL rewritten
 * at once.
 * Never: revokes a certificate without archiving its key first (the
 * revoke step does both).
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd/ctl.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "pipeline/crl_publish.h"
#include "pipeline/job_revoke.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/kra.h"

#include <openssl/pem.h>

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

/* What cmd_list's rows print with, and whether one failed. */
struct list_pass {
	struct ctl *ctl;
	int active_only;
	int failed;
};

/* store_cert_each's callback: one line per row, streamed, so the listing
 * holds one row in memory however many the store has.  After a failure
 * (logged by the store) the rest is not printed. */
static void
list_row(void *arg, struct cert_row *r)
{
	struct list_pass *lp = arg;
	const char *status;
	char na[32];

	if (lp->failed || (lp->active_only && r->status != CERT_ACTIVE))
		return;
	if ((status = list_status(lp->ctl, r)) == NULL) {
		lp->failed = 1;
		return;
	}
	certinfo_fmt_time(r->not_after, na, sizeof(na));
	na[10] = '\0';
	escape_line(stdout, "%-10s %-10s %-40s %-10s %s", status,
	    cert_kind_name(r->kind), r->serial, na, r->addresses);
}

int
cmd_list(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "active", no_argument, NULL, 'a' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct list_pass lp = { .ctl = ctl };
	int c, rc;

	while ((rc = ctl_getopt(cmd, argc, argv, "ah", opts, &c)) == -1 && c != -1)
		lp.active_only = 1;
	if (rc != -1)
		return rc;
	if (optind != argc)
		return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	printf("%-10s %-10s %-40s %-10s %s\n", "STATUS", "KIND", "SERIAL", "EXPIRES",
	    "ADDRESSES");
	if (store_cert_each(ctl->st, CQ_ALL, NULL, list_row, &lp) == -1 || lp.failed)
		return EX_SOFTWARE;
	return 0;
}

/* How the archive file opens: the password file, or which quorum of
 * recovery agents (from the bundle the store keeps). */
static void
print_protection(const struct cert_row *r)
{
	struct kra_bundle b = { 0 };
	char err[KRA_ERR_LEN];

	if (r->archive_protection == ARCHIVE_PASSWORD_FILE) {
		printf("Protected by:  the archive password file\n");
		return;
	}
	if (r->archive_bundle == NULL || kra_bundle_decode(r->archive_bundle,
	    r->archive_bundle_len, &b, err, sizeof(err)) == -1) {
		printf("Protected by:  recovery agents (the store's bundle is %s)\n",
		    r->archive_bundle == NULL ? "missing" : "unreadable");
		return;
	}
	printf("Protected by:  recovery agents, any %d of %zu (certsyncctl recover "
	    "%s --out DIR)\n", b.threshold, b.n, r->serial);
	kra_bundle_free(&b);
}

static void
print_cert(const struct cert_row *r, const char *status)
{
	char nb[32], na[32], ra[32];

	/* A line each: the subject and the addresses came from outside. */
	escape_line(stdout, "Serial:        %s", r->serial);
	escape_line(stdout, "Status:        %s", status);
	escape_line(stdout, "Kind:          %s", cert_kind_name(r->kind));
	escape_line(stdout, "User:          %s", r->uuid);
	escape_line(stdout, "Subject:       %s", r->subject);
	escape_line(stdout, "Addresses:     %s", r->addresses);
	escape_line(stdout, "Issuer:        %s", r->issuer);
	escape_line(stdout, "Not before:    %s",
	    certinfo_fmt_time(r->not_before, nb, sizeof(nb)));
	escape_line(stdout, "Not after:     %s",
	    certinfo_fmt_time(r->not_after, na, sizeof(na)));
	escape_line(stdout, "SHA-256:       %s", r->fingerprint);
	escape_line(stdout, "Key type:      %s", r->key_type ? r->key_type : "?");
	if (r->keystore_path)
		escape_line(stdout, "Keystore file: %s", r->keystore_path);
	if (r->archive_path) {
		escape_line(stdout, "Archive file:  %s", r->archive_path);
		print_protection(r);
	}
	if (r->status == CERT_ON_HOLD)
		printf("On hold:       since %s (certificateHold): active again if the "
		    "user comes back, else revoked for good after [reconcile] hold_days\n",
		    certinfo_fmt_time(r->revoked_at, ra, sizeof(ra)));
	else if (r->revoked_at)
		escape_line(stdout, "Revoked:       %s (%s)",
		    certinfo_fmt_time(r->revoked_at, ra, sizeof(ra)),
		    crl_reason_name(r->reason));
}

int
cmd_show(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "pem", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cert_rows rows = { 0 };
	int c, rc, pem = 0;

	while ((rc = ctl_getopt(cmd, argc, argv, "ph", opts, &c)) == -1 && c != -1)
		pem = 1;
	if (rc != -1)
		return rc;
	if (optind + 1 != argc)
		return ctl_usage_error(cmd, "%s", "one EMAIL or SERIAL is needed");
	if ((rc = ctl_lookup(ctl, cmd, argv[optind], &rows)) != 0)
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

static int
regenerate_crl(struct ctl *ctl)
{
	int64_t number;

	if (crl_publish(ctl->conf, ctl->st, ctl->ca, ctl->ca_cert, &number) == -1)
		return EX_IOERR;
	escape_line(stdout, "CRL number %lld written to %s", (long long)number,
	    ctl->conf->crl.path);
	return 0;
}

int
cmd_revoke(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "reason", required_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct job_ctx jctx = { .conf = ctl->conf, .st = ctl->st, .ca = ctl->ca,
	    .ca_cert = ctl->ca_cert, .archive = ctl->archive,
	    .keystore = ctl->keystore };
	struct cert_rows rows = { 0 };
	int c, rc, reason = -2;

	while ((rc = ctl_getopt(cmd, argc, argv, "r:h", opts, &c)) == -1 && c != -1) {
		/* certificateHold is certsync's own reversible step, with its
		 * own lifetime; an admin's revocation is final. */
		if ((reason = crl_reason_parse(optarg)) == -1 ||
		    reason == CRL_REASON_CERTIFICATE_HOLD) {
			log_error("revoke: --reason \"%s\" is not one of %s", optarg,
			    crl_reason_list());
			return EX_USAGE;
		}
	}
	if (rc != -1)
		return rc;
	if (reason == -2)
		return ctl_usage_error(cmd, "%s", "--reason is required");
	if (optind + 1 != argc)
		return ctl_usage_error(cmd, "%s", "one SERIAL is needed");
	if (strchr(argv[optind], '@') != NULL)
		return ctl_usage_error(cmd, "\"%s\" is an address; revoke takes a serial "
		    "(certsyncctl show %s lists them)", argv[optind], argv[optind]);
	if ((rc = ctl_lookup(ctl, cmd, argv[optind], &rows)) != 0)
		return rc;
	if (rows.v[0].status == CERT_REVOKED) {
		escape_line(stdout, "certificate %s was already revoked (%s)", rows.v[0].serial,
		    crl_reason_name(rows.v[0].reason));
		rc = 0;
	} else if (job_revoke_cert(&jctx, &rows.v[0], reason) == -1)
		rc = EX_SOFTWARE;
	else {
		escape_line(stdout, "revoked certificate %s (%s)", rows.v[0].serial,
		    crl_reason_name(reason));
		rc = regenerate_crl(ctl);
	}
	cert_rows_free(&rows);
	return rc;
}

int
cmd_crl(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	int rc;

	if ((rc = ctl_no_arguments(cmd, argc, argv)) != -1)
		return rc;
	return regenerate_crl(ctl);
}
