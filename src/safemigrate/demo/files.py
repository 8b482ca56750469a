"""The migration files the demo writes: the chat schema (package data) and the ones each step adds."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

__all__ = ["BROKEN", "FIXED", "HALFWAY", "UNSAFE", "chat_files", "write_files"]


def chat_files(dialect: str) -> dict[str, str]:
    """The chat application's migrations 1 to 4 (examples/chat/migrations is the PostgreSQL set)."""
    folder = resources.files("safemigrate.demo").joinpath("chat", dialect)
    return {entry.name: entry.read_text(encoding="utf-8") for entry in sorted(folder.iterdir(),
                                                                             key=lambda e: e.name)
            if entry.name.endswith(".sql")}


def write_files(folder: Path, files: dict[str, str]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


# Step 1: a teammate's migration. It adds a column and backfills it in the same file, with an
# UPDATE that rewrites (and locks) every row of the table at once.
UNSAFE = {
    "000005_add_room_topic.up.sql": (
        "-- Rooms get a topic; every existing room starts as 'general'.\n"
        "ALTER TABLE rooms ADD COLUMN topic text;\n"
        "UPDATE rooms SET topic = 'general';\n"
    ),
    "000005_add_room_topic.down.sql": "ALTER TABLE rooms DROP COLUMN IF EXISTS topic;\n",
}

# The fix lint suggests: the default fills every existing row (on PostgreSQL 11+ without a
# rewrite), so there is no UPDATE at all; and a short lock_timeout, so a busy table fails fast.
FIXED = {
    "postgres": {
        "000005_add_room_topic.up.sql": (
            "-- Rooms get a topic; every existing room starts as 'general'.\n"
            "-- The default fills existing rows without rewriting the table (PostgreSQL 11+).\n"
            "SET lock_timeout = '2s';\n"
            "SET statement_timeout = '5s';\n"
            "ALTER TABLE rooms ADD COLUMN topic text NOT NULL DEFAULT 'general';\n"
        ),
        "000005_add_room_topic.down.sql": (
            "SET lock_timeout = '2s';\n"
            "SET statement_timeout = '5s';\n"
            "ALTER TABLE rooms DROP COLUMN IF EXISTS topic;\n"
        ),
    },
    "sqlite": {
        "000005_add_room_topic.up.sql": (
            "-- Rooms get a topic; every existing room starts as 'general'.\n"
            "-- The default fills existing rows: no UPDATE of the whole table.\n"
            "ALTER TABLE rooms ADD COLUMN topic TEXT NOT NULL DEFAULT 'general';\n"
        ),
        "000005_add_room_topic.down.sql": "ALTER TABLE rooms DROP COLUMN topic;\n",
    },
}

# Step 3: a rename that review waved through (the ignore comment says the app was updated; it
# was not). The app still reads messages.body, so its readiness fails after the apply.
BROKEN = {
    "000006_rename_message_body.up.sql": (
        "-- safemigrate:ignore rename-column -- the app was updated to read messages.content\n"
        "ALTER TABLE messages RENAME COLUMN body TO content;\n"
    ),
    "000006_rename_message_body.down.sql": (
        "-- safemigrate:ignore rename-column -- undoes the rename\n"
        "ALTER TABLE messages RENAME COLUMN content TO body;\n"
    ),
}


# Step 4: a migration that cannot run in one transaction on PostgreSQL (CONCURRENTLY), killed halfway.
HALFWAY = {
    "postgres": {
        "000006_add_message_edited_at.up.sql": (
            "-- safemigrate:no-transaction\n"
            "ALTER TABLE messages ADD COLUMN edited_at TIMESTAMP;\n"
            "CREATE INDEX CONCURRENTLY idx_messages_edited_at ON messages (edited_at);\n"
            "ALTER TABLE messages ADD COLUMN edit_count INTEGER NOT NULL DEFAULT 0;\n"),
        "000006_add_message_edited_at.down.sql": (
            "DROP INDEX CONCURRENTLY IF EXISTS idx_messages_edited_at;\n"
            "ALTER TABLE messages DROP COLUMN IF EXISTS edit_count;\n"
            "ALTER TABLE messages DROP COLUMN IF EXISTS edited_at;\n"),
    },
    "sqlite": {
        "000006_add_message_edited_at.up.sql": (
            "ALTER TABLE messages ADD COLUMN edited_at TIMESTAMP;\n"
            "CREATE INDEX idx_messages_edited_at ON messages (edited_at);\n"
            "ALTER TABLE messages ADD COLUMN edit_count INTEGER NOT NULL DEFAULT 0;\n"),
        "000006_add_message_edited_at.down.sql": (
            "DROP INDEX IF EXISTS idx_messages_edited_at;\n"
            "ALTER TABLE messages DROP COLUMN edit_count;\n"
            "ALTER TABLE messages DROP COLUMN edited_at;\n"),
    },
}
