/*
 * http.h - the optional HTTP listener on the daemon's event loop.
 *
 * Owns: the evhttp server of one run of the loop ([http] listen): the CRL
 * and the CA certificate at the paths of [certificates] crl_url and
 * aia_url, /metrics and /healthz; nothing else.
 * Never: serves a file the configuration does not name, writes anything,
 * or lets a client hold the loop (limits on header size, body size and
 * idle time; every handler is a few reads).
 */
#ifndef CERTSYNC_HTTP_H
#define CERTSYNC_HTTP_H

#include <event2/event.h>

#include "lib/conf.h"
#include "store/store.h"

struct http_server;

/*
 * Listens on every address of [http] listen; *out is NULL when that key is
 * not set (no listener: the default).  Returns 0; -1 after logging one
 * line per problem (an address that cannot be bound, a URL path that
 * collides with /metrics or /healthz).
 */
int http_start(struct event_base *base, const struct conf *conf, struct store *st,
    struct http_server **out);
/* Closes the listeners and every open connection; NULL is fine. */
void http_stop(struct http_server *h);

#endif
