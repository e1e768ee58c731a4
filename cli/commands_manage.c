/*
 * commands_manage - the commands that look after what runs use: list, show
 * and delete templates and repos, detach a template, pause, resume and
 * delete runners; and the unique id prefixes that every command taking a
 * run or job id accepts, as git takes a commit's.
 */
#include "commands_int.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- templates and repos ---- */

int
commands_template_list_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                             const apiclient_reply_t *reply, const cJSON *o)
{
    const cJSON *t;

    printf("%-24s  %-8s  %7s  %s\n", "NAME", "KIND", "VERSION", "UPDATED");
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(o, "templates"))
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "version");
        char updated[20];
        printf("%-24s  %-8s  %7d  %s\n", commands_or_dash(commands_str(t, "name")),
               commands_or_dash(commands_str(t, "kind")), cJSON_IsNumber(v) ? v->valueint : 0,
               commands_short_time(commands_str(t, "updated_at"), updated));
    }
    return COMMANDS_EXIT_OK;
}

int
commands_template_show_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                             const apiclient_reply_t *reply, const cJSON *o)
{
    const char *source = commands_or_dash(commands_str(o, "source"));
    size_t n = strlen(source);

    /* Anyone with the API's token wrote it: its escapes are shown, not obeyed. */
    commands_print_untrusted("", source, n > 0 && source[n - 1] == '\n' ? "" : "\n");
    return COMMANDS_EXIT_OK;
}

int
commands_repo_list_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                         const apiclient_reply_t *reply, const cJSON *o)
{
    const cJSON *r;

    printf("%-24s  %-16s  %s\n", "NAME", "BRANCH", "CLONE URL");
    cJSON_ArrayForEach(r, cJSON_GetObjectItemCaseSensitive(o, "repos"))
        printf("%-24s  %-16s  %s\n", commands_or_dash(commands_str(r, "name")),
               commands_or_dash(commands_str(r, "default_branch")),
               commands_or_dash(commands_str(r, "clone_url")));
    return COMMANDS_EXIT_OK;
}

/* schedules REPO: one line per schedule. Times are UTC, as cron's. */
int
commands_schedules_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                         const apiclient_reply_t *reply, const cJSON *o)
{
    const cJSON *s;

    printf("%-24s  %-20s  %-19s  %-19s  %s\n", "TEMPLATE", "CRON (UTC)", "NEXT", "LAST",
           "LAST RUN");
    cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(o, "schedules"))
    {
        char next[20], last[20];
        printf("%-24s  %-20s  %-19s  %-19s  %s\n", commands_or_dash(commands_str(s, "template")),
               commands_or_dash(commands_str(s, "cron")),
               commands_short_time(commands_str(s, "next_fire_at"), next),
               commands_short_time(commands_str(s, "last_fire_at"), last),
               commands_or_dash(commands_str(s, "last_run")));
    }
    return COMMANDS_EXIT_OK;
}

/* GET path into *out (the caller deletes it); -1 after printing why. */
static int
commands_get(apiclient_t *api, const char *path, apiclient_reply_t *reply, cJSON **out)
{
    apiclient_reply_free(reply);
    apiclient_reply_init(reply);
    return commands_call(api, "GET", path, NULL, NULL, 0, reply, out);
}

/* repo show: the repo, then its templates (--json: the repo with a "templates" list). */
int
commands_repo_show(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    char *path = commands_path(api, "/repos/", c->name, "");
    char *tpath = xasprintf("%s/templates", path);
    cJSON *repo = NULL, *attached = NULL;
    const cJSON *t;
    int width = 4, rc = COMMANDS_EXIT_OK;

    apiclient_reply_init(&reply);
    if (commands_get(api, path, &reply, &repo) < 0 ||
        commands_get(api, tpath, &reply, &attached) < 0) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    if (c->json) {
        cJSON_AddItemToObject(repo, "templates", cJSON_DetachItemFromObject(attached, "templates"));
        commands_print_json(repo);
        goto done;
    }
    printf("repo      %s\n", commands_or_dash(commands_str(repo, "name")));
    printf("branch    %s\n", commands_or_dash(commands_str(repo, "default_branch")));
    printf("clone url %s\n", commands_or_dash(commands_str(repo, "clone_url")));
    printf("templates\n");
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(attached, "templates"))
    {
        const char *name = commands_or_dash(commands_str(t, "name"));
        if ((int)strlen(name) > width)
            width = (int)strlen(name);
    }
    cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(attached, "templates"))
    {
        const cJSON *v = cJSON_GetObjectItemCaseSensitive(t, "version");
        printf("  %-*s  %-5s  version %d\n", width, commands_or_dash(commands_str(t, "name")),
               commands_or_dash(commands_str(t, "kind")), cJSON_IsNumber(v) ? v->valueint : 0);
    }
done:
    cJSON_Delete(repo);
    cJSON_Delete(attached);
    free(path);
    free(tpath);
    apiclient_reply_free(&reply);
    return rc;
}

int
commands_detach_build(const cmdline_t *c, apiclient_t *api, commands_request_t *req)
{
    req->method = "DELETE";
    req->path = commands_attachment_path(api, c);
    return COMMANDS_EXIT_OK;
}

int
commands_detach_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                      const apiclient_reply_t *reply, const cJSON *o)
{
    printf("template %s detached from repo %s\n", c->name, c->repo);
    return COMMANDS_EXIT_OK;
}

int
commands_deleted_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                       const apiclient_reply_t *reply, const cJSON *o)
{
    const char *what = c->cmd == CMD_TEMPLATE_DELETE ? "template"
                       : c->cmd == CMD_REPO_DELETE   ? "repo"
                                                     : "runner";

    printf("%s %s deleted\n", what, c->name);
    return COMMANDS_EXIT_OK;
}

/* ---- runners ---- */

int
commands_runner_print(const cmdline_t *c, apiclient_t *api, const commands_env_t *env,
                      const apiclient_reply_t *reply, const cJSON *o)
{
    if (c->cmd == CMD_RUNNER_PAUSE)
        printf("runner %s paused: it claims no new run\n", c->name);
    else
        printf("runner %s resumed\n", c->name);
    return COMMANDS_EXIT_OK;
}

/* ---- id prefixes ---- */

/* The least number of characters of an id prefix (hex digits; dashes aside). */
#define COMMANDS_PREFIX_MIN 8

int
commands_resolve_id(apiclient_t *api, const char *arg, bool jobs_too, char out[37])
{
    apiclient_reply_t reply;
    const char *what = jobs_too ? "run or job" : "run";
    const cJSON *m, *more;
    cJSON *found = NULL;
    char *esc, *path;
    int digits = 0, n = 0, rc = COMMANDS_EXIT_OK;

    snprintf(out, 37, "%s", arg);
    if (gw_uuid_valid(arg))
        return COMMANDS_EXIT_OK;
    for (const char *p = arg; *p != '\0'; p++) {
        if (!isxdigit((unsigned char)*p) && *p != '-')
            return COMMANDS_EXIT_OK; /* no id: the API says what is wrong with it */
        digits += *p != '-';
    }
    if (digits < COMMANDS_PREFIX_MIN) {
        fprintf(stderr, "gitweave: an id prefix has at least %d characters (got \"%s\")\n",
                COMMANDS_PREFIX_MIN, arg);
        return COMMANDS_EXIT_ERROR;
    }
    apiclient_reply_init(&reply);
    esc = apiclient_escape(api, arg);
    path = xasprintf("/ids?prefix=%s", esc);
    if (commands_get(api, path, &reply, &found) < 0) {
        rc = commands_exit_after_failure(api);
        goto done;
    }
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(found, "matches"))
    {
        if (jobs_too || strcmp(commands_or_dash(commands_str(m, "kind")), "run") == 0) {
            snprintf(out, 37, "%s", commands_or_dash(commands_str(m, "id")));
            n++;
        }
    }
    more = cJSON_GetObjectItemCaseSensitive(found, "more");
    if (n == 1 && !cJSON_IsTrue(more))
        goto done;
    rc = COMMANDS_EXIT_ERROR;
    if (n == 0) {
        fprintf(stderr, "gitweave: no %s with an id starting with \"%s\"\n", what, arg);
        goto done;
    }
    fprintf(stderr, "gitweave: the id prefix \"%s\" is ambiguous; it matches:\n", arg);
    cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(found, "matches"))
    {
        const char *kind = commands_or_dash(commands_str(m, "kind"));
        if (strcmp(kind, "run") == 0)
            fprintf(stderr, "  run %s\n", commands_or_dash(commands_str(m, "id")));
        else if (jobs_too)
            fprintf(stderr, "  job %s (of run %s)\n", commands_or_dash(commands_str(m, "id")),
                    commands_or_dash(commands_str(m, "run_id")));
    }
    if (cJSON_IsTrue(more))
        fprintf(stderr, "  and more\n");
done:
    cJSON_Delete(found);
    free(esc);
    free(path);
    apiclient_reply_free(&reply);
    return rc;
}
