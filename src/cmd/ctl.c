/*
 * ctl.c - what every certsyncctl command shares.
 *
 * Owns: the one-line usage error, the option parsing every command does
 * (with --help), finding certificates by EMAIL or SERIAL, and naming who
 * runs a command.
 * Never: exits: every helper hands back a sysexits code.
 */
#include "config.h"

#include <sys/types.h>
#include <getopt.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

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

/* name with anything but [A-Za-z0-9._@-] shown as '?': it may come from
 * the environment, and goes into the audit trail and onto terminals. */
static void
tame(const char *name, char *out, size_t len)
{
	size_t i;

	for (i = 0; name[i] != '\0' && i + 1 < len; i++)
		out[i] = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789._@-", name[i]) != NULL ? name[i] : '?';
	out[i] = '\0';
}

void
ctl_who(char *buf, size_t len)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *sudo = getenv("SUDO_USER");
	char user[64], by[64];

	if (pw != NULL)
		tame(pw->pw_name, user, sizeof(user));
	else
		snprintf(user, sizeof(user), "uid %ld", (long)getuid());
	if (sudo != NULL && *sudo != '\0') {
		tame(sudo, by, sizeof(by));
		snprintf(buf, len, "%s (sudo by %s)", user, by);
	} else
		snprintf(buf, len, "%s", user);
}

int
ctl_is_standalone(const struct command *cmd, int argc, char **argv)
{
	if (strcmp(cmd->name, "recover") != 0)
		return 0;
	for (int i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--combine") == 0)
			return 1;
	return 0;
}
