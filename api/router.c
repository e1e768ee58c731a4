/*
 * router - the route table, authentication, path parameters.
 */
#include "router.h"

#include <string.h>
#include <strings.h>

#include <event2/http.h>

#include "handlers.h"

typedef void (*router_fn)(http_req_t *r);

typedef struct {
    int method; /* EVHTTP_REQ_* */
    const char *pattern;
    router_fn fn;
} router_route_t;

#define V1 "/api/v1"

static const router_route_t router_routes[] = {
    {EVHTTP_REQ_GET, "/healthz", health_live},
    {EVHTTP_REQ_GET, "/readyz", health_ready},
    {EVHTTP_REQ_GET, V1 "/healthz", health_live},
    {EVHTTP_REQ_GET, V1 "/readyz", health_ready},

    {EVHTTP_REQ_GET, V1 "/repos", repos_list},
    {EVHTTP_REQ_GET, V1 "/repos/{repo}", repos_get},
    {EVHTTP_REQ_PUT, V1 "/repos/{repo}", repos_put},
    {EVHTTP_REQ_DELETE, V1 "/repos/{repo}", repos_delete},
    {EVHTTP_REQ_GET, V1 "/repos/{repo}/templates", attach_list},
    {EVHTTP_REQ_PUT, V1 "/repos/{repo}/templates/{template}", attach_put},
    {EVHTTP_REQ_DELETE, V1 "/repos/{repo}/templates/{template}", attach_delete},
    {EVHTTP_REQ_POST, V1 "/repos/{repo}/pipelines/run", trigger_manual},
    {EVHTTP_REQ_GET, V1 "/repos/{repo}/pipelines/runs", runs_list},
    {EVHTTP_REQ_POST, V1 "/repos/{repo}/hooks/push", trigger_push},
    {EVHTTP_REQ_GET, V1 "/repos/{repo}/secrets", secrets_list_repo},
    {EVHTTP_REQ_PUT, V1 "/repos/{repo}/secrets/{secret}", secrets_put_repo},
    {EVHTTP_REQ_DELETE, V1 "/repos/{repo}/secrets/{secret}", secrets_delete_repo},
    {EVHTTP_REQ_GET, V1 "/secrets", secrets_list_global},
    {EVHTTP_REQ_PUT, V1 "/secrets/{secret}", secrets_put_global},
    {EVHTTP_REQ_DELETE, V1 "/secrets/{secret}", secrets_delete_global},
    {EVHTTP_REQ_PUT, V1 "/repos/{repo}/log-retention", repo_retention_put},
    {EVHTTP_REQ_GET, V1 "/repos/{repo}/schedules", schedules_list},

    {EVHTTP_REQ_GET, V1 "/templates", templates_list},
    {EVHTTP_REQ_GET, V1 "/templates/{template}", templates_get},
    {EVHTTP_REQ_PUT, V1 "/templates/{template}", templates_put},
    {EVHTTP_REQ_DELETE, V1 "/templates/{template}", templates_delete},

    {EVHTTP_REQ_GET, V1 "/pipelines/runs", runs_list_all},
    {EVHTTP_REQ_GET, V1 "/pipelines/runs/{run}", runs_get},
    {EVHTTP_REQ_POST, V1 "/pipelines/runs/{run}/cancel", runs_cancel},
    {EVHTTP_REQ_GET, V1 "/pipelines/runs/{run}/events", events_run},
    {EVHTTP_REQ_POST, V1 "/pipelines/runs/{run}/rerun", runs_rerun},
    {EVHTTP_REQ_GET, V1 "/ids", ids_find},
    {EVHTTP_REQ_GET, V1 "/jobs/{job}/logs", logs_get},
    {EVHTTP_REQ_GET, V1 "/jobs/{job}/logs.txt", logs_text},
    {EVHTTP_REQ_GET, V1 "/logs/search", search_logs},
    {EVHTTP_REQ_GET, V1 "/events", events_stream},
    {EVHTTP_REQ_GET, V1 "/runners", runners_list},
    {EVHTTP_REQ_DELETE, V1 "/runners/{runner}", runners_delete},
    {EVHTTP_REQ_POST, V1 "/runners/{runner}/pause", runners_pause},
    {EVHTTP_REQ_POST, V1 "/runners/{runner}/resume", runners_resume},

    {EVHTTP_REQ_GET, "/metrics", metrics_get},
    {EVHTTP_REQ_GET, V1 "/openapi.yaml", openapi_get},

    /* The web page: every page address answers the same shell (ui.c). */
    {EVHTTP_REQ_GET, "/", ui_page},
    {EVHTTP_REQ_GET, "/runs/{run}", ui_page},
    {EVHTTP_REQ_GET, "/runs/{run}/jobs/{job}", ui_page},
    {EVHTTP_REQ_GET, "/repos/{repo}", ui_page},
    {EVHTTP_REQ_GET, "/runners", ui_page},
    {EVHTTP_REQ_GET, "/search", ui_page},
    {EVHTTP_REQ_GET, "/ui/{version}/{asset}", ui_asset},
};

/* The length of the pattern segment starting at p. */
static size_t
router_seg_len(const char *p)
{
    const char *slash = strchr(p, '/');
    return slash ? (size_t)(slash - p) : strlen(p);
}

/*
 * Whether path matches pattern; the parameter values (borrowed from path)
 * go to params[], their names (borrowed from pattern) to names[].
 */
static bool
router_match(const char *pattern, const request_path_t *path, const char **params,
             const char **names, size_t *nparams)
{
    const char *p = pattern + 1;
    size_t i = 0;

    *nparams = 0;
    for (;; i++) {
        size_t n = router_seg_len(p);
        if (i >= path->n)
            return false;
        if (p[0] == '{') {
            if (path->seg[i][0] == '\0' || *nparams == HTTP_MAX_PARAMS)
                return false;
            names[*nparams] = p;
            params[(*nparams)++] = path->seg[i];
        } else if (strlen(path->seg[i]) != n || memcmp(path->seg[i], p, n) != 0) {
            return false;
        }
        if (p[n] == '\0')
            break;
        p += n + 1;
    }
    return i + 1 == path->n;
}

/* Health probes are always open; /metrics when GITWEAVE_METRICS_PUBLIC
 * is true (a scraper on a private network without the token). */
static bool
router_is_public(const http_req_t *r, router_fn fn)
{
    return fn == health_live || fn == health_ready || fn == ui_page || fn == ui_asset ||
           (fn == metrics_get && strcmp(r->cfg->metrics_public, "true") == 0);
}

/* Compare in a time that depends only on the length of the secret b. */
static bool
router_token_equal(const char *a, size_t alen, const char *b)
{
    size_t blen = strlen(b);
    volatile unsigned char diff = alen != blen;

    for (size_t i = 0; i < blen; i++)
        diff |= (unsigned char)((i < alen ? a[i] : 0) ^ b[i]);
    return diff == 0;
}

static bool
router_authorised(http_req_t *r)
{
    const char *token = r->cfg->api_token;
    const char *h;

    if (token == NULL || token[0] == '\0')
        return true;
    h = http_header(r, "Authorization");
    if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0)
        return false;
    h += 7;
    while (*h == ' ')
        h++;
    size_t n = strlen(h);
    while (n > 0 && h[n - 1] == ' ')
        n--;
    return router_token_equal(h, n, token);
}

/* Check a parameter by the name in its pattern segment ("{repo}..."). */
static bool
router_param_ok(http_req_t *r, const char *name, const char *value)
{
    if (strncmp(name, "{repo}", 6) == 0 || strncmp(name, "{template}", 10) == 0 ||
        strncmp(name, "{runner}", 8) == 0) {
        const char *what = name[1] == 't' ? "template" : name[3] == 'p' ? "repo" : "runner";
        if (gw_name_valid(value))
            return true;
        http_reply_error(r, 400,
                         name[1] == 't'   ? "invalid template name"
                         : name[3] == 'p' ? "invalid repo name"
                                          : "invalid runner name",
                         "a %s name is 1 to 100 characters of [A-Za-z0-9._-], starting with a "
                         "letter or digit",
                         what);
        return false;
    }
    /* A secret's name is checked by its handler (422); the page's files are
     * looked up by name in a table (ui.c). */
    if (strncmp(name, "{secret}", 8) == 0 || strncmp(name, "{version}", 9) == 0 ||
        strncmp(name, "{asset}", 7) == 0)
        return true;
    if (gw_uuid_valid(value))
        return true;
    http_reply_error(r, 400, name[1] == 'r' ? "invalid run id" : "invalid job id",
                     "an id is a uuid such as 123e4567-e89b-12d3-a456-426614174000");
    return false;
}

static void
router_reply_405(http_req_t *r, int methods)
{
    static const struct {
        int bit;
        const char *name;
    } names[] = {
        {EVHTTP_REQ_GET, "GET, HEAD"},
        {EVHTTP_REQ_POST, "POST"},
        {EVHTTP_REQ_PUT, "PUT"},
        {EVHTTP_REQ_DELETE, "DELETE"},
    };
    buf_t allow;

    buf_init(&allow);
    for (size_t i = 0; i < GW_ARRAY_LEN(names); i++) {
        if (!(methods & names[i].bit))
            continue;
        if (allow.len > 0)
            buf_puts(&allow, ", ");
        buf_puts(&allow, names[i].name);
    }
    http_set_header(r, "Allow", allow.data ? allow.data : "");
    http_reply_error(r, 405, "method not allowed", "this resource allows %s",
                     allow.data ? allow.data : "nothing");
    buf_free(&allow);
}

/* The first route that matches the path, whatever its method, among the
 * public ones only if asked; NULL if none (a malformed path matches none). */
static const router_route_t *
router_find_path(const http_req_t *r, bool public_only)
{
    if (!r->path_ok)
        return NULL;
    for (size_t i = 0; i < GW_ARRAY_LEN(router_routes); i++) {
        const char *p[HTTP_MAX_PARAMS], *nm[HTTP_MAX_PARAMS];
        size_t np;

        if ((!public_only || router_is_public(r, router_routes[i].fn)) &&
            router_match(router_routes[i].pattern, &r->path, p, nm, &np))
            return &router_routes[i];
    }
    return NULL;
}

size_t
router_route_count(void)
{
    return GW_ARRAY_LEN(router_routes);
}

const char *
router_route_at(size_t i, int *method)
{
    *method = router_routes[i].method;
    return router_routes[i].pattern;
}

bool
router_admit(http_req_t *r)
{
    const router_route_t *rt = router_find_path(r, false);

    r->route = rt != NULL ? rt->pattern : NULL;
    if (router_find_path(r, true) != NULL || router_authorised(r))
        return true;
    http_set_header(r, "WWW-Authenticate", "Bearer realm=\"gitweave\"");
    http_reply_error(r, 401, "unauthorized",
                     "this API needs the header \"Authorization: Bearer <token>\"");
    return false;
}

void
router_dispatch(http_req_t *r)
{
    const router_route_t *found = NULL;
    const char *params[HTTP_MAX_PARAMS];
    const char *names[HTTP_MAX_PARAMS];
    size_t nparams = 0;
    int methods = 0;
    char err[REQUEST_ERR_LEN];

    if (r->path_ok) {
        for (size_t i = 0; i < GW_ARRAY_LEN(router_routes); i++) {
            const router_route_t *rt = &router_routes[i];
            const char *p[HTTP_MAX_PARAMS], *nm[HTTP_MAX_PARAMS];
            size_t np;

            if (!router_match(rt->pattern, &r->path, p, nm, &np))
                continue;
            methods |= rt->method;
            if (found == NULL && rt->method == r->method_bit) {
                found = rt;
                nparams = np;
                for (size_t k = 0; k < np; k++) {
                    params[k] = p[k];
                    names[k] = nm[k];
                }
            }
        }
    }
    if (!r->path_ok) {
        http_reply_error(r, 400, "invalid path",
                         "the path is malformed (a bad percent-encoding, or too many segments)");
        return;
    }
    if (methods == 0) {
        http_reply_error(r, 404, "not found", "no such resource");
        return;
    }
    if (found == NULL) {
        router_reply_405(r, methods);
        return;
    }
    r->route = found->pattern;
    for (size_t i = 0; i < nparams; i++) {
        if (!router_param_ok(r, names[i], params[i]))
            return;
        r->params[i] = params[i];
    }
    if (request_query_parse(r->raw_query, &r->query, err, sizeof(err)) < 0) {
        http_reply_error(r, 400, "invalid query string", "%s", err);
        return;
    }
    found->fn(r);
}
