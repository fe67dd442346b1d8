/*
 * certsyncctl.c - the admin's command line: init-ca, issue, list, show,
 * revoke, crl, recover, plan, status, retry, audit, release.
 *
 * Owns: the table of commands, the global options, and opening what a
 * command needs (the configuration, the store, the CA certificate, and the
 * CA process for those that sign, every secret checked before any work).  The commands are in
 * ctl_*.c; the work itself is done by the pipeline stages they call.
 * Never: prints a password or key (but the archive password that recover
 * --combine is asked for), or exits 0 when it did not do what was asked.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>

#include "cmd/ctl.h"
#include "directory/ldapconn.h"
#include "lib/log.h"
#include "lib/secret.h"
#include "pipeline/ca_ledger.h"
#include "pipeline/job.h"
#include "pki/archive.h"
#include "pki/certinfo.h"

#ifndef CS_SYSCONFDIR
#define CS_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF CS_SYSCONFDIR "/certsync/certsync.conf"

static const struct command commands[] = {
	{ "init-ca", "init-ca [--subject DN] [--days N] [--key-type TYPE]",
	  "Makes a CA key and self-signed certificate at [ca] key and [ca] certificate,\n"
	  "for demos and tests; with a key in a PKCS#11 token (pkcs11: URI), the key\n"
	  "in the token self-signs the certificate.  Refuses to overwrite either file.\n"
	  "Defaults: --subject \"CN=certsync CA\", --days 3650, --key-type rsa:3072.\n",
	  cmd_init_ca, CTL_NEEDS_NOTHING, 0 },
	{ "issue", "issue EMAIL [--name NAME] [--given G] [--surname S] [--alias ADDR]... [--user ID]",
	  "Issues signing and encryption certificates (or one dual-use certificate)\n"
	  "for EMAIL and its aliases.  --user names the identity (default: EMAIL); if it\n"
	  "already has certificates they are reissued: the old keys are archived, the\n"
	  "old certificates revoked and the CRL rewritten.\n",
	  cmd_issue, CTL_NEEDS_CA, 0 },
	{ "list", "list [--active]",
	  "Lists every certificate in the state store (--active: only current ones).\n"
	  "A current certificate withdrawn from the directory while its user is\n"
	  "disabled ([reconcile] on_disable = unpublish) is listed as withdrawn: it\n"
	  "is still valid, and is published again when the user is enabled.  One\n"
	  "whose user left the directory is on-hold: withdrawn, on the CRL as\n"
	  "certificateHold, and active again if the user comes back within\n"
	  "[reconcile] hold_days, else revoked for good.\n",
	  cmd_list, CTL_NEEDS_STORE, 1 },
	{ "show", "show EMAIL|SERIAL [--pem]",
	  "Shows the certificates naming EMAIL, or the one with SERIAL (hex).\n",
	  cmd_show, CTL_NEEDS_STORE, 1 },
	{ "revoke", "revoke SERIAL --reason REASON",
	  "Revokes a certificate and rewrites the CRL.  Its key is archived first.\n"
	  "REASON: unspecified, keyCompromise, affiliationChanged, superseded,\n"
	  "cessationOfOperation, privilegeWithdrawn.\n",
	  cmd_revoke, CTL_NEEDS_CA, 0 },
	{ "crl", "crl", "Regenerates the CRL now.\n", cmd_crl, CTL_NEEDS_CA, 0 },
	{ "recover", "recover EMAIL|SERIAL --out FILE|DIR [--password-file FILE] "
	  "[--agent-key KEY [--agent-cert CERT]]... | recover --combine SHARE... "
	  "[--password-out FILE]",
	  "Hands an archived key back to its user: writes key, certificate and CA as a\n"
	  "new PKCS#12 (mode 0600, never overwriting) protected by the password in\n"
	  "--password-file (which must be mode 0600 or 0400).  By EMAIL it picks the\n"
	  "archived encryption key; when there are several, name one by SERIAL.\n"
	  "A key archived under recovery agents ([archive] recovery_agents) opens only\n"
	  "with the keys of M of its officers: give each with --agent-key (a PEM key\n"
	  "file, mode 0600; --agent-cert names its certificate when it is no longer\n"
	  "among the configured agents).  Without --password-file, --out names a new\n"
	  "directory that receives the officers' packet instead: one envelope per\n"
	  "officer, a copy of the archive file, and README.txt with the steps (also\n"
	  "printed).  --combine takes the officers' decrypted shares (openssl cms\n"
	  "-decrypt) and prints the archive password, or writes it into a new file\n"
	  "(--password-out, mode 0600); it needs no configuration.  Each recovery is\n"
	  "in the audit trail, with the unix user who asked (and sudo's SUDO_USER).\n",
	  cmd_recover, CTL_NEEDS_CA_CERT, 0 },
	{ "plan", "plan",
	  "Reads the directory once and prints, per user, what certsyncd would do and\n"
	  "why (enroll, reissue, renew, hold, lift, revoke, skip), writing nothing.\n"
	  "Departures the safety catch would hold are marked \"held\".\n",
	  cmd_plan, CTL_NEEDS_STORE, 1 },
	{ "status", "status",
	  "Shows the agent's state: whether it runs, a refused reload, its CA process,\n"
	  "the connection, change source, last event, checkpoint, queued jobs by state, failing jobs\n"
	  "with their last error, parked jobs, users skipped for bad directory data,\n"
	  "the users held by the safety catch (how many, since when, why), certificates\n"
	  "on hold, CRL age, and what stops all work (another process's write lock, a\n"
	  "full file system).\n",
	  cmd_status, CTL_NEEDS_STORE, 1 },
	{ "release", "release [--user UUID|DN|EMAIL]",
	  "Lets the departures held by the safety catch through (all, or one user's):\n"
	  "they are planned as they were decided (put on hold, revoked or withdrawn),\n"
	  "and the running certsyncd, found through [daemon] pid_file, is woken to\n"
	  "start them at once.\n",
	  cmd_release, CTL_NEEDS_STORE, 0 },
	{ "retry", "retry UUID|--all",
	  "Gives a parked job another attempt.  A job is parked, not retried, after\n"
	  "a failure retrying cannot mend (the profile refuses the user's values, the\n"
	  "CA has expired); certsyncctl status lists them with the reason.  Fix the\n"
	  "cause, then retry: certsyncd runs the job within 30 seconds.\n",
	  cmd_retry, CTL_NEEDS_STORE, 0 },
	{ "audit", "audit [--last N]",
	  "Prints the last N entries of the audit trail (default 50, 0 for all).\n",
	  cmd_audit, CTL_NEEDS_STORE, 1 },
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

/* The CA process, for a command that signs, and a look at what an earlier
 * one may have signed without it being recorded (pipeline/ca_ledger.c). */
static int
open_ca(struct ctl *ctl)
{
	struct job_ctx jctx = { .conf = ctl->conf, .st = ctl->st,
	    .archive = ctl->archive };
	int permanent;

	if (ca_client_open(ctl->conf, ctl->ca_cert, &ctl->ca, &permanent) == -1)
		return permanent ? EX_CONFIG : EX_UNAVAILABLE;
	jctx.ca = ctl->ca;
	jctx.ca_cert = ctl->ca_cert;
	if (ca_ledger_check(&jctx) == -1)
		return EX_SOFTWARE;
	if (jctx.revoked > 0 && job_finish_batch(&jctx, NULL) == -1)
		return EX_IOERR;
	return 0;
}

static int
ctl_open(struct ctl *ctl, const struct command *cmd)
{
	int rc;

	if ((rc = conf_load(ctl->conf_path, &ctl->conf)) != 0)
		return rc;
	/* Before any thread (setenv() is not thread-safe). */
	ldapconn_init_env(ctl->conf);
	if (cmd->needs == CTL_NEEDS_NOTHING)
		return 0;
	/* A command that only looks must work while the agent holds a write
	 * transaction, and must not migrate the store under it. */
	if ((cmd->read_only ? store_open_ro : store_open)(ctl->conf->state.database,
	    &ctl->st) == -1)
		return EX_UNAVAILABLE;
	if (cmd->needs == CTL_NEEDS_STORE)
		return 0;
	/* The CA certificate is public: read from its file, never asked for. */
	if ((ctl->ca_cert = certinfo_read_pem(ctl->conf->ca.certificate,
	    "[ca] certificate")) == NULL)
		return EX_CONFIG;
	if (cmd->needs == CTL_NEEDS_CA_CERT)
		return 0;
	/* Check every secret now, so a bad one stops us before any work.  In
	 * recovery-agent mode the archive may have no password file. */
	if ((ctl->conf->archive.password_file != NULL &&
	    secret_check_file(ctl->conf->archive.password_file,
	    "[archive] password_file") == -1) ||
	    secret_check_file(ctl->conf->keystore.password_file,
	    "[keystore] password_file") == -1)
		return EX_CONFIG;
	/* The archive before the CA process: what the ledger finds unrecorded
	 * has its key archived before it is revoked. */
	if (archive_open(ctl->conf, time(NULL), &ctl->archive) == -1)
		return EX_CONFIG;
	return open_ca(ctl);
}

/* What ctl_open opened; the CA process ends when its socket closes. */
static void
ctl_close(struct ctl *ctl)
{
	archive_close(ctl->archive);
	ca_client_free(ctl->ca);
	X509_free(ctl->ca_cert);
	store_close(ctl->st);
	conf_free(ctl->conf);
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
	if (ctl_is_standalone(cmd, argc, argv))
		rc = cmd->run(&ctl, cmd, argc, argv);
	else if ((rc = ctl_open(&ctl, cmd)) == 0)
		rc = cmd->run(&ctl, cmd, argc, argv);
	ctl_close(&ctl);
	return rc;
}
