-- Secrets: values jobs get in their environment, stored encrypted.
--
-- The API seals each value to the runners' public key (a libsodium sealed
-- box, docs/secrets.md) and stores only the sealed bytes: the API, psql and
-- a dump of the database can never read one back. key_id names the key it
-- was sealed to (so a runner holding several keys during a rotation picks
-- the right one, and the list shows which secrets still use an old key).
-- repo_id NULL: a secret every repo may use; a repo's own wins on a clash.
CREATE TABLE secrets (
    id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    repo_id uuid REFERENCES repos (id) ON DELETE CASCADE,
    name text NOT NULL CHECK (name ~ '^[A-Z_][A-Z0-9_]{0,63}$'),
    ciphertext bytea NOT NULL,
    key_id text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX secrets_repo_name_key ON secrets (repo_id, name) WHERE repo_id IS NOT NULL;
CREATE UNIQUE INDEX secrets_global_name_key ON secrets (name) WHERE repo_id IS NULL;

-- A deleted repo's secrets go with it: a new repo of the same name starts
-- without them.
CREATE FUNCTION secrets_repo_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM secrets WHERE repo_id = NEW.id;
    RETURN NEW;
END $$;
CREATE TRIGGER secrets_repo_deleted AFTER UPDATE OF deleted_at ON repos
    FOR EACH ROW WHEN (OLD.deleted_at IS NULL AND NEW.deleted_at IS NOT NULL)
    EXECUTE FUNCTION secrets_repo_deleted();

-- The names of the secrets each job received at its start (never values).
ALTER TABLE jobs ADD COLUMN secrets text[] NOT NULL DEFAULT '{}';
