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
#include "events.h"

/* The SQL is laid out by hand, a clause per line. */
/* clang-format off */

/* ---- repos ---- */

#define SQL_REPO_JSON                                                                              \
    "json_build_object('id', p.id, 'name', p.name, 'clone_url', p.clone_url,"                      \
    " 'default_branch', p.default_branch, 'log_retention_days', p.log_retention_days,"             \
    " 'created_at', " DB_TS("p.created_at") ", 'updated_at', " DB_TS("p.updated_at") ")::text"

#define SQL_REPOS_LIST "SELECT " SQL_REPO_JSON " FROM repos p WHERE p.deleted_at IS NULL ORDER BY p.name"

/* $1 name */
#define SQL_REPO_GET "SELECT " SQL_REPO_JSON " FROM repos p WHERE p.name = $1 AND p.deleted_at IS NULL"

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
    " ON CONFLICT (name) WHERE deleted_at IS NULL DO UPDATE SET"                                   \
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
    "SELECT json_build_object(" SQL_TEMPLATE_FIELDS ")::text FROM templates t"                     \
    " WHERE t.deleted_at IS NULL ORDER BY t.name"

/* $1 name -> json (with source), source, source_type */
#define SQL_TEMPLATE_GET                                                                           \
    "SELECT json_build_object(" SQL_TEMPLATE_FIELDS ", 'source', t.source)::text,"                 \
    " t.source, t.source_type FROM templates t WHERE t.name = $1 AND t.deleted_at IS NULL"

/*
 * Create or update a template. $1 new id, $2 name, $3 kind, $4 document
 * (normalised jsonb), $5 source, $6 source_type -> created, json. The
 * version goes up only when the document changes.
 */
#define SQL_TEMPLATE_PUT                                                                           \
    "WITH t AS ("                                                                                  \
    " INSERT INTO templates AS o (id, name, kind, version, document, source, source_type)"         \
    " VALUES ($1, $2, $3, 1, $4::jsonb, $5, $6)"                                                   \
    " ON CONFLICT (name) WHERE deleted_at IS NULL DO UPDATE SET"                                   \
    "  version = o.version + CASE WHEN o.document = EXCLUDED.document THEN 0 ELSE 1 END,"          \
    "  kind = EXCLUDED.kind, document = EXCLUDED.document, source = EXCLUDED.source,"              \
    "  source_type = EXCLUDED.source_type,"                                                        \
    "  updated_at = CASE WHEN o.document = EXCLUDED.document AND o.source = EXCLUDED.source"       \
    "                     AND o.source_type = EXCLUDED.source_type"                                \
    "                    THEN o.updated_at ELSE now() END"                                         \
    " RETURNING o.*, (o.xmax = 0) AS created"                                                      \
    ") SELECT t.created, json_build_object(" SQL_TEMPLATE_FIELDS ")::text FROM t"

/* ---- attachments (repo_templates) ---- */

/* $1 repo name -> a JSON array of {name, kind, version, inputs} in name
 * order; no row if there is no such repo */
#define SQL_ATTACH_LIST                                                                            \
    "SELECT coalesce(json_agg(json_build_object('name', t.name, 'kind', t.kind,"                   \
    "  'version', t.version, 'inputs', rt.inputs) ORDER BY t.name)"                                \
    "  FILTER (WHERE t.id IS NOT NULL), '[]'::json)::text"                                         \
    " FROM repos p LEFT JOIN (repo_templates rt JOIN templates t ON t.id = rt.template_id)"        \
    "  ON rt.repo_id = p.id WHERE p.name = $1 AND p.deleted_at IS NULL GROUP BY p.id"

/* $1 repo name, $2 template name -> repo id, template id, document (each
 * NULL if not found); always one row */
#define SQL_ATTACH_LOOKUP                                                                          \
    "SELECT (SELECT id FROM repos WHERE name = $1::text AND deleted_at IS NULL), t.id,"            \
    " t.document::text FROM (SELECT 1) x"                                                          \
    " LEFT JOIN templates t ON t.name = $2::text AND t.deleted_at IS NULL"

/* $1 repo id, $2 template id, $3 inputs (jsonb) -> created */
#define SQL_ATTACH_PUT                                                                             \
    "INSERT INTO repo_templates AS a (repo_id, template_id, inputs) VALUES ($1, $2, $3::jsonb)"    \
    " ON CONFLICT (repo_id, template_id) DO UPDATE SET inputs = EXCLUDED.inputs"                   \
    " RETURNING (a.xmax = 0) AS created"

/* $1 repo name, $2 template name -> whether the repo exists, rows deleted */
#define SQL_ATTACH_DELETE                                                                          \
    "WITH p AS (SELECT id FROM repos WHERE name = $1::text AND deleted_at IS NULL),"               \
    " d AS (DELETE FROM repo_templates rt USING templates t, p"                                    \
    "  WHERE rt.repo_id = p.id AND rt.template_id = t.id AND t.name = $2::text"                    \
    "  AND t.deleted_at IS NULL RETURNING 1)"                                                      \
    " SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM d)"

/*
 * Delete a repo or a template (db/migrations/0006_deletes.sql): mark it
 * deleted and remove its attachments, unless queued or running runs use
 * it. Built for a table (repos, templates) and the run column that points
 * to it. $1 name -> rows found (0 or 1), runs in the way, rows deleted.
 */
#define SQL_DELETE_UNUSED(table, run_col)                                                          \
    "WITH x AS (SELECT id FROM " table " WHERE name = $1::text AND deleted_at IS NULL),"           \
    " busy AS (SELECT count(*) AS n FROM pipeline_runs r JOIN x ON r." run_col " = x.id"           \
    "  WHERE r.status IN ('queued', 'running')),"                                                  \
    " d AS (UPDATE " table " o SET deleted_at = now() FROM x, busy"                                \
    "  WHERE o.id = x.id AND busy.n = 0 RETURNING o.id),"                                          \
    " a AS (DELETE FROM repo_templates rt USING d WHERE rt." run_col " = d.id RETURNING 1)"        \
    " SELECT (SELECT count(*) FROM x), (SELECT n FROM busy), (SELECT count(*) FROM d),"            \
    "  (SELECT count(*) FROM a)"

#define SQL_REPO_DELETE SQL_DELETE_UNUSED("repos", "repo_id")
#define SQL_TEMPLATE_DELETE SQL_DELETE_UNUSED("templates", "template_id")

/* ---- runs ---- */

#define SQL_RUN_FIELDS                                                                             \
    "'id', r.id, 'repo', p.name, 'template', t.name, 'template_version', r.template_version,"      \
    " 'status', r.status, 'trigger', r.trigger, 'ref', r.ref, 'commit', r.commit_sha,"             \
    " 'inputs', r.inputs, 'triggered_by', r.triggered_by,"                                         \
    " 'created_at', " DB_TS("r.created_at") ", 'started_at', " DB_TS("r.started_at") ","           \
    " 'ended_at', " DB_TS("r.ended_at") ", 'error', r.error, 'runner', rn.name,"                   \
    " 'queued_seconds', gw_queued_seconds(r.created_at, r.started_at, r.ended_at),"                \
    " 'run_seconds', gw_run_seconds(r.started_at, r.ended_at),"                                    \
    " 'attempt', r.attempt, 'cancel_requested_at', " DB_TS("r.cancel_requested_at") ","            \
    " 'rerun_of', r.rerun_of, 'allowed_failures', to_json(r.allowed_failures),"                    \
    " 'retries', to_json(r.retries), 'runs_on', r.runs_on,"                                        \
    " 'concurrency_group', r.concurrency_group,"                                                   \
    " 'logs_expired', " SQL_LOGS_EXPIRED

/* Whether run r's logs were removed by retention (db/migrations/0012_*):
 * null, or {at, after_days}. */
#define SQL_LOGS_EXPIRED                                                                           \
    "CASE WHEN r.logs_expired_at IS NULL THEN NULL ELSE json_build_object('at', "                  \
    DB_TS("r.logs_expired_at") ", 'after_days', r.logs_expired_days) END"

#define SQL_RUN_FROM                                                                               \
    " FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id"                                       \
    " JOIN templates t ON t.id = r.template_id LEFT JOIN runners rn ON rn.id = r.runner_id"

#define SQL_JOB_JSON                                                                               \
    "json_build_object('id', j.id, 'name', j.name, 'kind', j.kind, 'position', j.position,"        \
    " 'image', j.image,"                                                                           \
    " 'retry', j.retry,"                                                                           \
    " 'status', j.status, 'exit_code', j.exit_code, 'started_at', " DB_TS(                         \
        "j.started_at") ","                                                                        \
                        " 'ended_at', " DB_TS("j.ended_at") ", 'error', j.error,"                  \
    " 'secrets', to_json(j.secrets),"                                                              \
    " 'run_seconds', gw_run_seconds(j.started_at, j.ended_at),"                                    \
    " 'logs_expired', " SQL_LOGS_EXPIRED ")"

/* Why queued run r waits (gw_run_waiting, db/migrations/0011 and 0013), NULL once
 * it is not queued. */
#define SQL_RUN_WAITING                                                                            \
    "(SELECT json_build_object('reason', w.reason, 'position', w.position, 'detail', w.detail)"   \
    "  FROM gw_run_waiting(r.id) w WHERE r.status = 'queued')"

/* $1 run id -> json of the run with the jobs of its current try in
 * position order, and those of its earlier tries (retried_jobs) */
#define SQL_RUN_GET                                                                                \
    "SELECT json_build_object(" SQL_RUN_FIELDS ", 'waiting', " SQL_RUN_WAITING ", 'jobs',"        \
    " (SELECT coalesce(json_agg(" SQL_JOB_JSON " ORDER BY j.position), '[]'::json)"                \
    "  FROM jobs j WHERE j.run_id = r.id AND j.retry = cardinality(r.retries)),"                   \
    " 'retried_jobs',"                                                                             \
    " (SELECT coalesce(json_agg(" SQL_JOB_JSON " ORDER BY j.retry, j.position), '[]'::json)"       \
    "  FROM jobs j WHERE j.run_id = r.id AND j.retry < cardinality(r.retries)))::text"             \
    SQL_RUN_FROM " WHERE r.id = $1"

/* The names of the secrets the jobs of repo p may use, as a JSON array. */
#define SQL_SECRET_NAMES                                                                           \
    "(SELECT coalesce(json_agg(DISTINCT s.name), '[]') FROM secrets s"                             \
    "  WHERE s.repo_id = p.id OR s.repo_id IS NULL)::text"

/*
 * The templates attached to a repo, for a trigger. $1 repo name, $2 template
 * name or NULL for all -> repo id, default_branch, the id of the template
 * named $2 (NULL if none or unknown), and per attached template: id, name,
 * version, document, inputs (NULL in a single row when none is attached);
 * then the names of the secrets the repo's jobs may use (a JSON array).
 * No row if there is no such repo.
 */
#define SQL_TRIGGER_READ                                                                           \
    "SELECT p.id, p.default_branch,"                                                               \
    " (SELECT t.id FROM templates t WHERE t.name = $2::text AND t.deleted_at IS NULL),"       \
    " a.id, a.name, a.version, a.document, a.inputs, " SQL_SECRET_NAMES                           \
    " FROM repos p LEFT JOIN LATERAL ("                                                            \
    "  SELECT t.id, t.name, t.version, t.document::text AS document, rt.inputs::text AS inputs"    \
    "  FROM repo_templates rt JOIN templates t ON t.id = rt.template_id"                           \
    "  WHERE rt.repo_id = p.id AND ($2::text IS NULL OR t.name = $2::text)) a ON true"             \
    " WHERE p.name = $1::text AND p.deleted_at IS NULL ORDER BY a.name"

/* A job's retry rule (its columns retry_max, retry_when) from the jsonb
 * `retry` of a validated template or expanded job (NULL: none). */
#define SQL_RETRY_RULE(retry)                                                                      \
    "coalesce((" retry "->>'max')::integer, 0),"                                                   \
    " coalesce(ARRAY(SELECT jsonb_array_elements_text(" retry "->'when')), '{}')"

/*
 * New runs with their jobs, in one statement (so one transaction), each
 * with its NOTIFY, replying with the runs as created (RETURNING: queued,
 * with their queued jobs) in the order given. A `checkout` job comes first
 * when the repo has a clone_url (the worker clones or fetches into the
 * workspace there).
 * $1 repo id, $2 trigger, $3 ref, $4 commit, $5 triggered_by (uuid or
 * NULL), $6 the runs: a JSON array of {id, template_id, template_version,
 * inputs, spec, schedule?, group (NULL: none), cancel_in_progress} -> json
 * of each run with its jobs, notify result, and the warning when no live
 * runner may take it (gw_labels_warning, NULL when one may).
 * A run with "schedule": {"cron", "fire_at" (seconds since the epoch)}
 * is inserted only if its fire time is not taken yet: its row in
 * schedule_fires is inserted first, ON CONFLICT DO NOTHING, so that one
 * fire time starts one run whatever number of API processes fire it (the
 * loser's statement waits for the winner's to commit, then inserts no run
 * and returns no row). A run with cancel_in_progress first supersedes the
 * queued and running runs of its group, with the cancel by hand's CTEs
 * (RUN_CANCEL_CTES), in the same statement: they end canceled,
 * "superseded by run <id>".
 */
#define SQL_TRIGGER_INSERT                                                                         \
    "WITH given AS ("                                                                              \
    "  SELECT (e->>'id')::uuid AS id, (e->>'template_id')::uuid AS template_id,"                   \
    "   (e->>'template_version')::integer AS template_version, e->'inputs' AS inputs,"             \
    "   e->'spec' AS spec, e->'schedule' AS schedule, e->>'group' AS grp,"                         \
    "   coalesce((e->>'cancel_in_progress')::boolean, false) AS cancel, ord"                       \
    "   FROM jsonb_array_elements($6::jsonb) WITH ORDINALITY AS s(e, ord)),"                       \
    " fired AS (INSERT INTO schedule_fires (repo_id, template_id, cron, fire_at, run_id)"          \
    "  SELECT $1::uuid, g.template_id, g.schedule->>'cron',"                                       \
    "   to_timestamp((g.schedule->>'fire_at')::bigint), g.id FROM given g"                         \
    "  WHERE g.schedule IS NOT NULL ON CONFLICT DO NOTHING RETURNING run_id),"                     \
    " src AS (SELECT * FROM given g"                                                               \
    "  WHERE g.schedule IS NULL OR g.id IN (SELECT run_id FROM fired)),"                           \
    " c AS (SELECT DISTINCT ON (o.id) o.id, 'superseded by run ' || s.id AS why"                   \
    "  FROM src s JOIN pipeline_runs o ON o.concurrency_group = s.grp"                             \
    "  WHERE s.cancel AND o.status IN ('queued', 'running') ORDER BY o.id, s.ord DESC),"           \
    RUN_CANCEL_CTES ","                                                                            \
    " ev AS MATERIALIZED (SELECT " RUN_CANCEL_EVENTS " AS n),"                                     \
    " repo AS (SELECT (clone_url IS NOT NULL AND clone_url <> '')::integer AS checkout"            \
    "  FROM repos WHERE id = $1::uuid),"                                                           \
    " r AS (INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status,"        \
    "   trigger, ref, commit_sha, inputs, spec, triggered_by, clean, runs_on, concurrency_group)"  \
    "  SELECT s.id, $1::uuid, s.template_id, s.template_version, 'queued', $2::text, $3::text,"    \
    "   $4::text, s.inputs, s.spec, $5::uuid, coalesce((t.document->>'clean')::boolean, false),"   \
    "   gw_labels(t.document->'runs-on'), s.grp"                                                   \
    "  FROM src s JOIN templates t ON t.id = s.template_id RETURNING *),"                          \
    " j AS (INSERT INTO jobs (id, run_id, position, name, kind, image, status, retry_max,"         \
    "   retry_when)"                                                                               \
    "  SELECT gen_random_uuid(), s.id, 0, 'checkout', 'checkout', NULL::text, 'queued'::job_status,"\
    "   " SQL_RETRY_RULE("t.document->'retry'")                                                    \
    "   FROM src s JOIN templates t ON t.id = s.template_id, repo WHERE repo.checkout = 1"         \
    "  UNION ALL"                                                                                  \
    "  SELECT gen_random_uuid(), s.id, (x.ord - 1 + repo.checkout)::integer, x.job->>'name',"      \
    "   'script', x.job->>'image', 'queued'::job_status, " SQL_RETRY_RULE("x.job->'retry'")        \
    "   FROM src s, repo, jsonb_array_elements(s.spec) WITH ORDINALITY AS x(job, ord)"             \
    "  RETURNING *)"                                                                               \
    " SELECT json_build_object(" SQL_RUN_FIELDS ", 'jobs',"                                        \
    "  (SELECT coalesce(json_agg(" SQL_JOB_JSON " ORDER BY j.position), '[]'::json)"               \
    "   FROM j WHERE j.run_id = r.id))::text,"                                                     \
    " " EV_RUN_SQL("r.id", "'queued'") ", gw_labels_warning(r.runs_on)"                           \
    " FROM r JOIN src s ON s.id = r.id JOIN repos p ON p.id = r.repo_id"                           \
    " JOIN templates t ON t.id = r.template_id LEFT JOIN runners rn ON rn.id = r.runner_id,"       \
    " ev ORDER BY s.ord"

/* ---- schedules ---- */

/* The schedules of the repos: each cron expression (c.cron) of the
 * on.schedule of each template (t) attached (rt) to repo p, then the joins
 * of `join`. */
#define SQL_SCHEDULES_FROM(join)                                                                   \
    " FROM repo_templates rt JOIN templates t ON t.id = rt.template_id AND t.deleted_at IS NULL"   \
    " CROSS JOIN LATERAL jsonb_array_elements_text(CASE WHEN"                                      \
    "  jsonb_typeof(t.document->'on'->'schedule') = 'array'"                                       \
    "  THEN t.document->'on'->'schedule' ELSE '[]' END) AS c(cron)" join                           \
    " WHERE rt.repo_id = p.id"

/*
 * Every schedule of every repo, for the scheduler (api/scheduler.c), in the
 * columns of SQL_TRIGGER_READ but the third: -> repo id, default_branch,
 * repo name, template id, name, version, document, inputs, the secret
 * names (as SQL_TRIGGER_READ), then the cron expression and since when the
 * schedule counts (seconds since the epoch: when the template was attached
 * or last changed, whichever is later).
 */
#define SQL_SCHEDULES_DUE                                                                          \
    "SELECT p.id, p.default_branch, p.name, x.id, x.name, x.version, x.document, x.inputs, "       \
    SQL_SECRET_NAMES ", x.cron, x.since FROM repos p JOIN LATERAL ("                               \
    "  SELECT t.id, t.name, t.version, t.document::text AS document, rt.inputs::text AS inputs,"   \
    "   c.cron, floor(extract(epoch FROM greatest(rt.created_at, t.updated_at)))::bigint AS since" \
    SQL_SCHEDULES_FROM("") ") x ON true"                                                           \
    " WHERE p.deleted_at IS NULL ORDER BY p.name, x.name, x.cron"

/*
 * A repo's schedules. $1 repo name -> per schedule: json {template, cron,
 * ref, last_fire_at, last_run} (its last fire time and the run it started,
 * or nulls), and the cron expression; NULLs in a single row when it has
 * none; no row if there is no such repo.
 */
#define SQL_SCHEDULES_LIST                                                                         \
    "SELECT x.json, x.cron FROM repos p LEFT JOIN LATERAL ("                                       \
    "  SELECT json_build_object('template', t.name, 'cron', c.cron,"                               \
    "   'ref', 'refs/heads/' || p.default_branch,"                                                 \
    "   'last_fire_at', " DB_TS("f.fire_at") ", 'last_run', f.run_id)::text AS json,"              \
    "   t.name, c.cron" SQL_SCHEDULES_FROM(                                                        \
    " LEFT JOIN LATERAL (SELECT sf.fire_at, sf.run_id FROM schedule_fires sf"                      \
    "  WHERE sf.repo_id = p.id AND sf.template_id = t.id AND sf.cron = c.cron"                     \
    "  ORDER BY sf.fire_at DESC LIMIT 1) f ON true") ") x ON true"                                 \
    " WHERE p.name = $1::text AND p.deleted_at IS NULL ORDER BY x.name, x.cron"

/*
 * Runs a page at a time, newest first, shared by a repo's list and the list
 * across repos: SQL_RUNS_SELECT, a WHERE on the repo, then SQL_RUNS_FILTER.
 * $2 status or NULL, $3 cursor micros or NULL, $4 cursor id, $5 how many,
 * $6 template name or NULL ->
 * per run: json (without jobs), created_at in microseconds since the epoch,
 * id.
 */
#define SQL_RUNS_SELECT                                                                            \
    "SELECT json_build_object(" SQL_RUN_FIELDS ")::text AS json,"                                  \
    " (extract(epoch FROM r.created_at) * 1000000)::bigint AS micros, r.id" SQL_RUN_FROM

#define SQL_RUNS_FILTER                                                                            \
    " AND ($2::run_status IS NULL OR r.status = $2::run_status)"                                   \
    " AND ($6::text IS NULL OR t.name = $6::text)"                                                 \
    " AND ($3::bigint IS NULL OR (r.created_at, r.id) <"                                           \
    "      ('epoch'::timestamptz + $3::bigint * interval '1 microsecond', $4::uuid))"              \
    " ORDER BY r.created_at DESC, r.id DESC LIMIT $5"

/*
 * A page of a repo's runs. $1 repo name, then as SQL_RUNS_FILTER (all NULL
 * in a single row when there is none). No row if there is no such repo.
 */
#define SQL_RUNS_PAGE                                                                              \
    "SELECT x.json, x.micros, x.id FROM repos rp LEFT JOIN LATERAL ("                              \
    SQL_RUNS_SELECT " WHERE r.repo_id = rp.id" SQL_RUNS_FILTER ") x ON true"                       \
    " WHERE rp.name = $1::text AND rp.deleted_at IS NULL ORDER BY x.micros DESC, x.id DESC"

/* A page of the runs of every repo, or of the repo named $1 (NULL: all),
 * then as SQL_RUNS_FILTER; no row when there is none. */
#define SQL_RUNS_ALL_PAGE SQL_RUNS_SELECT " WHERE ($1::text IS NULL OR p.name = $1::text)" SQL_RUNS_FILTER

/*
 * The cancel of the runs of CTE c (id, why: NULL for a cancel by hand), as
 * CTEs x and qj: a queued run is canceled with its queued jobs, its error
 * `why` or "canceled before it started"; a running one gets
 * cancel_requested_at and, from its first cancel, `why` as the error its
 * worker ends it with (cancel_reason, db/migrations/0013; NULL: "canceled").
 * One UPDATE takes both, so a run that a claim starts meanwhile is asked
 * to stop rather than missed (the UPDATE waits for the claim's lock and
 * reads the row again). x returns each run with its status after:
 * canceled, or running. RUN_CANCEL_EVENTS is their events (the runs' and
 * jobs' "canceled", a "cancel" for the worker of each running one) as
 * their number, to be evaluated once.
 */
#define RUN_CANCEL_CTES                                                                            \
    " x AS (UPDATE pipeline_runs p SET"                                                            \
    "  status = CASE WHEN p.status = 'queued' THEN 'canceled' ELSE p.status END,"                  \
    "  ended_at = CASE WHEN p.status = 'queued' THEN now() ELSE p.ended_at END,"                   \
    "  error = CASE WHEN p.status = 'queued' THEN coalesce(c.why, 'canceled before it started')"   \
    "          ELSE p.error END,"                                                                  \
    "  cancel_reason = CASE WHEN p.status = 'running' AND p.cancel_requested_at IS NULL"           \
    "                  THEN c.why ELSE p.cancel_reason END,"                                       \
    "  cancel_requested_at = CASE WHEN p.status = 'running'"                                       \
    "                        THEN coalesce(p.cancel_requested_at, now())"                          \
    "                        ELSE p.cancel_requested_at END"                                       \
    "  FROM c WHERE p.id = c.id AND p.status IN ('queued', 'running') RETURNING p.id, p.status),"  \
    " qj AS (UPDATE jobs SET status = 'canceled', ended_at = now()"                                \
    "  WHERE run_id IN (SELECT id FROM x WHERE x.status = 'canceled') AND status = 'queued'"       \
    "  RETURNING id, run_id)"

#define RUN_CANCEL_EVENTS                                                                          \
    "((SELECT count(" EV_JOB_SQL("qj.id", "qj.run_id", "'canceled'") ") FROM qj)"                  \
    " + (SELECT count(" EV_RUN_SQL("x.id", "'canceled'") ") FROM x WHERE x.status = 'canceled')"   \
    " + (SELECT count(" EV_CANCEL_SQL("x.id") ") FROM x WHERE x.status = 'running'))"

/*
 * Cancel a run, in one statement with its events (RUN_CANCEL_CTES). $1 run
 * id -> the status seen, runs canceled, cancels requested (0 and 0 when
 * the run moved on meanwhile), and the number of events. No row if there
 * is no such run.
 */
#define SQL_RUN_CANCEL                                                                             \
    "WITH cur AS (SELECT status FROM pipeline_runs WHERE id = $1::uuid),"                          \
    " c AS (SELECT $1::uuid AS id, NULL::text AS why)," RUN_CANCEL_CTES                            \
    " SELECT cur.status, (SELECT count(*) FROM x WHERE x.status = 'canceled'),"                    \
    "  (SELECT count(*) FROM x WHERE x.status = 'running'), " RUN_CANCEL_EVENTS                    \
    " FROM cur"

/*
 * Rerun a finished run: a new queued run with the original's frozen spec,
 * jobs, inputs, ref, commit, template version, labels and concurrency group
 * (it waits its turn in the group, superseding nothing), rerun_of pointing back,
 * with its NOTIFY. $1 original id, $2 new id -> the original's status, json
 * of the new run with its jobs (NULL when the original has not finished or
 * its repo or template was deleted), whether the repo or the template was
 * deleted. No row if there is no such run.
 */
#define SQL_RUN_RERUN                                                                              \
    "WITH o AS (SELECT r.*, (p.deleted_at IS NOT NULL OR t.deleted_at IS NOT NULL) AS gone"        \
    "  FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id"                                      \
    "  JOIN templates t ON t.id = r.template_id WHERE r.id = $1::uuid),"                           \
    " r AS (INSERT INTO pipeline_runs (id, repo_id, template_id, template_version, status,"        \
    "   trigger, ref, commit_sha, inputs, spec, clean, rerun_of, runs_on, concurrency_group)"      \
    "  SELECT $2::uuid, o.repo_id, o.template_id, o.template_version, 'queued', 'rerun', o.ref,"   \
    "   o.commit_sha, o.inputs, o.spec, o.clean, o.id, o.runs_on, o.concurrency_group FROM o"      \
    "  WHERE o.status IN ('success', 'failed', 'canceled') AND NOT o.gone RETURNING *),"           \
    " j AS (INSERT INTO jobs (id, run_id, position, name, kind, image, status, retry_max,"         \
    "   retry_when)"                                                                               \
    "  SELECT gen_random_uuid(), r.id, oj.position, oj.name, oj.kind, oj.image, 'queued',"         \
    "   oj.retry_max, oj.retry_when"                                                               \
    "   FROM r JOIN o ON o.id = r.rerun_of"                                                        \
    "   JOIN jobs oj ON oj.run_id = o.id AND oj.retry = cardinality(o.retries) RETURNING *),"      \
    " n AS (SELECT json_build_object(" SQL_RUN_FIELDS ", 'jobs',"                                  \
    "  (SELECT coalesce(json_agg(" SQL_JOB_JSON " ORDER BY j.position), '[]'::json)"               \
    "   FROM j WHERE j.run_id = r.id))::text AS json,"                                             \
    "  " EV_RUN_SQL("r.id", "'queued'") " AS notified"                                             \
    "  FROM r JOIN repos p ON p.id = r.repo_id JOIN templates t ON t.id = r.template_id"           \
    "  LEFT JOIN runners rn ON rn.id = r.runner_id)"                                               \
    " SELECT o.status, n.json, o.gone FROM o LEFT JOIN n ON true"

/* ---- logs ---- */

/*
 * A job's status and its chunks from an offset on, until about a number of
 * bytes: the chunk that holds the offset (the caller cuts what precedes
 * it), then every chunk that starts before the limit is reached (so at
 * least one). Status and chunks come from one snapshot, so a final status
 * means every chunk is there. $1 job id, $2 offset, $3 byte limit ->
 * status, offset, chunk, number of chunks from $2 on (to tell whether more
 * follow), exit code, the length of the stored log, logs_expired
 * (SQL_LOGS_EXPIRED, as text); offset NULL in a single row when there is no
 * chunk. No row if there is no such job.
 */
#define SQL_LOGS_PAGE                                                                              \
    "SELECT jb.status, s.\"offset\", s.chunk, s.total, jb.exit_code,"                              \
    " coalesce((SELECT e.\"offset\" + octet_length(e.chunk) FROM logs e WHERE e.job_id = jb.id"    \
    "  ORDER BY e.\"offset\" DESC LIMIT 1), 0),"                                                   \
    " (SELECT (" SQL_LOGS_EXPIRED ")::text FROM pipeline_runs r WHERE r.id = jb.run_id)"           \
    " FROM jobs jb"                                                                                \
    " LEFT JOIN LATERAL ("                                                                         \
    " SELECT w.\"offset\", w.chunk, w.total FROM ("                                                \
    "  SELECT l.\"offset\", l.chunk,"                                                              \
    "   sum(octet_length(l.chunk)) OVER (ORDER BY l.\"offset\") - octet_length(l.chunk)"           \
    "    AS before,"                                                                               \
    "   count(*) OVER () AS total"                                                                 \
    "  FROM logs l WHERE l.job_id = jb.id AND l.\"offset\" >= coalesce((SELECT max(h.\"offset\")"  \
    "    FROM logs h WHERE h.job_id = jb.id AND h.\"offset\" <= $2::integer), $2::integer)"        \
    "   AND l.\"offset\" + octet_length(l.chunk) > $2::integer) w"                                 \
    " WHERE w.before < $3::bigint) s ON true"                                                      \
    " WHERE jb.id = $1::uuid ORDER BY s.\"offset\""

/* ---- ids ---- */

/* How many matches of an id prefix a reply lists. */
#define IDS_MATCHES_MAX 10

/* The runs and jobs whose id is from $1 to $2 (a prefix's range), runs
 * first, at most one more than listed -> kind, id, the run's id. */
#define SQL_IDS_FIND                                                                               \
    "(SELECT 'run', id::text, id::text FROM pipeline_runs"                                          \
    "  WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT 11)"                               \
    " UNION ALL (SELECT 'job', id::text, run_id::text FROM jobs"                                    \
    "  WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT 11)"
/* Set a repo's own log retention (NULL: GITWEAVE_LOG_RETENTION_DAYS; 0:
 * keep forever). $1 name, $2 days or NULL -> json of the repo. No row if
 * there is no such repo. */
#define SQL_REPO_RETENTION_PUT                                                                     \
    "WITH p AS (UPDATE repos SET log_retention_days = $2::integer, updated_at = now()"            \
    " WHERE name = $1::text AND deleted_at IS NULL RETURNING *) SELECT " SQL_REPO_JSON " FROM p"

/* ---- log search (api/search.c; db/migrations/0012_log_search_retention.sql) ---- */

/* $1 regular expression or NULL, $2 since or NULL, $3 until or NULL ->
 * field, message of the first argument Postgres refuses; no row if none. */
#define SQL_LOG_SEARCH_CHECK "SELECT field, message FROM gitweave_search_check($1::text, $2::text, $3::text)"

/*
 * Lines of the logs that match. $1 q, $2 whether q is a regular
 * expression, $3 newest first, $4 how many, $5 repo, $6 template, $7 run
 * status, $8 ref, $9 since, $10 until (each NULL: any), $11..$14 the
 * cursor: micros, job, chunk offset, line (NULL: from the start) -> per
 * line: its chunk's time in microseconds, job, chunk offset, line number,
 * the match as JSON.
 */
#define SQL_LOG_SEARCH                                                                             \
    "SELECT (extract(epoch FROM s.at) * 1000000)::bigint, s.job_id, s.chunk_offset, s.line,"      \
    " s.match FROM gitweave_log_search($1::text, $2::boolean, $3::boolean, $4::integer,"          \
    " $5::text, $6::text, $7::text, $8::text, $9::timestamptz, $10::timestamptz,"                 \
    " 'epoch'::timestamptz + $11::bigint * interval '1 microsecond', $12::uuid, $13::integer,"    \
    " $14::integer) s"

/* ---- events (api/follow_events.c) ---- */

/*
 * A run's status change as an event: the gitweave_events payload plus
 * what a watcher wants (repo, template, timestamps). $1 run id, $2 the
 * status announced (NULL: the stored one) -> repo, run id, status, json.
 * No row if there is no such run.
 */
#define SQL_EVENT_RUN                                                                              \
    "SELECT p.name, r.id, coalesce($2::text, r.status::text), json_build_object('type', 'run',"    \
    " 'id', r.id, 'repo', p.name, 'template', t.name,"                                             \
    " 'status', coalesce($2::text, r.status::text), 'error', r.error,"                             \
    " 'created_at', " DB_TS("r.created_at") ", 'started_at', " DB_TS("r.started_at") ","           \
    " 'ended_at', " DB_TS("r.ended_at") ", 'at', " DB_TS("now()") ")::text"                        \
    " FROM pipeline_runs r JOIN repos p ON p.id = r.repo_id JOIN templates t ON t.id = r.template_id" \
    " WHERE r.id = $1::uuid"

/* A job's status change as an event. $1 job id, $2 the status announced
 * -> repo, run id, status, json. No row if there is no such job. */
#define SQL_EVENT_JOB                                                                              \
    "SELECT p.name, j.run_id, $2::text, json_build_object('type', 'job', 'id', j.id,"              \
    " 'run_id', j.run_id,"                                                                         \
    " 'repo', p.name, 'name', j.name, 'position', j.position, 'status', $2::text,"                 \
    " 'exit_code', j.exit_code, 'error', j.error,"                                                 \
    " 'started_at', " DB_TS("j.started_at") ", 'ended_at', " DB_TS("j.ended_at") ","               \
    " 'at', " DB_TS("now()") ")::text"                                                             \
    " FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id JOIN repos p ON p.id = r.repo_id"        \
    " WHERE j.id = $1::uuid"

/* ---- runners ---- */

/* The status runner rn shows (offline when not seen within its lease; idle
 * or busy from the runs it runs now) and its busy slots: the rule is the
 * view runner_state (db/migrations/0004_operate.sql), which psql users
 * read too. */
#define SQL_RUNNER_BUSY "(SELECT rs.busy FROM runner_state rs WHERE rs.id = rn.id)"
#define SQL_RUNNER_STATUS "(SELECT rs.status FROM runner_state rs WHERE rs.id = rn.id)"

#define SQL_RUNNER_JSON                                                                            \
    "json_build_object('id', rn.id, 'name', rn.name, 'hostname', rn.hostname,"                    \
    " 'engine', rn.engine, 'status', " SQL_RUNNER_STATUS ", 'paused', rn.paused,"                \
    " 'labels', rn.labels, 'run_unlabeled', rn.run_unlabeled,"                                     \
    " 'slots', rn.slots, 'busy', " SQL_RUNNER_BUSY ","                                             \
    " 'status_detail', rn.status_detail,"                                                          \
    " 'started_at', " DB_TS("rn.started_at") ", 'last_seen_at', " DB_TS("rn.last_seen_at") ","     \
    " 'current_run', (SELECT r.id FROM pipeline_runs r"                                            \
    "   WHERE r.runner_id = rn.id AND r.status = 'running'"                                        \
    "   ORDER BY r.started_at DESC NULLS LAST LIMIT 1))::text"

#define SQL_RUNNERS_LIST "SELECT " SQL_RUNNER_JSON " FROM runners rn ORDER BY rn.name, rn.id"

/* Pause or resume a runner, with its event (which wakes a resumed worker
 * at once). $1 name, $2 paused ('t'/'f') -> json, the notify. No row if
 * there is no such runner. */
#define SQL_RUNNER_PAUSE                                                                           \
    "WITH u AS (UPDATE runners SET paused = $2::boolean WHERE name = $1::text RETURNING *)"        \
    " SELECT " SQL_RUNNER_JSON ", " EV_RUNNER_SQL("rn.id", "rn.paused") " FROM u rn"

/*
 * Remove a runner that is offline (not seen within its lease) or stopped;
 * its runs keep their history with no runner. $1 name -> the status shown,
 * rows deleted (0 when it is live). No row if there is no such runner.
 */
#define SQL_RUNNER_DELETE                                                                          \
    "WITH cur AS (SELECT " SQL_RUNNER_STATUS " AS status FROM runners rn WHERE rn.name = $1::text),"\
    " d AS (DELETE FROM runners rn WHERE rn.name = $1::text"                                       \
    "  AND (rn.status = 'stopped'"                                                                 \
    "       OR rn.last_seen_at < now() - rn.lease_seconds * interval '1 second') RETURNING 1)"     \
    " SELECT cur.status, (SELECT count(*) FROM d) FROM cur"

/* ---- secrets (api/secrets.c) ---- */

/* A secret as listed: never its value, nor its sealed bytes. */
#define SQL_SECRET_JSON                                                                            \
    "json_build_object('name', s.name, 'scope', CASE WHEN s.repo_id IS NULL THEN 'global'"         \
    " ELSE 'repo' END, 'key_id', s.key_id, 'created_at', " DB_TS("s.created_at") ","               \
    " 'updated_at', " DB_TS("s.updated_at") ")::text"

/* Set a repo's secret. $1 repo name, $2 name, $3 sealed value (base64),
 * $4 key id -> created. No row if there is no such repo. */
#define SQL_SECRET_PUT_REPO                                                                        \
    "INSERT INTO secrets AS s (repo_id, name, ciphertext, key_id)"                                 \
    " SELECT p.id, $2::text, decode($3::text, 'base64'), $4::text FROM repos p"                    \
    "  WHERE p.name = $1::text AND p.deleted_at IS NULL"                                           \
    " ON CONFLICT (repo_id, name) WHERE repo_id IS NOT NULL DO UPDATE SET"                         \
    "  ciphertext = EXCLUDED.ciphertext, key_id = EXCLUDED.key_id, updated_at = now()"             \
    " RETURNING (xmax = 0)"

/* Set a secret of every repo. $1 name, $2 sealed value, $3 key id -> created */
#define SQL_SECRET_PUT_GLOBAL                                                                      \
    "INSERT INTO secrets AS s (repo_id, name, ciphertext, key_id)"                                 \
    " VALUES (NULL, $1::text, decode($2::text, 'base64'), $3::text)"                               \
    " ON CONFLICT (name) WHERE repo_id IS NULL DO UPDATE SET"                                      \
    "  ciphertext = EXCLUDED.ciphertext, key_id = EXCLUDED.key_id, updated_at = now()"             \
    " RETURNING (xmax = 0)"

/* A repo's own secrets by name. $1 repo name -> json (NULL in a single row
 * when there is none). No row if there is no such repo. */
#define SQL_SECRETS_LIST_REPO                                                                      \
    "SELECT x.json FROM repos p LEFT JOIN LATERAL (SELECT " SQL_SECRET_JSON " AS json, s.name"     \
    "  FROM secrets s WHERE s.repo_id = p.id) x ON true"                                           \
    " WHERE p.name = $1::text AND p.deleted_at IS NULL ORDER BY x.name"

#define SQL_SECRETS_LIST_GLOBAL                                                                    \
    "SELECT " SQL_SECRET_JSON " FROM secrets s WHERE s.repo_id IS NULL ORDER BY s.name"

/* Delete a repo's secret. $1 repo name, $2 name -> repos found, rows deleted */
#define SQL_SECRET_DELETE_REPO                                                                     \
    "WITH p AS (SELECT id FROM repos WHERE name = $1::text AND deleted_at IS NULL),"               \
    " d AS (DELETE FROM secrets s USING p WHERE s.repo_id = p.id AND s.name = $2::text"            \
    "  RETURNING 1)"                                                                               \
    " SELECT (SELECT count(*) FROM p), (SELECT count(*) FROM d)"

/* Delete a secret of every repo. $1 name -> 1, rows deleted */
#define SQL_SECRET_DELETE_GLOBAL                                                                   \
    "WITH d AS (DELETE FROM secrets WHERE repo_id IS NULL AND name = $1::text RETURNING 1)"        \
    " SELECT 1, (SELECT count(*) FROM d)"

/* ---- metrics ---- */

/* The database's samples of /metrics in exposition order (the views are in
 * db/migrations/0004_operate.sql, 0011_labels.sql and
 * 0012_log_search_retention.sql) -> family, sample, labels, value. */
#define SQL_METRICS                                                                                \
    "(SELECT family, sample, labels, value FROM metrics_samples)"                                  \
    " UNION ALL (SELECT family, sample, labels, value FROM metrics_label_samples)"                 \
    " UNION ALL (SELECT family, sample, labels, value FROM log_storage_samples)"

/* ---- every statement of the pool, by name ---- */

/*
 * X(ID, name) for each statement the API runs on its pool: SQL_<ID> is its
 * text, STMT_<ID> (api/dbconn.h) the id its callers pass, and name the
 * name it is prepared under on every connection (and that gw_sql prints it
 * by). A statement that is not listed here cannot be run: the pool takes
 * ids, not text. The two event reads of the listening connection are
 * api/follow.c's.
 */
#define API_STATEMENTS(X)                                                                          \
    X(REPOS_LIST, "repos_list")                                                                    \
    X(REPO_GET, "repo_get")                                                                        \
    X(REPO_PUT, "repo_put")                                                                        \
    X(REPO_DELETE, "repo_delete")                                                                  \
    X(REPO_RETENTION_PUT, "repo_retention_put")                                                    \
    X(TEMPLATES_LIST, "templates_list")                                                            \
    X(TEMPLATE_GET, "template_get")                                                                \
    X(TEMPLATE_PUT, "template_put")                                                                \
    X(TEMPLATE_DELETE, "template_delete")                                                          \
    X(ATTACH_LIST, "attach_list")                                                                  \
    X(ATTACH_LOOKUP, "attach_lookup")                                                              \
    X(ATTACH_PUT, "attach_put")                                                                    \
    X(ATTACH_DELETE, "attach_delete")                                                              \
    X(TRIGGER_READ, "trigger_read")                                                                \
    X(TRIGGER_INSERT, "trigger_insert")                                                            \
    X(RUN_GET, "run_get")                                                                          \
    X(RUNS_PAGE, "runs_page")                                                                      \
    X(RUNS_ALL_PAGE, "runs_all_page")                                                              \
    X(RUN_CANCEL, "run_cancel")                                                                    \
    X(RUN_RERUN, "run_rerun")                                                                      \
    X(LOGS_PAGE, "logs_page")                                                                      \
    X(IDS_FIND, "ids_find")                                                                        \
    X(LOG_SEARCH_CHECK, "log_search_check")                                                        \
    X(LOG_SEARCH, "log_search")                                                                    \
    X(RUNNERS_LIST, "runners_list")                                                                \
    X(RUNNER_PAUSE, "runner_pause")                                                                \
    X(RUNNER_DELETE, "runner_delete")                                                              \
    X(SECRET_PUT_REPO, "secret_put_repo")                                                          \
    X(SECRET_PUT_GLOBAL, "secret_put_global")                                                      \
    X(SECRETS_LIST_REPO, "secrets_list_repo")                                                      \
    X(SECRETS_LIST_GLOBAL, "secrets_list_global")                                                  \
    X(SECRET_DELETE_REPO, "secret_delete_repo")                                                    \
    X(SECRET_DELETE_GLOBAL, "secret_delete_global")                                                \
    X(METRICS, "metrics")                                                                          \
    X(SCHEDULES_DUE, "schedules_due")                                                              \
    X(SCHEDULES_LIST, "schedules_list")

/* clang-format on */

#endif
