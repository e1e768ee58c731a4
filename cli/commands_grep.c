/*
 * commands_grep - gitweave grep: the lines of every job's log that hold a
 * string (GET /logs/search, docs/search.md), one a line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "commands_int.h"

/* Append "&name=value" (value escaped) when value is given. */
static void
commands_grep_param(buf_t *path, apiclient_t *api, const char *name, const char *value)
{
    char *v;

    if (value == NULL)
        return;
    v = apiclient_escape(api, value);
    buf_printf(path, "&%s=%s", name, v);
    free(v);
}

int
commands_grep(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    const cJSON *m, *next;
    cJSON *page = NULL;
    buf_t path;
    int rc = COMMANDS_EXIT_OK;

    buf_init(&path);
    buf_puts(&path, "/logs/search?");
    commands_grep_param(&path, api, "q", c->pattern);
    commands_grep_param(&path, api, "repo", c->repo);
    commands_grep_param(&path, api, "template", c->template_name);
    commands_grep_param(&path, api, "status", c->status);
    commands_grep_param(&path, api, "ref", c->ref);
    commands_grep_param(&path, api, "since", c->since);
    if (c->regex)
        buf_puts(&path, "&re=true");
    if (c->oldest)
        buf_puts(&path, "&order=oldest");
    if (c->limit > 0)
        buf_printf(&path, "&limit=%ld", c->limit);
    apiclient_reply_init(&reply);
    if (commands_call(api, "GET", path.data, NULL, NULL, 0, &reply, &page) < 0) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    if (c->json) {
        commands_print_raw(&reply);
        goto done;
    }
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(page, "matches"))
    {
        const cJSON *line = cJSON_GetObjectItemCaseSensitive(m, "line");
        const char *run = commands_or_dash(commands_str(m, "run"));
        char at[20], head[160];

        /* repo, the run's first 8 characters, job:line, when, the line. */
        snprintf(head, sizeof(head), "%s  %.8s  %s:%d  %s  ",
                 commands_or_dash(commands_str(m, "repo")), run,
                 commands_or_dash(commands_str(m, "job_name")),
                 cJSON_IsNumber(line) ? line->valueint : 0,
                 commands_short_time(commands_str(m, "at"), at));
        commands_print_untrusted(head, commands_or_dash(commands_str(m, "text")), "\n");
    }
    next = cJSON_GetObjectItemCaseSensitive(page, "next");
    if (cJSON_IsString(next))
        fprintf(stderr, "(more lines: raise --limit, or page with --json and the API's "
                        "\"next\")\n");
done:
    cJSON_Delete(page);
    apiclient_reply_free(&reply);
    buf_free(&path);
    return rc;
}
