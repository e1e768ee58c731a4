/*
 * commands_int - what the files of the commands module share, and nothing
 * outside it uses.
 *
 * commands.c: the table of commands and the runner most of them share;
 * commands_follow.c: logs and following a run to its end;
 * commands_print.c: the calls, exit statuses and formats they all use;
 * commands_secret.c: secret put, list and delete.
 * commands_grep.c: grep, log search across runs.
 */
#ifndef GW_CLI_COMMANDS_INT_H
#define GW_CLI_COMMANDS_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "commands.h"

#define ANSI_RESET "\033[0m"
#define ANSI_BOLD "\033[1m"

/* What a command asks of the API. */
typedef struct {
    const char *method;
    char *path;        /* owned */
    cJSON *json;       /* a JSON body (owned), or NULL */
    const char *ctype; /* the content type of raw; NULL: no body but json */
    buf_t raw;         /* another body (template put) */
} commands_request_t;

/*
 * Fill req from the command line. Returns COMMANDS_EXIT_OK, or another
 * exit status after printing why (no call is made).
 */
typedef int (*commands_build_fn)(const cmdline_t *c, apiclient_t *api, commands_request_t *req);

/*
 * Print the API's 2xx reply (o: its body parsed, borrowed; NULL when
 * empty). Returns the exit status.
 */
typedef int (*commands_print_fn)(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                                 const apiclient_reply_t *reply, const cJSON *o);

/* A command of its own shape, which does all of it. Returns the exit status. */
typedef int (*commands_fn)(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);

/* ---- commands.c ---- */

/* before, then arg escaped for a path segment, then after; the caller frees it. */
char *commands_path(apiclient_t *api, const char *before, const char *arg, const char *after);

/* "/repos/REPO/templates/TEMPLATE" of attach and detach; the caller frees it. */
char *commands_attachment_path(apiclient_t *api, const cmdline_t *c);

/* ---- commands_print.c ---- */

/* The string member key of o, borrowed, or NULL. */
const char *commands_str(const cJSON *o, const char *key);

/* The string, or "-" for a missing or empty one, for tables. */
const char *commands_or_dash(const char *s);

/*
 * Print before, s, after, where s is text that a job or its template wrote
 * (an error that quotes a script line): its escape sequences are shown, not
 * obeyed (termsafe.h).
 */
void commands_print_untrusted(const char *before, const char *s, const char *after);

/* Print status padded to width, coloured when the environment allows. */
void commands_print_status(const commands_env_t *env, const char *status, int width);

/* The seconds of number member key of o (queued_seconds, run_seconds) as
 * "11.3s", "4m05s" or "1h02m" in out, or "-" when it is null. */
void commands_seconds(const cJSON *o, const char *key, char *out, size_t n);

/* "2026-12-01T23:15:01.123456Z" -> "2026-12-01 23:15:01" in out, or "-". */
const char *commands_short_time(const char *s, char out[20]);

/* One line per job: name, status, duration, exit code and error. */
void commands_print_jobs(const commands_env_t *env, const cJSON *jobs);

/* The run's error, borrowed, or NULL when none or when it only repeats
 * the status (a run canceled while it ran says "canceled"). */
const char *commands_run_error(const cJSON *run);

/* Print the reply body as the API sent it (--json). */
void commands_print_raw(const apiclient_reply_t *reply);

/* Print o as one line of JSON. */
void commands_print_json(const cJSON *o);

/*
 * Call the API; on a 2xx reply parse the body into *out (NULL for an empty
 * one; the caller deletes it) and return 0, else print why and return -1.
 * reply holds the body.
 */
int commands_call(apiclient_t *api, const char *method, const char *path, const char *ctype,
                  const char *body, size_t len, apiclient_reply_t *reply, cJSON **out);

/* Read run esc_id into reply; returns it parsed (cJSON_Delete) or NULL after printing why. */
cJSON *commands_get_run(apiclient_t *api, const char *esc_id, apiclient_reply_t *reply);

/* The exit status for a final status of a run or job. */
int commands_exit_for(const char *status);

/* Whether status is final for a run or job. */
bool commands_is_final(const char *status);

/* The exit status after a failed call: interrupted or an error. */
int commands_exit_after_failure(const apiclient_t *api);

/* ---- commands_follow.c ---- */

/*
 * A run was started (run: the API's reply, borrowed): print its id, or
 * with -f follow it to its end. Returns the exit status.
 */
int commands_started(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                     const apiclient_reply_t *reply, const cJSON *run);

/* gitweave logs: the log of a job, or of each job of a run. Returns the exit status. */
int commands_logs(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);

/* ---- commands_secret.c ---- */

/* gitweave secret put|list|delete. Each returns the exit status. */
int commands_secret_put(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);
int commands_secret_list(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);
int commands_secret_delete(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);
/* ---- commands_manage.c: templates, repos, runners; id prefixes ---- */

int commands_template_list_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                                 const apiclient_reply_t *reply, const cJSON *o);
int commands_template_show_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                                 const apiclient_reply_t *reply, const cJSON *o);
int commands_schedules_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                             const apiclient_reply_t *reply, const cJSON *o);
int commands_repo_list_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                             const apiclient_reply_t *reply, const cJSON *o);
int commands_repo_show(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);
int commands_detach_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req);
int commands_detach_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                          const apiclient_reply_t *reply, const cJSON *o);
/* "template NAME deleted", for template, repo and runner delete. */
int commands_deleted_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                           const apiclient_reply_t *reply, const cJSON *o);
/* What runner pause and resume did. */
int commands_runner_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                          const apiclient_reply_t *reply, const cJSON *o);

/*
 * The whole id of the run (or with jobs_too, the run or job) that arg
 * names, in out: arg itself when it is a whole id or no id at all (the API
 * then says what is wrong with it), else the one run or job whose id
 * starts with it (GET /ids?prefix=). Returns COMMANDS_EXIT_OK, or an exit
 * status after printing why: a prefix shorter than 8 characters, none or
 * several found (each listed).
 */
int commands_resolve_id(apiclient_t *api, const char *arg, bool jobs_too, char out[37]);
/* ---- commands_grep.c ---- */

/* gitweave grep: matching lines of every log. Returns the exit status. */
int commands_grep(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);

#endif
