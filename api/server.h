/*
 * server - the API's HTTP server (httpd) on one event loop.
 *
 * Binds GITWEAVE_API_ADDR ("host:port"; port 0 picks a free port, which
 * is then written to GITWEAVE_API_PORT_FILE), sets httpd's limits from the
 * configuration (body size, connection cap, deadlines, allowed origins),
 * checks the token through the router before a body is read, and hands
 * each request to the router. Runs until SIGINT or SIGTERM.
 */
#ifndef GW_API_SERVER_H
#define GW_API_SERVER_H

#include "config.h"
#include "util.h"

typedef struct server server_t;

/*
 * Set up the loop, the database connection and the listening socket.
 * Returns the server (free with server_free; NULL is a no-op), or NULL
 * after logging why (the address is malformed or cannot be bound, the port
 * file cannot be written). cfg is borrowed and must outlive the server.
 */
server_t *server_new(const gw_config_t *cfg) GW_MUST_CHECK;

/* Serve until SIGINT or SIGTERM. Returns 0, or -1 if the loop failed. */
int server_run(server_t *srv) GW_MUST_CHECK;

void server_free(server_t *srv);

#endif
