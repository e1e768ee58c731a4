/*
 * workspace - per-repo working directories and the checkout script.
 */
#include "workspace.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int
mkdir_p(const char *path)
{
    char *p = xstrdup(path);
    int rc = 0;

    for (char *s = p + 1; *s; s++) {
        if (*s != '/')
            continue;
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST)
            rc = -1;
        *s = '/';
    }
    if (rc == 0 && mkdir(p, 0755) != 0 && errno != EEXIST)
        rc = -1;
    free(p);
    return rc;
}

char *
workspace_git_dir(const char *workdir, const char *runner, const char *repo)
{
    return xasprintf("%s/%s/.git-repos/%s.git", workdir, runner, repo);
}

char *
workspace_prepare(const char *workdir, const char *runner, const char *repo, char **err)
{
    struct stat st;

    *err = NULL;
    if (!gw_name_valid(runner) || !gw_name_valid(repo)) {
        *err = xasprintf("refusing workspace for runner \"%s\" and repo \"%s\": invalid name",
                         runner, repo);
        return NULL;
    }
    char *path = xasprintf("%s/%s/%s", workdir, runner, repo);
    if (mkdir_p(path) != 0 || stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *err = xasprintf("could not create workspace \"%s\": %s", path, strerror(errno));
        free(path);
        return NULL;
    }
    return path;
}

/* Each command is echoed before it runs, so the log reads like a terminal. */
static const char checkout_script[] =
    "run() { echo \"\\$ $*\"; \"$@\"; }\n"
    "export GIT_TERMINAL_PROMPT=0 GIT_DIR=\"$GW_GIT_DIR\" GIT_WORK_TREE=\"$PWD\"\n"
    "if [ ! -d \"$GIT_DIR\" ]; then mkdir -p \"$GIT_DIR\" && run git init -q; fi\n"
    "if git remote get-url origin >/dev/null 2>&1; then\n"
    "  run git remote set-url origin \"$GW_CLONE_URL\"\n"
    "else\n"
    "  run git remote add origin \"$GW_CLONE_URL\"\n"
    "fi\n"
    "src=${GW_REF:-HEAD}\n"
    "run git fetch --prune --tags origin \"+refs/heads/*:refs/remotes/origin/*\" "
    "\"+$src:refs/gitweave/head\"\n"
    "run git -c advice.detachedHead=false checkout -q -f --detach "
    "\"${GW_COMMIT:-refs/gitweave/head}\" --\n"
    "if [ \"$GW_CLEAN\" = 1 ]; then run git clean -ffdxq; fi\n"
    "run git log -1 --format='HEAD is now at %H %s'\n";

const char *
workspace_checkout_script(void)
{
    return checkout_script;
}
