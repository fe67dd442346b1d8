/*
 * ca_process.c - the CA process (ca_process.h): start-up, the request
 * loop, the ceiling on signatures, and the audit before every reply.
 *
 * Owns: the order of start-up (configuration, audit log, certificate and
 * key, warm-up, sandbox, then "ready"), reading requests in batches,
 * answering each (a certificate, a CRL, or a refusal with its reason),
 * one fdatasync of the audit log per batch before its replies are sent,
 * and the token bucket of [ca] max_signatures_per_minute.
 * Never: sends a certificate or CRL whose audit line is not durable, reads
 * a file once the sandbox is up, or trusts the client's word for anything
 * but what it asks for.
 */
#include "config.h"

#include <sys/socket.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include <openssl/rand.h>
#include <openssl/sha.h>

#include "ca/ca_audit.h"
#include "ca/ca_check.h"
#include "ca/ca_process.h"
#include "ca/ca_proto.h"
#include "ca/ca_sandbox.h"
#include "ca/pkcs11.h"
#include "ca/signer.h"
#include "lib/log.h"
#include "pki/certinfo.h"
#include "pki/crl.h"
#include "pki/issue.h"
#include "pki/keys.h"

struct ca_proc {
	struct conf *conf;
	struct signer *signer;
	struct ca_profile profile;
	int sock, audit_fd, token;
	char by[96];              /* who asks: "certsyncd[1234]" */
	unsigned char ca_sha256[SHA256_DIGEST_LENGTH];

	double tokens, per_second;       /* the signature ceiling */
	struct timespec refilled;

	CA_REPLY *out[CA_BATCH_MAX];     /* the batch being answered */
	int holds[CA_BATCH_MAX];         /* out[i] carries a signature */
	int n, unsynced;
	int audit_broken;                /* errno of a failed audit write */
};

#ifdef CS_FAILPOINTS
/*
 * Test builds: CERTSYNC_CA_DIE_BEFORE_REPLY names a file.  A CA process
 * that finds it at start takes it away, and dies as if killed once its
 * first signature is audited, before the reply: the window that
 * pipeline/ca_ledger.c closes.  (The file, not the variable alone, so
 * that only one CA process of a run dies there.)
 */
static int die_before_reply;

static void
arm_failpoint(void)
{
	const char *file = getenv("CERTSYNC_CA_DIE_BEFORE_REPLY");

	die_before_reply = file != NULL && unlink(file) == 0;
}
#define ARM_FAILPOINT() arm_failpoint()
#define FAILPOINT_BEFORE_REPLY(signed)					\
	do {								\
		if (die_before_reply && (signed)) {			\
			log_warn("failpoint ca-before-reply: exiting as if killed"); \
			_exit(137);					\
		}							\
	} while (0)
#else
#define ARM_FAILPOINT() do { } while (0)
#define FAILPOINT_BEFORE_REPLY(signed) do { } while (0)
#endif

/* ---- replies ------------------------------------------------------------- */

static CA_REPLY *
reply_new(uint64_t id, int type)
{
	CA_REPLY *r = CA_REPLY_new();

	/* CA_REPLY_new made the body, a CHOICE not chosen yet. */
	if (r == NULL || r->body == NULL)
		fatal("out of memory");
	r->version = CA_PROTO_VERSION;
	r->id = id;
	r->body->type = type;
	return r;
}

static void
queue(struct ca_proc *p, CA_REPLY *r, int holds)
{
	p->out[p->n] = r;
	p->holds[p->n] = holds;
	p->n++;
}

static CA_REPLY *
refusal_new(uint64_t id, int code, const char *reason, int64_t retry_ms)
{
	CA_REPLY *r = reply_new(id, CA_REP_REFUSED);
	CA_REFUSAL *f;

	if ((f = r->body->d.refused = CA_REFUSAL_new()) == NULL ||
	    !ASN1_ENUMERATED_set(f->code, code) ||
	    ca_utf8_set(&f->reason, reason) == -1 ||
	    (retry_ms > 0 && ((f->retry_after_ms = ASN1_INTEGER_new()) == NULL ||
	    !ASN1_INTEGER_set_int64(f->retry_after_ms, retry_ms))))
		fatal("out of memory");
	return r;
}

static const char *
code_name(int code)
{
	return code == CA_REFUSE_MALFORMED ? "malformed" : code == CA_REFUSE_PROFILE ?
	    "profile" : code == CA_REFUSE_RATE ? "rate-ceiling" : "internal";
}

/* Refuses request id: the reason goes back, into the log and the audit log. */
static void
refuse(struct ca_proc *p, uint64_t id, int code, const char *reason, int64_t retry_ms)
{
	char num[24];

	snprintf(num, sizeof(num), "%llu", (unsigned long long)id);
	if (code == CA_REFUSE_RATE)
		log_info("request %s from %s refused: %s", num, p->by, reason);
	else
		log_warn("request %s from %s refused: %s", num, p->by, reason);
	if (ca_audit_line(p->audit_fd, time(NULL), "refuse", "id", num, "by", p->by,
	    "code", code_name(code), "reason", reason, (char *)NULL) == -1)
		p->audit_broken = errno;
	else
		p->unsynced = 1;
	queue(p, refusal_new(id, code, reason, retry_ms), 0);
}

/* ---- the ceiling ---------------------------------------------------------- */

/* Takes one token: 0, or the milliseconds until one is due. */
static int64_t
bucket_take(struct ca_proc *p)
{
	double cap = p->conf->ca.max_signatures_per_minute;
	struct timespec now;
	double dt;

	clock_gettime(CLOCK_MONOTONIC, &now);
	dt = (double)(now.tv_sec - p->refilled.tv_sec) +
	    (double)(now.tv_nsec - p->refilled.tv_nsec) / 1e9;
	p->refilled = now;
	if ((p->tokens += dt * p->per_second) > cap)
		p->tokens = cap;
	if (p->tokens >= 1.0) {
		p->tokens -= 1.0;
		return 0;
	}
	return (int64_t)((1.0 - p->tokens) / p->per_second * 1000.0) + 1;
}

/* 0 if a signature may be made now; else refused as "rate ceiling". */
static int
within_ceiling(struct ca_proc *p, uint64_t id)
{
	char why[160];
	int64_t wait = bucket_take(p);

	if (wait == 0)
		return 0;
	snprintf(why, sizeof(why), "rate ceiling: [ca] max_signatures_per_minute "
	    "(%d) reached; try again in %lld ms", p->conf->ca.max_signatures_per_minute,
	    (long long)wait);
	refuse(p, id, CA_REFUSE_RATE, why, wait);
	return -1;
}

/* ---- requests ------------------------------------------------------------- */

static char *
hex(const unsigned char *b, size_t n)
{
	char *s = malloc(2 * n + 1);

	if (s == NULL)
		fatal("out of memory");
	for (size_t i = 0; i < n; i++)
		snprintf(s + 2 * i, 3, "%02X", b[i]);
	return s;
}

/* The audit line of a signed certificate; 0, or -1 with errno. */
static int
audit_cert(struct ca_proc *p, X509 *cert, const struct ca_issued *f)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	unsigned int mdlen = sizeof(md);
	struct ca_audit_sign s = {
		.at = time(NULL),
		.kind = (char *)cert_kind_name(f->kind),
		.user = f->user,
		.by = p->by,
		.addresses = f->addresses,
	};
	int rc = -1;

	if (!X509_pubkey_digest(cert, EVP_sha256(), md, &mdlen))
		fatal("cannot hash a public key");
	s.spki_sha256 = hex(md, mdlen);
	if ((s.serial = certinfo_serial(cert)) != NULL &&
	    (s.fingerprint = certinfo_fingerprint(cert)) != NULL &&
	    (s.subject = certinfo_name(X509_get_subject_name(cert))) != NULL)
		rc = ca_audit_write_sign(p->audit_fd, &s);
	else
		errno = ENOMEM;
	if (rc == 0)
		log_info("signed %s certificate %s for %s (%s) asked by %s", s.kind,
		    s.serial, s.user, s.addresses, p->by);
	free(s.spki_sha256);
	free(s.serial);
	free(s.fingerprint);
	free(s.subject);
	return rc;
}

/* The reply that carries a DER object; its audit line is written. */
static void
release(struct ca_proc *p, uint64_t id, int type, unsigned char *der, int len)
{
	CA_REPLY *r = reply_new(id, type);
	ASN1_OCTET_STRING *o = ASN1_OCTET_STRING_new();

	if (o == NULL || !ASN1_OCTET_STRING_set(o, der, len))
		fatal("out of memory");
	if (type == CA_REP_CERT)
		r->body->d.certificate = o;
	else
		r->body->d.crl = o;
	p->unsynced = 1;
	queue(p, r, 1);
}

static void
do_issue(struct ca_proc *p, uint64_t id, const CA_ISSUE *req)
{
	struct ca_issued facts;
	unsigned char *der = NULL;
	char why[512];
	X509 *cert = NULL;
	int code, len;

	if ((code = ca_check_issue(&p->profile, req, time(NULL), &cert, &facts, why,
	    sizeof(why))) != 0)
		refuse(p, id, code, why, 0);
	else if (within_ceiling(p, id) == 0) {
		if (signer_sign_cert(p->signer, cert) == -1 ||
		    (len = i2d_X509(cert, &der)) <= 0)
			refuse(p, id, CA_REFUSE_INTERNAL, "the CA key did not sign", 0);
		else if (audit_cert(p, cert, &facts) == -1) {
			p->audit_broken = errno;
			refuse(p, id, CA_REFUSE_INTERNAL, "the audit log cannot be written", 0);
		} else
			release(p, id, CA_REP_CERT, der, len);
	}
	OPENSSL_free(der);
	X509_free(cert);
	ca_issued_free(&facts);
}

static int
audit_crl(struct ca_proc *p, int64_t number, int entries, const unsigned char *der,
    int len)
{
	unsigned char md[SHA256_DIGEST_LENGTH];
	char num[24], cnt[24], *h;
	int rc;

	SHA256(der, (size_t)len, md);
	h = hex(md, sizeof(md));
	snprintf(num, sizeof(num), "%lld", (long long)number);
	snprintf(cnt, sizeof(cnt), "%d", entries);
	rc = ca_audit_line(p->audit_fd, time(NULL), "crl", "number", num, "entries",
	    cnt, "by", p->by, "sha256", h, (char *)NULL);
	free(h);
	if (rc == 0)
		log_info("signed CRL number %s with %s entries asked by %s", num, cnt, p->by);
	return rc;
}

static void
do_crl(struct ca_proc *p, uint64_t id, const CA_CRL *req)
{
	unsigned char *der = NULL;
	X509_CRL *crl = NULL;
	int64_t number;
	char why[512];
	int code, len;

	if ((code = ca_check_crl(&p->profile, req, time(NULL), &crl, &number, why,
	    sizeof(why))) != 0)
		refuse(p, id, code, why, 0);
	else if (within_ceiling(p, id) == 0) {
		if (signer_sign_crl(p->signer, crl) == -1 ||
		    (len = i2d_X509_CRL(crl, &der)) <= 0)
			refuse(p, id, CA_REFUSE_INTERNAL, "the CA key did not sign", 0);
		else if (audit_crl(p, number, sk_CA_CRL_ENTRY_num(req->entries), der,
		    len) == -1) {
			p->audit_broken = errno;
			refuse(p, id, CA_REFUSE_INTERNAL, "the audit log cannot be written", 0);
		} else {
			p->profile.last_crl = number;
			release(p, id, CA_REP_CRL, der, len);
		}
	}
	OPENSSL_free(der);
	X509_CRL_free(crl);
}

static void
handle(struct ca_proc *p, const unsigned char *msg, size_t len)
{
	char why[512];
	CA_REQUEST *req = ca_request_decode(msg, len, why, sizeof(why));

	if (req == NULL)
		refuse(p, 0, CA_REFUSE_MALFORMED, why, 0);
	else if (req->version != CA_PROTO_VERSION) {
		snprintf(why, sizeof(why), "protocol version %d; this CA process speaks "
		    "version %d", req->version, CA_PROTO_VERSION);
		refuse(p, req->id, CA_REFUSE_MALFORMED, why, 0);
	} else if (req->id == 0)
		refuse(p, 0, CA_REFUSE_MALFORMED, "request id 0 (ids start at 1)", 0);
	else if (req->body->type == CA_REQ_ISSUE)
		do_issue(p, req->id, req->body->d.issue);
	else
		do_crl(p, req->id, req->body->d.crl);
	CA_REQUEST_free(req);
}

/* ---- the loop --------------------------------------------------------------- */

static int
send_reply(struct ca_proc *p, CA_REPLY *r)
{
	unsigned char *der = NULL;
	size_t len;
	int rc;

	if (ca_reply_encode(r, &der, &len) == -1)
		fatal("cannot encode a reply");
	rc = ca_msg_send(p->sock, der, len);
	OPENSSL_free(der);
	return rc;
}

/*
 * The batch's audit lines made durable, then its replies sent.  If the
 * audit log failed, nothing signed leaves: those replies become refusals,
 * and the process ends (74) once they are sent.  Returns -1 to go on, else
 * the exit status.
 */
static int
flush(struct ca_proc *p)
{
	int rc = -1, err;

	if (p->unsynced && p->audit_broken == 0 && fdatasync(p->audit_fd) == -1)
		p->audit_broken = errno;
	p->unsynced = 0;
	err = p->audit_broken;
	FAILPOINT_BEFORE_REPLY(p->n > 0 && p->holds[0]);
	for (int i = 0; i < p->n; i++) {
		if (err != 0 && p->holds[i]) {
			uint64_t id = p->out[i]->id;

			CA_REPLY_free(p->out[i]);
			p->out[i] = refusal_new(id, CA_REFUSE_INTERNAL,
			    "the audit log cannot be made durable", 0);
		}
		if (rc == -1 && send_reply(p, p->out[i]) == -1)
			rc = 0;	/* the parent is gone: so are we */
		CA_REPLY_free(p->out[i]);
	}
	p->n = 0;
	if (err != 0) {
		log_error("[ca] audit_log %s: %s; stopping, since nothing may be signed "
		    "unaudited", p->conf->ca.audit_log, strerror(err));
		return EX_IOERR;
	}
	return rc;
}

/* One message into the batch: 1, 2 when none was waiting, 0 at the end of
 * the stream, -1 if the socket failed. */
static int
take(struct ca_proc *p, int dontwait)
{
	unsigned char *msg = NULL;
	char why[256];
	size_t len;
	int rc = ca_msg_recv(p->sock, dontwait, &msg, &len, why, sizeof(why));

	if (rc == -1 && errno == EAGAIN)
		return 2;
	if (rc == -1) {
		log_error("reading a request: %s", strerror(errno));
		return -1;
	}
	if (rc == -2)
		refuse(p, 0, CA_REFUSE_MALFORMED, why, 0);
	else if (rc == 1)
		handle(p, msg, len);
	free(msg);
	return rc == 0 ? 0 : 1;
}

static int
serve(struct ca_proc *p)
{
	for (;;) {
		int rc = take(p, 0), end;

		while (rc == 1 && p->n < CA_BATCH_MAX)
			rc = take(p, 1);
		if ((end = flush(p)) != -1)
			return end;
		if (rc == 0)
			return 0;
		if (rc == -1)
			return EX_IOERR;
	}
}

/* ---- start-up --------------------------------------------------------------- */

/* "certsyncd[1234]": the parent, read before the sandbox closes /proc. */
static void
name_parent(struct ca_proc *p)
{
	char path[64], comm[32] = "?";
	pid_t ppid = getppid();
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/comm", (long)ppid);
	if ((f = fopen(path, "re")) != NULL) {
		if (fgets(comm, sizeof(comm), f) != NULL)
			comm[strcspn(comm, "\n")] = '\0';
		fclose(f);
	}
	snprintf(p->by, sizeof(p->by), "%s[%ld]", comm, (long)ppid);
}

/*
 * Everything OpenSSL loads on first use (providers, the DRBG, the digest,
 * extension methods) loaded now, while files may still be read: a
 * signature over random bytes with the configured digest, a certificate
 * and a CRL built but not signed.  0, or -1 after logging.
 */
static int
warm_up(struct ca_proc *p)
{
	static char addr[] = "warm-up@example.invalid";
	char *list[1] = { addr };
	struct address_list addrs = { list, 1 };
	struct issue_request ir = {
		.key = X509_get0_pubkey(signer_ca(p->signer)),
		.kind = p->conf->certificates.mode == CERT_MODE_DUAL ? CERT_KIND_DUAL :
		    CERT_KIND_ENCRYPTION,
		.addresses = &addrs,
		.vars = { .name = "warm-up", .mail = addr },
		.now = time(NULL),
	};
	unsigned char data[32], sig[1024];
	size_t siglen = sizeof(sig);
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	char why[256] = "";
	X509_CRL *crl = NULL;
	X509 *cert = NULL;
	int ok;

	ok = md != NULL && RAND_bytes(data, sizeof(data)) == 1 &&
	    EVP_DigestSignInit(md, NULL, EVP_get_digestbyname(
	    p->conf->certificates.digest), NULL, signer_key(p->signer)) == 1 &&
	    EVP_DigestSign(md, sig, &siglen, data, sizeof(data)) == 1 &&
	    (crl = crl_new(signer_ca(p->signer), ir.now, ir.now + 60)) != NULL;
	/* A CA that cannot issue now (expired) still serves CRLs. */
	if (ok && issue_build(p->conf, signer_ca(p->signer), &ir, &cert, why,
	    sizeof(why)) != 0 && why[0] == '\0')
		ok = 0;
	if (!ok)
		log_ssl("the CA key or the profile does not work");
	EVP_MD_CTX_free(md);
	X509_CRL_free(crl);
	X509_free(cert);
	return ok ? 0 : -1;
}

/* The configuration, the audit log, the certificate and the key: 0, or
 * the exit status after logging (78: a restart cannot help). */
static int
open_all(struct ca_proc *p, const char *conf_path)
{
	unsigned char *der = NULL;
	int len;

	if (p->conf == NULL && conf_load(conf_path, &p->conf) != 0)
		return EX_CONFIG;
	log_set_level((enum log_level)p->conf->log.level);
	if (p->conf->log.destination == LOG_DEST_SYSLOG)
		log_to_syslog(p->conf->log.facility);
	name_parent(p);
	ARM_FAILPOINT();
	if ((p->audit_fd = ca_audit_open(p->conf->ca.audit_log)) == -1 ||
	    signer_open(p->conf, &p->signer) == -1)
		return EX_CONFIG;
	p->token = ca_pkcs11_is_uri(p->conf->ca.key);
	if ((len = i2d_X509(signer_ca(p->signer), &der)) <= 0)
		fatal("cannot encode the CA certificate");
	SHA256(der, (size_t)len, p->ca_sha256);
	OPENSSL_free(der);
	p->profile.conf = p->conf;
	p->profile.ca = signer_ca(p->signer);
	p->tokens = p->conf->ca.max_signatures_per_minute;
	p->per_second = p->conf->ca.max_signatures_per_minute / 60.0;
	clock_gettime(CLOCK_MONOTONIC, &p->refilled);
	return 0;
}

/* What the CA process gives up once all is open: 0, or the exit status. */
static int
sandbox(struct ca_proc *p)
{
	enum ca_seccomp_mode mode = ca_sandbox_mode();
	int permanent = 0;

	if (ca_sandbox_drop(p->conf, p->audit_fd, &permanent) == -1)
		return permanent ? EX_CONFIG : EX_OSERR;
	if (warm_up(p) == -1 ||
	    ca_sandbox_check_fds(p->sock, p->audit_fd, p->token ||
	    p->conf->log.destination == LOG_DEST_SYSLOG) == -1)
		return EX_SOFTWARE;
	if (ca_sandbox_seccomp(mode, p->sock, p->audit_fd, p->token,
	    p->conf->log.destination == LOG_DEST_SYSLOG) == -1)
		return EX_OSERR;
	return 0;
}

static void
send_ready(struct ca_proc *p)
{
	CA_REPLY *r = reply_new(0, CA_REP_READY);
	CA_READY *rd;

	if ((rd = r->body->d.ready = CA_READY_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(rd->ca_cert_sha256, p->ca_sha256,
	    sizeof(p->ca_sha256)))
		fatal("out of memory");
	rd->max_per_minute = p->conf->ca.max_signatures_per_minute;
	rd->pid = getpid();
	send_reply(p, r);
	CA_REPLY_free(r);
}

/* The reason it cannot start, for the parent's log and status.  0, or -1
 * if the parent is not there to hear it. */
static int
send_failed(struct ca_proc *p, int permanent, const char *reason)
{
	CA_REPLY *r = reply_new(0, CA_REP_FAILED);
	CA_FAILED *f;
	int rc;

	if ((f = r->body->d.failed = CA_FAILED_new()) == NULL ||
	    ca_utf8_set(&f->reason, *reason ? reason : "it could not start") == -1)
		fatal("out of memory");
	f->permanent = permanent;
	rc = send_reply(p, r);
	CA_REPLY_free(r);
	return rc;
}

/* The start and stop of a CA process, in its audit log. */
static void
audit_event(struct ca_proc *p, const char *event)
{
	char pid[24], *cert = hex(p->ca_sha256, sizeof(p->ca_sha256));

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	if (ca_audit_line(p->audit_fd, time(NULL), event, "pid", pid, "by", p->by,
	    "key", p->conf->ca.key, "certificate-sha256", cert, (char *)NULL) == -1 ||
	    fdatasync(p->audit_fd) == -1)
		log_warn("[ca] audit_log %s: cannot record the %s: %s",
		    p->conf->ca.audit_log, event, strerror(errno));
	free(cert);
}

/* Closes every descriptor above the socket; close_range() where the kernel
 * has it, one by one from /proc/self/fd where it does not. */
static void
close_others(void)
{
	DIR *d;
	struct dirent *e;

	if (close_range(CA_SOCKET_FD + 1, ~0U, 0) == 0 ||
	    (d = opendir("/proc/self/fd")) == NULL)
		return;
	while ((e = readdir(d)) != NULL) {
		int fd = atoi(e->d_name);

		if (fd > CA_SOCKET_FD && fd != dirfd(d))
			close(fd);
	}
	closedir(d);
}

int
ca_process_serve(const char *conf_path, int conf_fd)
{
	struct ca_proc p = { .sock = CA_SOCKET_FD, .audit_fd = -1 };
	socklen_t len = sizeof(int);
	int type = 0, rc = 0;

	if (getsockopt(CA_SOCKET_FD, SOL_SOCKET, SO_TYPE, &type, &len) == -1 ||
	    type != SOCK_SEQPACKET) {
		log_error("descriptor %d is not a SOCK_SEQPACKET socket: certsync-ca is "
		    "started by certsyncd and certsyncctl, not by hand", CA_SOCKET_FD);
		return EX_USAGE;
	}
	/* The parent ends it by closing the socket; a signal to the whole
	 * group (a terminal's ^C, systemd's stop) must not cut a reply off. */
	signal(SIGINT, SIG_IGN);
	signal(SIGTERM, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	/* Why it cannot start goes to the parent, which logs it once. */
	log_hold_errors(1);
	/* The configuration the parent runs on, when it handed it over. */
	if (conf_fd != -1 && conf_load_fd(conf_path, conf_fd, &p.conf) != 0)
		rc = EX_CONFIG;
	/* Nothing the parent had open stays open here (its spawn closed them
	 * already; this is for a parent that did not), that descriptor too. */
	close_others();
	if (rc == 0 && (rc = open_all(&p, conf_path)) == 0 &&
	    (rc = sandbox(&p)) == 0) {
		log_hold_errors(0);
		audit_event(&p, "start");
		send_ready(&p);
		rc = serve(&p);
		audit_event(&p, "stop");
	} else if (send_failed(&p, rc == EX_CONFIG, log_last_error()) == -1) {
		log_hold_errors(0);
		log_error("%s", log_last_error());
	}
	/* Memory is given back (free and munmap are allowed); descriptors are
	 * not closed inside the sandbox: exit() ends them. */
	signer_close(p.signer);
	conf_free(p.conf);
	return rc;
}

/* The CA's own certificate is a signature too. */
static int
audit_init_ca(struct ca_proc *p, X509 *cert)
{
	char *serial = certinfo_serial(cert), *fp = certinfo_fingerprint(cert);
	char *subject = certinfo_name(X509_get_subject_name(cert));
	int rc = 0;

	if (serial == NULL || fp == NULL || subject == NULL ||
	    ca_audit_line(p->audit_fd, time(NULL), "init-ca", "serial", serial, "by",
	    p->by, "subject", subject, "key", p->conf->ca.key, "fingerprint", fp,
	    (char *)NULL) == -1 || fdatasync(p->audit_fd) == -1) {
		log_error("[ca] audit_log %s: cannot record the new CA certificate: %s",
		    p->conf->ca.audit_log, strerror(errno));
		rc = EX_IOERR;
	}
	free(serial);
	free(fp);
	free(subject);
	return rc;
}

int
ca_process_init_ca(const char *conf_path, const char *subject, int days,
    const char *key_type)
{
	struct ca_proc p = { .audit_fd = -1 };
	struct key_spec spec;
	X509 *made = NULL;
	int rc;

	if ((rc = conf_load(conf_path, &p.conf)) != 0)
		return rc;
	name_parent(&p);
	if (conf_parse_key_spec(key_type, &spec) == -1) {
		log_error("init-ca: key type \"%s\" is not one of rsa:2048, rsa:3072, "
		    "rsa:4096, ec:P-256, ec:P-384", key_type);
		rc = EX_USAGE;
	} else if ((p.audit_fd = ca_audit_open(p.conf->ca.audit_log)) == -1)
		rc = EX_CONFIG;
	else {
		/* Run as root, and then certsyncd as [ca] user: the log is its. */
		ca_sandbox_give_audit_log(p.conf, p.audit_fd);
		if ((rc = signer_init_ca(p.conf, subject, days, &spec, &made)) == 0)
			rc = audit_init_ca(&p, made);
	}
	X509_free(made);
	if (p.audit_fd != -1)
		close(p.audit_fd);
	conf_free(p.conf);
	return rc;
}
