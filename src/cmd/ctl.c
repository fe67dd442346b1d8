/*
 * ctl.c - what every certsyncctl command shares.
 *
 * Owns: the one-line usage error, the option parsing every command does
 * (with --help), and finding certificates by EMAIL or SERIAL.
 * Never: exits: every helper hands back a sysexits code.
 */
#include "config.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "cmd/ctl.h"
#include "lib/log.h"
#include "pki/certinfo.h"

int
ctl_usage_error(const struct command *cmd, const char *fmt, ...)
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
int
ctl_getopt(const struct command *cmd, int argc, char **argv, const char *shortopts,
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
		return ctl_usage_error(cmd, "option %s needs a value", argv[optind - 1]);
	if (c == '?')
		return ctl_usage_error(cmd, "unknown option \"%s\"",
		    argv[optind - 1 >= prev ? optind - 1 : prev]);
	return -1;
}

/* For commands that take nothing but --help: -1 to go on, else an exit code. */
int
ctl_no_arguments(const struct command *cmd, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	while ((rc = ctl_getopt(cmd, argc, argv, "h", opts, &c)) == -1 && c != -1)
		;
	if (rc != -1)
		return rc;
	if (optind != argc)
		return ctl_usage_error(cmd, "unexpected argument \"%s\"", argv[optind]);
	return -1;
}

/* EMAIL (any certificate naming it) or SERIAL; *rows empty if none. */
int
ctl_lookup(struct ctl *ctl, const struct command *cmd, const char *what,
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
