/*
 * job_env - what a job runs with: its environment.
 */
#include "job_env.h"

#include <stdlib.h>
#include <string.h>

#include "spec.h"

/* A copy of entry ("NAME=value") of j's env, its value joined with the
 * run's commit when it waited for it. */
static char *
job_env_entry(const q_run_t *q, const q_job_t *j, const char *entry)
{
    const cJSON *denv = cJSON_GetObjectItemCaseSensitive(j->deferred, "env");
    size_t klen = strcspn(entry, "=");
    char *name = xstrndup(entry, klen);
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(denv, name);
    char *value = segs != NULL ? spec_deferred_join(segs, q->commit) : NULL;
    char *out = value != NULL ? xasprintf("%s=%s", name, value) : xstrdup(entry);

    free(value);
    free(name);
    return out;
}

char *
job_env_image(const q_run_t *q, const q_job_t *j)
{
    const cJSON *segs = cJSON_GetObjectItemCaseSensitive(j->deferred, "image");
    char *image = segs != NULL ? spec_deferred_join(segs, q->commit) : NULL;

    if (image != NULL)
        return image;
    return j->image != NULL ? xstrdup(j->image) : NULL;
}

char *
job_env_header(const q_run_t *q, const q_job_t *j, const char *runner, const char *engine,
               const char *image)
{
    cJSON *inputs = q->inputs != NULL ? cJSON_Parse(q->inputs) : NULL;
    char *text = cJSON_IsObject(inputs) ? cJSON_PrintUnformatted(inputs) : NULL;
    const char *commit = q->commit;

    if (commit == NULL)
        commit = strcmp(j->kind, "checkout") == 0 ? "(this checkout resolves the ref)" : "none";
    char *line = xasprintf("[gitweave] job %s, run %.8s attempt %s, runner %s (%s engine), image "
                           "%s, ref %s, commit %s, inputs %s",
                           j->name, q->fence.run_id, q->fence.attempt, runner, engine,
                           image != NULL && image[0] != '\0' ? image : "none",
                           q->ref != NULL && q->ref[0] != '\0' ? q->ref : "none", commit,
                           text != NULL ? text : "{}");

    /* One line whatever a name holds (the JSON has its control bytes
     * escaped already). */
    for (char *c = line; *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = '?';
    cJSON_free(text);
    cJSON_Delete(inputs);
    return line;
}

char **
job_env_new(const q_run_t *q, const q_job_t *j, const char *git_dir, bool local)
{
    size_t n = 0, cap = 16;
    char **env = xcalloc(cap, sizeof(char *));
    char *extra[16];
    size_t nextra = 0;

    for (char **e = j->env; e && *e; e++) {
        if (n + 1 >= cap)
            env = xrealloc(env, (cap *= 2) * sizeof(char *));
        env[n++] = job_env_entry(q, j, *e);
    }
    extra[nextra++] = xstrdup("CI=true");
    extra[nextra++] = xasprintf("GITWEAVE_RUN_ID=%s", q->fence.run_id);
    extra[nextra++] = xasprintf("GITWEAVE_JOB_ID=%s", j->id);
    extra[nextra++] = xasprintf("GITWEAVE_JOB_NAME=%s", j->name);
    extra[nextra++] = xasprintf("GITWEAVE_REPO=%s", q->repo);
    extra[nextra++] = xasprintf("GITWEAVE_REF=%s", q->ref ? q->ref : "");
    extra[nextra++] = xasprintf("GITWEAVE_COMMIT=%s", q->commit ? q->commit : "");
    if (local) {
        const char *home = getenv("HOME");
        const char *path = getenv("PATH");
        if (home)
            extra[nextra++] = xasprintf("HOME=%s", home);
        if (path)
            extra[nextra++] = xasprintf("PATH=%s", path);
    }
    if (strcmp(j->kind, "checkout") == 0) {
        extra[nextra++] = xasprintf("GW_CLONE_URL=%s", q->clone_url ? q->clone_url : "");
        extra[nextra++] = xasprintf("GW_REF=%s", q->ref ? q->ref : "");
        extra[nextra++] = xasprintf("GW_COMMIT=%s", q->commit ? q->commit : "");
        extra[nextra++] = xasprintf("GW_CLEAN=%s", q->clean ? "1" : "0");
        extra[nextra++] = xasprintf("GW_GIT_DIR=%s", git_dir);
    }
    for (size_t i = 0; i < nextra; i++) {
        size_t klen = strcspn(extra[i], "=") + 1;
        bool set = false;
        for (size_t k = 0; k < n && !set; k++)
            set = strncmp(env[k], extra[i], klen) == 0;
        if (set) {
            free(extra[i]);
            continue;
        }
        if (n + 1 >= cap)
            env = xrealloc(env, (cap *= 2) * sizeof(char *));
        env[n++] = extra[i];
    }
    env[n] = NULL;
    return env;
}

void
job_env_free(char **env)
{
    for (char **e = env; e && *e; e++)
        free(*e);
    free(env);
}
