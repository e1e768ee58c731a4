-- Operating the runner: pausing runners, rerunning runs, and views that
-- answer an operator's questions from psql (docs/psql.md).

-- A paused runner claims no new run; what it runs goes on to the end. The
-- flag lives on the row so that it outlives the worker process.
ALTER TABLE runners ADD COLUMN paused boolean NOT NULL DEFAULT false;

-- The run a rerun copied its frozen spec from.
ALTER TABLE pipeline_runs ADD COLUMN rerun_of uuid REFERENCES pipeline_runs (id) ON DELETE SET NULL;

-- The metrics' histograms read the runs that ended recently, from the index
-- alone (what they read is included).
CREATE INDEX pipeline_runs_ended_idx ON pipeline_runs (ended_at)
    INCLUDE (created_at, started_at, status) WHERE ended_at IS NOT NULL;

-- What is stuck: running runs whose lease has expired or whose runner is
-- offline (not seen within its lease) or gone.
CREATE VIEW stuck_runs AS
SELECT r.id,
       repos.name AS repo,
       t.name AS template,
       rn.name AS runner,
       r.attempt,
       r.started_at,
       now() - r.started_at AS running_for,
       r.lease_expires_at,
       CASE WHEN r.lease_expires_at < now() THEN 'lease expired'
            WHEN rn.id IS NULL THEN 'runner gone'
            ELSE 'runner offline' END AS reason,
       rn.last_seen_at AS runner_last_seen_at
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id
  LEFT JOIN runners rn ON rn.id = r.runner_id
 WHERE r.status = 'running'
   AND (r.lease_expires_at < now()
        OR rn.id IS NULL
        OR rn.last_seen_at < now() - rn.lease_seconds * interval '1 second')
 ORDER BY r.started_at;

-- What failed in the last day and why: the run's error, the first job that
-- failed, its exit code and the last line of its log.
CREATE VIEW recent_failures AS
SELECT r.id,
       repos.name AS repo,
       t.name AS template,
       r.ref,
       r.ended_at,
       r.error,
       fj.name AS failed_job,
       fj.exit_code,
       fj.error AS job_error,
       (SELECT substring(l.chunk FROM '([^\n]*)\n?$')
          FROM logs l WHERE l.job_id = fj.id
         ORDER BY l."offset" DESC LIMIT 1) AS last_log_line
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id
  LEFT JOIN LATERAL (
        SELECT j.id, j.name, j.exit_code, j.error FROM jobs j
         WHERE j.run_id = r.id AND j.status = 'failed'
         ORDER BY j.position LIMIT 1) fj ON true
 WHERE r.status = 'failed'
   AND r.ended_at > now() - interval '1 day'
 ORDER BY r.ended_at DESC;

-- Each runner as GET /runners shows it: offline when not seen within its
-- lease; idle or busy from the runs it is running now (a worker with
-- several slots stays registered as idle); its slots and busy slots.
CREATE VIEW runner_state AS
SELECT rn.id, rn.name, rn.paused, rn.slots, b.busy,
       CASE WHEN rn.last_seen_at < now() - rn.lease_seconds * interval '1 second' THEN 'offline'
            WHEN rn.status IN ('idle', 'busy')
            THEN CASE WHEN b.busy > 0 THEN 'busy' ELSE 'idle' END
            ELSE rn.status END AS status
  FROM runners rn,
       LATERAL (SELECT count(*) AS busy FROM pipeline_runs r
                 WHERE r.runner_id = rn.id AND r.status = 'running') b;

-- Runner utilisation over the last hour: the share of the hour each
-- runner's slots spent running runs.
CREATE VIEW runner_utilisation AS
SELECT rn.name AS runner,
       rn.paused,
       rn.slots,
       rn.status,
       count(r.id) AS runs,
       coalesce(sum(least(coalesce(r.ended_at, now()), now())
                    - greatest(r.started_at, now() - interval '1 hour')),
                interval '0') AS busy,
       round(coalesce(extract(epoch FROM sum(least(coalesce(r.ended_at, now()), now())
                                            - greatest(r.started_at, now() - interval '1 hour'))),
                      0)::numeric / (36 * rn.slots), 2) AS busy_percent
  FROM runner_state rn
  LEFT JOIN pipeline_runs r
    ON r.runner_id = rn.id AND r.started_at IS NOT NULL
   AND coalesce(r.ended_at, now()) > now() - interval '1 hour'
 GROUP BY rn.id, rn.name, rn.paused, rn.slots, rn.status
 ORDER BY rn.name;

-- Runs and jobs that reached a final status, by status: the counters of
-- /metrics, kept here so they survive a restart of the API and cost a scan
-- of a few rows. A trigger counts each transition into a final status, on
-- one of eight shards picked at random so that concurrent writers seldom
-- wait on the same row.
CREATE TABLE status_totals (
    kind   text NOT NULL CHECK (kind IN ('run', 'job')),
    status text NOT NULL,
    shard  integer NOT NULL,
    n      bigint NOT NULL,
    PRIMARY KEY (kind, status, shard)
);

-- A run failed by the reaper (error "runner lost: ...") is also counted as
-- 'runner lost', the figure of an alert (docs/metrics.md).
CREATE FUNCTION status_totals_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO status_totals AS t (kind, status, shard, n)
    VALUES (TG_ARGV[0], NEW.status::text, floor(random() * 8)::integer, 1)
    ON CONFLICT (kind, status, shard) DO UPDATE SET n = t.n + 1;
    IF TG_ARGV[0] = 'run' AND NEW.error LIKE 'runner lost%' THEN
        INSERT INTO status_totals AS t (kind, status, shard, n)
        VALUES ('run', 'runner lost', floor(random() * 8)::integer, 1)
        ON CONFLICT (kind, status, shard) DO UPDATE SET n = t.n + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER pipeline_runs_count_final AFTER UPDATE OF status ON pipeline_runs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NEW.status IN ('success', 'failed', 'canceled'))
    EXECUTE FUNCTION status_totals_count('run');

CREATE TRIGGER jobs_count_final AFTER UPDATE OF status ON jobs
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                       AND NEW.status IN ('success', 'failed', 'canceled', 'skipped'))
    EXECUTE FUNCTION status_totals_count('job');

INSERT INTO status_totals (kind, status, shard, n)
SELECT 'run', status::text, 0, count(*) FROM pipeline_runs
 WHERE status IN ('success', 'failed', 'canceled') GROUP BY status;
INSERT INTO status_totals (kind, status, shard, n)
SELECT 'run', 'runner lost', 0, count(*) FROM pipeline_runs
 WHERE status = 'failed' AND error LIKE 'runner lost%' HAVING count(*) > 0;
INSERT INTO status_totals (kind, status, shard, n)
SELECT 'job', status::text, 0, count(*) FROM jobs
 WHERE status IN ('success', 'failed', 'canceled', 'skipped') GROUP BY status;

-- The database's figures of /metrics, one row per sample in exposition
-- order (docs/metrics.md): family, sample name, labels, value. One
-- statement reads them all: the queue and running runs by their partial
-- indexes, the counters from status_totals, the histograms from the runs
-- that ended in the last hour (pipeline_runs_ended_idx), the runners' rows.
-- A histogram reads its runs once: each run is counted in the first bucket
-- that holds it (width_bucket, less one when the value is a bound itself,
-- as `le` includes its bound), and a bucket's sample adds up those below.
-- Label values need no escaping: statuses are fixed words and runner names
-- are [A-Za-z0-9._-].
CREATE VIEW metrics_samples AS
WITH bounds AS (
    SELECT '{0.1,0.5,1,2,5,10,30,60,120,300,600,1800,3600}'::float8[] AS pickup,
           '{1,5,10,30,60,120,300,600,1800,3600,7200}'::float8[] AS duration),
recent AS (
    SELECT status::text AS status,
           extract(epoch FROM started_at - created_at)::float8 AS pickup,
           extract(epoch FROM ended_at - started_at)::float8 AS duration
      FROM pipeline_runs
     WHERE ended_at > now() - interval '1 hour' AND started_at IS NOT NULL),
pickup_first AS (
    SELECT width_bucket(r.pickup, b.pickup) - (r.pickup = ANY (b.pickup))::integer AS below,
           count(*) AS n, sum(r.pickup) AS total
      FROM recent r, bounds b GROUP BY 1),
duration_first AS (
    SELECT r.status,
           width_bucket(r.duration, b.duration) - (r.duration = ANY (b.duration))::integer AS below,
           count(*) AS n, sum(r.duration) AS total
      FROM recent r, bounds b GROUP BY 1, 2),
pickup_le AS (SELECT u.* FROM bounds, unnest(bounds.pickup) WITH ORDINALITY AS u(le, i)),
duration_le AS (SELECT u.* FROM bounds, unnest(bounds.duration) WITH ORDINALITY AS u(le, i)),
q AS (SELECT count(*) AS depth, min(created_at) AS oldest
        FROM pipeline_runs WHERE status = 'queued'),
totals AS (SELECT kind, status, sum(n) AS n FROM status_totals GROUP BY kind, status),
rn AS (SELECT name, paused, status, slots, busy FROM runner_state),
final(status) AS (VALUES ('success'), ('failed'), ('canceled')),
s(ord, grp, sub, family, sample, labels, value) AS (
    SELECT 1, '', 0::bigint, 'gitweave_queue_depth', 'gitweave_queue_depth', '', depth::float8 FROM q
    UNION ALL
    SELECT 2, '', 0, 'gitweave_queue_oldest_seconds', 'gitweave_queue_oldest_seconds', '',
           coalesce(extract(epoch FROM now() - oldest), 0)::float8 FROM q
    UNION ALL
    SELECT 3, '', 0, 'gitweave_runs_running', 'gitweave_runs_running', '', count(*)::float8
      FROM pipeline_runs WHERE status = 'running'
    UNION ALL
    SELECT 4, f.status, 0, 'gitweave_runs_total', 'gitweave_runs_total',
           format('status="%s"', f.status), coalesce(t.n, 0)::float8
      FROM final f LEFT JOIN totals t ON t.kind = 'run' AND t.status = f.status
    UNION ALL
    SELECT 5, f.status, 0, 'gitweave_jobs_total', 'gitweave_jobs_total',
           format('status="%s"', f.status), coalesce(t.n, 0)::float8
      FROM (SELECT status FROM final UNION ALL VALUES ('skipped')) f
      LEFT JOIN totals t ON t.kind = 'job' AND t.status = f.status
    UNION ALL
    SELECT 12, '', 0, 'gitweave_runs_lost_total', 'gitweave_runs_lost_total', '',
           coalesce((SELECT n FROM totals WHERE kind = 'run' AND status = 'runner lost'), 0)::float8
    UNION ALL
    SELECT 6, '', b.i, 'gitweave_pickup_seconds', 'gitweave_pickup_seconds_bucket',
           format('le="%s"', b.le),
           (SELECT coalesce(sum(n), 0) FROM pickup_first WHERE below < b.i)::float8
      FROM pickup_le b
    UNION ALL
    SELECT 6, '', 1000, 'gitweave_pickup_seconds', 'gitweave_pickup_seconds_bucket', 'le="+Inf"',
           coalesce(sum(n), 0)::float8 FROM pickup_first
    UNION ALL
    SELECT 6, '', 1001, 'gitweave_pickup_seconds', 'gitweave_pickup_seconds_sum', '',
           coalesce(sum(total), 0)::float8 FROM pickup_first
    UNION ALL
    SELECT 6, '', 1002, 'gitweave_pickup_seconds', 'gitweave_pickup_seconds_count', '',
           coalesce(sum(n), 0)::float8 FROM pickup_first
    UNION ALL
    SELECT 7, f.status, b.i, 'gitweave_run_duration_seconds', 'gitweave_run_duration_seconds_bucket',
           format('status="%s",le="%s"', f.status, b.le),
           (SELECT coalesce(sum(n), 0) FROM duration_first d
             WHERE d.status = f.status AND d.below < b.i)::float8
      FROM final f, duration_le b
    UNION ALL
    SELECT 7, f.status, 1000 + k.k, 'gitweave_run_duration_seconds',
           'gitweave_run_duration_seconds_' || k.suffix,
           format('status="%s"', f.status) || k.le,
           (SELECT coalesce(sum(CASE k.suffix WHEN 'sum' THEN total ELSE n END), 0)
              FROM duration_first d WHERE d.status = f.status)::float8
      FROM final f,
           (VALUES (0, 'bucket', ',le="+Inf"'), (1, 'sum', ''), (2, 'count', '')) k(k, suffix, le)
    UNION ALL
    SELECT 8, x.status, 0, 'gitweave_runners', 'gitweave_runners', format('status="%s"', x.status),
           (SELECT count(*) FROM rn WHERE rn.status = x.status)::float8
      FROM (VALUES ('idle'), ('busy'), ('degraded'), ('draining'), ('stopped'), ('offline')
            UNION SELECT status FROM rn) x(status)
    UNION ALL
    SELECT 9, name, 0, 'gitweave_runner_paused', 'gitweave_runner_paused',
           format('runner="%s"', name), paused::integer::float8 FROM rn
    UNION ALL
    SELECT 10, name, 0, 'gitweave_runner_slots', 'gitweave_runner_slots',
           format('runner="%s"', name), slots::float8 FROM rn
    UNION ALL
    SELECT 11, name, 0, 'gitweave_runner_busy_slots', 'gitweave_runner_busy_slots',
           format('runner="%s"', name), busy::float8 FROM rn)
SELECT family, sample, labels, value FROM s ORDER BY ord, grp, sub;
