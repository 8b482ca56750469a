CREATE TABLE IF NOT EXISTS messages (
    id         INTEGER PRIMARY KEY,
    room_id    INTEGER NOT NULL REFERENCES rooms (id),
    user_id    INTEGER NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP
);

-- Trigger bodies hold semicolons; SQLite's own tokenizer keeps them in one statement.
CREATE TRIGGER IF NOT EXISTS messages_not_empty
BEFORE INSERT ON messages
WHEN trim(NEW.body) = ''
BEGIN
    SELECT RAISE(ABORT, 'empty message; not stored');
END;
