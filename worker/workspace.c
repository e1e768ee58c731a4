/*
 * workspace - per-repo working directories (keyed by engine and repo id)
 * and the checkout script.
 */
#include "workspace.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* Create the missing parents of path (not path itself), 0755 like mkdir -p.
 * Errors show up when path itself is made. */
static void
mkdir_parents(const char *path)
{
    char *p = xstrdup(path);

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        (void)mkdir(p, 0755);
        *s = '/';
    }
    free(p);
}

/*
 * Check that path is a directory this process may trust: not a symbolic
 * link, owned by our effective uid, writable by nobody else. With create, a
 * missing one is made 0700 first. One readable by others is made 0700 (it is
 * ours). what names it in messages ("work directory"). Returns 0, or -1 with
 * *err set (caller frees), in the manner of sshd's StrictModes.
 */
static int
workspace_check_dir(const char *path, const char *what, bool create, char **err)
{
    struct stat st;
    uid_t uid = geteuid();

    if (lstat(path, &st) != 0 && errno == ENOENT && create) {
        if (mkdir(path, 0700) != 0 && errno != EEXIST) {
            *err = xasprintf("could not create %s \"%s\": %s", what, path, strerror(errno));
            return -1;
        }
    }
    if (lstat(path, &st) != 0) {
        *err = xasprintf("could not stat %s \"%s\": %s", what, path, strerror(errno));
        return -1;
    }
    if (S_ISLNK(st.st_mode)) {
        *err = xasprintf("refusing %s \"%s\": it is a symbolic link", what, path);
        return -1;
    }
    if (!S_ISDIR(st.st_mode)) {
        *err = xasprintf("refusing %s \"%s\": it is not a directory", what, path);
        return -1;
    }
    if (st.st_uid != uid) {
        *err = xasprintf("refusing %s \"%s\": it is owned by uid %ld, not by this worker's "
                         "uid %ld",
                         what, path, (long)st.st_uid, (long)uid);
        return -1;
    }
    if ((st.st_mode & (S_IWGRP | S_IWOTH)) != 0) {
        *err = xasprintf("refusing %s \"%s\": it is writable by group or others (mode %04o)", what,
                         path, (unsigned)(st.st_mode & 07777));
        return -1;
    }
    if ((st.st_mode & 077) != 0 && chmod(path, 0700) != 0) {
        *err = xasprintf("could not make %s \"%s\" private: %s", what, path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The directory of engine's workspaces (or git directories) in base: base
 * itself for the local engine (where every workspace was before each
 * engine had its own), base/<engine> for another. Caller frees. */
static char *
workspace_engine_dir(const char *base, const char *engine)
{
    return strcmp(engine, "local") == 0 ? xstrdup(base) : xasprintf("%s/%s", base, engine);
}

int
workspace_init(const char *workdir, const char *runner, const char *engine, char **err)
{
    char *dir = NULL, *sub = NULL;
    int rc = -1;

    *err = NULL;
    if (!gw_name_valid(runner) || !gw_name_valid(engine)) {
        *err =
            xasprintf("refusing runner name \"%s\" or engine \"%s\": invalid name", runner, engine);
        return -1;
    }
    mkdir_parents(workdir);
    if (workspace_check_dir(workdir, "work directory", true, err) != 0)
        goto fail;
    dir = xasprintf("%s/%s", workdir, runner);
    if (workspace_check_dir(dir, "runner directory", true, err) != 0)
        goto fail;
    sub = workspace_engine_dir(dir, engine);
    if (workspace_check_dir(sub, "engine directory", true, err) != 0)
        goto fail;
    free(sub);
    sub = NULL;
    free(dir);
    dir = xasprintf("%s/%s/.git-repos", workdir, runner);
    if (workspace_check_dir(dir, "git directory", true, err) != 0)
        goto fail;
    sub = workspace_engine_dir(dir, engine);
    if (workspace_check_dir(sub, "git directory", true, err) != 0)
        goto fail;
    rc = 0;
fail:
    free(sub);
    free(dir);
    return rc;
}

/* The directory name of workspace index of the repo repo_id. */
static char *
workspace_name(const char *repo_id, int index)
{
    return index > 0 ? xasprintf("%s@%d", repo_id, index) : xstrdup(repo_id);
}

char *
workspace_git_dir(const char *workdir, const char *runner, const char *engine, const char *repo_id,
                  int index)
{
    char *base = xasprintf("%s/%s/.git-repos", workdir, runner);
    char *sub = workspace_engine_dir(base, engine);
    char *name = workspace_name(repo_id, index);
    char *dir = xasprintf("%s/%s.git", sub, name);

    free(name);
    free(sub);
    free(base);
    return dir;
}

char *
workspace_prepare(const char *workdir, const char *runner, const char *engine, const char *repo_id,
                  int index, char **err)
{
    char *path = NULL, *git_dir = NULL, *name = NULL, *base = NULL;
    struct stat st;

    *err = NULL;
    if (!gw_name_valid(runner) || !gw_name_valid(repo_id) || index < 0) {
        *err = xasprintf("refusing workspace for runner \"%s\" and repo \"%s\": invalid name",
                         runner, repo_id);
        return NULL;
    }
    /* Checked again: they may have changed since the start. */
    if (workspace_init(workdir, runner, engine, err) != 0)
        return NULL;
    name = workspace_name(repo_id, index);
    base = xasprintf("%s/%s", workdir, runner);
    char *sub = workspace_engine_dir(base, engine);
    path = xasprintf("%s/%s", sub, name);
    free(sub);
    free(base);
    free(name);
    if (workspace_check_dir(path, "workspace", true, err) != 0)
        goto fail;
    /* A git directory that is not ours could carry hooks or configuration
     * that the checkout would run on this host: git's own ownership check
     * does not apply, as the checkout names its GIT_DIR. One that does not
     * exist yet is made by the checkout, inside our private directory. */
    git_dir = workspace_git_dir(workdir, runner, engine, repo_id, index);
    if ((lstat(git_dir, &st) == 0 || errno != ENOENT) &&
        workspace_check_dir(git_dir, "git directory", false, err) != 0)
        goto fail;
    free(git_dir);
    return path;
fail:
    free(git_dir);
    free(path);
    return NULL;
}

/*
 * Each command is echoed before it runs, so the log reads like a terminal.
 * First, FIFOs, sockets and devices a job left in the workspace go: git
 * would block opening one (an untracked .gitattributes that is a FIFO) or
 * read a device; git never tracks such files. Hooks and fsmonitor are off
 * whatever the git directory says. `--` or --end-of-options keeps a value
 * that starts with "-" from being read as an option.
 *
 * A git directory whose origin is not the run's clone URL (the repo's
 * clone_url changed) is removed with everything in the workspace: objects
 * of another repository must not serve this one. The commit checked out
 * must be origin's (see workspace.h): reachable from what the fetch just
 * brought, or fetched by id with --refetch, which has origin send it even
 * when its objects are here already.
 */
static const char checkout_script[] =
    "run() { echo \"\\$ $*\"; \"$@\"; }\n"
    "find . -xdev \\( -type p -o -type s -o -type b -o -type c \\) -exec sh -c "
    "'for f; do echo \"removing special file $f left in the workspace\"; rm -f -- \"$f\"; done' "
    "sh {} +\n"
    "export GIT_TERMINAL_PROMPT=0 GIT_DIR=\"$GW_GIT_DIR\" GIT_WORK_TREE=\"$PWD\"\n"
    "export GIT_CONFIG_COUNT=2 GIT_CONFIG_KEY_0=core.hooksPath GIT_CONFIG_VALUE_0=/dev/null "
    "GIT_CONFIG_KEY_1=core.fsmonitor GIT_CONFIG_VALUE_1=false\n"
    "if [ -d \"$GIT_DIR\" ] && [ \"$(git config --get remote.origin.url)\" != \"$GW_CLONE_URL\" ]; "
    "then\n"
    "  echo \"the workspace was made from another clone URL: starting from an empty one\"\n"
    "  rm -rf -- \"$GIT_DIR\"\n"
    "  find . -mindepth 1 -maxdepth 1 -exec rm -rf -- {} +\n"
    "fi\n"
    "if [ ! -d \"$GIT_DIR\" ]; then\n"
    "  mkdir -p -m 0700 \"$GIT_DIR\" && run git init -q\n"
    "  run git remote add -- origin \"$GW_CLONE_URL\"\n"
    "fi\n"
    "src=${GW_REF:-HEAD}\n"
    "run git fetch --prune --tags -- origin \"+refs/heads/*:refs/remotes/origin/*\" "
    "\"+$src:refs/gitweave/head\"\n"
    "want=${GW_COMMIT:-refs/gitweave/head}\n"
    "if ! target=$(git rev-parse --verify --quiet --end-of-options \"$want^{commit}\") ||\n"
    "   [ -z \"$(git for-each-ref --count=1 --contains \"$target\" "
    "refs/gitweave/head refs/remotes/origin refs/tags)\" ]; then\n"
    "  echo \"commit $want is not on a branch or tag of origin; asking origin for it\"\n"
    "  if ! run git fetch --refetch --no-tags -- origin \"+$want:refs/gitweave/commit\" ||\n"
    "     ! target=$(git rev-parse --verify --quiet --end-of-options "
    "\"refs/gitweave/commit^{commit}\"); then\n"
    "    echo \"commit $want not found in origin\" >&2; exit 1\n"
    "  fi\n"
    "fi\n"
    "run git -c advice.detachedHead=false checkout -q -f --detach \"$target\" --\n"
    "if [ \"$GW_CLEAN\" = 1 ]; then run git clean -ffdxq; fi\n"
    "run git log -1 --format='HEAD is now at %H %s'\n";

const char *
workspace_checkout_script(void)
{
    return checkout_script;
}

char *
workspace_head(const char *git_dir, char **err)
{
    char *path = xasprintf("%s/HEAD", git_dir);
    char line[128];
    size_t n = 0;
    FILE *f = fopen(path, "re");

    *err = NULL;
    if (f == NULL) {
        *err = xasprintf("could not read the checkout's HEAD \"%s\": %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    if (fgets(line, sizeof(line), f) == NULL)
        line[0] = '\0';
    fclose(f);
    free(path);
    while (isxdigit((unsigned char)line[n]))
        n++;
    if ((n != 40 && n != 64) || (line[n] != '\n' && line[n] != '\0')) {
        line[strcspn(line, "\n")] = '\0';
        *err =
            xasprintf("the checkout did not leave a commit checked out (HEAD is \"%.80s\")", line);
        return NULL;
    }
    line[n] = '\0';
    return xstrdup(line);
}
