-- Plans that neither depend on the planner's statistics nor are made again
-- on every call, for the functions that run inside the trigger's insert
-- (api/queries.h, SQL_TRIGGER_INSERT) and the worker's statements of each
-- run (worker/queue.c). Same bodies, same results.

-- The logs trigger's look-up of a job's chunk before the new one: a
-- backward walk of the (job_id, "offset") key, its first entry. PL/pgSQL
-- keeps the plan it made for the session; with the statistics of an empty
-- logs table (a new database, or after TRUNCATE) that plan was a scan of
-- the whole table and a sort, 0.3-0.6 ms a chunk instead of 0.02 ms, until
-- autovacuum analyzed the table. With scans of the whole table and sorts
-- left out, the walk of the key is the only plan, whatever the statistics.
ALTER FUNCTION gitweave_logs_lines() SET enable_seqscan = off SET enable_sort = off;

-- Two indexes that repeat the first column of a key: (job_id, "offset")
-- serves every look-up of logs by job (reads, the trigger above, the
-- cascade of a job's delete) and (run_id, retry, position) every look-up
-- of jobs by run; each stored chunk and each new job updated both.
DROP INDEX logs_job_id_idx;
DROP INDEX jobs_run_id_idx;

-- SQL functions whose body is not a single expression are planned again
-- at every statement that calls them; in PL/pgSQL their plan is made once
-- per session (the trigger's insert called these two once per run, and
-- planning the warning's look-up of the runners was most of its time).
CREATE OR REPLACE FUNCTION gw_labels(runs_on jsonb) RETURNS text[]
    LANGUAGE plpgsql IMMUTABLE PARALLEL SAFE
AS $$
BEGIN
    RETURN (SELECT coalesce(array_agg(DISTINCT l ORDER BY l), '{}')
              FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(runs_on) = 'array'
                                                  THEN runs_on ELSE '[]' END) l);
END
$$;

CREATE OR REPLACE FUNCTION gw_labels_warning(runs_on text[]) RETURNS text
    LANGUAGE plpgsql STABLE
AS $$
BEGIN
    RETURN CASE WHEN NOT EXISTS (
               SELECT 1 FROM runners rn JOIN runner_state s ON s.id = rn.id
                WHERE gw_runner_takes(rn.labels, rn.run_unlabeled, runs_on)
                  AND s.status IN ('idle', 'busy') AND NOT rn.paused)
           THEN 'no live runner ' || gw_labels_has(runs_on) END;
END
$$;

-- The transitions (0007) without STRICT: a single expression, which the
-- planner puts in place of the call instead of running the function (and
-- planning its body) at each statement. Neither caller passes
-- NULL; for NULL they now answer NULL or false, both refused by a WHERE.
ALTER FUNCTION gw_run_may(run_status, run_status) CALLED ON NULL INPUT;
ALTER FUNCTION gw_job_may(job_status, job_status) CALLED ON NULL INPUT;

-- The claim's candidates (0015): its one statement's plan is the same
-- index probes whatever the runner and n, but the plan cache went on
-- making custom plans for one call in seven or so (each longer to make
-- than the walk it plans); the generic plan always.
ALTER FUNCTION gw_claimable(uuid, integer) SET plan_cache_mode = force_generic_plan;
