/*
 * queries - every SQL statement of the API, in one place.
 *
 * All are parameterised ($1, $2, ...; the comment says what each is). JSON
 * objects of the API are built by Postgres (json_build_object) so that
 * types, nulls and timestamps (DB_TS: RFC 3339 UTC) come out the same in
 * every endpoint; the handlers parse them with cJSON and assemble replies.
 */
#ifndef GW_API_QUERIES_H
#define GW_API_QUERIES_H

#include "db.h"

/* ---- health ---- */

#define SQL_READY "SELECT 1"

/* ---- repos ---- */

#define SQL_REPO_JSON                                                                              \
    "json_build_object('id', p.id, 'name', p.name, 'clone_url', p.clone_url,"                      \
    " 'default_branch', p.default_branch,"                                                         \
    " 'created_at', " DB_TS("p.created_at") ", 'updated_at', " DB_TS("p.updated_at") ")::text"

#define SQL_REPOS_LIST "SELECT " SQL_REPO_JSON " FROM repos p ORDER BY p.name"

/* $1 name */
#define SQL_REPO_GET "SELECT " SQL_REPO_JSON " FROM repos p WHERE p.name = $1"

/* $1 name -> id, default_branch */
#define SQL_REPO_ID "SELECT id, default_branch FROM repos WHERE name = $1"

/*
 * Create or update a repo. $1 new id, $2 name, $3 whether clone_url was
 * given ('t'/'f'), $4 clone_url (NULL clears), $5 default_branch (NULL keeps
 * the current one, 'main' for a new repo) -> created, json.
 * (xmax = 0) tells an inserted row from an updated one.
 */
#define SQL_REPO_PUT                                                                               \
    "WITH p AS ("                                                                                  \
    " INSERT INTO repos AS r (id, name, clone_url, default_branch)"                                \
    " VALUES ($1, $2, $4, coalesce($5, 'main'))"                                                   \
    " ON CONFLICT (name) DO UPDATE SET"                                                            \
    "  clone_url = CASE WHEN $3::boolean THEN EXCLUDED.clone_url ELSE r.clone_url END,"            \
    "  default_branch = coalesce($5, r.default_branch),"                                           \
    "  updated_at = CASE WHEN (CASE WHEN $3::boolean THEN EXCLUDED.clone_url"                      \
    "                          ELSE r.clone_url END) IS DISTINCT FROM r.clone_url"                 \
    "                     OR coalesce($5, r.default_branch) <> r.default_branch"                   \
    "                    THEN now() ELSE r.updated_at END"                                         \
    " RETURNING r.*, (r.xmax = 0) AS created"                                                      \
    ") SELECT p.created, " SQL_REPO_JSON " FROM p"

/* ---- templates ---- */

#define SQL_TEMPLATE_FIELDS                                                                        \
    "'id', t.id, 'name', t.name, 'kind', t.kind, 'version', t.version,"                            \
    " 'document', t.document, 'source_type', t.source_type,"                                       \
    " 'created_at', " DB_TS("t.created_at") ", 'updated_at', " DB_TS("t.updated_at")

#define SQL_TEMPLATES_LIST                                                                         \
    "SELECT json_build_object(" SQL_TEMPLATE_FIELDS ")::text FROM templates t ORDER BY t.name"

/* $1 name -> json (with source), source, source_type */
#define SQL_TEMPLATE_GET                                                                           \
    "SELECT json_build_object(" SQL_TEMPLATE_FIELDS ", 'source', t.source)::text,"                 \
    " t.source, t.source_type FROM templates t WHERE t.name = $1"

/* $1 name -> id, version, document */
#define SQL_TEMPLATE_DOC "SELECT id, version, document::text FROM templates WHERE name = $1"

/*
 * Create or update a template. $1 new id, $2 name, $3 kind, $4 document
 * (normalised jsonb), $5 source, $6 source_type -> created, json. The
 * version goes up only when the document changes.
 */
#define SQL_TEMPLATE_PUT                                                                           \
    "WITH t AS ("                                                                                  \
    " INSERT INTO templates AS o (id, name, kind, version, document, source, source_type)"         \
    " VALUES ($1, $2, $3, 1, $4::jsonb, $5, $6)"                                                   \
    " ON CONFLICT (name) DO UPDATE SET"                                                            \
    "  version = o.version + CASE WHEN o.document = EXCLUDED.document THEN 0 ELSE 1 END,"          \
    "  kind = EXCLUDED.kind, document = EXCLUDED.document, source = EXCLUDED.source,"              \
    "  source_type = EXCLUDED.source_type,"                                                        \
    "  updated_at = CASE WHEN o.document = EXCLUDED.document AND o.source = EXCLUDED.source"       \
    "                     AND o.source_type = EXCLUDED.source_type"                                \
    "                    THEN o.updated_at ELSE now() END"                                         \
    " RETURNING o.*, (o.xmax = 0) AS created"                                                      \
    ") SELECT t.created, json_build_object(" SQL_TEMPLATE_FIELDS ")::text FROM t"

/* ---- attachments (repo_templates) ---- */

/* $1 repo id -> json {name, kind, version, inputs} */
#define SQL_ATTACH_LIST                                                                            \
    "SELECT json_build_object('name', t.name, 'kind', t.kind, 'version', t.version,"               \
    " 'inputs', rt.inputs)::text"                                                                  \
    " FROM repo_templates rt JOIN templates t ON t.id = rt.template_id"                            \
    " WHERE rt.repo_id = $1 ORDER BY t.name"

/* $1 repo id, $2 template id, $3 inputs (jsonb) -> created */
#define SQL_ATTACH_PUT                                                                             \
    "INSERT INTO repo_templates AS a (repo_id, template_id, inputs) VALUES ($1, $2, $3::jsonb)"    \
    " ON CONFLICT (repo_id, template_id) DO UPDATE SET inputs = EXCLUDED.inputs"                   \
    " RETURNING (a.xmax = 0) AS created"

/* $1 repo id, $2 template name */
#define SQL_ATTACH_DELETE                                                                          \
    "DELETE FROM repo_templates rt USING templates t"                                              \
    " WHERE rt.repo_id = $1 AND rt.template_id = t.id AND t.name = $2"

/* The templates attached to a repo, for triggers. $1 repo id, $2 template
 * name or NULL for all -> id, name, version, document, inputs */
#define SQL_ATTACHED                                                                               \
    "SELECT t.id, t.name, t.version, t.document::text, rt.inputs::text"                            \
    " FROM repo_templates rt JOIN templates t ON t.id = rt.template_id"                            \
    " WHERE rt.repo_id = $1 AND ($2::text IS NULL OR t.name = $2::text) ORDER BY t.name"

/* ---- runs ---- */

/*
 * A new run. $1 id, $2 repo id, $3 template id, $4 template version,
 * $5 trigger, $6 ref, $7 commit, $8 inputs (jsonb), $9 expanded jobs
 * (jsonb), $10 triggered_by (uuid or NULL)
 */
#define SQL_RUN_INSERT                                                                             \
    "INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status, trigger,"      \
    " ref, commit_sha, inputs, spec, triggered_by, clean)"                                         \
    " SELECT $1, $2, $3, $4, 'queued', $5, $6, $7, $8::jsonb, $9::jsonb, $10,"                     \
    "  COALESCE((t.document->>'clean')::boolean, false) FROM templates t WHERE t.id = $3"

/* Its jobs, one per element of the expanded list, after a `checkout` job
 * when the repo has a clone_url (the worker clones or fetches into the
 * workspace there). Runs after SQL_RUN_INSERT. $1 run id, $2 the list */
#define SQL_JOBS_INSERT                                                                            \
    "WITH c AS (SELECT (p.clone_url IS NOT NULL AND p.clone_url <> '')::int AS n"                  \
    "             FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id WHERE r.id = $1::uuid)"     \
    " INSERT INTO jobs (id, run_id, position, name, kind, image, status)"                          \
    " SELECT gen_random_uuid(), $1::uuid, 0, 'checkout', 'checkout', NULL::text, 'queued'::job_status" \
    "   FROM c WHERE c.n = 1"                                                                      \
    " UNION ALL"                                                                                   \
    " SELECT gen_random_uuid(), $1::uuid, (j.ord - 1 + c.n)::integer, j.job->>'name', 'script',"   \
    "  j.job->>'image', 'queued'::job_status"                                                                  \
    " FROM c, jsonb_array_elements($2::jsonb) WITH ORDINALITY AS j(job, ord)"

/* $1 payload */
#define SQL_NOTIFY "SELECT pg_notify('" DB_EVENTS_CHANNEL "', $1)"

#define SQL_RUN_FIELDS                                                                             \
    "'id', r.id, 'repo', p.name, 'template', t.name, 'template_version', r.template_version,"      \
    " 'status', r.status, 'trigger', r.trigger, 'ref', r.ref, 'commit', r.commit_sha,"             \
    " 'inputs', r.inputs, 'triggered_by', r.triggered_by,"                                         \
    " 'created_at', " DB_TS("r.created_at") ", 'started_at', " DB_TS(                              \
        "r.started_at") ","                                                                        \
                        " 'ended_at', " DB_TS(                                                     \
                            "r.ended_at") ", 'error', r.error, 'runner', rn.name,"                 \
                                          " 'attempt', r.attempt, 'cancel_requested_at', " DB_TS(  \
                                              "r.cancel_requested_at")

#define SQL_RUN_FROM                                                                               \
    " FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id"                                       \
    " JOIN templates t ON t.id = r.template_id LEFT JOIN runners rn ON rn.id = r.runner_id"

#define SQL_JOB_JSON                                                                               \
    "json_build_object('id', j.id, 'name', j.name, 'kind', j.kind, 'position', j.position,"      \
    " 'image', j.image,"      \
    " 'status', j.status, 'exit_code', j.exit_code, 'started_at', " DB_TS(                         \
        "j.started_at") ","                                                                        \
                        " 'ended_at', " DB_TS("j.ended_at") ", 'error', j.error)"

/* $1 run id -> json of the run with its jobs in position order */
#define SQL_RUN_GET                                                                                \
    "SELECT json_build_object(" SQL_RUN_FIELDS ", 'jobs',"                                         \
    " (SELECT coalesce(json_agg(" SQL_JOB_JSON " ORDER BY j.position), '[]'::json)"                \
    "  FROM jobs j WHERE j.run_id = r.id))::text" SQL_RUN_FROM " WHERE r.id = $1"

/*
 * A page of a repo's runs, newest first. $1 repo id, $2 status or NULL,
 * $3 cursor micros or NULL, $4 cursor id, $5 how many
 * -> json (without jobs), created_at in microseconds since the epoch, id
 */
#define SQL_RUNS_PAGE                                                                              \
    "SELECT json_build_object(" SQL_RUN_FIELDS ")::text,"                                          \
    " (extract(epoch FROM r.created_at) * 1000000)::bigint, r.id" SQL_RUN_FROM                     \
    " WHERE r.repo_id = $1 AND ($2::run_status IS NULL OR r.status = $2::run_status)"              \
    " AND ($3::bigint IS NULL OR (r.created_at, r.id) <"                                           \
    "      ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid))"              \
    " ORDER BY r.created_at DESC, r.id DESC LIMIT $5"

/* $1 run id -> status */
#define SQL_RUN_STATUS "SELECT status FROM pipeline_runs WHERE id = $1"

/* Cancel a queued run; no row if it is no longer queued (a worker claimed
 * it meanwhile). $1 run id */
#define SQL_RUN_CANCEL_QUEUED                                                                      \
    "UPDATE pipeline_runs SET status = 'canceled', ended_at = now(),"                              \
    " error = 'canceled before it started' WHERE id = $1 AND status = 'queued' RETURNING id"

/* Cancel the queued jobs of a run and publish each change. $1 run id */
#define SQL_JOBS_CANCEL_QUEUED                                                                     \
    "WITH j AS (UPDATE jobs SET status = 'canceled', ended_at = now()"                             \
    "  WHERE run_id = $1 AND status = 'queued' RETURNING id, run_id)"                              \
    " SELECT count(pg_notify('" DB_EVENTS_CHANNEL "', json_build_object('type', 'job',"            \
    "  'id', j.id, 'run_id', j.run_id, 'status', 'canceled')::text)) FROM j"

/* Ask the worker of a running run to stop it, and ring its bell; no row if
 * the run is no longer running. $1 run id, $2 payload */
#define SQL_RUN_CANCEL_REQUEST                                                                     \
    "WITH u AS (UPDATE pipeline_runs SET cancel_requested_at ="                                    \
    "  coalesce(cancel_requested_at, now()) WHERE id = $1 AND status = 'running' RETURNING id)"    \
    " SELECT pg_notify('" DB_EVENTS_CHANNEL "', $2) FROM u"

/* ---- logs ---- */

/* $1 job id -> status */
#define SQL_JOB_STATUS "SELECT status FROM jobs WHERE id = $1"

/*
 * The chunks of a job from an offset on, until about a number of bytes:
 * every chunk that starts before the limit is reached (so at least one).
 * $1 job id, $2 offset, $3 byte limit -> offset, chunk, number of chunks
 * from $2 on (to tell whether more follow)
 */
#define SQL_LOGS_PAGE                                                                              \
    "SELECT s.\"offset\", s.chunk, s.total FROM ("                                                 \
    " SELECT l.\"offset\", l.chunk,"                                                               \
    "  sum(octet_length(l.chunk)) OVER (ORDER BY l.\"offset\") - octet_length(l.chunk)"            \
    "   AS before,"                                                                                \
    "  count(*) OVER () AS total"                                                                  \
    " FROM logs l WHERE l.job_id = $1 AND l.\"offset\" >= $2::integer) s"                          \
    " WHERE s.before < $3::bigint ORDER BY s.\"offset\""

/* ---- runners ---- */

/* A runner not seen for longer than its lease is shown offline. */
#define SQL_RUNNERS_LIST                                                                           \
    "SELECT json_build_object('id', rn.id, 'name', rn.name, 'hostname', rn.hostname,"              \
    " 'engine', rn.engine,"                                                                        \
    " 'status', CASE WHEN rn.last_seen_at < now() - rn.lease_seconds * interval '1 second'"        \
    "           THEN 'offline' ELSE rn.status END,"                                                \
    " 'status_detail', rn.status_detail,"                                                          \
    " 'started_at', " DB_TS("rn.started_at") ", 'last_seen_at', " DB_TS(                           \
        "rn.last_seen_at") ","                                                                     \
                           " 'current_run', (SELECT r.id FROM pipeline_runs r"                     \
                           "   WHERE r.runner_id = rn.id AND r.status = 'running'"                 \
                           "   ORDER BY r.started_at DESC NULLS LAST LIMIT 1))::text"              \
                           " FROM runners rn ORDER BY rn.name, rn.id"

#endif
