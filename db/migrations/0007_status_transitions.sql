-- The transitions between the statuses of runs and jobs, for the worker's
-- statements whose target status is a parameter (worker/queue.c: job end,
-- run end): they move a row only where these allow it. The table of record
-- is common/status.c; tests/unit/check_status_sql.c holds these functions
-- to it pair by pair, and every status-changing statement of both programs
-- to both (docs/queue.md, "Statuses and transitions").

CREATE FUNCTION gw_run_may(from_status run_status, to_status run_status) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT (from_status, to_status) IN (
        ('queued', 'running'), ('queued', 'canceled'),
        ('running', 'queued'), ('running', 'success'), ('running', 'failed'),
        ('running', 'canceled'))
$$;

CREATE FUNCTION gw_job_may(from_status job_status, to_status job_status) RETURNS boolean
    LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
AS $$
    SELECT (from_status, to_status) IN (
        ('queued', 'running'), ('queued', 'skipped'), ('queued', 'canceled'),
        ('running', 'queued'), ('running', 'success'), ('running', 'failed'),
        ('running', 'canceled'))
$$;
