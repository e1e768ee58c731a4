/*
 * check_engine_local - unit tests of the local engine: real /bin/sh jobs
 * driven by a real event loop, one loop per job with a safety timeout.
 */
#include "engine.h"
#include "util.h"

#include <check.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <unistd.h>

/* Longest any single job may take before the test gives up on it. */
#define RUN_TIMEOUT_S 15

struct run {
    struct event_base *base;
    engine_job_t *job;
    buf_t out;
    buf_t marks;
    int done_calls;
    int exit_code;
    char *error;
    bool in_start;
    bool done_in_start;
    bool timed_out;
    bool free_in_done;
    /* Stop the job (once) when this text appears in the output. */
    const char *stop_on;
    int stop_grace;
    int stops;
    int64_t stop_ms;
    /* Break out of the loop when the output holds a full line. */
    bool break_on_line;
    /* Free the job from inside the output callback. */
    bool free_in_output;
    int64_t start_ms;
    int64_t done_ms;
};

static struct event_base *base;
static engine_t *engine;
static char workspace[] = "/tmp/check_engine_local.XXXXXX";

static void
on_output(void *arg, const char *data, size_t len)
{
    struct run *r = arg;

    buf_append(&r->out, data, len);
    if (r->stop_on != NULL && r->stops == 0 && strstr(r->out.data, r->stop_on) != NULL) {
        r->stop_ms = gw_now_ms();
        engine_job_stop(r->job, r->stop_grace);
        /* A second stop must change nothing. */
        engine_job_stop(r->job, r->stop_grace);
        r->stops++;
    }
    if (r->break_on_line && memchr(r->out.data, '\n', r->out.len) != NULL)
        event_base_loopbreak(r->base);
    if (r->free_in_output) {
        engine_job_free(r->job);
        r->job = NULL;
        event_base_loopbreak(r->base);
    }
}

static void
on_marks(void *arg, const char *data, size_t len)
{
    struct run *r = arg;

    ck_assert_int_eq(r->done_calls, 0);
    buf_append(&r->marks, data, len);
}

static void
on_done(void *arg, int exit_code, const char *error)
{
    struct run *r = arg;

    if (r->in_start)
        r->done_in_start = true;
    r->done_calls++;
    r->done_ms = gw_now_ms();
    r->exit_code = exit_code;
    free(r->error);
    r->error = error != NULL ? xstrdup(error) : NULL;
    if (r->free_in_done) {
        engine_job_free(r->job);
        r->job = NULL;
        /* The error stays readable after the job was freed. */
        if (error != NULL)
            ck_assert_uint_gt(strlen(error), 0);
    }
    event_base_loopbreak(r->base);
}

static void
on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct run *r = arg;

    r->timed_out = true;
    event_base_loopbreak(r->base);
}

static void
run_init(struct run *r)
{
    memset(r, 0, sizeof(*r));
    r->base = base;
    r->exit_code = -2;
    buf_init(&r->out);
    buf_init(&r->marks);
}

static void
run_clear(struct run *r)
{
    engine_job_free(r->job);
    r->job = NULL;
    buf_free(&r->out);
    buf_free(&r->marks);
    free(r->error);
    r->error = NULL;
}

/* Run the loop until `done`, a break from a callback, or the safety timeout. */
static void
run_loop(struct run *r, int timeout_s)
{
    struct timeval tv = {timeout_s, 0};
    struct event *t = evtimer_new(base, on_timeout, r);

    ck_assert_ptr_nonnull(t);
    evtimer_add(t, &tv);
    event_base_dispatch(base);
    event_free(t);
}

static void
run_start(struct run *r, const char *script, const char *const *env, const char *ws)
{
    static const char *const no_env[] = {NULL};
    engine_job_spec_t spec = {
        .job_id = "00000000-0000-0000-0000-000000000001",
        .run_id = "00000000-0000-0000-0000-000000000002",
        .runner_id = "test",
        .image = "ignored:latest",
        .script = script,
        .env = env != NULL ? env : no_env,
        .workspace = ws != NULL ? ws : workspace,
    };
    engine_callbacks_t cb = {.output = on_output, .done = on_done, .marks = on_marks};

    r->start_ms = gw_now_ms();
    r->in_start = true;
    r->job = engine_job_start(engine, &spec, &cb, r);
    r->in_start = false;
    ck_assert_ptr_nonnull(r->job);
    ck_assert_int_eq(r->done_calls, 0);
}

/* Start a job and run it to its end; asserts `done` came exactly once. */
static void
run_job(struct run *r, const char *script, const char *const *env, const char *ws)
{
    run_start(r, script, env, ws);
    run_loop(r, RUN_TIMEOUT_S);
    ck_assert_msg(!r->timed_out, "job did not end in %d s: %s", RUN_TIMEOUT_S, script);
    ck_assert_int_eq(r->done_calls, 1);
    ck_assert(!r->done_in_start);
}

static int
count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;

    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL)
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Whether every child of this process but the engine's guard was reaped:
 * no zombie among them, and the guard the one child left. */
static bool
only_the_guard_left(void)
{
    char path[64];
    FILE *f;
    int pid, n = 0;

    if (waitpid(-1, NULL, WNOHANG) != 0)
        return false;
    snprintf(path, sizeof(path), "/proc/self/task/%d/children", (int)getpid());
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fscanf(f, "%d", &pid) == 1)
        n++;
    fclose(f);
    return n == 1;
}

/* Whether a process of group pgid is alive (zombies do not count: PID 1 of a
 * container may never reap the orphans). */
static bool
group_alive(pid_t pgid)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    bool alive = false;

    ck_assert_ptr_nonnull(d);
    while (!alive && (de = readdir(d)) != NULL) {
        char path[300], line[1024];
        FILE *f;
        char *p;
        char state;
        int ppid, pgrp;

        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
        f = fopen(path, "r");
        if (f == NULL)
            continue;
        p = fgets(line, sizeof(line), f) != NULL ? strrchr(line, ')') : NULL;
        fclose(f);
        if (p != NULL && sscanf(p + 1, " %c %d %d", &state, &ppid, &pgrp) == 3 && pgrp == pgid &&
            state != 'Z' && state != 'X')
            alive = true;
    }
    closedir(d);
    return alive;
}

/* Whether pid is a child of this process not reaped yet (running or a
 * zombie). */
static bool
unreaped(pid_t pid)
{
    siginfo_t info;

    memset(&info, 0, sizeof(info));
    return waitid(P_PID, (id_t)pid, &info, WEXITED | WNOHANG | WNOWAIT) == 0;
}

/* Run the loop until pid was reaped (by the engine), at most ms. */
static bool
reaped_by_loop_within(pid_t pid, int ms)
{
    int64_t end = gw_now_ms() + ms;

    while (unreaped(pid)) {
        struct timeval tv = {0, 10000};
        if (gw_now_ms() > end)
            return false;
        event_base_loopexit(base, &tv);
        event_base_dispatch(base);
    }
    return true;
}

static bool
group_gone_within(pid_t pgid, int ms)
{
    int64_t end = gw_now_ms() + ms;

    while (group_alive(pgid)) {
        if (gw_now_ms() > end)
            return false;
        usleep(10000);
    }
    return true;
}

static void
setup(void)
{
    ck_assert_ptr_nonnull(mkdtemp(workspace));
    base = event_base_new();
    ck_assert_ptr_nonnull(base);
    engine = engine_local_new(base);
    ck_assert_ptr_nonnull(engine);
}

static void
teardown(void)
{
    engine_free(engine);
    engine = NULL;
    event_base_free(base);
    base = NULL;
    rmdir(workspace);
    memcpy(workspace + strlen(workspace) - 6, "XXXXXX", 6);
}

/* Answers of the engine as a whole, with how many came. */
struct answers {
    int pings;
    const char *problem;
    int cleanups;
    int removed;
};

static void
on_ping(void *arg, const char *problem)
{
    struct answers *a = arg;

    a->pings++;
    a->problem = problem;
}

static void
on_cleanup(void *arg, int removed)
{
    struct answers *a = arg;

    a->cleanups++;
    a->removed = removed;
}

START_TEST(test_name_ping_and_cleanup)
{
    struct answers a = {.problem = "unset", .removed = -2};

    ck_assert_str_eq(engine_name(engine), "local");
    engine_ping_start(engine, on_ping, &a);
    engine_cleanup_start(engine, NULL, on_cleanup, &a);
    /* From the loop, never from inside the call. */
    ck_assert_int_eq(a.pings + a.cleanups, 0);
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(a.pings, 1);
    ck_assert_ptr_null(a.problem);
    ck_assert_int_eq(a.cleanups, 1);
    ck_assert_int_eq(a.removed, 0);
    /* Not answered before the engine is freed: never. */
    engine_ping_start(engine, on_ping, &a);
    engine_free(engine);
    engine = engine_local_new(base);
    event_base_loop(base, EVLOOP_NONBLOCK);
    ck_assert_int_eq(a.pings, 1);
    ck_assert_ptr_null(engine_local_new(NULL));
}
END_TEST

START_TEST(test_exit_zero)
{
    struct run r;

    run_init(&r);
    run_job(&r, "echo hello", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_ptr_null(r.error);
    ck_assert_str_eq(r.out.data, "hello\n");
    run_clear(&r);
}
END_TEST

START_TEST(test_exit_three)
{
    struct run r;

    run_init(&r);
    run_job(&r, "echo before\nexit 3", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 3);
    ck_assert_ptr_null(r.error);
    ck_assert_str_eq(r.out.data, "before\n");
    run_clear(&r);
}
END_TEST

START_TEST(test_errexit)
{
    struct run r;

    run_init(&r);
    run_job(&r, "false\necho after", NULL, NULL);
    ck_assert_int_ne(r.exit_code, 0);
    ck_assert_int_gt(r.exit_code, 0);
    ck_assert_ptr_null(strstr(r.out.data != NULL ? r.out.data : "", "after"));
    run_clear(&r);
}
END_TEST

/* Descriptor 3 is a channel of its own: what the shell writes there comes
 * by `marks`, all of it before `done`, and never in the output. */
START_TEST(test_marks)
{
    struct run r;

    run_init(&r);
    run_job(&r, "echo out; echo 1 >&3; echo err >&2; printf 2 >&3; printf '\\n' >&3; exit 4", NULL,
            NULL);
    ck_assert_int_eq(r.exit_code, 4);
    ck_assert_str_eq(r.out.data, "out\nerr\n");
    ck_assert_str_eq(r.marks.data, "1\n2\n");
    run_clear(&r);
}
END_TEST

START_TEST(test_output_order)
{
    struct run r;

    run_init(&r);
    run_job(&r, "echo a; echo b >&2; echo c", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data, "a\nb\nc\n");
    run_clear(&r);

    /* Many alternations, to make a lucky ordering unlikely. */
    run_init(&r);
    run_job(&r, "i=0; while [ $i -lt 200 ]; do echo o$i; echo e$i >&2; i=$((i+1)); done", NULL,
            NULL);
    ck_assert_int_eq(r.exit_code, 0);
    {
        buf_t want;
        buf_init(&want);
        for (int i = 0; i < 200; i++)
            buf_printf(&want, "o%d\ne%d\n", i, i);
        ck_assert_str_eq(r.out.data, want.data);
        buf_free(&want);
    }
    run_clear(&r);
}
END_TEST

START_TEST(test_large_output)
{
    struct run r;

    run_init(&r);
    run_job(&r, "head -c 1000000 /dev/zero | tr '\\0' x; echo end >&2", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_uint_eq(r.out.len, 1000000 + 4);
    for (size_t i = 0; i < 1000000; i++)
        if (r.out.data[i] != 'x')
            ck_abort_msg("byte %zu is %d, not 'x'", i, r.out.data[i]);
    ck_assert_str_eq(r.out.data + 1000000, "end\n");
    run_clear(&r);
}
END_TEST

START_TEST(test_env)
{
    static const char *const env[] = {"FOO=bar", "EMPTY=", NULL};
    static const char *const env_path[] = {"PATH=/nonexistent", NULL};
    struct run r;

    ck_assert_int_eq(setenv("GW_CHECK_ENGINE_LOCAL_SECRET", "leaked", 1), 0);
    run_init(&r);
    run_job(&r,
            "echo \"FOO=$FOO\"\necho \"SECRET=${GW_CHECK_ENGINE_LOCAL_SECRET-unset}\"\n"
            "echo \"EMPTY=${EMPTY-unset}\"\necho \"PATH=$PATH\"",
            env, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data,
                     "FOO=bar\nSECRET=unset\nEMPTY=\n"
                     "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n");
    run_clear(&r);

    /* A PATH of the spec is used as it is, and nothing else is added. */
    run_init(&r);
    run_job(&r, "echo \"PATH=$PATH\"; echo \"FOO=${FOO-unset}\"", env_path, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data, "PATH=/nonexistent\nFOO=unset\n");
    run_clear(&r);
    unsetenv("GW_CHECK_ENGINE_LOCAL_SECRET");
}
END_TEST

START_TEST(test_workspace_is_cwd)
{
    char real[PATH_MAX];
    char *want;
    struct run r;

    ck_assert_ptr_nonnull(realpath(workspace, real));
    want = xasprintf("%s\n", real);
    run_init(&r);
    run_job(&r, "pwd", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data, want);
    run_clear(&r);
    free(want);
}
END_TEST

START_TEST(test_bad_workspace)
{
    char *missing = xasprintf("%s/missing", workspace);
    struct run r;

    run_init(&r);
    r.free_in_done = true;
    run_job(&r, "echo never", NULL, missing);
    ck_assert_int_eq(r.exit_code, -1);
    ck_assert_ptr_nonnull(r.error);
    ck_assert_ptr_nonnull(strstr(r.error, "could not enter workspace"));
    ck_assert_ptr_nonnull(strstr(r.error, missing));
    ck_assert_uint_eq(r.out.len, 0);
    /* The failed child was reaped. */
    ck_assert(only_the_guard_left());
    run_clear(&r);
    free(missing);
}
END_TEST

START_TEST(test_child_state)
{
    char *script;
    int fd, saved_stdin, p[2];
    sigset_t usr1, old_mask;
    struct sigaction ign, old_pipe;
    struct run r;

    /* An fd of the worker without O_CLOEXEC, an ignored and a blocked signal:
     * none of them may reach the job. */
    fd = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(fd, 0);
    /* A stdin that would block a reader: the job must get /dev/null. */
    ck_assert_int_eq(pipe(p), 0);
    saved_stdin = dup(0);
    ck_assert_int_ge(saved_stdin, 0);
    ck_assert_int_eq(dup2(p[0], 0), 0);
    memset(&ign, 0, sizeof(ign));
    ign.sa_handler = SIG_IGN;
    ck_assert_int_eq(sigaction(SIGPIPE, &ign, &old_pipe), 0);
    sigemptyset(&usr1);
    sigaddset(&usr1, SIGUSR1);
    ck_assert_int_eq(sigprocmask(SIG_BLOCK, &usr1, &old_mask), 0);

    /* The shell reads its own signal mask with builtins: a child it forks
     * (grep) could catch it between fork and the restore of its mask, as
     * dash blocks every signal around fork. */
    script = xasprintf("if [ -e /proc/$$/fd/%d ]; then echo leaked; fi\n"
                       "readlink /proc/$$/fd/0\ncat\n"
                       "[ \"$(cut -d ' ' -f 5 /proc/$$/stat)\" = $$ ] && echo leader\n"
                       "while read -r k v; do case $k in SigBlk:|SigIgn:)"
                       " printf '%%s\\t%%s\\n' \"$k\" \"$v\";; esac; done </proc/$$/status",
                       fd);
    run_init(&r);
    run_job(&r, script, NULL, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_str_eq(r.out.data, "/dev/null\nleader\n"
                                 "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n");
    run_clear(&r);
    free(script);

    sigprocmask(SIG_SETMASK, &old_mask, NULL);
    sigaction(SIGPIPE, &old_pipe, NULL);
    dup2(saved_stdin, 0);
    close(saved_stdin);
    close(p[0]);
    close(p[1]);
    close(fd);
}
END_TEST

START_TEST(test_stop_term)
{
    struct run r;

    run_init(&r);
    r.stop_on = "ready\n";
    r.stop_grace = 10;
    run_job(&r, "echo ready; sleep 100", NULL, NULL);
    ck_assert_int_eq(r.stops, 1);
    ck_assert_int_eq(r.exit_code, 128 + SIGTERM);
    ck_assert_int_lt(r.done_ms - r.stop_ms, 2000);
    /* After the end, stop is a no-op. */
    engine_job_stop(r.job, 0);
    engine_job_stop(r.job, 5);
    run_clear(&r);
}
END_TEST

START_TEST(test_stop_kill_after_grace)
{
    struct run r;

    run_init(&r);
    r.stop_on = "ready\n";
    r.stop_grace = 1;
    run_job(&r, "trap '' TERM; echo ready; sleep 100", NULL, NULL);
    ck_assert_int_eq(r.stops, 1);
    ck_assert_int_eq(r.exit_code, 128 + SIGKILL);
    ck_assert_int_ge(r.done_ms - r.stop_ms, 900);
    ck_assert_int_lt(r.done_ms - r.stop_ms, 3000);
    run_clear(&r);
}
END_TEST

START_TEST(test_stop_no_grace)
{
    struct run r;

    run_init(&r);
    r.stop_on = "ready\n";
    r.stop_grace = 0;
    run_job(&r, "trap '' TERM; echo ready; sleep 100", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 128 + SIGKILL);
    ck_assert_int_lt(r.done_ms - r.stop_ms, 1000);
    run_clear(&r);
}
END_TEST

START_TEST(test_background_child)
{
    struct run r;
    long pgid;

    run_init(&r);
    run_job(&r, "echo $$; sleep 100 & echo started", NULL, NULL);
    ck_assert_int_eq(r.exit_code, 0);
    ck_assert_int_lt(r.done_ms - r.start_ms, 1000);
    ck_assert_ptr_nonnull(strstr(r.out.data, "\nstarted\n"));
    pgid = strtol(r.out.data, NULL, 10);
    ck_assert_int_gt(pgid, 1);
    /* The background sleep was killed with the group. */
    ck_assert(group_gone_within((pid_t)pgid, 2000));
    run_clear(&r);
}
END_TEST

/* Output callback of the owner killed below: once the job's processes are
 * all started, pass the output (its first line: the group id) to the test
 * and die at once, as a worker does on SIGKILL or OOM. */
static int killed_owner_fd = -1;

static void
on_output_then_die(void *arg, const char *data, size_t len)
{
    buf_t *out = arg;

    buf_append(out, data, len);
    if (strstr(out->data, "started\n") != NULL) {
        ssize_t n = write(killed_owner_fd, out->data, out->len);
        (void)n;
        kill(getpid(), SIGKILL);
    }
}

static void
on_done_ignored(void *arg, int exit_code, const char *error)
{
}

START_TEST(test_owner_killed)
{
    static const char *const no_env[] = {NULL};
    char text[256] = {0};
    int p[2], status;
    size_t got = 0;
    ssize_t n;
    long pgid;
    pid_t owner;

    ck_assert_int_eq(pipe(p), 0);
    owner = fork();
    ck_assert_int_ge(owner, 0);
    if (owner == 0) {
        /* An engine of this process's own: the fixture's belongs to the
         * test process. */
        struct event_base *b = event_base_new();
        engine_t *e = engine_local_new(b);
        engine_job_spec_t spec = {
            .job_id = "00000000-0000-0000-0000-000000000003",
            .script = "echo $$; sleep 100 & sleep 100 & echo started; wait",
            .env = no_env,
            .workspace = workspace,
        };
        engine_callbacks_t cb = {.output = on_output_then_die, .done = on_done_ignored};
        buf_t out;

        close(p[0]);
        killed_owner_fd = p[1];
        buf_init(&out);
        if (engine_job_start(e, &spec, &cb, &out) == NULL)
            _exit(2);
        event_base_dispatch(b);
        _exit(3);
    }
    close(p[1]);
    while (got < sizeof(text) - 1 && (n = read(p[0], text + got, sizeof(text) - 1 - got)) > 0)
        got += (size_t)n;
    close(p[0]);
    ck_assert_int_eq(waitpid(owner, &status, 0), owner);
    ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    pgid = strtol(text, NULL, 10);
    ck_assert_msg(pgid > 1, "no group id in [%s]", text);
    /* The job's shell and both background sleeps die with their owner. */
    ck_assert_msg(group_gone_within((pid_t)pgid, 2000), "the job's processes outlived its owner");
}
END_TEST

START_TEST(test_free_before_done)
{
    struct run r;
    long pgid;

    run_init(&r);
    r.break_on_line = true;
    run_start(&r, "echo $$; sleep 100 & sleep 100", NULL, NULL);
    run_loop(&r, RUN_TIMEOUT_S);
    ck_assert(!r.timed_out);
    pgid = strtol(r.out.data, NULL, 10);
    ck_assert_int_gt(pgid, 1);
    ck_assert(group_alive((pid_t)pgid));

    engine_job_free(r.job);
    r.job = NULL;
    /* No zombie: the loop reaps the shell, and the whole group is gone. */
    ck_assert(reaped_by_loop_within((pid_t)pgid, 2000));
    ck_assert(only_the_guard_left());
    ck_assert(group_gone_within((pid_t)pgid, 2000));

    /* Nothing of the job is left in the loop to call `done` later. */
    run_loop(&r, 1);
    ck_assert(r.timed_out);
    ck_assert_int_eq(r.done_calls, 0);
    run_clear(&r);
}
END_TEST

/*
 * A job freed while its shell cannot be reaped yet, as one in
 * uninterruptible sleep (D state) cannot: here a tracer holds the shell's
 * exit (a zombie that is traced is seen by its tracer only). The free
 * returns without waiting, and the loop reaps the shell once it can.
 */
START_TEST(test_free_does_not_wait)
{
    struct run r;
    int go[2], seized[2], status;
    pid_t tracer, pid;
    char c;

    run_init(&r);
    r.break_on_line = true;
    run_start(&r, "echo $$; sleep 100", NULL, NULL);
    run_loop(&r, RUN_TIMEOUT_S);
    ck_assert(!r.timed_out);
    pid = (pid_t)strtol(r.out.data, NULL, 10);
    ck_assert_int_gt(pid, 1);

    ck_assert_int_eq(pipe(go), 0);
    ck_assert_int_eq(pipe(seized), 0);
    tracer = fork();
    ck_assert_int_ge(tracer, 0);
    if (tracer == 0) {
        struct pollfd pfd = {.fd = go[0], .events = POLLIN};
        close(go[1]);
        close(seized[0]);
        if (ptrace(PTRACE_SEIZE, pid, NULL, NULL) != 0)
            _exit(2);
        if (write(seized[1], "s", 1) != 1)
            _exit(2);
        /* Hold the shell's exit until told, or give up after 10 s: the
         * free waited for it. */
        _exit(poll(&pfd, 1, 10000) == 1 ? 0 : 1);
    }
    close(go[0]);
    close(seized[1]);
    ck_assert_int_eq(read(seized[0], &c, 1), 1);
    close(seized[0]);

    engine_job_free(r.job);
    r.job = NULL;
    ck_assert(unreaped(pid));
    ck_assert_int_eq(write(go[1], "g", 1), 1);
    close(go[1]);
    ck_assert_int_eq(waitpid(tracer, &status, 0), tracer);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
                  "engine_job_free waited for the end of the job's shell (tracer status %d)",
                  status);
    ck_assert(reaped_by_loop_within(pid, RUN_TIMEOUT_S * 1000));
    ck_assert(only_the_guard_left());
    ck_assert_int_eq(r.done_calls, 0);
    run_clear(&r);
}
END_TEST

START_TEST(test_free_in_output)
{
    struct run r;
    pid_t pid;

    run_init(&r);
    r.free_in_output = true;
    run_start(&r, "echo $$; sleep 100", NULL, NULL);
    run_loop(&r, RUN_TIMEOUT_S);
    ck_assert(!r.timed_out);
    ck_assert_ptr_null(r.job);
    pid = (pid_t)strtol(r.out.data, NULL, 10);
    ck_assert(reaped_by_loop_within(pid, 2000));
    ck_assert(only_the_guard_left());
    run_loop(&r, 1);
    ck_assert(r.timed_out);
    ck_assert_int_eq(r.done_calls, 0);
    run_clear(&r);
}
END_TEST

START_TEST(test_no_fd_leak)
{
    static const char *const scripts[] = {
        "echo a; echo b >&2",
        "exit 3",
        "sleep 100 & echo started",
        "head -c 200000 /dev/zero | tr '\\0' y",
    };
    struct run r;
    int before;

    /* Counted around a whole loop of its own, so that the base's fds do not
     * count. */
    engine_free(engine);
    event_base_free(base);
    before = count_fds();
    base = event_base_new();
    engine = engine_local_new(base);

    for (size_t i = 0; i < GW_ARRAY_LEN(scripts); i++) {
        run_init(&r);
        r.free_in_done = (i % 2) == 0;
        run_job(&r, scripts[i], NULL, NULL);
        run_clear(&r);
    }
    run_init(&r);
    run_job(&r, "true", NULL, "/nonexistent/workspace");
    ck_assert_int_eq(r.exit_code, -1);
    run_clear(&r);

    run_init(&r);
    r.stop_on = "ready";
    r.stop_grace = 1;
    run_job(&r, "echo ready; sleep 100", NULL, NULL);
    run_clear(&r);

    run_init(&r);
    r.break_on_line = true;
    run_start(&r, "echo x; sleep 100", NULL, NULL);
    run_loop(&r, RUN_TIMEOUT_S);
    run_clear(&r);

    engine_free(engine);
    event_base_free(base);
    ck_assert_int_eq(count_fds(), before);
    base = event_base_new();
    engine = engine_local_new(base);
}
END_TEST

static Suite *
engine_local_suite(void)
{
    Suite *s = suite_create("engine_local");
    TCase *tc = tcase_create("jobs");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_name_ping_and_cleanup);
    tcase_add_test(tc, test_exit_zero);
    tcase_add_test(tc, test_exit_three);
    tcase_add_test(tc, test_errexit);
    tcase_add_test(tc, test_marks);
    tcase_add_test(tc, test_output_order);
    tcase_add_test(tc, test_large_output);
    tcase_add_test(tc, test_env);
    tcase_add_test(tc, test_workspace_is_cwd);
    tcase_add_test(tc, test_bad_workspace);
    tcase_add_test(tc, test_child_state);
    tcase_add_test(tc, test_stop_term);
    tcase_add_test(tc, test_stop_kill_after_grace);
    tcase_add_test(tc, test_stop_no_grace);
    tcase_add_test(tc, test_background_child);
    tcase_add_test(tc, test_owner_killed);
    tcase_add_test(tc, test_free_before_done);
    tcase_add_test(tc, test_free_does_not_wait);
    tcase_add_test(tc, test_free_in_output);
    tcase_add_test(tc, test_no_fd_leak);
    suite_add_tcase(s, tc);
    return s;
}

int
main(void)
{
    SRunner *sr = srunner_create(engine_local_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
