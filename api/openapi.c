/*
 * openapi - GET /api/v1/openapi.yaml: the API's description, docs/openapi.yaml
 * as it was when the program was built (cmake/embed.cmake), so the copy
 * served always belongs to the routes served.
 */
#include "handlers.h"

extern const char openapi_yaml[];
extern const size_t openapi_yaml_len;

void
openapi_get(http_req_t *r)
{
    http_reply_raw(r, 200, "application/yaml", openapi_yaml, openapi_yaml_len);
}
