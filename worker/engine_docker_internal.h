/*
 * engine_docker_internal - what engine_docker.c (the engine) and
 * docker_job.c (a job's life) share.
 */
#ifndef GW_ENGINE_DOCKER_INTERNAL_H
#define GW_ENGINE_DOCKER_INTERNAL_H

#include "docker_frames.h"
#include "docker_http.h"
#include "engine_internal.h"

#include <stdbool.h>

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
/* Idle time allowed on each request of a cleanup. */
#define DOCKER_CLEANUP_TIMEOUT_S 5
/* ... and on a ping (before claiming work). */
#define DOCKER_PING_TIMEOUT_S 3

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
    struct docker_job *jobs;       /* every job not yet freed, orphans included */
};

/* The longest step report line on a container's stderr (steps.h). */
#define DOCKER_REPORT_MAX 16

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
    /* The line of the container's stderr read so far, while it may still be
     * a step report (digits); err_text once it is not (it goes to output). */
    char err_line[DOCKER_REPORT_MAX + 1];
    size_t err_len;
    bool err_text;
    bool attach_ended;
    bool waited;
    bool stop_requested;
    int stop_grace;

    int exit_code;
    char *error;
    char *early_error; /* found by start, reported from the loop */
    bool done_called;
    bool orphan;    /* released while create was in flight */
    bool destroyed; /* ... and its destroy came before create's answer */
};

/* docker_job.c: the job ops, and the end of a job the engine frees. */
engine_job_t *docker_job_start(engine_t *eng, const engine_job_spec_t *spec,
                               const engine_callbacks_t *cb, void *arg);
void docker_job_stop(engine_job_t *job, int grace_seconds);
void docker_job_release(engine_job_t *job);
void docker_job_reap(engine_job_t *job);
void docker_job_destroy(struct docker_job *j);

/* engine_docker.c: the engine's explanation of a failed request, and what
 * a request that got no response means; the caller frees either. */
char *docker_message(const docker_http_result_t *res);
char *docker_transport_error(const struct docker_engine *e, const docker_http_result_t *res);

#endif
