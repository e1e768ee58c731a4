/*
 * cmdline - the command line of the gitweave client, parsed into a struct.
 *
 * Pure: no I/O and no global state (no getopt), so every case is unit
 * tested. Strings in the result are borrowed from argv.
 */
#ifndef GW_CLI_CMDLINE_H
#define GW_CLI_CMDLINE_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

typedef enum {
    CMD_NONE, /* no command: general help */
    CMD_RUN,
    CMD_LOGS,
    CMD_RUNS,
    CMD_SHOW,
    CMD_CANCEL,
    CMD_RERUN,
    CMD_RUNNERS,
    CMD_TEMPLATE_PUT,
    CMD_REPO_PUT,
    CMD_ATTACH,
    CMD_SECRET_PUT,
    CMD_SECRET_LIST,
    CMD_SECRET_DELETE,
    CMD_TEMPLATE_LIST,
    CMD_TEMPLATE_SHOW,
    CMD_TEMPLATE_DELETE,
    CMD_REPO_LIST,
    CMD_REPO_SHOW,
    CMD_REPO_DELETE,
    CMD_DETACH,
    CMD_RUNNER_PAUSE,
    CMD_RUNNER_RESUME,
    CMD_RUNNER_DELETE,
    CMD_GREP,
    CMD_SCHEDULES,
    CMD__COUNT
} cmdline_cmd_t;

typedef struct {
    cmdline_cmd_t cmd;
    bool help;   /* --help / -h: print the command's usage and exit 0 */
    bool json;   /* --json */
    bool follow; /* -f / --follow */
    bool raw;    /* --raw: a job's log printed unchanged, escape sequences and all */
    bool oldest; /* grep --oldest */
    bool regex;  /* grep -E / --regex */
    /* Positional arguments by meaning; NULL when not given. */
    const char *repo, *id, *file, *name, *template_name;
    const char *ref, *commit, *status, *clone_url, *branch;
    const char *pattern, *since; /* grep */
    long limit;                  /* 0: not given */
    const char **inputs;         /* "NAME=VALUE" each, -i in order; free with cmdline_free */
    size_t ninputs;
} cmdline_t;

#define CMDLINE_ERR_LEN 256

/*
 * Parse argv (argv[0] is the program). Returns 0 with *out filled (call
 * cmdline_free), or -1 with a message for the user in err (lowercase, no
 * final period) and out->cmd set to the command, if one was recognised, so
 * its usage can be printed.
 */
int cmdline_parse(int argc, char *const argv[], cmdline_t *out, char *err,
                  size_t errlen) GW_MUST_CHECK;

void cmdline_free(cmdline_t *c);

/* The help text of a command (CMD_NONE: the whole client), static. */
const char *cmdline_usage(cmdline_cmd_t cmd);

#endif
