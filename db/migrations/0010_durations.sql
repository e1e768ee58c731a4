-- How long a run waited and how long it ran, defined once: the API's
-- queued_seconds and run_seconds (of runs, and run_seconds of jobs), the
-- view run_durations and the client all read these, and /metrics's pickup
-- and duration histograms are the same differences (docs/metrics.md).
--
-- Waited: from its creation to its start, or, for a run that never started,
-- to its end (canceled while queued) or to now (still queued). A run put
-- back in the queue waited until its last start. Ran: from its start to its
-- end, or to now while it runs; NULL when it never started. Seconds, to the
-- millisecond.

CREATE FUNCTION gw_queued_seconds(created timestamptz, started timestamptz, ended timestamptz)
    RETURNS numeric LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    SELECT round(greatest(extract(epoch FROM coalesce(started, ended, now()) - created), 0), 3)
$$;

CREATE FUNCTION gw_run_seconds(started timestamptz, ended timestamptz)
    RETURNS numeric LANGUAGE sql STABLE PARALLEL SAFE
AS $$
    -- greatest() ignores a NULL: a run that never started would show 0.
    SELECT CASE WHEN started IS NOT NULL
                THEN round(greatest(extract(epoch FROM coalesce(ended, now()) - started), 0), 3) END
$$;

-- For psql users: each run, newest first, with how long it waited and ran.
CREATE VIEW run_durations AS
SELECT r.id,
       repos.name AS repo,
       t.name AS template,
       r.status,
       r.created_at,
       gw_queued_seconds(r.created_at, r.started_at, r.ended_at) AS queued_seconds,
       gw_run_seconds(r.started_at, r.ended_at) AS run_seconds
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id
 ORDER BY r.created_at DESC;
