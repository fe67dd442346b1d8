/*
 * ldapconn.c - connection set-up and bind for the watcher and the publisher.
 *
 * Owns: the options every certsync connection uses.  Never: keeps the bind
 * password after the bind, or prints it.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/time.h>

#include "ldapconn.h"
#include "log.h"
#include "secret.h"

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

static int
set_tls(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	int demand = conf->directory.tls_verify ? LDAP_OPT_X_TLS_DEMAND :
	    LDAP_OPT_X_TLS_NEVER, zero = 0;

	if (conf->directory.tls_key_file != NULL &&
	    secret_check_file(conf->directory.tls_key_file,
	    "[directory] tls_key_file") == -1) {
		snprintf(err, errlen, "[directory] tls_key_file is refused");
		return -1;
	}
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
		snprintf(err, errlen, "cannot set up TLS (check [directory] tls_* files)");
		return -1;
	}
	return 0;
}

static int
ldap_bind_conf(const struct conf *conf, LDAP *ld, char *err, size_t errlen)
{
	struct berval cred = { 0, NULL };
	char *pw = NULL;
	int rc;

	if (conf->directory.sasl_mech != NULL)
		rc = ldap_sasl_bind_s(ld, NULL, conf->directory.sasl_mech, &cred,
		    NULL, NULL, NULL);
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
		snprintf(err, errlen, "bind as %s failed: %s%s",
		    conf->directory.bind_dn ? conf->directory.bind_dn :
		    conf->directory.sasl_mech, ldap_err2string(rc), why);
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
	if (set_tls(conf, ld, err, errlen) == -1)
		goto fail;
	if (conf->directory.starttls &&
	    (rc = ldap_start_tls_s(ld, NULL, NULL)) != LDAP_SUCCESS) {
		char why[300];

		diagnostic(ld, why, sizeof(why));
		snprintf(err, errlen, "StartTLS failed: %s%s%s", ldap_err2string(rc), why,
		    rc == LDAP_CONNECT_ERROR && conf->directory.tls_verify ?
		    "; is the server's certificate signed by a CA in "
		    "[directory] tls_ca_file, and issued for the host in uri?" : "");
		goto fail;
	}
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
