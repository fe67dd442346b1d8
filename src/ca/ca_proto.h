/*
 * ca_proto.h - what certsyncd (or certsyncctl) and the CA process say to
 * each other: typed DER messages in frames over a SOCK_SEQPACKET socketpair.
 *
 * Owns: the messages' ASN.1 (below, and OpenSSL templates for it in
 * ca_proto.c), their strict encoding and decoding, and the frames that carry
 * them.  Both ends include this file and nothing else of each other.
 * Never: decides anything.  Whether a request is one the profile would make
 * is the CA process's question (ca_check.c); this file only says whether a
 * message is well-formed DER of the right type.
 *
 * The protocol, version 1:
 *
 *   Request ::= SEQUENCE {
 *       version   INTEGER (1),
 *       id        INTEGER (1..2^64-1),   -- the client's; echoed in the reply
 *       body      RequestBody }
 *   RequestBody ::= CHOICE {
 *       issue     [0] IMPLICIT IssueRequest,
 *       crl       [1] IMPLICIT CrlRequest }
 *
 *   -- "Issue a certificate of this kind for this public key, these
 *   -- addresses, this subject": what to issue, never bytes to sign.  The
 *   -- CA process builds the certificate itself from its own profile and
 *   -- refuses the request unless subject, validity and extensions are the
 *   -- ones the profile makes from kind, publicKey, addresses and vars.
 *   IssueRequest ::= SEQUENCE {
 *       kind        ENUMERATED { signing(0), encryption(1), dual(2) },
 *       user        UTF8String (SIZE(1..256)),   -- whom it is for (the uuid);
 *                                               -- for the CA's audit log only
 *       publicKey   SubjectPublicKeyInfo,
 *       addresses   SEQUENCE SIZE(1..256) OF IA5String,  -- normalized,
 *                                                        -- primary first
 *       vars        SubjectVars,
 *       subject     Name,                -- the template expanded with vars
 *       notBefore   GeneralizedTime,
 *       notAfter    GeneralizedTime,
 *       extensions  Extensions }         -- the profile's, in its order
 *   SubjectVars ::= SEQUENCE {           -- the subject template's %{...}
 *       name   [0] IMPLICIT UTF8String OPTIONAL,
 *       given  [1] IMPLICIT UTF8String OPTIONAL,
 *       sn     [2] IMPLICIT UTF8String OPTIONAL,
 *       mail   [3] IMPLICIT UTF8String OPTIONAL,
 *       uid    [4] IMPLICIT UTF8String OPTIONAL }
 *
 *   -- "Sign a CRL with these entries": the CA process builds it.
 *   CrlRequest ::= SEQUENCE {
 *       number      INTEGER (1..MAX),    -- at most 20 octets (RFC 5280)
 *       thisUpdate  GeneralizedTime,
 *       nextUpdate  GeneralizedTime,
 *       entries     SEQUENCE OF CrlEntry }
 *   CrlEntry ::= SEQUENCE {
 *       serial          INTEGER,
 *       revocationDate  GeneralizedTime,
 *       reason          ENUMERATED }     -- RFC 5280 CRLReason
 *
 *   Reply ::= SEQUENCE {
 *       version   INTEGER (1),
 *       id        INTEGER (0..2^64-1),   -- the request's; 0 when the request
 *                                        -- could not be read, and for
 *                                        -- ready and failed
 *       body      ReplyBody }
 *   ReplyBody ::= CHOICE {
 *       certificate [0] IMPLICIT OCTET STRING,  -- a DER Certificate
 *       crl         [1] IMPLICIT OCTET STRING,  -- a DER CertificateList
 *       refused     [2] IMPLICIT Refusal,
 *       ready       [3] IMPLICIT Ready,        -- the first message sent
 *       failed      [4] IMPLICIT Failed }      -- the last one, if it cannot start
 *   Refusal ::= SEQUENCE {
 *       code          ENUMERATED { malformed(1), profile(2), rateCeiling(3),
 *                                  internal(4) },
 *       reason        UTF8String,
 *       retryAfterMs  INTEGER OPTIONAL }   -- rateCeiling: when a token is due
 *   Ready ::= SEQUENCE {
 *       caCertSha256  OCTET STRING (SIZE(32)),  -- the certificate it signs for
 *       maxPerMinute  INTEGER,
 *       pid           INTEGER }
 *   Failed ::= SEQUENCE {
 *       permanent     INTEGER (0..1),   -- 1: a restart cannot help (wrong
 *                                       -- PIN, key and certificate apart)
 *       reason        UTF8String }
 *
 * Strictness: a message must decode as exactly one value of its type with
 * no trailing byte, and re-encode to the very same bytes (so it was DER, not
 * some other BER form); times must be GeneralizedTime in DER's one form
 * (YYYYMMDDHHMMSSZ); strings must be valid UTF-8 without control
 * characters, IA5 strings ASCII.
 *
 * Frames: SOCK_SEQPACKET keeps message boundaries, but a datagram is
 * bounded by the socket's buffer, and a CRL of many entries is not.  So
 * each message travels as one or more frames: one byte (1: more frames of
 * this message follow, 0: the last one), then up to CA_FRAME_MAX bytes of
 * the message.  A message's frames are sent together; a frame longer than
 * that, or a message longer than CA_MSG_MAX, is refused.
 *
 * Pipelining: a client may have up to CA_MAX_IN_FLIGHT requests in flight.
 * The CA process reads what has arrived (at most CA_BATCH_MAX), answers it
 * with one fdatasync of its audit log for the batch, and may answer in any
 * order; replies are matched by id.
 */
#ifndef CERTSYNC_CA_PROTO_H
#define CERTSYNC_CA_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/asn1t.h>
#include <openssl/x509.h>

#define CA_PROTO_VERSION 1
#define CA_FRAME_MAX (32 * 1024)             /* bytes of message per frame */
#define CA_MSG_MAX (64 * 1024 * 1024)        /* a CRL of ~1.4 million entries */
#define CA_MAX_IN_FLIGHT 64
#define CA_BATCH_MAX 64
#define CA_USER_MAX 256
#define CA_ADDRESSES_MAX 256
#define CA_VAR_MAX 1024
#define CA_CRL_ENTRIES_MAX 1000000

/* The process's fixed descriptor for its end of the socketpair. */
#define CA_SOCKET_FD 3
/* The configuration's text, sealed, read once at start (--config-fd). */
#define CA_CONF_FD 4

enum ca_request_type { CA_REQ_ISSUE = 0, CA_REQ_CRL = 1 };
enum ca_reply_type { CA_REP_CERT = 0, CA_REP_CRL = 1, CA_REP_REFUSED = 2,
    CA_REP_READY = 3, CA_REP_FAILED = 4 };
enum ca_refusal_code { CA_REFUSE_MALFORMED = 1, CA_REFUSE_PROFILE = 2,
    CA_REFUSE_RATE = 3, CA_REFUSE_INTERNAL = 4 };

/* OpenSSL 3.0 has no stack type of its own for IA5Strings. */
DEFINE_STACK_OF(ASN1_IA5STRING)

typedef struct {
	ASN1_UTF8STRING *name, *given, *sn, *mail, *uid;
} CA_SUBJECT_VARS;

typedef struct {
	ASN1_ENUMERATED *kind;
	ASN1_UTF8STRING *user;
	X509_PUBKEY *public_key;
	STACK_OF(ASN1_IA5STRING) *addresses;
	CA_SUBJECT_VARS *vars;
	X509_NAME *subject;
	ASN1_GENERALIZEDTIME *not_before, *not_after;
	STACK_OF(X509_EXTENSION) *extensions;
} CA_ISSUE;

typedef struct {
	ASN1_INTEGER *serial;
	ASN1_GENERALIZEDTIME *date;
	ASN1_ENUMERATED *reason;
} CA_CRL_ENTRY;
DEFINE_STACK_OF(CA_CRL_ENTRY)

typedef struct {
	ASN1_INTEGER *number;
	ASN1_GENERALIZEDTIME *this_update, *next_update;
	STACK_OF(CA_CRL_ENTRY) *entries;
} CA_CRL;

typedef struct {
	int type;                 /* enum ca_request_type */
	union {
		CA_ISSUE *issue;
		CA_CRL *crl;
	} d;
} CA_REQUEST_BODY;

typedef struct {
	int32_t version;
	uint64_t id;
	CA_REQUEST_BODY *body;
} CA_REQUEST;

typedef struct {
	ASN1_ENUMERATED *code;
	ASN1_UTF8STRING *reason;
	ASN1_INTEGER *retry_after_ms;   /* OPTIONAL */
} CA_REFUSAL;

typedef struct {
	ASN1_OCTET_STRING *ca_cert_sha256;
	int64_t max_per_minute;
	int64_t pid;
} CA_READY;

typedef struct {
	int32_t permanent;
	ASN1_UTF8STRING *reason;
} CA_FAILED;

typedef struct {
	int type;                 /* enum ca_reply_type */
	union {
		ASN1_OCTET_STRING *certificate;
		ASN1_OCTET_STRING *crl;
		CA_REFUSAL *refused;
		CA_READY *ready;
		CA_FAILED *failed;
	} d;
} CA_REPLY_BODY;

typedef struct {
	int32_t version;
	uint64_t id;
	CA_REPLY_BODY *body;
} CA_REPLY;

DECLARE_ASN1_FUNCTIONS(CA_SUBJECT_VARS)
DECLARE_ASN1_FUNCTIONS(CA_ISSUE)
DECLARE_ASN1_FUNCTIONS(CA_CRL_ENTRY)
DECLARE_ASN1_FUNCTIONS(CA_CRL)
DECLARE_ASN1_FUNCTIONS(CA_REQUEST_BODY)
DECLARE_ASN1_FUNCTIONS(CA_REQUEST)
DECLARE_ASN1_FUNCTIONS(CA_REFUSAL)
DECLARE_ASN1_FUNCTIONS(CA_READY)
DECLARE_ASN1_FUNCTIONS(CA_FAILED)
DECLARE_ASN1_FUNCTIONS(CA_REPLY_BODY)
DECLARE_ASN1_FUNCTIONS(CA_REPLY)

/*
 * Return convention of the functions below: 0 on success; -1 with errno for
 * a system call that failed; a decoding failure returns NULL with the
 * reason in why (a static or caller-buffer text, never OpenSSL's queue).
 */

/* The DER of a message; *der is the caller's (OPENSSL_free). */
int ca_request_encode(const CA_REQUEST *req, unsigned char **der, size_t *len);
int ca_reply_encode(const CA_REPLY *rep, unsigned char **der, size_t *len);

/* Strict decoding (see above).  why gets one line for the refusal. */
CA_REQUEST *ca_request_decode(const unsigned char *der, size_t len, char *why,
    size_t whylen);
CA_REPLY *ca_reply_decode(const unsigned char *der, size_t len, char *why,
    size_t whylen);

/*
 * Sends one message as frames.  Blocks until it is sent, unless the socket
 * is non-blocking (then -1 with EAGAIN may come after part of it: callers
 * that may meet a full socket use ca_msg_send_frame one frame at a time).
 */
int ca_msg_send(int fd, const unsigned char *msg, size_t len);

/*
 * One frame of msg from offset *off, which it advances.  Returns 1 when the
 * message is all sent, 0 when more frames remain, -1 with errno.
 */
int ca_msg_send_frame(int fd, const unsigned char *msg, size_t len, size_t *off,
    int flags);

/*
 * Receives one whole message.  With dontwait, returns -1 with EAGAIN when
 * no frame has arrived; once the first frame is in, the rest is waited for.
 * Returns 1 with *msg (caller frees with free()) and *len; 0 at the end of
 * the stream; -1 with errno; -2 for a frame or message too long (the rest
 * of the message is read and dropped) or a frame without its header, with
 * the reason in why.
 */
int ca_msg_recv(int fd, int dontwait, unsigned char **msg, size_t *len,
    char *why, size_t whylen);

/* A GeneralizedTime for t (caller frees), or NULL. */
ASN1_GENERALIZEDTIME *ca_time_new(time_t t);
/* t from a GeneralizedTime in DER's form YYYYMMDDHHMMSSZ: 0, or -1. */
int ca_time_get(const ASN1_GENERALIZEDTIME *gt, time_t *t);

/*
 * A UTF8String as a C string (caller frees), if it is text as a
 * certificate takes it (utf8_text_check(): valid UTF-8, no control or
 * hiding character) of at most max bytes; NULL otherwise.
 */
char *ca_utf8_dup(const ASN1_UTF8STRING *s, size_t max);
/*
 * A reason the CA process sent (a refusal's, a failure's) as a C string
 * (caller frees): whatever bytes it holds but NUL, at most max; escaped
 * when it is printed, like all outside text.  NULL if it holds a NUL.
 */
char *ca_text_dup(const ASN1_UTF8STRING *s, size_t max);
/* Sets a UTF8String from a C string; 0, or -1. */
int ca_utf8_set(ASN1_UTF8STRING **s, const char *text);

#endif
