/*
 * http.c - the HTTP listener: evhttp on the daemon's loop.
 *
 * Owns: binding [http] listen, the limits every connection lives under
 * (8 KiB of request line and headers, 1 KiB of body, [http] timeout
 * seconds of silence), routing by exact path, GET and HEAD only (405 with
 * Allow for any other method, known or not; 404 for any other path), and
 * the replies: the CRL and the CA certificate with their validators and
 * 304s (http_reply.c), /metrics and /healthz.
 * Never: logs a request (its text is the client's), serves a path it was
 * not configured with, or keeps a client's bytes past its connection.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <event2/http.h>

#include "lib/log.h"
#include "ops/http.h"
#include "ops/http_reply.h"
#include "ops/metrics_page.h"
#include "ops/served.h"
#include "ops/status.h"

#define HEADERS_MAX 8192	/* request line and headers */
#define BODY_MAX 1024		/* GET and HEAD carry none */
#define ALL_METHODS 0xffff	/* every method reaches on_request: 405, not 501 */

struct http_server {
	const struct conf *conf;
	struct store *st;
	struct evhttp *http;
	char *crl_path, *cert_path;	/* from the URLs; NULL: not served */
	struct served_file crl, cert;
};

/* ---- the routes ------------------------------------------------------------- */

static void
serve_metrics(struct http_server *h, struct evhttp_request *req)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (out == NULL)
		fatal("out of memory");
	served_refresh(&h->crl);
	if (metrics_page_write(out, h->st, &h->crl, time(NULL)) == -1) {
		fclose(out);
		free(text);
		http_reply_text(req, 500, "the metrics could not be written\n");
		return;
	}
	fclose(out);
	http_reply(req, 200, "text/plain; version=0.0.4; charset=utf-8", "no-store",
	    text, len);
	free(text);
}

static void
serve_health(struct http_server *h, struct evhttp_request *req)
{
	struct ops_status s;
	char why[1024];

	served_refresh(&h->crl);
	ops_status_read(h->st, &s);
	if (ops_health(h->conf, &s, &h->crl, time(NULL), why, sizeof(why)))
		http_reply_text(req, 200, "ok\n");
	else
		http_reply_text(req, 503, why);
}

static void
on_request(struct evhttp_request *req, void *arg)
{
	struct http_server *h = arg;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri != NULL ? evhttp_uri_get_path(uri) : NULL;

	if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		http_reply_not_allowed(req);
		return;
	}
	if (path == NULL || path[0] == '\0')
		path = "/";
	if (h->crl_path != NULL && strcmp(path, h->crl_path) == 0)
		http_reply_file(req, &h->crl);
	else if (h->cert_path != NULL && strcmp(path, h->cert_path) == 0)
		http_reply_file(req, &h->cert);
	else if (strcmp(path, "/metrics") == 0)
		serve_metrics(h, req);
	else if (strcmp(path, "/healthz") == 0)
		serve_health(h, req);
	else
		http_reply_text(req, 404, "not found\n");
}

/* ---- set-up ------------------------------------------------------------------- */

/*
 * The path part of an http(s) URL (NULL when unset, or not http: an
 * ldap:// CRL is not ours to serve).  conf.c has already refused a path
 * that collides with another route.
 */
static char *
url_path(const char *url)
{
	struct evhttp_uri *u = NULL;
	const char *scheme = NULL, *path = NULL;
	char *out = NULL;

	if (url == NULL || (u = evhttp_uri_parse(url)) == NULL)
		return NULL;
	scheme = evhttp_uri_get_scheme(u);
	if (scheme != NULL && (strcasecmp(scheme, "http") == 0 ||
	    strcasecmp(scheme, "https") == 0)) {
		path = evhttp_uri_get_path(u);
		if ((out = strdup(path != NULL && path[0] != '\0' ? path : "/")) == NULL)
			fatal("out of memory");
	}
	evhttp_uri_free(u);
	return out;
}

static int
bind_all(struct http_server *h)
{
	char host[CONF_HOST_MAX];
	const char *why = NULL;
	int port, rc = 0;

	for (int i = 0; conf_listen_item(h->conf->http.listen, i, host, &port, &why) == 1; i++) {
		if (evhttp_bind_socket_with_handle(h->http, host, (ev_uint16_t)port) != NULL) {
			log_notice("http: listening on %s%s%s:%d", strchr(host, ':') ? "[" : "",
			    host, strchr(host, ':') ? "]" : "", port);
			continue;
		}
		log_error("[http] listen %s%s%s:%d: cannot listen: %s%s",
		    strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "", port,
		    strerror(errno), port < 1024 && errno == EACCES ?
		    " (a port below 1024 needs CAP_NET_BIND_SERVICE, which "
		    "certsyncd.service does not grant)" : "");
		rc = -1;
	}
	return rc;
}

static int
setup(struct http_server *h, struct event_base *base)
{
	h->crl_path = url_path(h->conf->certificates.crl_url);
	h->cert_path = url_path(h->conf->certificates.aia_url);
	if ((h->http = evhttp_new(base)) == NULL)
		fatal("out of memory");
	evhttp_set_max_headers_size(h->http, HEADERS_MAX);
	evhttp_set_max_body_size(h->http, BODY_MAX);
	evhttp_set_timeout(h->http, h->conf->http.timeout);
	evhttp_set_allowed_methods(h->http, ALL_METHODS);
	evhttp_set_gencb(h->http, on_request, h);
	return bind_all(h);
}

int
http_start(struct event_base *base, const struct conf *conf, struct store *st,
    struct http_server **out)
{
	struct http_server *h = NULL;

	*out = NULL;
	if (conf->http.listen == NULL)
		return 0;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("out of memory");
	h->conf = conf;
	h->st = st;
	served_init(&h->crl, SERVED_CRL, conf->crl.path);
	served_init(&h->cert, SERVED_CERT, conf->ca.certificate);
	if (setup(h, base) == -1) {
		http_stop(h);
		return -1;
	}
	log_info("http: the CRL %s%s, the CA certificate %s%s; /metrics, /healthz",
	    h->crl_path ? "at " : "", h->crl_path ? h->crl_path : "not served (no http "
	    "crl_url)", h->cert_path ? "at " : "", h->cert_path ? h->cert_path :
	    "not served (no http aia_url)");
	*out = h;
	return 0;
}

void
http_stop(struct http_server *h)
{
	if (h == NULL)
		return;
	if (h->http != NULL)
		evhttp_free(h->http);
	served_free(&h->crl);
	served_free(&h->cert);
	free(h->crl_path);
	free(h->cert_path);
	free(h);
}
