/*
 * proc_guard - kill the local engine's process groups when their owner dies.
 * See proc_guard.h.
 */
#include "proc_guard.h"

#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

/* One record on the socket: small enough never to be split or
 * interleaved. */
struct proc_guard_rec {
    int32_t add; /* 1: add the group, 0: forget it */
    int32_t pgid;
};

struct proc_guard {
    pid_t pid;
    int fd; /* write end, close-on-exec */
};

static void
proc_guard_write(int fd, const struct proc_guard_rec *rec)
{
    ssize_t n;

    /* A socket, not a pipe: MSG_NOSIGNAL keeps a dead guard from raising
     * SIGPIPE in a process that does not ignore it. */
    do {
        n = send(fd, rec, sizeof(*rec), MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
}

/* The guard process: collect groups until the socket ends, then kill them. */
static void __attribute__((noreturn)) proc_guard_main(int rfd)
{
    struct sigaction sa;
    struct proc_guard_rec rec;
    sigset_t none;
    pid_t *groups = NULL;
    size_t n = 0, cap = 0;
    ssize_t got;

    /* No handler of the owner may run here (libevent's would write to the
     * owner's signal socket). Signals meant for the owner's process group
     * (a terminal's ^C, a TERM to the group) are ignored: the guard ends
     * when its owner does, not before. */
    memset(&sa, 0, sizeof(sa));
    sigemptyset(&sa.sa_mask);
    for (int sig = 1; sig < NSIG; sig++) {
        if (sig == SIGKILL || sig == SIGSTOP)
            continue;
        sa.sa_handler = (sig == SIGINT || sig == SIGTERM || sig == SIGHUP || sig == SIGQUIT ||
                         sig == SIGPIPE || sig == SIGUSR1 || sig == SIGUSR2)
                            ? SIG_IGN
                            : SIG_DFL;
        (void)sigaction(sig, &sa, NULL);
    }
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Told apart from the worker in ps and top. */
    (void)prctl(PR_SET_NAME, "gw-job-guard", 0, 0, 0);
    /* Nothing of the owner's stays open here (its database connection
     * among them): only the socket and stderr. */
    if (rfd != 3) {
        if (dup2(rfd, 3) < 0)
            _exit(1);
        rfd = 3;
    }
    if (close_range(4, ~0U, 0) != 0)
        for (int fd = 4; fd < 1024; fd++)
            close(fd);

    for (;;) {
        got = read(rfd, &rec, sizeof(rec));
        if (got < 0 && errno == EINTR)
            continue;
        if (got != (ssize_t)sizeof(rec))
            break;
        if (rec.add) {
            if (n == cap) {
                cap = cap ? cap * 2 : 16;
                groups = xrealloc(groups, cap * sizeof(*groups));
            }
            groups[n++] = rec.pgid;
        } else {
            for (size_t i = 0; i < n; i++)
                if (groups[i] == rec.pgid) {
                    groups[i] = groups[--n];
                    break;
                }
        }
    }
    for (size_t i = 0; i < n; i++)
        if (groups[i] > 1)
            kill(-groups[i], SIGKILL);
    _exit(0);
}

proc_guard_t *
proc_guard_new(void)
{
    proc_guard_t *g;
    sigset_t all, old;
    int p[2];
    pid_t pid;

    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) != 0) {
        log_warn("engine",
                 "could not create the job guard's socket, jobs will not die with "
                 "the worker: %s",
                 strerror(errno));
        return NULL;
    }
    /* Blocked until the guard has reset the dispositions. */
    sigfillset(&all);
    sigprocmask(SIG_SETMASK, &all, &old);
    pid = fork();
    if (pid == 0) {
        close(p[1]);
        proc_guard_main(p[0]);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(p[0]);
    if (pid < 0) {
        log_warn("engine", "could not start the job guard, jobs will not die with the worker: %s",
                 strerror(errno));
        close(p[1]);
        return NULL;
    }
    g = xcalloc(1, sizeof(*g));
    g->pid = pid;
    g->fd = p[1];
    return g;
}

int
proc_guard_fd(const proc_guard_t *g)
{
    return g != NULL ? g->fd : -1;
}

void
proc_guard_child_add(int fd)
{
    struct proc_guard_rec rec = {.add = 1, .pgid = (int32_t)getpid()};

    if (fd >= 0)
        proc_guard_write(fd, &rec);
}

void
proc_guard_forget(proc_guard_t *g, pid_t pgid)
{
    struct proc_guard_rec rec = {.add = 0, .pgid = (int32_t)pgid};

    if (g != NULL)
        proc_guard_write(g->fd, &rec);
}

void
proc_guard_free(proc_guard_t *g)
{
    int status;

    if (g == NULL)
        return;
    close(g->fd);
    /* Quick: the guard exits as soon as it reads the end of the socket. */
    while (waitpid(g->pid, &status, 0) < 0 && errno == EINTR)
        ;
    free(g);
}
