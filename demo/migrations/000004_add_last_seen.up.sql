-- Add column with default (safe): the runbook's example, in SQLite's dialect.
ALTER TABLE users ADD COLUMN last_seen TEXT DEFAULT NULL;
CREATE INDEX IF NOT EXISTS idx_users_last_seen ON users (last_seen);
