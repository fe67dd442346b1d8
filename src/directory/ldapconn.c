/*
 * ldapconn.c - connection set-up and bind for the watcher and the publisher.
 *
 * Owns: the options every certsync connection uses, and the Kerberos
 * environment of the process (set once, at start).  Never: keeps the bind
 * password after the bind, or prints it; puts the tickets it gets from
 * [directory] keytab in a file.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include "directory/ldapconn.h"
#include "lib/log.h"
#include "lib/secret.h"

/*
 * The keytab ldapconn_init_env() put in the environment, or NULL: written once
 * before any thread starts, only read afterwards.
 */
static char *env_keytab;

void
ldapconn_init_env(const struct conf *conf)
{
	char *ktname = NULL;

	if (conf->directory.keytab == NULL)
		return;	/* the Kerberos library's defaults */
	if (asprintf(&ktname, "FILE:%s", conf->directory.keytab) == -1 ||
	    (env_keytab = strdup(conf->directory.keytab)) == NULL ||
	    /* MIT Kerberos gets (and renews) the initial tickets of the client
	     * keytab's first principal by itself, into an in-memory cache. */
	    setenv("KRB5_CLIENT_KTNAME", ktname, 1) == -1 ||
	    setenv("KRB5CCNAME", "MEMORY:certsync", 1) == -1)
		fatal("out of memory");
	free(ktname);
}

/* libldap's detail for the last failure (e.g. the TLS verify error), or "". */
static void
diagnostic(LDAP *ld, char *buf, size_t len)
{
	char *msg = NULL;

	buf[0] = '\0';
	/* Debian's libldap (GnuTLS) often has only "(unknown error code)". */
	if (ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) == LDAP_OPT_SUCCESS &&
	    msg != NULL && *msg != '\0' && strstr(msg, "unknown error") == NULL)
		snprintf(buf, len, " (%s)", msg);
	ldap_memfree(msg);
}

/* A TLS file the library would fail to load, named, with the reason. */
static int
tls_file_readable(const char *path, const char *what, char *err, size_t errlen)
{
	if (path == NULL || access(path, R_OK) == 0)
		return 0;
	snprintf(err, errlen, "[directory] %s %s: %s", what, path, strerror(errno));
	return -1;
}

/* The library could not load the TLS files (they are readable). */
static void
tls_setup_failed(const struct conf *conf, char *err, size_t errlen)
{
	const char *ca = conf->directory.tls_ca_file;

	if (conf->directory.tls_cert_file != NULL)
		snprintf(err, errlen, "cannot set up TLS: are [directory] %s"
		    "tls_cert_file and tls_key_file PEM files, and does the key "
		    "match the certificate?", ca != NULL ? "tls_ca_file, " : "");
	else if (ca != NULL)
		snprintf(err, errlen, "cannot set up TLS: is [directory] "
		    "tls_ca_file %s a PEM file of CA certificates?", ca);
	else
		snprintf(err, errlen, "cannot set up TLS with the LDAP library's "
		    "defaults (TLS_CACERT in ldap.conf); set [directory] "
		    "tls_ca_file");
}

static int
set_tls(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	int demand = conf->directory.tls_verify ? LDAP_OPT_X_TLS_DEMAND :
	    LDAP_OPT_X_TLS_NEVER, zero = 0;

	if ((conf->directory.tls_cert_file == NULL) !=
	    (conf->directory.tls_key_file == NULL)) {
		snprintf(err, errlen, "[directory] %s is set but %s is not: a "
		    "client certificate needs both", conf->directory.tls_cert_file ?
		    "tls_cert_file" : "tls_key_file", conf->directory.tls_cert_file ?
		    "tls_key_file" : "tls_cert_file");
		return -1;
	}
	/* Checked here, before any connection; one line in err (this runs on
	 * a worker thread that reports it). */
	if (conf->directory.tls_key_file != NULL &&
	    secret_check_file_err(conf->directory.tls_key_file,
	    "[directory] tls_key_file", err, errlen) == -1)
		return -1;
	if (tls_file_readable(conf->directory.tls_ca_file, "tls_ca_file",
	    err, errlen) == -1 ||
	    tls_file_readable(conf->directory.tls_cert_file, "tls_cert_file",
	    err, errlen) == -1)
		return -1;
	if (ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand) != LDAP_OPT_SUCCESS ||
	    (conf->directory.tls_ca_file != NULL &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE,
	    conf->directory.tls_ca_file) != LDAP_OPT_SUCCESS) ||
	    (conf->directory.tls_cert_file != NULL &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_CERTFILE,
	    conf->directory.tls_cert_file) != LDAP_OPT_SUCCESS) ||
	    (conf->directory.tls_key_file != NULL &&
	    ldap_set_option(ld, LDAP_OPT_X_TLS_KEYFILE,
	    conf->directory.tls_key_file) != LDAP_OPT_SUCCESS) ||
	    /* A new context, so the options above apply to this handle. */
	    ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &zero) != LDAP_OPT_SUCCESS) {
		tls_setup_failed(conf, err, errlen);
		return -1;
	}
	return 0;
}

/* True when TLS protects the connection: ldaps://, or StartTLS. */
static int
over_tls(const struct conf *conf)
{
	return conf->directory.starttls ||
	    strncasecmp(conf->directory.uri, "ldaps://", 8) == 0;
}

/* What to check after a failed TLS handshake, or "". */
static const char *
tls_hint(const struct conf *conf)
{
	if (conf->directory.tls_verify && conf->directory.tls_cert_file != NULL)
		return "; is the server's certificate signed by a CA in "
		    "[directory] tls_ca_file, and issued for the host in uri? "
		    "Does the server trust the issuer of tls_cert_file?";
	if (conf->directory.tls_verify)
		return "; is the server's certificate signed by a CA in "
		    "[directory] tls_ca_file, and issued for the host in uri?";
	if (conf->directory.tls_cert_file != NULL)
		return "; does the server trust the issuer of [directory] "
		    "tls_cert_file?";
	return "";
}

/*
 * ldaps://: connects, TLS handshake included, before the bind, so that a
 * failed handshake is not reported as a failed bind.  libldap says
 * LDAP_SERVER_DOWN both for a refused connection and for a failed handshake;
 * only the handshake leaves a diagnostic message (with GnuTLS often no more
 * than "(unknown error code)").
 */
static int
connect_ldaps(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	char *msg = NULL, why[300];
	int handshake;

	if (ldap_connect(ld) == LDAP_SUCCESS)
		return 0;
	handshake = ldap_get_option(ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &msg) ==
	    LDAP_OPT_SUCCESS && msg != NULL && *msg != '\0';
	ldap_memfree(msg);
	diagnostic(ld, why, sizeof(why));
	if (handshake)
		snprintf(err, errlen, "TLS handshake failed%s%s", why,
		    tls_hint(conf));
	else
		snprintf(err, errlen, "cannot connect: %s",
		    ldap_err2string(LDAP_SERVER_DOWN));
	return -1;
}

/*
 * SASL prompts: GSSAPI asks at most for an authorization identity, and
 * certsync wants none (it acts as the keytab's principal), so every prompt is
 * left unanswered.  Never reads a terminal.
 */
static int
sasl_no_prompts(LDAP *ld, unsigned flags, void *defaults, void *prompts)
{
	(void)ld;
	(void)flags;
	(void)defaults;
	(void)prompts;
	return LDAP_SUCCESS;
}

static int
same_path(const char *a, const char *b)
{
	return a == NULL ? b == NULL : b != NULL && strcmp(a, b) == 0;
}

/*
 * A reload changed [directory] keytab: says once per new value (binds come
 * from several threads) that the keytab of the start stays in use.
 */
static void
warn_keytab_changed(const char *keytab)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static char *warned;	/* the value last warned about; "" for unset */
	const char *now = keytab != NULL ? keytab : "";

	pthread_mutex_lock(&lock);
	if (warned == NULL || strcmp(warned, now) != 0) {
		free(warned);
		if ((warned = strdup(now)) == NULL)
			fatal("out of memory");
		log_warn("[directory] keytab changed to %s since the start; still "
		    "using %s until a restart (a reload does not re-read it)",
		    keytab != NULL ? keytab : "(unset)",
		    env_keytab != NULL ? env_keytab : "the Kerberos default");
	}
	pthread_mutex_unlock(&lock);
}

/* What to check after a failed GSSAPI bind. */
static const char *
gssapi_hint(const struct conf *conf, const char *keytab, int rc, const char *why)
{
	if (rc == LDAP_AUTH_UNKNOWN || rc == LDAP_NOT_SUPPORTED)
		return "is the GSSAPI SASL module installed "
		    "(Debian: libsasl2-modules-gssapi-mit)?";
	if (rc == LDAP_STRONG_AUTH_REQUIRED && over_tls(conf))
		/* Samba's "ldap server require strong auth = yes" (its default
		 * before 4.20) wants a SASL layer that Windows refuses in TLS. */
		return "the server wants a SASL security layer, which certsync "
		    "does not use inside TLS (Active Directory refuses it); on a "
		    "Samba DC set \"ldap server require strong auth = "
		    "allow_sasl_over_tls\", or use uri = ldap:// without starttls";
	if (keytab == NULL)
		return "is there a Kerberos ticket (kinit), or set [directory] keytab?";
	if (strstr(why, "Preauthentication failed") != NULL ||
	    strstr(why, "Decrypt integrity check failed") != NULL)
		/* The KDC knows the principal but not these keys. */
		return "are [directory] keytab's keys current? Export it again "
		    "after the account's password changes";
	return "is [directory] keytab readable and its principal known to the KDC?";
}

/* Who the bind made us, and how the connection is protected (info). */
static void
log_gssapi_identity(const struct conf *conf, LDAP *ld)
{
	char *user = NULL;
	ber_len_t ssf = 0;

	if (ldap_get_option(ld, LDAP_OPT_X_SASL_USERNAME, &user) != LDAP_OPT_SUCCESS)
		user = NULL;
	if (ldap_get_option(ld, LDAP_OPT_X_SASL_SSF, &ssf) != LDAP_OPT_SUCCESS)
		ssf = 0;
	if (over_tls(conf))
		log_info("directory %s: bound with GSSAPI as %s, inside TLS "
		    "(no SASL layer)", conf->directory.uri, user ? user : "?");
	else
		log_info("directory %s: bound with GSSAPI as %s, SASL layer of "
		    "%lu bits", conf->directory.uri, user ? user : "?",
		    (unsigned long)ssf);
	ldap_memfree(user);
}

static int
bind_gssapi(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	/* The keytab in effect is the one of the start: see ldapconn_init_env. */
	const char *keytab = env_keytab;
	ber_len_t no_layer = 0;
	int cbinding = LDAP_OPT_X_SASL_CBINDING_TLS_ENDPOINT;
	char why[400];
	int rc;

	if (!same_path(conf->directory.keytab, env_keytab))
		warn_keytab_changed(conf->directory.keytab);
	if (keytab != NULL &&
	    secret_check_file_err(keytab, "[directory] keytab", err, errlen) == -1)
		return -1;
	/* Over TLS, bind the Kerberos exchange to the server's certificate
	 * (tls-server-end-point, RFC 5929): what an AD that enforces LDAP
	 * channel binding asks for; servers that do not check it ignore it. */
	if (over_tls(conf) && ldap_set_option(ld, LDAP_OPT_X_SASL_CBINDING,
	    &cbinding) != LDAP_OPT_SUCCESS) {
		snprintf(err, errlen, "cannot set SASL channel binding for GSSAPI");
		return -1;
	}
	/* The service principal is ldap/<host as written in uri>, not what a
	 * reverse lookup of the address says. */
	if (ldap_set_option(ld, LDAP_OPT_X_SASL_NOCANON, LDAP_OPT_ON) != LDAP_OPT_SUCCESS ||
	    /* TLS protects the connection; Active Directory refuses GSSAPI
	     * sign/seal inside TLS.  Without TLS the layer stays on: AD
	     * requires signing there. */
	    (over_tls(conf) && ldap_set_option(ld, LDAP_OPT_X_SASL_SSF_MAX,
	    &no_layer) != LDAP_OPT_SUCCESS)) {
		snprintf(err, errlen, "cannot set SASL options for GSSAPI");
		return -1;
	}
	rc = ldap_sasl_interactive_bind_s(ld, NULL, "GSSAPI", NULL, NULL,
	    LDAP_SASL_QUIET, sasl_no_prompts, NULL);
	if (rc != LDAP_SUCCESS) {
		diagnostic(ld, why, sizeof(why));
		snprintf(err, errlen, "GSSAPI bind failed: %s%s; %s",
		    ldap_err2string(rc), why, gssapi_hint(conf, keytab, rc, why));
		return -1;
	}
	log_gssapi_identity(conf, ld);
	return 0;
}

/*
 * A first request after the handshake found the connection closed: with TLS
 * 1.3 that is how a server that refuses the client certificate shows it.
 */
static const char *
client_cert_hint(const struct conf *conf, int rc)
{
	if (rc == LDAP_SERVER_DOWN && over_tls(conf) &&
	    conf->directory.tls_cert_file != NULL)
		return "; the server closed the connection after the TLS "
		    "handshake: does it trust the issuer of [directory] "
		    "tls_cert_file?";
	return "";
}

/* What to check after a failed EXTERNAL bind. */
static const char *
external_hint(const struct conf *conf, int rc)
{
	if (strncasecmp(conf->directory.uri, "ldapi://", 8) == 0)
		return rc == LDAP_AUTH_METHOD_NOT_SUPPORTED ? "; does the server "
		    "allow EXTERNAL on its ldapi socket?" : "";
	if (!over_tls(conf))
		return "; EXTERNAL needs TLS with a client certificate (ldaps:// "
		    "or starttls = yes) or ldapi://";
	if (conf->directory.tls_cert_file == NULL)
		return "; EXTERNAL over TLS binds as the client certificate: set "
		    "[directory] tls_cert_file and tls_key_file";
	if (rc == LDAP_AUTH_METHOD_NOT_SUPPORTED)
		/* slapd: no client certificate it verified on this connection. */
		return "; the server took no client certificate from this "
		    "connection: does it trust the issuer of [directory] "
		    "tls_cert_file and ask for one (OpenLDAP: "
		    "olcTLSCACertificateFile, olcTLSVerifyClient try or demand)?";
	return client_cert_hint(conf, rc);
}

/* Who the server says the EXTERNAL bind made us (info); not fatal. */
static void
log_external_identity(const struct conf *conf, LDAP *ld)
{
	struct berval *authzid = NULL;

	if (ldap_whoami_s(ld, &authzid, NULL, NULL) == LDAP_SUCCESS &&
	    authzid != NULL && authzid->bv_len > 0)
		log_info("directory %s: bound with EXTERNAL as %.*s",
		    conf->directory.uri, (int)authzid->bv_len, authzid->bv_val);
	else
		log_info("directory %s: bound with EXTERNAL (the server does not "
		    "say as whom)", conf->directory.uri);
	ber_bvfree(authzid);
}

/*
 * SASL EXTERNAL: the identity the connection proves (the client certificate
 * over TLS, the peer's uid over ldapi://), as the server maps it.
 */
static int
bind_external(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	/* An empty initial response: no authorization identity, act as the
	 * authenticated one (RFC 4422, appendix A).  Without any response
	 * slapd answers with an empty challenge (saslBindInProgress), which
	 * ldap_sasl_bind_s() leaves unanswered: the bind never completes. */
	static char no_authzid[1];
	struct berval cred = { 0, no_authzid };
	char why[300];
	int rc;

	rc = ldap_sasl_bind_s(ld, NULL, "EXTERNAL", &cred, NULL, NULL, NULL);
	if (rc != LDAP_SUCCESS) {
		diagnostic(ld, why, sizeof(why));
		snprintf(err, errlen, "SASL EXTERNAL bind failed: %s%s%s",
		    ldap_err2string(rc), why, external_hint(conf, rc));
		return -1;
	}
	log_external_identity(conf, ld);
	return 0;
}

static int
ldap_bind_conf(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	struct berval cred = { 0, NULL };
	char *pw = NULL;
	int rc;

	if (conf->directory.sasl_mech != NULL &&
	    strcmp(conf->directory.sasl_mech, "GSSAPI") == 0)
		return bind_gssapi(conf, ld, err, errlen);
	else if (conf->directory.sasl_mech != NULL)
		return bind_external(conf, ld, err, errlen);
	else if (conf->directory.bind_dn != NULL) {
		if (conf->directory.bind_password_file == NULL) {
			snprintf(err, errlen, "[directory] bind_dn is set but "
			    "bind_password_file is not");
			return -1;
		}
		if ((pw = secret_read_password(conf->directory.bind_password_file,
		    "[directory] bind_password_file")) == NULL) {
			snprintf(err, errlen, "[directory] bind_password_file is refused");
			return -1;
		}
		cred.bv_val = pw;
		cred.bv_len = strlen(pw);
		rc = ldap_sasl_bind_s(ld, conf->directory.bind_dn, LDAP_SASL_SIMPLE,
		    &cred, NULL, NULL, NULL);
		secret_free(pw);
	} else
		return 0;	/* anonymous */
	if (rc != LDAP_SUCCESS) {
		char why[300];

		diagnostic(ld, why, sizeof(why));
		snprintf(err, errlen, "bind as %s failed: %s%s%s",
		    conf->directory.bind_dn, ldap_err2string(rc), why,
		    client_cert_hint(conf, rc));
		return -1;
	}
	return 0;
}

/*
 * TCP keepalive on every connection: a host that is gone (powered off, cut
 * off) is found after idle + probes * interval seconds even on a silent
 * persistent search.  A hung server process is not (its kernel answers
 * the probes): the watcher's own probe finds that one (watch.c).
 */
static int
set_keepalive(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	int idle = conf->directory.idle_probe > 0 ? conf->directory.idle_probe : 60;
	int interval = conf->directory.network_timeout, probes = 3;

	if (ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_IDLE, &idle) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_INTERVAL,
	    &interval) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_X_KEEPALIVE_PROBES, &probes) != LDAP_OPT_SUCCESS) {
		snprintf(err, errlen, "cannot set TCP keepalive options");
		return -1;
	}
	return 0;
}

LDAP *
ldapconn_open(const struct conf *conf, char *err, size_t errlen)
{
	struct timeval tv = { conf->directory.network_timeout, 0 };
	int version = LDAP_VERSION3, rc;
	LDAP *ld = NULL;

	if ((rc = ldap_initialize(&ld, conf->directory.uri)) != LDAP_SUCCESS) {
		snprintf(err, errlen, "%s: %s", conf->directory.uri, ldap_err2string(rc));
		return NULL;
	}
	if (ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) != LDAP_OPT_SUCCESS ||
	    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &tv) != LDAP_OPT_SUCCESS) {
		snprintf(err, errlen, "cannot set connection options");
		goto fail;
	}
	if (set_keepalive(conf, ld, err, errlen) == -1 ||
	    set_tls(conf, ld, err, errlen) == -1)
		goto fail;
	if (conf->directory.starttls &&
	    (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		char why[300];

		diagnostic(ld, why, sizeof(why));
		snprintf(err, errlen, "StartTLS failed: %s%s%s", ldap_err2string(rc),
		    why, rc == LDAP_CONNECT_ERROR ? tls_hint(conf) : "");
		goto fail;
	}
	if (!conf->directory.starttls && over_tls(conf) &&
	    connect_ldaps(conf, ld, err, errlen) == -1)
		goto fail;
	if (ldap_bind_conf(conf, ld, err, errlen) == -1)
		goto fail;
	return ld;
fail:
	ldap_unbind_ext_s(ld, NULL, NULL);
	return NULL;
}

int
ldapconn_lost(int rc)
{
	return rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	    rc == LDAP_TIMEOUT || rc == LDAP_UNAVAILABLE || rc == LDAP_BUSY ||
	    rc == LDAP_OTHER;
}

LDAPMessage *
ldapconn_rootdse(LDAP *ld, char **attrs, int timeout, LDAPMessage **entry,
    char *err, size_t errlen)
{
	struct timeval tv = { timeout, 0 };
	LDAPMessage *res = NULL;
	int rc;

	rc = ldap_search_ext_s(ld, "", LDAP_SCOPE_BASE, "(objectClass=*)", attrs, 0,
	    NULL, NULL, &tv, 0, &res);
	if (rc != LDAP_SUCCESS || (*entry = ldap_first_entry(ld, res)) == NULL) {
		snprintf(err, errlen, "cannot read the rootDSE: %s",
		    ldap_err2string(rc == LDAP_SUCCESS ? LDAP_NO_SUCH_OBJECT : rc));
		ldap_msgfree(res);
		return NULL;
	}
	return res;
}

char *
ldapconn_first_value(LDAP *ld, LDAPMessage *e, const char *attr)
{
	struct berval **v = ldap_get_values_len(ld, e, attr);
	char *s = NULL;

	if (v != NULL && v[0] != NULL) {
		if ((s = malloc(v[0]->bv_len + 1)) == NULL)
			fatal("out of memory");
		memcpy(s, v[0]->bv_val, v[0]->bv_len);
		s[v[0]->bv_len] = '\0';
	}
	ldap_value_free_len(v);
	return s;
}
