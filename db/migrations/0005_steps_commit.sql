-- What a developer reads on a run: the names of its jobs that failed but
-- were allowed to (allow_failure), in the order they failed, so that a
-- successful run says it had failures. commit_sha, already there, is now
-- set for every run by its checkout.
ALTER TABLE pipeline_runs ADD COLUMN allowed_failures text[] NOT NULL DEFAULT '{}';

-- The last line a failed job printed: its log now ends with the echo of the
-- step that failed (`$ make test`), which the job's error names already, so
-- the line before the echo lines is the one to show.
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
         WHERE j.run_id = r.id AND j.status = 'failed'
         ORDER BY j.position LIMIT 1) fj ON true
 WHERE r.status = 'failed'
   AND r.ended_at > now() - interval '1 day'
 ORDER BY r.ended_at DESC;
