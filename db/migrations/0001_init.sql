-- GitWeave Runner: the queue, the runs, their jobs and logs.
-- Postgres is the broker, the store and the event bus (see docs/queue.md).

CREATE TYPE run_status AS ENUM ('queued', 'running', 'success', 'failed', 'canceled');
CREATE TYPE job_status AS ENUM ('queued', 'running', 'success', 'failed', 'canceled', 'skipped');

CREATE TABLE repos (
    id             uuid PRIMARY KEY,
    name           text NOT NULL UNIQUE
                   CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    clone_url      text,
    default_branch text NOT NULL DEFAULT 'main',
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE templates (
    id         uuid PRIMARY KEY,
    name       text NOT NULL UNIQUE
               CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
    kind       text NOT NULL CHECK (kind IN ('build', 'test', 'release')),
    version    integer NOT NULL DEFAULT 1,
    document   jsonb NOT NULL,          -- the validated, normalised document
    source     text NOT NULL,           -- the document as the user sent it
    source_type text NOT NULL DEFAULT 'application/json',
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE repo_templates (
    repo_id     uuid NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    template_id uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    inputs      jsonb NOT NULL DEFAULT '{}',
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, template_id)
);

CREATE TABLE runners (
    id           uuid PRIMARY KEY,
    name         text NOT NULL UNIQUE,
    hostname     text NOT NULL,
    engine       text NOT NULL,
    status       text NOT NULL DEFAULT 'idle',   -- idle, busy, degraded, stopped
    status_detail text,
    lease_seconds integer NOT NULL,
    started_at   timestamptz NOT NULL DEFAULT now(),
    last_seen_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE pipeline_runs (
    id                  uuid PRIMARY KEY,
    repo_id             uuid NOT NULL REFERENCES repos (id),
    template_id         uuid NOT NULL REFERENCES templates (id),
    template_version    integer NOT NULL,
    status              run_status NOT NULL DEFAULT 'queued',
    trigger             text NOT NULL DEFAULT 'manual',
    ref                 text,
    commit_sha          text,
    inputs              jsonb NOT NULL DEFAULT '{}',
    spec                jsonb NOT NULL,        -- the expanded jobs, frozen at trigger time
    clean               boolean NOT NULL DEFAULT false,  -- the template's clean, frozen too
    triggered_by        uuid,
    created_at          timestamptz NOT NULL DEFAULT now(),
    started_at          timestamptz,
    ended_at            timestamptz,
    runner_id           uuid REFERENCES runners (id) ON DELETE SET NULL,
    attempt             integer NOT NULL DEFAULT 0,
    lease_expires_at    timestamptz,
    cancel_requested_at timestamptz,
    error               text
);

CREATE TABLE jobs (
    id         uuid PRIMARY KEY,
    run_id     uuid NOT NULL REFERENCES pipeline_runs (id) ON DELETE CASCADE,
    position   integer NOT NULL,
    name       text NOT NULL,
    kind       text NOT NULL DEFAULT 'script' CHECK (kind IN ('script', 'checkout')),
    image      text,
    status     job_status NOT NULL DEFAULT 'queued',
    exit_code  integer,
    started_at timestamptz,
    ended_at   timestamptz,
    error      text,
    UNIQUE (run_id, position)
);

CREATE TABLE logs (
    id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    job_id uuid NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
    "offset" integer NOT NULL CHECK ("offset" >= 0),
    chunk  text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    UNIQUE (job_id, "offset")
);

CREATE INDEX jobs_run_id_idx ON jobs (run_id);
CREATE INDEX logs_job_id_idx ON logs (job_id);
-- The claim reads the oldest queued run: this partial index holds only those.
CREATE INDEX pipeline_runs_queued_idx ON pipeline_runs (created_at) WHERE status = 'queued';
-- The reaper reads running runs by lease.
CREATE INDEX pipeline_runs_running_idx ON pipeline_runs (lease_expires_at) WHERE status = 'running';
CREATE INDEX pipeline_runs_repo_idx ON pipeline_runs (repo_id, created_at DESC, id DESC);

-- For psql users: the queue at a glance, oldest first.
CREATE VIEW run_queue AS
SELECT r.id,
       repos.name AS repo,
       t.name AS template,
       r.trigger,
       r.ref,
       r.created_at,
       now() - r.created_at AS waiting,
       (SELECT count(*) FROM jobs j WHERE j.run_id = r.id) AS jobs
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id
 WHERE r.status = 'queued'
 ORDER BY r.created_at;

-- For psql users: what is running where, and how long its lease has left.
CREATE VIEW run_activity AS
SELECT r.id,
       repos.name AS repo,
       t.name AS template,
       runners.name AS runner,
       r.attempt,
       r.started_at,
       now() - r.started_at AS running_for,
       r.lease_expires_at - now() AS lease_left,
       (SELECT j.name FROM jobs j WHERE j.run_id = r.id AND j.status = 'running' LIMIT 1) AS job,
       r.cancel_requested_at IS NOT NULL AS cancel_requested
  FROM pipeline_runs r
  JOIN repos ON repos.id = r.repo_id
  JOIN templates t ON t.id = r.template_id
  LEFT JOIN runners ON runners.id = r.runner_id
 WHERE r.status = 'running'
 ORDER BY r.started_at;
