/*
 * certsync-ca.c - the CA process's program (libexec/certsync/certsync-ca).
 *
 * Owns: its command line.  certsyncd and certsyncctl start it with its end
 * of a socketpair on descriptor 3 (src/ca/ca_client.c); certsyncctl
 * init-ca starts it with --init-ca.  The work is in src/ca/ca_process.c.
 * Never: is meant to be run by hand, or opens anything before
 * ca_process.c closes what it inherited.
 */
#include "config.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <sysexits.h>

#include "ca/ca_process.h"
#include "lib/log.h"

static int
usage(void)
{
	fprintf(stderr, "usage: certsync-ca -c CONF\n"
	    "       certsync-ca -c CONF --init-ca --subject DN --days N --key-type TYPE\n"
	    "certsyncd and certsyncctl start it; see certsyncd(8).\n");
	return EX_USAGE;
}

int
main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "init-ca", no_argument, NULL, 'i' },
		{ "subject", required_argument, NULL, 's' },
		{ "days", required_argument, NULL, 'd' },
		{ "key-type", required_argument, NULL, 'k' },
		{ NULL, 0, NULL, 0 },
	};
	const char *conf = NULL, *subject = NULL, *key_type = NULL;
	int c, init = 0, days = 0;

	log_init("certsync-ca");
	opterr = 0;
	while ((c = getopt_long(argc, argv, "c:", opts, NULL)) != -1) {
		switch (c) {
		case 'c': conf = optarg; break;
		case 'i': init = 1; break;
		case 's': subject = optarg; break;
		case 'd': days = atoi(optarg); break;
		case 'k': key_type = optarg; break;
		default: return usage();
		}
	}
	if (conf == NULL || optind != argc)
		return usage();
	if (!init)
		return ca_process_serve(conf);
	if (subject == NULL || key_type == NULL || days < 1 || days > 36500)
		return usage();
	return ca_process_init_ca(conf, subject, days, key_type);
}
