/*
 * ca_proto.c - the CA protocol's messages and frames (ca_proto.h).
 *
 * Owns: the OpenSSL ASN.1 templates of the messages, their strict DER
 * decoding (one value, nothing after it, re-encoded to the same bytes),
 * DER times and strings, and the frames that carry a message over the
 * SOCK_SEQPACKET socket.
 * Never: trusts a length it did not bound, or decides what a request may
 * ask for (ca_check.c does, in the CA process).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/uio.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "ca/ca_proto.h"
#include "lib/log.h"
#include "lib/utf8.h"

ASN1_SEQUENCE(CA_SUBJECT_VARS) = {
	ASN1_IMP_OPT(CA_SUBJECT_VARS, name, ASN1_UTF8STRING, 0),
	ASN1_IMP_OPT(CA_SUBJECT_VARS, given, ASN1_UTF8STRING, 1),
	ASN1_IMP_OPT(CA_SUBJECT_VARS, sn, ASN1_UTF8STRING, 2),
	ASN1_IMP_OPT(CA_SUBJECT_VARS, mail, ASN1_UTF8STRING, 3),
	ASN1_IMP_OPT(CA_SUBJECT_VARS, uid, ASN1_UTF8STRING, 4),
} ASN1_SEQUENCE_END(CA_SUBJECT_VARS)

ASN1_SEQUENCE(CA_ISSUE) = {
	ASN1_SIMPLE(CA_ISSUE, kind, ASN1_ENUMERATED),
	ASN1_SIMPLE(CA_ISSUE, user, ASN1_UTF8STRING),
	ASN1_SIMPLE(CA_ISSUE, public_key, X509_PUBKEY),
	ASN1_SEQUENCE_OF(CA_ISSUE, addresses, ASN1_IA5STRING),
	ASN1_SIMPLE(CA_ISSUE, vars, CA_SUBJECT_VARS),
	ASN1_SIMPLE(CA_ISSUE, subject, X509_NAME),
	ASN1_SIMPLE(CA_ISSUE, not_before, ASN1_GENERALIZEDTIME),
	ASN1_SIMPLE(CA_ISSUE, not_after, ASN1_GENERALIZEDTIME),
	ASN1_SEQUENCE_OF(CA_ISSUE, extensions, X509_EXTENSION),
} ASN1_SEQUENCE_END(CA_ISSUE)

ASN1_SEQUENCE(CA_CRL_ENTRY) = {
	ASN1_SIMPLE(CA_CRL_ENTRY, serial, ASN1_INTEGER),
	ASN1_SIMPLE(CA_CRL_ENTRY, date, ASN1_GENERALIZEDTIME),
	ASN1_SIMPLE(CA_CRL_ENTRY, reason, ASN1_ENUMERATED),
} ASN1_SEQUENCE_END(CA_CRL_ENTRY)

ASN1_SEQUENCE(CA_CRL) = {
	ASN1_SIMPLE(CA_CRL, number, ASN1_INTEGER),
	ASN1_SIMPLE(CA_CRL, this_update, ASN1_GENERALIZEDTIME),
	ASN1_SIMPLE(CA_CRL, next_update, ASN1_GENERALIZEDTIME),
	ASN1_SEQUENCE_OF(CA_CRL, entries, CA_CRL_ENTRY),
} ASN1_SEQUENCE_END(CA_CRL)

ASN1_CHOICE(CA_REQUEST_BODY) = {
	ASN1_IMP(CA_REQUEST_BODY, d.issue, CA_ISSUE, CA_REQ_ISSUE),
	ASN1_IMP(CA_REQUEST_BODY, d.crl, CA_CRL, CA_REQ_CRL),
} ASN1_CHOICE_END(CA_REQUEST_BODY)

ASN1_SEQUENCE(CA_REQUEST) = {
	ASN1_EMBED(CA_REQUEST, version, INT32),
	ASN1_EMBED(CA_REQUEST, id, UINT64),
	ASN1_SIMPLE(CA_REQUEST, body, CA_REQUEST_BODY),
} ASN1_SEQUENCE_END(CA_REQUEST)

ASN1_SEQUENCE(CA_REFUSAL) = {
	ASN1_SIMPLE(CA_REFUSAL, code, ASN1_ENUMERATED),
	ASN1_SIMPLE(CA_REFUSAL, reason, ASN1_UTF8STRING),
	ASN1_OPT(CA_REFUSAL, retry_after_ms, ASN1_INTEGER),
} ASN1_SEQUENCE_END(CA_REFUSAL)

ASN1_SEQUENCE(CA_READY) = {
	ASN1_SIMPLE(CA_READY, ca_cert_sha256, ASN1_OCTET_STRING),
	ASN1_EMBED(CA_READY, max_per_minute, INT64),
	ASN1_EMBED(CA_READY, pid, INT64),
} ASN1_SEQUENCE_END(CA_READY)

ASN1_SEQUENCE(CA_FAILED) = {
	ASN1_EMBED(CA_FAILED, permanent, INT32),
	ASN1_SIMPLE(CA_FAILED, reason, ASN1_UTF8STRING),
} ASN1_SEQUENCE_END(CA_FAILED)

ASN1_CHOICE(CA_REPLY_BODY) = {
	ASN1_IMP(CA_REPLY_BODY, d.certificate, ASN1_OCTET_STRING, CA_REP_CERT),
	ASN1_IMP(CA_REPLY_BODY, d.crl, ASN1_OCTET_STRING, CA_REP_CRL),
	ASN1_IMP(CA_REPLY_BODY, d.refused, CA_REFUSAL, CA_REP_REFUSED),
	ASN1_IMP(CA_REPLY_BODY, d.ready, CA_READY, CA_REP_READY),
	ASN1_IMP(CA_REPLY_BODY, d.failed, CA_FAILED, CA_REP_FAILED),
} ASN1_CHOICE_END(CA_REPLY_BODY)

ASN1_SEQUENCE(CA_REPLY) = {
	ASN1_EMBED(CA_REPLY, version, INT32),
	ASN1_EMBED(CA_REPLY, id, UINT64),
	ASN1_SIMPLE(CA_REPLY, body, CA_REPLY_BODY),
} ASN1_SEQUENCE_END(CA_REPLY)

IMPLEMENT_ASN1_FUNCTIONS(CA_SUBJECT_VARS)
IMPLEMENT_ASN1_FUNCTIONS(CA_ISSUE)
IMPLEMENT_ASN1_FUNCTIONS(CA_CRL_ENTRY)
IMPLEMENT_ASN1_FUNCTIONS(CA_CRL)
IMPLEMENT_ASN1_FUNCTIONS(CA_REQUEST_BODY)
IMPLEMENT_ASN1_FUNCTIONS(CA_REQUEST)
IMPLEMENT_ASN1_FUNCTIONS(CA_REFUSAL)
IMPLEMENT_ASN1_FUNCTIONS(CA_READY)
IMPLEMENT_ASN1_FUNCTIONS(CA_FAILED)
IMPLEMENT_ASN1_FUNCTIONS(CA_REPLY_BODY)
IMPLEMENT_ASN1_FUNCTIONS(CA_REPLY)

/* ---- encoding and strict decoding -------------------------------------- */

static int
encode(const void *value, const ASN1_ITEM *it, unsigned char **der, size_t *len)
{
	int n;

	*der = NULL;
	if ((n = ASN1_item_i2d((const ASN1_VALUE *)value, der, it)) <= 0) {
		ERR_clear_error();
		*der = NULL;
		return -1;
	}
	*len = (size_t)n;
	return 0;
}

int
ca_request_encode(const CA_REQUEST *req, unsigned char **der, size_t *len)
{
	return encode(req, ASN1_ITEM_rptr(CA_REQUEST), der, len);
}

int
ca_reply_encode(const CA_REPLY *rep, unsigned char **der, size_t *len)
{
	return encode(rep, ASN1_ITEM_rptr(CA_REPLY), der, len);
}

/*
 * One value of type it, all of der, and DER: it must encode back to the
 * same bytes.  Returns the value, or NULL with the reason in why.
 */
static void *
decode_strict(const unsigned char *der, size_t len, const ASN1_ITEM *it,
    const char *name, char *why, size_t whylen)
{
	const unsigned char *p = der;
	unsigned char *again = NULL;
	ASN1_VALUE *v = NULL;
	size_t n = 0;

	if (len == 0 || len > CA_MSG_MAX)
		snprintf(why, whylen, "%s of %zu bytes", len == 0 ? "an empty message" :
		    "a message", len);
	else if ((v = ASN1_item_d2i(NULL, &p, (long)len, it)) == NULL)
		snprintf(why, whylen, "not a DER %s (%s)", name,
		    ERR_reason_error_string(ERR_peek_last_error()) ?
		    ERR_reason_error_string(ERR_peek_last_error()) : "cannot decode");
	else if (p != der + len)
		snprintf(why, whylen, "%zu bytes after the %s", (size_t)(der + len - p),
		    name);
	else if (encode(v, it, &again, &n) == -1 || n != len ||
	    memcmp(again, der, len) != 0)
		snprintf(why, whylen, "the %s is BER, not DER (it does not encode "
		    "back to the same bytes)", name);
	else {
		OPENSSL_free(again);
		return v;
	}
	ERR_clear_error();
	OPENSSL_free(again);
	ASN1_item_free(v, it);
	return NULL;
}

CA_REQUEST *
ca_request_decode(const unsigned char *der, size_t len, char *why, size_t whylen)
{
	return decode_strict(der, len, ASN1_ITEM_rptr(CA_REQUEST), "Request",
	    why, whylen);
}

CA_REPLY *
ca_reply_decode(const unsigned char *der, size_t len, char *why, size_t whylen)
{
	return decode_strict(der, len, ASN1_ITEM_rptr(CA_REPLY), "Reply",
	    why, whylen);
}

/* ---- times and strings ------------------------------------------------- */

ASN1_GENERALIZEDTIME *
ca_time_new(time_t t)
{
	return ASN1_GENERALIZEDTIME_set(NULL, t);
}

int
ca_time_get(const ASN1_GENERALIZEDTIME *gt, time_t *t)
{
	const unsigned char *d = ASN1_STRING_get0_data(gt);
	struct tm tm;

	/* DER's one form: no fraction, no offset, seconds present. */
	if (ASN1_STRING_type(gt) != V_ASN1_GENERALIZEDTIME ||
	    ASN1_STRING_length(gt) != 15 || d[14] != 'Z')
		return -1;
	for (int i = 0; i < 14; i++)
		if (d[i] < '0' || d[i] > '9')
			return -1;
	if (!ASN1_GENERALIZEDTIME_check(gt) || !ASN1_TIME_to_tm(gt, &tm))
		return -1;
	*t = timegm(&tm);
	return 0;
}

char *
ca_utf8_dup(const ASN1_UTF8STRING *s, size_t max)
{
	const unsigned char *d;
	char *out, why[128];
	int len;

	if (s == NULL || ASN1_STRING_type(s) != V_ASN1_UTF8STRING ||
	    (len = ASN1_STRING_length(s)) < 0 || (size_t)len > max)
		return NULL;
	d = ASN1_STRING_get0_data(s);
	if (memchr(d, '\0', (size_t)len) != NULL)
		return NULL;
	if ((out = strndup((const char *)d, (size_t)len)) == NULL)
		return NULL;
	if (utf8_text_check(out, (size_t)len, why, sizeof(why)) == -1) {
		free(out);
		return NULL;
	}
	return out;
}

char *
ca_text_dup(const ASN1_UTF8STRING *s, size_t max)
{
	size_t len = s != NULL ? (size_t)ASN1_STRING_length(s) : 0;
	const unsigned char *d = s != NULL ? ASN1_STRING_get0_data(s) : NULL;

	if (d == NULL || memchr(d, '\0', len) != NULL)
		return NULL;
	return strndup((const char *)d, len < max ? len : max);
}

int
ca_utf8_set(ASN1_UTF8STRING **s, const char *text)
{
	if (*s == NULL && (*s = ASN1_UTF8STRING_new()) == NULL)
		return -1;
	return ASN1_STRING_set(*s, text, -1) ? 0 : -1;
}

/* ---- frames ------------------------------------------------------------- */

int
ca_msg_send_frame(int fd, const unsigned char *msg, size_t len, size_t *off,
    int flags)
{
	size_t n = len - *off > CA_FRAME_MAX ? CA_FRAME_MAX : len - *off;
	unsigned char more = *off + n < len;
	struct iovec iov[2] = {
		{ &more, 1 },
		{ (void *)(msg + *off), n },
	};
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t sent;

	do
		sent = sendmsg(fd, &mh, flags | MSG_NOSIGNAL);
	while (sent == -1 && errno == EINTR);
	if (sent == -1)
		return -1;
	*off += n;
	return more ? 0 : 1;
}

int
ca_msg_send(int fd, const unsigned char *msg, size_t len)
{
	size_t off = 0;
	int rc;

	while ((rc = ca_msg_send_frame(fd, msg, len, &off, 0)) == 0)
		;
	return rc == 1 ? 0 : -1;
}

/* One frame into buf (CA_FRAME_MAX + 1 bytes): its size, 0 at the end of
 * the stream, -1 with errno, -2 if it was longer than buf. */
static ssize_t
recv_frame(int fd, unsigned char *buf, int flags)
{
	struct iovec iov = { buf, CA_FRAME_MAX + 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	do
		n = recvmsg(fd, &mh, flags);
	while (n == -1 && errno == EINTR);
	if (n > 0 && (mh.msg_flags & MSG_TRUNC))
		return -2;
	return n;
}

/* Appends a frame's payload to *msg, or notes in why that it cannot be
 * (the message is then dropped, its remaining frames only read). */
static void
append(unsigned char **msg, size_t *len, const unsigned char *p, size_t n,
    char *why, size_t whylen)
{
	unsigned char *grown;

	if (*why != '\0')
		return;
	if (*len + n > CA_MSG_MAX) {
		snprintf(why, whylen, "a message longer than %d bytes", CA_MSG_MAX);
		return;
	}
	if ((grown = realloc(*msg, *len + n + 1)) == NULL)
		fatal("out of memory");
	memcpy(grown + *len, p, n);
	*msg = grown;
	*len += n;
}

/* Why a frame (n bytes, or -2: longer than its buffer) is refused; "" if
 * it is fine. */
static void
frame_check(const unsigned char *frame, ssize_t n, char *why, size_t whylen)
{
	if (*why != '\0')
		return;
	if (n == -2)
		snprintf(why, whylen, "a frame longer than %d bytes", CA_FRAME_MAX + 1);
	else if (frame[0] > 1)
		snprintf(why, whylen, "a frame whose header is %u, not 0 or 1", frame[0]);
}

int
ca_msg_recv(int fd, int dontwait, unsigned char **msg, size_t *len, char *why,
    size_t whylen)
{
	unsigned char *frame = malloc(CA_FRAME_MAX + 1);
	int more = 1;
	ssize_t n;

	*msg = NULL;
	*len = 0;
	*why = '\0';
	if (frame == NULL)
		fatal("out of memory");
	for (int first = 1; more; first = 0) {
		/* Every frame holds at least its header: 0 is the end. */
		if ((n = recv_frame(fd, frame, first && dontwait ? MSG_DONTWAIT : 0)) == 0 ||
		    n == -1) {
			if (n == 0 && !first)
				errno = EPIPE;	/* the stream ended inside a message */
			free(frame);
			free(*msg);
			*msg = NULL;
			return n == 0 && first ? 0 : -1;
		}
		frame_check(frame, n, why, whylen);
		/* After a bad header nothing says where the message ends. */
		more = frame[0] == 1;
		if (n > 0)
			append(msg, len, frame + 1, (size_t)n - 1, why, whylen);
	}
	free(frame);
	if (*why == '\0')
		return 1;
	free(*msg);
	*msg = NULL;
	return -2;
}
