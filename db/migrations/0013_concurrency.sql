-- Concurrency groups: at most one run of a group runs at a time, the
-- others wait in the order they were queued; a template with
-- cancel_in_progress supersedes the group's queued and running runs when a
-- new one is queued (docs/templates.md, "concurrency").
--
-- concurrency_group is the template's concurrency.group with its
-- expressions expanded when the run is queued (NULL: no group); groups
-- are global, so a template that wants one per repo names the repo in it.
-- cancel_reason is the error a run ends with when its worker stops it
-- after a cancel (NULL: "canceled"), set with cancel_requested_at by the
-- API (api/queries.h, RUN_CANCEL_CTES).
ALTER TABLE pipeline_runs ADD COLUMN concurrency_group text;
ALTER TABLE pipeline_runs ADD COLUMN cancel_reason text;

-- The runs of a group that hold it or wait for it, oldest first: the claim
-- and the waiting reason ask "is there one running, or one queued before
-- this one?" with one probe of this index.
CREATE INDEX pipeline_runs_group_idx ON pipeline_runs (concurrency_group, created_at, id)
    WHERE status IN ('queued', 'running') AND concurrency_group IS NOT NULL;

-- As in 0011, but a run that waits for its group is no candidate: one of
-- its group is running, or one was queued before it (one probe of
-- pipeline_runs_group_idx; written out here, not as a function, which the
-- planner could not inline and would call once per row). It is passed
-- over inside the walk of its label set, before the cut, so that runs
-- waiting for their groups never hide a run that may start behind them.
-- Only the first queued run of a group whose runs are all queued passes,
-- so one claim (and two claims at once: each sees the other's run queued
-- or running) never starts two runs of a group.
CREATE OR REPLACE FUNCTION gw_claimable(runner uuid, n integer) RETURNS SETOF uuid
    LANGUAGE sql STABLE ROWS 20
AS $$
    WITH RECURSIVE me AS (
        SELECT labels, run_unlabeled FROM runners WHERE id = runner AND NOT paused),
    sets(v) AS (
        SELECT (SELECT min(runs_on) FROM pipeline_runs WHERE status = 'queued')
        UNION ALL
        SELECT (SELECT min(q.runs_on) FROM pipeline_runs q
                 WHERE q.status = 'queued' AND q.runs_on > sets.v)
          FROM sets WHERE sets.v IS NOT NULL)
    SELECT c.id
      FROM sets, me,
           -- From the set on, in the order of pipeline_runs_queued_labels_idx,
           -- which alone has it (with runs_on = v the planner may walk the
           -- whole queue by age instead); the rows of the next sets are cut.
           LATERAL (SELECT q.id, q.runs_on FROM pipeline_runs q
                     WHERE q.status = 'queued' AND q.runs_on >= sets.v
                       AND (q.concurrency_group IS NULL OR NOT EXISTS (
                            SELECT 1 FROM pipeline_runs g
                             WHERE g.concurrency_group = q.concurrency_group
                               AND g.status IN ('queued', 'running') AND g.id <> q.id
                               AND (g.status = 'running'
                                    OR (g.created_at, g.id) < (q.created_at, q.id))))
                     ORDER BY q.runs_on, q.created_at LIMIT n * 4 + 16) c
     WHERE sets.v IS NOT NULL AND c.runs_on = sets.v
       AND gw_runner_takes(me.labels, me.run_unlabeled, sets.v)
$$;

-- Why a queued run waits: its concurrency group first (the run would not
-- start on a free runner either), else its runners, as 0011 says (that
-- function is kept under the name gw_run_waiting_runners).
--   concurrency_group  a run of its group is running, or was queued before
--                      it; position is then its place among the group's
--                      queued runs, and detail names the run it waits for
--                      (the running one, else the oldest queued).
ALTER FUNCTION gw_run_waiting(uuid) RENAME TO gw_run_waiting_runners;

CREATE FUNCTION gw_run_waiting(run uuid)
    RETURNS TABLE (reason text, "position" bigint, detail text)
    LANGUAGE sql STABLE
AS $$
    WITH r AS (SELECT id, created_at, concurrency_group FROM pipeline_runs WHERE id = run),
    g AS (SELECT (SELECT h.id FROM pipeline_runs h
                   WHERE h.concurrency_group = r.concurrency_group
                     AND h.status IN ('queued', 'running') AND h.id <> r.id
                     AND (h.status = 'running' OR (h.created_at, h.id) < (r.created_at, r.id))
                   ORDER BY h.status = 'running' DESC, h.created_at, h.id LIMIT 1) AS ahead,
                 (SELECT 1 + count(*) FROM pipeline_runs h
                   WHERE h.concurrency_group = r.concurrency_group AND h.status = 'queued'
                     AND (h.created_at, h.id) < (r.created_at, r.id)) AS "position",
                 r.concurrency_group AS grp
            FROM r WHERE r.concurrency_group IS NOT NULL)
    SELECT 'concurrency_group', g."position",
           format('waiting for run %s of the concurrency group "%s" (%s); %s queued ahead in the group',
                  g.ahead, g.grp, (SELECT h.status FROM pipeline_runs h WHERE h.id = g.ahead),
                  g."position" - 1)
      FROM g WHERE g.ahead IS NOT NULL
    UNION ALL
    SELECT w.reason, w."position", w.detail FROM gw_run_waiting_runners(run) w
     WHERE NOT EXISTS (SELECT 1 FROM g WHERE g.ahead IS NOT NULL)
$$;

-- As in 0011, with the run's concurrency group (run_waiting keeps its
-- columns and adds it last).
CREATE OR REPLACE VIEW run_waiting AS
SELECT r.id, repos.name AS repo, t.name AS template, r.runs_on, r.created_at,
       now() - r.created_at AS waiting, w.reason, w."position", w.detail,
       r.concurrency_group
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id,
       LATERAL gw_run_waiting(r.id) w
 WHERE r.status = 'queued'
 ORDER BY r.created_at, r.id;

-- As in 0011, with the reason concurrency_group.
CREATE OR REPLACE VIEW metrics_label_samples AS
WITH reasons(ord, reason) AS (
    VALUES (1, 'no_matching_runner'), (2, 'matching_runners_offline'),
           (3, 'matching_runners_paused'), (4, 'matching_runners_draining'),
           (5, 'matching_runners_busy'), (6, 'concurrency_group')),
queued AS (SELECT w.reason FROM pipeline_runs r, LATERAL gw_run_waiting(r.id) w
            WHERE r.status = 'queued')
SELECT family, sample, labels, value FROM (
    SELECT 1 AS part, x.ord::text AS k, 'gitweave_runs_waiting' AS family,
           'gitweave_runs_waiting' AS sample, format('reason="%s"', x.reason) AS labels,
           (SELECT count(*) FROM queued q WHERE q.reason = x.reason)::float8 AS value
      FROM reasons x
    UNION ALL
    SELECT 2, rn.name, 'gitweave_runner_labels', 'gitweave_runner_labels',
           format('runner="%s",labels="%s"', rn.name, array_to_string(rn.labels, ',')), 1
      FROM runners rn) s
 ORDER BY part, k;
