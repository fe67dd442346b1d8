/*
 * http_reply.c - shaping the HTTP listener's answers.
 *
 * Owns: the headers of every answer, conditional requests on the served
 * files, and how long a cache may keep each: the CA certificate a day;
 * the CRL until its nextUpdate but at most CRL_MAX_AGE, because certsync
 * writes a new CRL within seconds of a revocation and a cache between the
 * relying party and us should not hide it for long (with the ETag, asking
 * again costs a 304).
 * Never: trusts a header's syntax: a malformed If-Modified-Since is
 * ignored, as RFC 9110 says.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "ops/http_reply.h"

#define CRL_MAX_AGE 3600
#define CERT_MAX_AGE 86400

static const char *
reason_phrase(int code)
{
	switch (code) {
	case 200: return "OK";
	case 304: return "Not Modified";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 503: return "Service Unavailable";
	default: return "Internal Server Error";
	}
}

static void
add_header(struct evhttp_request *req, const char *key, const char *value)
{
	evhttp_add_header(evhttp_request_get_output_headers(req), key, value);
}

void
http_reply(struct evhttp_request *req, int code, const char *type,
    const char *cache, const void *body, size_t len)
{
	struct evbuffer *buf = evhttp_request_get_output_buffer(req);
	char n[24];

	snprintf(n, sizeof(n), "%zu", len);
	add_header(req, "Content-Type", type);
	add_header(req, "Content-Length", n);
	add_header(req, "X-Content-Type-Options", "nosniff");
	if (cache != NULL)
		add_header(req, "Cache-Control", cache);
	/* HEAD: the headers GET would get, Content-Length included; no body. */
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD && len > 0)
		evbuffer_add(buf, body, len);
	evhttp_send_reply(req, code, reason_phrase(code), NULL);
}

void
http_reply_text(struct evhttp_request *req, int code, const char *text)
{
	http_reply(req, code, "text/plain; charset=utf-8", "no-store", text, strlen(text));
}

void
http_reply_not_allowed(struct evhttp_request *req)
{
	add_header(req, "Allow", "GET, HEAD");
	http_reply_text(req, 405, "method not allowed: GET or HEAD only\n");
}

/* ---- validators ------------------------------------------------------------ */

static void
http_date(time_t t, char *buf, size_t len)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, len, "%a, %d %b %Y %H:%M:%S GMT", &tm);
}

/* An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"): 0 and *t, or -1. */
static int
parse_http_date(const char *s, time_t *t)
{
	struct tm tm;
	const char *end = NULL;

	memset(&tm, 0, sizeof(tm));
	if ((end = strptime(s, "%a, %d %b %Y %H:%M:%S GMT", &tm)) == NULL ||
	    *end != '\0')
		return -1;
	*t = timegm(&tm);
	return *t == (time_t)-1 ? -1 : 0;
}

/* Whether the If-None-Match list holds etag (weak comparison, "*" too). */
static int
etag_listed(const char *list, const char *etag)
{
	size_t elen = strlen(etag);

	while (*list != '\0') {
		size_t len;

		list += strspn(list, " \t,");
		if (strncmp(list, "W/", 2) == 0)
			list += 2;
		len = strcspn(list, " \t,");
		if ((len == 1 && list[0] == '*') ||
		    (len == elen && strncmp(list, etag, len) == 0))
			return 1;
		list += len;
	}
	return 0;
}

static int
not_modified(struct evhttp_request *req, const struct served_file *f)
{
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *inm = evhttp_find_header(in, "If-None-Match");
	const char *ims = evhttp_find_header(in, "If-Modified-Since");
	time_t since;

	if (inm != NULL)
		return etag_listed(inm, f->etag);
	if (ims == NULL || parse_http_date(ims, &since) == -1 || since > time(NULL))
		return 0;
	return f->last_modified <= since;
}

static void
cache_control(const struct served_file *f, char *buf, size_t len)
{
	time_t now = time(NULL);
	long long age = CERT_MAX_AGE;

	if (f->kind == SERVED_CRL) {
		age = f->next_update == 0 ? CRL_MAX_AGE : (long long)(f->next_update - now);
		if (age > CRL_MAX_AGE)
			age = CRL_MAX_AGE;
	}
	if (age <= 0)
		snprintf(buf, len, "no-cache");	/* past nextUpdate: always ask */
	else
		snprintf(buf, len, "public, max-age=%lld, no-transform", age);
}

void
http_reply_file(struct evhttp_request *req, struct served_file *f)
{
	char date[64], cache[64];

	if (served_refresh(f) == -1) {
		http_reply_text(req, 503, f->kind == SERVED_CRL ?
		    "the CRL cannot be read now\n" :
		    "the CA certificate cannot be read now\n");
		return;
	}
	http_date(f->last_modified, date, sizeof(date));
	cache_control(f, cache, sizeof(cache));
	add_header(req, "ETag", f->etag);
	add_header(req, "Last-Modified", date);
	if (not_modified(req, f)) {
		add_header(req, "Cache-Control", cache);
		evhttp_send_reply(req, 304, reason_phrase(304), NULL);
		return;
	}
	http_reply(req, 200, f->kind == SERVED_CRL ? "application/pkix-crl" :
	    "application/pkix-cert", cache, f->der, f->der_len);
}
