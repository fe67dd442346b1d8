/*
 * ca_sandbox.c - the CA process's privileges, descriptors and system calls
 * after its key is open (ca_sandbox.h).
 *
 * Owns: the drop to [ca] user, no_new_privs, non-dumpable, the descriptor
 * check, and the seccomp allow-list with the reason for each entry.
 * Never: leaves a step half done: each either holds or stops the process.
 *
 * The allow-list was found by running the CA process's tests under
 * CERTSYNC_CA_SECCOMP=trap (test builds), which names any call it lacks.
 */
#include "config.h"

#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef HAVE_SECCOMP
#include <seccomp.h>
#endif

#include "ca/ca_sandbox.h"
#include "lib/log.h"

/* ASan builds: LeakSanitizer checks at exit from a clone that ptraces
 * the process, which a non-dumpable process refuses. */
#if defined(__SANITIZE_ADDRESS__)
#define CS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CS_SANITIZED 1
#endif
#endif

/* ---- user, no_new_privs, dumpable -------------------------------------- */

/* Becomes pw's user and group; 0, or -1 after logging. */
static int
become(const struct passwd *pw)
{
	uid_t r, e, s;

	if (setgroups(1, &pw->pw_gid) == -1 ||
	    setresgid(pw->pw_gid, pw->pw_gid, pw->pw_gid) == -1 ||
	    setresuid(pw->pw_uid, pw->pw_uid, pw->pw_uid) == -1) {
		log_error("[ca] user %s: cannot become it: %s", pw->pw_name,
		    strerror(errno));
		return -1;
	}
	if (getresuid(&r, &e, &s) == -1 || r != pw->pw_uid || e != pw->pw_uid ||
	    s != pw->pw_uid || setuid(0) != -1) {
		log_error("[ca] user %s: the process could still become root",
		    pw->pw_name);
		return -1;
	}
	return 0;
}

void
ca_sandbox_give_audit_log(const struct conf *conf, int audit_fd)
{
	struct passwd *pw;

	if (geteuid() != 0 || (pw = getpwnam(conf->ca.user)) == NULL || pw->pw_uid == 0)
		return;
	if (fchown(audit_fd, pw->pw_uid, pw->pw_gid) == -1)
		log_warn("[ca] audit_log %s: cannot hand it to user %s: %s",
		    conf->ca.audit_log, pw->pw_name, strerror(errno));
}

int
ca_sandbox_drop(const struct conf *conf, int audit_fd, int *permanent)
{
	struct passwd *pw;

	*permanent = 0;
	/* Not root (the packaged unit runs everything as certsync, where
	 * setuid() fails anyway): nothing to give up but what follows. */
	if (geteuid() == 0) {
		errno = 0;
		if ((pw = getpwnam(conf->ca.user)) == NULL || pw->pw_uid == 0) {
			log_error("[ca] user %s: %s; the CA process does not run as "
			    "root (create the user, or name another)", conf->ca.user,
			    pw != NULL ? "is root" : errno ? strerror(errno) :
			    "no such user");
			*permanent = 1;
			return -1;
		}
		ca_sandbox_give_audit_log(conf, audit_fd);
		if (become(pw) == -1)
			return -1;
	}
	/* No setuid program or file capability can give anything back, and
	 * neither its own user's other processes nor a core file can read
	 * its memory (ptrace, /proc/PID/mem need CAP_SYS_PTRACE now). */
#ifdef CS_SANITIZED
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1) {
#else
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == -1 ||
	    prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == -1) {
#endif
		log_error("cannot set no_new_privs or non-dumpable: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- descriptors ---------------------------------------------------------- */

static int
fd_expected(int fd, int sock, int audit_fd)
{
	return fd <= 2 || fd == sock || fd == audit_fd;
}

int
ca_sandbox_check_fds(int sock, int audit_fd, int others_ok)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int extra = 0;

	if (d == NULL) {
		log_error("cannot list /proc/self/fd: %s", strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		char path[64], target[256] = "?";
		int fd = atoi(e->d_name);
		ssize_t n;

		if (e->d_name[0] == '.' || fd == dirfd(d) || fd_expected(fd, sock, audit_fd))
			continue;
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		if ((n = readlink(path, target, sizeof(target) - 1)) >= 0)
			target[n] = '\0';
		if (others_ok)
			log_debug("descriptor %d (%s) is the PKCS#11 module's or syslog's",
			    fd, target);
		else {
			log_error("descriptor %d (%s) is open; the CA process keeps only "
			    "its socket and its audit log", fd, target);
			extra++;
		}
	}
	closedir(d);
	return extra == 0 ? 0 : -1;
}

/* ---- seccomp ------------------------------------------------------------ */

enum ca_seccomp_mode
ca_sandbox_mode(void)
{
#ifdef CS_FAILPOINTS
	const char *m = getenv("CERTSYNC_CA_SECCOMP");

	if (m != NULL && strcmp(m, "trap") == 0)
		return CA_SECCOMP_TRAP;
	if (m != NULL && strcmp(m, "log") == 0)
		return CA_SECCOMP_LOG;
	if (m != NULL && strcmp(m, "off") == 0)
		return CA_SECCOMP_OFF;
#endif
	return CA_SECCOMP_KILL;
}

#ifdef HAVE_SECCOMP

/* Test builds' trap: one line naming the call, then the same end as KILL
 * would bring.  Only async-signal-safe calls, and only allowed ones. */
static void
on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char msg[96] = "certsync-ca: error: seccomp: system call ";
	char num[16], *p = num + sizeof(num);
	int n = si->si_syscall;
	size_t len;

	*--p = '\0';
	do
		*--p = (char)('0' + n % 10);
	while ((n /= 10) > 0 && p > num);
	len = strlen(msg);
	memcpy(msg + len, p, strlen(p));
	len += strlen(p);
	memcpy(msg + len, " is not allowed\n", 16);
	(void)!write(2, msg, len + 16);
	_exit(128 + SIGSYS);
}

/* One argument condition; the SCMP_A* macros leave datum_b out, which
 * clang's -Wmissing-field-initializers refuses. */
static struct scmp_arg_cmp
arg_cmp(unsigned int arg, enum scmp_compare op, scmp_datum_t a, scmp_datum_t b)
{
	struct scmp_arg_cmp c = { .arg = arg, .op = op, .datum_a = a, .datum_b = b };

	return c;
}

/* Allows a call; with an argument condition when cmp is given. */
static int
allow(scmp_filter_ctx ctx, int nr, unsigned n, const struct scmp_arg_cmp *cmp)
{
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);
}

/*
 * Serving requests, whatever holds the key.  What a run of the tests
 * showed, after the filter is loaded: recvmsg and sendmsg on the socket;
 * write on the audit log and stderr; fdatasync on the audit log; brk,
 * mmap, mremap, munmap (malloc: a 64 MiB message grows by mremap); getpid
 * (OpenSSL's fork check, libp11's); futex; exit_group.  And what a longer
 * run needs: getrandom (OpenSSL's DRBG reseeds), madvise (free), the clock
 * where the vDSO cannot answer, sysinfo (a big CRL's sort).
 */
static int
allow_base(scmp_filter_ctx ctx, int sock, int audit_fd)
{
	struct scmp_arg_cmp on_sock = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)sock, 0);
	struct scmp_arg_cmp on_audit = arg_cmp(0, SCMP_CMP_EQ, (scmp_datum_t)audit_fd, 0);
	struct scmp_arg_cmp on_stderr = arg_cmp(0, SCMP_CMP_EQ, 2, 0);
	/* Memory, but never executable memory (mask PROT_EXEC, value 0). */
	struct scmp_arg_cmp no_exec = arg_cmp(2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0);
	static const int plain[] = {
		SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap), SCMP_SYS(madvise),
		SCMP_SYS(getrandom), SCMP_SYS(getpid), SCMP_SYS(futex),
		SCMP_SYS(clock_gettime), SCMP_SYS(gettimeofday), SCMP_SYS(time),
		SCMP_SYS(exit_group),
		/* glibc's qsort asks for the memory size (sysconf
		 * _SC_PHYS_PAGES) the first time it sorts over 1 KiB: a CRL of
		 * more than 128 entries (X509_CRL_sort). */
		SCMP_SYS(sysinfo),
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		bad |= allow(ctx, plain[i], 0, NULL) != 0;
	bad |= allow(ctx, SCMP_SYS(mmap), 1, &no_exec) != 0;
	bad |= allow(ctx, SCMP_SYS(recvmsg), 1, &on_sock) != 0;
	bad |= allow(ctx, SCMP_SYS(sendmsg), 1, &on_sock) != 0;
	bad |= allow(ctx, SCMP_SYS(write), 1, &on_audit) != 0;
	bad |= allow(ctx, SCMP_SYS(write), 1, &on_stderr) != 0;
	bad |= allow(ctx, SCMP_SYS(fdatasync), 1, &on_audit) != 0;
	return bad;
}

/*
 * A PKCS#11 module while it signs.  SoftHSM2 (its file store) opens the
 * token's generation and object files read-only for every signature, takes
 * a read lock (fcntl F_SETLKW, F_SETLK; F_GETFL), stats and reads them, and
 * closes them.  A module that talks to a network HSM needs more: run it
 * with CERTSYNC_CA_SECCOMP=trap in a test build to see which.
 */
static int
allow_token(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp read_only = arg_cmp(2, SCMP_CMP_MASKED_EQ,
	    O_ACCMODE | O_CREAT | O_TRUNC, O_RDONLY);
	static const int cmds[] = { F_GETFL, F_SETLK, F_SETLKW };
	static const int plain[] = {
		SCMP_SYS(read), SCMP_SYS(close), SCMP_SYS(newfstatat), SCMP_SYS(fstat),
	};
	int bad = 0;

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		bad |= allow(ctx, plain[i], 0, NULL) != 0;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		struct scmp_arg_cmp cmd = arg_cmp(1, SCMP_CMP_EQ, (scmp_datum_t)cmds[i], 0);

		bad |= allow(ctx, SCMP_SYS(fcntl), 1, &cmd) != 0;
	}
	bad |= allow(ctx, SCMP_SYS(openat), 1, &read_only) != 0;
	return bad;
}

/* The sanitizers' runtime, in ASan builds: its reports and LeakSanitizer's
 * check at exit (which stops the world with a ptrace'd clone). */
static int
allow_sanitizer(scmp_filter_ctx ctx)
{
	int bad = 0;
#ifdef CS_SANITIZED
	static const int plain[] = {
		SCMP_SYS(write), SCMP_SYS(read), SCMP_SYS(openat), SCMP_SYS(close),
		SCMP_SYS(mmap), SCMP_SYS(mprotect), SCMP_SYS(sigaltstack),
		SCMP_SYS(rt_sigaction), SCMP_SYS(rt_sigprocmask), SCMP_SYS(prctl),
		SCMP_SYS(clone), SCMP_SYS(clone3), SCMP_SYS(ptrace), SCMP_SYS(wait4),
		SCMP_SYS(waitid), SCMP_SYS(sched_yield), SCMP_SYS(gettid),
		SCMP_SYS(getppid), SCMP_SYS(readlink), SCMP_SYS(newfstatat),
		SCMP_SYS(fstat), SCMP_SYS(getdents64), SCMP_SYS(lseek),
		SCMP_SYS(pread64), SCMP_SYS(tgkill), SCMP_SYS(kill),
		SCMP_SYS(set_robust_list), SCMP_SYS(rseq), SCMP_SYS(nanosleep),
		SCMP_SYS(clock_nanosleep), SCMP_SYS(munlock), SCMP_SYS(mlock),
		SCMP_SYS(getrlimit), SCMP_SYS(prlimit64), SCMP_SYS(dup),
		SCMP_SYS(dup2), SCMP_SYS(pipe2), SCMP_SYS(sched_getaffinity),
		/* its raw system calls, older than glibc's */
		SCMP_SYS(open), SCMP_SYS(stat), SCMP_SYS(getdents), SCMP_SYS(exit),
	};

	for (size_t i = 0; i < sizeof(plain) / sizeof(plain[0]); i++)
		bad |= allow(ctx, plain[i], 0, NULL) != 0;
#endif
	(void)ctx;
	return bad;
}

static uint32_t
default_action(enum ca_seccomp_mode mode)
{
	struct sigaction sa;

	switch (mode) {
	case CA_SECCOMP_TRAP:
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_sigsys;
		sa.sa_flags = SA_SIGINFO;
		sigaction(SIGSYS, &sa, NULL);
		return SCMP_ACT_TRAP;
	case CA_SECCOMP_LOG:
		return SCMP_ACT_LOG;
	default:
		return SCMP_ACT_KILL_PROCESS;
	}
}

int
ca_sandbox_seccomp(enum ca_seccomp_mode mode, int sock, int audit_fd, int token,
    int syslog)
{
	scmp_filter_ctx ctx;
	int rc;

	if (mode == CA_SECCOMP_OFF) {
		log_warn("seccomp is off (CERTSYNC_CA_SECCOMP=off, a test build)");
		return 0;
	}
	if ((ctx = seccomp_init(default_action(mode))) == NULL) {
		log_error("seccomp: cannot start a filter");
		return -1;
	}
	/* syslog(3) sends each line on the socket openlog() connected. */
	if (allow_base(ctx, sock, audit_fd) != 0 ||
	    (token && allow_token(ctx) != 0) || allow_sanitizer(ctx) != 0 ||
	    (syslog && allow(ctx, SCMP_SYS(sendto), 0, NULL) != 0)) {
		log_error("seccomp: a rule of the allow-list was refused");
		rc = -1;
	} else if ((rc = seccomp_load(ctx)) != 0)
		log_error("seccomp: cannot load the allow-list: %s", strerror(-rc));
	seccomp_release(ctx);
	return rc == 0 ? 0 : -1;
}

#else /* !HAVE_SECCOMP */

int
ca_sandbox_seccomp(enum ca_seccomp_mode mode, int sock, int audit_fd, int token,
    int syslog)
{
	/* configure refuses a Linux build without libseccomp: this is
	 * another system, whose own sandbox is yet to be written. */
	(void)mode;
	(void)sock;
	(void)audit_fd;
	(void)token;
	(void)syslog;
	log_warn("no seccomp on this system: the CA process runs unfiltered");
	return 0;
}

#endif
