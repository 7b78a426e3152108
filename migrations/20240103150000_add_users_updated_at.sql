-- migrate:up
-- Sorting and syncing by last change needs the column and an index on it.
ALTER TABLE users ADD COLUMN updated_at TEXT;
UPDATE users SET updated_at = created_at;
CREATE INDEX users_updated_at_idx ON users (updated_at);

-- migrate:down
DROP INDEX users_updated_at_idx;
ALTER TABLE users DROP COLUMN updated_at;
