/*
 * gitweave - the command-line client of the GitWeave API.
 *
 * Reads GITWEAVE_URL and GITWEAVE_TOKEN, parses the command line
 * (cmdline.c) and runs the command (commands.c). Ctrl-C stops a call or a
 * follow in progress; it never cancels a run (gitweave cancel does).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <curl/curl.h>

#include "apiclient.h"
#include "cmdline.h"
#include "commands.h"

#define MAIN_DEFAULT_URL "http://127.0.0.1:8080"

static volatile sig_atomic_t main_stop;

static void
main_on_signal(int sig)
{
    main_stop = 1;
}

/* The environment variable, or NULL when unset or empty. */
static const char *
main_env(const char *name)
{
    const char *v = getenv(name);
    return v != NULL && v[0] != '\0' ? v : NULL;
}

int
main(int argc, char **argv)
{
    char err[CMDLINE_ERR_LEN];
    commands_env_t env;
    struct sigaction sa;
    apiclient_t *api;
    const char *url, *token;
    cmdline_t c;
    int rc;

    if (cmdline_parse(argc, argv, &c, err, sizeof(err)) < 0) {
        fprintf(stderr, "gitweave: %s\n\n%s", err, cmdline_usage(c.cmd));
        return COMMANDS_EXIT_ERROR;
    }
    if (c.help) {
        fputs(cmdline_usage(c.cmd), stdout);
        cmdline_free(&c);
        return COMMANDS_EXIT_OK;
    }
    url = main_env("GITWEAVE_URL");
    /* On the API's own machine its token variable will do. */
    token = main_env("GITWEAVE_TOKEN");
    if (token == NULL)
        token = main_env("GITWEAVE_API_TOKEN");
    env.color = isatty(STDOUT_FILENO) && main_env("NO_COLOR") == NULL;
    env.spinner = isatty(STDERR_FILENO) && main_env("NO_COLOR") == NULL;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = main_on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        fprintf(stderr, "gitweave: could not start libcurl\n");
        cmdline_free(&c);
        return COMMANDS_EXIT_ERROR;
    }
    api = apiclient_new(url ? url : MAIN_DEFAULT_URL, token, &main_stop);
    rc = commands_exec(&c, api, &env);
    if (main_stop && rc != COMMANDS_EXIT_OK && c.follow)
        fprintf(stderr, "gitweave: stopped following; the run goes on (gitweave cancel RUN "
                        "stops it)\n");
    apiclient_free(api);
    curl_global_cleanup();
    cmdline_free(&c);
    return main_stop && rc != COMMANDS_EXIT_OK ? COMMANDS_EXIT_INTERRUPTED : rc;
}
