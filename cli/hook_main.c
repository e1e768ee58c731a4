/*
 * gitweave-hook - the post-receive hook of a bare git repository, as a
 * program (hook.c). Installed as hooks/post-receive itself (a symlink) or
 * run by the two-line docs/examples/git-hooks/post-receive.
 */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hook.h"

#define HOOK_USAGE                                                                                 \
    "usage: gitweave-hook [post-receive] <\"OLD NEW REF\" lines\n\n"                               \
    "The post-receive hook of a bare git repository: tells the GitWeave API about every\n"         \
    "updated ref, which starts the pipelines whose on.push matches, and prints the runs.\n"        \
    "Settings: gitweave.url, gitweave.repo, gitweave.tokenfile, gitweave.token,\n"                 \
    "gitweave.retryseconds in git's config; GITWEAVE_URL, GITWEAVE_REPO,\n"                        \
    "GITWEAVE_API_TOKEN_FILE, GITWEAVE_API_TOKEN, GITWEAVE_HOOK_RETRY_SECONDS in the\n"            \
    "environment take precedence.\n"

int
main(int argc, char **argv)
{
    char self[PATH_MAX];
    ssize_t n;

    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        fputs(HOOK_USAGE, stdout);
        return 0;
    }
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "post-receive") != 0)) {
        fprintf(stderr, "gitweave-hook: unknown arguments\n\n%s", HOOK_USAGE);
        return 2;
    }
    umask(077);
    signal(SIGPIPE, SIG_IGN);
    /* The replay command runs this very program again, wherever it was started from. */
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    if (n <= 0)
        snprintf(self, sizeof(self), "%s", argv[0]);
    else
        self[n] = '\0';
    return hook_post_receive(stdin, self);
}
