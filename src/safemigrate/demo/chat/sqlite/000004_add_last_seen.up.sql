-- 000004_add_last_seen.up.sql, in SQLite's dialect (no CONCURRENTLY: SQLite has no concurrent writers to block).
ALTER TABLE users ADD COLUMN last_seen TEXT DEFAULT NULL;
CREATE INDEX IF NOT EXISTS idx_users_last_seen ON users (last_seen);
