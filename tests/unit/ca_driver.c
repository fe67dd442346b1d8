/*
 * ca_driver.c - speaks the CA protocol to a real certsync-ca, as a
 * compromised parent would, for tests/integration/ca_hostile.sh.
 *
 * Owns: starting certsync-ca on a socketpair as certsyncd does, and three
 * runs against it.  hostile: every request a profile would never produce
 * (CA:TRUE, a foreign EKU, overlong validity, an invalid address, an
 * unknown kind, another subject, another key type, garbage, truncated or
 * BER or oversized messages, CRLs with bad numbers, times, serials and
 * reasons) must come back refused with a reason naming the problem, and
 * the CA process must still answer a good request afterwards, pipelined.
 * rate: with a ceiling of 3 a minute, five good requests in flight give
 * three certificates and two "rate ceiling" refusals with a retry time.
 * facts: prints what the kernel says of the CA process (its descriptors,
 * user, no_new_privs, seccomp) for the shell to check.  bench N: N good
 * requests, CA_MAX_IN_FLIGHT / 2 in flight at a time, each built as
 * ca_client.c builds it, and the signatures a second that came back.
 * Never: trusts its own requests: each expected refusal is matched.
 *
 * Usage: ca_driver hostile|rate|facts|bench PROGRAM CONF [N]
 * Prints "ok - ..." / "FAIL - ..." lines; exit 0 if all passed, 1 if not.
 */
#include "config.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "ca/ca_proto.h"
#include "lib/conf.h"
#include "lib/log.h"
#include "pki/certinfo.h"
#include "pki/issue.h"
#include "pki/keys.h"

static struct conf *conf;
static X509 *ca;
static int sock = -1, fails;
static pid_t ca_pid;
static uint64_t next_id = 1;

static void
result(int ok, const char *what, const char *detail)
{
	printf("%s - %s%s%s\n", ok ? "ok  " : "FAIL", what, detail ? ": " : "",
	    detail ? detail : "");
	if (!ok)
		fails++;
}

/* ---- the CA process ------------------------------------------------------ */

static void
start_ca(const char *program, const char *conf_path)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv) == -1)
		fatal("socketpair: %s", strerror(errno));
	if ((ca_pid = fork()) == -1)
		fatal("fork: %s", strerror(errno));
	if (ca_pid == 0) {
		int null = open("/dev/null", O_RDWR);

		dup2(null, 0);
		dup2(null, 1);
		dup2(sv[1], CA_SOCKET_FD);
		execl(program, program, "-c", conf_path, (char *)NULL);
		_exit(127);
	}
	close(sv[1]);
	sock = sv[0];
}

static CA_REPLY *
read_reply(void)
{
	unsigned char *msg = NULL;
	char why[256];
	size_t len;
	CA_REPLY *r;

	if (ca_msg_recv(sock, 0, &msg, &len, why, sizeof(why)) != 1)
		fatal("no reply from the CA process");
	if ((r = ca_reply_decode(msg, len, why, sizeof(why))) == NULL)
		fatal("a reply that does not decode: %s", why);
	free(msg);
	return r;
}

static void
send_raw(const unsigned char *b, size_t n)
{
	if (ca_msg_send(sock, b, n) == -1)
		fatal("send: %s", strerror(errno));
}

static uint64_t
send_request(CA_REQUEST *req)
{
	unsigned char *der = NULL;
	size_t len;

	req->version = req->version ? req->version : CA_PROTO_VERSION;
	if (req->id == 0 && req->version == CA_PROTO_VERSION)
		req->id = next_id++;
	if (ca_request_encode(req, &der, &len) == -1)
		fatal("cannot encode a request");
	send_raw(der, len);
	OPENSSL_free(der);
	return req->id;
}

/* A reply's refusal reason (a static copy), or NULL if it is no refusal. */
static const char *
refusal(const CA_REPLY *r, int64_t *code)
{
	static char text[600];
	char *why;

	if (r->body->type != CA_REP_REFUSED)
		return NULL;
	ASN1_ENUMERATED_get_int64(code, r->body->d.refused->code);
	why = ca_utf8_dup(r->body->d.refused->reason, 512);
	snprintf(text, sizeof(text), "%s", why ? why : "?");
	free(why);
	return text;
}

/* ---- good requests, to be spoilt ---------------------------------------- */

static EVP_PKEY *
fresh_key(const char *spelling)
{
	struct key_spec spec;

	if (conf_parse_key_spec(spelling, &spec) == -1)
		fatal("key type %s", spelling);
	return keys_generate(&spec);
}

/* What ca_client.c sends for alice@example.test, built the same way. */
static CA_REQUEST *
good_issue(EVP_PKEY *key, enum cert_kind kind)
{
	static char a0[] = "alice@example.test";
	char *v[1] = { a0 };
	struct address_list addrs = { v, 1 };
	struct issue_request ir = { .key = key, .kind = kind, .addresses = &addrs,
	    .vars = { .name = "Alice Example", .mail = a0 }, .now = time(NULL) };
	CA_REQUEST *req = CA_REQUEST_new();
	char why[256] = "";
	ASN1_IA5STRING *a = ASN1_IA5STRING_new();
	X509 *x = NULL;
	CA_ISSUE *b;

	if (issue_build(conf, ca, &ir, &x, why, sizeof(why)) != 0)
		fatal("issue_build: %s", why);
	req->body->type = CA_REQ_ISSUE;
	b = req->body->d.issue = CA_ISSUE_new();
	ASN1_ENUMERATED_set(b->kind, kind);
	ca_utf8_set(&b->user, "alice-uuid");
	X509_PUBKEY_set(&b->public_key, key);
	ASN1_STRING_set(a, a0, -1);
	sk_ASN1_IA5STRING_push(b->addresses, a);
	ca_utf8_set(&b->vars->name, "Alice Example");
	ca_utf8_set(&b->vars->mail, a0);
	X509_NAME_set(&b->subject, X509_get_subject_name(x));
	ASN1_TIME_to_generalizedtime(X509_get0_notBefore(x), &b->not_before);
	ASN1_TIME_to_generalizedtime(X509_get0_notAfter(x), &b->not_after);
	for (int i = 0; i < X509_get_ext_count(x); i++)
		sk_X509_EXTENSION_push(b->extensions, X509_EXTENSION_dup(X509_get_ext(x, i)));
	X509_free(x);
	return req;
}

static CA_REQUEST *
good_crl(int64_t number)
{
	CA_REQUEST *req = CA_REQUEST_new();
	time_t now = time(NULL);
	CA_CRL *b;

	req->body->type = CA_REQ_CRL;
	b = req->body->d.crl = CA_CRL_new();
	ASN1_INTEGER_set_int64(b->number, number);
	ASN1_GENERALIZEDTIME_set(b->this_update, now);
	ASN1_GENERALIZEDTIME_set(b->next_update, now + 3600);
	return req;
}

static void
add_crl_entry(CA_REQUEST *req, long serial, time_t when, long reason)
{
	CA_CRL_ENTRY *e = CA_CRL_ENTRY_new();

	ASN1_INTEGER_set(e->serial, serial);
	ASN1_GENERALIZEDTIME_set(e->date, when);
	ASN1_ENUMERATED_set(e->reason, reason);
	sk_CA_CRL_ENTRY_push(req->body->d.crl->entries, e);
}

/* Replaces (or, pos -1, appends) an extension of an issue request. */
static void
set_ext(CA_REQUEST *req, int nid, const char *value, int replace)
{
	STACK_OF(X509_EXTENSION) *exts = req->body->d.issue->extensions;
	X509V3_CTX ctx;
	X509_EXTENSION *ext;

	X509V3_set_ctx(&ctx, NULL, NULL, NULL, NULL, X509V3_CTX_TEST);
	if ((ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value)) == NULL)
		fatal("cannot make extension %s = %s", OBJ_nid2sn(nid), value);

	for (int i = 0; replace && i < sk_X509_EXTENSION_num(exts); i++)
		if (OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i)))
		    == nid) {
			/* sk_set hands back the new element, not the old one. */
			X509_EXTENSION_free(sk_X509_EXTENSION_value(exts, i));
			sk_X509_EXTENSION_set(exts, i, ext);
			return;
		}
	sk_X509_EXTENSION_push(exts, ext);
}

static void
drop_ext(CA_REQUEST *req, int nid)
{
	STACK_OF(X509_EXTENSION) *exts = req->body->d.issue->extensions;

	for (int i = 0; i < sk_X509_EXTENSION_num(exts); i++)
		if (OBJ_obj2nid(X509_EXTENSION_get_object(sk_X509_EXTENSION_value(exts, i)))
		    == nid)
			X509_EXTENSION_free(sk_X509_EXTENSION_delete(exts, i));
}

/* ---- the hostile run ------------------------------------------------------ */

/* Sends req (freed), expects a refusal whose reason holds want. */
static void
expect_refused(const char *what, CA_REQUEST *req, const char *want)
{
	uint64_t id = send_request(req);
	CA_REPLY *r = read_reply();
	int64_t code = 0;
	const char *why = refusal(r, &code);
	char line[800];

	snprintf(line, sizeof(line), "%s", why ? why : "a certificate or CRL came back");
	result(why != NULL && strstr(why, want) != NULL && (r->id == id || r->id == 0),
	    what, line);
	CA_REPLY_free(r);
	CA_REQUEST_free(req);
}

/* Sends raw bytes, expects a refusal (id 0) whose reason holds want. */
static void
expect_raw_refused(const char *what, const unsigned char *b, size_t n,
    const char *want)
{
	CA_REPLY *r;
	int64_t code = 0;
	const char *why;

	send_raw(b, n);
	r = read_reply();
	why = refusal(r, &code);
	result(why != NULL && strstr(why, want) != NULL && r->id == 0 &&
	    code == CA_REFUSE_MALFORMED, what, why ? why : "not refused");
	CA_REPLY_free(r);
}

static void hostile_profile(EVP_PKEY *key);

/* What the request says: CA:TRUE, EKU, validity, addresses, kind. */
static void
hostile_issue(EVP_PKEY *key)
{
	CA_REQUEST *r;
	time_t t;

	r = good_issue(key, CERT_KIND_SIGNING);
	set_ext(r, NID_basic_constraints, "critical,CA:TRUE", 1);
	expect_refused("basicConstraints CA:TRUE", r, "CA:TRUE) is never issued");
	r = good_issue(key, CERT_KIND_SIGNING);
	set_ext(r, NID_ext_key_usage, "emailProtection,serverAuth", 1);
	expect_refused("a foreign EKU (serverAuth)", r, "extendedKeyUsage other than");
	r = good_issue(key, CERT_KIND_SIGNING);
	ca_time_get(r->body->d.issue->not_after, &t);
	ASN1_GENERALIZEDTIME_set(r->body->d.issue->not_after, t + 400 * 86400L);
	expect_refused("validity 400 days past validity_days", r, "beyond [certificates] validity_days");
	r = good_issue(key, CERT_KIND_SIGNING);
	ASN1_GENERALIZEDTIME_set(r->body->d.issue->not_after, time(NULL) + 20 * 365 * 86400L);
	expect_refused("validity past the CA's notAfter", r, "beyond the CA certificate's notAfter");
	r = good_issue(key, CERT_KIND_SIGNING);
	ASN1_STRING_set(sk_ASN1_IA5STRING_value(r->body->d.issue->addresses, 0),
	    "not an address", -1);
	expect_refused("an invalid address", r, "is not valid");
	r = good_issue(key, CERT_KIND_SIGNING);
	ASN1_STRING_set(sk_ASN1_IA5STRING_value(r->body->d.issue->addresses, 0),
	    "alice@EXAMPLE.test", -1);
	expect_refused("an address not in its normal form", r, "normal form");
	r = good_issue(key, CERT_KIND_SIGNING);
	ASN1_ENUMERATED_set(r->body->d.issue->kind, 7);
	expect_refused("an unknown kind (7)", r, "unknown certificate kind 7");
	r = good_issue(key, CERT_KIND_SIGNING);
	ASN1_ENUMERATED_set(r->body->d.issue->kind, CERT_KIND_DUAL);
	expect_refused("a dual certificate in mode separate", r, "mode = separate");
	hostile_profile(key);
}

/* What the profile makes differently: subject, extensions, keys. */
static void
hostile_profile(EVP_PKEY *key)
{
	EVP_PKEY *rsa = fresh_key("rsa:2048");
	CA_REQUEST *r;

	r = good_issue(key, CERT_KIND_SIGNING);
	ca_utf8_set(&r->body->d.issue->vars->name, "Mallory");
	expect_refused("a subject the variables do not make", r, "the subject differs");
	r = good_issue(key, CERT_KIND_SIGNING);
	set_ext(r, NID_name_constraints, "permitted;email:.example.test", 0);
	expect_refused("an extension not in the profile", r, "nameConstraints is not in");
	r = good_issue(key, CERT_KIND_SIGNING);
	drop_ext(r, NID_subject_alt_name);
	expect_refused("the SAN left out", r, "subjectAltName of the profile is missing");
	r = good_issue(key, CERT_KIND_SIGNING);
	set_ext(r, NID_key_usage, "critical,digitalSignature,keyCertSign", 1);
	expect_refused("keyUsage keyCertSign", r, "keyCertSign or cRLSign is never");
	r = good_issue(key, CERT_KIND_SIGNING);
	set_ext(r, NID_key_usage, "critical,digitalSignature,keyEncipherment", 1);
	expect_refused("another keyUsage", r, "extension keyUsage differs");
	r = good_issue(rsa, CERT_KIND_SIGNING);
	expect_refused("an RSA key where key_type is EC", r, "not [certificates] key_type");
	r = good_issue(X509_get0_pubkey(ca), CERT_KIND_SIGNING);
	expect_refused("the CA's own public key", r, "the CA's own");
	r = good_issue(key, CERT_KIND_SIGNING);
	ASN1_STRING_set(r->body->d.issue->vars->name, "bad\001name", -1);
	expect_refused("a control character in a variable", r, "not UTF-8 text");
	r = good_issue(key, CERT_KIND_SIGNING);
	r->version = 2;
	r->id = next_id++;
	expect_refused("protocol version 2", r, "protocol version 2");
	EVP_PKEY_free(rsa);
}

static void
hostile_crl(void)
{
	CA_REQUEST *r;
	time_t now = time(NULL);

	expect_refused("a CRL numbered 0", good_crl(0), "not a positive integer");
	r = good_crl(1000);
	add_crl_entry(r, -5, now, 4);
	expect_refused("a CRL entry with a negative serial", r, "positive integer of at most");
	r = good_crl(1001);
	add_crl_entry(r, 5, now, 8);
	expect_refused("a CRL entry removeFromCRL (8)", r, "reason is not one certsync");
	r = good_crl(1002);
	add_crl_entry(r, 5, now, 4);
	add_crl_entry(r, 5, now, 1);
	expect_refused("a serial listed twice", r, "listed twice");
	r = good_crl(1003);
	add_crl_entry(r, 5, now + 86400, 4);
	expect_refused("a revocation in the future", r, "in the future");
	r = good_crl(1004);
	ASN1_GENERALIZEDTIME_set(r->body->d.crl->this_update, now - 365 * 86400L);
	expect_refused("thisUpdate a year ago", r, "thisUpdate is not now");
	r = good_crl(1005);
	ASN1_GENERALIZEDTIME_set(r->body->d.crl->next_update, now - 60);
	expect_refused("nextUpdate before thisUpdate", r, "nextUpdate is not within");
	r = good_crl(1006);
	ASN1_GENERALIZEDTIME_set_string(r->body->d.crl->this_update, "20261204201000.5Z");
	expect_refused("a time with a fraction (not DER)", r, "not a DER GeneralizedTime");
}

static void
hostile_bytes(EVP_PKEY *key)
{
	unsigned char junk[512], *der = NULL, *big;
	CA_REQUEST *r = good_issue(key, CERT_KIND_SIGNING);
	size_t len;

	r->version = CA_PROTO_VERSION;
	r->id = next_id++;
	ca_request_encode(r, &der, &len);
	expect_raw_refused("truncated DER", der, len - 7, "not a DER Request");
	big = malloc(len + 1);
	memcpy(big, der, len);
	big[len] = 0;
	expect_raw_refused("a byte after the request", big, len + 1, "bytes after the Request");
	/* The outer length in long form: BER, not DER. */
	big = realloc(big, len + 2);
	big[0] = 0x30;
	big[1] = 0x83;
	big[2] = 0;
	memcpy(big + 3, der + 2, len - 2);
	expect_raw_refused("BER (a long-form length)", big, len + 1, "");
	RAND_bytes(junk, sizeof(junk));
	junk[0] = 0x30;
	expect_raw_refused("512 random bytes", junk, sizeof(junk), "not a DER Request");
	expect_raw_refused("an empty message", junk, 0, "empty message");
	free(big);
	OPENSSL_free(der);
	CA_REQUEST_free(r);
}

/* Frames that break the framing rules themselves. */
static void
hostile_frames(void)
{
	size_t big = CA_FRAME_MAX + 4096, chunk = CA_FRAME_MAX;
	unsigned char *f = calloc(1, big);
	CA_REPLY *rep;
	int64_t code = 0;
	const char *why;

	f[0] = 0;	/* one frame, too long */
	send(sock, f, big, 0);
	rep = read_reply();
	why = refusal(rep, &code);
	result(why && strstr(why, "a frame longer than"), "a frame of 36 KiB", why);
	CA_REPLY_free(rep);
	f[0] = 7;
	send(sock, f, 16, 0);
	rep = read_reply();
	why = refusal(rep, &code);
	result(why && strstr(why, "header is 7"), "a frame header of 7", why);
	CA_REPLY_free(rep);
	/* A message of 64 MiB and a frame more. */
	f[0] = 1;
	for (size_t sent = 0; sent <= (size_t)CA_MSG_MAX; sent += chunk)
		send(sock, f, chunk + 1, 0);
	f[0] = 0;
	send(sock, f, 2, 0);
	rep = read_reply();
	why = refusal(rep, &code);
	result(why && strstr(why, "a message longer than"), "a message over 64 MiB", why);
	CA_REPLY_free(rep);
	free(f);
}

/* n good requests in flight at once; every certificate verifies. */
static void
pipelined(EVP_PKEY *key, int n)
{
	uint64_t ids[64];
	int good = 0;
	char line[80];

	for (int i = 0; i < n; i++) {
		CA_REQUEST *r = good_issue(key, i % 2 ? CERT_KIND_ENCRYPTION : CERT_KIND_SIGNING);

		ids[i] = send_request(r);
		CA_REQUEST_free(r);
	}
	for (int i = 0; i < n; i++) {
		CA_REPLY *rep = read_reply();
		const unsigned char *p;
		X509 *x;

		if (rep->body->type == CA_REP_CERT) {
			p = ASN1_STRING_get0_data(rep->body->d.certificate);
			x = d2i_X509(NULL, &p, ASN1_STRING_length(rep->body->d.certificate));
			good += x != NULL && X509_verify(x, X509_get0_pubkey(ca)) == 1 &&
			    rep->id >= ids[0] && rep->id <= ids[n - 1];
			X509_free(x);
		}
		CA_REPLY_free(rep);
	}
	snprintf(line, sizeof(line), "%d of %d certificates signed by the CA", good, n);
	result(good == n, "good requests in flight at once, afterwards", line);
}

/* The reason code of serial's entry in the signed CRL der, or -1. */
static int
crl_reason_of(const ASN1_OCTET_STRING *der, long serial)
{
	const unsigned char *p = ASN1_STRING_get0_data(der);
	X509_CRL *crl = d2i_X509_CRL(NULL, &p, ASN1_STRING_length(der));
	ASN1_INTEGER *want = ASN1_INTEGER_new();
	X509_REVOKED *rev = NULL;
	ASN1_ENUMERATED *code = NULL;
	int reason = -1;

	ASN1_INTEGER_set(want, serial);
	if (crl != NULL && X509_CRL_get0_by_serial(crl, &rev, want) == 1 &&
	    (code = X509_REVOKED_get_ext_d2i(rev, NID_crl_reason, NULL, NULL)) != NULL)
		reason = (int)ASN1_ENUMERATED_get(code);
	ASN1_ENUMERATED_free(code);
	ASN1_INTEGER_free(want);
	X509_CRL_free(crl);
	return reason;
}

static int
run_hostile(void)
{
	EVP_PKEY *key = fresh_key(conf->certificates.key.name);
	CA_REQUEST *crl = good_crl(1);
	CA_REPLY *rep;

	hostile_issue(key);
	hostile_crl();
	hostile_bytes(key);
	hostile_frames();
	/* A hold (the safety catch's) is an entry like any other; 300 more
	 * make a CRL whose sort (qsort) asks the kernel for the memory size. */
	add_crl_entry(crl, 77, time(NULL) - 60, CRL_REASON_CERTIFICATE_HOLD);
	for (long i = 0; i < 300; i++)
		add_crl_entry(crl, 1000 + i, time(NULL) - 60, CRL_REASON_SUPERSEDED);
	send_request(crl);
	rep = read_reply();
	result(rep->body->type == CA_REP_CRL, "a good CRL request of 301 entries, "
	    "afterwards", NULL);
	result(rep->body->type == CA_REP_CRL && crl_reason_of(rep->body->d.crl, 77) ==
	    CRL_REASON_CERTIFICATE_HOLD, "... its entry on hold signed as certificateHold",
	    NULL);
	CA_REPLY_free(rep);
	CA_REQUEST_free(crl);
	pipelined(key, 20);
	result(kill(ca_pid, 0) == 0, "the CA process is still running", NULL);
	EVP_PKEY_free(key);
	return fails;
}

/* ---- the ceiling, and the facts ------------------------------------------- */

static int
run_rate(void)
{
	EVP_PKEY *key = fresh_key(conf->certificates.key.name);
	int certs = 0, rate = 0;
	int64_t code;
	char line[600] = "";

	for (int i = 0; i < 5; i++) {
		CA_REQUEST *r = good_issue(key, CERT_KIND_SIGNING);

		send_request(r);
		CA_REQUEST_free(r);
	}
	for (int i = 0; i < 5; i++) {
		CA_REPLY *rep = read_reply();
		const char *why = refusal(rep, &code);

		certs += rep->body->type == CA_REP_CERT;
		if (why && code == CA_REFUSE_RATE && rep->body->d.refused->retry_after_ms) {
			rate++;
			snprintf(line, sizeof(line), "%s", why);
		}
		CA_REPLY_free(rep);
	}
	result(certs == 3 && rate == 2, "ceiling 3 a minute: 3 signed, 2 refused", line);
	EVP_PKEY_free(key);
	return fails;
}

static double
seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int
run_bench(long n)
{
	EVP_PKEY *key = fresh_key(conf->certificates.key.name);
	long sent = 0, got = 0, certs = 0;
	double t0 = seconds(), dt;
	struct rusage ru;

	while (got < n) {
		while (sent < n && sent - got < CA_MAX_IN_FLIGHT / 2) {
			CA_REQUEST *r = good_issue(key, sent % 2 ? CERT_KIND_ENCRYPTION :
			    CERT_KIND_SIGNING);

			send_request(r);
			CA_REQUEST_free(r);
			sent++;
		}
		CA_REPLY *rep = read_reply();

		certs += rep->body->type == CA_REP_CERT;
		CA_REPLY_free(rep);
		got++;
	}
	dt = seconds() - t0;
	getrusage(RUSAGE_SELF, &ru);
	printf("%ld requests, %ld certificates in %.3f s: %.0f signatures/s; this "
	    "client's CPU %.3f s\n", n, certs, dt, (double)certs / dt,
	    (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	    (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
	EVP_PKEY_free(key);
	return certs == n ? 0 : 1;
}

static int
run_facts(void)
{
	char cmd[256];

	fflush(stdout);
	snprintf(cmd, sizeof(cmd), "ls /proc/%ld/fd | sort -n | tr '\\n' ' '; echo; "
	    "grep -E '^(Uid|NoNewPrivs|Seccomp):' /proc/%ld/status; "
	    "echo pid %ld", (long)ca_pid, (long)ca_pid, (long)ca_pid);
	return system(cmd) == 0 ? 0 : 1;
}

int
main(int argc, char **argv)
{
	CA_REPLY *ready;
	int rc;

	log_init("ca_driver");
	signal(SIGPIPE, SIG_IGN);
	if (argc != 4 && !(argc == 5 && strcmp(argv[1], "bench") == 0))
		fatal("usage: ca_driver hostile|rate|facts|bench PROGRAM CONF [N]");
	if (conf_load(argv[3], &conf) != 0 ||
	    (ca = certinfo_read_pem(conf->ca.certificate, "[ca] certificate")) == NULL)
		return 1;
	start_ca(argv[2], argv[3]);
	ready = read_reply();
	result(ready->body->type == CA_REP_READY, "the CA process says it is ready", NULL);
	CA_REPLY_free(ready);
	if (strcmp(argv[1], "hostile") == 0)
		rc = run_hostile();
	else if (strcmp(argv[1], "rate") == 0)
		rc = run_rate();
	else if (strcmp(argv[1], "bench") == 0)
		rc = run_bench(atol(argv[4]));
	else
		rc = run_facts();
	close(sock);
	waitpid(ca_pid, NULL, 0);
	X509_free(ca);
	conf_free(conf);
	return rc == 0 && fails == 0 ? 0 : 1;
}
