/*
 * local_spawn - fork and exec the shell of a local job (engine_local.c): the
 * child's set-up between fork and exec (process group, guard, workspace,
 * descriptors, signals), and the status pipe that tells the parent whether
 * the exec happened.
 */
#include "local_spawn.h"

#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define LOCAL_DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

void
local_spawn_close(int *fd)
{
    if (*fd >= 0) {
        close(*fd);
        *fd = -1;
    }
}

/* Where the child failed before exec; sent through the status pipe. */
enum local_stage { LOCAL_STAGE_PGID, LOCAL_STAGE_CHDIR, LOCAL_STAGE_FDS, LOCAL_STAGE_EXEC };

struct local_child_error {
    int stage;
    int err;
};

static void local_child_fail(int status_fd, enum local_stage stage) __attribute__((noreturn));
static void local_child(int out_w, int marks_w, int status_w, int devnull, int guard_fd,
                        const char *workspace, char *const argv[], char *const envp[])
    __attribute__((noreturn));

/* In the child between fork and exec: only async-signal-safe calls. */
static void
local_child_fail(int status_fd, enum local_stage stage)
{
    struct local_child_error ce = {.stage = (int)stage, .err = errno};
    ssize_t n;

    do {
        n = write(status_fd, &ce, sizeof(ce));
    } while (n < 0 && errno == EINTR);
    _exit(127);
}

static void
local_child_close_from(int lowfd)
{
    struct rlimit rl;

    if (close_range((unsigned int)lowfd, ~0U, 0) == 0)
        return;
    /* Kernels before 5.9 have no close_range. */
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > 1048576)
        rl.rlim_cur = 1048576;
    for (int fd = lowfd; fd < (int)rl.rlim_cur; fd++)
        close(fd);
}

static void
local_child(int out_w, int marks_w, int status_w, int devnull, int guard_fd, const char *workspace,
            char *const argv[], char *const envp[])
{
    struct sigaction dfl;
    sigset_t none;
    int o, m, n, s;

    /* Signals are blocked (see local_spawn) until exec, so no handler of the
     * parent runs here; dispositions go back to the defaults, including what
     * the parent ignored (SIGPIPE), since ignored signals survive exec. */
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigemptyset(&dfl.sa_mask);
    for (int sig = 1; sig < NSIG; sig++)
        if (sig != SIGKILL && sig != SIGSTOP)
            (void)sigaction(sig, &dfl, NULL);

    if (setpgid(0, 0) != 0)
        local_child_fail(status_w, LOCAL_STAGE_PGID);
    /* Before the job can do anything: from here on the group dies with the
     * worker. */
    proc_guard_child_add(guard_fd);
    if (chdir(workspace) != 0)
        local_child_fail(status_w, LOCAL_STAGE_CHDIR);

    /* Move everything above 4 first, so that the dup2s below cannot clobber
     * an fd still needed (the parent may have had stdio closed). The shell
     * gets stdin /dev/null, stdout and stderr the output pipe, 3 the marks
     * pipe; 4 is the status pipe, closed by the exec. */
    s = fcntl(status_w, F_DUPFD_CLOEXEC, 5);
    if (s >= 0)
        status_w = s;
    o = fcntl(out_w, F_DUPFD_CLOEXEC, 5);
    m = fcntl(marks_w, F_DUPFD_CLOEXEC, 5);
    n = fcntl(devnull, F_DUPFD_CLOEXEC, 5);
    if (o < 0 || m < 0 || n < 0 || s < 0)
        local_child_fail(status_w, LOCAL_STAGE_FDS);
    if (dup2(n, 0) < 0 || dup2(o, 1) < 0 || dup2(o, 2) < 0 || dup2(m, 3) < 0)
        local_child_fail(status_w, LOCAL_STAGE_FDS);
    if (dup3(status_w, 4, O_CLOEXEC) < 0)
        local_child_fail(status_w, LOCAL_STAGE_FDS);
    status_w = 4;
    local_child_close_from(5);

    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve("/bin/sh", argv, envp);
    local_child_fail(status_w, LOCAL_STAGE_EXEC);
}

/*
 * vfork, not fork: the parent waits for the exec anyway (the status pipe),
 * and vfork copies no page tables, so a job starts sooner and the loop is
 * held up for less. The child runs on the parent's memory until its exec:
 * it only makes system calls and writes its own frame. A function of its
 * own, so that no variable of the caller can be clobbered.
 */
static pid_t __attribute__((noinline))
local_vfork(int out_w, int marks_w, int status_w, int devnull, int guard_fd, const char *workspace,
            char *const argv[], char *const envp[])
{
    pid_t pid = vfork();

    if (pid == 0)
        local_child(out_w, marks_w, status_w, devnull, guard_fd, workspace, argv, envp);
    return pid;
}

static char *
local_child_error_text(const struct local_child_error *ce, const char *workspace)
{
    switch (ce->stage) {
    case LOCAL_STAGE_PGID:
        return xasprintf("could not create a process group: %s", strerror(ce->err));
    case LOCAL_STAGE_CHDIR:
        return xasprintf("could not enter workspace \"%s\": %s", workspace, strerror(ce->err));
    case LOCAL_STAGE_FDS:
        return xasprintf("could not set up the output of the job: %s", strerror(ce->err));
    default:
        return xasprintf("could not run /bin/sh: %s", strerror(ce->err));
    }
}

void
local_waitpid_blocking(pid_t pid)
{
    int status;

    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
}

/*
 * Fork and exec the shell of a job. On success *pid_out and *out_fd are set
 * and 0 is returned; on failure -1 with *err set (caller frees), and no
 * process is left behind.
 */
int
local_spawn(const engine_job_spec_t *spec, proc_guard_t *guard, pid_t *pid_out, int *out_fd,
            int *marks_fd, char **err)
{
    const char **envp = NULL;
    const char *argv[5] = {"sh", "-e", "-c", spec->script, NULL};
    int outp[2] = {-1, -1};
    int marksp[2] = {-1, -1};
    int statusp[2] = {-1, -1};
    int devnull = -1;
    size_t nenv = 0;
    bool has_path = false;
    sigset_t all, old;
    struct local_child_error ce;
    ssize_t n;
    pid_t pid;
    int rc = -1;

    /* Everything the child needs is built here: after fork only
     * async-signal-safe calls are allowed. */
    while (spec->env != NULL && spec->env[nenv] != NULL) {
        if (strncmp(spec->env[nenv], "PATH=", 5) == 0)
            has_path = true;
        nenv++;
    }
    envp = xcalloc(nenv + 2, sizeof(*envp));
    for (size_t i = 0; i < nenv; i++)
        envp[i] = spec->env[i];
    if (!has_path)
        envp[nenv] = LOCAL_DEFAULT_PATH;

    if (pipe2(outp, O_CLOEXEC) != 0 || pipe2(marksp, O_CLOEXEC) != 0 ||
        pipe2(statusp, O_CLOEXEC) != 0) {
        *err = xasprintf("could not create a pipe: %s", strerror(errno));
        goto fail;
    }
    devnull = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (devnull < 0) {
        *err = xasprintf("could not open \"/dev/null\": %s", strerror(errno));
        goto fail;
    }

    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    pid = local_vfork(outp[1], marksp[1], statusp[1], devnull, proc_guard_fd(guard),
                      spec->workspace, (char *const *)argv, (char *const *)envp);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (pid < 0) {
        *err = xasprintf("could not start a process: %s", strerror(errno));
        goto fail;
    }
    /* Also here, so that the group exists whichever process runs first. It
     * fails with EACCES once the child has exec'd, which is fine. */
    (void)setpgid(pid, pid);
    local_spawn_close(&outp[1]);
    local_spawn_close(&marksp[1]);
    local_spawn_close(&statusp[1]);
    local_spawn_close(&devnull);

    do {
        n = read(statusp[0], &ce, sizeof(ce));
    } while (n < 0 && errno == EINTR);
    if (n != 0) {
        if (n == (ssize_t)sizeof(ce)) {
            *err = local_child_error_text(&ce, spec->workspace);
        } else {
            *err = xasprintf("could not learn whether the job started: %s",
                             n < 0 ? strerror(errno) : "short read");
            kill(pid, SIGKILL);
        }
        local_waitpid_blocking(pid);
        proc_guard_forget(guard, pid);
        goto fail;
    }
    if (fcntl(outp[0], F_SETFL, O_NONBLOCK) != 0 || fcntl(marksp[0], F_SETFL, O_NONBLOCK) != 0) {
        *err = xasprintf("could not set up the output of the job: %s", strerror(errno));
        kill(-pid, SIGKILL);
        local_waitpid_blocking(pid);
        proc_guard_forget(guard, pid);
        goto fail;
    }

    *pid_out = pid;
    *out_fd = outp[0];
    outp[0] = -1;
    *marks_fd = marksp[0];
    marksp[0] = -1;
    rc = 0;
fail:
    local_spawn_close(&outp[0]);
    local_spawn_close(&outp[1]);
    local_spawn_close(&marksp[0]);
    local_spawn_close(&marksp[1]);
    local_spawn_close(&statusp[0]);
    local_spawn_close(&statusp[1]);
    local_spawn_close(&devnull);
    free(envp);
    return rc;
}
