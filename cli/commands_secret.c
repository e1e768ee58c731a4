/*
 * commands_secret - gitweave secret put|list|delete: a repo's secrets, or
 * those every repo may use (docs/secrets.md).
 *
 * A value is read from a file or standard input, never from the command
 * line (which every local user can read in /proc), and is wiped from this
 * process's memory once sent.
 */
#include "commands_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* "/repos/REPO/secrets/NAME" or "/secrets/NAME" (name NULL: the list). */
static char *
commands_secret_path(const cmdline_t *c, apiclient_t *api)
{
    char *name = c->name ? apiclient_escape(api, c->name) : NULL;
    char *repo = c->repo ? apiclient_escape(api, c->repo) : NULL;
    char *path = xasprintf("%s%s/secrets%s%s", repo ? "/repos/" : "", repo ? repo : "",
                           name ? "/" : "", name ? name : "");

    free(name);
    free(repo);
    return path;
}

static void
commands_wipe(buf_t *b)
{
    volatile char *p = b->data;
    for (size_t i = 0; p != NULL && i < b->cap; i++)
        p[i] = '\0';
    buf_free(b);
}

/* The whole of call method path with body (may be NULL); prints text on
 * success with what. */
static int
commands_secret_call(const cmdline_t *c, apiclient_t *api, const char *method, const char *body,
                     const char *done)
{
    apiclient_reply_t reply;
    char *path = commands_secret_path(c, api);
    cJSON *o = NULL;
    int rc = COMMANDS_EXIT_OK;

    apiclient_reply_init(&reply);
    if (commands_call(api, method, path, body ? "application/json" : NULL, body,
                      body ? strlen(body) : 0, &reply, &o) < 0)
        rc = commands_exit_after_failure(api);
    else if (done != NULL)
        printf("secret %s %s%s%s\n", c->name, done, c->repo ? " for repo " : " for every repo",
               c->repo ? c->repo : "");
    cJSON_Delete(o);
    apiclient_reply_free(&reply);
    free(path);
    return rc;
}

int
commands_secret_put(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    bool from_stdin = c->file == NULL || strcmp(c->file, "-") == 0;
    FILE *f = from_stdin ? stdin : fopen(c->file, "rb");
    buf_t value, body;
    char chunk[4096];
    size_t n;
    int rc;

    buf_init(&value);
    buf_init(&body);
    if (f == NULL) {
        fprintf(stderr, "gitweave: could not read \"%s\": %s\n", c->file, strerror(errno));
        return COMMANDS_EXIT_ERROR;
    }
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        buf_append(&value, chunk, n);
    memset(chunk, 0, sizeof(chunk));
    rc = ferror(f) ? -1 : 0;
    if (!from_stdin)
        fclose(f);
    if (rc < 0) {
        fprintf(stderr, "gitweave: could not read the value\n");
        commands_wipe(&value);
        return COMMANDS_EXIT_ERROR;
    }
    /* `echo VALUE |` and files end in a newline that is not the value's. */
    if (value.len > 0 && value.data[value.len - 1] == '\n')
        value.data[--value.len] = '\0';
    if (value.len > 0 && value.data[value.len - 1] == '\r')
        value.data[--value.len] = '\0';
    if (value.len == 0 || memchr(value.data, '\0', value.len) != NULL) {
        fprintf(stderr, "gitweave: the value is empty or holds a NUL byte\n");
        commands_wipe(&value);
        return COMMANDS_EXIT_ERROR;
    }
    /* The JSON body, written here so that only buffers we wipe hold it. */
    buf_puts(&body, "{\"value\":\"");
    for (size_t i = 0; i < value.len; i++) {
        unsigned char ch = (unsigned char)value.data[i];
        if (ch == '"' || ch == '\\')
            buf_printf(&body, "\\%c", ch);
        else if (ch < 0x20)
            buf_printf(&body, "\\u%04x", ch);
        else
            buf_append(&body, &value.data[i], 1);
    }
    buf_puts(&body, "\"}");
    commands_wipe(&value);
    rc = commands_secret_call(c, api, "PUT", body.data, c->json ? NULL : "set");
    commands_wipe(&body);
    return rc;
}

int
commands_secret_delete(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    return commands_secret_call(c, api, "DELETE", NULL, c->json ? NULL : "deleted");
}

int
commands_secret_list(const cmdline_t *c, apiclient_t *api, const commands_env_t *env)
{
    apiclient_reply_t reply;
    char *path = commands_secret_path(c, api);
    cJSON *o = NULL;
    const cJSON *s;
    int rc = COMMANDS_EXIT_OK;

    apiclient_reply_init(&reply);
    if (commands_call(api, "GET", path, NULL, NULL, 0, &reply, &o) < 0) {
        rc = commands_exit_after_failure(api);
    } else if (c->json) {
        commands_print_raw(&reply);
    } else {
        printf("%-32s  %-6s  %-16s  %s\n", "NAME", "SCOPE", "KEY", "SET");
        cJSON_ArrayForEach(s, cJSON_GetObjectItemCaseSensitive(o, "secrets"))
        {
            char when[20];
            printf("%-32s  %-6s  %-16s  %s\n", commands_or_dash(commands_str(s, "name")),
                   commands_or_dash(commands_str(s, "scope")),
                   commands_or_dash(commands_str(s, "key_id")),
                   commands_short_time(commands_str(s, "updated_at"), when));
        }
    }
    cJSON_Delete(o);
    apiclient_reply_free(&reply);
    free(path);
    return rc;
}
