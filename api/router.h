/*
 * router - from method and path to a handler.
 *
 * The routes are one table in router.c. A pattern is a path whose
 * segments are literals or parameters: {repo}, {template} and {runner} are
 * names (gw_name_valid), {run} and {job} are uuids. The router answers by
 * itself when the request cannot reach a handler: 401 from router_admit (a
 * token is configured and the request does not carry it; /healthz and
 * /readyz are open, and /metrics with GITWEAVE_METRICS_PUBLIC=true), and from router_dispatch 400
 * (a malformed path, parameter or query string), 404 (no route), 405 (a route, but not for this
 * method; with an Allow header).
 */
#ifndef GW_API_ROUTER_H
#define GW_API_ROUTER_H

#include "http.h"

/* Check the token (before the body is read). Returns true, or false after
 * replying 401. */
bool router_admit(http_req_t *r);

/* Route a request: either calls its handler or replies itself. Sets
 * r->route to the pattern matched. */
void router_dispatch(http_req_t *r);

/* The route table, for the check that docs/openapi.yaml describes every
 * route: route i's pattern, and its method (EVHTTP_REQ_*) in *method. */
size_t router_route_count(void);
const char *router_route_at(size_t i, int *method);

#endif
