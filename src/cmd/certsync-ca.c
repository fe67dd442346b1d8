/*
 * certsync-ca.c - the CA process's program (libexec/certsync/certsync-ca).
 *
 * Owns: its command line.  certsyncd and certsyncctl start it with its end
 * of a socketpair on descriptor 3 and the configuration's text on 4
 * (--config-fd; src/ca/ca_client.c); certsyncctl
 * init-ca starts it with --init-ca.  The work is in src/ca/ca_process.c.
 * Never: is meant to be run by hand, or opens anything before
 * ca_process.c closes what it inherited.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "ca/ca_process.h"
#include "lib/log.h"

static int
usage(void)
{
	fprintf(stderr, "usage: certsync-ca -c CONF [--config-fd FD]\n"
	    "       certsync-ca -c CONF --init-ca --subject DN --days N --key-type TYPE\n"
	    "certsyncd and certsyncctl start it; see certsyncd(8).\n");
	return EX_USAGE;
}

/* --config-fd's number: a descriptor above 2, or -2 (a usage error). */
static int
descriptor(const char *s)
{
	char *end = NULL;
	long n;

	errno = 0;
	n = strtol(s, &end, 10);
	return errno == 0 && end != s && *end == '\0' && n > 2 && n < 1024 ?
	    (int)n : -2;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "config-fd", required_argument, NULL, 'f' },
		{ "init-ca", no_argument, NULL, 'i' },
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "key-type", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *subject = NULL, *key_type = NULL;
	int c, init = 0, days = 0, conf_fd = -1;

	log_init("certsync-ca");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'f': conf_fd = descriptor(optarg); break;
		case 'i': init = 1; break;
		case 's': subject = optarg; break;
		case 'd': days = atoi(optarg); break;
		case 'k': key_type = optarg; break;
		default: return usage();
		}
	}
	if (conf == NULL || optind != argc || conf_fd < -1)
		return usage();
	if (!init)
		return ca_process_serve(conf, conf_fd);
	if (subject == NULL || key_type == NULL || days < 1 || days > 36500)
		return usage();
	return ca_process_init_ca(conf, subject, days, key_type);
}
