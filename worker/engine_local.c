/*
 * engine_local - jobs as child process groups on this machine, no isolation.
 *
 * A job is `/bin/sh -e -c SCRIPT` in a process group of its own, started in
 * the workspace with exactly the spec's environment (plus a default PATH when
 * the spec has none); the image is ignored. stdout and stderr share one pipe,
 * so the output keeps the order in which it was written; descriptor 3 is a
 * pipe of its own, the marks (the step reports, steps.h), read as they come
 * and to what the shell left in it once the shell is gone. The child's end is
 * seen through a pidfd (or, where pidfd_open is missing, a 100 ms waitid
 * poll); then whatever is left of the process group is killed and the pipe is
 * read to its end before `done` is called.
 *
 * The process group dies with the worker too, however the worker dies: a
 * guard process (proc_guard) kills the groups of the jobs still running when
 * the worker is gone.
 *
 * No call waits for a process: a job freed before its end has its group
 * SIGKILLed, and its shell, which may not die at once (a process in
 * uninterruptible sleep waits for its I/O first), goes on the engine's list
 * of shells to reap, which a timer of the loop polls without blocking. Until
 * the shell is reaped its pid keeps the group id from being reused, so the
 * guard may still kill the group.
 *
 * The parent waits for the child's exec on a close-on-exec status pipe (a
 * local system call, as posix_spawn does), so a workspace that cannot be
 * entered or a shell that cannot be run is reported by `done` with exit code
 * -1 and an error, never as output of the job.
 */
#include "engine.h"

#include "engine_internal.h"
#include "log.h"
#include "local_spawn.h"
#include "proc_guard.h"
#include "util.h"

#include <errno.h>
#include <event2/event.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Poll interval when the kernel has no pidfd_open. */
#define LOCAL_POLL_MS 100
/* How long the pipe may stay open after the process group was killed: only a
 * process that left the group (setsid) can hold it that long. */
#define LOCAL_DRAIN_MS 2000
/* How often a killed shell not yet reaped is looked at: first soon, then
 * every LOCAL_REAP_MAX_MS. */
#define LOCAL_REAP_FIRST_MS 10
#define LOCAL_REAP_MAX_MS 100
/* Reads per readiness callback, so that a chatty job cannot starve the loop. */
#define LOCAL_READS_PER_EVENT 16
#define LOCAL_READ_SIZE 65536

/* A killed shell not reaped yet, owned by the engine's list. */
struct local_orphan {
    pid_t pid;
    struct local_orphan *next;
};

struct local_engine {
    struct engine base;
    struct event_base *evbase;
    proc_guard_t *guard;          /* NULL when it could not be started */
    struct local_orphan *orphans; /* killed shells to reap */
    struct event *reap_ev;        /* polls the orphans while there are any */
    int reap_ms;                  /* the poll's current interval */
};

struct local_job {
    struct engine_job base;
    struct local_engine *engine;
    struct event_base *evbase;
    proc_guard_t *guard;
    engine_callbacks_t cb;
    void *arg;
    char *job_id;

    pid_t pid;    /* the shell, leader of the process group; -1 if none */
    int out_fd;   /* read end of the output pipe; -1 once closed */
    int marks_fd; /* read end of the shell's descriptor 3; -1 once closed */
    int pidfd;    /* -1 when polling instead */
    struct event *out_ev;
    struct event *marks_ev;
    struct event *exit_ev;  /* on the pidfd, or the poll timer */
    struct event *kill_ev;  /* SIGKILL after the grace period of a stop */
    struct event *drain_ev; /* gives up on the pipe after LOCAL_DRAIN_MS */
    struct event *done_ev;  /* calls `done` from the loop */

    bool reaped; /* the shell was reaped (or never ran): nothing to signal */
    bool stopping;
    bool done_scheduled;
    bool done_called;
    int exit_code;
    char *error;
};

static void
local_event_free(struct event **ev)
{
    if (*ev != NULL) {
        event_free(*ev);
        *ev = NULL;
    }
}

/* Reap pid if it has ended: 1 when it was (or is no child of ours any
 * more), 0 while it runs on. Never waits. */
static int
local_reap_now(pid_t pid)
{
    int status;
    pid_t r;

    do {
        r = waitpid(pid, &status, WNOHANG);
    } while (r < 0 && errno == EINTR);
    return r != 0;
}

static void
local_on_reap(evutil_socket_t fd, short what, void *arg)
{
    struct local_engine *le = arg;
    struct local_orphan **p = &le->orphans;

    while (*p != NULL) {
        struct local_orphan *o = *p;
        if (local_reap_now(o->pid)) {
            proc_guard_forget(le->guard, o->pid);
            log_debug("engine", "reaped a killed job process pid=%d", (int)o->pid);
            *p = o->next;
            free(o);
        } else {
            p = &o->next;
        }
    }
    if (le->orphans != NULL) {
        struct timeval tv = {0, le->reap_ms * 1000};
        evtimer_add(le->reap_ev, &tv);
        le->reap_ms = le->reap_ms * 2 < LOCAL_REAP_MAX_MS ? le->reap_ms * 2 : LOCAL_REAP_MAX_MS;
    }
}

/* The group of the shell pid was SIGKILLed: reap the shell now if it has
 * ended, else later from the loop (then forget it on the guard). */
static void
local_reap_later(struct local_engine *le, pid_t pid)
{
    struct local_orphan *o;
    struct timeval tv = {0, LOCAL_REAP_FIRST_MS * 1000};

    if (local_reap_now(pid)) {
        proc_guard_forget(le->guard, pid);
        return;
    }
    log_debug("engine", "killed job process not ended yet, reaping it later pid=%d", (int)pid);
    o = xcalloc(1, sizeof(*o));
    o->pid = pid;
    o->next = le->orphans;
    le->orphans = o;
    le->reap_ms = LOCAL_REAP_FIRST_MS;
    evtimer_add(le->reap_ev, &tv);
}

static void
local_job_schedule_done(struct local_job *j)
{
    if (j->done_scheduled)
        return;
    j->done_scheduled = true;
    event_active(j->done_ev, EV_TIMEOUT, 0);
}

static void
local_job_maybe_finish(struct local_job *j)
{
    if (j->reaped && j->out_fd < 0)
        local_job_schedule_done(j);
}

static void
local_job_close_marks(struct local_job *j)
{
    local_event_free(&j->marks_ev);
    local_spawn_close(&j->marks_fd);
}

static void
local_job_close_output(struct local_job *j)
{
    local_event_free(&j->out_ev);
    local_event_free(&j->drain_ev);
    local_spawn_close(&j->out_fd);
}

/*
 * Kill what is left of the job and release its resources, without calling
 * `done`. Idempotent.
 */
static void
local_job_teardown(struct local_job *j)
{
    if (!j->reaped && j->pid > 0) {
        /* The unreaped shell keeps the group id taken, so this cannot hit
         * another group. */
        kill(-j->pid, SIGKILL);
        local_reap_later(j->engine, j->pid);
        j->reaped = true;
    }
    local_job_close_output(j);
    local_job_close_marks(j);
    local_event_free(&j->exit_ev);
    local_event_free(&j->kill_ev);
    local_event_free(&j->done_ev);
    local_spawn_close(&j->pidfd);
}

/* Hand output (or marks) to the caller. Returns false when the caller
 * freed the job (its memory stays until the next loop turn). */
static bool
local_job_deliver(struct local_job *j, bool marks, const char *data, size_t len)
{
    void (*fn)(void *, const char *, size_t) = marks ? j->cb.marks : j->cb.output;

    if (fn != NULL)
        fn(j->arg, data, len);
    return !j->base.released;
}

/*
 * Read what the output pipe (or with marks, the marks pipe) holds, at most
 * max_reads times. Returns 1 at its end (EOF or a read error), 0 when the
 * pipe is empty for now or the read budget is spent, -1 when the caller
 * freed the job.
 */
static int
local_job_read(struct local_job *j, bool marks, int max_reads)
{
    char buf[LOCAL_READ_SIZE];
    const int *fd = marks ? &j->marks_fd : &j->out_fd;

    for (int i = 0; i < max_reads && *fd >= 0; i++) {
        ssize_t n = read(*fd, buf, sizeof(buf));
        if (n > 0) {
            if (!local_job_deliver(j, marks, buf, (size_t)n))
                return -1;
            continue;
        }
        if (n == 0)
            return 1;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return 0;
        log_warn("engine", "could not read the output of a job: %s job=%s", strerror(errno),
                 j->job_id);
        return 1;
    }
    return 0;
}

static void
local_on_marks(evutil_socket_t fd, short what, void *arg)
{
    struct local_job *j = arg;

    if (local_job_read(j, true, LOCAL_READS_PER_EVENT) > 0)
        local_job_close_marks(j);
}

static void
local_on_output(evutil_socket_t fd, short what, void *arg)
{
    struct local_job *j = arg;
    int r = local_job_read(j, false, LOCAL_READS_PER_EVENT);

    if (r < 0)
        return;
    if (r > 0) {
        local_job_close_output(j);
        local_job_maybe_finish(j);
    }
}

static void
local_on_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct local_job *j = arg;
    int r = local_job_read(j, false, 4 * LOCAL_READS_PER_EVENT);

    if (r < 0)
        return;
    if (r == 0)
        log_warn("engine", "output still open after the job ended, dropping it job=%s", j->job_id);
    local_job_close_output(j);
    local_job_maybe_finish(j);
}

static int
local_job_waitid(struct local_job *j, siginfo_t *info, int flags)
{
    memset(info, 0, sizeof(*info));
    if (j->pidfd >= 0)
        return waitid(P_PIDFD, (id_t)j->pidfd, info, flags);
    return waitid(P_PID, (id_t)j->pid, info, flags);
}

/* The shell is gone: take what it left in the marks pipe (a process it
 * started may hold the pipe, so not up to EOF), wait for the rest of the
 * output, then `done`. */
static void
local_job_reaped(struct local_job *j)
{
    j->reaped = true;
    local_event_free(&j->exit_ev);
    local_event_free(&j->kill_ev);
    local_spawn_close(&j->pidfd);
    if (local_job_read(j, true, 4 * LOCAL_READS_PER_EVENT) < 0)
        return;
    local_job_close_marks(j);
    if (j->out_fd >= 0) {
        struct timeval tv = {LOCAL_DRAIN_MS / 1000, (LOCAL_DRAIN_MS % 1000) * 1000};
        j->drain_ev = engine_event_new(j->evbase, -1, 0, local_on_drain_timeout, j);
        evtimer_add(j->drain_ev, &tv);
    }
    local_job_maybe_finish(j);
}

static void
local_on_exit(evutil_socket_t fd, short what, void *arg)
{
    struct local_job *j = arg;
    siginfo_t info, reap;

    if (j->reaped)
        return;
    /* Look without reaping: while the shell is a zombie its pid keeps the
     * group id from being reused, so the group can be killed safely. */
    if (local_job_waitid(j, &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        if (errno == EINTR)
            return;
        /* Someone else reaped it (SIGCHLD ignored?): the group id is no
         * longer ours to signal. */
        j->exit_code = -1;
        free(j->error);
        j->error = xasprintf("lost the job process: %s", strerror(errno));
        proc_guard_forget(j->guard, j->pid);
        local_job_reaped(j);
        return;
    }
    if (info.si_pid == 0)
        return;

    /* Background processes of the script must not outlive it or keep the
     * pipe open. */
    kill(-j->pid, SIGKILL);
    if (info.si_code == CLD_EXITED)
        j->exit_code = info.si_status;
    else
        j->exit_code = 128 + info.si_status;
    /* A zombie: reaped at once (later, from the loop, should it not be). */
    if (local_job_waitid(j, &reap, WEXITED | WNOHANG) != 0 || reap.si_pid == 0)
        local_reap_later(j->engine, j->pid);
    else
        proc_guard_forget(j->guard, j->pid);
    log_debug("engine", "job process ended job=%s pid=%d exit=%d", j->job_id, (int)j->pid,
              j->exit_code);
    local_job_reaped(j);
}

static void
local_on_kill_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct local_job *j = arg;

    if (!j->reaped) {
        log_info("engine", "job did not stop in time, killing it job=%s pid=%d", j->job_id,
                 (int)j->pid);
        kill(-j->pid, SIGKILL);
    }
}

static void
local_on_done(evutil_socket_t fd, short what, void *arg)
{
    struct local_job *j = arg;
    void (*done)(void *, int, const char *) = j->cb.done;
    void *cbarg = j->arg;
    int code = j->exit_code;
    /* Owned here, so that it stays valid even if `done` frees the job. */
    char *error = j->error;

    j->error = NULL;
    j->done_called = true;
    done(cbarg, code, error);
    free(error);
}

/* ops->start: NULL only when the spec has no script or workspace, or there is
 * no `done`; every other failure is reported by `done` from the loop. */
static engine_job_t *
local_start(engine_t *e, const engine_job_spec_t *spec, const engine_callbacks_t *cb, void *arg)
{
    struct local_engine *le = (struct local_engine *)e;
    struct local_job *j;
    struct timeval poll_tv = {0, LOCAL_POLL_MS * 1000};
    char *err = NULL;

    if (spec->script == NULL || spec->workspace == NULL || cb->done == NULL)
        return NULL;

    j = xcalloc(1, sizeof(*j));
    j->engine = le;
    j->evbase = le->evbase;
    j->guard = le->guard;
    j->cb = *cb;
    j->arg = arg;
    j->job_id = xstrdup(spec->job_id != NULL ? spec->job_id : "");
    j->pid = -1;
    j->out_fd = -1;
    j->marks_fd = -1;
    j->pidfd = -1;
    j->done_ev = engine_event_new(j->evbase, -1, 0, local_on_done, j);
    j->kill_ev = engine_event_new(j->evbase, -1, 0, local_on_kill_timeout, j);

    if (local_spawn(spec, j->guard, &j->pid, &j->out_fd, &j->marks_fd, &err) != 0) {
        /* The caller logs it when `done` reports it. */
        log_debug("engine", "could not start job: %s job=%s", err, j->job_id);
        j->exit_code = -1;
        j->error = err;
        j->reaped = true;
        /* `done` comes from the loop, never from inside start. */
        local_job_schedule_done(j);
        return &j->base;
    }

    j->out_ev = engine_event_new(j->evbase, j->out_fd, EV_READ | EV_PERSIST, local_on_output, j);
    event_add(j->out_ev, NULL);
    j->marks_ev = engine_event_new(j->evbase, j->marks_fd, EV_READ | EV_PERSIST, local_on_marks, j);
    event_add(j->marks_ev, NULL);

    j->pidfd = (int)syscall(SYS_pidfd_open, j->pid, 0);
    if (j->pidfd >= 0) {
        /* Level-triggered: stays readable until the shell is reaped. */
        j->exit_ev = engine_event_new(j->evbase, j->pidfd, EV_READ | EV_PERSIST, local_on_exit, j);
        event_add(j->exit_ev, NULL);
    } else {
        j->pidfd = -1;
        j->exit_ev = engine_event_new(j->evbase, -1, EV_PERSIST, local_on_exit, j);
        event_add(j->exit_ev, &poll_tv);
    }
    log_debug("engine", "job started job=%s pid=%d pidfd=%s", j->job_id, (int)j->pid,
              j->pidfd >= 0 ? "yes" : "no");
    return &j->base;
}

static void
local_stop(engine_job_t *job, int grace_seconds)
{
    struct local_job *j = (struct local_job *)job;
    struct timeval tv = {grace_seconds > 0 ? grace_seconds : 0, 0};

    if (j->reaped || j->stopping)
        return;
    j->stopping = true;
    kill(-j->pid, SIGTERM);
    if (grace_seconds <= 0)
        kill(-j->pid, SIGKILL);
    else
        evtimer_add(j->kill_ev, &tv);
}

/* ops->job_release: kill what is left, release every resource but the
 * memory (the caller may be inside one of the job's callbacks). */
static void
local_job_release(engine_job_t *job)
{
    local_job_teardown((struct local_job *)job);
}

static void
local_job_destroy(engine_job_t *job)
{
    struct local_job *j = (struct local_job *)job;

    local_job_teardown(j);
    free(j->error);
    free(j->job_id);
    free(j);
}

/* Shells still to reap stay on the guard's list, so freeing the guard
 * kills their groups (again); they are reaped with this process's end. */
static void
local_destroy(engine_t *e)
{
    struct local_engine *le = (struct local_engine *)e;

    while (le->orphans != NULL) {
        struct local_orphan *o = le->orphans;
        le->orphans = o->next;
        free(o);
    }
    event_free(le->reap_ev);
    proc_guard_free(le->guard);
    free(le);
}

/* No ping (the machine can always run a process) and no cleanup (a local
 * job leaves nothing behind once its process group is gone). */
static const engine_ops_t local_ops = {
    .name = "local",
    .start = local_start,
    .stop = local_stop,
    .job_release = local_job_release,
    .job_destroy = local_job_destroy,
    .destroy = local_destroy,
};

/*
 * A new local engine driven by base (borrowed; it must outlive the engine and
 * its jobs), with its guard process (forked here: make the engine before
 * other threads or connections exist). Free it with engine_free after
 * freeing its jobs.
 */
engine_t *
engine_local_new(struct event_base *base)
{
    struct local_engine *le;

    if (base == NULL)
        return NULL;
    le = xcalloc(1, sizeof(*le));
    engine_init(&le->base, &local_ops, base);
    le->evbase = base;
    le->reap_ev = engine_event_new(base, -1, 0, local_on_reap, le);
    le->guard = proc_guard_new();
    return &le->base;
}
