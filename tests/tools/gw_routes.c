/*
 * gw_routes - print the API's route table, one "METHOD PATTERN" a line, for
 * the check that docs/openapi.yaml describes exactly the routes served.
 */
#include <stdio.h>

#include <event2/http.h>

#include "router.h"

int
main(void)
{
    for (size_t i = 0; i < router_route_count(); i++) {
        int method;
        const char *pattern = router_route_at(i, &method);
        const char *name = method == EVHTTP_REQ_GET      ? "GET"
                           : method == EVHTTP_REQ_POST   ? "POST"
                           : method == EVHTTP_REQ_PUT    ? "PUT"
                           : method == EVHTTP_REQ_DELETE ? "DELETE"
                                                         : "?";
        printf("%s %s\n", name, pattern);
    }
    return 0;
}
