/*
 * engine - how a job runs: one interface, several implementations.
 *
 * A job is `sh -e -c SCRIPT` with an environment, in a workspace. The engine
 * starts it, delivers its output (stdout and stderr, in the order produced),
 * and reports its end exactly once through `done`, after the last `output`.
 * Everything is driven by the caller's libevent base: no call blocks for
 * longer than a local system call.
 *
 *   engine_local  - a child process group on this machine, no isolation
 *   engine_docker - a container through the Docker Engine API (also Podman)
 */
#ifndef GW_ENGINE_H
#define GW_ENGINE_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;

typedef struct engine engine_t;
typedef struct engine_job engine_job_t;

typedef struct {
    /* Output of the job; data borrowed for the duration of the call. */
    void (*output)(void *arg, const char *data, size_t len);
    /* The job is over. exit_code >= 0 is the exit status of its script;
     * 128+N when a signal N ended it. exit_code == -1 means it could not be
     * run or was lost, and error says why (borrowed, e.g. `image "x" not
     * found`). Called exactly once, from the event loop, never from inside
     * engine_job_start. */
    void (*done)(void *arg, int exit_code, const char *error);
} engine_callbacks_t;

typedef struct {
    const char *job_id;
    const char *run_id;
    const char *runner_id;
    const char *image;        /* NULL or "" -> the engine's default image */
    const char *script;       /* the script lines joined with '\n' */
    const char *const *env;   /* NULL-terminated "NAME=value" strings */
    const char *workspace;    /* a directory on this host; the job's working dir */
} engine_job_spec_t;

typedef struct {
    const char *name;
    engine_job_t *(*start)(engine_t *e, const engine_job_spec_t *spec,
                           const engine_callbacks_t *cb, void *arg);
    void (*stop)(engine_job_t *j, int grace_seconds);
    void (*job_free)(engine_job_t *j);
    int (*cleanup)(engine_t *e, const char *const *live_job_ids);
    void (*destroy)(engine_t *e);
    /* optional: 0 when the engine can take jobs, else -1 with *problem */
    int (*ping)(engine_t *e, char **problem);
} engine_ops_t;

/* Every engine struct starts with this. */
struct engine {
    const engine_ops_t *ops;
};

/*
 * Start a job. Returns a handle (free with engine_job_free after `done`), or
 * NULL only on a programming error; failures to run are reported by `done`.
 * The spec is copied; nothing of it is kept.
 */
engine_job_t *engine_job_start(engine_t *e, const engine_job_spec_t *spec,
                               const engine_callbacks_t *cb, void *arg);
/* Stop a running job: SIGTERM, then SIGKILL after grace_seconds. `done`
 * follows. A no-op when the job has ended. */
void engine_job_stop(engine_job_t *j, int grace_seconds);
/* Release a job handle. Before `done` it stops the job at once without
 * calling `done`. engine_job_free(NULL) is a no-op. */
void engine_job_free(engine_job_t *j);
/* Remove what jobs of this runner left behind (containers) other than the
 * listed live job ids (NULL-terminated, may be NULL). Returns the number
 * removed, or -1 when the engine could not be asked. Blocking: used at start
 * and from a periodic timer with a short timeout. */
int engine_cleanup(engine_t *e, const char *const *live_job_ids);
const char *engine_name(const engine_t *e);
/* Whether the engine can take jobs now (blocking, short timeout). Returns 0,
 * or -1 with *problem set (caller frees), e.g. "container engine unreachable
 * at unix:///var/run/docker.sock: No such file or directory". */
int engine_ping(engine_t *e, char **problem);
void engine_free(engine_t *e);

/* engine_local.c: jobs as child process groups. */
engine_t *engine_local_new(struct event_base *base);

/* What a job container may use (docker engine). */
typedef struct {
    int pids_limit;      /* the most processes at once; 0 = no limit */
    long long memory;    /* bytes of memory (and no swap beyond); 0 = no limit */
    long long nano_cpus; /* billionths of a CPU; 0 = no limit */
    const char *user;    /* user[:group] to run as; NULL or "" = the image's */
} engine_docker_limits_t;

/* engine_docker.c: jobs as containers. docker_host is "unix:///path";
 * default_image is used for jobs that name none; runner_id labels the
 * containers; limits (copied, may be NULL) apply to each. Returns NULL with
 * *err set (caller frees) on bad arguments. */
engine_t *engine_docker_new(struct event_base *base, const char *docker_host,
                            const char *default_image, const char *runner_id,
                            const engine_docker_limits_t *limits, char **err);

/* The body of POST /containers/create for spec, with image (the one to use)
 * and the runner's label and limits: the job's command, environment,
 * workspace mount, labels, and its containment (no new privileges, reduced
 * capabilities, no engine-side log, limits). The caller frees it. */
char *engine_docker_create_body(const engine_job_spec_t *spec, const char *image,
                                const char *runner_id, const engine_docker_limits_t *limits);

#endif
