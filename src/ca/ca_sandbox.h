/*
 * ca_sandbox.h - what the CA process gives up once its key is open.
 *
 * Owns: becoming [ca] user when started as root, no_new_privs and no core
 * dumps (nor ptrace or /proc/PID/mem for its own user), the check that no
 * descriptor is open but the ones it keeps, and the seccomp allow-list.
 * Never: runs before the key, the certificate and the audit log are open
 * (none of them could be opened after), or lets a failure pass: a sandbox
 * that cannot be set up stops the process.
 *
 * Return convention: 0, or -1 after logging.
 */
#ifndef CERTSYNC_CA_SANDBOX_H
#define CERTSYNC_CA_SANDBOX_H

#include "lib/conf.h"

/* What the seccomp filter does with a system call outside its list. */
enum ca_seccomp_mode {
	CA_SECCOMP_KILL,      /* the process dies (SIGSYS): the default */
	CA_SECCOMP_TRAP,      /* test builds: one line naming the call, then exit */
	CA_SECCOMP_LOG,       /* test builds: the kernel logs it, the call runs */
	CA_SECCOMP_OFF,       /* test builds: no filter */
};

/*
 * Becomes [ca] user (and its group, no others) if running as root, handing
 * it the audit log; then sets no_new_privs and makes the process
 * non-dumpable.  *permanent is set when a restart cannot help (no such
 * user, or [ca] user is root).
 */
int ca_sandbox_drop(const struct conf *conf, int audit_fd, int *permanent);

/*
 * Hands the audit log to [ca] user when running as root, so that a CA
 * process started later as that user (the packaged service) can append to
 * it.  A missing user is left to ca_sandbox_drop() to refuse.
 */
void ca_sandbox_give_audit_log(const struct conf *conf, int audit_fd);

/*
 * Checks /proc/self/fd: nothing open but 0-2 (/dev/null, /dev/null, the
 * log), the socket and the audit log.  With others_ok (a token key, whose
 * PKCS#11 module may keep files or a connection to its HSM; or logging to
 * syslog) other descriptors are listed at debug level instead of refused.
 */
int ca_sandbox_check_fds(int sock, int audit_fd, int others_ok);

/*
 * Loads the allow-list: what serving requests needs (the socket, the audit
 * log and stderr written to, memory, randomness, time), plus what a
 * PKCS#11 module does while it signs when token is set (SoftHSM2 reads its
 * object files afresh, under a read lock, for every signature), plus
 * sendto() on the connected syslog socket when syslog is set.
 */
int ca_sandbox_seccomp(enum ca_seccomp_mode mode, int sock, int audit_fd, int token,
    int syslog);

/* The mode test builds may choose by CERTSYNC_CA_SECCOMP=trap|log|off. */
enum ca_seccomp_mode ca_sandbox_mode(void);

#endif
