-- migrate:up
-- Keeps updated_at current without every writer having to remember it.
ALTER TABLE users ADD COLUMN updated_at TEXT;
CREATE TRIGGER users_touch_updated_at AFTER UPDATE OF email, name ON users
BEGIN
  UPDATE users SET updated_at = CURRENT_TIMESTAMP WHERE id = NEW.id;
END;

-- migrate:down
DROP TRIGGER users_touch_updated_at;
ALTER TABLE users DROP COLUMN updated_at;
