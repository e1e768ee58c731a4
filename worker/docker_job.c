/*
 * docker_job - the life of one job of the docker engine (engine_docker.c).
 *
 * A job is one container running `sh -e -c SCRIPT` (the image's entrypoint is
 * cleared) in /workspace, a bind mount of the job's workspace, labelled with
 * its job, run and runner. It is contained: no new privileges, a reduced
 * capability set (see docker_api.c), a pids limit and, when configured, memory
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
 * joined to stdout inside the container, so lines keep their order, and the
 * container's stderr is the shell's descriptor 3: its lines are the step
 * reports (`marks`), never output. What else reaches stderr was written
 * before the shell ran (the engine's init: "exec sh failed"), and is output.
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
 *
 * A job freed from inside its own output callback is still in memory when
 * the callback returns (engine_internal.h): every place that calls back
 * looks at base.released afterwards and stops.
 */
#include "docker_api.h"
#include "engine_docker_internal.h"
#include "log.h"
#include "util.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

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

void
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

/* Send output to the job's callback. Returns false when the caller freed
 * the job from in there (its memory stays until the next loop turn). */
static bool
docker_job_emit(struct docker_job *j, const char *data, size_t len)
{
    j->cb.output(j->arg, data, len);
    return !j->base.released;
}

/* A line of our own in the job's output. Returns false when j was freed. */
static bool
docker_job_say(struct docker_job *j, const char *text)
{
    char *line = xasprintf("[gitweave] %s\n", text);
    bool alive = docker_job_emit(j, line, strlen(line));

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
    char *path = docker_api_remove_path(j->container_id);
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
    char *path = docker_api_stop_path(j->container_id, j->stop_grace);

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

/* Whether data[0..len) is all digits. */
static bool
docker_job_digits(const char *data, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (data[i] < '0' || data[i] > '9')
            return false;
    return true;
}

/* The container's stderr: lines of digits (up to DOCKER_REPORT_MAX) go to
 * `marks` whole, every other line to the output as it comes. Returns false
 * when the job was freed from a callback. */
static bool
docker_job_on_stderr(struct docker_job *j, const char *data, size_t len)
{
    while (len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t piece = nl != NULL ? (size_t)(nl - data) + 1 : len;
        size_t body = nl != NULL ? piece - 1 : piece;

        if (!j->err_text && docker_job_digits(data, body) &&
            j->err_len + body <= DOCKER_REPORT_MAX) {
            memcpy(j->err_line + j->err_len, data, body);
            j->err_len += body;
            if (nl != NULL) {
                j->err_line[j->err_len++] = '\n';
                if (j->cb.marks != NULL)
                    j->cb.marks(j->arg, j->err_line, j->err_len);
                j->err_len = 0;
                if (j->base.released)
                    return false;
            }
        } else {
            /* Not a report: what was held of the line comes first. */
            j->err_text = true;
            if (j->err_len > 0 && !docker_job_emit(j, j->err_line, j->err_len))
                return false;
            j->err_len = 0;
            if (!docker_job_emit(j, data, piece))
                return false;
            if (nl != NULL)
                j->err_text = false;
        }
        data += piece;
        len -= piece;
    }
    return true;
}

static void
docker_job_on_frame(void *arg, int stream, const char *data, size_t len)
{
    struct docker_job *j = arg;

    if (stream == DOCKER_STREAM_STDIN || j->base.released)
        return;
    if (stream == DOCKER_STREAM_STDERR)
        (void)docker_job_on_stderr(j, data, len);
    else
        (void)docker_job_emit(j, data, len);
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
    /* A free from inside the output cancels this request; the frames left
     * are dropped by docker_job_on_frame. */
    docker_frames_feed(j->frames, data, len);
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
    char *warning = NULL;
    int code;

    j->wait_req = NULL;
    j->waited = true;
    code = docker_api_wait_code(res->status, res->body, res->body_len, &warning);
    if (code < 0) {
        char *why =
            res->error != NULL ? docker_transport_error(j->engine, res) : docker_message(res);
        char *error = xasprintf("lost the container: %s", why);
        free(why);
        log_warn("docker", "%s job=%s", error, j->job_id);
        docker_job_fail(j, error, NULL);
        return;
    }
    j->exit_code = code;
    if (warning != NULL)
        log_warn("docker", "waiting for container %.12s: %s job=%s", j->container_id, warning,
                 j->job_id);
    free(warning);
    log_debug("docker", "container %.12s exited with %d job=%s", j->container_id, j->exit_code,
              j->job_id);
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
    path = docker_api_wait_path(j->container_id);
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
    char *path;

    j->create_req = NULL;
    j->container_id = docker_api_created_id(res->status, res->body, res->body_len);
    if (j->orphan) {
        /* Freed while this was in flight: the container is nobody's. */
        if (j->container_id != NULL) {
            path = docker_api_remove_path(j->container_id);
            docker_http_request(j->engine->http, DOCKER_HTTP_DELETE, path, NULL,
                                DOCKER_SHORT_TIMEOUT_S, NULL, NULL, NULL);
            free(path);
        }
        /* Freed now if the engine's destroy came already, else by it. */
        if (j->destroyed)
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
    path = docker_api_attach_path(j->container_id);
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
    path = docker_api_start_path(j->container_id);
    j->start_req = docker_http_request(j->engine->http, DOCKER_HTTP_POST, path, NULL,
                                       DOCKER_SHORT_TIMEOUT_S, NULL, docker_job_on_start, j);
    free(path);
}

static char *
docker_dup_or_empty(const char *s)
{
    return xstrdup(s != NULL ? s : "");
}

engine_job_t *
docker_job_start(engine_t *eng, const engine_job_spec_t *spec, const engine_callbacks_t *cb,
                 void *arg)
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
    j->drain_ev = engine_event_new(e->evbase, -1, 0, docker_job_on_drain_timeout, j);
    j->done_ev = engine_event_new(e->evbase, -1, 0, docker_job_on_done, j);
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
    body = docker_api_create_body(spec, j->image, e->runner_id, &e->limits);
    j->create_req = docker_http_request(e->http, DOCKER_HTTP_POST, DOCKER_PATH_CREATE, body,
                                        DOCKER_SHORT_TIMEOUT_S, NULL, docker_job_on_create, j);
    free(body);
    return &j->base;
}

void
docker_job_stop(engine_job_t *job, int grace_seconds)
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

/* ops->job_release: no callback from here on; before done, the container
 * is force-removed by a request the HTTP client owns. */
void
docker_job_release(engine_job_t *job)
{
    struct docker_job *j = (struct docker_job *)job;

    if (!j->done_called && j->container_id != NULL) {
        char *path = docker_api_remove_path(j->container_id);
        log_debug("docker", "removing container %.12s of a freed job job=%s", j->container_id,
                  j->job_id);
        docker_http_request(j->engine->http, DOCKER_HTTP_DELETE, path, NULL, DOCKER_SHORT_TIMEOUT_S,
                            NULL, NULL, NULL);
        free(path);
    }
    /* The container's id comes with create's response: that request stays,
     * see docker_job_on_create. */
    j->orphan = j->create_req != NULL;
    docker_http_cancel(j->start_req);
    docker_http_cancel(j->attach_req);
    docker_http_cancel(j->wait_req);
    docker_http_cancel(j->remove_req);
    j->start_req = j->attach_req = j->wait_req = j->remove_req = NULL;
    event_del(j->done_ev);
    event_del(j->drain_ev);
}

/* ops->job_destroy, from the loop after the release. */
void
docker_job_reap(engine_job_t *job)
{
    struct docker_job *j = (struct docker_job *)job;

    if (j->create_req != NULL) {
        /* Still waiting for create; docker_job_on_create frees it. */
        j->destroyed = true;
        return;
    }
    docker_job_destroy(j);
}
