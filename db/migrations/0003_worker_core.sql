-- Worker core: several runs per worker, and death noticed in seconds.

-- How many runs the runner takes at once (RUNNER_CONCURRENCY).
ALTER TABLE runners ADD COLUMN slots integer NOT NULL DEFAULT 1 CHECK (slots >= 1);
-- When another worker's reaper first saw this runner's advisory lock free
-- while it had running runs (its database session ended); cleared when the
-- runner takes its lock again. Its runs end a second after.
ALTER TABLE runners ADD COLUMN lost_at timestamptz;
