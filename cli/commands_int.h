/*
 * commands_int - what the files of the commands module share, and nothing
 * outside it uses.
 *
 * commands.c: the table of commands and the runner most of them share;
 * commands_follow.c: logs and following a run to its end;
 * commands_print.c: the calls, exit statuses and formats they all use;
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

/* The time from field `from` to `to` of o in out ("-" when either is missing). */
void commands_duration(const cJSON *o, const char *from, const char *to, char *out, size_t n);

/* "2026-12-01T23:15:01.123456Z" -> "2026-12-01 23:15:01" in out, or "-". */
const char *commands_short_time(const char *s, char out[20]);

/* One line per job: name, status, duration, exit code and error. */
void commands_print_jobs(const commands_env_t *env, const cJSON *jobs);

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

/* ---- commands_grep.c ---- */

/* gitweave grep: matching lines of every log. Returns the exit status. */
int commands_grep(const cmdline_t *c, apiclient_t *api, const commands_env_t *env);

#endif
