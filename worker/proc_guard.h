/*
 * proc_guard - the local engine's jobs die with the process that started
 * them, however it dies (SIGKILL, OOM, crash).
 *
 * A job runs in a process group of its own, which nothing in the kernel ties
 * to its parent: when the worker dies without killing the group, the job and
 * its background processes run on. The guard is a small child process forked
 * when the engine is made; it holds one end of a socket pair whose other end
 * only the owner has (close-on-exec). Each job's shell, before its exec,
 * sends its process group id; the owner sends "forget" once it has reaped
 * the shell and killed the group. When the socket ends (the owner exited or
 * died, or freed the guard), the guard SIGKILLs every group still listed and
 * exits.
 */
#ifndef GW_PROC_GUARD_H
#define GW_PROC_GUARD_H

#include <sys/types.h>

typedef struct proc_guard proc_guard_t;

/* Fork the guard. Returns NULL (after a warning) when it cannot be started:
 * jobs then run unguarded. Call before other threads exist. */
proc_guard_t *proc_guard_new(void);
/* The fd a job's child writes its group to with proc_guard_child_add; -1
 * for NULL. */
int proc_guard_fd(const proc_guard_t *g);
/* In the child between fork and exec (async-signal-safe): put the calling
 * process's group, whose leader it is, on the guard's list. fd may be -1. */
void proc_guard_child_add(int fd);
/* In the owner, once the group's leader was reaped and the group killed:
 * take pgid off the list. g may be NULL. */
void proc_guard_forget(proc_guard_t *g, pid_t pgid);
/* Close the socket, so the guard kills what is still listed and exits, and
 * reap it. proc_guard_free(NULL) is a no-op. */
void proc_guard_free(proc_guard_t *g);

#endif
