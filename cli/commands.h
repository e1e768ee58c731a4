/*
 * commands - what each gitweave command does: the API calls and the text
 * (or JSON) it prints.
 */
#ifndef GW_CLI_COMMANDS_H
#define GW_CLI_COMMANDS_H

#include <signal.h>
#include <stdbool.h>

#include "apiclient.h"
#include "cmdline.h"

/* Exit statuses of the client. */
enum {
    COMMANDS_EXIT_OK = 0,
    COMMANDS_EXIT_FAILED = 1,   /* the run (or job) followed failed */
    COMMANDS_EXIT_CANCELED = 2, /* ... was canceled */
    COMMANDS_EXIT_ERROR = 3,    /* usage, network or API error */
    COMMANDS_EXIT_INTERRUPTED = 130,
};

typedef struct {
    bool color;   /* colour on stdout: a terminal, and no NO_COLOR */
    bool spinner; /* a spinner on stderr: a terminal, and no NO_COLOR */
} commands_env_t;

/* Run the parsed command c against api. Returns the exit status. */
int commands_exec(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);

#endif
