/*
 * engine_docker - jobs as containers, through the Docker Engine API (v1.41,
 * which Podman's Docker-compatible service speaks too) on a unix socket.
 *
 * A job is one container running `sh -e -c SCRIPT` (the image's entrypoint is
 * cleared) in /workspace, a bind mount of the job's workspace, labelled with
 * its job, run and runner. It is contained: no new privileges, a reduced
 * capability set (see docker_caps), a pids limit and, when configured, memory
 * and CPU limits and a user of its own. Its life, each step a request of its
 * own:
 *
 *   POST /containers/create
 *   POST /containers/{id}/attach?stream=1&stdout=1&stderr=1, and once its
 *        response has begun (the stream is attached, nothing can be missed):
 *   POST /containers/{id}/start
 *   POST /containers/{id}/wait, beside the attached stream
 *   DELETE /containers/{id}?force=1&v=1, once both have ended
 *   done(exit code from wait)
 *
 * The engine keeps no log of its own (LogConfig "none"): the output is read
 * from the attached stream only, so a job printing without end fills no disk,
 * and when the reader is slower than the job, the job waits. After the
 * container has exited, the stream gets DOCKER_ATTACH_DRAIN_MS to end (it
 * only holds what was in the pipes), so the end of a stopped job never waits
 * for its output. The stream arrives multiplexed (docker_frames); stderr is
 * joined to stdout inside the container, so lines keep their order.
 *
 * Images are never pulled: an image must already be present on the engine
 * (a pull policy can come later). A missing one fails the job with
 * `image "NAME" not found`, after a line saying so in the job's output; so
 * does every other failure to run the job, with exit code -1.
 *
 * Stop is POST /containers/{id}/stop?t=GRACE: the engine sends SIGTERM, waits
 * GRACE seconds and sends SIGKILL; done follows through wait. The container's
 * PID 1 is the engine's init (HostConfig.Init), which passes the TERM on to
 * the shell, so a script that does not trap it ends at once (143); one that
 * traps it gets the grace period, then the KILL (137). A job freed
 * before done has its container force-removed by a request the HTTP client
 * owns until it completes; containers that escape anyway (the worker died,
 * the engine was freed first) are found by engine_cleanup through their
 * runner label.
 */
#include "engine.h"

#include "docker_frames.h"
#include "docker_http.h"
#include "engine_internal.h"
#include "log.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <event2/event.h>
#include <event2/http.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#define DOCKER_API "/v1.41"
#define DOCKER_LABEL_JOB "io.gitweave.job"
#define DOCKER_LABEL_RUN "io.gitweave.run"
#define DOCKER_LABEL_RUNNER "io.gitweave.runner"
/* Idle time allowed on the connection of a short request (create, start,
 * remove); creating a container can take a while on a busy engine. */
#define DOCKER_SHORT_TIMEOUT_S 120
/* ... and of the long-lived ones (logs, wait), which are quiet while the job
 * is: longer than any job may run. */
#define DOCKER_LONG_TIMEOUT_S (30 * 24 * 3600)
/* How long the attached stream may go on after wait has returned (it holds
 * what was still in the pipes when the container exited); counted from
 * wait, not re-armed by output. */
#define DOCKER_ATTACH_DRAIN_MS 5000
/* The whole of engine_cleanup, which blocks. */
#define DOCKER_CLEANUP_TIMEOUT_MS 5000
/* How long a ping (before claiming work) may take. */
#define DOCKER_PING_TIMEOUT_MS 3000
/* The most of an unexpected response body quoted in an error. */
#define DOCKER_QUOTE_MAX 300

struct docker_job;

struct docker_engine {
    struct engine base;
    struct event_base *evbase;
    docker_http_t *http;
    char *host; /* "unix:///path", for messages */
    char *socket_path;
    char *default_image; /* NULL when there is none */
    char *runner_id;
    engine_docker_limits_t limits; /* user copied */
    struct docker_job *jobs; /* every job not yet freed, orphans included */
};

enum docker_job_state {
    DOCKER_JOB_CREATING,
    DOCKER_JOB_ATTACHING, /* attach sent, its response not begun */
    DOCKER_JOB_STARTING,
    DOCKER_JOB_RUNNING, /* attached stream and wait in flight */
    DOCKER_JOB_ENDING,  /* removing the container, then done */
};

struct docker_job {
    struct engine_job base;
    struct docker_engine *engine;
    struct docker_job *prev;
    struct docker_job *next;
    engine_callbacks_t cb;
    void *arg;

    char *job_id;
    char *run_id;
    char *image;
    char *container_id; /* after create */

    enum docker_job_state state;
    docker_req_t *create_req;
    docker_req_t *start_req;
    docker_req_t *attach_req;
    docker_req_t *wait_req;
    docker_req_t *remove_req;
    docker_frames_t *frames;
    struct event *drain_ev; /* gives up on the stream after wait returned */
    struct event *done_ev;  /* calls `done` from the loop */
    bool attach_ended;
    bool waited;
    bool stop_requested;
    int stop_grace;

    int exit_code;
    char *error;
    char *early_error; /* found by start, reported from the loop */
    bool done_called;
    bool in_output;      /* inside cb.output: a job_free there is deferred */
    bool free_requested; /* job_free was called from inside cb.output */
    bool orphan;         /* freed while create was in flight */
};

static struct event *
docker_event_new(struct event_base *base, event_callback_fn fn, void *arg)
{
    struct event *ev = event_new(base, -1, 0, fn, arg);

    if (ev == NULL) {
        /* Fails only when out of memory, which aborts like xmalloc does. */
        log_error("docker", "could not allocate an event");
        abort();
    }
    return ev;
}

static bool
docker_id_valid(const char *id)
{
    size_t n = 0;

    if (id == NULL)
        return false;
    for (; id[n]; n++)
        if (!isxdigit((unsigned char)id[n]))
            return false;
    return n >= 12 && n <= 128;
}

/* The engine's explanation of a failed request: the "message" of its JSON
 * body, else the body itself, else the status. The caller frees it. */
static char *
docker_message(const docker_http_result_t *res)
{
    cJSON *json;
    char *msg = NULL;

    if (res->error != NULL)
        return xstrdup(res->error);
    json = cJSON_ParseWithLength(res->body, res->body_len);
    if (json != NULL) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
        if (cJSON_IsString(m) && m->valuestring[0] != '\0')
            msg = xstrdup(m->valuestring);
        cJSON_Delete(json);
    }
    if (msg != NULL)
        return msg;
    size_t len = res->body_len;
    while (len > 0 && isspace((unsigned char)res->body[len - 1]))
        len--;
    if (len == 0)
        return xasprintf("HTTP status %d", res->status);
    if (len > DOCKER_QUOTE_MAX)
        len = DOCKER_QUOTE_MAX;
    return xasprintf("HTTP status %d: %.*s", res->status, (int)len, res->body);
}

/* What a request that got no response means for the job; the caller frees
 * it. */
static char *
docker_transport_error(const struct docker_engine *e, const docker_http_result_t *res)
{
    if (res->unreachable)
        return xasprintf("container engine unreachable at %s: %s", e->host, res->error);
    return xasprintf("no answer from the container engine at %s: %s", e->host, res->error);
}

/* --- the job's life --- */

static void docker_job_release(struct docker_job *j);
static void docker_job_end(struct docker_job *j);

static void
docker_job_unlink(struct docker_job *j)
{
    struct docker_engine *e = j->engine;

    if (j->prev != NULL)
        j->prev->next = j->next;
    else if (e->jobs == j)
        e->jobs = j->next;
    if (j->next != NULL)
        j->next->prev = j->prev;
    j->prev = j->next = NULL;
}

static void
docker_job_destroy(struct docker_job *j)
{
    docker_job_unlink(j);
    docker_http_cancel(j->create_req);
    docker_http_cancel(j->start_req);
    docker_http_cancel(j->attach_req);
    docker_http_cancel(j->wait_req);
    docker_http_cancel(j->remove_req);
    docker_frames_free(j->frames);
    if (j->drain_ev != NULL)
        event_free(j->drain_ev);
    if (j->done_ev != NULL)
        event_free(j->done_ev);
    free(j->job_id);
    free(j->run_id);
    free(j->image);
    free(j->container_id);
    free(j->error);
    free(j->early_error);
    free(j);
}

/* Send output to the job's callback. With may_release, a job_free from
 * inside the callback takes effect here and false is returned: j is gone.
 * Without, the caller must check j->free_requested itself. */
static bool
docker_job_emit(struct docker_job *j, const char *data, size_t len, bool may_release)
{
    j->in_output = true;
    j->cb.output(j->arg, data, len);
    j->in_output = false;
    if (j->free_requested && may_release) {
        docker_job_release(j);
        return false;
    }
    return true;
}

/* A line of our own in the job's output. Returns false when j is gone. */
static bool
docker_job_say(struct docker_job *j, const char *text)
{
    char *line = xasprintf("[gitweave] %s\n", text);
    bool alive = docker_job_emit(j, line, strlen(line), true);

    free(line);
    return alive;
}

static void docker_job_fail(struct docker_job *j, char *error, const char *say);

static void
docker_job_on_done(evutil_socket_t fd, short what, void *arg)
{
    struct docker_job *j = arg;
    void (*done)(void *, int, const char *) = j->cb.done;
    void *cbarg = j->arg;
    int code = j->exit_code;
    char *error;

    if (j->early_error != NULL) {
        /* Said in the output first, then back here through docker_job_end. */
        error = j->early_error;
        j->early_error = NULL;
        docker_job_fail(j, error, NULL);
        return;
    }
    /* Owned here, so that it stays valid even if `done` frees the job. */
    error = j->error;
    j->error = NULL;
    j->done_called = true;
    done(cbarg, code, error);
    free(error);
}

static void
docker_job_on_removed(void *arg, const docker_http_result_t *res)
{
    struct docker_job *j = arg;

    j->remove_req = NULL;
    if (res->error != NULL || (res->status / 100 != 2 && res->status != 404)) {
        char *msg = docker_message(res);
        log_warn("docker", "could not remove container %.12s, engine_cleanup will: %s job=%s",
                 j->container_id, msg, j->job_id);
        free(msg);
    }
    free(j->container_id);
    j->container_id = NULL;
    event_active(j->done_ev, EV_TIMEOUT, 0);
}

/* The job is over: remove its container (if any), then `done` with
 * j->exit_code and j->error. */
static void
docker_job_end(struct docker_job *j)
{
    j->state = DOCKER_JOB_ENDING;
    docker_http_cancel(j->attach_req);
    docker_http_cancel(j->wait_req);
    j->attach_req = j->wait_req = NULL;
    event_del(j->drain_ev);
    if (j->container_id == NULL) {
        event_active(j->done_ev, EV_TIMEOUT, 0);
        return;
    }
    char *path = xasprintf(DOCKER_API "/containers/%s?force=1&v=1", j->container_id);
    j->remove_req = docker_http_request(j->engine->http, DOCKER_HTTP_DELETE, path, NULL,
                                        DOCKER_SHORT_TIMEOUT_S, NULL, docker_job_on_removed, j);
    free(path);
}

/* End the job with -1 and error (taken over), after a line in its output
 * (say, or else the error itself). */
static void
docker_job_fail(struct docker_job *j, char *error, const char *say)
{
    free(j->error);
    j->error = error;
    j->exit_code = -1;
    if (!docker_job_say(j, say != NULL ? say : error))
        return;
    docker_job_end(j);
}

static void
docker_job_send_stop(struct docker_job *j)
{
    char *path = xasprintf(DOCKER_API "/containers/%s/stop?t=%d", j->container_id, j->stop_grace);

    log_debug("docker", "stopping container %.12s grace=%d job=%s", j->container_id, j->stop_grace,
              j->job_id);
    /* Fire and forget: the end of the job comes through wait. */
    docker_http_request(j->engine->http, DOCKER_HTTP_POST, path, NULL,
                        j->stop_grace + DOCKER_SHORT_TIMEOUT_S, NULL, NULL, NULL);
    free(path);
}

/* Start the wait for the end of the attached stream, once. */
static void
docker_job_arm_drain(struct docker_job *j)
{
    struct timeval tv = {DOCKER_ATTACH_DRAIN_MS / 1000, (DOCKER_ATTACH_DRAIN_MS % 1000) * 1000};

    if (!evtimer_pending(j->drain_ev, NULL))
        evtimer_add(j->drain_ev, &tv);
}

static void
docker_job_maybe_end(struct docker_job *j)
{
    if (j->attach_ended && j->waited)
        docker_job_end(j);
    else if (j->waited)
        docker_job_arm_drain(j);
}

static void
docker_job_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct docker_job *j = arg;

    log_warn("docker",
             "the output stream of container %.12s did not end %d ms after it exited job=%s",
             j->container_id, DOCKER_ATTACH_DRAIN_MS, j->job_id);
    docker_http_cancel(j->attach_req);
    j->attach_req = NULL;
    j->attach_ended = true;
    docker_job_maybe_end(j);
}

static void
docker_job_on_frame(void *arg, int stream, const char *data, size_t len)
{
    struct docker_job *j = arg;

    if (stream == DOCKER_STREAM_STDIN || j->free_requested)
        return;
    docker_job_emit(j, data, len, false);
}

static void docker_job_send_start(struct docker_job *j);

/* Stopped before its container started: end it without starting it. */
static void
docker_job_end_unstarted(struct docker_job *j)
{
    free(j->error);
    j->error = xstrdup("stopped before the container started");
    j->exit_code = -1;
    docker_job_end(j);
}

static void
docker_job_on_attach_chunk(void *arg, const char *data, size_t len)
{
    struct docker_job *j = arg;

    if (len == 0) {
        /* The response has begun: the stream is attached. */
        if (j->state == DOCKER_JOB_ATTACHING)
            docker_job_send_start(j);
        return;
    }
    docker_frames_feed(j->frames, data, len);
    if (j->free_requested)
        docker_job_release(j);
}

static void
docker_job_on_attach(void *arg, const docker_http_result_t *res)
{
    struct docker_job *j = arg;

    j->attach_req = NULL;
    j->attach_ended = true;
    if (j->state == DOCKER_JOB_ATTACHING) {
        /* Never attached, so never started. */
        char *msg =
            res->error != NULL ? docker_transport_error(j->engine, res) : docker_message(res);
        char *error = xasprintf("could not attach to the container: %s", msg);
        free(msg);
        log_warn("docker", "%s job=%s", error, j->job_id);
        docker_job_fail(j, error, NULL);
        return;
    }
    if (res->status / 100 != 2 || res->error != NULL) {
        char *msg = docker_message(res);
        log_warn("docker", "could not read the output of container %.12s: %s job=%s",
                 j->container_id, msg, j->job_id);
        char *say = xasprintf("could not read the output of the job: %s", msg);
        bool alive = docker_job_say(j, say);
        free(say);
        free(msg);
        if (!alive)
            return;
    } else if (docker_frames_partial(j->frames)) {
        log_warn("docker", "the output stream of container %.12s ended inside a frame job=%s",
                 j->container_id, j->job_id);
    }
    if (docker_frames_raw(j->frames))
        log_warn("docker", "the output stream of container %.12s was not multiplexed job=%s",
                 j->container_id, j->job_id);
    docker_job_maybe_end(j);
}

static void
docker_job_on_wait(void *arg, const docker_http_result_t *res)
{
    struct docker_job *j = arg;
    cJSON *json = NULL;
    const cJSON *code, *err, *msg;

    j->wait_req = NULL;
    j->waited = true;
    if (res->status == 200)
        json = cJSON_ParseWithLength(res->body, res->body_len);
    code = cJSON_GetObjectItemCaseSensitive(json, "StatusCode");
    if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 256) {
        j->exit_code = code->valueint;
        err = cJSON_GetObjectItemCaseSensitive(json, "Error");
        msg = cJSON_GetObjectItemCaseSensitive(err, "Message");
        if (cJSON_IsString(msg) && msg->valuestring[0] != '\0')
            log_warn("docker", "waiting for container %.12s: %s job=%s", j->container_id,
                     msg->valuestring, j->job_id);
        log_debug("docker", "container %.12s exited with %d job=%s", j->container_id, j->exit_code,
                  j->job_id);
    } else {
        char *why =
            res->error != NULL ? docker_transport_error(j->engine, res) : docker_message(res);
        char *error = xasprintf("lost the container: %s", why);
        free(why);
        log_warn("docker", "%s job=%s", error, j->job_id);
        cJSON_Delete(json);
        docker_job_fail(j, error, NULL);
        return;
    }
    cJSON_Delete(json);
    docker_job_maybe_end(j);
}

static void
docker_job_on_start(void *arg, const docker_http_result_t *res)
{
    struct docker_job *j = arg;
    char *path;

    j->start_req = NULL;
    /* 304: already started, which is as good. */
    if (res->status != 204 && res->status != 304) {
        char *msg =
            res->error != NULL ? docker_transport_error(j->engine, res) : docker_message(res);
        if (res->error != NULL)
            log_warn("docker", "%s job=%s", msg, j->job_id);
        char *error = xasprintf("could not start the container: %s", msg);
        free(msg);
        docker_job_fail(j, error, NULL);
        return;
    }
    j->state = DOCKER_JOB_RUNNING;
    path = xasprintf(DOCKER_API "/containers/%s/wait", j->container_id);
    j->wait_req = docker_http_request(j->engine->http, DOCKER_HTTP_POST, path, NULL,
                                      DOCKER_LONG_TIMEOUT_S, NULL, docker_job_on_wait, j);
    free(path);
    if (j->stop_requested)
        docker_job_send_stop(j);
}

static void
docker_job_on_create(void *arg, const docker_http_result_t *res)
{
    struct docker_job *j = arg;
    cJSON *json = NULL;
    const cJSON *id;
    char *path;

    j->create_req = NULL;
    if (res->status == 201) {
        json = cJSON_ParseWithLength(res->body, res->body_len);
        id = cJSON_GetObjectItemCaseSensitive(json, "Id");
        if (cJSON_IsString(id) && docker_id_valid(id->valuestring))
            j->container_id = xstrdup(id->valuestring);
        cJSON_Delete(json);
    }

    if (j->orphan) {
        /* Freed while this was in flight: the container is nobody's. */
        if (j->container_id != NULL) {
            path = xasprintf(DOCKER_API "/containers/%s?force=1&v=1", j->container_id);
            docker_http_request(j->engine->http, DOCKER_HTTP_DELETE, path, NULL,
                                DOCKER_SHORT_TIMEOUT_S, NULL, NULL, NULL);
            free(path);
        }
        docker_job_destroy(j);
        return;
    }

    if (res->error != NULL) {
        char *error = docker_transport_error(j->engine, res);
        log_warn("docker", "%s job=%s", error, j->job_id);
        docker_job_fail(j, error, NULL);
        return;
    }
    if (res->status == 404) {
        /* The only thing create can miss is the image. */
        char *say = xasprintf("image \"%s\" not found on the container engine", j->image);
        docker_job_fail(j, xasprintf("image \"%s\" not found", j->image), say);
        free(say);
        return;
    }
    if (j->container_id == NULL) {
        char *msg =
            res->status == 201 ? xstrdup("the response has no container id") : docker_message(res);
        docker_job_fail(j, xasprintf("could not create the container: %s", msg), NULL);
        free(msg);
        return;
    }
    log_debug("docker", "created container %.12s job=%s", j->container_id, j->job_id);
    if (j->stop_requested) {
        docker_job_end_unstarted(j);
        return;
    }
    /* Attached before it starts, so that no output is missed: the engine
     * keeps none to read later. */
    j->state = DOCKER_JOB_ATTACHING;
    path = xasprintf(DOCKER_API "/containers/%s/attach?stream=1&stdout=1&stderr=1",
                     j->container_id);
    j->attach_req =
        docker_http_request(j->engine->http, DOCKER_HTTP_POST, path, NULL, DOCKER_LONG_TIMEOUT_S,
                            docker_job_on_attach_chunk, docker_job_on_attach, j);
    free(path);
}

/* The stream is attached: start the container (or end a stopped job). */
static void
docker_job_send_start(struct docker_job *j)
{
    char *path;

    if (j->stop_requested) {
        docker_job_end_unstarted(j);
        return;
    }
    j->state = DOCKER_JOB_STARTING;
    path = xasprintf(DOCKER_API "/containers/%s/start", j->container_id);
    j->start_req = docker_http_request(j->engine->http, DOCKER_HTTP_POST, path, NULL,
                                       DOCKER_SHORT_TIMEOUT_S, NULL, docker_job_on_start, j);
    free(path);
}

/*
 * The capabilities a job keeps: Docker's default set without MKNOD (device
 * nodes in the bind-mounted workspace), NET_RAW (forged packets), SETFCAP,
 * AUDIT_WRITE and SYS_CHROOT. What remains lets a root job manage files and
 * users inside its container (package managers need that).
 */
static const char *const docker_caps[] = {"CHOWN",  "DAC_OVERRIDE", "FOWNER", "FSETID",
                                          "KILL",   "SETGID",       "SETUID", "NET_BIND_SERVICE",
                                          NULL};

char *
engine_docker_create_body(const engine_job_spec_t *spec, const char *image,
                          const char *runner_id, const engine_docker_limits_t *limits)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr, *obj, *host;
    char *bind, *text;

    cJSON_AddStringToObject(root, "Image", image);
    /* Cleared, so that the job is `sh -e -c SCRIPT` whatever the image's
     * ENTRYPOINT: [""] resets it (an absent one would keep the image's). */
    arr = cJSON_AddArrayToObject(root, "Entrypoint");
    cJSON_AddItemToArray(arr, cJSON_CreateString(""));
    /* `sh -e -c SCRIPT` with stderr joined to stdout inside the container:
     * the engine carries the two streams separately, and lines written to
     * both within a few milliseconds could otherwise swap in the log. The
     * outer shell only sets up the redirection, so the script's own line
     * numbers stay as written. */
    arr = cJSON_AddArrayToObject(root, "Cmd");
    cJSON_AddItemToArray(arr, cJSON_CreateString("sh"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("-c"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("exec sh -e -c \"$1\" 2>&1"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("sh"));
    cJSON_AddItemToArray(arr, cJSON_CreateString(spec->script != NULL ? spec->script : ""));
    arr = cJSON_AddArrayToObject(root, "Env");
    for (const char *const *p = spec->env; p != NULL && *p != NULL; p++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(*p));
    cJSON_AddStringToObject(root, "WorkingDir", "/workspace");
    if (limits->user != NULL && limits->user[0] != '\0')
        cJSON_AddStringToObject(root, "User", limits->user);
    obj = cJSON_AddObjectToObject(root, "Labels");
    cJSON_AddStringToObject(obj, DOCKER_LABEL_JOB, spec->job_id != NULL ? spec->job_id : "");
    cJSON_AddStringToObject(obj, DOCKER_LABEL_RUN, spec->run_id != NULL ? spec->run_id : "");
    cJSON_AddStringToObject(obj, DOCKER_LABEL_RUNNER, runner_id);
    cJSON_AddBoolToObject(root, "Tty", false);
    cJSON_AddBoolToObject(root, "OpenStdin", false);
    cJSON_AddBoolToObject(root, "AttachStdin", false);
    cJSON_AddBoolToObject(root, "AttachStdout", true);
    cJSON_AddBoolToObject(root, "AttachStderr", true);
    host = cJSON_AddObjectToObject(root, "HostConfig");
    arr = cJSON_AddArrayToObject(host, "Binds");
    bind = xasprintf("%s:/workspace", spec->workspace != NULL ? spec->workspace : "");
    cJSON_AddItemToArray(arr, cJSON_CreateString(bind));
    free(bind);
    /* Removed by us after its output was read, never by the engine. */
    cJSON_AddBoolToObject(host, "AutoRemove", false);
    /* The engine's init (docker-init, tini) as PID 1: it forwards TERM to
     * the shell, which, unlike a PID 1, dies of it unless the script traps
     * it; so a stop ends a job at once, not after the grace period. It also
     * reaps the job's orphaned processes. */
    cJSON_AddBoolToObject(host, "Init", true);
    /* The output is read through attach only: nothing kept on the engine's
     * disk, however much a job prints. */
    obj = cJSON_AddObjectToObject(host, "LogConfig");
    cJSON_AddStringToObject(obj, "Type", "none");
    cJSON_AddObjectToObject(obj, "Config");
    arr = cJSON_AddArrayToObject(host, "SecurityOpt");
    cJSON_AddItemToArray(arr, cJSON_CreateString("no-new-privileges"));
    arr = cJSON_AddArrayToObject(host, "CapDrop");
    cJSON_AddItemToArray(arr, cJSON_CreateString("ALL"));
    arr = cJSON_AddArrayToObject(host, "CapAdd");
    for (const char *const *c = docker_caps; *c != NULL; c++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(*c));
    if (limits->pids_limit > 0)
        cJSON_AddNumberToObject(host, "PidsLimit", limits->pids_limit);
    if (limits->memory > 0) {
        /* Swap as much as memory: no swap beyond the limit. */
        cJSON_AddNumberToObject(host, "Memory", (double)limits->memory);
        cJSON_AddNumberToObject(host, "MemorySwap", (double)limits->memory);
    }
    if (limits->nano_cpus > 0)
        cJSON_AddNumberToObject(host, "NanoCpus", (double)limits->nano_cpus);

    text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (text == NULL) {
        log_error("docker", "could not serialize a request");
        abort();
    }
    /* One allocator for the caller: cJSON's may not be malloc. */
    char *copy = xstrdup(text);
    cJSON_free(text);
    return copy;
}

static char *
docker_dup_or_empty(const char *s)
{
    return xstrdup(s != NULL ? s : "");
}

static engine_job_t *
docker_start(engine_t *eng, const engine_job_spec_t *spec, const engine_callbacks_t *cb, void *arg)
{
    struct docker_engine *e = (struct docker_engine *)eng;
    struct docker_job *j = xcalloc(1, sizeof(*j));
    const char *workspace = spec->workspace != NULL ? spec->workspace : "";
    char *body;

    j->engine = e;
    j->cb = *cb;
    j->arg = arg;
    j->job_id = docker_dup_or_empty(spec->job_id);
    j->run_id = docker_dup_or_empty(spec->run_id);
    if (spec->image != NULL && spec->image[0] != '\0')
        j->image = xstrdup(spec->image);
    else if (e->default_image != NULL)
        j->image = xstrdup(e->default_image);
    j->exit_code = -1;
    j->state = DOCKER_JOB_CREATING;
    j->frames = docker_frames_new(docker_job_on_frame, j);
    j->drain_ev = docker_event_new(e->evbase, docker_job_on_drain_timeout, j);
    j->done_ev = docker_event_new(e->evbase, docker_job_on_done, j);
    j->next = e->jobs;
    if (e->jobs != NULL)
        e->jobs->prev = j;
    e->jobs = j;

    /* Failures here go through the loop like all others: `done` must not
     * be called from inside start. */
    if (j->image == NULL) {
        j->early_error = xstrdup("the job names no image and the engine has no default image");
        event_active(j->done_ev, EV_TIMEOUT, 0);
        return &j->base;
    }
    if (workspace[0] != '/' || strchr(workspace, ':') != NULL) {
        j->early_error =
            xasprintf("workspace \"%s\" cannot be bind-mounted: it must be an absolute "
                      "path without ':'",
                      workspace);
        event_active(j->done_ev, EV_TIMEOUT, 0);
        return &j->base;
    }
    body = engine_docker_create_body(spec, j->image, e->runner_id, &e->limits);
    j->create_req =
        docker_http_request(e->http, DOCKER_HTTP_POST, DOCKER_API "/containers/create", body,
                            DOCKER_SHORT_TIMEOUT_S, NULL, docker_job_on_create, j);
    free(body);
    return &j->base;
}

static void
docker_stop(engine_job_t *job, int grace_seconds)
{
    struct docker_job *j = (struct docker_job *)job;

    if (j->done_called || j->state == DOCKER_JOB_ENDING || j->waited)
        return;
    if (grace_seconds < 0)
        grace_seconds = 0;
    if (!j->stop_requested || grace_seconds < j->stop_grace)
        j->stop_grace = grace_seconds;
    j->stop_requested = true;
    /* Before that, create or start looks at stop_requested when it ends. */
    if (j->state == DOCKER_JOB_RUNNING)
        docker_job_send_stop(j);
}

/* Free the job now; before done, its container is force-removed by a
 * request the HTTP client owns. */
static void
docker_job_release(struct docker_job *j)
{
    if (!j->done_called && j->container_id != NULL) {
        char *path = xasprintf(DOCKER_API "/containers/%s?force=1&v=1", j->container_id);
        log_debug("docker", "removing container %.12s of a freed job job=%s", j->container_id,
                  j->job_id);
        docker_http_request(j->engine->http, DOCKER_HTTP_DELETE, path, NULL, DOCKER_SHORT_TIMEOUT_S,
                            NULL, NULL, NULL);
        free(path);
    }
    if (j->create_req != NULL) {
        /* The container's id comes with the response: keep the job (without
         * callbacks or events) until then; see docker_job_on_create. */
        j->orphan = true;
        docker_http_cancel(j->start_req);
        docker_http_cancel(j->attach_req);
        docker_http_cancel(j->wait_req);
        docker_http_cancel(j->remove_req);
        j->start_req = j->attach_req = j->wait_req = j->remove_req = NULL;
        event_del(j->done_ev);
        event_del(j->drain_ev);
        return;
    }
    docker_job_destroy(j);
}

static void
docker_job_free(engine_job_t *job)
{
    struct docker_job *j = (struct docker_job *)job;

    if (j->in_output) {
        /* Freed from inside cb.output: the emitting code finishes first. */
        j->free_requested = true;
        return;
    }
    docker_job_release(j);
}

/* --- engine_cleanup: blocking, on a private event base --- */

struct docker_sync {
    int *pending;
    struct event_base *base;
    bool finished;
    int status;
    char *body;
    char *error;
    bool unreachable;
};

static void
docker_sync_done(void *arg, const docker_http_result_t *res)
{
    struct docker_sync *s = arg;

    s->finished = true;
    s->status = res->status;
    s->body = xstrndup(res->body, res->body_len);
    s->error = res->error != NULL ? xstrdup(res->error) : NULL;
    s->unreachable = res->unreachable;
    if (--*s->pending == 0)
        event_base_loopbreak(s->base);
}

static void
docker_sync_timeout(evutil_socket_t fd, short what, void *arg)
{
    event_base_loopbreak(arg);
}

/* Run base until *pending is 0 or the deadline (gw_now_ms) has passed. */
static void
docker_sync_run(struct event_base *base, const int *pending, int64_t deadline)
{
    struct event *timer = evtimer_new(base, docker_sync_timeout, base);
    int64_t left = deadline - gw_now_ms();

    if (timer == NULL) {
        log_error("docker", "could not allocate an event");
        abort();
    }
    if (*pending > 0 && left > 0) {
        struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
        evtimer_add(timer, &tv);
        event_base_dispatch(base);
    }
    event_free(timer);
}

static bool
docker_id_listed(const char *id, const char *const *ids)
{
    for (; ids != NULL && *ids != NULL; ids++)
        if (strcmp(*ids, id) == 0)
            return true;
    return false;
}

/* GET /containers/json?all=1&filters={"label":["io.gitweave.runner=ID"]} */
static char *
docker_cleanup_list_path(const struct docker_engine *e)
{
    cJSON *filters = cJSON_CreateObject();
    cJSON *labels = cJSON_AddArrayToObject(filters, "label");
    char *label = xasprintf(DOCKER_LABEL_RUNNER "=%s", e->runner_id);
    char *json, *encoded, *path;

    cJSON_AddItemToArray(labels, cJSON_CreateString(label));
    free(label);
    json = cJSON_PrintUnformatted(filters);
    cJSON_Delete(filters);
    encoded = json != NULL ? evhttp_uriencode(json, -1, 0) : NULL;
    cJSON_free(json);
    if (encoded == NULL) {
        log_error("docker", "could not encode a request");
        abort();
    }
    path = xasprintf(DOCKER_API "/containers/json?all=1&filters=%s", encoded);
    free(encoded);
    return path;
}

static int
docker_cleanup(engine_t *eng, const char *const *live_job_ids)
{
    struct docker_engine *e = (struct docker_engine *)eng;
    int64_t deadline = gw_now_ms() + DOCKER_CLEANUP_TIMEOUT_MS;
    struct event_base *base = event_base_new();
    docker_http_t *http = NULL;
    struct docker_sync list = {0};
    struct docker_sync *removes = NULL;
    char **ids = NULL;
    cJSON *json = NULL;
    const cJSON *c;
    int pending = 1, n, count = 0, removed = -1;
    char *path = NULL;

    if (base == NULL) {
        log_error("docker", "could not create an event base for the cleanup");
        goto fail;
    }
    http = docker_http_new(base, e->socket_path);
    path = docker_cleanup_list_path(e);
    list.pending = &pending;
    list.base = base;
    docker_http_request(http, DOCKER_HTTP_GET, path, NULL, DOCKER_CLEANUP_TIMEOUT_MS / 1000, NULL,
                        docker_sync_done, &list);
    docker_sync_run(base, &pending, deadline);
    if (!list.finished || list.status != 200) {
        if (!list.finished)
            log_warn("docker", "cleanup: no answer from the container engine at %s in time",
                     e->host);
        else if (list.error != NULL)
            log_warn("docker", "cleanup: container engine %s at %s: %s",
                     list.unreachable ? "unreachable" : "did not answer", e->host, list.error);
        else
            log_warn("docker", "cleanup: listing containers failed: HTTP %d %.200s", list.status,
                     list.body);
        goto fail;
    }
    json = cJSON_Parse(list.body);
    if (!cJSON_IsArray(json)) {
        log_warn("docker", "cleanup: the container list is not a JSON array");
        goto fail;
    }

    n = cJSON_GetArraySize(json);
    ids = xcalloc((size_t)n + 1, sizeof(char *));
    removes = xcalloc((size_t)n + 1, sizeof(*removes));
    pending = 0;
    cJSON_ArrayForEach(c, json)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "Id");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "Labels");
        const cJSON *job = cJSON_GetObjectItemCaseSensitive(labels, DOCKER_LABEL_JOB);
        const cJSON *runner = cJSON_GetObjectItemCaseSensitive(labels, DOCKER_LABEL_RUNNER);

        if (!cJSON_IsString(id) || !docker_id_valid(id->valuestring))
            continue;
        /* The engine filtered already; this only guards against one that
         * ignores filters. */
        if (!cJSON_IsString(runner) || strcmp(runner->valuestring, e->runner_id) != 0)
            continue;
        if (cJSON_IsString(job) && docker_id_listed(job->valuestring, live_job_ids))
            continue;
        ids[count] = xstrdup(id->valuestring);
        removes[count].pending = &pending;
        removes[count].base = base;
        free(path);
        path = xasprintf(DOCKER_API "/containers/%s?force=1&v=1", ids[count]);
        docker_http_request(http, DOCKER_HTTP_DELETE, path, NULL, DOCKER_CLEANUP_TIMEOUT_MS / 1000,
                            NULL, docker_sync_done, &removes[count]);
        log_info("docker", "removing leftover container %.12s job=%s", ids[count],
                 cJSON_IsString(job) ? job->valuestring : "");
        count++;
        pending++;
    }
    docker_sync_run(base, &pending, deadline);
    removed = 0;
    for (int i = 0; i < count; i++) {
        if (removes[i].finished && removes[i].status / 100 == 2)
            removed++;
        else if (!removes[i].finished)
            log_warn("docker", "cleanup: removing container %.12s took too long", ids[i]);
        else if (removes[i].status != 404)
            log_warn("docker", "cleanup: could not remove container %.12s: %s", ids[i],
                     removes[i].error != NULL ? removes[i].error : removes[i].body);
    }

fail:
    /* Drops whatever is still in flight. */
    docker_http_free(http);
    if (base != NULL)
        event_base_free(base);
    for (int i = 0; i < count; i++) {
        free(ids[i]);
        free(removes[i].body);
        free(removes[i].error);
    }
    free(ids);
    free(removes);
    cJSON_Delete(json);
    free(list.body);
    free(list.error);
    free(path);
    return removed;
}

/* GET /_ping on a private event base: whether the engine answers at all. */
static int
docker_ping(engine_t *eng, char **problem)
{
    struct docker_engine *e = (struct docker_engine *)eng;
    struct event_base *base = event_base_new();
    struct docker_sync ping = {0};
    int pending = 1, rc = -1;

    if (base == NULL) {
        *problem = xstrdup("could not create an event base");
        return -1;
    }
    docker_http_t *http = docker_http_new(base, e->socket_path);
    ping.pending = &pending;
    ping.base = base;
    docker_http_request(http, DOCKER_HTTP_GET, "/_ping", NULL, DOCKER_PING_TIMEOUT_MS / 1000 + 1,
                        NULL, docker_sync_done, &ping);
    docker_sync_run(base, &pending, gw_now_ms() + DOCKER_PING_TIMEOUT_MS);
    if (!ping.finished)
        *problem = xasprintf("container engine at %s did not answer in time", e->host);
    else if (ping.status == 200)
        rc = 0;
    else if (ping.error != NULL)
        *problem = xasprintf("container engine %s at %s: %s",
                             ping.unreachable ? "unreachable" : "did not answer", e->host,
                             ping.error);
    else
        *problem = xasprintf("container engine at %s answered HTTP %d to a ping", e->host,
                             ping.status);
    docker_http_free(http);
    event_base_free(base);
    free(ping.body);
    free(ping.error);
    return rc;
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
    .start = docker_start,
    .stop = docker_stop,
    .job_free = docker_job_free,
    .cleanup = docker_cleanup,
    .destroy = docker_destroy,
    .ping = docker_ping,
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
    e->base.ops = &docker_ops;
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
