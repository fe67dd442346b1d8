/*
 * conf.c - reading and validating certsync.conf.
 *
 * Owns: the one table that lists every key (section, type, default, range,
 * field), and turning the INI file (its lines read by conf_ini.c) into a
 * struct conf in which every value has been checked and every path made
 * absolute.
 * Never: opens a file the configuration names (secret.c and the stages do
 * that, when they need it), echoes a line it could not parse (a pasted key
 * must not end up in a log), or stops at the first problem: the admin gets
 * the whole list in one run.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include <iniparser.h>

#include "lib/conf.h"
#include "lib/conf_ini.h"
#include "lib/log.h"
#include "lib/rdn.h"

#ifndef CS_LOCALSTATEDIR
#define CS_LOCALSTATEDIR "/var/lib"
#endif
#define CS_STATEDIR CS_LOCALSTATEDIR "/certsync"

/* Enum fields are written through an int *. */
_Static_assert(sizeof(enum dir_flavor) == sizeof(int), "enum size");
_Static_assert(sizeof(enum cert_mode) == sizeof(int), "enum size");
_Static_assert(sizeof(enum disable_policy) == sizeof(int), "enum size");
_Static_assert(sizeof(enum p12_profile) == sizeof(int), "enum size");
_Static_assert(sizeof(enum log_dest) == sizeof(int), "enum size");

enum conf_type {
	CT_STRING,	/* any text */
	CT_PATH,	/* made absolute against the file's directory */
	CT_KEY_REF,	/* a "pkcs11:" URI as it is, else a CT_PATH */
	CT_LDAP_URI,	/* ldap://, ldaps:// or ldapi:// */
	CT_FILTER,	/* an LDAP search filter */
	CT_ATTR,	/* an LDAP attribute description */
	CT_EXT_URL,	/* a URL that goes into a certificate extension */
	CT_SUBJECT,	/* the subject DN template */
	CT_INT,		/* int field, between min and max */
	CT_BOOL,	/* int field, 0 or 1 */
	CT_ENUM,	/* int field, the value of one of choices */
	CT_WORD,	/* string field, one of choices in its spelling there */
	CT_KEY_SPEC,	/* struct key_spec field */
	CT_LOG_LEVEL,	/* int field, log_level_parse() */
	CT_LISTEN,	/* addresses to listen on, conf_listen_item() */
	CT_THRESHOLD,	/* struct threshold field: "5%" or "20" */
};

#define KF_REQUIRED	0x1	/* no default: the file must set it */
#define KF_NONE_OFF	0x2	/* "none" leaves the field NULL */

struct choice {
	const char *name;
	int value;
};

struct conf_key {
	const char *section;
	const char *key;
	enum conf_type type;
	const char *def;	/* as written in the file; NULL: unset */
	const char *def_ad;	/* the default with flavor = ad, if different */
	int min, max;		/* CT_INT */
	const struct choice *choices;	/* CT_ENUM, CT_WORD; NULL name ends */
	unsigned flags;
	size_t offset;		/* of the field in struct conf */
};

static const struct choice bools[] = {
	{ "yes", 1 }, { "no", 0 }, { "true", 1 }, { "false", 0 },
	{ "on", 1 }, { "off", 0 }, { "1", 1 }, { "0", 0 }, { NULL, 0 },
};
static const struct choice scopes[] = {
	{ "sub", 0 }, { "one", 0 }, { NULL, 0 },
};
static const struct choice sasl_mechs[] = {
	{ "EXTERNAL", 0 }, { "GSSAPI", 0 }, { NULL, 0 },
};
static const struct choice sources[] = {
	{ "auto", 0 }, { "syncrepl", 0 }, { "dirsync", 0 }, { "usn", 0 },
	{ "poll", 0 }, { NULL, 0 },
};
static const struct choice flavors[] = {
	{ "openldap", DIR_FLAVOR_OPENLDAP }, { "ad", DIR_FLAVOR_AD },
	{ "389ds", DIR_FLAVOR_389DS }, { NULL, 0 },
};
static const struct choice disable_policies[] = {
	{ "revoke", DISABLE_REVOKE }, { "unpublish", DISABLE_UNPUBLISH },
	{ NULL, 0 },
};
static const struct choice cert_modes[] = {
	{ "separate", CERT_MODE_SEPARATE }, { "dual", CERT_MODE_DUAL },
	{ NULL, 0 },
};
static const struct choice digests[] = {
	{ "sha256", 0 }, { "sha384", 0 }, { "sha512", 0 }, { NULL, 0 },
};
static const struct choice p12_profiles[] = {
	{ "aes256", P12_PROFILE_AES256 }, { "legacy", P12_PROFILE_LEGACY },
	{ NULL, 0 },
};
static const struct choice destinations[] = {
	{ "stderr", LOG_DEST_STDERR }, { "syslog", LOG_DEST_SYSLOG },
	{ NULL, 0 },
};
static const struct choice facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "auth", LOG_AUTH }, { "authpriv", LOG_AUTHPRIV },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
	{ NULL, 0 },
};

#define FIELD(f)	offsetof(struct conf, f)
#define K_STR(s, k, t, def, fl, f) \
	{ s, k, t, def, NULL, 0, 0, NULL, fl, FIELD(f) }
#define K_INT(s, k, def, lo, hi, f) \
	{ s, k, CT_INT, def, NULL, lo, hi, NULL, 0, FIELD(f) }
#define K_ONE(s, k, t, def, ch, f) \
	{ s, k, t, def, NULL, 0, 0, ch, 0, FIELD(f) }
/* A share ("5%") or a count up to hi. */
#define K_THR(s, k, def, hi, f) \
	{ s, k, CT_THRESHOLD, def, NULL, 0, hi, NULL, 0, FIELD(f) }
/* A key whose default depends on [directory] flavor (loaded before it). */
#define K_FLV(s, k, t, def, def_ad, ch, fl, f) \
	{ s, k, t, def, def_ad, 0, 0, ch, fl, FIELD(f) }

/* Every key there is; a section is known when some key names it. */
static const struct conf_key conf_keys[] = {
	/* First: other [directory] defaults depend on it. */
	K_ONE("directory", "flavor", CT_ENUM, "openldap", flavors,
	    directory.flavor),
	K_STR("directory", "uri", CT_LDAP_URI, "ldapi:///", 0, directory.uri),
	K_STR("directory", "base", CT_STRING, NULL, 0, directory.base),
	K_ONE("directory", "scope", CT_WORD, "sub", scopes, directory.scope),
	K_FLV("directory", "filter", CT_FILTER,
	    "(&(objectClass=inetOrgPerson)(mail=*))",
	    "(&(objectCategory=person)(objectClass=user)"
	    "(|(mail=*)(proxyAddresses=smtp:*)))", NULL, 0, directory.filter),
	K_STR("directory", "bind_dn", CT_STRING, NULL, 0, directory.bind_dn),
	K_STR("directory", "bind_password_file", CT_PATH, NULL, 0,
	    directory.bind_password_file),
	K_STR("directory", "tls_ca_file", CT_PATH, NULL, 0,
	    directory.tls_ca_file),
	K_ONE("directory", "starttls", CT_BOOL, "no", NULL, directory.starttls),
	K_ONE("directory", "tls_verify", CT_BOOL, "yes", NULL, directory.tls_verify),
	K_STR("directory", "tls_cert_file", CT_PATH, NULL, 0, directory.tls_cert_file),
	K_STR("directory", "tls_key_file", CT_PATH, NULL, 0, directory.tls_key_file),
	K_ONE("directory", "sasl_mech", CT_WORD, NULL, sasl_mechs, directory.sasl_mech),
	K_STR("directory", "keytab", CT_PATH, NULL, 0, directory.keytab),
	K_STR("directory", "mail_attribute", CT_ATTR, "mail", 0,
	    directory.mail_attribute),
	K_FLV("directory", "alias_attribute", CT_ATTR, NULL, "proxyAddresses",
	    NULL, KF_NONE_OFF, directory.alias_attribute),
	K_STR("directory", "display_name_attribute", CT_ATTR, "displayName", 0,
	    directory.display_name_attribute),
	K_STR("directory", "given_name_attribute", CT_ATTR, "givenName", 0,
	    directory.given_name_attribute),
	K_STR("directory", "surname_attribute", CT_ATTR, "sn", 0,
	    directory.surname_attribute),
	K_FLV("directory", "uid_attribute", CT_ATTR, "uid", "sAMAccountName",
	    NULL, 0, directory.uid_attribute),
	K_FLV("directory", "source", CT_WORD, "syncrepl", "auto", sources, 0,
	    directory.source),
	K_INT("directory", "poll_interval", "60", 5, 86400, directory.poll_interval),
	K_INT("directory", "full_reconcile_hours", "24", 0, 8760,
	    directory.full_reconcile_hours),
	K_INT("directory", "network_timeout", "10", 1, 300, directory.network_timeout),
	K_INT("directory", "reconnect_max", "60", 1, 3600, directory.reconnect_max),
	K_INT("directory", "idle_probe", "60", 0, 3600, directory.idle_probe),

	K_ONE("reconcile", "on_address_change", CT_BOOL, "yes", NULL,
	    reconcile.on_address_change),
	K_ONE("reconcile", "on_name_change", CT_BOOL, "yes", NULL,
	    reconcile.on_name_change),
	K_ONE("reconcile", "on_disable", CT_ENUM, "revoke", disable_policies,
	    reconcile.on_disable),
	/* Reissues are spaced in whole seconds: 60 a minute is the most. */
	K_INT("reconcile", "ca_change_per_minute", "10", 1, 60,
	    reconcile.ca_change_per_minute),
	/* Counts go up to ten million users; a share has two decimals. */
	K_THR("reconcile", "max_revoke", "5%", 10000000, reconcile.max_revoke),
	K_INT("reconcile", "hold_days", "7", 0, 365, reconcile.hold_days),

	K_STR("daemon", "delivery_hook", CT_PATH, NULL, 0, daemon.delivery_hook),
	K_INT("daemon", "delivery_timeout", "60", 1, 3600, daemon.delivery_timeout),
	K_STR("daemon", "pid_file", CT_PATH, NULL, 0, daemon.pid_file),
	/* 0: as many as the CPUs online (workers.c). */
	K_INT("daemon", "workers", "0", 0, 64, daemon.workers),
	K_INT("daemon", "retry_max", "3600", 5, 86400, daemon.retry_max),

	K_STR("ca", "certificate", CT_PATH, NULL, KF_REQUIRED, ca.certificate),
	K_STR("ca", "key", CT_KEY_REF, NULL, KF_REQUIRED, ca.key),
	K_STR("ca", "passphrase_file", CT_PATH, NULL, 0, ca.passphrase_file),
	K_STR("ca", "pin_file", CT_PATH, NULL, 0, ca.pin_file),
	K_STR("ca", "pkcs11_module", CT_PATH, NULL, 0, ca.pkcs11_module),
	K_STR("ca", "audit_log", CT_PATH, CS_STATEDIR "/ca-audit.log", 0,
	    ca.audit_log),
	K_STR("ca", "user", CT_STRING, "certsync", 0, ca.user),
	/* A 10,000-user mass reissue (20,000 signatures) passes at full speed;
	 * see certsync.conf(5). */
	K_INT("ca", "max_signatures_per_minute", "30000", 1, 10000000,
	    ca.max_signatures_per_minute),

	K_ONE("certificates", "key_type", CT_KEY_SPEC, "rsa:2048", NULL,
	    certificates.key),
	K_INT("certificates", "key_pool", "256", 0, 10000, certificates.key_pool),
	K_ONE("certificates", "mode", CT_ENUM, "separate", cert_modes,
	    certificates.mode),
	K_INT("certificates", "validity_days", "365", 1, 3650,
	    certificates.validity_days),
	K_INT("certificates", "backdate_minutes", "5", 0, 1440,
	    certificates.backdate_minutes),
	K_STR("certificates", "subject", CT_SUBJECT, "CN=%{name}", 0,
	    certificates.subject),
	K_ONE("certificates", "non_repudiation", CT_BOOL, "no", NULL,
	    certificates.non_repudiation),
	K_STR("certificates", "crl_url", CT_EXT_URL, NULL, 0,
	    certificates.crl_url),
	K_STR("certificates", "aia_url", CT_EXT_URL, NULL, 0,
	    certificates.aia_url),
	K_ONE("certificates", "digest", CT_WORD, "sha256", digests,
	    certificates.digest),
	/* The real limit, below validity_days, is checked in check_cross(). */
	K_INT("certificates", "renew_before_days", "30", 0, 3649,
	    certificates.renew_before_days),

	K_STR("archive", "directory", CT_PATH, CS_STATEDIR "/archive", 0,
	    archive.directory),
	/* Required unless recovery_agents is set: see check_archive(). */
	K_STR("archive", "password_file", CT_PATH, NULL, 0,
	    archive.password_file),
	K_ONE("archive", "profile", CT_ENUM, "aes256", p12_profiles,
	    archive.profile),
	K_INT("archive", "iterations", "600000", 1000, 10000000,
	    archive.iterations),
	/* A glob(3) pattern: CT_PATH makes it absolute, leaving * ? [ ] be. */
	K_STR("archive", "recovery_agents", CT_PATH, NULL, 0,
	    archive.recovery_agents),
	/* At most the number of agents: checked when they load. */
	K_INT("archive", "recovery_quorum", "1", 1, 255, archive.recovery_quorum),

	K_STR("keystore", "directory", CT_PATH, CS_STATEDIR "/keystore", 0,
	    keystore.directory),
	/* Unset: copied from [archive] password_file by set_derived(). */
	K_STR("keystore", "password_file", CT_PATH, NULL, 0,
	    keystore.password_file),

	/* Unset: depends on [directory] flavor, see set_derived(). */
	K_STR("publish", "certificate_attribute", CT_ATTR, NULL, 0,
	    publish.certificate_attribute),
	K_STR("publish", "smime_attribute", CT_ATTR, "userSMIMECertificate",
	    KF_NONE_OFF, publish.smime_attribute),
	K_INT("publish", "max_values", "15", 1, 15, publish.max_values),

	K_STR("crl", "path", CT_PATH, CS_STATEDIR "/crl/ca.crl", 0, crl.path),
	K_STR("crl", "pem_path", CT_PATH, NULL, 0, crl.pem_path),
	K_INT("crl", "next_update_hours", "168", 1, 8760,
	    crl.next_update_hours),

	K_STR("state", "database", CT_PATH, CS_STATEDIR "/state.db", 0,
	    state.database),

	K_STR("http", "listen", CT_LISTEN, NULL, KF_NONE_OFF, http.listen),
	K_INT("http", "revocation_delay_max", "600", 1, 86400,
	    http.revocation_delay_max),
	K_INT("http", "timeout", "10", 1, 300, http.timeout),

	K_ONE("log", "destination", CT_ENUM, "stderr", destinations,
	    log.destination),
	K_ONE("log", "level", CT_LOG_LEVEL, "notice", NULL, log.level),
	K_ONE("log", "facility", CT_ENUM, "daemon", facilities, log.facility),
};
#define NKEYS (sizeof(conf_keys) / sizeof(conf_keys[0]))

static const struct key_spec key_specs[] = {
	{ KEY_ALG_RSA, 2048, NULL, "rsa:2048" },
	{ KEY_ALG_RSA, 3072, NULL, "rsa:3072" },
	{ KEY_ALG_RSA, 4096, NULL, "rsa:4096" },
	{ KEY_ALG_EC, 0, "P-256", "ec:P-256" },
	{ KEY_ALG_EC, 0, "P-384", "ec:P-384" },
};

static const char *const subject_attrs[] = {
	"CN", "O", "OU", "C", "L", "ST", "serialNumber", "emailAddress", NULL,
};
static const char *const subject_vars[] = {
	"name", "given", "sn", "mail", "uid", NULL,
};

struct loader {
	const char *path;	/* as the caller spelled it, for messages */
	char *dir;		/* absolute directory of the file */
	struct conf_ini src;	/* the file's lines */
	dictionary *ini;	/* src.dict */
	struct conf *conf;
	unsigned char bad[NKEYS];	/* refused values: no cross checks */
	int errors;
};

typedef int parse_fn(struct loader *, const struct conf_key *, const char *,
    void *);

static void conf_error(struct loader *, const char *, ...)
    __attribute__((format(printf, 2, 3)));
static void key_error(struct loader *, const struct conf_key *,
    const char *, ...) __attribute__((format(printf, 3, 4)));

/* ---- messages ---------------------------------------------------------- */

static void
conf_error(struct loader *ld, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: %s", ld->path, msg);
	ld->errors++;
}

static void
key_error(struct loader *ld, const struct conf_key *k, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_error("%s: [%s] %s: %s", ld->path, k->section, k->key, msg);
	ld->errors++;
}

/*
 * A name from the file is echoed only when it looks like a name: a line of a
 * pasted PEM key parses as "key = value", and that key must not be logged.
 */
static const char *
shown_name(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > 32 ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_.:-") != len)
		return "(a name that is not shown)";
	return name;
}

static void
list_choices(const struct choice *c, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; c->name != NULL && used < len; c++) {
		used += (size_t)snprintf(buf + used, len - used, "%s%s",
		    used > 0 ? ", " : "", c->name);
	}
}

static void
list_names(const char *const *names, const char *before, const char *after,
    char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (; *names != NULL && used < len; names++) {
		used += (size_t)snprintf(buf + used, len - used, "%s%s%s%s",
		    used > 0 ? ", " : "", before, *names, after);
	}
}

/* ---- value parsers ----------------------------------------------------- */

static void *
field_of(struct conf *conf, const struct conf_key *k)
{
	return (char *)conf + k->offset;
}

/* Takes ownership of s; NULL means its allocation failed. */
static int
store_string(struct loader *ld, void *field, char *s)
{
	char **p = field;

	if (s == NULL) {
		conf_error(ld, "out of memory");
		return -1;
	}
	free(*p);
	*p = s;
	return 0;
}

static const struct choice *
find_choice(const struct choice *c, const char *name)
{
	for (; c->name != NULL; c++)
		if (strcasecmp(c->name, name) == 0)
			return c;
	return NULL;
}

static int
parse_string(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	return store_string(ld, field, strdup(val));
}

static int
parse_path(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	char *abs = NULL;
	size_t len;

	if (val[0] == '/')
		return store_string(ld, field, strdup(val));
	len = strlen(ld->dir) + 1 + strlen(val) + 1;
	if ((abs = malloc(len)) != NULL)
		snprintf(abs, len, "%s/%s", ld->dir, val);
	return store_string(ld, field, abs);
}

/* A token key's URI is no path: "pkcs11:token=..." stays as written.
 * Unquoted, the file's ';' comments would cut it after its first
 * attribute, and it would name no key: say so here. */
static int
parse_key_ref(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	if (strncmp(val, "pkcs11:", 7) != 0)
		return parse_path(ld, k, val, field);
	if (strstr(val, "object=") == NULL && strstr(val, "id=") == NULL) {
		key_error(ld, k, "the PKCS#11 URI names no key (object= or id=); "
		    "a URI with ';' in it must be in double quotes");
		return -1;
	}
	return store_string(ld, field, strdup(val));
}

/* The length of the scheme s starts with, or 0 for none of them. */
static size_t
scheme_len(const char *s, const char *const *schemes)
{
	for (; *schemes != NULL; schemes++)
		if (strncasecmp(s, *schemes, strlen(*schemes)) == 0)
			return strlen(*schemes);
	return 0;
}

static int
parse_ldap_uri(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	static const char *const schemes[] = {
		"ldap://", "ldaps://", "ldapi://", NULL,
	};

	if (scheme_len(val, schemes) == 0 || strpbrk(val, " \t,\"") != NULL) {
		key_error(ld, k, "\"%s\" is not one URI starting with ldap://, "
		    "ldaps:// or ldapi://", val);
		return -1;
	}
	return parse_string(ld, k, val, field);
}

/* One parenthesized expression: enough to catch a typo before the search. */
static int
filter_ok(const char *s)
{
	int depth = 0;

	if (*s != '(')
		return 0;
	for (; *s != '\0'; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')' && --depth == 0)
			return s[1] == '\0';
	}
	return 0;
}

static int
parse_filter(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	if (!filter_ok(val)) {
		key_error(ld, k, "\"%s\" is not an LDAP filter: it must be one "
		    "expression in balanced parentheses, like (mail=*)", val);
		return -1;
	}
	return parse_string(ld, k, val, field);
}

static int
attr_ok(const char *s)
{
	size_t len = strlen(s);

	return isalnum((unsigned char)s[0]) && s[len - 1] != ';' &&
	    strstr(s, ";;") == NULL &&
	    strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
	    "0123456789-.;") == len;
}

static int
parse_attr(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	if (!attr_ok(val)) {
		key_error(ld, k, "\"%s\" is not an LDAP attribute name, like "
		    "userCertificate;binary", val);
		return -1;
	}
	return parse_string(ld, k, val, field);
}

/*
 * The URL is pasted into an OpenSSL extension string, where a comma starts
 * the next entry and a quote or space changes the parsing; the extension
 * itself is an IA5String, so plain ASCII only.
 */
static int
parse_ext_url(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	static const char *const schemes[] = {
		"http://", "https://", "ldap://", NULL,
	};
	const unsigned char *p = NULL;
	size_t n = scheme_len(val, schemes);

	if (n == 0 || val[n] == '\0') {
		key_error(ld, k, "\"%s\" is not a URL starting with http://, "
		    "https:// or ldap://", val);
		return -1;
	}
	for (p = (const unsigned char *)val; *p != '\0'; p++) {
		if (*p <= ' ' || *p >= 0x7f || *p == ',' || *p == '"') {
			key_error(ld, k, "\"%s\" must not contain spaces, "
			    "commas, double quotes or non-ASCII characters "
			    "(write a comma as %%2C)", val);
			return -1;
		}
	}
	return parse_string(ld, k, val, field);
}

/* Variables, like issue.c's expansion, are exact: %{Name} is not %{name}. */
static int
is_subject_var(const char *s, size_t len)
{
	const char *const *v = NULL;

	for (v = subject_vars; *v != NULL; v++)
		if (strlen(*v) == len && strncmp(*v, s, len) == 0)
			return 1;
	return 0;
}

/* The table's spelling of an attribute: OpenSSL only knows "CN", not "cn". */
static const char *
subject_attr(const char *name)
{
	const char *const *a = NULL;

	for (a = subject_attrs; *a != NULL; a++)
		if (strcasecmp(*a, name) == 0)
			return *a;
	return NULL;
}

static char *
trim(char *s)
{
	char *end = NULL;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

/* Checks the %{var} references in one RDN value; 0 or -1 after logging. */
static int
check_subject_vars(struct loader *ld, const struct conf_key *k,
    const char *value)
{
	char allowed[128];
	const char *p = value, *end = NULL;
	int rc = 0;

	list_names(subject_vars, "%{", "}", allowed, sizeof(allowed));
	while ((p = strstr(p, "%{")) != NULL) {
		p += 2;
		if ((end = strchr(p, '}')) == NULL) {
			key_error(ld, k, "\"%s\": %%{ without a closing }",
			    value);
			return -1;
		}
		if (!is_subject_var(p, (size_t)(end - p))) {
			key_error(ld, k, "unknown variable %%{%.*s} "
			    "(known: %s)", (int)(end - p), p, allowed);
			rc = -1;
		}
		p = end + 1;
	}
	return rc;
}

/*
 * What the value's text holds for every user: 0, or -1 after logging.  A
 * value without variables is the attribute's value itself; one with
 * variables keeps its fixed text around them, which must already fit
 * (rdn.h).  Otherwise issue.c would refuse every user, one at a time.
 */
static int
check_rdn_text(struct loader *ld, const struct conf_key *k, const char *attr,
    const char *value)
{
	char *fixed = NULL, *q = NULL, why[256];
	const char *p = NULL, *end = NULL;
	int vars = 0, rc;

	if ((fixed = q = malloc(strlen(value) + 1)) == NULL)
		return -1;
	for (p = value; *p != '\0'; ) {
		if (p[0] == '%' && p[1] == '{' && (end = strchr(p, '}')) != NULL) {
			p = end + 1;	/* as issue.c expands: up to the next '}' */
			vars = 1;
		} else
			*q++ = *p++;
	}
	*q = '\0';
	rc = vars ? rdn_fixed_text_check(attr, fixed, why, sizeof(why)) :
	    rdn_value_check(attr, fixed, why, sizeof(why));
	if (rc == -1)
		key_error(ld, k, "%s", why);
	free(fixed);
	return rc;
}

/*
 * One "ATTR=VALUE" of the template.  Appends it to out as issue.c will split
 * it and OpenSSL will take it: the table's attribute spelling, no spaces
 * around the name or the value.  Returns 0, or -1 after logging.
 */
static int
check_rdn(struct loader *ld, const struct conf_key *k, char *rdn, char *out,
    size_t outlen)
{
	char allowed[128], *eq = NULL, *value = NULL;
	const char *attr = NULL;
	size_t used = strlen(out);

	rdn = trim(rdn);
	if ((eq = strchr(rdn, '=')) == NULL) {
		key_error(ld, k, "\"%s\" is not ATTRIBUTE=VALUE", rdn);
		return -1;
	}
	*eq = '\0';
	value = trim(eq + 1);
	if ((attr = subject_attr(trim(rdn))) == NULL) {
		list_names(subject_attrs, "", "", allowed, sizeof(allowed));
		key_error(ld, k, "unknown attribute \"%s\" (known: %s)",
		    trim(rdn), allowed);
		return -1;
	}
	if (*value == '\0') {
		key_error(ld, k, "%s has an empty value", attr);
		return -1;
	}
	/* OpenSSL refuses a countryName that is not two letters, at signing. */
	if (strcmp(attr, "C") == 0 && strstr(value, "%{") == NULL &&
	    strlen(value) != 2) {
		key_error(ld, k, "C=%s is not a two-letter country code",
		    value);
		return -1;
	}
	snprintf(out + used, outlen - used, "%s%s=%s", used > 0 ? ", " : "",
	    attr, value);
	if (check_subject_vars(ld, k, value) == -1)
		return -1;
	return check_rdn_text(ld, k, attr, value);
}

static int
parse_subject(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	char *copy = NULL, *out = NULL, *rdn = NULL, *next = NULL;
	size_t outlen = 2 * strlen(val) + 1;	/* ", " for "," at worst */
	int rc = -1;

	if ((copy = strdup(val)) == NULL || (out = calloc(1, outlen)) == NULL) {
		store_string(ld, field, NULL);
		goto out;
	}
	rc = 0;
	for (rdn = copy; rdn != NULL; rdn = next) {
		if ((next = strchr(rdn, ',')) != NULL)
			*next++ = '\0';
		if (*trim(rdn) == '\0') {
			key_error(ld, k, "\"%s\" has an empty part between "
			    "commas", val);
			rc = -1;
		} else if (check_rdn(ld, k, rdn, out, outlen) == -1)
			rc = -1;
	}
	if (rc == 0 && strlen(out) >= RDN_TEMPLATE_MAX) {
		key_error(ld, k, "is %zu bytes long (at most %d are accepted)",
		    strlen(out), RDN_TEMPLATE_MAX - 1);
		rc = -1;
	}
	if (rc == 0) {
		rc = store_string(ld, field, out);
		out = NULL;
	}
out:
	free(copy);
	free(out);
	return rc;
}

/* strtol alone would accept spaces, a '+' and trailing junk. */
static int
whole_number(const char *s, long *n)
{
	char *end = NULL;

	if (!isdigit((unsigned char)s[s[0] == '-']))
		return 0;
	errno = 0;
	*n = strtol(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static int
parse_int(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	long n = 0;

	if (!whole_number(val, &n) || n < k->min || n > k->max) {
		key_error(ld, k, "\"%s\" is not a whole number between %d "
		    "and %d", val, k->min, k->max);
		return -1;
	}
	*(int *)field = (int)n;
	return 0;
}

static int
parse_bool(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	const struct choice *c = NULL;
	char allowed[128];

	if ((c = find_choice(bools, val)) == NULL) {
		list_choices(bools, allowed, sizeof(allowed));
		key_error(ld, k, "\"%s\" is not a yes or no value (one of: %s)",
		    val, allowed);
		return -1;
	}
	*(int *)field = c->value;
	return 0;
}

static const struct choice *
find_choice_or_complain(struct loader *ld, const struct conf_key *k,
    const char *val)
{
	const struct choice *c = NULL;
	char allowed[256];

	if ((c = find_choice(k->choices, val)) == NULL) {
		list_choices(k->choices, allowed, sizeof(allowed));
		key_error(ld, k, "\"%s\" is not one of: %s", val, allowed);
	}
	return c;
}

static int
parse_enum(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	const struct choice *c = NULL;

	if ((c = find_choice_or_complain(ld, k, val)) == NULL)
		return -1;
	*(int *)field = c->value;
	return 0;
}

static int
parse_word(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	const struct choice *c = NULL;

	if ((c = find_choice_or_complain(ld, k, val)) == NULL)
		return -1;
	/* The table's spelling: the rest of the code compares it exactly. */
	return store_string(ld, field, strdup(c->name));
}

static int
parse_key_type(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	char allowed[128];
	size_t i, used = 0;

	if (conf_parse_key_spec(val, field) == 0)
		return 0;
	allowed[0] = '\0';
	for (i = 0; i < sizeof(key_specs) / sizeof(key_specs[0]); i++)
		used += (size_t)snprintf(allowed + used, sizeof(allowed) - used,
		    "%s%s", i > 0 ? ", " : "", key_specs[i].name);
	key_error(ld, k, "\"%s\" is not one of: %s", val, allowed);
	return -1;
}

static int
parse_log_level(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	char lower[16];
	size_t i;
	int level = -1;

	/* log_level_parse() is exact; the file, like every word, is not. */
	for (i = 0; val[i] != '\0' && i < sizeof(lower) - 1; i++)
		lower[i] = (char)tolower((unsigned char)val[i]);
	lower[i] = '\0';
	if (val[i] == '\0')
		level = log_level_parse(lower);
	if (level == -1) {
		key_error(ld, k, "\"%s\" is not one of: error, warning, "
		    "notice, info, debug", val);
		return -1;
	}
	*(int *)field = level;
	return 0;
}

/* The i-th space-separated word of value: 1 with [*p, *end), or 0. */
static int
nth_word(const char *value, int i, const char **p, const char **end)
{
	const char *s = value;

	for (;; i--) {
		s += strspn(s, " \t");
		if (*s == '\0')
			return 0;
		*end = s + strcspn(s, " \t");
		if (i == 0)
			break;
		s = *end;
	}
	*p = s;
	return 1;
}

/*
 * One address of [http] listen, as the HTTP listener binds it: an IP
 * literal (resolving a name at start-up could pick another address than
 * the admin meant) and a port.
 */
int
conf_listen_item(const char *value, int i, char host[CONF_HOST_MAX], int *port,
    const char **why)
{
	unsigned char addr[sizeof(struct in6_addr)];
	const char *p = NULL, *end = NULL, *colon = NULL;
	char num[8];
	long n = 0;
	int v6;

	if (!nth_word(value, i, &p, &end))
		return 0;
	if ((v6 = *p == '[')) {
		colon = memchr(p, ']', (size_t)(end - p));
		colon = colon != NULL && colon[1] == ':' ? colon + 1 : NULL;
	} else
		for (colon = end - 1; colon > p && *colon != ':'; colon--)
			;
	if (colon == NULL || colon <= p + v6 || colon - p - 2 * v6 >= CONF_HOST_MAX) {
		*why = v6 ? "an IPv6 address goes in brackets, like [::1]:8080" :
		    "is not ADDRESS:PORT, like 127.0.0.1:8080";
		return -1;
	}
	snprintf(host, CONF_HOST_MAX, "%.*s", (int)(colon - p - 2 * v6), p + v6);
	if (inet_pton(v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
		*why = v6 ? "the address in brackets is not an IPv6 address" :
		    "the address is not an IPv4 address (IPv6 goes in brackets)";
		return -1;
	}
	snprintf(num, sizeof(num), "%.*s", (int)(end - colon - 1), colon + 1);
	if (end - colon - 1 > 5 || !whole_number(num, &n) || n < 1 || n > 65535) {
		*why = "the port is not a number between 1 and 65535";
		return -1;
	}
	*port = (int)n;
	return 1;
}

static int
parse_listen(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	char host[CONF_HOST_MAX];
	const char *why = NULL;
	int i, rc, port;

	for (i = 0; (rc = conf_listen_item(val, i, host, &port, &why)) == 1; i++)
		;
	if (rc == -1 || i == 0 || i > CONF_LISTEN_MAX) {
		key_error(ld, k, "\"%s\": %s", val, rc == -1 ? why : i == 0 ?
		    "no address (leave the key out for no listener)" :
		    "more than 8 addresses");
		return -1;
	}
	return parse_string(ld, k, val, field);
}

/* "5%", "0.5%", "12.25%" (hundredths at most, above 0, up to 100), or a
 * whole count of users between the key's min and max. */
static int
parse_threshold(struct loader *ld, const struct conf_key *k, const char *val,
    void *field)
{
	struct threshold *t = field;
	size_t len = strlen(val), digits = strspn(val, "0123456789");
	long whole = 0, frac = 0;

	if (len > 1 && val[len - 1] == '%' && digits > 0 && digits <= 3) {
		size_t fd = 0;

		whole = strtol(val, NULL, 10);
		if (val[digits] == '.') {
			fd = strspn(val + digits + 1, "0123456789");
			frac = fd == 1 ? 10 * strtol(val + digits + 1, NULL, 10) :
			    strtol(val + digits + 1, NULL, 10);
		}
		if ((fd == 0 ? digits + 1 : digits + fd + 2) == len &&
		    (val[digits] == '%' || (fd >= 1 && fd <= 2)) &&
		    whole * 100 + frac > 0 && whole * 100 + frac <= 10000) {
			t->percent = 1;
			t->value = (int)(whole * 100 + frac);
			return 0;
		}
	} else if (digits == len && whole_number(val, &whole) &&
	    whole >= k->min && whole <= k->max) {
		t->percent = 0;
		t->value = (int)whole;
		return 0;
	}
	key_error(ld, k, "\"%s\" is not a share of the known users like 5%% or "
	    "0.5%% (above 0, up to 100%%), nor a count of users like 20 (0 to %d)",
	    val, k->max);
	return -1;
}

static const struct {
	parse_fn *parse;
	int is_string;		/* the field is a char * that conf_free frees */
} types[] = {
	[CT_STRING] = { parse_string, 1 },
	[CT_PATH] = { parse_path, 1 },
	[CT_KEY_REF] = { parse_key_ref, 1 },
	[CT_LDAP_URI] = { parse_ldap_uri, 1 },
	[CT_FILTER] = { parse_filter, 1 },
	[CT_ATTR] = { parse_attr, 1 },
	[CT_EXT_URL] = { parse_ext_url, 1 },
	[CT_SUBJECT] = { parse_subject, 1 },
	[CT_INT] = { parse_int, 0 },
	[CT_BOOL] = { parse_bool, 0 },
	[CT_ENUM] = { parse_enum, 0 },
	[CT_WORD] = { parse_word, 1 },
	[CT_KEY_SPEC] = { parse_key_type, 0 },
	[CT_LOG_LEVEL] = { parse_log_level, 0 },
	[CT_LISTEN] = { parse_listen, 1 },
	[CT_THRESHOLD] = { parse_threshold, 0 },
};

/* ---- the file's shape: sections and keys ------------------------------- */

/* A mistake in the file's shape, told at the line name was written on
 * ("section" or "section:key"): "PATH: line N: what". */
static void
shape_error(struct loader *ld, const char *name, const char *what)
{
	int line = conf_ini_line(&ld->src, name);

	if (line > 0)
		conf_error(ld, "line %d: %s", line, what);
	else
		conf_error(ld, "%s", what);
}

static const struct conf_key *
find_key(const char *section, const char *key)
{
	size_t i;

	for (i = 0; i < NKEYS; i++)
		if (strcmp(conf_keys[i].section, section) == 0 &&
		    (key == NULL || strcmp(conf_keys[i].key, key) == 0))
			return &conf_keys[i];
	return NULL;
}

static void
check_section_keys(struct loader *ld, const char *section)
{
	const char **keys = NULL;
	const char *key = NULL;
	char what[128];
	size_t skip = strlen(section) + 1;
	int i, n;

	if ((n = iniparser_getsecnkeys(ld->ini, section)) <= 0)
		return;
	if ((keys = calloc((size_t)n, sizeof(*keys))) == NULL) {
		conf_error(ld, "out of memory");
		return;
	}
	if (iniparser_getseckeys(ld->ini, section, keys) == NULL)
		goto out;
	for (i = 0; i < n; i++) {
		/* No value: a "[section:x]" header, see check_stray(). */
		if (iniparser_getstring(ld->ini, keys[i], NULL) == NULL)
			continue;
		key = keys[i] + skip;
		if (find_key(section, key) == NULL) {
			snprintf(what, sizeof(what), "[%s] %s: unknown key", section,
			    shown_name(key));
			shape_error(ld, keys[i], what);
		}
	}
out:
	free(keys);
}

/*
 * What the section API cannot see: iniparser files a key above the first
 * header as ":key", in no section, and a "[a:b]" header as key b of [a].
 */
static void
check_stray(struct loader *ld)
{
	const dictionary *d = ld->ini;
	const char *key = NULL;
	char what[128];
	ssize_t i;

	for (i = 0; i < d->size; i++) {
		if ((key = d->key[i]) == NULL || strchr(key, ':') == NULL)
			continue;
		if (d->val[i] == NULL)
			snprintf(what, sizeof(what), "[%s]: unknown section",
			    shown_name(key));
		else if (key[0] == ':')
			snprintf(what, sizeof(what), "%s: key outside any section",
			    shown_name(key + 1));
		else
			continue;
		shape_error(ld, key, what);
	}
}

static void
check_shape(struct loader *ld)
{
	const char *section = NULL;
	char what[128];
	int i, n;

	n = iniparser_getnsec(ld->ini);
	for (i = 0; i < n; i++) {
		if ((section = iniparser_getsecname(ld->ini, i)) == NULL)
			continue;
		/* "[]": its keys went to ":key", reported by check_stray(). */
		if (section[0] == '\0')
			continue;
		if (find_key(section, NULL) == NULL) {
			snprintf(what, sizeof(what), "[%s]: unknown section",
			    shown_name(section));
			shape_error(ld, section, what);
		} else
			check_section_keys(ld, section);
	}
	check_stray(ld);
}

/* ---- values ------------------------------------------------------------ */

static void
load_key(struct loader *ld, const struct conf_key *k)
{
	char name[64];
	const char *val = NULL;
	void *field = field_of(ld->conf, k);

	snprintf(name, sizeof(name), "%s:%s", k->section, k->key);
	val = iniparser_getstring(ld->ini, name, NULL);
	if (val == NULL && k->def_ad != NULL &&
	    ld->conf->directory.flavor == DIR_FLAVOR_AD)
		val = k->def_ad;
	if (val != NULL && *val == '\0') {
		if (k->flags & KF_REQUIRED)
			key_error(ld, k, "is required");
		else if (k->def != NULL)
			key_error(ld, k, "is empty; leave the line out to get "
			    "the default, %s", k->def);
		else
			return;		/* empty optional: unset */
		ld->bad[k - conf_keys] = 1;
		return;
	}
	if (val == NULL && (k->flags & KF_REQUIRED)) {
		key_error(ld, k, "is required");
		ld->bad[k - conf_keys] = 1;
		return;
	}
	if (val == NULL && (val = k->def) == NULL)
		return;
	if ((k->flags & KF_NONE_OFF) && strcasecmp(val, "none") == 0)
		return;
	if (types[k->type].parse(ld, k, val, field) == -1)
		ld->bad[k - conf_keys] = 1;
}

/* Defaults that depend on other keys. */
static void
set_derived(struct loader *ld)
{
	struct conf *c = ld->conf;

	if (c->keystore.password_file == NULL &&
	    c->archive.password_file != NULL &&
	    store_string(ld, &c->keystore.password_file,
	    strdup(c->archive.password_file)) == -1)
		return;
	if (c->publish.certificate_attribute == NULL)
		store_string(ld, &c->publish.certificate_attribute,
		    strdup(c->directory.flavor == DIR_FLAVOR_AD ?
		    "userCertificate" : "userCertificate;binary"));
}

static int
is_bad(struct loader *ld, const char *section, const char *key)
{
	return ld->bad[find_key(section, key) - conf_keys];
}

/* A token key needs its PIN, and has no passphrase.  (pin_file and
 * pkcs11_module are left unused by a key file, as documented.) */
static void
check_ca_key(struct loader *ld)
{
	const struct conf *c = ld->conf;
	int token;

	if (is_bad(ld, "ca", "key") || c->ca.key == NULL)
		return;
	token = strncmp(c->ca.key, "pkcs11:", 7) == 0;
	if (token && c->ca.pin_file == NULL && !is_bad(ld, "ca", "pin_file"))
		key_error(ld, find_key("ca", "pin_file"), "is required with a "
		    "token key ([ca] key = pkcs11:...): the file holding its user PIN");
	if (token && c->ca.passphrase_file != NULL)
		key_error(ld, find_key("ca", "passphrase_file"), "is for a key file; "
		    "a token key ([ca] key = pkcs11:...) takes [ca] pin_file");
}

/* The path of an http(s) URL, as the HTTP listener routes it: 1 with the
 * path in buf ("/" when empty), 0 for another scheme or none. */
static int
http_url_path(const char *url, char *buf, size_t len)
{
	static const char *const schemes[] = { "http://", "https://", NULL };
	const char *p = NULL;
	size_t n;

	if (url == NULL || (n = scheme_len(url, schemes)) == 0)
		return 0;
	p = url + n + strcspn(url + n, "/?#");
	snprintf(buf, len, "%.*s", *p == '/' ? (int)strcspn(p, "?#") : 1,
	    *p == '/' ? p : "/");
	return 1;
}

/* With [http] listen: the CRL and the CA certificate each at a path of
 * their own, not one of the listener's. */
static void
check_http_paths(struct loader *ld)
{
	const struct conf *c = ld->conf;
	char crl[512], aia[512];
	int have_crl = http_url_path(c->certificates.crl_url, crl, sizeof(crl));
	int have_aia = http_url_path(c->certificates.aia_url, aia, sizeof(aia));

	if (c->http.listen == NULL)
		return;
	if (have_crl && (strcmp(crl, "/metrics") == 0 || strcmp(crl, "/healthz") == 0))
		key_error(ld, find_key("certificates", "crl_url"), "its path %s is the "
		    "HTTP listener's own ([http] listen); name the CRL otherwise", crl);
	if (have_aia && (strcmp(aia, "/metrics") == 0 || strcmp(aia, "/healthz") == 0))
		key_error(ld, find_key("certificates", "aia_url"), "its path %s is the "
		    "HTTP listener's own ([http] listen); name the certificate otherwise", aia);
	if (have_crl && have_aia && strcmp(crl, aia) == 0)
		key_error(ld, find_key("certificates", "aia_url"), "has the same path "
		    "as crl_url (%s): the HTTP listener serves the CRL and the CA "
		    "certificate under a name each", aia);
}

/* The archive's two modes: a password file, or recovery agents (and then
 * the keystore needs a password file of its own). */
static void
check_archive(struct loader *ld)
{
	const struct conf *c = ld->conf;

	if (c->archive.password_file == NULL && c->archive.recovery_agents == NULL &&
	    !is_bad(ld, "archive", "password_file"))
		key_error(ld, find_key("archive", "password_file"), "is required "
		    "(unless [archive] recovery_agents is set)");
	if (c->keystore.password_file == NULL && c->archive.recovery_agents != NULL)
		key_error(ld, find_key("keystore", "password_file"), "is required "
		    "when [archive] password_file is not set: the keystore's keys "
		    "need a password, which recovery agents do not give");
	if (c->archive.recovery_agents == NULL &&
	    iniparser_getstring(ld->ini, "archive:recovery_quorum", NULL) != NULL &&
	    !is_bad(ld, "archive", "recovery_quorum"))
		key_error(ld, find_key("archive", "recovery_quorum"), "needs "
		    "[archive] recovery_agents: without agents there is nobody "
		    "to split the password among");
}

static void
check_cross(struct loader *ld)
{
	const struct conf *c = ld->conf;

	check_ca_key(ld);
	check_archive(ld);

	if (c->directory.flavor != DIR_FLAVOR_AD && !is_bad(ld, "directory", "source") &&
	    (strcmp(c->directory.source, "dirsync") == 0 ||
	    strcmp(c->directory.source, "usn") == 0))
		key_error(ld, find_key("directory", "source"),
		    "%s works with Active Directory only; set [directory] flavor = ad",
		    c->directory.source);
	/* A simple bind in clear sends the password in clear; AD refuses it
	 * (Samba; Windows when signing is required) only after that. */
	if (c->directory.flavor == DIR_FLAVOR_AD && c->directory.sasl_mech == NULL &&
	    c->directory.bind_dn != NULL && !c->directory.starttls &&
	    c->directory.uri != NULL && strncasecmp(c->directory.uri, "ldap://", 7) == 0 &&
	    !is_bad(ld, "directory", "uri") && !is_bad(ld, "directory", "starttls"))
		key_error(ld, find_key("directory", "uri"),
		    "a simple bind to Active Directory over ldap:// would send the "
		    "password in clear; use ldaps://, "
		    "starttls = yes, or sasl_mech = GSSAPI");
	check_http_paths(ld);
	if (is_bad(ld, "certificates", "renew_before_days") ||
	    is_bad(ld, "certificates", "validity_days"))
		return;
	if (c->certificates.renew_before_days >= c->certificates.validity_days)
		key_error(ld, find_key("certificates", "renew_before_days"),
		    "%d must be less than [certificates] validity_days (%d)",
		    c->certificates.renew_before_days,
		    c->certificates.validity_days);
}

/* ---- the file ---------------------------------------------------------- */

/* A configuration is a few KiB; more is not one. */
#define CONF_TEXT_MAX (1024 * 1024)

/* Opens path for reading: a regular file (open() would take a directory and
 * fail later, and block on a FIFO).  The descriptor, or -1 after logging. */
static int
open_text(const char *path)
{
	struct stat st;
	int fd = -1, err = 0;

	if ((fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC)) == -1)
		err = errno;
	else if (fstat(fd, &st) == -1)
		err = errno;
	else if (S_ISDIR(st.st_mode))
		err = EISDIR;
	else if (!S_ISREG(st.st_mode))
		err = EINVAL;
	if (err == EINVAL)
		log_error("%s: cannot read: not a regular file", path);
	else if (err != 0)
		log_error("%s: cannot read: %s", path, strerror(err));
	if (err != 0 && fd != -1)
		close(fd);
	return err == 0 ? fd : -1;
}

/* All of fd, read from where it stands, into *text (free() it) and *len;
 * 0, or -1 after logging "PATH: cannot read: ...". */
static int
read_text(const char *path, int fd, char **text, size_t *len)
{
	char *buf = NULL;
	size_t n = 0;
	ssize_t got = 1;

	if ((buf = malloc(CONF_TEXT_MAX + 1)) == NULL)
		fatal("out of memory");
	while (n <= CONF_TEXT_MAX && got != 0) {
		got = read(fd, buf + n, CONF_TEXT_MAX + 1 - n);
		if (got == -1 && errno != EINTR) {
			log_error("%s: cannot read: %s", path, strerror(errno));
			free(buf);
			return -1;
		}
		n += got > 0 ? (size_t)got : 0;
	}
	if (n > CONF_TEXT_MAX) {
		log_error("%s: cannot read: larger than %d bytes", path, CONF_TEXT_MAX);
		free(buf);
		return -1;
	}
	*text = buf;
	*len = n;
	return 0;
}

/*
 * Parses text (taken: kept in the configuration, or freed) as the file
 * path, named so in messages; abs (taken) is its absolute name, whose
 * directory relative names in it start from.
 */
static int
load_text(const char *path, char *abs, char *text, size_t len,
    struct conf **out)
{
	struct loader ld = { 0 };
	FILE *f = NULL;

	ld.path = path;
	if ((ld.conf = calloc(1, sizeof(*ld.conf))) == NULL ||
	    (ld.dir = strdup(abs)) == NULL ||
	    (f = fmemopen(text, len, "r")) == NULL)
		fatal("out of memory");
	ld.conf->path = abs;
	ld.conf->text = text;
	ld.conf->text_len = len;
	/* An absolute name has a '/': the root directory becomes "". */
	*strrchr(ld.dir, '/') = '\0';
	/* Every malformed line is reported (and counted); the rest is read
	 * on, so the mistakes after it are reported in the same run. */
	if (conf_ini_read(path, f, &ld.src, &ld.errors) == -1)
		ld.errors++;
	else {
		ld.ini = ld.src.dict;
		check_shape(&ld);
		for (size_t i = 0; i < NKEYS; i++)
			load_key(&ld, &conf_keys[i]);
		set_derived(&ld);
		check_cross(&ld);
	}
	fclose(f);
	if (ld.errors == 0) {
		*out = ld.conf;
		ld.conf = NULL;
	}
	conf_free(ld.conf);
	conf_ini_free(&ld.src);
	free(ld.dir);
	return ld.errors == 0 ? 0 : EX_CONFIG;
}

int
conf_load(const char *path, struct conf **out)
{
	char *abs = NULL, *text = NULL;
	size_t len = 0;
	int fd = -1, rc = EX_CONFIG;

	*out = NULL;
	if (path == NULL) {
		log_error("no configuration file given");
		return EX_CONFIG;
	}
	if ((fd = open_text(path)) == -1)
		return EX_CONFIG;
	if ((abs = realpath(path, NULL)) == NULL)
		log_error("%s: cannot read: %s", path, strerror(errno));
	else if (read_text(path, fd, &text, &len) == 0) {
		rc = load_text(path, abs, text, len, out);
		abs = NULL;
	}
	close(fd);
	free(abs);
	return rc;
}

int
conf_load_fd(const char *path, int fd, struct conf **out)
{
	char *abs = NULL, *text = NULL;
	size_t len = 0;

	*out = NULL;
	if (path == NULL || path[0] != '/') {
		log_error("%s: the configuration's name must be absolute",
		    path != NULL ? path : "(none)");
		return EX_CONFIG;
	}
	if (read_text(path, fd, &text, &len) == -1)
		return EX_CONFIG;
	if ((abs = strdup(path)) == NULL)
		fatal("out of memory");
	return load_text(path, abs, text, len, out);
}

void
conf_free(struct conf *conf)
{
	size_t i;

	if (conf == NULL)
		return;
	free(conf->text);
	for (i = 0; i < NKEYS; i++)
		if (types[conf_keys[i].type].is_string)
			free(*(char **)field_of(conf, &conf_keys[i]));
	free(conf->path);
	free(conf);
}

int
conf_parse_key_spec(const char *text, struct key_spec *spec)
{
	size_t i;

	if (text == NULL)
		return -1;
	for (i = 0; i < sizeof(key_specs) / sizeof(key_specs[0]); i++) {
		if (strcasecmp(text, key_specs[i].name) == 0) {
			*spec = key_specs[i];
			return 0;
		}
	}
	return -1;
}

char *
conf_scope_text(const struct conf *c)
{
	char *s = NULL;

	if (asprintf(&s, "base=%s scope=%s filter=%s", c->directory.base ?
	    c->directory.base : "", c->directory.scope, c->directory.filter) == -1)
		fatal("out of memory");
	return s;
}
