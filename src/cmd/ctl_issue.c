/*
 * ctl_issue.c - certsyncctl init-ca and issue: a CA, and certificates by
 * hand.
 *
 * Owns: their options and their output.  issue goes through the planner
 * (its duplicate check and its decision) and runs the same job the
 * daemon's runner would, without a directory.
 * Never: certifies an address another identity holds.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "ca/pkcs11.h"
#include "cmd/ctl.h"
#include "lib/escape.h"
#include "lib/log.h"
#include "pipeline/job.h"
#include "pipeline/identity_row.h"
#include "pipeline/plan.h"
#include "pki/address.h"
#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/crl.h"

int
cmd_init_ca(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "key-type", required_argument, NULL, 'k' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *subject = "CN=certsync CA";
	struct key_spec spec;
	char *end, *p;
	long days = 3650;
	int c, rc;

	conf_parse_key_spec("rsa:3072", &spec);
	while ((rc = ctl_getopt(cmd, argc, argv, "s:d:k:h", opts, &c)) == -1 && c != -1) {
		if (c == 's')
			subject = optarg;
		else if (c == 'd') {
			errno = 0;
			days = strtol(optarg, &end, 10);
			if (errno || *end || days < 1 || days > 36500)
				return ctl_usage_error(cmd, "--days \"%s\" is not a whole "
				    "number of days between 1 and 36500", optarg);
		} else if (c == 'k' && conf_parse_key_spec(optarg, &spec) == -1)
			return ctl_usage_error(cmd, "--key-type \"%s\" is not one of rsa:2048, "
			    "rsa:3072, rsa:4096, ec:P-256, ec:P-384", optarg);
	}
	if (rc != -1)
		return rc;
	if (optind != argc)
		return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	/* A control character would be no subject; say so before starting. */
	for (p = (char *)subject; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return ctl_usage_error(cmd, "--subject holds a control character");
	/* The CA process makes it: no other program holds the CA key. */
	if ((rc = ca_client_init_ca(ctl->conf, subject, (int)days, spec.name)) != 0)
		return rc;
	if (ca_pkcs11_is_uri(ctl->conf->ca.key))
		escape_line(stdout, "CA key:         %s (in the token)", ctl->conf->ca.key);
	else
		escape_line(stdout, "CA key:         %s (mode 0600%s)", ctl->conf->ca.key,
		    ctl->conf->ca.passphrase_file ? ", encrypted" : "");
	escape_line(stdout, "CA certificate: %s", ctl->conf->ca.certificate);
	return 0;
}

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

		escape_line(stdout, "%s certificate %s", cert_kind_name(r->kind),
		    r->serial);
		escape_line(stdout, "  subject:   %s", r->subject);
		escape_line(stdout, "  addresses: %s", r->addresses);
		escape_line(stdout, "  valid:     %s .. %s",
		    certinfo_fmt_time(r->not_before, nb, sizeof(nb)),
		    certinfo_fmt_time(r->not_after, na, sizeof(na)));
		escape_line(stdout, "  key:       %s in %s", r->key_type,
		    r->keystore_path ? r->keystore_path : "-");
	}
	cert_rows_free(&rows);
}

/* Whether uuid's job got as far as recording what it issued (ISSUED or
 * later): then it must resume, not start again and issue a second pair. */
static int
job_past_issue(struct store *st, const char *uuid)
{
	struct job job;
	int past = 0;

	if (job_get(st, uuid, &job) == 1) {
		past = job.state >= JOB_ISSUED;
		if (past)
			log_error("issue: the job of %s stopped at %s, with its new "
			    "certificates recorded; it is kept, and the next issue for "
			    "this user (or certsyncd) resumes it", uuid,
			    job_state_name(job.state));
		job_free(&job);
	}
	return past;
}

/* A job by hand that failed: what this attempt revoked (certificates it
 * signed but could not record) goes on the CRL now, and the admin sees the
 * reason now: no retry is left behind, unless a certificate it signed is
 * still to be revoked (the job's KEYS state is what makes certsyncd look
 * for it), or it had recorded the certificates it issued (it resumes from
 * there).  rc is job_run()'s; returns the exit code. */
static int
manual_job_failed(struct ctl *ctl, struct job_ctx *jctx, const struct identity *id,
    int rc)
{
	struct unrecorded_rows un = { 0 };

	if (jctx->revoked > 0 && job_finish_batch(jctx, NULL) == -1)
		log_error("issue: the CRL could not be rewritten; certsyncd or "
		    "the next certsyncctl command does it");
	if (job_past_issue(ctl->st, id->uuid))
		;
	else if (store_unrecorded(ctl->st, id->uuid, &un) == 0 && un.n == 0)
		store_job_delete(ctl->st, id->uuid);
	else
		log_error("issue: %zu certificate(s) signed for %s could not be "
		    "recorded nor revoked yet; the job is kept, and certsyncd "
		    "(or the next issue for this user) revokes them",
		    un.n, id->uuid);
	unrecorded_rows_free(&un);
	return rc == -2 ? EX_DATAERR : rc == -3 ? EX_TEMPFAIL : EX_SOFTWARE;
}

/* The profile's verdict on the admin's values, before anything is stored
 * or signed: the same check the identity stage makes of a directory entry.
 * 0, or EX_DATAERR after logging. */
static int
check_profile(struct ctl *ctl, const struct command *cmd, const struct identity *id)
{
	const char *names[] = { id->display_name, id->given_name, id->surname };
	char namebuf[2 * IDENTITY_NAME_MAX + 2], why[256];
	struct subject_vars vars;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i] != NULL && strlen(names[i]) > IDENTITY_NAME_MAX) {
			log_error("%s: a name of %zu bytes is too long (at most %d)",
			    cmd->name, strlen(names[i]), IDENTITY_NAME_MAX);
			return EX_DATAERR;
		}
	identity_subject_vars(id, &vars, namebuf, sizeof(namebuf));
	if (issue_check(ctl->conf->certificates.subject, &vars, &id->addresses, why,
	    sizeof(why)) == 0)
		return 0;
	log_error("%s: %s cannot be certified: %s", cmd->name, id->addresses.v[0], why);
	return EX_DATAERR;
}

/* Plans and runs the job by hand, through the planner's duplicate check
 * and decision, as the daemon's runner would, without a directory. */
static int
run_manual_job(struct ctl *ctl, const struct identity *id)
{
	struct job_ctx jctx = { .conf = ctl->conf, .st = ctl->st, .ca = ctl->ca,
	    .ca_cert = ctl->ca_cert, .archive = ctl->archive };
	const char *taken = NULL;
	char *owner = NULL;
	enum job_action action;
	struct verdict v;
	int rc;

	/* One mailbox, one person: mail to it must not reach another's key. */
	if (plan_address_taken(ctl->st, id, &taken, &owner) == 1) {
		log_error("issue: address %s is already used by %s; refusing to "
		    "certify it for %s", taken, owner, id->uuid);
		free(owner);
		return EX_DATAERR;
	}
	if (identity_save(ctl->st, id) == -1)
		return EX_SOFTWARE;
	action = plan_manual(ctl->conf, ctl->st, id, &v);
	if (job_plan(ctl->st, id->uuid, action, v.reason, v.why, 0) == -1)
		return EX_SOFTWARE;
	if ((rc = job_run(&jctx, id->uuid)) != 0)
		return manual_job_failed(ctl, &jctx, id, rc);
	escape_line(stdout, "%s user %s (%s):", action == JOB_ENROLL ? "enrolled" :
	    "reissued", id->uuid, v.why);
	print_active(ctl, id->uuid);
	if (jctx.revoked > 0)
		escape_line(stdout, "previous certificates: %d revoked (%s), keys archived",
		    jctx.revoked, crl_reason_name(v.reason));
	return job_finish_batch(&jctx, NULL) == -1 ? EX_IOERR : 0;
}

int
cmd_issue(struct ctl *ctl, const struct command *cmd, int argc, char **argv)
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
	struct identity id;
	const char *user = NULL;
	char **aliases = NULL;
	size_t naliases = 0;
	int c, rc;

	memset(&id, 0, sizeof(id));
	while ((rc = ctl_getopt(cmd, argc, argv, "n:g:s:a:u:h", opts, &c)) == -1 && c != -1) {
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
		rc = ctl_usage_error(cmd, "%s", optind == argc ? "an EMAIL address is needed"
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
	if ((rc = check_profile(ctl, cmd, &id)) == 0)
		rc = run_manual_job(ctl, &id);
done:
	free(aliases);
	address_list_free(&id.addresses);
	return rc;
}
