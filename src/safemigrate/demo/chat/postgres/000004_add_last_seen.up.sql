-- 000004_add_last_seen.up.sql
BEGIN;

-- Add column with default (safe)
ALTER TABLE users
ADD COLUMN last_seen TIMESTAMP DEFAULT NOW();

-- Create index concurrently (no table lock)
COMMIT;
CREATE INDEX CONCURRENTLY idx_users_last_seen ON users(last_seen);
