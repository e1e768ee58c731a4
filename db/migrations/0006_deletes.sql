-- Deleting repos and templates (DELETE /repos/{repo}, /templates/{name}).
--
-- A deleted repo or template stays as a row marked deleted_at: every run
-- that used it keeps its foreign key, so its history (the run, its jobs and
-- logs, the repo's and template's names in the replies) reads as before,
-- and nothing a worker reads changes under it. The name is freed: only
-- names of rows not deleted are unique, so a new repo or template may take
-- it (a new row, new id, no history). A delete removes the attachments of
-- what it deletes. Deleting is refused while queued or running runs need
-- the row (the API checks it in the statement that deletes); a run queued
-- in the same instant still runs, since the row it needs is still there.
--
-- The alternative, nullable foreign keys with the names copied onto the
-- runs, would have changed every statement that reads a run and left runs
-- naming a repo that no longer exists in any table.
ALTER TABLE repos ADD COLUMN deleted_at timestamptz;
ALTER TABLE templates ADD COLUMN deleted_at timestamptz;
ALTER TABLE repos DROP CONSTRAINT repos_name_key;
ALTER TABLE templates DROP CONSTRAINT templates_name_key;
CREATE UNIQUE INDEX repos_name_key ON repos (name) WHERE deleted_at IS NULL;
CREATE UNIQUE INDEX templates_name_key ON templates (name) WHERE deleted_at IS NULL;

-- The list of runs across repos (GET /pipelines/runs), newest first.
CREATE INDEX pipeline_runs_created_idx ON pipeline_runs (created_at DESC, id DESC);
