/*
 * engine_docker - jobs as containers, through the Docker Engine API (v1.41,
 * which Podman's Docker-compatible service speaks too) on a unix socket.
 *
 * Three files: docker_api.c builds the requests and reads the responses
 * (pure functions), docker_job.c is a job's life, one request after the
 * other, and this file the engine as a whole: its ops, its HTTP client
 * (docker_http) and the questions asked of the engine, each an ordinary
 * request on the caller's loop:
 *
 *   ping     GET /_ping (DOCKER_PING_TIMEOUT_S), before taking runs
 *   cleanup  GET /containers/json filtered by the runner's label, then
 *            DELETE /containers/{id}?force=1&v=1 for each container that
 *            belongs to no live job: what a job freed too late, or a worker
 *            that died, left behind
 *
 * Images are never pulled: an image must already be present on the engine
 * (a pull policy can come later).
 */
#include "engine.h"

#include "docker_api.h"
#include "engine_docker_internal.h"
#include "log.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

/* The engine's explanation of a failed request; the caller frees it. */
char *
docker_message(const docker_http_result_t *res)
{
    if (res->error != NULL)
        return xstrdup(res->error);
    return docker_api_message(res->status, res->body, res->body_len);
}

/* What a request that got no response means for the job; the caller frees
 * it. */
char *
docker_transport_error(const struct docker_engine *e, const docker_http_result_t *res)
{
    if (res->unreachable)
        return xasprintf("container engine unreachable at %s: %s", e->host, res->error);
    return xasprintf("no answer from the container engine at %s: %s", e->host, res->error);
}

static void
docker_on_ping(void *arg, const docker_http_result_t *res)
{
    engine_call_t *c = arg;
    struct docker_engine *e = (struct docker_engine *)engine_call_engine(c);
    char *problem = NULL;

    if (res->error != NULL)
        problem =
            xasprintf("container engine %s at %s: %s",
                      res->unreachable ? "unreachable" : "did not answer", e->host, res->error);
    else if (res->status != 200)
        problem =
            xasprintf("container engine at %s answered HTTP %d to a ping", e->host, res->status);
    engine_call_ping_done(c, problem);
    free(problem);
}

/* GET /_ping: whether the engine answers at all. */
static void
docker_ping(engine_t *eng, engine_call_t *c)
{
    struct docker_engine *e = (struct docker_engine *)eng;

    docker_http_request(e->http, DOCKER_HTTP_GET, DOCKER_PATH_PING, NULL, DOCKER_PING_TIMEOUT_S,
                        NULL, docker_on_ping, c);
}

static void
docker_on_leftover_removed(void *arg, const docker_http_result_t *res)
{
    engine_call_t *c = arg;

    if (res->status / 100 != 2 && res->status != 404) {
        /* The engine's message names the container. */
        char *msg = docker_message(res);
        log_warn("docker", "cleanup: could not remove a container: %s", msg);
        free(msg);
    }
    engine_call_cleanup_one(c, res->status / 100 == 2);
}

static void
docker_on_leftovers(void *arg, const docker_http_result_t *res)
{
    engine_call_t *c = arg;
    struct docker_engine *e = (struct docker_engine *)engine_call_engine(c);
    char **asked = engine_call_live(c);
    const char **live;
    char **ids = NULL;
    size_t n = 0;

    /* Besides the ids the caller named, every job of this engine counts as
     * live: one may have been created while the list was on its way. */
    for (char **p = asked; p != NULL && *p != NULL; p++)
        n++;
    for (struct docker_job *j = e->jobs; j != NULL; j = j->next)
        n++;
    live = xcalloc(n + 1, sizeof(*live));
    n = 0;
    for (char **p = asked; p != NULL && *p != NULL; p++)
        live[n++] = *p;
    for (struct docker_job *j = e->jobs; j != NULL; j = j->next)
        live[n++] = j->job_id;

    if (res->error != NULL) {
        log_warn("docker", "cleanup: container engine %s at %s: %s",
                 res->unreachable ? "unreachable" : "did not answer", e->host, res->error);
    } else if (res->status != 200) {
        log_warn("docker", "cleanup: listing containers failed: HTTP %d %.200s", res->status,
                 res->body);
    } else {
        ids = docker_api_leftovers(res->body, res->body_len, e->runner_id, live);
        if (ids == NULL)
            log_warn("docker", "cleanup: the container list is not a JSON array");
    }
    free(live);
    if (ids == NULL) {
        engine_call_cleanup_done(c, true);
        return;
    }
    for (char **id = ids; *id != NULL; id++) {
        char *path = docker_api_remove_path(*id);
        log_info("docker", "removing leftover container %.12s", *id);
        engine_call_cleanup_more(c);
        docker_http_request(e->http, DOCKER_HTTP_DELETE, path, NULL, DOCKER_CLEANUP_TIMEOUT_S, NULL,
                            docker_on_leftover_removed, c);
        free(path);
    }
    docker_api_ids_free(ids);
    engine_call_cleanup_done(c, false);
}

/* List the runner's containers, then remove those of no live job. */
static void
docker_cleanup(engine_t *eng, const char *const *live_job_ids, engine_call_t *c)
{
    struct docker_engine *e = (struct docker_engine *)eng;
    char *path = docker_api_list_path(e->runner_id);

    engine_call_keep_live(c, live_job_ids);
    docker_http_request(e->http, DOCKER_HTTP_GET, path, NULL, DOCKER_CLEANUP_TIMEOUT_S, NULL,
                        docker_on_leftovers, c);
    free(path);
}

static void
docker_destroy(engine_t *eng)
{
    struct docker_engine *e = (struct docker_engine *)eng;

    /* Jobs the caller did not free, and orphans still waiting for create. */
    while (e->jobs != NULL)
        docker_job_destroy(e->jobs);
    docker_http_free(e->http);
    free(e->host);
    free(e->socket_path);
    free(e->default_image);
    free(e->runner_id);
    free((char *)e->limits.user);
    free(e);
}

static const engine_ops_t docker_ops = {
    .name = "docker",
    .start = docker_job_start,
    .stop = docker_job_stop,
    .job_release = docker_job_release,
    .job_destroy = docker_job_reap,
    .ping = docker_ping,
    .cleanup = docker_cleanup,
    .destroy = docker_destroy,
};

/*
 * A new docker engine driven by base (borrowed; it must outlive the engine
 * and its jobs). docker_host must be "unix:///absolute/path"; default_image
 * (may be NULL) serves jobs that name none; runner_id labels the containers
 * and scopes engine_cleanup; limits (copied; NULL: none) apply to every job
 * container. Nothing is contacted here: an unreachable engine
 * fails the jobs (and engine_cleanup returns -1). Returns NULL with *err set
 * (the caller frees it) on bad arguments. Free with engine_free after
 * freeing its jobs.
 */
engine_t *
engine_docker_new(struct event_base *base, const char *docker_host, const char *default_image,
                  const char *runner_id, const engine_docker_limits_t *limits, char **err)
{
    static const char scheme[] = "unix://";
    struct docker_engine *e;
    const char *path;

    *err = NULL;
    if (base == NULL) {
        *err = xstrdup("no event base");
        return NULL;
    }
    if (docker_host == NULL || strncmp(docker_host, scheme, strlen(scheme)) != 0) {
        *err = xasprintf("unsupported docker host \"%s\": only unix:///path/to/socket is "
                         "supported",
                         docker_host != NULL ? docker_host : "");
        return NULL;
    }
    path = docker_host + strlen(scheme);
    if (path[0] != '/') {
        *err = xasprintf("bad docker host \"%s\": the socket path must be absolute, as in "
                         "unix:///var/run/docker.sock",
                         docker_host);
        return NULL;
    }
    if (strlen(path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path)) {
        *err = xasprintf("bad docker host \"%s\": the socket path is too long", docker_host);
        return NULL;
    }
    if (runner_id == NULL || runner_id[0] == '\0') {
        *err = xstrdup("the docker engine needs a runner id to label its containers");
        return NULL;
    }

    e = xcalloc(1, sizeof(*e));
    engine_init(&e->base, &docker_ops, base);
    e->evbase = base;
    e->host = xstrdup(docker_host);
    e->socket_path = xstrdup(path);
    e->http = docker_http_new(base, e->socket_path);
    if (default_image != NULL && default_image[0] != '\0')
        e->default_image = xstrdup(default_image);
    e->runner_id = xstrdup(runner_id);
    if (limits != NULL) {
        e->limits = *limits;
        e->limits.user = limits->user != NULL ? xstrdup(limits->user) : NULL;
    }
    return &e->base;
}
