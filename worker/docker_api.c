/*
 * docker_api - paths, bodies and responses of the Docker Engine API. See
 * docker_api.h.
 */
#include "docker_api.h"

#include "log.h"
#include "util.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <event2/http.h>
#include <stdlib.h>
#include <string.h>

char *
docker_api_attach_path(const char *id)
{
    return xasprintf(DOCKER_API "/containers/%s/attach?stream=1&stdout=1&stderr=1", id);
}

char *
docker_api_start_path(const char *id)
{
    return xasprintf(DOCKER_API "/containers/%s/start", id);
}

char *
docker_api_wait_path(const char *id)
{
    return xasprintf(DOCKER_API "/containers/%s/wait", id);
}

char *
docker_api_stop_path(const char *id, int grace_seconds)
{
    return xasprintf(DOCKER_API "/containers/%s/stop?t=%d", id, grace_seconds);
}

char *
docker_api_remove_path(const char *id)
{
    return xasprintf(DOCKER_API "/containers/%s?force=1&v=1", id);
}

/* One allocator for the callers: cJSON's may not be malloc. */
static char *
docker_api_print(cJSON *json)
{
    char *text = cJSON_PrintUnformatted(json);
    char *copy;

    cJSON_Delete(json);
    if (text == NULL) {
        log_error("docker", "could not serialize a request");
        abort();
    }
    copy = xstrdup(text);
    cJSON_free(text);
    return copy;
}

/* ...?all=1&filters={"label":["io.gitweave.runner=ID"]}, encoded */
char *
docker_api_list_path(const char *runner_id)
{
    cJSON *filters = cJSON_CreateObject();
    cJSON *labels = cJSON_AddArrayToObject(filters, "label");
    char *label = xasprintf(DOCKER_LABEL_RUNNER "=%s", runner_id);
    char *json, *encoded, *path;

    cJSON_AddItemToArray(labels, cJSON_CreateString(label));
    free(label);
    json = docker_api_print(filters);
    encoded = evhttp_uriencode(json, -1, 0);
    free(json);
    if (encoded == NULL) {
        log_error("docker", "could not encode a request");
        abort();
    }
    path = xasprintf(DOCKER_API "/containers/json?all=1&filters=%s", encoded);
    free(encoded);
    return path;
}

bool
docker_api_id_valid(const char *id)
{
    size_t n = 0;

    if (id == NULL)
        return false;
    for (; id[n]; n++)
        if (!isxdigit((unsigned char)id[n]))
            return false;
    return n >= 12 && n <= 128;
}

/*
 * The capabilities a job keeps: Docker's default set without MKNOD (device
 * nodes in the bind-mounted workspace), NET_RAW (forged packets), SETFCAP,
 * AUDIT_WRITE and SYS_CHROOT. What remains lets a root job manage files and
 * users inside its container (package managers need that).
 */
static const char *const docker_caps[] = {"CHOWN", "DAC_OVERRIDE", "FOWNER", "FSETID",
                                          "KILL",  "SETGID",       "SETUID", "NET_BIND_SERVICE",
                                          NULL};

char *
docker_api_create_body(const engine_job_spec_t *spec, const char *image, const char *runner_id,
                       const engine_docker_limits_t *limits)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *arr, *obj, *host;
    char *bind;

    cJSON_AddStringToObject(root, "Image", image);
    /* Cleared, so that the job is `sh -e -c SCRIPT` whatever the image's
     * ENTRYPOINT: [""] resets it (an absent one would keep the image's). */
    arr = cJSON_AddArrayToObject(root, "Entrypoint");
    cJSON_AddItemToArray(arr, cJSON_CreateString(""));
    /* `sh -e -c SCRIPT` with stderr joined to stdout inside the container:
     * the engine carries the two streams separately, and lines written to
     * both within a few milliseconds could otherwise swap in the log. The
     * container's stderr becomes the shell's descriptor 3, the step reports
     * (steps.h), which the job's output cannot reach. The outer shell only
     * sets up the redirections, so the script's own line numbers stay as
     * written. */
    arr = cJSON_AddArrayToObject(root, "Cmd");
    cJSON_AddItemToArray(arr, cJSON_CreateString("sh"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("-c"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("exec sh -e -c \"$1\" 3>&2 2>&1"));
    cJSON_AddItemToArray(arr, cJSON_CreateString("sh"));
    cJSON_AddItemToArray(arr, cJSON_CreateString(spec->script != NULL ? spec->script : ""));
    arr = cJSON_AddArrayToObject(root, "Env");
    for (const char *const *p = spec->env; p != NULL && *p != NULL; p++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(*p));
    cJSON_AddStringToObject(root, "WorkingDir", "/workspace");
    if (limits->user != NULL && limits->user[0] != '\0')
        cJSON_AddStringToObject(root, "User", limits->user);
    obj = cJSON_AddObjectToObject(root, "Labels");
    cJSON_AddStringToObject(obj, DOCKER_LABEL_JOB, spec->job_id != NULL ? spec->job_id : "");
    cJSON_AddStringToObject(obj, DOCKER_LABEL_RUN, spec->run_id != NULL ? spec->run_id : "");
    cJSON_AddStringToObject(obj, DOCKER_LABEL_RUNNER, runner_id);
    cJSON_AddBoolToObject(root, "Tty", false);
    cJSON_AddBoolToObject(root, "OpenStdin", false);
    cJSON_AddBoolToObject(root, "AttachStdin", false);
    cJSON_AddBoolToObject(root, "AttachStdout", true);
    cJSON_AddBoolToObject(root, "AttachStderr", true);
    host = cJSON_AddObjectToObject(root, "HostConfig");
    arr = cJSON_AddArrayToObject(host, "Binds");
    bind = xasprintf("%s:/workspace", spec->workspace != NULL ? spec->workspace : "");
    cJSON_AddItemToArray(arr, cJSON_CreateString(bind));
    free(bind);
    /* Removed by us after its output was read, never by the engine. */
    cJSON_AddBoolToObject(host, "AutoRemove", false);
    /* The engine's init (docker-init, tini) as PID 1: it forwards TERM to
     * the shell, which, unlike a PID 1, dies of it unless the script traps
     * it; so a stop ends a job at once, not after the grace period. It also
     * reaps the job's orphaned processes. */
    cJSON_AddBoolToObject(host, "Init", true);
    /* The output is read through attach only: nothing kept on the engine's
     * disk, however much a job prints. */
    obj = cJSON_AddObjectToObject(host, "LogConfig");
    cJSON_AddStringToObject(obj, "Type", "none");
    cJSON_AddObjectToObject(obj, "Config");
    arr = cJSON_AddArrayToObject(host, "SecurityOpt");
    cJSON_AddItemToArray(arr, cJSON_CreateString("no-new-privileges"));
    arr = cJSON_AddArrayToObject(host, "CapDrop");
    cJSON_AddItemToArray(arr, cJSON_CreateString("ALL"));
    arr = cJSON_AddArrayToObject(host, "CapAdd");
    for (const char *const *c = docker_caps; *c != NULL; c++)
        cJSON_AddItemToArray(arr, cJSON_CreateString(*c));
    if (limits->pids_limit > 0)
        cJSON_AddNumberToObject(host, "PidsLimit", limits->pids_limit);
    if (limits->memory > 0) {
        /* Swap as much as memory: no swap beyond the limit. */
        cJSON_AddNumberToObject(host, "Memory", (double)limits->memory);
        cJSON_AddNumberToObject(host, "MemorySwap", (double)limits->memory);
    }
    if (limits->nano_cpus > 0)
        cJSON_AddNumberToObject(host, "NanoCpus", (double)limits->nano_cpus);
    return docker_api_print(root);
}

char *
docker_api_message(int status, const char *body, size_t len)
{
    cJSON *json = cJSON_ParseWithLength(body, len);
    char *msg = NULL;

    if (json != NULL) {
        const cJSON *m = cJSON_GetObjectItemCaseSensitive(json, "message");
        if (cJSON_IsString(m) && m->valuestring[0] != '\0')
            msg = xstrdup(m->valuestring);
        cJSON_Delete(json);
    }
    if (msg != NULL)
        return msg;
    while (len > 0 && isspace((unsigned char)body[len - 1]))
        len--;
    if (len == 0)
        return xasprintf("HTTP status %d", status);
    if (len > DOCKER_QUOTE_MAX)
        len = DOCKER_QUOTE_MAX;
    return xasprintf("HTTP status %d: %.*s", status, (int)len, body);
}

char *
docker_api_created_id(int status, const char *body, size_t len)
{
    cJSON *json;
    const cJSON *id;
    char *out = NULL;

    if (status != 201)
        return NULL;
    json = cJSON_ParseWithLength(body, len);
    id = cJSON_GetObjectItemCaseSensitive(json, "Id");
    if (cJSON_IsString(id) && docker_api_id_valid(id->valuestring))
        out = xstrdup(id->valuestring);
    cJSON_Delete(json);
    return out;
}

int
docker_api_wait_code(int status, const char *body, size_t len, char **warning)
{
    cJSON *json = status == 200 ? cJSON_ParseWithLength(body, len) : NULL;
    const cJSON *code = cJSON_GetObjectItemCaseSensitive(json, "StatusCode");
    const cJSON *err, *msg;
    int rc = -1;

    *warning = NULL;
    if (cJSON_IsNumber(code) && code->valuedouble >= 0 && code->valuedouble < 256) {
        rc = code->valueint;
        err = cJSON_GetObjectItemCaseSensitive(json, "Error");
        msg = cJSON_GetObjectItemCaseSensitive(err, "Message");
        if (cJSON_IsString(msg) && msg->valuestring[0] != '\0')
            *warning = xstrdup(msg->valuestring);
    }
    cJSON_Delete(json);
    return rc;
}

static bool
docker_api_listed(const char *id, const char *const *ids)
{
    for (; ids != NULL && *ids != NULL; ids++)
        if (strcmp(*ids, id) == 0)
            return true;
    return false;
}

char **
docker_api_leftovers(const char *body, size_t len, const char *runner_id,
                     const char *const *live_job_ids)
{
    cJSON *json = cJSON_ParseWithLength(body, len);
    const cJSON *c;
    char **ids;
    size_t n = 0;

    if (!cJSON_IsArray(json)) {
        cJSON_Delete(json);
        return NULL;
    }
    ids = xcalloc((size_t)cJSON_GetArraySize(json) + 1, sizeof(char *));
    cJSON_ArrayForEach(c, json)
    {
        const cJSON *id = cJSON_GetObjectItemCaseSensitive(c, "Id");
        const cJSON *labels = cJSON_GetObjectItemCaseSensitive(c, "Labels");
        const cJSON *job = cJSON_GetObjectItemCaseSensitive(labels, DOCKER_LABEL_JOB);
        const cJSON *runner = cJSON_GetObjectItemCaseSensitive(labels, DOCKER_LABEL_RUNNER);

        if (!cJSON_IsString(id) || !docker_api_id_valid(id->valuestring))
            continue;
        if (!cJSON_IsString(runner) || strcmp(runner->valuestring, runner_id) != 0)
            continue;
        if (cJSON_IsString(job) && docker_api_listed(job->valuestring, live_job_ids))
            continue;
        ids[n++] = xstrdup(id->valuestring);
    }
    cJSON_Delete(json);
    return ids;
}

void
docker_api_ids_free(char **ids)
{
    for (char **p = ids; p != NULL && *p != NULL; p++)
        free(*p);
    free(ids);
}
