/*
 * http_reply.h - the HTTP listener's answers.
 *
 * Owns: how every answer is shaped: Content-Type, Content-Length (also for
 * HEAD, which gets the headers of GET and no body), Cache-Control, the
 * validators of a served file (ETag, Last-Modified) and the 304 for a
 * request that already holds the current version (If-None-Match first,
 * else If-Modified-Since, as RFC 9110 orders them).
 * Never: sends a body with HEAD or 304, or a file it could not read (503).
 */
#ifndef CERTSYNC_HTTP_REPLY_H
#define CERTSYNC_HTTP_REPLY_H

#include <stddef.h>

#include "ops/served.h"

struct evhttp_request;

/* code with body (len bytes of type); cache is the Cache-Control value. */
void http_reply(struct evhttp_request *req, int code, const char *type,
    const char *cache, const void *body, size_t len);
/* code with a text/plain body, not cached. */
void http_reply_text(struct evhttp_request *req, int code, const char *text);
/* 405, with Allow: GET, HEAD. */
void http_reply_not_allowed(struct evhttp_request *req);
/* The file (refreshed first), a 304, or a 503 naming the problem. */
void http_reply_file(struct evhttp_request *req, struct served_file *f);

#endif
