/*
 * hook - the post-receive hook of a bare git repository, as a program
 * (gitweave-hook): tells the API about every updated ref, which starts the
 * pipelines whose `on: push` and branch filter match, and prints the runs
 * it started.
 *
 * It does what docs/examples/git-hooks/post-receive.sh does, without a
 * shell, git or curl before its POST: it reads the gitweave.* settings from
 * git's config files itself (one `git config` when a file has an include),
 * the token from the environment or a file only its owner may read, and
 * posts over its own plain HTTP/1.0 connection (hook_http.c); an https URL
 * goes through curl, its config (and the token) on curl's stdin. It links
 * neither libcurl nor libpq, so it starts in about a millisecond.
 */
#ifndef GW_CLI_HOOK_H
#define GW_CLI_HOOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "util.h"

/* The settings, each owned (NULL when unset). */
typedef struct {
    char *url, *retry, *repo, *tokenfile, *token;
    char *token_origin; /* the file gitweave.token came from, or NULL */
} hook_settings_t;

void hook_settings_free(hook_settings_t *s);

/*
 * Read the gitweave.* keys of one git config file's text into s (a later
 * key replaces an earlier one; origin names the file for token_origin).
 * Returns 0, 1 when the file has an include or includeIf section (only
 * git can read it then), -1 when git would not parse it.
 */
int hook_config_parse(const char *text, size_t len, const char *origin, hook_settings_t *s);

/*
 * The post-receive hook: the "OLD NEW REF" lines on in, messages on
 * stderr, in the repository's directory. self is the program's path, for
 * the command it prints to replay lost refs. Returns the exit status.
 */
int hook_post_receive(FILE *in, const char *self);

/* ---- hook_http.c ---- */

/*
 * POST body (JSON) to url ("http://[user:password@]host[:port]/path"),
 * with the header auth ("Authorization: ...", or NULL), within timeout_ms.
 * On a reply: *status and reply (the body) and 0; when nothing answered:
 * why in err and -1.
 */
int hook_http_post(const char *url, const char *auth, const char *body, int timeout_ms,
                   long *status, buf_t *reply, char *err, size_t errlen) GW_MUST_CHECK;

#endif
