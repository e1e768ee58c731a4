/*
 * server - the address, the limits, the port file, signals, and the two
 * entry points of every request (admit before the body, handle after).
 */
#include "server.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "dbconn.h"
#include "follow.h"
#include "http.h"
#include "httpd.h"
#include "later.h"
#include "log.h"
#include "router.h"
#include "scheduler.h"

/* Descriptors kept for everything but client connections (the database,
 * the listener, logs) when the connection cap is derived from the limit. */
#define SERVER_RESERVED_FDS 32
#define SERVER_DEFAULT_MAX_CONNECTIONS 1024

struct server {
    const gw_config_t *cfg;
    struct event_base *base;
    httpd_t *httpd;
    struct event *sigint;
    struct event *sigterm;
    dbconn_t *db;
    follow_t *follow;
    scheduler_t *scheduler;
    int port;
};

/* After the head, before the body: the token. */
static bool
server_on_admit(http_req_t *r, void *arg)
{
    server_t *srv = arg;

    r->db = srv->db;
    r->cfg = srv->cfg;
    r->follow = srv->follow;
    return router_admit(r);
}

/* With the body: route it. The handler replies now, or holds the request
 * and replies from a database callback (http.h). */
static void
server_on_request(http_req_t *r, void *arg)
{
    router_dispatch(r);
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

/* GITWEAVE_API_MAX_CONNECTIONS, or by default what the descriptor limit
 * leaves room for, at most SERVER_DEFAULT_MAX_CONNECTIONS. */
static int
server_max_connections(const gw_config_t *cfg)
{
    struct rlimit rl;
    long n = SERVER_DEFAULT_MAX_CONNECTIONS;

    if (cfg->api_max_connections > 0)
        return cfg->api_max_connections;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        (long)rl.rlim_cur - SERVER_RESERVED_FDS < n)
        n = (long)rl.rlim_cur - SERVER_RESERVED_FDS;
    return n < 1 ? 1 : (int)n;
}

server_t *
server_new(const gw_config_t *cfg)
{
    server_t *srv = xcalloc(1, sizeof(*srv));
    struct addrinfo hints, *ai = NULL;
    httpd_limits_t lim;
    char *host = NULL;
    char portstr[16];
    int port, rc;

    srv->cfg = cfg;
    if (config_parse_addr(cfg->api_addr, &host, &port) < 0) {
        log_error("api", "GITWEAVE_API_ADDR \"%s\" is not host:port", cfg->api_addr);
        goto fail;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    snprintf(portstr, sizeof(portstr), "%d", port);
    rc = getaddrinfo(host, portstr, &hints, &ai);
    if (rc != 0) {
        log_error("api", "could not resolve GITWEAVE_API_ADDR \"%s\": %s", cfg->api_addr,
                  gai_strerror(rc));
        goto fail;
    }
    srv->base = event_base_new();
    if (srv->base == NULL) {
        log_error("api", "could not create the event loop");
        goto fail;
    }
    memset(&lim, 0, sizeof(lim));
    lim.max_connections = server_max_connections(cfg);
    lim.header_timeout = cfg->api_header_timeout;
    lim.body_timeout = cfg->api_body_timeout;
    lim.idle_timeout = cfg->api_idle_timeout;
    lim.max_streams =
        cfg->api_max_streams > 0 ? cfg->api_max_streams : (lim.max_connections * 3 + 3) / 4;
    lim.max_body = (size_t)cfg->api_max_body;
    lim.body_budget = (size_t)cfg->api_body_budget;
    lim.allowed_origins = cfg->allowed_origins;
    srv->httpd = httpd_new(srv->base, ai->ai_addr, ai->ai_addrlen, &lim, server_on_admit,
                           server_on_request, srv);
    if (srv->httpd == NULL) {
        log_error("api", "could not listen on %s", cfg->api_addr);
        goto fail;
    }
    srv->port = httpd_port(srv->httpd);
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
    /* After binding: a port already taken fails fast. The pool connects
     * in the background. */
    srv->db =
        dbconn_new(srv->base, cfg->database_url,
                   cfg->api_db_connections > 0 ? cfg->api_db_connections : dbconn_default_size(),
                   cfg->api_statement_timeout);
    srv->follow = follow_new(srv->base, cfg, srv->db);
    srv->scheduler = scheduler_new(srv->base, srv->db);
    log_info("api", "listening addr=%s port=%d max_connections=%d max_streams=%d", host, srv->port,
             lim.max_connections, lim.max_streams);
    freeaddrinfo(ai);
    free(host);
    return srv;
fail:
    if (ai != NULL)
        freeaddrinfo(ai);
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
    /* The scheduler stops before the pool (its statements still waiting
     * only free their memory); then the pool: statements still waiting
     * fail, and their callbacks answer the held requests while the HTTP
     * server still exists. */
    scheduler_free(srv->scheduler);
    dbconn_free(srv->db);
    /* Then the live streams (no statement of theirs is left in flight). */
    follow_free(srv->follow);
    httpd_free(srv->httpd);
    /* What waits to be freed on the next turn (the pool's connections,
     * replied orphans): freed now, nothing of the HTTP server is left. */
    if (srv->base != NULL)
        later_drain(srv->base);
    if (srv->sigint != NULL)
        event_free(srv->sigint);
    if (srv->sigterm != NULL)
        event_free(srv->sigterm);
    if (srv->base != NULL)
        event_base_free(srv->base);
    free(srv);
}
