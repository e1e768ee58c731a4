/*
 * docker_api - the Docker Engine API (v1.41) as the docker engine speaks it:
 * request paths and bodies, and what it reads out of the responses. Pure
 * functions, no I/O and no state, so that every one is unit-tested
 * (tests/unit/check_docker_api.c); engine_docker.c sends and receives.
 */
#ifndef GW_DOCKER_API_H
#define GW_DOCKER_API_H

#include "engine.h"

#include <stdbool.h>
#include <stddef.h>

#define DOCKER_API "/v1.41"
#define DOCKER_LABEL_JOB "io.gitweave.job"
#define DOCKER_LABEL_RUN "io.gitweave.run"
#define DOCKER_LABEL_RUNNER "io.gitweave.runner"
/* The most of an unexpected response body quoted in an error. */
#define DOCKER_QUOTE_MAX 300

/* Paths of the requests about container id (each freed by the caller). */
#define DOCKER_PATH_CREATE DOCKER_API "/containers/create"
#define DOCKER_PATH_PING "/_ping"
char *docker_api_attach_path(const char *id);
char *docker_api_start_path(const char *id);
char *docker_api_wait_path(const char *id);
char *docker_api_stop_path(const char *id, int grace_seconds);
/* DELETE: force-removes a running container, with its anonymous volumes. */
char *docker_api_remove_path(const char *id);
/* GET: every container (running or not) labelled with runner_id. */
char *docker_api_list_path(const char *runner_id);

/* Whether id looks like a container id (12 to 128 hex digits): ids from a
 * response go into request paths. */
bool docker_api_id_valid(const char *id);

/*
 * The body of POST /containers/create for spec, with image (the one to use)
 * and the runner's label and limits: the job's command, environment,
 * workspace mount, labels, and its containment (an init as PID 1, no new
 * privileges, reduced capabilities, no engine-side log, limits). The caller
 * frees it.
 */
char *docker_api_create_body(const engine_job_spec_t *spec, const char *image,
                             const char *runner_id, const engine_docker_limits_t *limits);

/* The engine's explanation of a failed response: the "message" of its JSON
 * body, else the body itself (cut to DOCKER_QUOTE_MAX), else the status. The
 * caller frees it. */
char *docker_api_message(int status, const char *body, size_t len);

/* The container id of a create response (status 201), or NULL when it has
 * none that is valid. The caller frees it. */
char *docker_api_created_id(int status, const char *body, size_t len);

/* The exit code (0..255) of a wait response, or -1 when it has none. The
 * engine's own complaint, when the response has one, goes to *warning
 * (caller frees; NULL otherwise). */
int docker_api_wait_code(int status, const char *body, size_t len, char **warning);

/* The ids of the containers of a list response that are left over: labelled
 * with runner_id (the engine filtered already; this guards against one that
 * ignores filters) and not of a job in live_job_ids (NULL-terminated, may be
 * NULL). Returns a NULL-terminated array (free with docker_api_ids_free), or
 * NULL when the body is not a JSON array. */
char **docker_api_leftovers(const char *body, size_t len, const char *runner_id,
                            const char *const *live_job_ids);
void docker_api_ids_free(char **ids);

#endif
