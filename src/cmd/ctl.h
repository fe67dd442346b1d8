/*
 * ctl.h - the admin's command line, shared by its files.
 *
 * Owns: what a command runs with (the configuration, the store, the CA
 * certificate and, when it signs, the CA process), the table entry that
 * describes a command, the
 * helpers they share, and the commands, one family per file: ctl_issue.c
 * (init-ca, issue), ctl_certs.c (list, show, revoke, crl), ctl_recover.c,
 * ctl_status.c (plan, status, audit), ctl_retry.c, ctl_release.c (release).
 * Never: seen outside src/cmd/.
 *
 * Return convention: a command and a helper return 0 or a sysexits code
 * (a helper's -1 means "go on"); the error is logged by then.
 */
#ifndef CERTSYNC_CTL_H
#define CERTSYNC_CTL_H

#include <getopt.h>

#include <openssl/x509.h>

#include "ca/ca_client.h"
#include "lib/conf.h"
#include "store/store.h"

struct archive;

struct ctl {
	const char *conf_path;
	struct conf *conf;            /* NULL for recover --combine */
	struct store *st;
	X509 *ca_cert;                /* [ca] certificate, read from its file */
	struct ca_client *ca;         /* the CA process, for commands that sign */
	struct archive *archive;      /* for the commands that sign: agents loaded */
};

/* What a command needs besides the configuration and the store. */
enum ctl_needs {
	CTL_NEEDS_STORE,          /* the store only */
	CTL_NEEDS_CA_CERT,        /* the CA certificate (recover) */
	CTL_NEEDS_CA,             /* the CA process, the archive: it signs
	                             (issue, revoke, crl) */
	CTL_NEEDS_NOTHING,        /* init-ca: the CA process makes the CA */
};

struct command {
	const char *name;
	const char *usage;
	const char *help;
	int (*run)(struct ctl *, const struct command *, int, char **);
	enum ctl_needs needs;
	int read_only;      /* only looks: the store is opened read-only */
};

/* Logs "NAME: what (usage: ...)"; returns EX_USAGE. */
int ctl_usage_error(const struct command *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* One getopt_long step that answers --help and refuses unknown options:
 * -1 to go on (*opt holds the option, -1 at the end), else an exit code. */
int ctl_getopt(const struct command *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts, int *opt);
/* For commands that take nothing but --help: -1 to go on, else an exit code. */
int ctl_no_arguments(const struct command *cmd, int argc, char **argv);
/* EMAIL (any certificate naming it) or SERIAL; 0 with rows, else an exit
 * code (none found: EX_NOINPUT). */
int ctl_lookup(struct ctl *ctl, const struct command *cmd, const char *what,
    struct cert_rows *rows);
/* Who runs this command, for the audit trail: the unix user, and the one
 * sudo says ran it ("root (sudo by alice)"); printable ASCII only. */
void ctl_who(char *buf, size_t len);
/* Whether the command line is "recover --combine ...", which needs neither
 * a configuration nor a store (officers run it on their own machines). */
int ctl_is_standalone(const struct command *cmd, int argc, char **argv);

int cmd_init_ca(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_issue(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_list(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_show(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_revoke(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_crl(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_recover(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_plan(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_status(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_audit(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_retry(struct ctl *ctl, const struct command *cmd, int argc, char **argv);
int cmd_release(struct ctl *ctl, const struct command *cmd, int argc, char **argv);

#endif
