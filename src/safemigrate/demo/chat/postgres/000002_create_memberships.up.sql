-- Who is in which room.
CREATE TABLE memberships (
    room_id   bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   bigint NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (room_id, user_id)
);

-- The primary key serves lookups by room; this one serves "my rooms".
CREATE INDEX memberships_user_id ON memberships (user_id);
