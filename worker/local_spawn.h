/*
 * local_spawn - start the shell of a local job in a process group of its own
 * (engine_local.c).
 */
#ifndef GW_LOCAL_SPAWN_H
#define GW_LOCAL_SPAWN_H

#include "engine.h"
#include "proc_guard.h"

#include <sys/types.h>

/* Fork and exec `/bin/sh -e -c SCRIPT` for spec in its workspace, leader of
 * a new process group put on guard's list (guard may be NULL). Waits only
 * for the exec. Returns 0 with *pid_out, *out_fd (the read end of its
 * stdout and stderr) and *marks_fd (the read end of its descriptor 3), both
 * non-blocking, set, or -1 with *err set (caller frees) and no process left
 * behind. */
int local_spawn(const engine_job_spec_t *spec, proc_guard_t *guard, pid_t *pid_out, int *out_fd,
                int *marks_fd, char **err);
/* waitpid(pid) through EINTR: for a process that has ended or been killed. */
void local_waitpid_blocking(pid_t pid);
/* Close *fd when open and set it to -1. */
void local_spawn_close(int *fd);

#endif
