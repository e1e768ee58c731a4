/*
 * engine_run - run a job through an engine and print what it produced, for
 * the engine tests (and for trying an engine by hand):
 *
 *   engine_run [OPTIONS] ENGINE DOCKER_HOST IMAGE WORKSPACE SCRIPT
 *   engine_run [OPTIONS] --cleanup ENGINE DOCKER_HOST [LIVE_JOB_ID...]
 *   engine_run [OPTIONS] --ping ENGINE DOCKER_HOST
 *
 * ENGINE is "docker" or "local" (which ignores DOCKER_HOST and IMAGE); IMAGE
 * may be "" for the engine's default image. The job's output goes to stdout as
 * it comes, then a last line "exit=N error=TEXT" (after a newline of its own
 * when the output did not end with one). With --cleanup it prints
 * "removed=N" (-1: the engine could not be asked); with --ping "ping=ok" or
 * "ping=PROBLEM". Both answers must come from the loop, not from inside the
 * call that asked; stderr then gets "engine_run: answered in N ms".
 *
 * Options (anywhere on the line):
 *   --env NAME=VALUE       add to the job's environment (repeatable)
 *   --stop-after-ms N G    engine_job_stop(job, G) N ms after the start
 *   --stop-on-output TEXT G  engine_job_stop(job, G) once the output holds
 *                          TEXT; stderr then gets a line "engine_run:
 *                          done N ms after the stop"
 *   --free-after-ms N      engine_job_free(job) N ms after the start, then run
 *                          the loop until the engine has nothing left to do;
 *                          prints "freed" instead of an exit line
 *   --free-on-output TEXT  engine_job_free(job) from inside the output
 *                          callback once the output holds TEXT; then as
 *                          --free-after-ms
 *   --parallel N           N jobs at once on one engine, each with
 *                          GW_JOB_INDEX=K (1..N) in its environment; their
 *                          outputs are printed one after the other at the
 *                          end, each after a line "== job K"
 *   --job-id ID, --run-id ID, --runner-id ID (default "engine-run")
 *   --default-image IMAGE  the docker engine's default image
 *   --timeout-ms N         give up after N ms (default 120000)
 *
 * Exit status: 0 when the jobs were run to their end (whatever their exit
 * codes) or the cleanup answered, 1 on a broken engine contract, a timeout or
 * an engine that could not be made, 2 on bad usage. Contract checks: `done`
 * exactly once, never from inside start, never after a free, no output after
 * it, exit code -1 only with an error.
 */
#include "engine.h"
#include "log.h"
#include "util.h"

#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* How long the loop may stay busy after the jobs ended or were freed. */
#define RUN_LINGER_MS 15000
#define RUN_IDLE_POLL_MS 20
#define RUN_MAX_ENV 256
#define RUN_MAX_PARALLEL 64

struct driver;

struct run {
    struct driver *d;
    int index; /* 1.. */
    engine_job_t *job;
    char job_id[64];
    char index_env[32];
    const char *env[RUN_MAX_ENV + 2];
    buf_t out; /* all of the output */
    int done_calls;
    int exit_code;
    char *error;
    bool in_start;
    bool freed;
    bool last_newline;
    bool any_output;
};

struct driver {
    struct event_base *base;
    struct run runs[RUN_MAX_PARALLEL];
    int nruns;
    int ended; /* done or freed */
    bool parallel;
    bool broken;
    bool timed_out;
    int stop_grace;
    const char *free_on_output;
    const char *stop_on_output;
    int64_t stopped_at; /* gw_now_ms of the first stop; 0 before */
    struct event *timeout_ev;
    struct event *stop_ev;
    struct event *free_ev;
    struct event *linger_ev; /* gives up on the engine becoming idle */
    struct event *idle_ev;   /* looks whether it is */
    bool asking;             /* inside engine_ping_start / engine_cleanup_start */
    int64_t asked_at;
};

static void
usage(void)
{
    fprintf(stderr,
            "usage: engine_run [OPTIONS] ENGINE DOCKER_HOST IMAGE WORKSPACE SCRIPT\n"
            "       engine_run [OPTIONS] --cleanup ENGINE DOCKER_HOST [LIVE_JOB_ID...]\n"
            "       engine_run [OPTIONS] --ping ENGINE DOCKER_HOST\n"
            "options: --env NAME=VALUE, --stop-after-ms N GRACE, --stop-on-output TEXT GRACE,\n"
            "         --free-after-ms N,\n"
            "         --free-on-output TEXT, --parallel N, --job-id ID, --run-id ID,\n"
            "         --runner-id ID, --default-image IMAGE, --timeout-ms N\n");
    exit(2);
}

static struct event *
timer_new(struct event_base *base, event_callback_fn fn, void *arg)
{
    struct event *ev = evtimer_new(base, fn, arg);

    if (ev == NULL) {
        fprintf(stderr, "engine_run: could not allocate an event\n");
        abort();
    }
    return ev;
}

static void
timer_add_ms(struct event *ev, long ms)
{
    struct timeval tv = {ms / 1000, (ms % 1000) * 1000};

    evtimer_add(ev, &tv);
}

static void
contract(struct run *r, const char *what)
{
    fprintf(stderr, "engine_run: CONTRACT BROKEN (job %d): %s\n", r->index, what);
    r->d->broken = true;
}

static void
on_idle_poll(evutil_socket_t fd, short what, void *arg)
{
    struct driver *d = arg;
    /* The linger timer is the one event of ours still there. */
    int n = event_base_get_num_events(d->base, EVENT_BASE_COUNT_ADDED | EVENT_BASE_COUNT_ACTIVE);

    if (n <= 1) {
        event_base_loopbreak(d->base);
        return;
    }
    timer_add_ms(d->idle_ev, RUN_IDLE_POLL_MS);
}

/* A job ended or was freed; after the last one the loop runs only as long as
 * the engine has work left. */
static void
job_ended(struct driver *d)
{
    if (++d->ended < d->nruns)
        return;
    event_del(d->timeout_ev);
    event_del(d->stop_ev);
    event_del(d->free_ev);
    timer_add_ms(d->linger_ev, RUN_LINGER_MS);
    timer_add_ms(d->idle_ev, RUN_IDLE_POLL_MS);
}

static void
stop_job(struct run *r)
{
    if (r->d->stopped_at == 0)
        r->d->stopped_at = gw_now_ms();
    engine_job_stop(r->job, r->d->stop_grace);
}

static void
on_output(void *arg, const char *data, size_t len)
{
    struct run *r = arg;

    if (r->done_calls > 0)
        contract(r, "output after done");
    if (r->freed)
        contract(r, "output after engine_job_free");
    if (len == 0)
        return;
    buf_append(&r->out, data, len);
    if (!r->d->parallel) {
        fwrite(data, 1, len, stdout);
        fflush(stdout);
    }
    r->any_output = true;
    r->last_newline = data[len - 1] == '\n';
    if (r->d->free_on_output != NULL && !r->freed && strstr(r->out.data, r->d->free_on_output)) {
        engine_job_free(r->job);
        r->job = NULL;
        r->freed = true;
        job_ended(r->d);
        return;
    }
    if (r->d->stop_on_output != NULL && r->d->stopped_at == 0 &&
        strstr(r->out.data, r->d->stop_on_output))
        stop_job(r);
}

static void
on_done(void *arg, int exit_code, const char *error)
{
    struct run *r = arg;

    if (r->in_start)
        contract(r, "done called from inside engine_job_start");
    if (r->freed)
        contract(r, "done after engine_job_free");
    if (r->done_calls++ > 0) {
        contract(r, "done called twice");
        return;
    }
    if (r->d->stopped_at != 0)
        fprintf(stderr, "engine_run: done %lld ms after the stop\n",
                (long long)(gw_now_ms() - r->d->stopped_at));
    r->exit_code = exit_code;
    r->error = xstrdup(error != NULL ? error : "");
    if (exit_code == -1 && (error == NULL || error[0] == '\0'))
        contract(r, "exit code -1 without an error");
    if (exit_code < -1)
        contract(r, "exit code below -1");
    job_ended(r->d);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct driver *d = arg;

    fprintf(stderr, "engine_run: timed out\n");
    d->timed_out = true;
    event_base_loopbreak(d->base);
}

static void
on_linger(evutil_socket_t fd, short what, void *arg)
{
    struct driver *d = arg;

    fprintf(stderr, "engine_run: the engine still had events %d ms after the jobs ended\n",
            RUN_LINGER_MS);
    if (getenv("ENGINE_RUN_DUMP") != NULL)
        event_base_dump_events(d->base, stderr);
    event_base_loopbreak(d->base);
}

static void
answered(struct driver *d)
{
    if (d->asking) {
        fprintf(stderr, "engine_run: CONTRACT BROKEN: answered from inside the question\n");
        d->broken = true;
    }
    fprintf(stderr, "engine_run: answered in %lld ms\n", (long long)(gw_now_ms() - d->asked_at));
    event_base_loopbreak(d->base);
}

static void
on_cleanup_answer(void *arg, int removed)
{
    printf("removed=%d\n", removed);
    answered(arg);
}

static void
on_ping_answer(void *arg, const char *problem)
{
    printf("ping=%s\n", problem != NULL ? problem : "ok");
    answered(arg);
}

/* Ask the engine (--cleanup, --ping) and wait for the answer. */
static int
ask(struct driver *d, engine_t *e, bool cleanup, const char *const *live)
{
    d->timeout_ev = timer_new(d->base, on_timeout, d);
    timer_add_ms(d->timeout_ev, 60000);
    d->asked_at = gw_now_ms();
    d->asking = true;
    if (cleanup)
        engine_cleanup_start(e, live, on_cleanup_answer, d);
    else
        engine_ping_start(e, on_ping_answer, d);
    d->asking = false;
    event_base_dispatch(d->base);
    event_free(d->timeout_ev);
    return d->broken || d->timed_out ? 1 : 0;
}

static void
on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct driver *d = arg;

    for (int i = 0; i < d->nruns; i++)
        if (!d->runs[i].freed)
            stop_job(&d->runs[i]);
}

static void
on_free(evutil_socket_t fd, short what, void *arg)
{
    struct driver *d = arg;

    for (int i = 0; i < d->nruns; i++) {
        struct run *r = &d->runs[i];
        if (r->done_calls > 0) {
            fprintf(stderr, "engine_run: job %d ended before --free-after-ms\n", r->index);
            continue;
        }
        engine_job_free(r->job);
        r->job = NULL;
        r->freed = true;
        job_ended(d);
    }
}

static engine_t *
make_engine(struct event_base *base, const char *name, const char *host, const char *image,
            const char *runner_id)
{
    engine_t *e = NULL;
    char *err = NULL;

    if (strcmp(name, "local") == 0) {
        e = engine_local_new(base);
        if (e == NULL)
            fprintf(stderr, "engine_run: could not make the local engine\n");
    } else if (strcmp(name, "docker") == 0) {
        e = engine_docker_new(base, host, image, runner_id, NULL, &err);
        if (e == NULL)
            fprintf(stderr, "engine_run: %s\n", err);
        free(err);
    } else {
        fprintf(stderr, "engine_run: unknown engine \"%s\"\n", name);
    }
    return e;
}

static long
parse_number(const char *s)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (*s == '\0' || *end != '\0' || v < 0)
        usage();
    return v;
}

static void
print_run(const struct run *r)
{
    if (r->d->parallel) {
        printf("== job %d\n", r->index);
        fwrite(r->out.data != NULL ? r->out.data : "", 1, r->out.len, stdout);
    }
    if (r->freed) {
        printf("freed\n");
        return;
    }
    if (r->done_calls == 0)
        return;
    if (r->any_output && !r->last_newline)
        printf("\n");
    printf("exit=%d error=%s\n", r->exit_code, r->error);
}

int
main(int argc, char **argv)
{
    static struct driver d;
    const char *env[RUN_MAX_ENV + 1];
    size_t nenv = 0;
    const char **pos = xcalloc((size_t)argc + 1, sizeof(char *));
    size_t npos = 0;
    long stop_after = -1, free_after = -1, timeout_ms = 120000, parallel = 1;
    const char *job_id = NULL, *run_id = "engine-run-run", *runner_id = "engine-run";
    const char *default_image = NULL;
    bool cleanup = false, ping = false;
    int status = 0;

    gw_log_init();
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (strncmp(o, "--", 2) != 0) {
            pos[npos++] = o;
        } else if (strcmp(o, "--env") == 0 && i + 1 < argc && nenv < RUN_MAX_ENV) {
            env[nenv++] = argv[++i];
        } else if (strcmp(o, "--stop-after-ms") == 0 && i + 2 < argc) {
            stop_after = parse_number(argv[++i]);
            d.stop_grace = (int)parse_number(argv[++i]);
        } else if (strcmp(o, "--stop-on-output") == 0 && i + 2 < argc) {
            d.stop_on_output = argv[++i];
            d.stop_grace = (int)parse_number(argv[++i]);
        } else if (strcmp(o, "--free-after-ms") == 0 && i + 1 < argc) {
            free_after = parse_number(argv[++i]);
        } else if (strcmp(o, "--free-on-output") == 0 && i + 1 < argc) {
            d.free_on_output = argv[++i];
        } else if (strcmp(o, "--parallel") == 0 && i + 1 < argc) {
            parallel = parse_number(argv[++i]);
            if (parallel < 1 || parallel > RUN_MAX_PARALLEL)
                usage();
            d.parallel = true;
        } else if (strcmp(o, "--job-id") == 0 && i + 1 < argc) {
            job_id = argv[++i];
        } else if (strcmp(o, "--run-id") == 0 && i + 1 < argc) {
            run_id = argv[++i];
        } else if (strcmp(o, "--runner-id") == 0 && i + 1 < argc) {
            runner_id = argv[++i];
        } else if (strcmp(o, "--default-image") == 0 && i + 1 < argc) {
            default_image = argv[++i];
        } else if (strcmp(o, "--timeout-ms") == 0 && i + 1 < argc) {
            timeout_ms = parse_number(argv[++i]);
        } else if (strcmp(o, "--cleanup") == 0) {
            cleanup = true;
        } else if (strcmp(o, "--ping") == 0) {
            ping = true;
        } else {
            usage();
        }
    }
    if (cleanup ? npos < 2 : ping ? npos != 2 : npos != 5)
        usage();

    d.base = event_base_new();
    if (d.base == NULL) {
        fprintf(stderr, "engine_run: could not create an event base\n");
        return 1;
    }
    engine_t *e = make_engine(d.base, pos[0], pos[1], default_image, runner_id);
    if (e == NULL) {
        event_base_free(d.base);
        free(pos);
        return 1;
    }

    if (cleanup || ping) {
        status = ask(&d, e, cleanup, pos + 2);
        engine_free(e);
        event_base_free(d.base);
        free(pos);
        return status;
    }

    d.timeout_ev = timer_new(d.base, on_timeout, &d);
    d.stop_ev = timer_new(d.base, on_stop, &d);
    d.free_ev = timer_new(d.base, on_free, &d);
    d.linger_ev = timer_new(d.base, on_linger, &d);
    d.idle_ev = timer_new(d.base, on_idle_poll, &d);
    timer_add_ms(d.timeout_ev, timeout_ms);
    if (stop_after >= 0)
        timer_add_ms(d.stop_ev, stop_after);
    if (free_after >= 0)
        timer_add_ms(d.free_ev, free_after);

    engine_callbacks_t cb = {.output = on_output, .done = on_done};
    d.nruns = (int)parallel;
    for (int i = 0; i < d.nruns; i++) {
        struct run *r = &d.runs[i];
        char uuid[37];
        r->d = &d;
        r->index = i + 1;
        buf_init(&r->out);
        if (job_id != NULL && d.nruns == 1) {
            snprintf(r->job_id, sizeof(r->job_id), "%s", job_id);
        } else if (job_id != NULL) {
            snprintf(r->job_id, sizeof(r->job_id), "%s-%d", job_id, r->index);
        } else {
            gw_uuid_new(uuid);
            snprintf(r->job_id, sizeof(r->job_id), "%s", uuid);
        }
        memcpy(r->env, env, nenv * sizeof(char *));
        snprintf(r->index_env, sizeof(r->index_env), "GW_JOB_INDEX=%d", r->index);
        r->env[nenv] = r->index_env;
        r->env[nenv + 1] = NULL;
        engine_job_spec_t spec = {
            .job_id = r->job_id,
            .run_id = run_id,
            .runner_id = runner_id,
            .image = pos[2],
            .script = pos[4],
            .env = r->env,
            .workspace = pos[3],
        };
        r->in_start = true;
        r->job = engine_job_start(e, &spec, &cb, r);
        r->in_start = false;
        if (r->job == NULL) {
            fprintf(stderr, "engine_run: engine_job_start returned NULL\n");
            d.broken = true;
        }
    }
    if (!d.broken)
        event_base_dispatch(d.base);

    for (int i = 0; i < d.nruns; i++) {
        struct run *r = &d.runs[i];
        print_run(r);
        if (r->done_calls == 0 && !r->freed)
            status = 1;
        engine_job_free(r->job);
        buf_free(&r->out);
        free(r->error);
    }
    engine_free(e);
    event_free(d.timeout_ev);
    event_free(d.stop_ev);
    event_free(d.free_ev);
    event_free(d.linger_ev);
    event_free(d.idle_ev);
    event_base_free(d.base);
    free(pos);
    if (d.broken || d.timed_out)
        status = 1;
    return status;
}
