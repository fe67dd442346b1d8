/*
 * tests/fuzz/fuzz_conf.c - the configuration file (src/lib/conf.c
 * conf_load) on any bytes.
 *
 * Owns: a private directory (made once, under $TMPDIR) with one file,
 * certsync.conf, rewritten with each input and loaded as certsyncd loads
 * its file; the properties: conf_load gives a configuration with 0 and
 * nothing with EX_CONFIG, an accepted configuration's subject template
 * expands (issue_subject) as far as its fixed text goes, and its safety
 * catch (max_revoke) is a share above 0 and up to 100% or a count in its
 * key's range.
 * Never: reads a secret: conf_load only records the names of the password
 * and key files, it opens none of them.
 */
#include "config.h"

#include <sysexits.h>
#include <unistd.h>

#include <openssl/x509.h>

#include "fuzz.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "pki/issue.h"

static char dir[4096], file[4200];

static void
cleanup(void)
{
	unlink(file);
	rmdir(dir);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR");

	log_set_level(LOG_LVL_ERROR);
	snprintf(dir, sizeof(dir), "%s/certsync-fuzz-conf.XXXXXX",
	    tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror(dir);
		abort();
	}
	snprintf(file, sizeof(file), "%s/certsync.conf", dir);
	atexit(cleanup);
	return 0;
}

static void
write_input(const uint8_t *data, size_t size)
{
	FILE *f = fopen(file, "wb");

	if (f == NULL || (size > 0 && fwrite(data, 1, size, f) != size) ||
	    fclose(f) != 0) {
		perror(file);
		abort();
	}
}

/* True when the (normalized: "A=V, B=V") template has a C filled by a
 * variable. */
static int
variable_country(const char *tmpl)
{
	char *copy = fuzz_strndup((const uint8_t *)tmpl, strlen(tmpl)), *save = NULL;
	int found = 0;

	for (char *rdn = strtok_r(copy, ",", &save); rdn != NULL && !found;
	    rdn = strtok_r(NULL, ",", &save)) {
		while (*rdn == ' ')
			rdn++;
		found = strncmp(rdn, "C=", 2) == 0 && strstr(rdn, "%{") != NULL;
	}
	free(copy);
	return found;
}

/* conf.c promises a template issue.c will expand (rdn.h): with every
 * variable empty, only the fixed text is left, and it must pass, unless a
 * variable fills a C (countryName): that one's exact length is known per
 * user, not at load. */
static void
check_subject(const struct conf *c)
{
	struct subject_vars vars = { NULL, NULL, NULL, NULL, NULL };
	X509_NAME *name = NULL;
	char why[256] = "";

	fuzz_check(c->certificates.subject != NULL);
	if (issue_subject(c->certificates.subject, &vars, &name, why, sizeof(why)) == 0)
		fuzz_check(name != NULL);
	else if (!variable_country(c->certificates.subject)) {
		fprintf(stderr, "accepted subject \"%s\" refused: %s\n",
		    c->certificates.subject, why);
		fuzz_check(!"a subject conf.c accepted is refused by issue.c");
	}
	X509_NAME_free(name);
}

/* conf.h's threshold: hundredths of a percent, 0.01% to 100%, or a count
 * of users, 0 to ten million (conf.c's bound for max_revoke). */
static void
check_threshold(const struct threshold *t)
{
	if (t->percent)
		fuzz_check(t->value >= 1 && t->value <= 10000);
	else
		fuzz_check(t->value >= 0 && t->value <= 10000000);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	int rc;

	write_input(data, size);
	rc = conf_load(file, &c);
	fuzz_check((rc == 0) == (c != NULL));
	fuzz_check(rc == 0 || rc == EX_CONFIG);
	if (c != NULL) {
		check_subject(c);
		check_threshold(&c->reconcile.max_revoke);
	}
	conf_free(c);
	return 0;
}
