/*
 * ca_client.c - the parent's side of the CA process (ca_client.h).
 *
 * Owns: certsync-ca's life as a child (posix_spawn, ready, death, reaping,
 * restart with backoff), the requests in flight and their replies, and
 * turning "issue this" into the request that names the profile's subject,
 * validity and extensions.
 * Never: waits without a bound for a CA process that stopped answering,
 * or leaves a child unreaped.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sysexits.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/sha.h>

#include "ca/ca_client.h"
#include "ca/ca_proto.h"
#include "lib/log.h"
#include "lib/workers.h"
#include "pki/issue.h"
#include "pki/spki.h"

#ifndef CS_PKGLIBEXECDIR
#define CS_PKGLIBEXECDIR "/usr/libexec/certsync"
#endif

#define START_TIMEOUT_MS 60000   /* a network HSM may take its time to log in */
#define REPLY_TIMEOUT_MS 60000   /* one signature; a CRL of a million entries */
#define BACKOFF_MAX 60
#define STABLE_AFTER 60          /* up this long: the next death starts afresh */

extern char **environ;

struct pending {
	uint64_t id;
	EVP_PKEY *key;         /* issue: the key the certificate must carry */
	CA_REPLY *reply;       /* NULL until it came */
};

struct ca_client {
	const struct conf *conf;
	X509 *ca;
	unsigned char ca_sha256[SHA256_DIGEST_LENGTH];
	char program[PATH_MAX];

	enum ca_state state;
	pid_t pid;
	int fd;
	time_t started, retry_at;   /* retry_at: the next start is due */
	time_t later_at;            /* CA_LATER: try again then */
	int backoff;
	int started_ok;        /* it said it was ready */
	int once;              /* certsyncctl's: never restarted */
	unsigned generation;
	char reason[512];      /* why it is down */
	char error[1024];      /* the last refusal or failure */

	uint64_t next_id;
	struct pending inflight[CA_MAX_IN_FLIGHT];
	size_t n;
};

/* ---- the program and its start ------------------------------------------ */

/* certsync-ca next to this program (a build tree), else where it is
 * installed; test builds may name another. */
static void
find_program(char *buf, size_t len)
{
	char self[PATH_MAX], *slash;
	ssize_t n;
#ifdef CS_FAILPOINTS
	const char *env = getenv("CERTSYNC_CA_PROGRAM");

	if (env != NULL) {
		snprintf(buf, len, "%s", env);
		return;
	}
#endif
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		if ((slash = strrchr(self, '/')) != NULL) {
			snprintf(buf, len, "%.*s/certsync-ca", (int)(slash - self), self);
			if (access(buf, X_OK) == 0)
				return;
		}
	}
	snprintf(buf, len, "%s/certsync-ca", CS_PKGLIBEXECDIR);
}

struct ca_client *
ca_client_new(const struct conf *conf, X509 *ca)
{
	struct ca_client *c = calloc(1, sizeof(*c));
	unsigned char *der = NULL;
	int len;

	if (c == NULL || (len = i2d_X509(ca, &der)) <= 0)
		fatal("out of memory");
	SHA256(der, (size_t)len, c->ca_sha256);
	OPENSSL_free(der);
	c->conf = conf;
	c->ca = ca;
	X509_up_ref(ca);
	c->fd = -1;
	c->pid = -1;
	c->next_id = 1;
	c->state = CA_RESTARTING;
	find_program(c->program, sizeof(c->program));
	return c;
}

static int
spawn_actions(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at, int child,
    int text)
{
	sigset_t none, dfl;

	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGCHLD);
	if (posix_spawn_file_actions_init(fa) != 0 || posix_spawnattr_init(at) != 0)
		fatal("out of memory");
	/* 0 and 1 are /dev/null, 2 the log, 3 the socket, 4 the configuration,
	 * nothing else. */
	if (posix_spawn_file_actions_addopen(fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(fa, 1, "/dev/null", O_WRONLY, 0) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, child, CA_SOCKET_FD) != 0 ||
	    posix_spawn_file_actions_adddup2(fa, text, CA_CONF_FD) != 0 ||
	    posix_spawn_file_actions_addclosefrom_np(fa, CA_CONF_FD + 1) != 0 ||
	    posix_spawnattr_setsigmask(at, &none) != 0 ||
	    posix_spawnattr_setsigdefault(at, &dfl) != 0 ||
	    posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK |
	    POSIX_SPAWN_SETSIGDEF) != 0)
		fatal("out of memory");
	return 0;
}

/*
 * The configuration the agent runs on, as it was read, in a sealed memory
 * file above CA_CONF_FD: a CA process restarted after the file on disk was
 * edited (or broken, and the reload refused) starts on what the agent runs
 * on, not on the file.  The descriptor, or -1 after logging.
 */
static int
conf_text(const struct conf *conf)
{
	size_t off = 0;
	ssize_t n;
	int fd, high = -1;

	if ((fd = memfd_create("certsync.conf", MFD_CLOEXEC | MFD_ALLOW_SEALING)) == -1) {
		log_error("cannot hand the configuration to the CA process: %s",
		    strerror(errno));
		return -1;
	}
	while (off < conf->text_len &&
	    ((n = write(fd, conf->text + off, conf->text_len - off)) > 0 ||
	    (n == -1 && errno == EINTR)))
		off += n > 0 ? (size_t)n : 0;
	if (off == conf->text_len && lseek(fd, 0, SEEK_SET) == 0 &&
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE |
	    F_SEAL_SEAL) == 0)
		high = fcntl(fd, F_DUPFD_CLOEXEC, CA_CONF_FD + 1);
	if (high == -1)
		log_error("cannot hand the configuration to the CA process: %s",
		    strerror(errno));
	close(fd);
	return high;
}

/* Forks and execs certsync-ca with its socket; 0, or -1 after logging
 * (-2 when the program is missing or not executable). */
static int
spawn(struct ca_client *c)
{
	char fdarg[16];
	char *argv[] = { c->program, (char *)"-c", c->conf->path,
	    (char *)"--config-fd", fdarg, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	int sv[2], child, text, rc;

	snprintf(fdarg, sizeof(fdarg), "%d", CA_CONF_FD);
	if ((text = conf_text(c->conf)) == -1)
		return -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		log_error("cannot make the CA process's socket: %s", strerror(errno));
		close(text);
		return -1;
	}
	/* Above 4, so that its dup2 onto 3 is a real copy (which drops
	 * close-on-exec) whatever the parent's own 0-4 are. */
	child = fcntl(sv[1], F_DUPFD_CLOEXEC, CA_CONF_FD + 1);
	close(sv[1]);
	spawn_actions(&fa, &at, child, text);
	rc = posix_spawn(&c->pid, c->program, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(child);
	close(text);
	if (rc != 0) {
		log_error("cannot start the CA process %s: %s", c->program, strerror(rc));
		close(sv[0]);
		c->pid = -1;
		/* Not installed, or not executable: no restart can mend that. */
		return rc == ENOENT || rc == EACCES ? -2 : -1;
	}
	c->fd = sv[0];
	return 0;
}

int
ca_client_init_ca(const struct conf *conf, const char *subject, int days,
    const char *key_type)
{
	char program[PATH_MAX], ndays[16];
	char *argv[] = { program, (char *)"-c", conf->path, (char *)"--init-ca",
	    (char *)"--subject", (char *)subject, (char *)"--days", ndays,
	    (char *)"--key-type", (char *)key_type, NULL };
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	int rc, status;

	find_program(program, sizeof(program));
	snprintf(ndays, sizeof(ndays), "%d", days);
	if (posix_spawn_file_actions_init(&fa) != 0 || posix_spawnattr_init(&at) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0) != 0 ||
	    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0) != 0)
		fatal("out of memory");
	rc = posix_spawn(&pid, program, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		log_error("init-ca: cannot start %s: %s", program, strerror(rc));
		return EX_UNAVAILABLE;
	}
	while (waitpid(pid, &status, 0) == -1)
		if (errno != EINTR)
			return EX_OSERR;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	log_error("init-ca: %s was killed by signal %d", program, WTERMSIG(status));
	return EX_SOFTWARE;
}

/* ---- death ---------------------------------------------------------------- */

/* Waits up to ms for the child to end (then kills it); *status is its
 * wait status.  The child is gone afterwards. */
static void
reap(struct ca_client *c, int ms, int *status)
{
	pid_t got = 0;

	*status = 0;
	if (c->pid <= 0)
		return;
	for (int i = 0; i <= ms / 10 && (got = waitpid(c->pid, status, WNOHANG)) == 0; i++)
		usleep(10000);
	if (got == 0) {
		kill(c->pid, SIGKILL);
		got = waitpid(c->pid, status, 0);
	}
	if (got == -1)
		*status = 0;
	c->pid = -1;
}

/* "exit 78", "killed by signal 9 (Killed)" */
static void
describe(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d (%s)%s", WTERMSIG(status),
		    strsignal(WTERMSIG(status)), WTERMSIG(status) == SIGSYS ?
		    ": a system call outside its seccomp allow-list" : "");
	else
		snprintf(buf, len, "gone");
}

/* Fails everything in flight: its outcome is unknown. */
static void
drop_inflight(struct ca_client *c)
{
	for (size_t i = 0; i < c->n; i++) {
		EVP_PKEY_free(c->inflight[i].key);
		CA_REPLY_free(c->inflight[i].reply);
	}
	c->n = 0;
}

/*
 * The CA process is gone, or must go: reaped, and the next start planned
 * (after backoff), unless permanent.  why says what was seen; the log
 * says what happened.
 */
static void
lost(struct ca_client *c, const char *why, int permanent)
{
	char how[128] = "";
	pid_t pid = c->pid;
	int status;

	if (c->fd != -1)
		close(c->fd);
	c->fd = -1;
	reap(c, 1000, &status);
	drop_inflight(c);
	if (pid > 0)
		describe(status, how, sizeof(how));
	if (pid > 0 && WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG)
		permanent = 1;
	if (time(NULL) - c->started >= STABLE_AFTER)
		c->backoff = 0;
	c->backoff = c->backoff == 0 ? 1 : c->backoff * 2 > BACKOFF_MAX ? BACKOFF_MAX :
	    c->backoff * 2;
	snprintf(c->reason, sizeof(c->reason), "%s%s%s%s", why, *how ? " (" : "", how,
	    *how ? ")" : "");
	c->state = permanent ? CA_STOPPED : CA_RESTARTING;
	c->retry_at = time(NULL) + c->backoff;
	if (c->once)
		log_error("the CA process %s: %s", c->started_ok ? "stopped" :
		    "cannot start", c->reason);
	else if (permanent)
		log_error("the CA process %s: %s; not restarted: fix the configuration, "
		    "then reload (SIGHUP) or restart", c->started_ok ? "stopped" :
		    "cannot start", c->reason);
	else
		log_error("the CA process %s: %s; the work in hand waits, and it is "
		    "restarted in %ds", c->started_ok ? "stopped" : "did not start",
		    c->reason, c->backoff);
	c->started_ok = 0;
}

/* ---- replies ---------------------------------------------------------- */

/* Waits up to ms for the socket to be readable; 1, 0 on timeout, -1. */
static int
readable(struct ca_client *c, int ms)
{
	struct pollfd pfd = { c->fd, POLLIN, 0 };
	int rc;

	do
		rc = poll(&pfd, 1, ms);
	while (rc == -1 && errno == EINTR);
	return rc;
}

static struct pending *
find_pending(struct ca_client *c, uint64_t id)
{
	for (size_t i = 0; i < c->n; i++)
		if (c->inflight[i].id == id)
			return &c->inflight[i];
	return NULL;
}

/*
 * One reply from the socket, within ms, filed with its request.  0; or -1
 * once the CA process is lost (logged).  A reply to no request of ours (a
 * message the CA process could not read) is logged and dropped.
 */
static int
receive_one(struct ca_client *c, int ms)
{
	unsigned char *msg = NULL;
	struct pending *p;
	CA_REPLY *rep;
	char why[256];
	size_t len;
	int rc;

	if ((rc = readable(c, ms)) <= 0) {
		lost(c, rc == 0 ? "it stopped answering" : "its socket failed", 0);
		return -1;
	}
	if ((rc = ca_msg_recv(c->fd, 0, &msg, &len, why, sizeof(why))) != 1) {
		lost(c, rc == 0 ? "its socket closed" : rc == -2 ? why : strerror(errno), 0);
		return -1;
	}
	rep = ca_reply_decode(msg, len, why, sizeof(why));
	free(msg);
	if (rep == NULL) {
		lost(c, why, 0);
		return -1;
	}
	if ((p = find_pending(c, rep->id)) == NULL || p->reply != NULL) {
		log_error("the CA process answered request %llu, which is not in flight",
		    (unsigned long long)rep->id);
		CA_REPLY_free(rep);
		return 0;
	}
	p->reply = rep;
	return 0;
}

/* Sends a message, reading replies meanwhile if the socket is full (the
 * CA process may be blocked sending them).  0, or -1 once lost. */
static int
send_msg(struct ca_client *c, const unsigned char *der, size_t len)
{
	struct pollfd pfd = { c->fd, POLLIN | POLLOUT, 0 };
	size_t off = 0;
	int rc;

	for (;;) {
		if ((rc = ca_msg_send_frame(c->fd, der, len, &off, MSG_DONTWAIT)) == 1)
			return 0;
		if (rc == 0)
			continue;
		if (errno != EAGAIN) {
			lost(c, strerror(errno), 0);
			return -1;
		}
		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0) {
			lost(c, "it stopped reading", 0);
			return -1;
		}
		if ((pfd.revents & POLLIN) && receive_one(c, 0) == -1)
			return -1;
	}
}

/* ---- start -------------------------------------------------------------- */

/* Its first message: ready (for our certificate) or failed.  0, or -1
 * once lost (logged). */
static int
await_ready(struct ca_client *c)
{
	struct pending *p;
	int rc = -1;

	/* The first message answers a request of id 0 that nobody sent. */
	c->inflight[0] = (struct pending){ .id = 0 };
	c->n = 1;
	if (receive_one(c, START_TIMEOUT_MS) == -1)
		return -1;
	p = &c->inflight[0];
	if (p->reply == NULL || p->reply->body->type == CA_REP_FAILED) {
		const CA_FAILED *f = p->reply ? p->reply->body->d.failed : NULL;
		char *why = f ? ca_text_dup(f->reason, 1024) : NULL;

		lost(c, why ? why : "its first message was not \"ready\"", f && f->permanent);
		free(why);
	} else if (p->reply->body->type != CA_REP_READY ||
	    ASN1_STRING_length(p->reply->body->d.ready->ca_cert_sha256) !=
	    SHA256_DIGEST_LENGTH ||
	    memcmp(ASN1_STRING_get0_data(p->reply->body->d.ready->ca_cert_sha256),
	    c->ca_sha256, SHA256_DIGEST_LENGTH) != 0)
		lost(c, "it signs for another certificate than [ca] certificate "
		    "(was the file replaced?)", 1);
	else
		rc = 0;
	drop_inflight(c);
	return rc;
}

int
ca_client_start(struct ca_client *c)
{
	int rc;

	if (c->state == CA_UP)
		return 0;
	c->started = time(NULL);
	c->started_ok = 0;
	if ((rc = spawn(c)) != 0) {
		lost(c, "it could not be started", rc == -2);
		return -1;
	}
	if (await_ready(c) == -1)
		return -1;
	c->state = CA_UP;
	c->started_ok = 1;
	c->generation++;
	c->reason[0] = '\0';
	log_info("the CA process (pid %ld, %s) is ready", (long)c->pid, c->program);
	return 0;
}

int
ca_client_open(const struct conf *conf, X509 *ca, struct ca_client **out,
    int *permanent)
{
	struct ca_client *c = ca_client_new(conf, ca);

	*out = NULL;
	*permanent = 0;
	c->once = 1;
	if (ca_client_start(c) == -1) {
		*permanent = c->state == CA_STOPPED;
		ca_client_free(c);
		return -1;
	}
	*out = c;
	return 0;
}

/* Still there?  A child that exited, or a socket closed, says no. */
static int
alive(struct ca_client *c)
{
	struct pollfd pfd = { c->fd, 0, 0 };
	int status;

	if (waitpid(c->pid, &status, WNOHANG) == c->pid) {
		char how[128];

		c->pid = -1;
		describe(status, how, sizeof(how));
		lost(c, how, WIFEXITED(status) && WEXITSTATUS(status) == EX_CONFIG);
		return 0;
	}
	if (poll(&pfd, 1, 0) == 1 && (pfd.revents & (POLLHUP | POLLERR))) {
		lost(c, "its socket closed", 0);
		return 0;
	}
	return 1;
}

int
ca_client_ensure(struct ca_client *c)
{
	if (c->state == CA_UP && alive(c))
		return 0;
	if (c->state == CA_STOPPED || time(NULL) < c->retry_at)
		return -1;
	return ca_client_start(c);
}

X509 *
ca_client_ca(const struct ca_client *c)
{
	return c->ca;
}

enum ca_state
ca_client_state(const struct ca_client *c)
{
	return c->state;
}

time_t
ca_client_next_start(const struct ca_client *c)
{
	return c->retry_at;
}

unsigned
ca_client_generation(const struct ca_client *c)
{
	return c->generation;
}

const char *
ca_client_status(const struct ca_client *c, char *buf, size_t len)
{
	if (c->state == CA_UP)
		snprintf(buf, len, "running (pid %ld)", (long)c->pid);
	else if (c->state == CA_RESTARTING)
		snprintf(buf, len, "restarting (%s)", c->reason);
	else
		snprintf(buf, len, "stopped: %s; waiting for a reload (SIGHUP) or a "
		    "restart", c->reason);
	return buf;
}

void
ca_client_free(struct ca_client *c)
{
	int status;

	if (c == NULL)
		return;
	if (c->fd != -1)
		close(c->fd);	/* its end of the stream: it finishes and exits */
	reap(c, 5000, &status);
	drop_inflight(c);
	X509_free(c->ca);
	free(c);
}

const char *
ca_client_error(const struct ca_client *c)
{
	return c->error;
}

time_t
ca_client_retry_at(const struct ca_client *c)
{
	return c->later_at;
}

/* ---- requests ------------------------------------------------------------- */

/* Not now: the CA process is down, or went down with the request. */
static int
later_down(struct ca_client *c)
{
	snprintf(c->error, sizeof(c->error), "the CA process is %s: %s",
	    c->state == CA_STOPPED ? "stopped" : "restarting", c->reason);
	c->later_at = c->state == CA_STOPPED ? time(NULL) + BACKOFF_MAX : c->retry_at;
	return CA_LATER;
}

/* Sends der (a request encoded with id) as the next request: CA_OK, or
 * CA_LATER.  key: the key the certificate must carry (issue), or NULL. */
static int
send_request(struct ca_client *c, const unsigned char *der, size_t len,
    EVP_PKEY *key, uint64_t id)
{
	if (c->state != CA_UP && ca_client_ensure(c) == -1)
		return later_down(c);
	if (c->n == CA_MAX_IN_FLIGHT)
		fatal("more than %d requests in flight to the CA process",
		    CA_MAX_IN_FLIGHT);
	c->inflight[c->n] = (struct pending){ .id = id, .key = key };
	if (key != NULL)
		EVP_PKEY_up_ref(key);
	c->n++;
	if (send_msg(c, der, len) == -1)
		return later_down(c);
	return CA_OK;
}

/* Encodes req as request number id; the caller frees *der. */
static void
encode_request(CA_REQUEST *req, uint64_t id, unsigned char **der, size_t *len)
{
	req->version = CA_PROTO_VERSION;
	req->id = id;
	if (ca_request_encode(req, der, len) == -1)
		fatal("cannot encode a request to the CA process");
}

/* Sends req as the next request; CA_OK and *id, or CA_LATER. */
static int
submit(struct ca_client *c, CA_REQUEST *req, EVP_PKEY *key, uint64_t *id)
{
	unsigned char *der = NULL;
	size_t len;
	int rc;

	if (c->state != CA_UP && ca_client_ensure(c) == -1)
		return later_down(c);
	encode_request(req, c->next_id++, &der, &len);
	rc = send_request(c, der, len, key, req->id);
	OPENSSL_free(der);
	if (rc == CA_OK)
		*id = req->id;
	return rc;
}

/* The extensions of the profile's certificate, for the request. */
static STACK_OF(X509_EXTENSION) *
copy_extensions(X509 *cert)
{
	const STACK_OF(X509_EXTENSION) *in = X509_get0_extensions(cert);
	STACK_OF(X509_EXTENSION) *out = sk_X509_EXTENSION_new_null();

	for (int i = 0; out != NULL && i < sk_X509_EXTENSION_num(in); i++) {
		X509_EXTENSION *e = X509_EXTENSION_dup(sk_X509_EXTENSION_value(in, i));

		if (e == NULL || !sk_X509_EXTENSION_push(out, e))
			fatal("out of memory");
	}
	if (out == NULL)
		fatal("out of memory");
	return out;
}

static void
set_var(ASN1_UTF8STRING **field, const char *value)
{
	if (value != NULL && ca_utf8_set(field, value) == -1)
		fatal("out of memory");
}

/* What to issue, with the profile's view of it (built by expected, whose
 * key is spki's). */
static CA_ISSUE *
issue_body(const struct ca_issue_req *r, X509 *expected, const X509_PUBKEY *spki)
{
	CA_ISSUE *b = CA_ISSUE_new();

	if (b == NULL || !ASN1_ENUMERATED_set(b->kind, r->kind) ||
	    ca_utf8_set(&b->user, r->user) == -1 ||
	    spki_copy(b->public_key, spki) == -1 ||
	    !X509_NAME_set(&b->subject, X509_get_subject_name(expected)) ||
	    !ASN1_TIME_to_generalizedtime(X509_get0_notBefore(expected), &b->not_before) ||
	    !ASN1_TIME_to_generalizedtime(X509_get0_notAfter(expected), &b->not_after))
		fatal("out of memory");
	for (size_t i = 0; i < r->addresses->n; i++) {
		ASN1_IA5STRING *a = ASN1_IA5STRING_new();

		if (a == NULL || !ASN1_STRING_set(a, r->addresses->v[i], -1) ||
		    !sk_ASN1_IA5STRING_push(b->addresses, a))
			fatal("out of memory");
	}
	set_var(&b->vars->name, r->vars.name);
	set_var(&b->vars->given, r->vars.given);
	set_var(&b->vars->sn, r->vars.sn);
	set_var(&b->vars->mail, r->vars.mail);
	set_var(&b->vars->uid, r->vars.uid);
	sk_X509_EXTENSION_pop_free(b->extensions, X509_EXTENSION_free);
	b->extensions = copy_extensions(expected);
	return b;
}

/*
 * Request id for r, encoded into *der (the caller frees it): CA_OK, or
 * CA_REFUSED (the profile refuses the values, or the CA expired) or
 * CA_LATER (not valid yet, or OpenSSL failed) with why.  The profile's
 * own answer first: what it refuses is never sent.  Touches nothing of c
 * but what it reads (conf, the CA certificate): the workers run it.
 */
static int
prepare_issue(const struct ca_client *c, const struct ca_issue_req *r,
    uint64_t id, unsigned char **der, size_t *len, char *why, size_t whylen)
{
	struct issue_request ir = {
		.key = r->key, .kind = r->kind, .addresses = r->addresses,
		.vars = r->vars, .now = time(NULL),
	};
	CA_REQUEST *req = CA_REQUEST_new();
	X509_PUBKEY *spki = NULL;
	X509 *expected = NULL;
	int rc;

	/* CA_REQUEST_new made the body, a CHOICE not chosen yet. */
	if (req == NULL || req->body == NULL)
		fatal("out of memory");
	why[0] = '\0';
	/* The key encoded once, for the certificate and the request alike. */
	if ((ir.spki = spki = spki_of(r->key)) == NULL) {
		snprintf(why, whylen, "the public key cannot be encoded");
		CA_REQUEST_free(req);
		return CA_LATER;
	}
	if ((rc = issue_build(c->conf, c->ca, &ir, &expected, why, whylen)) != 0) {
		if (why[0] == '\0')
			snprintf(why, whylen, "the profile cannot build this certificate");
		X509_PUBKEY_free(spki);
		CA_REQUEST_free(req);
		return rc == -2 ? CA_REFUSED : CA_LATER;
	}
	req->body->type = CA_REQ_ISSUE;
	req->body->d.issue = issue_body(r, expected, spki);
	encode_request(req, id, der, len);
	X509_PUBKEY_free(spki);
	X509_free(expected);
	CA_REQUEST_free(req);
	return CA_OK;
}

int
ca_client_submit_issue(struct ca_client *c, const struct ca_issue_req *r,
    uint64_t *id)
{
	unsigned char *der = NULL;
	size_t len;
	int rc;

	if (c->state != CA_UP && ca_client_ensure(c) == -1)
		return later_down(c);
	if ((rc = prepare_issue(c, r, c->next_id, &der, &len, c->error,
	    sizeof(c->error))) != CA_OK) {
		c->later_at = time(NULL) + BACKOFF_MAX;
		return rc;
	}
	*id = c->next_id++;
	rc = send_request(c, der, len, r->key, *id);
	OPENSSL_free(der);
	return rc;
}

static CA_CRL_ENTRY *
crl_entry(const struct ca_revoked *r)
{
	CA_CRL_ENTRY *e = CA_CRL_ENTRY_new();
	BIGNUM *bn = NULL;

	if (e == NULL || !BN_hex2bn(&bn, r->serial) ||
	    BN_to_ASN1_INTEGER(bn, e->serial) == NULL ||
	    ASN1_GENERALIZEDTIME_set(e->date, (time_t)r->when) == NULL ||
	    !ASN1_ENUMERATED_set(e->reason, r->reason > 0 ? r->reason : 0))
		fatal("out of memory");
	BN_free(bn);
	return e;
}

int
ca_client_submit_crl(struct ca_client *c, int64_t number, time_t this_update,
    time_t next_update, const struct ca_revoked *v, size_t n, uint64_t *id)
{
	CA_REQUEST *req = CA_REQUEST_new();
	CA_CRL *b;
	int rc;

	if (req == NULL || req->body == NULL ||
	    (b = CA_CRL_new()) == NULL || !ASN1_INTEGER_set_int64(b->number, number) ||
	    ASN1_GENERALIZEDTIME_set(b->this_update, this_update) == NULL ||
	    ASN1_GENERALIZEDTIME_set(b->next_update, next_update) == NULL)
		fatal("out of memory");
	req->body->type = CA_REQ_CRL;
	req->body->d.crl = b;
	for (size_t i = 0; i < n; i++)
		if (!sk_CA_CRL_ENTRY_push(b->entries, crl_entry(&v[i])))
			fatal("out of memory");
	rc = submit(c, req, NULL, id);
	CA_REQUEST_free(req);
	return rc;
}

/* Waits for the reply to id and takes it out of flight: CA_OK and *out
 * (the caller frees it, with *key the key it was asked for), or the
 * refusal's or the failure's result. */
static int
await(struct ca_client *c, uint64_t id, CA_REPLY **out, EVP_PKEY **key)
{
	struct pending *p;

	*out = NULL;
	*key = NULL;
	while ((p = find_pending(c, id)) != NULL && p->reply == NULL)
		if (receive_one(c, REPLY_TIMEOUT_MS) == -1)
			return later_down(c);
	if (p == NULL)
		return later_down(c);	/* lost with the CA process */
	*out = p->reply;
	*key = p->key;
	*p = c->inflight[--c->n];
	return CA_OK;
}

/* Seconds before a request the CA process could not serve (its audit log
 * failed, say: it stops, and is restarted) is asked again. */
#define INTERNAL_RETRY 5

/* A refusal's result: the ceiling and the CA process's own trouble are
 * CA_LATER; a request the profile refuses is CA_REFUSED. */
static int
refused(struct ca_client *c, const CA_REFUSAL *f)
{
	char *why = ca_text_dup(f->reason, 1024);
	int64_t code = 0, ms = INTERNAL_RETRY * 1000;

	ASN1_ENUMERATED_get_int64(&code, f->code);
	snprintf(c->error, sizeof(c->error), "the CA process refused: %s",
	    why ? why : "(no readable reason)");
	free(why);
	if (code != CA_REFUSE_RATE && code != CA_REFUSE_INTERNAL)
		return CA_REFUSED;
	if (code == CA_REFUSE_RATE && f->retry_after_ms != NULL)
		ASN1_INTEGER_get_int64(&ms, f->retry_after_ms);
	c->later_at = time(NULL) + (time_t)((ms + 999) / 1000);
	return CA_LATER;
}

/* A certificate for the key asked for, issued by our CA; NULL if not. */
static X509 *
check_cert(struct ca_client *c, const ASN1_OCTET_STRING *o, EVP_PKEY *key)
{
	const unsigned char *p = ASN1_STRING_get0_data(o);
	int len = ASN1_STRING_length(o);
	X509 *cert = d2i_X509(NULL, &p, len);

	if (cert == NULL || p != ASN1_STRING_get0_data(o) + len ||
	    X509_NAME_cmp(X509_get_issuer_name(cert), X509_get_subject_name(c->ca)) != 0 ||
	    key == NULL || EVP_PKEY_eq(X509_get0_pubkey(cert), key) != 1) {
		ERR_clear_error();
		X509_free(cert);
		return NULL;
	}
	return cert;
}

/* The body of a reply of the type wanted, or the result that replaces it. */
static int
reply_result(struct ca_client *c, const CA_REPLY *rep, int want)
{
	if (rep->body->type == want)
		return CA_OK;
	if (rep->body->type == CA_REP_REFUSED)
		return refused(c, rep->body->d.refused);
	snprintf(c->error, sizeof(c->error), "the CA process answered with a "
	    "message of type %d", rep->body->type);
	return CA_REFUSED;
}

int
ca_client_wait_cert(struct ca_client *c, uint64_t id, X509 **cert)
{
	CA_REPLY *rep = NULL;
	EVP_PKEY *key = NULL;
	int rc;

	*cert = NULL;
	if ((rc = await(c, id, &rep, &key)) == CA_OK &&
	    (rc = reply_result(c, rep, CA_REP_CERT)) == CA_OK &&
	    (*cert = check_cert(c, rep->body->d.certificate, key)) == NULL) {
		snprintf(c->error, sizeof(c->error), "the CA process sent a certificate "
		    "that is not the one asked for");
		log_error("%s", c->error);
		rc = CA_REFUSED;
	}
	CA_REPLY_free(rep);
	EVP_PKEY_free(key);
	return rc;
}

/*
 * A batch through the one door.  What costs CPU on the client's side before
 * sending (the profile's certificate built, the request encoded) runs on
 * the workers.  Each signed certificate is decoded and checked on the
 * caller's thread as its reply is taken, while the CA process signs the
 * ones behind it: the caller would otherwise wait idle for the CA process,
 * then check the whole batch after it (OpenSSL 3 decodes every public key
 * through its provider lookups, ~0.1 ms a certificate).
 */
struct batch {
	struct ca_client *c;
	const struct ca_issue_req *reqs;
	X509 **certs;
	int *rcs;
	char (*why)[256];
	unsigned char **der;   /* request i encoded; NULL once sent */
	size_t *len;
	uint64_t first_id;     /* request i is number first_id + i */
};

static void
prepare_one(void *arg, size_t i)
{
	struct batch *b = arg;

	b->certs[i] = NULL;
	b->rcs[i] = prepare_issue(b->c, &b->reqs[i], b->first_id + i, &b->der[i],
	    &b->len[i], b->why[i], sizeof(b->why[i]));
}

/* Request i's reply, checked now (ca_client_wait_cert): certs[i], or rcs[i]
 * and why[i]. */
static void
take_reply(struct batch *b, size_t i)
{
	struct ca_client *c = b->c;

	if ((b->rcs[i] = ca_client_wait_cert(c, b->first_id + i, &b->certs[i])) != CA_OK)
		snprintf(b->why[i], sizeof(b->why[i]), "%.*s",
		    (int)sizeof(b->why[i]) - 1, c->error);
}

/* Sends every prepared request, the oldest reply taken when the window is
 * full, then waits for the rest: none is left behind. */
static void
send_all(struct batch *b, size_t n)
{
	struct ca_client *c = b->c;
	size_t waited = 0;

	for (size_t i = 0; i < n; i++) {
		for (; c->n == CA_MAX_IN_FLIGHT && waited < i; waited++)
			if (b->der[waited] == NULL && b->rcs[waited] == CA_OK)
				take_reply(b, waited);
		if (b->rcs[i] != CA_OK) {
			c->later_at = time(NULL) + BACKOFF_MAX;
			continue;
		}
		b->rcs[i] = send_request(c, b->der[i], b->len[i], b->reqs[i].key,
		    b->first_id + i);
		OPENSSL_free(b->der[i]);
		b->der[i] = NULL;
		if (b->rcs[i] != CA_OK)
			snprintf(b->why[i], sizeof(b->why[i]), "%.*s",
			    (int)sizeof(b->why[i]) - 1, c->error);
	}
	for (; waited < n; waited++)
		if (b->rcs[waited] == CA_OK)
			take_reply(b, waited);
}

void
ca_client_issue_many(struct ca_client *c, struct workers *w,
    const struct ca_issue_req *reqs, size_t n, X509 **certs, int *rcs,
    char (*why)[256])
{
	size_t m = n ? n : 1;
	struct batch b = {
		.c = c, .reqs = reqs, .certs = certs, .rcs = rcs, .why = why,
		.der = calloc(m, sizeof(*b.der)), .len = calloc(m, sizeof(*b.len)),
		.first_id = c->next_id,
	};

	if (b.der == NULL || b.len == NULL)
		fatal("out of memory");
	c->next_id += n;	/* the batch's numbers, whatever is sent */
	workers_map(w, n, prepare_one, &b);
	send_all(&b, n);
	free(b.der);
	free(b.len);
}

int
ca_client_wait_crl(struct ca_client *c, uint64_t id, X509_CRL **crl)
{
	CA_REPLY *rep = NULL;
	EVP_PKEY *key = NULL;
	const unsigned char *p;
	int rc, len;

	*crl = NULL;
	if ((rc = await(c, id, &rep, &key)) == CA_OK &&
	    (rc = reply_result(c, rep, CA_REP_CRL)) == CA_OK) {
		p = ASN1_STRING_get0_data(rep->body->d.crl);
		len = ASN1_STRING_length(rep->body->d.crl);
		if ((*crl = d2i_X509_CRL(NULL, &p, len)) == NULL) {
			ERR_clear_error();
			snprintf(c->error, sizeof(c->error), "the CA process sent a CRL "
			    "that does not decode");
			rc = CA_REFUSED;
		}
	}
	CA_REPLY_free(rep);
	EVP_PKEY_free(key);
	return rc;
}
