/*
 * check_conf.c - unit tests for conf.c.
 *
 * Owns: the promises conf.h makes: every default, every path made absolute,
 * and every kind of bad file refused with 78, *out NULL and a message naming
 * the file, the section and the key.
 * Never: writes outside the temporary directory it makes.
 */
#include "config.h"

#include <sys/stat.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include <check.h>
#include <iniparser.h>

#include "lib/conf.h"
#include "lib/log.h"
#include "check_main.h"

#ifndef CS_LOCALSTATEDIR
#define CS_LOCALSTATEDIR "/var/lib"
#endif

#define MINIMAL \
	"[ca]\n" \
	"certificate = /etc/certsync/ca.pem\n" \
	"key = /etc/certsync/ca.key\n" \
	"[archive]\n" \
	"password_file = /etc/certsync/archive.pw\n"

/* Short buffers keep every "dir/name" below PATH_MAX, provably. */
#define DIR_MAX 1024
static char basedir[DIR_MAX - 64];	/* one for the run */
static char tmpdir[DIR_MAX];	/* one per test, in basedir */
static char realdir[DIR_MAX];	/* after realpath, as conf.c will see it */
static char paths[8][DIR_MAX + 64];	/* the files write_conf() made */
static int npaths;

/* nftw would need _XOPEN_SOURCE; the tree here is small and known. */
static void
rm_tree(const char *path)
{
	char child[PATH_MAX];
	struct dirent *e = NULL;
	struct stat st;
	DIR *d = NULL;

	if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode) &&
	    (d = opendir(path)) != NULL) {
		while ((e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 ||
			    strcmp(e->d_name, "..") == 0)
				continue;
			snprintf(child, sizeof(child), "%s/%s", path, e->d_name);
			rm_tree(child);
		}
		closedir(d);
	}
	remove(path);
}

/*
 * The base directory is made and removed by the runner's process (an
 * unchecked fixture): Check ends a failed test's process without running
 * its teardown, and what that test left behind still goes.
 */
static void
base_setup(void)
{
	const char *t = getenv("TMPDIR");

	if (t == NULL || *t == '\0' || strlen(t) > DIR_MAX - 128)
		t = "/tmp";
	snprintf(basedir, sizeof(basedir), "%s/check_conf.XXXXXX", t);
	ck_assert_ptr_nonnull(mkdtemp(basedir));
}

static void
base_teardown(void)
{
	rm_tree(basedir);
}

/* A fresh directory per test, so no test sees another's files. */
static void
setup(void)
{
	char *real = NULL;

	snprintf(tmpdir, sizeof(tmpdir), "%s/t.XXXXXX", basedir);
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
	ck_assert_ptr_nonnull(real = realpath(tmpdir, NULL));
	ck_assert_uint_lt(strlen(real), sizeof(realdir));
	strcpy(realdir, real);
	free(real);
	npaths = 0;
}

static void
teardown(void)
{
	rm_tree(tmpdir);
}

/* Writes text to a new file in tmpdir; the name lives until teardown. */
static const char *
write_conf(const char *text)
{
	char *path = NULL;
	size_t len = strlen(text);
	int fd;

	ck_assert_int_lt(npaths, 8);
	path = paths[npaths++];
	snprintf(path, sizeof(paths[0]), "%s/certsync.XXXXXX", tmpdir);
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	close(fd);
	return path;
}

/* Runs conf_load with stderr (where log.c writes) sent to a file. */
static char *
load_captured(const char *path, struct conf **out, int *rc)
{
	char errpath[DIR_MAX + 64], *text = NULL;
	long len;
	int fd, saved;
	FILE *f = NULL;

	snprintf(errpath, sizeof(errpath), "%s/stderr.XXXXXX", tmpdir);
	ck_assert_int_ne(fd = mkstemp(errpath), -1);
	fflush(stderr);
	ck_assert_int_ne(saved = dup(STDERR_FILENO), -1);
	ck_assert_int_ne(dup2(fd, STDERR_FILENO), -1);
	*rc = conf_load(path, out);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);

	ck_assert_ptr_nonnull(f = fopen(errpath, "r"));
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(text = calloc(1, (size_t)len + 1));
	ck_assert_int_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	unlink(errpath);
	return text;
}

static int
count_lines(const char *text)
{
	int n = 0;

	for (; *text != '\0'; text++)
		n += *text == '\n';
	return n;
}

#define assert_has(text, what) \
	ck_assert_msg(strstr((text), (what)) != NULL, \
	    "expected \"%s\" in:\n%s", (what), (text))
#define assert_lacks(text, what) \
	ck_assert_msg(strstr((text), (what)) == NULL, \
	    "did not expect \"%s\" in:\n%s", (what), (text))

static struct conf *
load_ok(const char *text)
{
	struct conf *conf = NULL;
	char *err = NULL;
	int rc = -1;

	err = load_captured(write_conf(text), &conf, &rc);
	ck_assert_msg(rc == 0, "conf_load returned %d:\n%s", rc, err);
	ck_assert_ptr_nonnull(conf);
	ck_assert_str_eq(err, "");
	free(err);
	return conf;
}

/*
 * Loads a file that must be refused; returns what was logged, after checking
 * that every line is one error naming the file.
 */
static char *
load_path_bad(const char *path)
{
	struct conf *conf = (struct conf *)1;
	char prefix[2 * DIR_MAX], *err = NULL, *line = NULL;
	int rc = -1;

	err = load_captured(path, &conf, &rc);
	ck_assert_msg(rc == EX_CONFIG, "conf_load returned %d:\n%s", rc, err);
	ck_assert_ptr_null(conf);
	ck_assert_msg(*err != '\0', "no message for %s", path);
	snprintf(prefix, sizeof(prefix), "certsync: error: %s: ", path);
	for (line = err; *line != '\0'; line = strchr(line, '\n') + 1) {
		ck_assert_msg(strncmp(line, prefix, strlen(prefix)) == 0,
		    "line does not start with \"%s\":\n%s", prefix, err);
		ck_assert_ptr_nonnull(strchr(line, '\n'));
	}
	assert_lacks(err, "iniparser");
	return err;
}

static char *
load_bad(const char *text)
{
	return load_path_bad(write_conf(text));
}

/* One bad line added to a valid file: one error line, containing what. */
static void
assert_one_error(const char *section, const char *line, const char *what)
{
	char text[4096], *err = NULL;

	snprintf(text, sizeof(text), MINIMAL "[%s]\n%s\n", section, line);
	err = load_bad(text);
	assert_has(err, what);
	ck_assert_msg(count_lines(err) == 1, "one line expected:\n%s", err);
	free(err);
}

/* ---- valid files ------------------------------------------------------- */

START_TEST(test_minimal_defaults)
{
	struct conf *c = load_ok(MINIMAL);
	char expect[2 * DIR_MAX];

	ck_assert_str_eq(c->directory.uri, "ldapi:///");
	ck_assert_ptr_null(c->directory.base);
	ck_assert_str_eq(c->directory.scope, "sub");
	ck_assert_str_eq(c->directory.filter,
	    "(&(objectClass=inetOrgPerson)(mail=*))");
	ck_assert_ptr_null(c->directory.bind_dn);
	ck_assert_ptr_null(c->directory.bind_password_file);
	ck_assert_ptr_null(c->directory.tls_ca_file);
	ck_assert_int_eq(c->directory.starttls, 0);
	ck_assert_int_eq(c->directory.flavor, DIR_FLAVOR_OPENLDAP);

	ck_assert_str_eq(c->ca.certificate, "/etc/certsync/ca.pem");
	ck_assert_str_eq(c->ca.key, "/etc/certsync/ca.key");
	ck_assert_ptr_null(c->ca.passphrase_file);
	ck_assert_ptr_null(c->ca.pin_file);
	ck_assert_ptr_null(c->ca.pkcs11_module);
	ck_assert_str_eq(c->ca.audit_log, CS_LOCALSTATEDIR "/certsync/ca-audit.log");
	ck_assert_str_eq(c->ca.user, "certsync");
	ck_assert_int_eq(c->ca.max_signatures_per_minute, 30000);

	ck_assert_int_eq(c->certificates.key.alg, KEY_ALG_RSA);
	ck_assert_int_eq(c->certificates.key.bits, 2048);
	ck_assert_ptr_null(c->certificates.key.curve);
	ck_assert_str_eq(c->certificates.key.name, "rsa:2048");
	ck_assert_int_eq(c->certificates.mode, CERT_MODE_SEPARATE);
	ck_assert_int_eq(c->certificates.validity_days, 365);
	ck_assert_int_eq(c->certificates.backdate_minutes, 5);
	ck_assert_str_eq(c->certificates.subject, "CN=%{name}");
	ck_assert_int_eq(c->certificates.non_repudiation, 0);
	ck_assert_ptr_null(c->certificates.crl_url);
	ck_assert_ptr_null(c->certificates.aia_url);
	ck_assert_str_eq(c->certificates.digest, "sha256");
	ck_assert_int_eq(c->certificates.renew_before_days, 30);

	ck_assert_str_eq(c->archive.directory,
	    CS_LOCALSTATEDIR "/certsync/archive");
	ck_assert_str_eq(c->archive.password_file, "/etc/certsync/archive.pw");
	ck_assert_int_eq(c->archive.profile, P12_PROFILE_AES256);
	ck_assert_int_eq(c->archive.iterations, 600000);

	ck_assert_str_eq(c->keystore.directory,
	    CS_LOCALSTATEDIR "/certsync/keystore");
	ck_assert_str_eq(c->keystore.password_file, "/etc/certsync/archive.pw");
	/* A copy, so conf_free can free both. */
	ck_assert_ptr_ne(c->keystore.password_file, c->archive.password_file);

	ck_assert_str_eq(c->publish.certificate_attribute,
	    "userCertificate;binary");
	ck_assert_str_eq(c->publish.smime_attribute, "userSMIMECertificate");
	ck_assert_int_eq(c->publish.max_values, 15);

	ck_assert_str_eq(c->crl.path, CS_LOCALSTATEDIR "/certsync/crl/ca.crl");
	ck_assert_ptr_null(c->crl.pem_path);
	ck_assert_int_eq(c->crl.next_update_hours, 168);

	ck_assert_str_eq(c->state.database, CS_LOCALSTATEDIR "/certsync/state.db");

	ck_assert_int_eq(c->log.destination, LOG_DEST_STDERR);
	ck_assert_int_eq(c->log.level, LOG_LVL_NOTICE);
	ck_assert_int_eq(c->log.facility, LOG_DAEMON);

	snprintf(expect, sizeof(expect), "%s/%s", realdir,
	    strrchr(paths[0], '/') + 1);
	ck_assert_str_eq(c->path, expect);
	conf_free(c);
}
END_TEST

static const char full_conf[] =
	"; every key, none at its default\n"
	"[directory]\n"
	"uri = ldaps://ldap.example.org:636\n"
	"base = ou=people,dc=example,dc=org\n"
	"scope = one\n"
	"filter = (&(objectClass=person)(mail=*@example.org))\n"
	"bind_dn = cn=certsync,ou=services,dc=example,dc=org\n"
	"bind_password_file = /etc/certsync/bind.pw\n"
	"tls_ca_file = /etc/ssl/certs/ca-certificates.crt\n"
	"starttls = yes\n"
	"flavor = ad\n"
	"\n"
	"[ca]\n"
	"certificate = /etc/certsync/ca.pem\n"
	"key = /etc/certsync/ca.key\n"
	"passphrase_file = /etc/certsync/ca.pass\n"
	"\n"
	"[certificates]\n"
	"key_type = ec:P-384\n"
	"mode = dual\n"
	"validity_days = 730\n"
	"backdate_minutes = 0\n"
	"subject = CN=%{name}, emailAddress=%{mail}, OU=People, O=Example, C=DE\n"
	"non_repudiation = on\n"
	"crl_url = http://pki.example.org/ca.crl\n"
	"aia_url = https://pki.example.org/ca.crt\n"
	"digest = sha512\n"
	"renew_before_days = 60\n"
	"\n"
	"[archive]\n"
	"directory = /srv/certsync/archive\n"
	"password_file = /etc/certsync/archive.pw\n"
	"profile = legacy\n"
	"iterations = 2048\n"
	"\n"
	"[keystore]\n"
	"directory = /srv/certsync/keystore\n"
	"password_file = /etc/certsync/keystore.pw\n"
	"\n"
	"[publish]\n"
	"certificate_attribute = \"userCertificate;binary\"\n"
	"smime_attribute = none\n"
	"max_values = 3\n"
	"\n"
	"[crl]\n"
	"path = /srv/www/ca.crl\n"
	"pem_path = /srv/www/ca.crl.pem\n"
	"next_update_hours = 24\n"
	"\n"
	"[state]\n"
	"database = /srv/certsync/state.db\n"
	"\n"
	"[log]\n"
	"destination = syslog\n"
	"level = debug\n"
	"facility = local3\n";

START_TEST(test_full)
{
	struct conf *c = load_ok(full_conf);

	ck_assert_str_eq(c->directory.uri, "ldaps://ldap.example.org:636");
	ck_assert_str_eq(c->directory.base, "ou=people,dc=example,dc=org");
	ck_assert_str_eq(c->directory.scope, "one");
	ck_assert_str_eq(c->directory.filter,
	    "(&(objectClass=person)(mail=*@example.org))");
	ck_assert_str_eq(c->directory.bind_dn,
	    "cn=certsync,ou=services,dc=example,dc=org");
	ck_assert_str_eq(c->directory.bind_password_file, "/etc/certsync/bind.pw");
	ck_assert_str_eq(c->directory.tls_ca_file,
	    "/etc/ssl/certs/ca-certificates.crt");
	ck_assert_int_eq(c->directory.starttls, 1);
	ck_assert_int_eq(c->directory.flavor, DIR_FLAVOR_AD);

	ck_assert_str_eq(c->ca.passphrase_file, "/etc/certsync/ca.pass");

	ck_assert_int_eq(c->certificates.key.alg, KEY_ALG_EC);
	ck_assert_int_eq(c->certificates.key.bits, 0);
	ck_assert_str_eq(c->certificates.key.curve, "P-384");
	ck_assert_str_eq(c->certificates.key.name, "ec:P-384");
	ck_assert_int_eq(c->certificates.mode, CERT_MODE_DUAL);
	ck_assert_int_eq(c->certificates.validity_days, 730);
	ck_assert_int_eq(c->certificates.backdate_minutes, 0);
	ck_assert_str_eq(c->certificates.subject,
	    "CN=%{name}, emailAddress=%{mail}, OU=People, O=Example, C=DE");
	ck_assert_int_eq(c->certificates.non_repudiation, 1);
	ck_assert_str_eq(c->certificates.crl_url, "http://pki.example.org/ca.crl");
	ck_assert_str_eq(c->certificates.aia_url,
	    "https://pki.example.org/ca.crt");
	ck_assert_str_eq(c->certificates.digest, "sha512");
	ck_assert_int_eq(c->certificates.renew_before_days, 60);

	ck_assert_str_eq(c->archive.directory, "/srv/certsync/archive");
	ck_assert_int_eq(c->archive.profile, P12_PROFILE_LEGACY);
	ck_assert_int_eq(c->archive.iterations, 2048);

	ck_assert_str_eq(c->keystore.directory, "/srv/certsync/keystore");
	ck_assert_str_eq(c->keystore.password_file, "/etc/certsync/keystore.pw");

	/* Set explicitly: the ad flavor's default does not apply. */
	ck_assert_str_eq(c->publish.certificate_attribute,
	    "userCertificate;binary");
	ck_assert_ptr_null(c->publish.smime_attribute);
	ck_assert_int_eq(c->publish.max_values, 3);

	ck_assert_str_eq(c->crl.path, "/srv/www/ca.crl");
	ck_assert_str_eq(c->crl.pem_path, "/srv/www/ca.crl.pem");
	ck_assert_int_eq(c->crl.next_update_hours, 24);

	ck_assert_str_eq(c->state.database, "/srv/certsync/state.db");

	ck_assert_int_eq(c->log.destination, LOG_DEST_SYSLOG);
	ck_assert_int_eq(c->log.level, LOG_LVL_DEBUG);
	ck_assert_int_eq(c->log.facility, LOG_LOCAL3);
	conf_free(c);
}
END_TEST

START_TEST(test_ad_flavor_attribute)
{
	struct conf *c = load_ok(MINIMAL "[directory]\nflavor = ad\n");

	ck_assert_str_eq(c->publish.certificate_attribute, "userCertificate");
	ck_assert_str_eq(c->directory.alias_attribute, "proxyAddresses");
	ck_assert_str_eq(c->directory.uid_attribute, "sAMAccountName");
	ck_assert_str_eq(c->directory.source, "auto");
	assert_has(c->directory.filter, "(proxyAddresses=smtp:*)");
	ck_assert_int_eq(c->reconcile.on_disable, DISABLE_REVOKE);
	conf_free(c);

	/* What the file sets wins over a flavor's default, "none" included. */
	c = load_ok(MINIMAL "[directory]\nflavor = ad\nalias_attribute = none\n"
	    "source = usn\nfilter = (objectClass=user)\n"
	    "[reconcile]\non_disable = unpublish\n");
	ck_assert_ptr_null(c->directory.alias_attribute);
	ck_assert_str_eq(c->directory.source, "usn");
	ck_assert_str_eq(c->directory.filter, "(objectClass=user)");
	ck_assert_int_eq(c->reconcile.on_disable, DISABLE_UNPUBLISH);
	conf_free(c);

	/* The openldap defaults are unchanged. */
	c = load_ok(MINIMAL);
	ck_assert_ptr_null(c->directory.alias_attribute);
	ck_assert_str_eq(c->directory.source, "syncrepl");
	ck_assert_str_eq(c->directory.uid_attribute, "uid");
	conf_free(c);
}
END_TEST

/* A token key's URI is kept as written; it needs its PIN, not a passphrase. */
START_TEST(test_ca_token_key)
{
	static const char base[] =
	    "[ca]\ncertificate = ca.pem\n"
	    "key = \"pkcs11:token=certsync;object=ca;type=private\"\n"
	    "[archive]\npassword_file = /etc/certsync/archive.pw\n";
	char text[1024], *err = NULL;
	struct conf *c;

	snprintf(text, sizeof(text), "%s[ca]\npin_file = ca.pin\n"
	    "max_signatures_per_minute = 60\n", base);
	c = load_ok(text);
	ck_assert_str_eq(c->ca.key, "pkcs11:token=certsync;object=ca;type=private");
	ck_assert_ptr_nonnull(strstr(c->ca.pin_file, "/ca.pin"));
	ck_assert_int_eq(c->ca.pin_file[0], '/');
	ck_assert_int_eq(c->ca.max_signatures_per_minute, 60);
	conf_free(c);
	err = load_bad(base);
	assert_has(err, "[ca] pin_file: is required with a token key");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
	snprintf(text, sizeof(text), "%s[ca]\npin_file = p\npassphrase_file = x\n",
	    base);
	err = load_bad(text);
	assert_has(err, "[ca] passphrase_file: is for a key file");
	free(err);
	assert_one_error("ca", "max_signatures_per_minute = 0",
	    "[ca] max_signatures_per_minute");
	/* Unquoted, the ';' starts a comment: the URI names no key. */
	err = load_bad("[ca]\ncertificate = ca.pem\n"
	    "key = pkcs11:token=certsync;object=ca;type=private\n"
	    "pin_file = p\n[archive]\npassword_file = /x\n");
	assert_has(err, "names no key (object= or id=); a URI with ';' in it must "
	    "be in double quotes");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_389ds_flavor)
{
	struct conf *c = load_ok(MINIMAL "[directory]\nflavor = 389ds\n");
	char *err;

	ck_assert_int_eq(c->directory.flavor, DIR_FLAVOR_389DS);
	ck_assert_str_eq(c->publish.certificate_attribute, "userCertificate;binary");
	ck_assert_str_eq(c->publish.smime_attribute, "userSMIMECertificate");
	ck_assert_str_eq(c->directory.source, "syncrepl");
	ck_assert_str_eq(c->directory.filter, "(&(objectClass=inetOrgPerson)(mail=*))");
	ck_assert_ptr_null(c->directory.alias_attribute);
	ck_assert_str_eq(c->directory.uid_attribute, "uid");
	conf_free(c);
	c = load_ok(MINIMAL "[directory]\nflavor = 389ds\nsource = poll\n");
	ck_assert_str_eq(c->directory.source, "poll");
	conf_free(c);
	err = load_bad(MINIMAL "[directory]\nflavor = 389ds\nsource = dirsync\n");
	assert_has(err, "[directory] source: dirsync works with Active Directory only");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
	err = load_bad(MINIMAL "[directory]\nflavor = 389\n");
	assert_has(err, "[directory] flavor:");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

/* The safety catch's keys: a share or a count; holds in days. */
START_TEST(test_safety_keys)
{
	static const struct { const char *text; int percent, value; } good[] = {
		{ "5%", 1, 500 }, { "0.5%", 1, 50 }, { "12.25%", 1, 1225 },
		{ "100%", 1, 10000 }, { "20", 0, 20 }, { "0", 0, 0 },
	};
	static const char *const bad[] = {
		"5 %", "0%", "101%", "5.123%", "-1", "abc", "%", "5.%", ".5%", "5%%",
		"10000001",
	};
	struct conf *c = load_ok(MINIMAL);
	char text[512], *err;

	ck_assert_int_eq(c->reconcile.max_revoke.percent, 1);
	ck_assert_int_eq(c->reconcile.max_revoke.value, 500);
	ck_assert_int_eq(c->reconcile.hold_days, 7);
	conf_free(c);
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		npaths = 0;	/* a name per load; the files stay till teardown */
		snprintf(text, sizeof(text), MINIMAL "[reconcile]\nmax_revoke = %s\n"
		    "hold_days = 0\n", good[i].text);
		c = load_ok(text);
		ck_assert_int_eq(c->reconcile.max_revoke.percent, good[i].percent);
		ck_assert_int_eq(c->reconcile.max_revoke.value, good[i].value);
		ck_assert_int_eq(c->reconcile.hold_days, 0);
		conf_free(c);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		npaths = 0;
		snprintf(text, sizeof(text), MINIMAL "[reconcile]\nmax_revoke = %s\n",
		    bad[i]);
		err = load_bad(text);
		assert_has(err, "[reconcile] max_revoke: ");
		assert_has(err, bad[i]);
		ck_assert_int_eq(count_lines(err), 1);
		free(err);
	}
	npaths = 0;
	err = load_bad(MINIMAL "[reconcile]\nhold_days = 366\n");
	assert_has(err, "[reconcile] hold_days: \"366\" is not a whole number between "
	    "0 and 365");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_ad_only_sources)
{
	char *err = load_bad(MINIMAL "[directory]\nsource = dirsync\n");

	assert_has(err, "[directory] source: dirsync works with Active Directory "
	    "only; set [directory] flavor = ad");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
	err = load_bad(MINIMAL "[directory]\nflavor = ad\nsource = ldapsync\n");
	assert_has(err, "[directory] source:");
	free(err);
}
END_TEST

START_TEST(test_ad_simple_bind_in_clear)
{
	struct conf *c;
	char *err = load_bad(MINIMAL "[directory]\nflavor = ad\n"
	    "uri = ldap://dc1.example.test\nbind_dn = CN=certsync,CN=Users,DC=x\n"
	    "bind_password_file = /etc/certsync/bind.pw\n");

	assert_has(err, "[directory] uri: a simple bind to Active Directory over "
	    "ldap:// would send the password in clear");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
	/* StartTLS, ldaps:// or GSSAPI (sealed) protect it; OpenLDAP is not
	 * refused (a loopback slapd, say). */
	c = load_ok(MINIMAL "[directory]\nflavor = ad\nuri = ldap://dc1.example.test\n"
	    "starttls = yes\nbind_dn = CN=certsync,CN=Users,DC=x\n"
	    "bind_password_file = /etc/certsync/bind.pw\n");
	conf_free(c);
	c = load_ok(MINIMAL "[directory]\nflavor = ad\nuri = LDAPS://dc1.example.test\n"
	    "bind_dn = CN=certsync,CN=Users,DC=x\n"
	    "bind_password_file = /etc/certsync/bind.pw\n");
	conf_free(c);
	c = load_ok(MINIMAL "[directory]\nflavor = ad\nuri = ldap://dc1.example.test\n"
	    "sasl_mech = GSSAPI\n");
	conf_free(c);
	c = load_ok(MINIMAL "[directory]\nuri = ldap://127.0.0.1:3890\n"
	    "bind_dn = cn=certsync,dc=x\nbind_password_file = /etc/certsync/bind.pw\n");
	conf_free(c);
}
END_TEST

START_TEST(test_relative_paths)
{
	static const char text[] =
	    "[directory]\n"
	    "bind_password_file = secret/bind.pw\n"
	    "tls_ca_file = ldap-ca.pem\n"
	    "[ca]\n"
	    "certificate = ca/ca.pem\n"
	    "key = ./ca/ca.key\n"
	    "passphrase_file = ../ca.pass\n"
	    "[archive]\n"
	    "directory = archive\n"
	    "password_file = archive.pw\n"
	    "[keystore]\n"
	    "directory = keystore\n"
	    "password_file = keystore.pw\n"
	    "[crl]\n"
	    "path = crl/ca.crl\n"
	    "pem_path = crl/ca.pem\n"
	    "[state]\n"
	    "database = state.db\n"
	    "[certificates]\n"
	    "subject = CN=not/a/path\n";
	struct {
		const char *got, *rel;
	} *p, expect[13];
	char want[DIR_MAX + 64];
	struct conf *c = load_ok(text);
	size_t i = 0;

#define EXPECT(field, rel_) \
	expect[i].got = c->field; expect[i].rel = rel_; i++
	EXPECT(directory.bind_password_file, "secret/bind.pw");
	EXPECT(directory.tls_ca_file, "ldap-ca.pem");
	EXPECT(ca.certificate, "ca/ca.pem");
	EXPECT(ca.key, "./ca/ca.key");
	EXPECT(ca.passphrase_file, "../ca.pass");
	EXPECT(archive.directory, "archive");
	EXPECT(archive.password_file, "archive.pw");
	EXPECT(keystore.directory, "keystore");
	EXPECT(keystore.password_file, "keystore.pw");
	EXPECT(crl.path, "crl/ca.crl");
	EXPECT(crl.pem_path, "crl/ca.pem");
	EXPECT(state.database, "state.db");
#undef EXPECT
	ck_assert_uint_eq(i, 12);
	for (p = expect; p < expect + i; p++) {
		snprintf(want, sizeof(want), "%s/%s", realdir, p->rel);
		ck_assert_ptr_nonnull(p->got);
		ck_assert_str_eq(p->got, want);
	}
	/* Not a path: left alone. */
	ck_assert_str_eq(c->certificates.subject, "CN=not/a/path");
	conf_free(c);
}
END_TEST

/* The file named by a path relative to the working directory. */
START_TEST(test_relative_file_name)
{
	char sub[DIR_MAX + 64], file[DIR_MAX + 64], want[DIR_MAX + 64];
	char cwd[PATH_MAX];
	struct conf *c = NULL;
	char *err = NULL;
	int rc = -1;
	FILE *f = NULL;

	snprintf(sub, sizeof(sub), "%s/etc", tmpdir);
	ck_assert_int_eq(mkdir(sub, 0700), 0);
	snprintf(file, sizeof(file), "%s/etc/certsync.conf", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(file, "w"));
	fputs(MINIMAL "[state]\ndatabase = state.db\n", f);
	fclose(f);
	ck_assert_ptr_nonnull(getcwd(cwd, sizeof(cwd)));
	ck_assert_int_eq(chdir(tmpdir), 0);
	err = load_captured("etc/certsync.conf", &c, &rc);
	ck_assert_int_eq(chdir(cwd), 0);
	ck_assert_msg(rc == 0, "rc %d: %s", rc, err);
	free(err);

	snprintf(want, sizeof(want), "%s/etc/certsync.conf", realdir);
	ck_assert_str_eq(c->path, want);
	snprintf(want, sizeof(want), "%s/etc/state.db", realdir);
	ck_assert_str_eq(c->state.database, want);
	conf_free(c);
}
END_TEST

START_TEST(test_words_ignore_case)
{
	struct conf *c = load_ok(MINIMAL
	    "[directory]\nflavor = AD\nscope = One\nstarttls = TRUE\n"
	    "[certificates]\nkey_type = EC:p-256\ndigest = SHA384\n"
	    "mode = Dual\n"
	    "[log]\nlevel = Warning\nfacility = LOCAL7\ndestination = SysLog\n");

	ck_assert_int_eq(c->directory.flavor, DIR_FLAVOR_AD);
	/* Strings come back in the one spelling the code compares with. */
	ck_assert_str_eq(c->directory.scope, "one");
	ck_assert_int_eq(c->directory.starttls, 1);
	ck_assert_str_eq(c->certificates.key.name, "ec:P-256");
	ck_assert_str_eq(c->certificates.key.curve, "P-256");
	ck_assert_str_eq(c->certificates.digest, "sha384");
	ck_assert_int_eq(c->certificates.mode, CERT_MODE_DUAL);
	ck_assert_int_eq(c->log.level, LOG_LVL_WARNING);
	ck_assert_int_eq(c->log.facility, LOG_LOCAL7);
	ck_assert_int_eq(c->log.destination, LOG_DEST_SYSLOG);
	conf_free(c);
}
END_TEST

static const struct {
	const char *text;
	int value;
} bool_spellings[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 },
};

START_TEST(test_bool_spellings)
{
	char text[512];
	struct conf *c = NULL;

	snprintf(text, sizeof(text), MINIMAL "[certificates]\n"
	    "non_repudiation = %s\n", bool_spellings[_i].text);
	c = load_ok(text);
	ck_assert_int_eq(c->certificates.non_repudiation,
	    bool_spellings[_i].value);
	conf_free(c);
}
END_TEST

START_TEST(test_key_specs)
{
	static const struct {
		const char *text;
		enum key_alg alg;
		int bits;
		const char *curve;
	} ok[] = {
		{ "rsa:2048", KEY_ALG_RSA, 2048, NULL },
		{ "rsa:3072", KEY_ALG_RSA, 3072, NULL },
		{ "rsa:4096", KEY_ALG_RSA, 4096, NULL },
		{ "ec:P-256", KEY_ALG_EC, 0, "P-256" },
		{ "ec:P-384", KEY_ALG_EC, 0, "P-384" },
	};
	static const char *const bad[] = {
		"rsa:1024", "rsa", "ec:P-521", "ed25519", "", " rsa:2048",
	};
	struct key_spec spec;
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		memset(&spec, 0xa5, sizeof(spec));
		ck_assert_int_eq(conf_parse_key_spec(ok[i].text, &spec), 0);
		ck_assert_int_eq(spec.alg, ok[i].alg);
		ck_assert_int_eq(spec.bits, ok[i].bits);
		if (ok[i].curve == NULL)
			ck_assert_ptr_null(spec.curve);
		else
			ck_assert_str_eq(spec.curve, ok[i].curve);
		ck_assert_str_eq(spec.name, ok[i].text);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(conf_parse_key_spec(bad[i], &spec), -1);
	ck_assert_int_eq(conf_parse_key_spec(NULL, &spec), -1);
}
END_TEST

START_TEST(test_comments_quotes_and_case)
{
	struct conf *c = load_ok(
	    "# comment\n"
	    "; another\n"
	    "[CA]\n"
	    "Certificate = /etc/ca.pem   ; the CA\n"
	    "KEY = \"/etc/with space/ca.key\"\n"
	    "[archive]\n"
	    "password_file = /etc/archive.pw # trailing\n"
	    "[certificates]\n"
	    "crl_url = \"http://pki.example.org/crl#frag\"\n"
	    "validity_days = 100\n"
	    "renew_before_days = 99\n");

	ck_assert_str_eq(c->ca.certificate, "/etc/ca.pem");
	ck_assert_str_eq(c->ca.key, "/etc/with space/ca.key");
	ck_assert_str_eq(c->archive.password_file, "/etc/archive.pw");
	ck_assert_str_eq(c->certificates.crl_url,
	    "http://pki.example.org/crl#frag");
	ck_assert_int_eq(c->certificates.renew_before_days, 99);
	conf_free(c);
}
END_TEST

/* Stored the way issue.c splits it and OpenSSL names attributes. */
START_TEST(test_subject_normalized)
{
	struct conf *c = load_ok(MINIMAL "[certificates]\n"
	    "subject = cn = %{name} ,o=Example Org ,  serialnumber=%{uid}, "
	    "EMAILADDRESS=%{mail}\n");

	ck_assert_str_eq(c->certificates.subject, "CN=%{name}, O=Example Org, "
	    "serialNumber=%{uid}, emailAddress=%{mail}");
	conf_free(c);
}
END_TEST

START_TEST(test_empty_optional_is_unset)
{
	struct conf *c = load_ok(MINIMAL
	    "[directory]\nbase =\nbind_dn = \"\"\n"
	    "[keystore]\npassword_file =\n"
	    "[certificates]\ncrl_url =\n");

	ck_assert_ptr_null(c->directory.base);
	ck_assert_ptr_null(c->directory.bind_dn);
	ck_assert_ptr_null(c->certificates.crl_url);
	/* Empty is unset, so the default from [archive] applies. */
	ck_assert_str_eq(c->keystore.password_file, "/etc/certsync/archive.pw");
	conf_free(c);
}
END_TEST

START_TEST(test_http)
{
	struct conf *c = load_ok(MINIMAL);
	char host[CONF_HOST_MAX], *err = NULL;
	const char *why = NULL;
	int port = 0;

	/* Off by default. */
	ck_assert_ptr_null(c->http.listen);
	ck_assert_int_eq(c->http.revocation_delay_max, 600);
	ck_assert_int_eq(c->http.timeout, 10);
	conf_free(c);
	c = load_ok(MINIMAL "[http]\nlisten =  127.0.0.1:8080\t[::1]:9090 \n"
	    "[certificates]\ncrl_url = http://pki.example.org/ca.crl\n");
	ck_assert_int_eq(conf_listen_item(c->http.listen, 0, host, &port, &why), 1);
	ck_assert_str_eq(host, "127.0.0.1");
	ck_assert_int_eq(port, 8080);
	ck_assert_int_eq(conf_listen_item(c->http.listen, 1, host, &port, &why), 1);
	ck_assert_str_eq(host, "::1");
	ck_assert_int_eq(port, 9090);
	ck_assert_int_eq(conf_listen_item(c->http.listen, 2, host, &port, &why), 0);
	conf_free(c);
	/* The listener's own paths, and one path for two files, are refused
	 * only when there is a listener. */
	err = load_bad(MINIMAL "[http]\nlisten = 127.0.0.1:8080\n[certificates]\n"
	    "crl_url = http://pki.example.org/metrics?x\n");
	assert_has(err, "[certificates] crl_url: its path /metrics is the HTTP "
	    "listener's own ([http] listen)");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
	err = load_bad(MINIMAL "[http]\nlisten = 127.0.0.1:8080\n[certificates]\n"
	    "crl_url = http://a.example.org/x/ca\naia_url = https://b.example.org/x/ca\n");
	assert_has(err, "[certificates] aia_url: has the same path as crl_url (/x/ca)");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
	err = load_bad(MINIMAL "[http]\nlisten = 127.0.0.1:8080\n[certificates]\n"
	    "aia_url = http://pki.example.org/healthz\n");
	assert_has(err, "[certificates] aia_url: its path /healthz");
	free(err);
	conf_free(load_ok(MINIMAL "[certificates]\ncrl_url = http://pki.example.org/metrics\n"));
	conf_free(load_ok(MINIMAL "[http]\nlisten = 127.0.0.1:8080\n[certificates]\n"
	    "crl_url = ldap://ldap.example.org/metrics\n"));
}
END_TEST

/* Reads a file of the source tree, or returns NULL when run outside it. */
static char *
read_source(const char *rel)
{
	const char *src = getenv("CS_SRCDIR");
	char path[PATH_MAX], *text = NULL;
	long len;
	FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/%s", src != NULL ? src : ".", rel);
	if ((f = fopen(path, "r")) == NULL) {
		/* make check sets CS_SRCDIR: there, a missing file is a bug. */
		ck_assert_msg(src == NULL, "cannot open %s", path);
		return NULL;
	}
	fseek(f, 0, SEEK_END);
	len = ftell(f);
	rewind(f);
	ck_assert_ptr_nonnull(text = calloc(1, (size_t)len + 1));
	ck_assert_int_eq(fread(text, 1, (size_t)len, f), (size_t)len);
	fclose(f);
	return text;
}

static char *
read_example(void)
{
	return read_source("conf/certsync.conf.example");
}

/*
 * The example must load as shipped, and with every "#key = value" line
 * uncommented: so each documented default or sample value is valid, and
 * every key is in it.
 */
START_TEST(test_example_file)
{
	char *text = NULL, *all = NULL, *line = NULL, *out = NULL;
	struct conf *c = NULL;
	int keys = 0;

	if ((text = read_example()) == NULL)
		return;
	c = load_ok(text);
	ck_assert_str_eq(c->archive.password_file, "/etc/certsync/archive.pw");
	conf_free(c);

	ck_assert_ptr_nonnull(all = calloc(1, strlen(text) + 1));
	out = all;
	for (line = text; *line != '\0'; ) {
		size_t len = strcspn(line, "\n");
		size_t name = strspn(line + 1, "abcdefghijklmnopqrstuvwxyz_0123456789");

		if (line[0] == '#' && name > 0 &&
		    strncmp(line + 1 + name, " = ", 3) == 0) {
			line++;
			len--;
		}
		if (strspn(line, "abcdefghijklmnopqrstuvwxyz_0123456789") > 0 &&
		    strstr(line, " = ") != NULL &&
		    strstr(line, " = ") < line + len)
			keys++;
		memcpy(out, line, len);
		out += len;
		line += len;
		if (*line == '\n')
			*out++ = *line++;
	}
	ck_assert_int_eq(keys, 77);
	c = load_ok(all);
	ck_assert_str_eq(c->keystore.password_file, "/etc/certsync/keystore.pw");
	ck_assert_ptr_nonnull(c->certificates.crl_url);
	ck_assert_str_eq(c->publish.certificate_attribute,
	    "userCertificate;binary");
	/* The keys without a default show a sample value. */
	ck_assert_ptr_nonnull(c->directory.tls_cert_file);
	ck_assert_ptr_nonnull(c->directory.tls_key_file);
	ck_assert_str_eq(c->directory.sasl_mech, "EXTERNAL");
	ck_assert_ptr_nonnull(c->daemon.delivery_hook);
	ck_assert_ptr_nonnull(c->daemon.pid_file);
	ck_assert_str_eq(c->archive.recovery_agents, "/etc/certsync/kra/*.pem");
	ck_assert_int_eq(c->archive.recovery_quorum, 1);
	/* "none" is the default spelled out: still unset. */
	ck_assert_ptr_null(c->directory.alias_attribute);
	/* The others show their default. */
	ck_assert_int_eq(c->directory.tls_verify, 1);
	ck_assert_str_eq(c->directory.source, "syncrepl");
	ck_assert_int_eq(c->directory.full_reconcile_hours, 24);
	ck_assert_int_eq(c->reconcile.on_address_change, 1);
	ck_assert_int_eq(c->reconcile.ca_change_per_minute, 10);
	ck_assert_int_eq(c->daemon.delivery_timeout, 60);
	ck_assert_ptr_nonnull(c->http.listen);
	ck_assert_int_eq(c->http.timeout, 10);
	conf_free(c);
	free(all);
	free(text);
}
END_TEST

/*
 * Documentation coverage.  The key table is static in conf.c, so it is read
 * from the source: every K_...("section", "key", ...) entry between
 * "conf_keys[] = {" and the "};" that ends it.
 */
#define MAX_KEYS 128

struct doc_key {
	char section[32], key[48];
};

/* Appends section/key to keys unless there already; 0, or -1 if malformed. */
static int
add_doc_key(struct doc_key *keys, size_t *n, const char *section,
    size_t slen, const char *key, size_t klen)
{
	size_t i;

	if (slen == 0 || slen >= sizeof(keys[0].section) || klen == 0 ||
	    klen >= sizeof(keys[0].key))
		return -1;
	for (i = 0; i < *n; i++)
		if (strlen(keys[i].section) == slen &&
		    strncmp(keys[i].section, section, slen) == 0 &&
		    strlen(keys[i].key) == klen &&
		    strncmp(keys[i].key, key, klen) == 0)
			return 0;
	ck_assert_uint_lt(*n, MAX_KEYS);
	memcpy(keys[*n].section, section, slen);
	keys[*n].section[slen] = '\0';
	memcpy(keys[*n].key, key, klen);
	keys[*n].key[klen] = '\0';
	(*n)++;
	return 0;
}

static int
has_doc_key(const struct doc_key *keys, size_t n, const struct doc_key *k)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (strcmp(keys[i].section, k->section) == 0 &&
		    strcmp(keys[i].key, k->key) == 0)
			return 1;
	return 0;
}

/* A quoted string at *p: its start and length, *p moved past it. */
static int
quoted(const char **p, const char **start, size_t *len)
{
	const char *end = NULL;

	*p += strspn(*p, " \t\n");
	if (**p != '"' || (end = strchr(*p + 1, '"')) == NULL)
		return -1;
	*start = *p + 1;
	*len = (size_t)(end - *start);
	*p = end + 1;
	return 0;
}

static size_t
table_keys(const char *src, struct doc_key *keys)
{
	const char *p = strstr(src, "conf_keys[] = {"), *end = NULL;
	const char *sec = NULL, *key = NULL;
	size_t n = 0, slen, klen;

	ck_assert_msg(p != NULL, "no conf_keys[] table in src/lib/conf.c");
	ck_assert_ptr_nonnull(end = strstr(p, "\n};"));
	while ((p = strstr(p, "K_")) != NULL && p < end) {
		p += 2;
		if (strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 0 ||
		    p[strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ")] != '(')
			continue;	/* not a macro call */
		p += strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") + 1;
		ck_assert_msg(quoted(&p, &sec, &slen) == 0 && *p++ == ',' &&
		    quoted(&p, &key, &klen) == 0 &&
		    add_doc_key(keys, &n, sec, slen, key, klen) == 0,
		    "cannot read an entry of conf_keys[] near: %.60s", p);
	}
	/* A table entry written without a K_ macro would be missed. */
	p = strstr(src, "conf_keys[] = {");
	while ((p = strstr(p + 1, "\n\t{")) != NULL && p < end)
		ck_abort_msg("conf_keys[] entry without a K_ macro: %.60s",
		    p + 2);
	return n;
}

/* "[section]" headers and "key = value" lines, commented out or not. */
static size_t
example_keys(const char *text, struct doc_key *keys)
{
	const char *line = NULL, *close = NULL;
	char section[32] = "";
	size_t n = 0, len, name;

	for (line = text; *line != '\0'; line += len + (line[len] == '\n')) {
		len = strcspn(line, "\n");
		if (line[0] == '[' && (close = strchr(line, ']')) != NULL &&
		    close < line + len &&
		    (size_t)(close - line - 1) < sizeof(section)) {
			snprintf(section, sizeof(section), "%.*s",
			    (int)(close - line - 1), line + 1);
			continue;
		}
		name = strspn(line + (line[0] == '#'),
		    "abcdefghijklmnopqrstuvwxyz_0123456789");
		if (name > 0 && strncmp(line + (line[0] == '#') + name,
		    " = ", 3) == 0)
			ck_assert_int_eq(add_doc_key(keys, &n, section,
			    strlen(section), line + (line[0] == '#'), name), 0);
	}
	return n;
}

/*
 * In "SECTIONS AND KEYS": ".SS [section]" and, after each ".TP" there that
 * is not indented by .RS (a list inside a key's text), a ".B key" or
 * ".BR key ..." line.
 */
static size_t
man_keys(const char *text, struct doc_key *keys)
{
	const char *line = NULL, *close = NULL, *name = NULL;
	char section[32] = "";
	size_t n = 0, len;
	int in_keys = 0, after_tp = 0, nested = 0;

	for (line = text; *line != '\0'; line += len + (line[len] == '\n')) {
		len = strcspn(line, "\n");
		if (strncmp(line, ".SH ", 4) == 0) {
			in_keys = strncmp(line, ".SH SECTIONS AND KEYS",
			    21) == 0;
			section[0] = '\0';
		} else if (in_keys && strncmp(line, ".SS [", 5) == 0 &&
		    (close = strchr(line, ']')) != NULL && close < line + len &&
		    (size_t)(close - line - 5) < sizeof(section))
			snprintf(section, sizeof(section), "%.*s",
			    (int)(close - line - 5), line + 5);
		else if (strncmp(line, ".RS", 3) == 0)
			nested++;
		else if (strncmp(line, ".RE", 3) == 0 && nested > 0)
			nested--;
		else if (in_keys && section[0] != '\0' && after_tp && !nested &&
		    (strncmp(line, ".B ", 3) == 0 ||
		    strncmp(line, ".BR ", 4) == 0)) {
			name = line + (line[2] == 'R' ? 4 : 3);
			ck_assert_int_eq(add_doc_key(keys, &n, section,
			    strlen(section), name,
			    strspn(name, "abcdefghijklmnopqrstuvwxyz_0123456789")), 0);
		}
		after_tp = strncmp(line, ".TP", 3) == 0 && len == 3;
	}
	return n;
}

/* Every key of the table is in the example and in certsync.conf(5). */
START_TEST(test_keys_documented)
{
	static struct doc_key table[MAX_KEYS], example[MAX_KEYS], man[MAX_KEYS];
	char *src = NULL, *ex = NULL, *page = NULL;
	size_t ntable, nex, nman, i;

	if ((src = read_source("src/lib/conf.c")) == NULL)
		return;
	ck_assert_ptr_nonnull(ex = read_example());
	ck_assert_ptr_nonnull(page = read_source("man/certsync.conf.5"));
	ntable = table_keys(src, table);
	nex = example_keys(ex, example);
	nman = man_keys(page, man);
	/* Each list is read right: no fewer keys than the file had in 0.1. */
	ck_assert_uint_ge(ntable, 38);
	ck_assert_uint_ge(nex, 38);
	ck_assert_uint_ge(nman, 38);

	for (i = 0; i < ntable; i++) {
		ck_assert_msg(has_doc_key(example, nex, &table[i]),
		    "[%s] %s is not in conf/certsync.conf.example",
		    table[i].section, table[i].key);
		ck_assert_msg(has_doc_key(man, nman, &table[i]),
		    "[%s] %s is not in man/certsync.conf.5",
		    table[i].section, table[i].key);
	}
	/* And nothing is documented that the table does not have. */
	for (i = 0; i < nex; i++)
		ck_assert_msg(has_doc_key(table, ntable, &example[i]),
		    "conf/certsync.conf.example has [%s] %s, not a known key",
		    example[i].section, example[i].key);
	for (i = 0; i < nman; i++)
		ck_assert_msg(has_doc_key(table, ntable, &man[i]),
		    "man/certsync.conf.5 documents [%s] %s, not a known key",
		    man[i].section, man[i].key);
	free(src);
	free(ex);
	free(page);
}
END_TEST

/* The CA process is given the text the agent read, not the file. */
START_TEST(test_load_fd_text_not_file)
{
	static const char text[] = MINIMAL "[state]\ndatabase = state.db\n";
	char want[DIR_MAX + 64], *path = realpath(write_conf("[ca\n"), NULL);
	struct conf *c = NULL;
	int fds[2];

	ck_assert_ptr_nonnull(path);		/* broken on disk */
	ck_assert_int_eq(pipe(fds), 0);
	ck_assert_int_eq(write(fds[1], text, strlen(text)), (ssize_t)strlen(text));
	close(fds[1]);
	ck_assert_int_eq(conf_load_fd(path, fds[0], &c), 0);
	close(fds[0]);
	ck_assert_ptr_nonnull(c);
	ck_assert_str_eq(c->path, path);
	snprintf(want, sizeof(want), "%s/state.db", realdir);
	ck_assert_str_eq(c->state.database, want);
	ck_assert_uint_eq(c->text_len, strlen(text));
	ck_assert_int_eq(memcmp(c->text, text, strlen(text)), 0);
	conf_free(c);
	free(path);
}
END_TEST

/* ---- files that must be refused --------------------------------------- */

START_TEST(test_missing_file)
{
	char path[DIR_MAX + 64], *err = NULL;

	snprintf(path, sizeof(path), "%s/no-such.conf", tmpdir);
	err = load_path_bad(path);
	assert_has(err, ": cannot read: No such file or directory\n");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_directory_not_file)
{
	char *err = load_path_bad(tmpdir);

	assert_has(err, "cannot read: Is a directory");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_too_large)
{
	char path[DIR_MAX + 64], *err = NULL;
	FILE *f = NULL;

	snprintf(path, sizeof(path), "%s/large.conf", tmpdir);
	ck_assert_ptr_nonnull(f = fopen(path, "w"));
	for (int i = 0; i < 1024 * 1024 / 16 + 1; i++)
		fputs("# sixteen bytes\n", f);
	fclose(f);
	err = load_path_bad(path);
	assert_has(err, "cannot read: larger than 1048576 bytes");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_fifo_not_file)
{
	char path[DIR_MAX + 64], *err = NULL;

	snprintf(path, sizeof(path), "%s/fifo", tmpdir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	/* Would hang (and time out) if conf.c opened it for reading plainly. */
	err = load_path_bad(path);
	assert_has(err, "cannot read: not a regular file");
	free(err);
}
END_TEST

START_TEST(test_unreadable_file)
{
	const char *path = write_conf(MINIMAL);
	char *err = NULL;

	if (geteuid() == 0)
		return;		/* root reads mode 000 files */
	ck_assert_int_eq(chmod(path, 0), 0);
	err = load_path_bad(path);
	assert_has(err, "cannot read: Permission denied");
	free(err);
}
END_TEST

START_TEST(test_syntax_error)
{
	char *err = load_bad(MINIMAL "this line has no equals sign\n"
	    "[certificates]\nvalidity_days = 30\nanother bad line\n");

	assert_has(err, ": line 6: syntax error");
	assert_has(err, ": line 9: syntax error");
	/* The lines themselves are never echoed. */
	assert_lacks(err, "equals sign");
	assert_lacks(err, "->");
	/* And the good lines between them are read and checked too. */
	assert_has(err, "[certificates] renew_before_days: 30 must be less than "
	    "[certificates] validity_days (30)");
	ck_assert_int_eq(count_lines(err), 3);
	free(err);
}
END_TEST

START_TEST(test_line_too_long)
{
	char text[4096], *err = NULL;

	snprintf(text, sizeof(text), MINIMAL "[directory]\nbase = %03000d\n", 0);
	err = load_bad(text);

	assert_has(err, ": line 7: line too long");
	free(err);
}
END_TEST

START_TEST(test_unknown_section)
{
	char *err = load_bad(MINIMAL "[foo]\nbar = 1\n");

	assert_has(err, ": [foo]: unknown section\n");
	/* Its keys are not reported one by one. */
	assert_lacks(err, "bar");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_unknown_key)
{
	char *err = load_bad(MINIMAL "[ca]\nkeyy = /etc/x\n");

	assert_has(err, ": [ca] keyy: unknown key\n");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_key_outside_section)
{
	char *err = load_bad("stray = 1\n" MINIMAL);

	assert_has(err, ": stray: key outside any section\n");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_empty_section_header)
{
	char *err = load_bad("[]\nlost = 1\n" MINIMAL);

	assert_has(err, ": lost: key outside any section\n");
	free(err);
}
END_TEST

START_TEST(test_colon_section)
{
	char *err = load_bad(MINIMAL "[ca:extra]\nx = 1\n");

	assert_has(err, ": [ca:extra]: unknown section\n");
	free(err);
}
END_TEST

/* A line of a pasted PEM key parses as a key: its name must not be logged. */
START_TEST(test_odd_names_not_echoed)
{
	char *err = load_bad(MINIMAL
	    "[ca]\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7+x/y = 1\n");

	assert_has(err, "[ca] (a name that is not shown): unknown key");
	assert_lacks(err, "miiev");
	free(err);
}
END_TEST

START_TEST(test_bad_int)
{
	char *err = load_bad(MINIMAL "[certificates]\nvalidity_days = abc\n");

	assert_has(err, ": [certificates] validity_days: \"abc\" is not a "
	    "whole number between 1 and 3650\n");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

/* Long values for the subject bounds: 8 characters, and "OU=ab," 160 times. */
#define X8 "xxxxxxxx"
#define OU6 "OU=ab,"
#define OU60 OU6 OU6 OU6 OU6 OU6 OU6 OU6 OU6 OU6 OU6
#define OU960 OU60 OU60 OU60 OU60 OU60 OU60 OU60 OU60 OU60 OU60 OU60 OU60 OU60 \
    OU60 OU60 OU60

static const struct {
	const char *section, *line, *what;
} bad_values[] = {
	/* integers: junk, signs, overflow, and both ends of every range */
	{ "certificates", "validity_days = 0", "between 1 and 3650" },
	{ "certificates", "validity_days = 3651", "between 1 and 3650" },
	{ "certificates", "validity_days = -1", "between 1 and 3650" },
	{ "certificates", "validity_days = +5", "\"+5\"" },
	{ "certificates", "validity_days = 5x", "\"5x\"" },
	{ "certificates", "validity_days = \" 5\"", "\" 5\"" },
	{ "certificates", "validity_days = 1.5", "\"1.5\"" },
	{ "certificates", "validity_days = 99999999999999999999",
	    "between 1 and 3650" },
	{ "certificates", "backdate_minutes = 1441", "between 0 and 1440" },
	{ "certificates", "backdate_minutes = -1", "between 0 and 1440" },
	{ "certificates", "renew_before_days = -1", "between 0 and 3649" },
	{ "archive", "iterations = 999", "between 1000 and 10000000" },
	{ "archive", "iterations = 10000001", "between 1000 and 10000000" },
	{ "publish", "max_values = 0", "[publish] max_values: \"0\"" },
	{ "publish", "max_values = 16", "between 1 and 15" },
	{ "crl", "next_update_hours = 0", "between 1 and 8760" },
	{ "crl", "next_update_hours = 8761", "between 1 and 8760" },
	/* booleans */
	{ "directory", "starttls = maybe",
	    "[directory] starttls: \"maybe\" is not a yes or no value (one of: "
	    "yes, no, true, false, on, off, 1, 0)" },
	{ "certificates", "non_repudiation = 2", "non_repudiation: \"2\"" },
	/* enums */
	{ "directory", "flavor = novell",
	    "[directory] flavor: \"novell\" is not one of: openldap, ad" },
	{ "directory", "scope = base", "is not one of: sub, one" },
	{ "certificates", "mode = both", "is not one of: separate, dual" },
	{ "certificates", "digest = sha1",
	    "is not one of: sha256, sha384, sha512" },
	{ "archive", "profile = des", "is not one of: aes256, legacy" },
	{ "log", "destination = file", "is not one of: stderr, syslog" },
	{ "log", "facility = local8", "[log] facility: \"local8\" is not one "
	    "of: daemon, user, auth, authpriv, local0, local1" },
	{ "log", "level = verbose", "[log] level: \"verbose\" is not one of: "
	    "error, warning, notice, info, debug" },
	{ "log", "level = debugging", "\"debugging\"" },
	{ "log", "level = debug-and-more-than-sixteen", "[log] level" },
	/* key types */
	{ "certificates", "key_type = rsa:1024",
	    "[certificates] key_type: \"rsa:1024\" is not one of: rsa:2048, "
	    "rsa:3072, rsa:4096, ec:P-256, ec:P-384" },
	{ "certificates", "key_type = ed25519", "\"ed25519\"" },
	/* URLs for extensions */
	{ "certificates", "crl_url = ftp://pki.example.org/ca.crl",
	    "[certificates] crl_url: \"ftp://pki.example.org/ca.crl\" is not a "
	    "URL starting with http://, https:// or ldap://" },
	{ "certificates", "crl_url = http://", "is not a URL" },
	{ "certificates", "crl_url = pki.example.org/ca.crl", "is not a URL" },
	{ "certificates", "crl_url = \"http://a b/ca.crl\"",
	    "must not contain spaces" },
	{ "certificates", "crl_url = http://a/ca.crl,URI:http://b",
	    "must not contain spaces, commas" },
	{ "certificates", "aia_url = http://a/\"ca.crt", "aia_url: " },
	{ "certificates", "aia_url = http://a/\xc3\xa9.crt", "non-ASCII" },
	{ "certificates", "aia_url = \"http://a/\tb\"", "aia_url" },
	/* [http] listen: IP literals and ports, IPv6 in brackets */
	{ "http", "listen = localhost:8080", "[http] listen: \"localhost:8080\": "
	    "the address is not an IPv4 address (IPv6 goes in brackets)" },
	{ "http", "listen = 127.0.0.1", "is not ADDRESS:PORT, like 127.0.0.1:8080" },
	{ "http", "listen = :8080", "is not ADDRESS:PORT" },
	{ "http", "listen = 127.0.0.1:0", "the port is not a number between 1 and 65535" },
	{ "http", "listen = 127.0.0.1:65536", "between 1 and 65535" },
	{ "http", "listen = 127.0.0.1:80a", "between 1 and 65535" },
	{ "http", "listen = 127.0.0.1:123456", "between 1 and 65535" },
	{ "http", "listen = ::1:8080", "(IPv6 goes in brackets)" },
	{ "http", "listen = [::1]8080", "an IPv6 address goes in brackets, like [::1]:8080" },
	{ "http", "listen = [::1:8080", "goes in brackets" },
	{ "http", "listen = [127.0.0.1]:80", "the address in brackets is not an IPv6 address" },
	{ "http", "listen = []:80", "is not an IPv6 address" },
	{ "http", "listen = 127.0.0.1:1 127.0.0.1:2 127.0.0.1:3 127.0.0.1:4 "
	    "127.0.0.1:5 127.0.0.1:6 127.0.0.1:7 127.0.0.1:8 127.0.0.1:9",
	    "more than 8 addresses" },
	{ "http", "listen = 127.0.0.1:8080 nonsense", "\"127.0.0.1:8080 nonsense\": "
	    "is not ADDRESS:PORT" },
	{ "http", "revocation_delay_max = 0", "between 1 and 86400" },
	{ "http", "timeout = 301", "[http] timeout: \"301\" is not a whole number "
	    "between 1 and 300" },
	/* the directory URI */
	{ "directory", "uri = http://ldap.example.org",
	    "[directory] uri: \"http://ldap.example.org\" is not one URI "
	    "starting with ldap://, ldaps:// or ldapi://" },
	{ "directory", "uri = ldap.example.org", "[directory] uri" },
	{ "directory", "uri = ldap://a ldap://b", "is not one URI" },
	/* filter and attributes */
	{ "directory", "filter = mail=*", "[directory] filter: \"mail=*\"" },
	{ "directory", "filter = (mail=*", "balanced parentheses" },
	{ "directory", "filter = (a=1)(b=2)", "balanced parentheses" },
	{ "directory", "filter = (a=1))", "balanced parentheses" },
	{ "publish", "certificate_attribute = user certificate",
	    "[publish] certificate_attribute: \"user certificate\" is not an "
	    "LDAP attribute name" },
	{ "publish", "smime_attribute = \";binary\"", "\";binary\" is not" },
	{ "publish", "smime_attribute = \"userCertificate;\"", "is not an LDAP" },
	{ "publish", "smime_attribute = \"a;;b\"", "is not an LDAP" },
	/* subject templates */
	{ "certificates", "subject = XX=%{name}",
	    "[certificates] subject: unknown attribute \"XX\" (known: CN, O, "
	    "OU, C, L, ST, serialNumber, emailAddress)" },
	{ "certificates", "subject = CN=%{nmae}",
	    "[certificates] subject: unknown variable %{nmae} (known: %{name}, "
	    "%{given}, %{sn}, %{mail}, %{uid})" },
	{ "certificates", "subject = CN=%{Name}", "unknown variable %{Name}" },
	{ "certificates", "subject = CN=%{name", "without a closing }" },
	{ "certificates", "subject = CN=", "CN has an empty value" },
	{ "certificates", "subject = CN", "\"CN\" is not ATTRIBUTE=VALUE" },
	{ "certificates", "subject = CN=%{name},,O=x", "empty part" },
	{ "certificates", "subject = CN=%{name},", "empty part" },
	{ "certificates", "subject = CN=%{name}, C=Germany",
	    "not a two-letter country code" },
	{ "certificates", "subject = =x", "unknown attribute \"\"" },
	/* fixed text issue.c would refuse for every user (found by
	 * tests/fuzz/fuzz_conf.c: such a file was accepted) */
	{ "certificates", "subject = CN=%{name}, O=Caf\xe9",
	    "[certificates] subject: subject O is not valid UTF-8 (byte 0xE9 at "
	    "position 4)" },
	{ "certificates", "subject = CN=%{name} \xc2\x85", "subject CN contains a "
	    "control character" },
	{ "certificates", "subject = CN=" X8 X8 X8 X8 X8 X8 X8 X8 "x",
	    "subject CN would be 65 characters long; RFC 5280 allows at most 64" },
	{ "certificates", "subject = CN=%{given} " X8 X8 X8 X8 X8 X8 X8 X8,
	    "subject CN would be at least 65 characters long" },
	{ "certificates", "subject = CN=%{name}, C=\xc3\xa9",
	    "subject C would be 1 characters long; it must be exactly 2" },
	{ "certificates", "subject = CN=%{name}, emailAddress=j\xc3\xbcrgen@%{uid}",
	    "subject emailAddress has a character at position 2 that an "
	    "IA5String (ASCII) cannot hold" },
	{ "certificates", "subject = CN=%{name}, serialNumber=a_b",
	    "subject serialNumber has a character at position 2 that a "
	    "PrintableString" },
	{ "certificates", "subject = " OU960 "OU=ab",
	    "[certificates] subject: is 1125 bytes long (at most 1023 are accepted)" },
	/* empty values where a default exists */
	{ "certificates", "subject =", "[certificates] subject: is empty" },
	{ "certificates", "validity_days =", "validity_days: is empty" },
	{ "publish", "smime_attribute =", "smime_attribute: is empty" },
	/* required keys given empty */
	{ "ca", "key =", "[ca] key: is required" },
	{ "archive", "password_file = \"\"", "[archive] password_file: is required" },
	/* the cross check */
	{ "certificates", "renew_before_days = 365",
	    "[certificates] renew_before_days: 365 must be less than "
	    "[certificates] validity_days (365)" },
};

START_TEST(test_bad_values)
{
	assert_one_error(bad_values[_i].section, bad_values[_i].line,
	    bad_values[_i].what);
}
END_TEST

START_TEST(test_missing_required)
{
	static const struct {
		const char *text, *what;
	} cases[] = {
		{ "[ca]\nkey = k\n[archive]\npassword_file = p\n",
		    "[ca] certificate: is required" },
		{ "[ca]\ncertificate = c\n[archive]\npassword_file = p\n",
		    "[ca] key: is required" },
		{ "[ca]\ncertificate = c\nkey = k\n",
		    "[archive] password_file: is required" },
	};
	char *err = NULL;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = load_bad(cases[i].text);
		assert_has(err, cases[i].what);
		ck_assert_int_eq(count_lines(err), 1);
		free(err);
	}
	/* An empty file: all three, one line each. */
	err = load_bad("");
	assert_has(err, "[ca] certificate: is required");
	assert_has(err, "[ca] key: is required");
	assert_has(err, "[archive] password_file: is required");
	ck_assert_int_eq(count_lines(err), 3);
	free(err);
}
END_TEST

#define CA_ONLY \
	"[ca]\n" \
	"certificate = /etc/certsync/ca.pem\n" \
	"key = /etc/certsync/ca.key\n"

/* Recovery agents instead of the archive password file: the pattern made
 * absolute (its glob characters kept), the quorum read, the keystore with
 * a password file of its own. */
START_TEST(test_recovery_agents)
{
	struct conf *c = load_ok(CA_ONLY "[archive]\nrecovery_agents = kra/*.pem\n"
	    "recovery_quorum = 2\n[keystore]\npassword_file = ks.pw\n");
	char want[DIR_MAX + 64];

	snprintf(want, sizeof(want), "%s/kra/*.pem", realdir);
	ck_assert_str_eq(c->archive.recovery_agents, want);
	ck_assert_int_eq(c->archive.recovery_quorum, 2);
	ck_assert_ptr_null(c->archive.password_file);
	conf_free(c);
	/* Both modes at once: old files under the password, new ones not. */
	c = load_ok(MINIMAL "recovery_agents = /etc/certsync/kra/*.pem\n");
	ck_assert_str_eq(c->archive.password_file, "/etc/certsync/archive.pw");
	ck_assert_str_eq(c->keystore.password_file, "/etc/certsync/archive.pw");
	ck_assert_int_eq(c->archive.recovery_quorum, 1);
	conf_free(c);
	c = load_ok(MINIMAL);
	ck_assert_ptr_null(c->archive.recovery_agents);
	conf_free(c);
}
END_TEST

START_TEST(test_recovery_agents_refused)
{
	static const struct {
		const char *text, *what;
	} cases[] = {
		{ CA_ONLY "[archive]\nrecovery_agents = /k/*.pem\n",
		    "[keystore] password_file: is required when [archive] "
		    "password_file is not set" },
		{ MINIMAL "recovery_quorum = 2\n",
		    "[archive] recovery_quorum: needs [archive] recovery_agents" },
		{ MINIMAL "recovery_agents = /k/*.pem\nrecovery_quorum = 0\n",
		    "[archive] recovery_quorum: \"0\" is not a whole number between 1 "
		    "and 255" },
		{ MINIMAL "recovery_agents = /k/*.pem\nrecovery_quorum = 256\n",
		    "[archive] recovery_quorum: \"256\" is not a whole number" },
		{ CA_ONLY "[keystore]\npassword_file = /k.pw\n",
		    "[archive] password_file: is required (unless [archive] "
		    "recovery_agents is set)" },
	};
	char *err = NULL;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		err = load_bad(cases[i].text);
		assert_has(err, cases[i].what);
		ck_assert_msg(count_lines(err) == 1, "one line expected:\n%s", err);
		free(err);
	}
}
END_TEST

START_TEST(test_renew_boundary)
{
	struct conf *c = load_ok(MINIMAL
	    "[certificates]\nvalidity_days = 10\nrenew_before_days = 9\n");
	char *err = NULL;

	ck_assert_int_eq(c->certificates.renew_before_days, 9);
	conf_free(c);
	err = load_bad(MINIMAL
	    "[certificates]\nvalidity_days = 10\nrenew_before_days = 10\n");
	assert_has(err, "renew_before_days: 10 must be less than "
	    "[certificates] validity_days (10)");
	free(err);
	/* The default renew_before_days (30) against a short validity. */
	err = load_bad(MINIMAL "[certificates]\nvalidity_days = 7\n");
	assert_has(err, "renew_before_days: 30 must be less than");
	free(err);
}
END_TEST

/* A refused validity_days must not also start a comparison with it. */
START_TEST(test_no_cross_check_on_bad_value)
{
	char *err = load_bad(MINIMAL
	    "[certificates]\nvalidity_days = 9999\nrenew_before_days = 400\n");

	assert_has(err, "validity_days: \"9999\"");
	assert_lacks(err, "must be less than");
	ck_assert_int_eq(count_lines(err), 1);
	free(err);
}
END_TEST

START_TEST(test_subject_reports_every_problem)
{
	char *err = load_bad(MINIMAL
	    "[certificates]\nsubject = XX=a, CN=%{bogus} %{uid} %{worse}\n");

	assert_has(err, "unknown attribute \"XX\"");
	assert_has(err, "unknown variable %{bogus}");
	assert_has(err, "unknown variable %{worse}");
	assert_lacks(err, "%{uid} (");
	ck_assert_int_eq(count_lines(err), 3);
	free(err);
}
END_TEST

START_TEST(test_reports_every_problem)
{
	char *err = load_bad(
	    "[ca]\ncertificate = c\nkeyy = k\n"
	    "[bogus]\n"
	    "[certificates]\nvalidity_days = abc\nkey_type = dsa\n"
	    "[log]\nlevel = loud\n");

	assert_has(err, "[ca] keyy: unknown key");
	assert_has(err, "[bogus]: unknown section");
	assert_has(err, "[certificates] validity_days: \"abc\"");
	assert_has(err, "[certificates] key_type: \"dsa\"");
	assert_has(err, "[log] level: \"loud\"");
	assert_has(err, "[ca] key: is required");
	assert_has(err, "[archive] password_file: is required");
	ck_assert_int_eq(count_lines(err), 7);
	free(err);
}
END_TEST

/*
 * Syntax errors do not stop the loader: every malformed line, and every
 * other mistake in the file, is reported in one run, one line each, with
 * the line number where there is one.
 */
START_TEST(test_every_mistake_in_one_run)
{
	char *err = load_bad(
	    "[ca]\n"                                   /* 1 */
	    "certificate = /etc/ca.pem\n"              /* 2 */
	    "key /etc/ca.key\n"                        /* 3: no = */
	    "keyy = /etc/x\n"                          /* 4: unknown key */
	    "[archive]\n"                              /* 5 */
	    "password_file = \"/etc/a.pw\n"            /* 6: no closing quote */
	    "[certificates\n"                          /* 7: no ] */
	    "validity_days = abc\n"                    /* 8: still [archive] */
	    "[bogus]\n"                                /* 9: unknown section */
	    "x = 1\n"                                  /* 10 */
	    "[log]\n"                                  /* 11 */
	    "level = loud\n"                           /* 12: bad value */
	    "just words\n");                           /* 13: no = */

	assert_has(err, ": line 3: syntax error: not a [section], key = value or "
	    "comment line\n");
	assert_has(err, ": line 4: [ca] keyy: unknown key\n");
	assert_has(err, ": line 6: syntax error: a quoted value has no closing "
	    "quote\n");
	assert_has(err, ": line 7: syntax error");
	assert_has(err, ": line 8: [archive] validity_days: unknown key\n");
	assert_has(err, ": line 9: [bogus]: unknown section\n");
	assert_has(err, ": line 13: syntax error");
	assert_has(err, ": [log] level: \"loud\" is not one of");
	/* The keys on the malformed lines are missing, and said so. */
	assert_has(err, ": [ca] key: is required\n");
	assert_has(err, ": [archive] password_file: is required (unless [archive] recovery_agents is set)\n");
	assert_lacks(err, "/etc/ca.key");
	assert_lacks(err, "a.pw");
	ck_assert_int_eq(count_lines(err), 10);
	free(err);
}
END_TEST

START_TEST(test_continuation_and_quotes)
{
	struct conf *c = load_ok(MINIMAL
	    "[certificates]\n"
	    "subject = CN=%{name},\\\n"
	    "O=Example\n"
	    "crl_url = 'http://pki.example.org/a;b.crl'  ; single quotes\n"
	    "[directory]\n"
	    "base = \"\"\n");

	ck_assert_str_eq(c->certificates.subject, "CN=%{name}, O=Example");
	ck_assert_str_eq(c->certificates.crl_url, "http://pki.example.org/a;b.crl");
	ck_assert_ptr_null(c->directory.base);
	conf_free(c);
}
END_TEST

/* A line after a too-long one is still read. */
START_TEST(test_long_line_then_more)
{
	char text[4096], *err = NULL;

	snprintf(text, sizeof(text), MINIMAL "[directory]\nbase = %03000d\n"
	    "network_timeout = 0\n", 0);
	err = load_bad(text);
	assert_has(err, ": line 7: line too long");
	assert_has(err, ": [directory] network_timeout: \"0\" is not a whole number");
	ck_assert_int_eq(count_lines(err), 2);
	free(err);
}
END_TEST

/*
 * Random files built from good and bad pieces: conf_load must answer 0 or
 * 78, never crash or leak (run under ASan), and set *out accordingly.
 */
START_TEST(test_random_files)
{
	static const char *const pieces[] = {
		"[ca]\n", "[archive]\n", "[certificates]\n", "[log]\n", "[]\n",
		"[x:y]\n", "[\n", "]\n", "=\n", "==\n", "key\n", " = x\n",
		"certificate = c\n", "key = k\n", "password_file = p\n",
		"validity_days = 2\n", "renew_before_days = 1\n",
		"subject = %{\n", "subject = CN=%{}\n", "subject = ,\n",
		"subject = CN=%{name}%{\n", "crl_url = http://\n",
		"level = \n", "key_type = ec:\n", "\"\n", "'\n", "a = \"\n",
		"a = 'b'\n", "\\\n", "x = y \\\n", "\t\n", ";\n", "#\n",
		"\xff\xfe = \x01\n", "filter = (\n", "filter = )\n",
		"facility = \"\"\n", "iterations = -2147483649\n",
	};
	char text[2048];
	struct conf *c = NULL;
	char *err = NULL;
	unsigned seed = 12345;
	size_t len, n;
	int round, rc, i;

	for (round = 0; round < 300; round++) {
		len = 0;
		text[0] = '\0';
		n = (size_t)(rand_r(&seed) % 12);
		for (i = 0; i < (int)n; i++) {
			const char *p = pieces[rand_r(&seed) %
			    (sizeof(pieces) / sizeof(pieces[0]))];
			if (len + strlen(p) + 1 > sizeof(text))
				break;
			memcpy(text + len, p, strlen(p) + 1);
			len += strlen(p);
		}
		npaths = 0;
		err = load_captured(write_conf(text), &c, &rc);
		ck_assert_msg(rc == 0 || rc == EX_CONFIG, "rc %d for:\n%s", rc,
		    text);
		ck_assert_msg((rc == 0) == (c != NULL), "out wrong for:\n%s",
		    text);
		ck_assert_msg((rc == 0) == (*err == '\0'), "messages %s for:\n%s",
		    err, text);
		conf_free(c);
		free(err);
		unlink(paths[0]);
	}
}
END_TEST

START_TEST(test_free_null)
{
	conf_free(NULL);
}
END_TEST

static Suite *
conf_suite(void)
{
	Suite *s = suite_create("conf");
	TCase *ok = tcase_create("valid");
	TCase *bad = tcase_create("refused");

	tcase_add_unchecked_fixture(ok, base_setup, base_teardown);
	tcase_add_checked_fixture(ok, setup, teardown);
	tcase_add_test(ok, test_minimal_defaults);
	tcase_add_test(ok, test_full);
	tcase_add_test(ok, test_ad_flavor_attribute);
	tcase_add_test(ok, test_389ds_flavor);
	tcase_add_test(ok, test_ad_only_sources);
	tcase_add_test(ok, test_ca_token_key);
	tcase_add_test(ok, test_safety_keys);
	tcase_add_test(ok, test_ad_simple_bind_in_clear);
	tcase_add_test(ok, test_relative_paths);
	tcase_add_test(ok, test_relative_file_name);
	tcase_add_test(ok, test_words_ignore_case);
	tcase_add_loop_test(ok, test_bool_spellings, 0,
	    sizeof(bool_spellings) / sizeof(bool_spellings[0]));
	tcase_add_test(ok, test_key_specs);
	tcase_add_test(ok, test_comments_quotes_and_case);
	tcase_add_test(ok, test_continuation_and_quotes);
	tcase_add_test(ok, test_subject_normalized);
	tcase_add_test(ok, test_empty_optional_is_unset);
	tcase_add_test(ok, test_renew_boundary);
	tcase_add_test(ok, test_http);
	tcase_add_test(ok, test_recovery_agents);
	tcase_add_test(ok, test_recovery_agents_refused);
	tcase_add_test(ok, test_example_file);
	tcase_add_test(ok, test_keys_documented);
	tcase_add_test(ok, test_free_null);
	suite_add_tcase(s, ok);

	tcase_add_unchecked_fixture(bad, base_setup, base_teardown);
	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_add_test(bad, test_missing_file);
	tcase_add_test(bad, test_too_large);
	tcase_add_test(ok, test_load_fd_text_not_file);
	tcase_add_test(bad, test_directory_not_file);
	tcase_add_test(bad, test_fifo_not_file);
	tcase_add_test(bad, test_unreadable_file);
	tcase_add_test(bad, test_syntax_error);
	tcase_add_test(bad, test_line_too_long);
	tcase_add_test(bad, test_unknown_section);
	tcase_add_test(bad, test_unknown_key);
	tcase_add_test(bad, test_key_outside_section);
	tcase_add_test(bad, test_empty_section_header);
	tcase_add_test(bad, test_colon_section);
	tcase_add_test(bad, test_odd_names_not_echoed);
	tcase_add_test(bad, test_bad_int);
	tcase_add_loop_test(bad, test_bad_values, 0,
	    sizeof(bad_values) / sizeof(bad_values[0]));
	tcase_add_test(bad, test_missing_required);
	tcase_add_test(bad, test_no_cross_check_on_bad_value);
	tcase_add_test(bad, test_subject_reports_every_problem);
	tcase_add_test(bad, test_reports_every_problem);
	tcase_add_test(bad, test_random_files);
	tcase_add_test(bad, test_every_mistake_in_one_run);
	tcase_add_test(bad, test_long_line_then_more);
	tcase_set_timeout(bad, 30);
	suite_add_tcase(s, bad);
	return s;
}

int
main(void)
{
	return check_run(conf_suite(), 0);
}
