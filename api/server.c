/*
 * server - evhttp setup, binding, the port file, signals, and the one
 * entry point of every request.
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/http.h>

#include "dbconn.h"
#include "http.h"
#include "log.h"
#include "request.h"
#include "router.h"

/* Limits on what a client may hold: header bytes, idle seconds. */
#define SERVER_MAX_HEADERS (64 * 1024)
#define SERVER_TIMEOUT_SECONDS 60

struct server {
    const gw_config_t *cfg;
    struct event_base *base;
    struct evhttp *http;
    struct event *sigint;
    struct event *sigterm;
    dbconn_t *db;
    int port;
};

/* Every request comes here: build its context, route it, make sure it got
 * exactly one reply, and leave no transaction open. */
static void
server_on_request(struct evhttp_request *ev, void *arg)
{
    server_t *srv = arg;
    http_req_t *r = http_req_new(ev, srv->db, srv->cfg);

    router_dispatch(r);
    if (r->status == 0) {
        log_error("http", "bug: no reply to %s %s", r->method, r->log_path);
        http_reply_error(r, 500, "internal error", "the request was not answered");
    }
    dbconn_cleanup(srv->db);
    http_req_free(r);
}

static void
server_on_signal(evutil_socket_t sig, short what, void *arg)
{
    server_t *srv = arg;

    log_info("api", "stopping on signal %d", (int)sig);
    event_base_loopexit(srv->base, NULL);
}

/* Write the port to path atomically (a reader never sees half of it). */
static int
server_write_port(const char *path, int port)
{
    char *tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    int rc = -1;

    if (f == NULL) {
        log_error("api", "could not write the port file \"%s\": %s", tmp, strerror(errno));
        goto fail;
    }
    fprintf(f, "%d\n", port);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        log_error("api", "could not write the port file \"%s\": %s", path, strerror(errno));
        (void)remove(tmp);
        goto fail;
    }
    rc = 0;
fail:
    free(tmp);
    return rc;
}

/* The port a socket is bound to, or -1. */
static int
server_bound_port(evutil_socket_t fd)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);

    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return -1;
    if (ss.ss_family == AF_INET)
        return ntohs(((struct sockaddr_in *)&ss)->sin_port);
    if (ss.ss_family == AF_INET6)
        return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    return -1;
}

server_t *
server_new(const gw_config_t *cfg)
{
    server_t *srv = xcalloc(1, sizeof(*srv));
    struct evhttp_bound_socket *sock;
    char *host = NULL;
    int port;

    srv->cfg = cfg;
    if (request_parse_addr(cfg->api_addr, &host, &port) < 0) {
        log_error("api", "GITWEAVE_API_ADDR \"%s\" is not host:port", cfg->api_addr);
        goto fail;
    }
    srv->base = event_base_new();
    if (srv->base == NULL) {
        log_error("api", "could not create the event loop");
        goto fail;
    }
    srv->http = evhttp_new(srv->base);
    if (srv->http == NULL) {
        log_error("api", "could not create the HTTP server");
        goto fail;
    }
    /* Larger bodies are refused by evhttp itself with 413 (its own body,
     * not JSON: libevent 2.1 calls no handler for them). Lingering close
     * reads the rest of such a body first, so that the client sees the 413
     * instead of a reset connection. */
    evhttp_set_max_body_size(srv->http, cfg->api_max_body);
    evhttp_set_max_headers_size(srv->http, SERVER_MAX_HEADERS);
    evhttp_set_timeout(srv->http, SERVER_TIMEOUT_SECONDS);
    evhttp_set_flags(srv->http, EVHTTP_SERVER_LINGERING_CLOSE);
    /* Every method reaches the router, which answers 405 with Allow. */
    evhttp_set_allowed_methods(srv->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST | EVHTTP_REQ_HEAD |
                                              EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
                                              EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
                                              EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
    evhttp_set_gencb(srv->http, server_on_request, srv);

    sock = evhttp_bind_socket_with_handle(srv->http, host, (ev_uint16_t)port);
    if (sock == NULL) {
        log_error("api", "could not listen on %s: %s", cfg->api_addr, strerror(errno));
        goto fail;
    }
    srv->port = server_bound_port(evhttp_bound_socket_get_fd(sock));
    if (srv->port < 0) {
        log_error("api", "could not read the bound port: %s", strerror(errno));
        goto fail;
    }
    if (cfg->api_port_file != NULL && cfg->api_port_file[0] != '\0' &&
        server_write_port(cfg->api_port_file, srv->port) < 0)
        goto fail;

    srv->sigint = evsignal_new(srv->base, SIGINT, server_on_signal, srv);
    srv->sigterm = evsignal_new(srv->base, SIGTERM, server_on_signal, srv);
    if (srv->sigint == NULL || srv->sigterm == NULL || evsignal_add(srv->sigint, NULL) < 0 ||
        evsignal_add(srv->sigterm, NULL) < 0) {
        log_error("api", "could not install signal handlers");
        goto fail;
    }
    /* After binding: a port already taken fails fast, without waiting for
     * the database. */
    srv->db = dbconn_new(srv->base, cfg->database_url);
    log_info("api", "listening addr=%s port=%d", host, srv->port);
    free(host);
    return srv;
fail:
    free(host);
    server_free(srv);
    return NULL;
}

int
server_run(server_t *srv)
{
    if (event_base_dispatch(srv->base) < 0) {
        log_error("api", "the event loop failed");
        return -1;
    }
    return 0;
}

void
server_free(server_t *srv)
{
    if (srv == NULL)
        return;
    if (srv->http != NULL)
        evhttp_free(srv->http);
    if (srv->sigint != NULL)
        event_free(srv->sigint);
    if (srv->sigterm != NULL)
        event_free(srv->sigterm);
    dbconn_free(srv->db);
    if (srv->base != NULL)
        event_base_free(srv->base);
    free(srv);
}
