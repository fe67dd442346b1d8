/*
 * ldapconn.h - opening an authenticated LDAP connection per [directory].
 *
 * Owns: connection options (LDAPv3, timeouts, TLS with certificate checks on
 * by default), StartTLS, and the bind (simple with a password file, SASL
 * EXTERNAL, or anonymous).
 * Never: logs the bind password, or turns certificate checks off unless the
 * configuration says so.
 */
#ifndef CERTSYNC_LDAPCONN_H
#define CERTSYNC_LDAPCONN_H

#include <stddef.h>

#include <ldap.h>

#include "conf.h"

/*
 * Connects and binds.  Blocks for at most about twice [directory]
 * network_timeout, so the daemon calls it off its event loop.  Returns the
 * handle (free with ldap_unbind_ext_s), or NULL with a one-line reason in err.
 */
LDAP *ldapconn_open(const struct conf *conf, char *err, size_t errlen);

/* True when rc means the connection is unusable (reconnect), not the request. */
int ldapconn_lost(int rc);

#endif
