-- Labels: which runner may take which run, and why a queued run waits.
--
-- A runner has labels (RUNNER_LABELS plus its engine's name, docker or
-- local) and takes runs without runs-on unless RUNNER_RUN_UNLABELED=false.
-- A run needs the labels of its template's runs-on, frozen when it is
-- queued, as a sorted set without repeats ('{}': none asked for).
ALTER TABLE runners ADD COLUMN labels text[] NOT NULL DEFAULT '{}';
ALTER TABLE runners ADD COLUMN run_unlabeled boolean NOT NULL DEFAULT true;
ALTER TABLE pipeline_runs ADD COLUMN runs_on text[] NOT NULL DEFAULT '{}';

-- The claim walks the distinct label sets of the queue with this index (a
-- few probes each, however many runs wait), then the oldest runs of each set
-- the runner may take.
CREATE INDEX pipeline_runs_queued_labels_idx ON pipeline_runs (runs_on, created_at)
    WHERE status = 'queued';

-- The runs-on list of a template document as a sorted set ('{}' when absent).
CREATE FUNCTION gw_labels(runs_on jsonb) RETURNS text[]
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT coalesce(array_agg(DISTINCT l ORDER BY l), '{}')
      FROM jsonb_array_elements_text(CASE WHEN jsonb_typeof(runs_on) = 'array'
                                          THEN runs_on ELSE '[]' END) l
$$;

-- Whether a runner with these labels takes a run that needs runs_on.
CREATE FUNCTION gw_runner_takes(labels text[], run_unlabeled boolean, runs_on text[])
    RETURNS boolean LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT runs_on <@ labels AND (cardinality(runs_on) > 0 OR run_unlabeled)
$$;

-- The ids of up to about n queued runs that runner may take, none when it
-- is paused: the oldest of each label set it may take (with a margin for
-- runs that other runners hold locked meanwhile). The claim (worker/queue.c)
-- starts from these ids (ROWS: a few, so that the planner does not scan
-- the queue by age instead) and takes the oldest n, FOR UPDATE SKIP LOCKED.
CREATE FUNCTION gw_claimable(runner uuid, n integer) RETURNS SETOF uuid
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
                     ORDER BY q.runs_on, q.created_at LIMIT n * 4 + 16) c
     WHERE sets.v IS NOT NULL AND c.runs_on = sets.v
       AND gw_runner_takes(me.labels, me.run_unlabeled, sets.v)
$$;

-- What a runner that may take runs needing runs_on "has", for messages:
-- "has the labels gpu, local" or "takes runs without runs-on".
CREATE FUNCTION gw_labels_has(runs_on text[]) RETURNS text
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT CASE WHEN cardinality(runs_on) = 0 THEN 'takes runs without runs-on'
                ELSE 'has the labels ' || array_to_string(runs_on, ', ') END
$$;

-- What the trigger of a run needing runs_on warns when no live runner that
-- is not paused nor draining may take it (the run still waits: a runner may
-- come), NULL when one may: its reason would be matching_runners_busy.
CREATE FUNCTION gw_labels_warning(runs_on text[]) RETURNS text
    LANGUAGE sql STABLE
AS $$
    SELECT CASE WHEN NOT EXISTS (
               SELECT 1 FROM runners rn JOIN runner_state s ON s.id = rn.id
                WHERE gw_runner_takes(rn.labels, rn.run_unlabeled, runs_on)
                  AND s.status IN ('idle', 'busy') AND NOT rn.paused)
           THEN 'no live runner ' || gw_labels_has(runs_on) END
$$;

-- Why a queued run waits: the runners that may take it (matching), and
-- among them the live ones (idle, busy or draining: seen within their lease,
-- engine answering), those not paused, those not draining.
--   no_matching_runner        no registered runner may take it
--   matching_runners_offline  none of them is live
--   matching_runners_paused   the live ones are paused
--   matching_runners_draining the live ones not paused are draining
--   matching_runners_busy     some may take it: it waits for a free slot
-- position: its place among the queued runs that the same runners may take
-- (those with its labels when no runner may).
CREATE FUNCTION gw_run_waiting(run uuid)
    RETURNS TABLE (reason text, "position" bigint, detail text)
    LANGUAGE sql STABLE
AS $$
    WITH r AS (SELECT id, runs_on, created_at FROM pipeline_runs WHERE id = run),
    m AS (SELECT rn.name, rn.labels, rn.run_unlabeled, rn.paused, s.status
            FROM r, runners rn JOIN runner_state s ON s.id = rn.id
           WHERE gw_runner_takes(rn.labels, rn.run_unlabeled, r.runs_on)),
    k AS (SELECT count(*) AS n_all,
                 count(*) FILTER (WHERE status IN ('idle', 'busy', 'draining')) AS n_live,
                 count(*) FILTER (WHERE status IN ('idle', 'busy', 'draining')
                                  AND NOT paused) AS n_active,
                 count(*) FILTER (WHERE status IN ('idle', 'busy') AND NOT paused) AS n_ready
            FROM m),
    w AS (SELECT CASE WHEN k.n_all = 0 THEN 'no_matching_runner'
                      WHEN k.n_live = 0 THEN 'matching_runners_offline'
                      WHEN k.n_active = 0 THEN 'matching_runners_paused'
                      WHEN k.n_ready = 0 THEN 'matching_runners_draining'
                      ELSE 'matching_runners_busy' END AS reason,
                 gw_labels_has(r.runs_on) AS has,
                 CASE WHEN cardinality(r.runs_on) = 0 THEN 'that take runs without runs-on'
                      ELSE 'with the labels ' || array_to_string(r.runs_on, ', ') END AS with_
            FROM r, k),
    p AS (SELECT 1 + count(*) AS "position" FROM r, k, pipeline_runs o
           WHERE o.status = 'queued' AND (o.created_at, o.id) < (r.created_at, r.id)
             AND (EXISTS (SELECT 1 FROM m WHERE gw_runner_takes(m.labels, m.run_unlabeled,
                                                                o.runs_on))
                  OR (k.n_all = 0 AND o.runs_on = r.runs_on))),
    names AS (SELECT string_agg(m.name || ' is ' || m.status, ', ' ORDER BY m.name) AS offline,
                     string_agg(m.name, ', ' ORDER BY m.name)
                         FILTER (WHERE m.paused) AS paused,
                     string_agg(m.name, ', ' ORDER BY m.name)
                         FILTER (WHERE NOT m.paused AND m.status = 'draining') AS draining,
                     string_agg(m.name, ', ' ORDER BY m.name)
                         FILTER (WHERE NOT m.paused AND m.status IN ('idle', 'busy')) AS ready
                FROM m)
    SELECT w.reason, p."position",
           CASE w.reason
               WHEN 'no_matching_runner' THEN 'no runner ' || w.has
               WHEN 'matching_runners_offline' THEN
                   format('no live runner %s: %s', w.has, names.offline)
               WHEN 'matching_runners_paused' THEN
                   format('the runners %s are paused: %s', w.with_, names.paused)
               WHEN 'matching_runners_draining' THEN
                   format('the runners %s are draining: %s', w.with_, names.draining)
               ELSE format('waiting for a free slot on the runners %s (%s); %s queued ahead',
                           w.with_, names.ready, p."position" - 1) END
      FROM w, p, names
$$;

-- For psql users: every queued run, oldest first, and why it waits.
CREATE VIEW run_waiting AS
SELECT r.id, repos.name AS repo, t.name AS template, r.runs_on, r.created_at,
       now() - r.created_at AS waiting, w.reason, w."position", w.detail
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id,
       LATERAL gw_run_waiting(r.id) w
 WHERE r.status = 'queued'
 ORDER BY r.created_at, r.id;

-- The samples of /metrics this adds after those of metrics_samples (same
-- columns): queued runs by the reason they wait (every reason, 0 when none),
-- and each runner's labels (value 1, the labels comma-separated).
CREATE VIEW metrics_label_samples AS
WITH reasons(ord, reason) AS (
    VALUES (1, 'no_matching_runner'), (2, 'matching_runners_offline'),
           (3, 'matching_runners_paused'), (4, 'matching_runners_draining'),
           (5, 'matching_runners_busy')),
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
