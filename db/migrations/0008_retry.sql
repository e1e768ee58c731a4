-- Retries: a run whose runner was lost (it died, lost the database, or was
-- stopped) goes back to the queue as its next try when the job it was at
-- allows it (`retry: {max, when: [runner_lost]}` in the template or the
-- job; docs/templates.md). The next try starts again from the first job,
-- with job rows of its own: the earlier try's rows, and their logs, stay
-- as they ended (docs/queue.md, "Retries").

-- Why each earlier try was given up, oldest first ('runner lost: ...'):
-- its length is the number of retries, and the retry the run is at now.
ALTER TABLE pipeline_runs ADD COLUMN retries text[] NOT NULL DEFAULT '{}';

-- The try a job row belongs to (0: the first; n: the n-th retry), and the
-- job's retry rule, frozen at trigger time (the job's own, or else the
-- template's): how many retries a run lost during this job may take, and
-- on what (only 'runner_lost' today).
ALTER TABLE jobs ADD COLUMN retry integer NOT NULL DEFAULT 0 CHECK (retry >= 0);
ALTER TABLE jobs ADD COLUMN retry_max integer NOT NULL DEFAULT 0
    CHECK (retry_max BETWEEN 0 AND 3);
ALTER TABLE jobs ADD COLUMN retry_when text[] NOT NULL DEFAULT '{}';

-- A position is unique within a try.
ALTER TABLE jobs DROP CONSTRAINT jobs_run_id_position_key;
ALTER TABLE jobs ADD CONSTRAINT jobs_run_id_retry_position_key UNIQUE (run_id, retry, position);

-- The views count and name the jobs of the run's current try.
CREATE OR REPLACE VIEW run_queue AS
SELECT r.id,
       repos.name AS repo,
       t.name AS template,
       r.trigger,
       r.ref,
       r.created_at,
       now() - r.created_at AS waiting,
       (SELECT count(*) FROM jobs j
         WHERE j.run_id = r.id AND j.retry = cardinality(r.retries)) AS jobs
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id
 WHERE r.status = 'queued'
 ORDER BY r.created_at;

CREATE OR REPLACE VIEW recent_failures AS
SELECT r.id,
       repos.name AS repo,
       t.name AS template,
       r.ref,
       r.ended_at,
       r.error,
       fj.name AS failed_job,
       fj.exit_code,
       fj.error AS job_error,
       (SELECT COALESCE(substring(l.chunk FROM '([^\n]*)\n(\$ [^\n]*\n?(> [^\n]*\n?)*)+$'),
                        substring(l.chunk FROM '([^\n]*)\n?$'))
          FROM logs l WHERE l.job_id = fj.id
         ORDER BY l."offset" DESC LIMIT 1) AS last_log_line
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id
  LEFT JOIN LATERAL (
        SELECT j.id, j.name, j.exit_code, j.error FROM jobs j
         WHERE j.run_id = r.id AND j.retry = cardinality(r.retries) AND j.status = 'failed'
         ORDER BY j.position LIMIT 1) fj ON true
 WHERE r.status = 'failed'
   AND r.ended_at > now() - interval '1 day'
 ORDER BY r.ended_at DESC;

-- For psql users: every try of a run, with why the earlier ones were
-- retried (NULL for the current one).
CREATE VIEW run_tries AS
SELECT j.run_id,
       j.retry,
       r.retries[j.retry + 1] AS retried_because,
       j.position,
       j.name,
       j.status,
       j.exit_code,
       j.error,
       j.id AS job_id
  FROM jobs j JOIN pipeline_runs r ON r.id = j.run_id
 ORDER BY j.run_id, j.retry, j.position;
