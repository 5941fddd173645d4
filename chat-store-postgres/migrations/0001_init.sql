-- Version 1: users, sessions, rooms with their per-room seq counter, memberships, messages with
-- a tsvector for full-text search.
--
-- Names are unique case-insensitively through a `*_key` column holding the name lower-cased by
-- Rust (`str::to_lowercase`), so the rule does not depend on the database's locale; the "C"
-- collation makes ORDER BY on it byte order, exactly like the other stores.
-- Timestamps are Unix milliseconds (BIGINT).

CREATE TABLE users (
    id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username      TEXT NOT NULL,
    username_key  TEXT COLLATE "C" NOT NULL,
    password_hash TEXT NOT NULL,
    is_admin      BOOLEAN NOT NULL DEFAULT FALSE,
    is_active     BOOLEAN NOT NULL DEFAULT TRUE,
    created_at    BIGINT NOT NULL,
    CONSTRAINT users_username_key_unique UNIQUE (username_key)
);

CREATE TABLE sessions (
    token_hash TEXT PRIMARY KEY,
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_user_id ON sessions (user_id);
CREATE INDEX sessions_expires_at ON sessions (expires_at);

-- `last_seq` is the per-room counter: a post increments it with
-- `UPDATE rooms SET last_seq = last_seq + 1 ... RETURNING last_seq` in the transaction that
-- inserts the message, so the row lock serializes writers of one room on every node and seqs
-- commit in order, without gaps.
CREATE TABLE rooms (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name        TEXT NOT NULL,
    name_key    TEXT COLLATE "C" NOT NULL,
    description TEXT NOT NULL,
    created_by  BIGINT NOT NULL REFERENCES users (id),
    created_at  BIGINT NOT NULL,
    last_seq    BIGINT NOT NULL DEFAULT 0,
    CONSTRAINT rooms_name_key_unique UNIQUE (name_key)
);

-- `id` gives the join order.
CREATE TABLE memberships (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id   BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at BIGINT NOT NULL,
    CONSTRAINT memberships_room_user_unique UNIQUE (room_id, user_id)
);
CREATE INDEX memberships_user_id ON memberships (user_id);

-- `search` holds the body's words as computed by `chat_core::search::words` (lower-cased runs
-- of letters and digits), built with array_to_tsvector so PostgreSQL's text parser and locale
-- play no part; queries are `'word':* & ...` prefix tsqueries.
CREATE TABLE messages (
    id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    room_id    BIGINT NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    seq        BIGINT NOT NULL,
    author_id  BIGINT NOT NULL REFERENCES users (id),
    body       TEXT NOT NULL,
    client_id  TEXT,
    created_at BIGINT NOT NULL,
    edited_at  BIGINT,
    deleted    BOOLEAN NOT NULL DEFAULT FALSE,
    search     TSVECTOR NOT NULL,
    CONSTRAINT messages_room_seq_unique UNIQUE (room_id, seq),
    CONSTRAINT messages_author_client_id_unique UNIQUE (author_id, client_id)
);
CREATE INDEX messages_search ON messages USING GIN (search);
