/*
 * latency_probe.c - times a directory change to the certificate certsync
 * publishes for it, for scripts/bench-latency and bench-latency-ad.
 *
 * Usage: latency_probe URI BIND_DN PASSWORD_FILE DN N PREFIX DOMAIN [ad] [CA_FILE]
 * N times: the entry's mail (with "ad", proxyAddresses too) is set to
 * PREFIX<i>@DOMAIN, timed from just before the modify is sent until a base
 * read of the entry shows a userCertificate value holding that address
 * (the address's bytes in the DER: its SAN).  One connection does both,
 * opened once, and the entry is read every 2 ms: what is timed is the
 * directory and certsync, not the tools (a process per poll cost 20 to
 * 40 ms).  Prints each change's milliseconds, then the median, worst and
 * best.  A benchmark's tool, not a test: exit 0 unless it cannot run.
 * Owns: nothing but its one connection.
 * Never: writes anything but the mail attributes of DN.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldap.h>

#define TIMEOUT_MS 60000

static double
now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

static LDAP *
connect_bind(const char *uri, const char *dn, const char *pwfile, const char *ca)
{
	char pw[256] = "";
	FILE *f = fopen(pwfile, "r");
	struct berval cred;
	int v3 = LDAP_VERSION3;
	LDAP *ld = NULL;

	if (f == NULL || fgets(pw, sizeof(pw), f) == NULL) {
		fprintf(stderr, "latency_probe: cannot read %s\n", pwfile);
		exit(1);
	}
	fclose(f);
	pw[strcspn(pw, "\r\n")] = '\0';
	if (ca != NULL)
		ldap_set_option(NULL, LDAP_OPT_X_TLS_CACERTFILE, ca);
	cred.bv_val = pw;
	cred.bv_len = strlen(pw);
	if (ldap_initialize(&ld, uri) != LDAP_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &v3) != LDAP_SUCCESS ||
	    ldap_sasl_bind_s(ld, dn, LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL) !=
	    LDAP_SUCCESS) {
		fprintf(stderr, "latency_probe: cannot bind to %s as %s\n", uri, dn);
		exit(1);
	}
	return ld;
}

/* Whether dn's userCertificate holds a value naming address. */
static int
published(LDAP *ld, const char *dn, const char *address)
{
	char *attrs[] = { "userCertificate", "userCertificate;binary", NULL };
	LDAPMessage *res = NULL, *e;
	struct berval **v;
	size_t alen = strlen(address);
	int found = 0;

	if (ldap_search_ext_s(ld, dn, LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
	    NULL, NULL, NULL, 0, &res) != LDAP_SUCCESS ||
	    (e = ldap_first_entry(ld, res)) == NULL) {
		ldap_msgfree(res);
		return 0;
	}
	for (int a = 0; a < 2 && !found; a++) {
		if ((v = ldap_get_values_len(ld, e, attrs[a])) == NULL)
			continue;
		for (int i = 0; v[i] != NULL && !found; i++)
			found = memmem(v[i]->bv_val, v[i]->bv_len, address, alen) != NULL;
		ldap_value_free_len(v);
	}
	ldap_msgfree(res);
	return found;
}

static void
set_mail(LDAP *ld, const char *dn, const char *address, int ad)
{
	char smtp[300], *mail_v[] = { (char *)address, NULL }, *proxy_v[] = { smtp, NULL };
	LDAPMod mail = { LDAP_MOD_REPLACE, "mail", { mail_v } };
	LDAPMod proxy = { LDAP_MOD_REPLACE, "proxyAddresses", { proxy_v } };
	LDAPMod *mods[] = { &mail, ad ? &proxy : NULL, NULL };

	snprintf(smtp, sizeof(smtp), "SMTP:%s", address);
	if (ldap_modify_ext_s(ld, dn, mods, NULL, NULL) != LDAP_SUCCESS) {
		fprintf(stderr, "latency_probe: cannot modify %s\n", dn);
		exit(1);
	}
}

static int
by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void
report(double *ms, int n)
{
	double median;

	qsort(ms, (size_t)n, sizeof(*ms), by_value);
	median = n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
	printf("median %.0f ms, worst %.0f ms, best %.0f ms (n=%d)\n", median,
	    ms[n - 1], ms[0], n);
}

int
main(int argc, char **argv)
{
	struct timespec pause = { 0, 2 * 1000 * 1000 };
	char address[256];
	double *ms, t0;
	int n, ad;
	LDAP *ld;

	if (argc < 8) {
		fprintf(stderr, "usage: latency_probe URI BIND_DN PASSWORD_FILE DN N "
		    "PREFIX DOMAIN [ad] [CA_FILE]\n");
		return 1;
	}
	n = atoi(argv[5]);
	ad = argc > 8 && strcmp(argv[8], "ad") == 0;
	if (n < 1 || (ms = calloc((size_t)n, sizeof(*ms))) == NULL)
		return 1;
	ld = connect_bind(argv[1], argv[2], argv[3], argc > 9 ? argv[9] : NULL);
	for (int i = 0; i < n; i++) {
		snprintf(address, sizeof(address), "%s%d@%s", argv[6], i + 1, argv[7]);
		t0 = now_ms();
		set_mail(ld, argv[4], address, ad);
		while (!published(ld, argv[4], address)) {
			if (now_ms() - t0 > TIMEOUT_MS) {
				fprintf(stderr, "latency_probe: timed out waiting for %s\n",
				    address);
				return 1;
			}
			nanosleep(&pause, NULL);
		}
		ms[i] = now_ms() - t0;
		printf("  change %2d: %4.0f ms\n", i + 1, ms[i]);
		fflush(stdout);
	}
	report(ms, n);
	ldap_unbind_ext_s(ld, NULL, NULL);
	free(ms);
	return 0;
}
