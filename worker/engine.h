/*
 * engine - how a job runs: one interface, several implementations.
 *
 * A job is `sh -e -c SCRIPT` with an environment, in a workspace. The engine
 * starts it, delivers its output (stdout and stderr, in the order produced)
 * and, apart from it, what the shell writes to its descriptor 3 (the step
 * reports, steps.h), and reports its end exactly once through `done`, after
 * the last `output` and `marks`.
 * Everything is driven by the caller's libevent base: no call blocks for
 * longer than a local system call. Questions to the engine as a whole (can it
 * take jobs? remove what dead jobs left behind) are asked the same way: the
 * answer comes by callback from the loop.
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
    /* What the job's shell wrote to its descriptor 3, a channel that the
     * job's output never reaches; data borrowed for the call. Optional. All
     * the shell wrote before it ended comes before `done`. */
    void (*marks)(void *arg, const char *data, size_t len);
} engine_callbacks_t;

typedef struct {
    const char *job_id;
    const char *run_id;
    const char *runner_id;
    const char *image;      /* NULL or "" -> the engine's default image */
    const char *script;     /* the script lines joined with '\n' */
    const char *const *env; /* NULL-terminated "NAME=value" strings */
    const char *workspace;  /* a directory on this host; the job's working dir */
} engine_job_spec_t;

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
/* Release a job handle: no callback of the job comes after this, even when
 * called from inside one; before `done` it stops the job at once. The
 * engine frees the job's memory on a later turn of the loop.
 * engine_job_free(NULL) is a no-op. */
void engine_job_free(engine_job_t *j);

/* The answer of engine_ping_start: problem is NULL when the engine can take
 * jobs, else why not (borrowed), e.g. "container engine unreachable at
 * unix:///var/run/docker.sock: No such file or directory". */
typedef void (*engine_ping_fn)(void *arg, const char *problem);
/* The answer of engine_cleanup_start: how many containers were removed, or
 * -1 when the engine could not be asked. */
typedef void (*engine_cleanup_fn)(void *arg, int removed);

/* Ask whether the engine can take jobs now (a request of a few seconds at
 * most). fn is called exactly once, from the loop, never from inside this
 * call; not at all when the engine is freed first. */
void engine_ping_start(engine_t *e, engine_ping_fn fn, void *arg);
/* Remove what jobs of this runner left behind (containers) other than the
 * listed live job ids (NULL-terminated, may be NULL; copied as needed).
 * fn as for engine_ping_start. */
void engine_cleanup_start(engine_t *e, const char *const *live_job_ids, engine_cleanup_fn fn,
                          void *arg);
const char *engine_name(const engine_t *e);
/* Free the engine after its jobs: answers not yet given are dropped. It
 * first runs later_drain on its base (common/later.h), which destroys its
 * released jobs, so call it from the loop's owner at shutdown only. */
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

#endif
