/*
 * commands_print - what every command shares: one call to the API with its
 * failure printed, the exit statuses, and the formats of tables (statuses
 * in colour, durations, times, a run's jobs).
 */
#include "commands_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "termsafe.h"

const char *
commands_str(const cJSON *o, const char *key)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *
commands_or_dash(const char *s)
{
    return s != NULL && s[0] != '\0' ? s : "-";
}

void
commands_print_untrusted(const char *before, const char *s, const char *after)
{
    char *safe = termsafe_string(s);

    printf("%s%s%s", before, safe, after);
    free(safe);
}

static const char *
commands_color_of(const char *status)
{
    if (status == NULL)
        return "";
    if (strcmp(status, "success") == 0 || strcmp(status, "idle") == 0)
        return "\033[32m";
    if (strcmp(status, "failed") == 0 || strcmp(status, "offline") == 0)
        return "\033[31m";
    if (strcmp(status, "canceled") == 0 || strcmp(status, "skipped") == 0 ||
        strcmp(status, "degraded") == 0)
        return "\033[33m";
    if (strcmp(status, "running") == 0 || strcmp(status, "busy") == 0)
        return "\033[36m";
    return "";
}

void
commands_print_status(const commands_env_t *env, const char *status, int width)
{
    const char *s = commands_or_dash(status);
    const char *color = env->color ? commands_color_of(status) : "";

    printf("%s%-*s%s", color, width, s, color[0] ? ANSI_RESET : "");
}

void
commands_seconds(const cJSON *o, const char *key, char *out, size_t n)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
    double d;

    if (!cJSON_IsNumber(v)) {
        snprintf(out, n, "-");
        return;
    }
    d = v->valuedouble < 0 ? 0 : v->valuedouble;
    if (d < 60)
        snprintf(out, n, "%.1fs", d);
    else if (d < 3600)
        snprintf(out, n, "%dm%02ds", (int)d / 60, (int)d % 60);
    else
        snprintf(out, n, "%dh%02dm", (int)d / 3600, (int)d % 3600 / 60);
}

const char *
commands_short_time(const char *s, char out[20])
{
    if (s == NULL || strlen(s) < 19)
        return "-";
    snprintf(out, 20, "%.10s %.8s", s, s + 11);
    return out;
}

int
commands_call(apiclient_t *api, const char *method, const char *path, const char *ctype,
              const char *body, size_t len, apiclient_reply_t *reply, cJSON **out)
{
    int rc = apiclient_call(api, method, path, ctype, body, len, reply);

    *out = NULL;
    if (rc < 0 || reply->status < 200 || reply->status > 299) {
        apiclient_print_failure(api, rc, reply);
        return -1;
    }
    if (reply->body.len == 0)
        return 0;
    *out = cJSON_ParseWithLength(reply->body.data, reply->body.len);
    if (*out == NULL) {
        fprintf(stderr, "gitweave: the API's reply could not be read as JSON\n");
        return -1;
    }
    return 0;
}

int
commands_exit_for(const char *status)
{
    if (status != NULL && strcmp(status, "success") == 0)
        return COMMANDS_EXIT_OK;
    if (status != NULL && strcmp(status, "failed") == 0)
        return COMMANDS_EXIT_FAILED;
    return COMMANDS_EXIT_CANCELED; /* canceled, or a job skipped */
}

bool
commands_is_final(const char *status)
{
    static const char *const final[] = {"success", "failed", "canceled", "skipped"};

    for (size_t i = 0; status != NULL && i < GW_ARRAY_LEN(final); i++)
        if (strcmp(status, final[i]) == 0)
            return true;
    return false;
}

int
commands_exit_after_failure(const apiclient_t *api)
{
    return apiclient_interrupted(api) ? COMMANDS_EXIT_INTERRUPTED : COMMANDS_EXIT_ERROR;
}

void
commands_print_raw(const apiclient_reply_t *reply)
{
    fwrite(reply->body.data ? reply->body.data : "", 1, reply->body.len, stdout);
    if (reply->body.len == 0 || reply->body.data[reply->body.len - 1] != '\n')
        putchar('\n');
}

cJSON *
commands_get_run(apiclient_t *api, const char *esc_id, apiclient_reply_t *reply)
{
    char *path = xasprintf("/pipelines/runs/%s", esc_id);
    cJSON *run = NULL;

    apiclient_reply_free(reply);
    apiclient_reply_init(reply);
    if (commands_call(api, "GET", path, NULL, NULL, 0, reply, &run) < 0) {
        cJSON_Delete(run);
        run = NULL;
    }
    free(path);
    return run;
}

void
commands_print_jobs(const commands_env_t *env, const cJSON *jobs)
{
    const cJSON *j;
    int width = 4;

    cJSON_ArrayForEach(j, jobs)
    {
        const char *name = commands_str(j, "name");
        if (name != NULL && (int)strlen(name) > width)
            width = (int)strlen(name);
    }
    cJSON_ArrayForEach(j, jobs)
    {
        const cJSON *code = cJSON_GetObjectItemCaseSensitive(j, "exit_code");
        const char *err = commands_str(j, "error");
        char dur[32];

        commands_seconds(j, "run_seconds", dur, sizeof(dur));
        printf("  %-*s  ", width, commands_or_dash(commands_str(j, "name")));
        commands_print_status(env, commands_str(j, "status"), 9);
        printf("  %8s", dur);
        if (cJSON_IsNumber(code))
            printf("  exit %d", code->valueint);
        if (err != NULL)
            commands_print_untrusted("  ", err, "");
        putchar('\n');
    }
}

const char *
commands_run_error(const cJSON *run)
{
    const char *error = commands_str(run, "error"), *status = commands_str(run, "status");

    return error != NULL && (status == NULL || strcmp(error, status) != 0) ? error : NULL;
}

void
commands_print_json(const cJSON *o)
{
    char *text = cJSON_PrintUnformatted(o);

    printf("%s\n", text);
    cJSON_free(text);
}
