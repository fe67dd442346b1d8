/*
 * check_ca_proto.c - the CA protocol's encoding, decoding and frames, and
 * the CA audit log's lines (src/ca/ca_proto.c, src/ca/ca_audit.c).
 *
 * Owns: what can be shown without a CA process: a request and a reply
 * survive a round trip; a trailing byte, a BER length, a truncated or
 * empty message are refused with a reason; times and strings are taken in
 * their one DER form only; a message of 100 KiB crosses a SOCK_SEQPACKET
 * socketpair in frames and comes out whole; a frame too long or with a
 * bad header is refused, and the stream stays usable; an audit line with
 * tabs, newlines and backslashes in its values reads back as written.
 * Never: starts certsync-ca (tests/integration/ca_hostile.sh does).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/wait.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "ca/ca_audit.h"
#include "ca/ca_proto.h"
#include "check_main.h"

static CA_REQUEST *
crl_request(uint64_t id, int64_t number)
{
	CA_REQUEST *req = CA_REQUEST_new();
	CA_CRL *b = CA_CRL_new();
	CA_CRL_ENTRY *e = CA_CRL_ENTRY_new();

	ck_assert_ptr_nonnull(req);
	req->version = CA_PROTO_VERSION;
	req->id = id;
	req->body->type = CA_REQ_CRL;
	req->body->d.crl = b;
	ASN1_INTEGER_set_int64(b->number, number);
	ASN1_GENERALIZEDTIME_set(b->this_update, 1764873600);
	ASN1_GENERALIZEDTIME_set(b->next_update, 1764877200);
	ASN1_INTEGER_set(e->serial, 4711);
	ASN1_GENERALIZEDTIME_set(e->date, 1764870000);
	ASN1_ENUMERATED_set(e->reason, 4);
	sk_CA_CRL_ENTRY_push(b->entries, e);
	return req;
}

START_TEST(request_round_trip)
{
	CA_REQUEST *req = crl_request(UINT64_MAX, 42), *back;
	unsigned char *der = NULL;
	char why[256];
	size_t len;
	int64_t n;

	ck_assert_int_eq(ca_request_encode(req, &der, &len), 0);
	ck_assert_ptr_nonnull(back = ca_request_decode(der, len, why, sizeof(why)));
	ck_assert_int_eq(back->version, CA_PROTO_VERSION);
	ck_assert(back->id == UINT64_MAX);
	ck_assert_int_eq(back->body->type, CA_REQ_CRL);
	ck_assert(ASN1_INTEGER_get_int64(&n, back->body->d.crl->number) == 1 && n == 42);
	ck_assert_int_eq(sk_CA_CRL_ENTRY_num(back->body->d.crl->entries), 1);
	CA_REQUEST_free(back);
	OPENSSL_free(der);
	CA_REQUEST_free(req);
}
END_TEST

START_TEST(request_strict)
{
	CA_REQUEST *req = crl_request(7, 1);
	unsigned char *der = NULL, *more;
	char why[256];
	size_t len;

	ck_assert_int_eq(ca_request_encode(req, &der, &len), 0);
	ck_assert_ptr_nonnull(more = calloc(1, len + 2));
	memcpy(more, der, len);
	ck_assert_ptr_null(ca_request_decode(more, len + 1, why, sizeof(why)));
	ck_assert_str_eq(why, "1 bytes after the Request");
	ck_assert_ptr_null(ca_request_decode(der, len - 1, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "not a DER Request"));
	ck_assert_ptr_null(ca_request_decode(der, 0, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "empty message"));
	/* The outer length in long form (0x81 NN) where short form fits. */
	ck_assert_int_lt(der[1], 0x80);
	more[0] = der[0];
	more[1] = 0x81;
	memcpy(more + 2, der + 1, len - 1);
	ck_assert_ptr_null(ca_request_decode(more, len + 1, why, sizeof(why)));
	ck_assert_ptr_nonnull(strstr(why, "BER, not DER"));
	free(more);
	OPENSSL_free(der);
	CA_REQUEST_free(req);
}
END_TEST

START_TEST(times_and_strings)
{
	ASN1_GENERALIZEDTIME *t = ca_time_new(1764873600);
	ASN1_UTF8STRING *s = NULL;
	time_t back = 0;
	char *text;

	ck_assert_int_eq(ca_time_get(t, &back), 0);
	ck_assert(back == 1764873600);
	ASN1_GENERALIZEDTIME_set_string(t, "20261204183000.5Z");
	ck_assert_int_eq(ca_time_get(t, &back), -1);
	ASN1_GENERALIZEDTIME_set_string(t, "20261204183000+0100");
	ck_assert_int_eq(ca_time_get(t, &back), -1);
	ASN1_GENERALIZEDTIME_free(t);

	ck_assert_int_eq(ca_utf8_set(&s, "J\xc3\xbcrgen"), 0);
	ck_assert_ptr_nonnull(text = ca_utf8_dup(s, 64));
	ck_assert_str_eq(text, "J\xc3\xbcrgen");
	free(text);
	ck_assert_ptr_null(ca_utf8_dup(s, 3));	/* longer than allowed */
	ASN1_STRING_set(s, "a\nb", -1);
	ck_assert_ptr_null(ca_utf8_dup(s, 64));
	ASN1_STRING_set(s, "a\0b", 3);
	ck_assert_ptr_null(ca_utf8_dup(s, 64));
	ASN1_STRING_set(s, "\xc0\xaf", 2);	/* an overlong '/' */
	ck_assert_ptr_null(ca_utf8_dup(s, 64));
	ASN1_UTF8STRING_free(s);
}
END_TEST

START_TEST(frames)
{
	unsigned char *big = malloc(100 * 1024), *got = NULL, frame[64];
	char why[128];
	size_t len;
	int sv[2], status;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
	for (size_t i = 0; i < 100 * 1024; i++)
		big[i] = (unsigned char)(i * 7);
	/* Sent from a child: 100 KiB is more than the socket holds at once. */
	if (fork() == 0) {
		close(sv[0]);
		_exit(ca_msg_send(sv[1], big, 100 * 1024) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(ca_msg_recv(sv[0], 0, &got, &len, why, sizeof(why)), 1);
	ck_assert_int_eq(wait(&status) > 0 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, 1);
	ck_assert_uint_eq(len, 100 * 1024);
	ck_assert_int_eq(memcmp(got, big, len), 0);
	free(got);
	/* A bad header is refused, and the next message still comes through. */
	frame[0] = 9;
	ck_assert_int_eq(send(sv[1], frame, 8, 0), 8);
	ck_assert_int_eq(ca_msg_recv(sv[0], 0, &got, &len, why, sizeof(why)), -2);
	ck_assert_str_eq(why, "a frame whose header is 9, not 0 or 1");
	ck_assert_int_eq(ca_msg_send(sv[1], (const unsigned char *)"ok", 2), 0);
	ck_assert_int_eq(ca_msg_recv(sv[0], 1, &got, &len, why, sizeof(why)), 1);
	ck_assert(len == 2 && memcmp(got, "ok", 2) == 0);
	free(got);
	/* Nothing waiting, with dontwait; the end of the stream. */
	ck_assert_int_eq(ca_msg_recv(sv[0], 1, &got, &len, why, sizeof(why)), -1);
	close(sv[1]);
	ck_assert_int_eq(ca_msg_recv(sv[0], 0, &got, &len, why, sizeof(why)), 0);
	close(sv[0]);
	free(big);
}
END_TEST

START_TEST(audit_lines)
{
	struct ca_audit_sign s = {
		.at = 1764873600, .serial = (char *)"4A59", .kind = (char *)"signing",
		.user = (char *)"u\t1", .by = (char *)"certsyncd[42]",
		.addresses = (char *)"a@x.test, b@x.test",
		.subject = (char *)"CN=A \\ B\nO=Evil\tX", .spki_sha256 = (char *)"AB",
		.fingerprint = (char *)"CD",
	}, back;
	char line[1024];
	int sv[2];
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(ca_audit_write_sign(sv[0], &s), 0);
	n = read(sv[1], line, sizeof(line) - 1);
	ck_assert_int_gt(n, 0);
	line[n] = '\0';
	/* One line: the newline and tab inside are escaped. */
	ck_assert_ptr_eq(strchr(line, '\n'), line + n - 1);
	ck_assert_ptr_nonnull(strstr(line, "subject=CN=A \\x5c B\\x0aO=Evil\\x09X"));
	ck_assert_int_eq(ca_audit_parse_sign(line, &back), 1);
	ck_assert_str_eq(back.subject, s.subject);
	ck_assert_str_eq(back.user, s.user);
	ck_assert_str_eq(back.serial, "4A59");
	ck_assert(back.at == 1764873600);
	ca_audit_sign_free(&back);
	ck_assert_int_eq(ca_audit_parse_sign("2026-12-04T18:40:00Z\tcrl\tnumber=1\n",
	    &back), 0);
	ck_assert_int_eq(ca_audit_parse_sign("garbage\n", &back), -1);
	ck_assert_int_eq(ca_audit_parse_sign("2026-12-04T18:40:00Z\tsign\tserial=1\n",
	    &back), -1);	/* fields missing */
	close(sv[0]);
	close(sv[1]);
}
END_TEST

int
main(void)
{
	Suite *s = suite_create("ca_proto");
	TCase *tc = tcase_create("proto");

	tcase_add_test(tc, request_round_trip);
	tcase_add_test(tc, request_strict);
	tcase_add_test(tc, times_and_strings);
	tcase_add_test(tc, frames);
	tcase_add_test(tc, audit_lines);
	suite_add_tcase(s, tc);
	return check_run(s, 0);
}
