-- Migration 1: the initial chat schema.
--
-- Every lookup the store makes is served by an index (see tests/query_plans.rs):
-- names are unique through a lower-cased key computed in Rust (`str::to_lowercase`, the same
-- fold as the other stores, correct beyond ASCII), messages are addressed by the unique
-- (room_id, seq) index, and idempotent posts by the unique (author_id, client_id) index. Every foreign key has an
-- index on its child column.
-- AUTOINCREMENT keeps ids of deleted rooms and messages from ever being handed out again.

CREATE TABLE users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT    NOT NULL,
    username_key  TEXT    NOT NULL,
    password_hash TEXT    NOT NULL,
    is_admin      INTEGER NOT NULL DEFAULT 0,
    is_active     INTEGER NOT NULL DEFAULT 1,
    created_at    INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX users_username_key ON users (username_key);

CREATE TABLE sessions (
    token_hash TEXT    NOT NULL PRIMARY KEY,
    user_id    INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expires ON sessions (expires_at);

CREATE TABLE rooms (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT    NOT NULL,
    name_key    TEXT    NOT NULL,
    description TEXT    NOT NULL,
    created_by  INTEGER NOT NULL REFERENCES users (id),
    created_at  INTEGER NOT NULL,
    last_seq    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX rooms_name_key ON rooms (name_key);
CREATE INDEX rooms_created_by ON rooms (created_by);

-- The rowid gives the join order.
CREATE TABLE members (
    id        INTEGER PRIMARY KEY,
    room_id   INTEGER NOT NULL REFERENCES rooms (id) ON DELETE CASCADE,
    user_id   INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    joined_at INTEGER NOT NULL
) STRICT;
CREATE UNIQUE INDEX members_room_user ON members (room_id, user_id);
CREATE INDEX members_user ON members (user_id);

-- The foreign keys of messages are checked at COMMIT (deferred), and the hot statements use
-- OR FAIL: an immediate check would make every insert open a statement journal, and each
-- statement journal makes FTS5 flush its pending index to a new segment, which halves the
-- posting rate. The writer checks room and author before inserting anyway.
CREATE TABLE messages (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    room_id    INTEGER NOT NULL
        REFERENCES rooms (id) ON DELETE CASCADE DEFERRABLE INITIALLY DEFERRED,
    seq        INTEGER NOT NULL,
    author_id  INTEGER NOT NULL REFERENCES users (id) DEFERRABLE INITIALLY DEFERRED,
    body       TEXT    NOT NULL,
    client_id  TEXT,
    created_at INTEGER NOT NULL,
    edited_at  INTEGER,
    deleted    INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE UNIQUE INDEX messages_room_seq ON messages (room_id, seq);
-- Also serves the foreign key to users (NULL client ids never collide).
CREATE UNIQUE INDEX messages_author_client ON messages (author_id, client_id);

-- Full-text index of the bodies of messages that are not deleted, keyed by messages.id.
-- Contentless (the text lives in `messages`), rows deletable by rowid. `words` holds the body's
-- words as chat_core::search::words produces them (lower-cased alphanumeric runs), each
-- prefixed with its room as `r<room id>_` (joined by spaces): the ASCII tokenizer, with `_` as
-- a token character, yields exactly those tokens, so a prefix query `"r7_quick" *` matches
-- exactly as the shared rules say, inside room 7 only (words never contain `_`): no separate
-- room token whose doclist would hold every message of the room. No positions are kept
-- (`detail = column`): queries need none, and they make every index flush and merge dearer.
-- (`detail = none` writes a little less but makes prefix queries of common words about four
-- times slower.)
CREATE VIRTUAL TABLE messages_fts USING fts5 (
    words,
    content = '', contentless_delete = 1, tokenize = "ascii tokenchars '_'", detail = column
);
