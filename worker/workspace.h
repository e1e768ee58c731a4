/*
 * workspace - where a run's jobs work: RUNNER_WORKDIR/<runner>/<repo id>
 * for the local engine, RUNNER_WORKDIR/<runner>/docker/<repo id> for the
 * docker engine.
 *
 * The directory is kept between runs of the repo on this runner, so a clone
 * is made once and later runs fetch into it. Each engine has its own: what
 * a build leaves there names the paths it ran at (a CMake cache says
 * /workspace/build in a container, the host's path with the local engine),
 * so a runner started again with the other engine must not reuse it. The
 * local engine's are where every workspace was before engines had their own
 * (repo ids are UUIDs, so none is named "docker"). It is keyed by the repo's id,
 * not its name: a repo created again under a deleted one's name is another
 * repo and starts from nothing, as does one whose clone URL changed (the
 * checkout empties the workspace and its git directory when the git
 * directory's origin is not the run's clone URL). A runner that runs several
 * runs at once (RUNNER_CONCURRENCY) gives two concurrent runs of one repo
 * workspaces of their own: index 0 is <repo id>, index i > 0 is
 * <repo id>@i (with a git directory of its own too); "@" is never part of a
 * key. Only validated names (runner names and repo ids match
 * [A-Za-z0-9][A-Za-z0-9._-]*, see gw_name_valid) become path components, so
 * none can step outside RUNNER_WORKDIR.
 *
 * The checkout itself is a job like the others: a short shell script run by
 * the local engine on this host (the workspace is a host directory for both
 * engines), whose commands and output are the checkout's log.
 */
#ifndef GW_WORKSPACE_H
#define GW_WORKSPACE_H

#include "util.h"

/*
 * Make sure the work directory and the runner's directory in it (and its
 * .git-repos, and in both the directory of engine, see above) exist and
 * are private: each is created 0700 when missing, and refused when it is a
 * symbolic link, is owned by another uid, or is writable by group or
 * others (one that others can only read is made 0700).
 * Returns 0, or -1 with *err set (caller frees) naming the path and why.
 */
int workspace_init(const char *workdir, const char *runner, const char *engine,
                   char **err) GW_MUST_CHECK;

/* Create (if needed, 0700) and return workspace index of the repo repo_id
 * for runner and its engine ("docker" or "local"); the caller frees it.
 * The directories above it are checked as workspace_init does, and so are
 * the workspace and an existing git directory of the repo (one the worker
 * did not create is refused). Returns NULL with *err set (caller frees)
 * when it cannot. */
char *workspace_prepare(const char *workdir, const char *runner, const char *engine,
                        const char *repo_id, int index, char **err) GW_MUST_CHECK;

/*
 * The git directory of the workspace index of the repo repo_id:
 * RUNNER_WORKDIR/<runner>/.git-repos/<repo id>.git (<repo id>@i.git for
 * index i > 0; in .git-repos/docker for the docker engine), outside the
 * workspace. The workspace is mounted into the job containers, and the
 * checkout runs git on this host: a git directory inside
 * the workspace would let a job plant hooks or configuration (core.fsmonitor,
 * core.sshCommand, ...) that the next checkout would run here, outside its
 * container. So jobs see the commit's files, not its history. Names must be
 * valid (workspace_prepare checks them). The caller frees the result.
 */
char *workspace_git_dir(const char *workdir, const char *runner, const char *engine,
                        const char *repo_id, int index);

/* The checkout script. It reads GW_CLONE_URL, GW_GIT_DIR, GW_REF (may be
 * empty), GW_COMMIT (may be empty) and GW_CLEAN ("1" to remove untracked
 * files) from its environment, so no value is ever spliced into shell text.
 * It runs in the workspace. It checks out only a commit that origin has:
 * one reachable from origin's branches or tags or from the run's ref as
 * just fetched, or else one that origin gives when asked for it by id
 * (fetched again in full, so that objects already here prove nothing).
 * Borrowed. */
const char *workspace_checkout_script(void);

/*
 * The commit a finished checkout left in git_dir: its detached HEAD, a full
 * commit id (40 or 64 hex digits). The checkout script checked out the
 * run's commit, or the commit a tag id names ("$GW_COMMIT^{commit}"), so
 * the HEAD need not start with the run's commit. Returns the commit id
 * (caller frees), or NULL with *err set (caller frees) saying why not.
 */
char *workspace_head(const char *git_dir, char **err);

#endif
