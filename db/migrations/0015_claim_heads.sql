-- The claim's candidates without passing over the runs that wait for their
-- concurrency group: a group gives at most one candidate, its head (its
-- oldest queued run), found by one probe a group, rather than one probe
-- for each of its waiting runs inside the walk of their label set.
--
-- The queued runs without a group, by label set and age: gw_claimable walks
-- their label sets and takes the oldest of each set the runner may take
-- (as 0011 did over every queued run).
CREATE INDEX pipeline_runs_queued_free_idx ON pipeline_runs (runs_on, created_at)
    WHERE status = 'queued' AND concurrency_group IS NULL;

-- The queued runs of each group, oldest first: gw_claimable walks the
-- groups with it (one probe a group, however many of its runs wait), and a
-- group's first entry is its head.
CREATE INDEX pipeline_runs_group_queued_idx ON pipeline_runs (concurrency_group, created_at, id)
    WHERE status = 'queued' AND concurrency_group IS NOT NULL;

-- The groups with a running run (as many rows as runs running in a group):
-- such a group gives no candidate.
CREATE INDEX pipeline_runs_group_running_idx ON pipeline_runs (concurrency_group)
    WHERE status = 'running' AND concurrency_group IS NOT NULL;

-- As in 0013, with the same candidates found in two walks:
--   - the runs without a group: the distinct label sets of those queued, the
--     oldest n * 4 + 16 of each set the runner may take (a margin for runs
--     that other runners hold locked);
--   - the runs of a group: the distinct groups with a queued run, and of
--     each its head, when no run of the group is running and the runner may
--     take the head's labels. A head the runner may not take holds its
--     group back, however many later runs of the group it could take: the
--     group's order is kept, as it is for a head locked by another claim.
-- A run waits for its group when a run of the group is running or one was
-- queued before it (0013), so a head that passes is a run 0013 let pass,
-- and only those. The claim (worker/queue.c) takes the oldest n of them,
-- FOR UPDATE SKIP LOCKED: neither one claim nor two at once start two runs
-- of a group (each sees the other's run queued or running). The cost grows
-- with the label sets and the groups that have queued runs, not with the
-- runs that wait.
--
-- PL/pgSQL, not SQL: a SQL function is inlined into the claim, so every
-- claim parsed and planned its body again (most of a claim's time), where
-- PL/pgSQL plans it once per connection (a generic plan after the first
-- few calls; it is the same plan: index probes only). The claim sees a
-- set of ROWS 20 and probes pipeline_runs by id for each.
CREATE OR REPLACE FUNCTION gw_claimable(runner uuid, n integer) RETURNS SETOF uuid
    LANGUAGE plpgsql STABLE ROWS 20
AS $$
BEGIN
    RETURN QUERY
    WITH RECURSIVE me AS (
        SELECT r.labels, r.run_unlabeled FROM runners r WHERE r.id = runner AND NOT r.paused),
    sets(v) AS (
        SELECT (SELECT min(runs_on) FROM pipeline_runs
                 WHERE status = 'queued' AND concurrency_group IS NULL)
        UNION ALL
        SELECT (SELECT min(q.runs_on) FROM pipeline_runs q
                 WHERE q.status = 'queued' AND q.concurrency_group IS NULL
                   AND q.runs_on > sets.v)
          FROM sets WHERE sets.v IS NOT NULL),
    groups(g) AS (
        SELECT (SELECT min(concurrency_group) FROM pipeline_runs
                 WHERE status = 'queued' AND concurrency_group IS NOT NULL)
        UNION ALL
        SELECT (SELECT min(q.concurrency_group) FROM pipeline_runs q
                 WHERE q.status = 'queued' AND q.concurrency_group > groups.g)
          FROM groups WHERE groups.g IS NOT NULL)
    SELECT c.id
      FROM sets, me,
           -- From the set on, in the order of pipeline_runs_queued_free_idx,
           -- which alone has it; the rows of the next sets are cut.
           LATERAL (SELECT q.id, q.runs_on FROM pipeline_runs q
                     WHERE q.status = 'queued' AND q.concurrency_group IS NULL
                       AND q.runs_on >= sets.v
                     ORDER BY q.runs_on, q.created_at LIMIT n * 4 + 16) c
     WHERE sets.v IS NOT NULL AND c.runs_on = sets.v
       AND gw_runner_takes(me.labels, me.run_unlabeled, sets.v)
    UNION ALL
    SELECT h.id
      FROM groups, me,
           LATERAL (SELECT q.id, q.runs_on FROM pipeline_runs q
                     WHERE q.status = 'queued' AND q.concurrency_group = groups.g
                     ORDER BY q.created_at, q.id LIMIT 1) h
     WHERE groups.g IS NOT NULL
       AND gw_runner_takes(me.labels, me.run_unlabeled, h.runs_on)
       AND NOT EXISTS (SELECT 1 FROM pipeline_runs r
                        WHERE r.status = 'running' AND r.concurrency_group = groups.g);
END
$$;
