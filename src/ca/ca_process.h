/*
 * ca_process.h - the CA process: the one process that holds the CA key.
 *
 * Owns: certsync-ca's two modes.  Serving: certsyncd or certsyncctl starts
 * it (fork and exec, src/ca/ca_client.c) with its end of a socketpair on
 * descriptor CA_SOCKET_FD and the configuration it runs on, as text, on
 * CA_CONF_FD; it reads the configuration itself, opens the
 * audit log, the CA certificate and the key (a file, or a token by its
 * pkcs11: URI), gives up what it does not need (ca_sandbox.h), says it is
 * ready, and answers requests (ca_proto.h) until the socket closes.
 * init-ca: makes the CA's self-signed certificate (and, for a key file,
 * the key), so that no other process ever holds the CA key.
 * Never: signs anything its own profile did not build (ca_check.h), lets a
 * certificate or CRL leave before its audit line is on disk, or answers
 * anyone but its parent.
 *
 * Exit status (certsyncd(8)): 0 when the socket closed; 64 not started by
 * certsyncd or certsyncctl; 70 an internal error; 71 the sandbox could not
 * be set up; 74 the audit log could not be written (nothing was released
 * unaudited); 78 the configuration, the audit log, the certificate, the
 * key or its PIN, or [ca] user is wrong: a restart cannot help.  Killed by
 * SIGSYS: a system call outside the seccomp allow-list (a bug).
 */
#ifndef CERTSYNC_CA_PROCESS_H
#define CERTSYNC_CA_PROCESS_H

/* Serves requests on CA_SOCKET_FD; returns the exit status.  The
 * configuration is read from conf_fd when it is not -1 (conf_path then
 * only names it), else from the file conf_path. */
int ca_process_serve(const char *conf_path, int conf_fd);

/* certsyncctl init-ca, in this process; returns the exit status. */
int ca_process_init_ca(const char *conf_path, const char *subject, int days,
    const char *key_type);

#endif
