-- What people say in rooms.
CREATE TABLE messages (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id    bigint NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id    bigint NOT NULL REFERENCES users (id),
    body       text NOT NULL CHECK (length(trim(body)) > 0),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX messages_room_id_created_at ON messages (room_id, created_at);
CREATE INDEX messages_user_id ON messages (user_id);
