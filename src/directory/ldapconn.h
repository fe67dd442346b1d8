/*
 * ldapconn.h - opening an authenticated LDAP connection per [directory].
 *
 * Owns: connection options (LDAPv3, timeouts, TLS with certificate checks on
 * by default), StartTLS, and the bind (simple with a password file, SASL
 * EXTERNAL, SASL GSSAPI with a client keytab, or anonymous), and the
 * process's Kerberos environment for that keytab; reading the rootDSE that
 * every server flavour's probe starts from.
 * Never: logs the bind password or any Kerberos key, or turns certificate
 * checks off unless the configuration says so.
 */
#ifndef CERTSYNC_LDAPCONN_H
#define CERTSYNC_LDAPCONN_H

#include <stddef.h>

#include <ldap.h>

#include "lib/conf.h"

/*
 * Sets up the process environment for [directory] keytab: when it is set,
 * KRB5_CLIENT_KTNAME=FILE:<keytab> (MIT Kerberos then gets tickets for the
 * keytab's first principal by itself, and renews them) and
 * KRB5CCNAME=MEMORY:certsync (tickets stay in this process's memory, never
 * in a file); both override whatever the environment had.  When keytab is
 * unset nothing changes: the Kerberos library's defaults apply.
 *
 * setenv() is not thread-safe: call this once, after loading the
 * configuration and before any thread starts.  A reload (SIGHUP) does not
 * call it again, so a changed keytab takes effect only at the next restart;
 * until then the keytab of the start is used, and the first bind after such
 * a reload logs a warning saying so.
 */
void ldapconn_init_env(const struct conf *conf);

/*
 * Connects and binds.  Blocks for at most about twice [directory]
 * network_timeout, so the daemon calls it off its event loop.  Returns the
 * handle (free with ldap_unbind_ext_s), or NULL with a one-line reason in err.
 *
 * sasl_mech = GSSAPI: checks the keytab as a secret file first, then binds
 * with the service principal ldap/<host as written in uri> (no hostname
 * canonicalization by libldap or SASL; krb5.conf's dns_canonicalize_hostname
 * and rdns still govern the Kerberos library's own).  Over ldaps:// or
 * StartTLS the SASL security layer is off (maximum SSF 0: Active Directory
 * refuses GSSAPI sign/seal inside TLS); over plain ldap:// it is negotiated
 * (Active Directory requires signing there).
 */
LDAP *ldapconn_open(const struct conf *conf, char *err, size_t errlen);

/*
 * Reads attrs of the rootDSE (a base search of "", at most timeout seconds).
 * Returns the result (free with ldap_msgfree) with its entry in *entry, or
 * NULL with "cannot read the rootDSE: <reason>" in err.
 */
LDAPMessage *ldapconn_rootdse(LDAP *ld, char **attrs, int timeout,
    LDAPMessage **entry, char *err, size_t errlen);

/* The first value of attr in e, copied with a NUL after it (free() it);
 * NULL when e has no value of attr. */
char *ldapconn_first_value(LDAP *ld, LDAPMessage *e, const char *attr);

/* True when rc means the connection is unusable (reconnect), not the request. */
int ldapconn_lost(int rc);

#endif
