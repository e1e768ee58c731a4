/*
 * queue - the worker's statements: register, claim, lease, fenced writes,
 * reap. See queue.h and docs/queue.md.
 */
#include "queue.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "db.h"
#include "log.h"

/* The fence every write about a claimed run carries: $1 run, $2 runner,
 * $3 attempt. FOR SHARE holds the run row until the write commits, so a
 * reaper (FOR UPDATE SKIP LOCKED) cannot end the run between the check and
 * the write; one that got there first makes the check fail. */
#define FENCE                                                                                  \
    "EXISTS (SELECT 1 FROM pipeline_runs WHERE id = $1 AND runner_id = $2"                     \
    " AND attempt = $3::int AND status = 'running' FOR SHARE)"

#define NOTIFY_JOB(id, run, st)                                                                \
    "pg_notify('" DB_EVENTS_CHANNEL "', json_build_object('type', 'job', 'id', " id            \
    ", 'run_id', " run ", 'status', " st ")::text)"
#define NOTIFY_RUN(id, st)                                                                     \
    "pg_notify('" DB_EVENTS_CHANNEL "', json_build_object('type', 'run', 'id', " id           \
    ", 'status', " st ")::text)"

q_result_t
q_runner_state(PGconn *c, const char *name, bool *exists, bool *live, int64_t *last_seen_us)
{
    const char *p[] = {name};
    PGresult *res = db_exec(c, "read runner",
                            "SELECT status <> 'stopped' AND last_seen_at >"
                            "       now() - lease_seconds * interval '1 second',"
                            "       (extract(epoch FROM last_seen_at) * 1000000)::bigint"
                            "  FROM runners WHERE name = $1",
                            1, p);
    if (res == NULL)
        return Q_ERROR;
    *exists = PQntuples(res) == 1;
    *live = *exists && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    *last_seen_us = *exists ? strtoll(PQgetvalue(res, 0, 1), NULL, 10) : 0;
    PQclear(res);
    return Q_OK;
}

q_result_t
q_register(PGconn *c, const char *name, const char *hostname, const char *engine,
           int lease_seconds, char id_out[37])
{
    char id[37], lease[16];

    gw_uuid_new(id);
    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    const char *p[] = {id, name, hostname, engine, lease};
    PGresult *res = db_exec(
        c, "register runner",
        "INSERT INTO runners (id, name, hostname, engine, lease_seconds, status)"
        " VALUES ($1, $2, $3, $4, $5::int, 'idle')"
        " ON CONFLICT (name) DO UPDATE SET hostname = EXCLUDED.hostname,"
        "   engine = EXCLUDED.engine, lease_seconds = EXCLUDED.lease_seconds,"
        "   status = 'idle', status_detail = NULL, started_at = now(), last_seen_at = now()"
        " RETURNING id",
        5, p);
    if (res == NULL)
        return Q_ERROR;
    snprintf(id_out, 37, "%s", PQgetvalue(res, 0, 0));
    PQclear(res);
    return Q_OK;
}

q_result_t
q_heartbeat(PGconn *c, const char *runner_id, const char *status, const char *detail)
{
    const char *p[] = {runner_id, status, detail};
    int n = db_command(c, "heartbeat",
                       "UPDATE runners SET last_seen_at = now(), status = $2,"
                       " status_detail = $3 WHERE id = $1",
                       3, p);
    if (n < 0)
        return Q_ERROR;
    return n == 1 ? Q_OK : Q_FENCED;
}

void
q_run_free(q_run_t *run)
{
    if (run == NULL)
        return;
    for (size_t i = 0; i < run->njobs; i++) {
        q_job_t *j = &run->jobs[i];
        free(j->name);
        free(j->kind);
        free(j->image);
        for (size_t k = 0; k < j->nscript; k++)
            free(j->script[k]);
        free(j->script);
        for (char **e = j->env; e && *e; e++)
            free(*e);
        free(j->env);
    }
    free(run->jobs);
    free(run->repo);
    free(run->clone_url);
    free(run->ref);
    free(run->commit);
    free(run->spec_error);
    free(run);
}

static char *
dup_or_null(const PGresult *res, int row, int col)
{
    return PQgetisnull(res, row, col) ? NULL : xstrdup(PQgetvalue(res, row, col));
}

/* Fill a script job from its entry in the frozen spec. Returns NULL, or
 * what is wrong with the entry (caller frees); the job is filled either way
 * so that it can be freed. */
static char *
job_from_spec(q_job_t *j, const cJSON *s)
{
    const cJSON *script = cJSON_GetObjectItemCaseSensitive(s, "script");
    const cJSON *env = cJSON_GetObjectItemCaseSensitive(s, "env");
    const cJSON *timeout = cJSON_GetObjectItemCaseSensitive(s, "timeout");
    const cJSON *e;
    size_t n = 0;
    char *problem = NULL;

    if (!cJSON_IsObject(s))
        problem = xstrdup("it has no entry in the spec");
    else if (!cJSON_IsArray(script))
        problem = xstrdup("its script is not a list");
    else if (env != NULL && !cJSON_IsNull(env) && !cJSON_IsObject(env))
        problem = xstrdup("its env is not an object");
    else if (timeout != NULL && !cJSON_IsNull(timeout) &&
             (!cJSON_IsNumber(timeout) || timeout->valuedouble < 0 ||
              timeout->valuedouble > 7 * 86400))
        problem = xstrdup("its timeout is not a number of seconds");
    j->nscript = (size_t)cJSON_GetArraySize(script);
    j->script = xcalloc(j->nscript + 1, sizeof(char *));
    cJSON_ArrayForEach(e, script)
    {
        if (!cJSON_IsString(e) && problem == NULL)
            problem = xstrdup("its script has an entry that is not a string");
        j->script[n++] = xstrdup(cJSON_IsString(e) ? e->valuestring : "");
    }
    j->nscript = n;
    n = 0;
    j->env = xcalloc((size_t)cJSON_GetArraySize(env) + 1, sizeof(char *));
    cJSON_ArrayForEach(e, env)
    {
        if (!cJSON_IsString(e)) {
            if (problem == NULL)
                problem = xasprintf("its env value %s is not a string", e->string);
            continue;
        }
        j->env[n++] = xasprintf("%s=%s", e->string, e->valuestring);
    }
    j->timeout = cJSON_IsNumber(timeout) ? (int)timeout->valuedouble : 0;
    j->allow_failure = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(s, "allow_failure"));
    return problem;
}

/* Load the run's jobs and join them with the frozen spec, in position order. */
static q_result_t
load_jobs(PGconn *c, q_run_t *run, const char *spec_text)
{
    const char *p[] = {run->fence.run_id};
    PGresult *res = db_exec(c, "load jobs",
                            "SELECT id, position, name, kind, image FROM jobs"
                            " WHERE run_id = $1 ORDER BY position",
                            1, p);
    cJSON *spec = cJSON_Parse(spec_text);
    const cJSON *list = cJSON_IsArray(spec) ? spec : cJSON_GetObjectItemCaseSensitive(spec, "jobs");
    int script_index = 0;

    if (res == NULL) {
        cJSON_Delete(spec);
        return Q_ERROR;
    }
    run->njobs = (size_t)PQntuples(res);
    run->jobs = xcalloc(run->njobs + 1, sizeof(q_job_t));
    for (int i = 0; i < PQntuples(res); i++) {
        q_job_t *j = &run->jobs[i];
        snprintf(j->id, sizeof(j->id), "%s", PQgetvalue(res, i, 0));
        j->position = atoi(PQgetvalue(res, i, 1));
        j->name = xstrdup(PQgetvalue(res, i, 2));
        j->kind = xstrdup(PQgetvalue(res, i, 3));
        j->image = dup_or_null(res, i, 4);
        if (strcmp(j->kind, "script") == 0) {
            char *problem = job_from_spec(j, cJSON_GetArrayItem(list, script_index++));
            if (problem != NULL && run->spec_error == NULL)
                run->spec_error =
                    xasprintf("the run's frozen spec is corrupt: job %s: %s", j->name, problem);
            free(problem);
        } else {
            j->script = xcalloc(1, sizeof(char *));
            j->env = xcalloc(1, sizeof(char *));
        }
    }
    PQclear(res);
    cJSON_Delete(spec);
    return Q_OK;
}

q_result_t
q_claim(PGconn *c, const char *runner_id, int lease_seconds, q_run_t **out)
{
    char lease[16];

    *out = NULL;
    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    const char *p[] = {runner_id, lease};
    PGresult *res = db_exec(
        c, "claim run",
        "WITH c AS ("
        "  UPDATE pipeline_runs r SET status = 'running', runner_id = $1,"
        "         attempt = r.attempt + 1, started_at = now(),"
        "         lease_expires_at = now() + $2::int * interval '1 second'"
        "   WHERE r.id = (SELECT id FROM pipeline_runs WHERE status = 'queued'"
        "                  AND NOT EXISTS (SELECT 1 FROM runners WHERE id = $1 AND paused)"
        "                  ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED)"
        "  RETURNING r.id, r.attempt, r.repo_id, r.ref, r.commit_sha, r.spec, r.clean)"
        " SELECT c.id, c.attempt, repos.name, repos.clone_url, c.ref, c.commit_sha,"
        "        c.spec::text, c.clean,"
        "        " NOTIFY_RUN("c.id", "'running'")
        "   FROM c JOIN repos ON repos.id = c.repo_id",
        2, p);
    if (res == NULL)
        return Q_ERROR;
    if (PQntuples(res) == 0) {
        PQclear(res);
        return Q_OK;
    }
    q_run_t *run = xcalloc(1, sizeof(*run));
    snprintf(run->fence.run_id, sizeof(run->fence.run_id), "%s", PQgetvalue(res, 0, 0));
    snprintf(run->fence.runner_id, sizeof(run->fence.runner_id), "%s", runner_id);
    snprintf(run->fence.attempt, sizeof(run->fence.attempt), "%s", PQgetvalue(res, 0, 1));
    run->repo = xstrdup(PQgetvalue(res, 0, 2));
    run->clone_url = dup_or_null(res, 0, 3);
    run->ref = dup_or_null(res, 0, 4);
    run->commit = dup_or_null(res, 0, 5);
    run->clean = strcmp(PQgetvalue(res, 0, 7), "t") == 0;
    char *spec = xstrdup(PQgetvalue(res, 0, 6));
    PQclear(res);
    q_result_t r = load_jobs(c, run, spec);
    free(spec);
    if (r != Q_OK) {
        /* The run is ours but unreadable now: the lease runs out and the
         * reaper ends it, so nothing stays running forever. */
        q_run_free(run);
        return r;
    }
    *out = run;
    return Q_OK;
}

q_result_t
q_renew(PGconn *c, const q_fence_t *f, int lease_seconds, bool *cancel_requested)
{
    char lease[16];

    snprintf(lease, sizeof(lease), "%d", lease_seconds);
    const char *p[] = {f->run_id, f->runner_id, f->attempt, lease};
    PGresult *res = db_exec(c, "renew lease",
                            "UPDATE pipeline_runs"
                            "   SET lease_expires_at = now() + $4::int * interval '1 second'"
                            " WHERE id = $1 AND runner_id = $2 AND attempt = $3::int"
                            "   AND status = 'running'"
                            " RETURNING cancel_requested_at IS NOT NULL",
                            4, p);
    if (res == NULL)
        return Q_ERROR;
    q_result_t r = PQntuples(res) == 1 ? Q_OK : Q_FENCED;
    *cancel_requested = r == Q_OK && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
    PQclear(res);
    return r;
}

q_result_t
q_job_start(PGconn *c, const q_fence_t *f, const char *job_id)
{
    const char *p[] = {f->run_id, f->runner_id, f->attempt, job_id};
    /* 'running' is accepted too so that a retry after a lost reply is safe. */
    PGresult *res = db_exec(c, "start job",
                            "WITH j AS (UPDATE jobs SET status = 'running',"
                            "                  started_at = COALESCE(started_at, now())"
                            "            WHERE id = $4 AND run_id = $1"
                            "              AND status IN ('queued', 'running') AND " FENCE
                            "           RETURNING id, run_id)"
                            " SELECT " NOTIFY_JOB("j.id", "j.run_id", "'running'") " FROM j",
                            4, p);
    if (res == NULL)
        return Q_ERROR;
    q_result_t r = PQntuples(res) == 1 ? Q_OK : Q_FENCED;
    PQclear(res);
    return r;
}

q_result_t
q_job_end(PGconn *c, const q_fence_t *f, const char *job_id, gw_status_t status, int exit_code,
          const char *error)
{
    char code[16];

    snprintf(code, sizeof(code), "%d", exit_code);
    const char *p[] = {f->run_id, f->runner_id,  f->attempt,
                       job_id,    status_name(status), exit_code >= 0 ? code : NULL,
                       error};
    PGresult *res = db_exec(c, "end job",
                            "WITH j AS (UPDATE jobs SET status = $5::job_status,"
                            "                  exit_code = $6::int, error = $7,"
                            "                  ended_at = COALESCE(ended_at, now())"
                            "            WHERE id = $4 AND run_id = $1"
                            "              AND status IN ('running', $5::job_status) AND " FENCE
                            "           RETURNING id, run_id)"
                            " SELECT " NOTIFY_JOB("j.id", "j.run_id", "$5") " FROM j",
                            7, p);
    if (res == NULL)
        return Q_ERROR;
    q_result_t r = PQntuples(res) == 1 ? Q_OK : Q_FENCED;
    PQclear(res);
    return r;
}

q_result_t
q_run_end(PGconn *c, const q_fence_t *f, gw_status_t run_status, gw_status_t rest_status,
          const char *error)
{
    const char *p[] = {f->run_id, f->runner_id, f->attempt, status_name(run_status),
                       status_name(rest_status), error};
    PGresult *res = db_exec(
        c, "end run",
        /* 'running' or already $4: a retry after a lost reply is safe. */
        "WITH r AS (UPDATE pipeline_runs SET status = $4::run_status,"
        "                  ended_at = COALESCE(ended_at, now()),"
        "                  error = $6, lease_expires_at = NULL"
        "            WHERE id = $1 AND runner_id = $2 AND attempt = $3::int"
        "              AND status IN ('running', $4::run_status)"
        "           RETURNING id),"
        "     j AS (UPDATE jobs SET status = $5::job_status,"
        "                  ended_at = CASE WHEN $5 = 'skipped' THEN NULL ELSE now() END"
        "            WHERE run_id IN (SELECT id FROM r) AND status = 'queued'"
        "           RETURNING id, run_id),"
        /* A job whose start committed but whose reply was lost. */
        "     rj AS (UPDATE jobs SET status = CASE WHEN $5 = 'canceled' THEN 'canceled'"
        "                                          ELSE 'failed' END::job_status,"
        "                   ended_at = now(),"
        "                   error = COALESCE(error, 'the run ended while the job was starting')"
        "             WHERE run_id IN (SELECT id FROM r) AND status = 'running'"
        "            RETURNING id, run_id, status)"
        " SELECT kind FROM ("
        "   SELECT 'job' AS kind, " NOTIFY_JOB("rj.id", "rj.run_id", "rj.status") " FROM rj"
        "   UNION ALL"
        "   SELECT 'job', " NOTIFY_JOB("j.id", "j.run_id", "$5") " FROM j"
        "   UNION ALL"
        "   SELECT 'run', " NOTIFY_RUN("r.id", "$4") " FROM r) e",
        6, p);
    if (res == NULL)
        return Q_ERROR;
    q_result_t r = Q_FENCED;
    for (int i = 0; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), "run") == 0)
            r = Q_OK;
    PQclear(res);
    return r;
}

q_result_t
q_log_insert(PGconn *c, const q_fence_t *f, const char *job_id, int64_t offset, const char *chunk,
             size_t len)
{
    char off[24];

    snprintf(off, sizeof(off), "%lld", (long long)offset);
    const char *p[] = {f->run_id, f->runner_id, f->attempt, job_id, off, chunk};
    (void)len; /* chunk is NUL-terminated valid UTF-8 */
    PGresult *res = db_exec(c, "insert log chunk",
                            "INSERT INTO logs (job_id, \"offset\", chunk)"
                            " SELECT $4, $5::int, $6 WHERE " FENCE
                            " ON CONFLICT (job_id, \"offset\") DO NOTHING",
                            6, p);
    if (res == NULL)
        return Q_ERROR;
    PQclear(res);
    return Q_OK;
}

/* End running runs that are lost: with $1 NULL those whose lease expired,
 * else those of runner $1. $2 says why. */
static int
reap(PGconn *c, const char *runner_id, const char *why)
{
    const char *p[] = {runner_id, why};
    PGresult *res = db_exec(
        c, "reap runs",
        "WITH lost AS ("
        "  SELECT r.id, r.lease_expires_at, rn.name AS runner_name"
        "    FROM pipeline_runs r LEFT JOIN runners rn ON rn.id = r.runner_id"
        "   WHERE r.status = 'running'"
        "     AND (($1::uuid IS NULL AND r.lease_expires_at < now()) OR r.runner_id = $1::uuid)"
        "   FOR UPDATE OF r SKIP LOCKED),"
        " runs AS ("
        "  UPDATE pipeline_runs p SET status = 'failed', ended_at = now(),"
        "         lease_expires_at = NULL,"
        "         error = format('runner lost: %s %s', COALESCE(lost.runner_name, 'a runner'), $2::text)"
        "    FROM lost WHERE p.id = lost.id RETURNING p.id),"
        " fj AS ("
        "  UPDATE jobs SET status = 'failed', ended_at = now(), error = 'runner lost'"
        "   WHERE run_id IN (SELECT id FROM runs) AND status = 'running'"
        "  RETURNING id, run_id),"
        " sj AS ("
        "  UPDATE jobs SET status = 'skipped'"
        "   WHERE run_id IN (SELECT id FROM runs) AND status = 'queued'"
        "  RETURNING id, run_id)"
        " SELECT kind FROM ("
        "  SELECT 'job' AS kind, " NOTIFY_JOB("fj.id", "fj.run_id", "'failed'") " FROM fj"
        "  UNION ALL SELECT 'job', " NOTIFY_JOB("sj.id", "sj.run_id", "'skipped'") " FROM sj"
        "  UNION ALL SELECT 'run', " NOTIFY_RUN("runs.id", "'failed'") " FROM runs) e",
        2, p);
    if (res == NULL)
        return -1;
    int n = 0;
    for (int i = 0; i < PQntuples(res); i++)
        if (strcmp(PQgetvalue(res, i, 0), "run") == 0)
            n++;
    PQclear(res);
    return n;
}

int
q_reap(PGconn *c)
{
    return reap(c, NULL, "stopped renewing its lease (it died or lost the database)");
}

int
q_reap_own(PGconn *c, const char *runner_id, bool restarted)
{
    return reap(c, runner_id,
                restarted ? "was restarted while the run was in progress"
                          : "lost the run when its database connection dropped");
}
