-- Schedules: a template attached to a repo whose on.schedule lists cron
-- expressions starts runs of the repo's default branch (trigger
-- 'schedule') at their fire times (docs/templates.md, "Schedules").
--
-- Every API process fires schedules. A fire time is taken by inserting its
-- row here, ON CONFLICT DO NOTHING, in the statement that inserts its run,
-- so that it starts one run however many processes try: the primary key is
-- the schedule (repo, template, expression) and the fire time.
CREATE TABLE schedule_fires (
    repo_id     uuid NOT NULL REFERENCES repos (id) ON DELETE CASCADE,
    template_id uuid NOT NULL REFERENCES templates (id) ON DELETE CASCADE,
    cron        text NOT NULL,
    fire_at     timestamptz NOT NULL,
    run_id      uuid REFERENCES pipeline_runs (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (repo_id, template_id, cron, fire_at)
);
