-- Migration 3: the idempotency keys of posts move out of the unique index on
-- messages (author_id, client_id) into a table of their own, `client_ids`, with a watermark
-- saying up to which message id it is complete. (Migration 4 returns them to a unique index.)

DROP INDEX messages_author_client;

-- (author, client id) -> the message it created. A row may outlive its message (deleted
-- with its room): the lookup then finds no message, and a new post takes the key over.
CREATE TABLE client_ids (
    author_id  INTEGER NOT NULL,
    client_id  TEXT    NOT NULL,
    message_id INTEGER NOT NULL,
    PRIMARY KEY (author_id, client_id)
) STRICT, WITHOUT ROWID;

-- Every message with id <= upto that has a client id is in client_ids.
CREATE TABLE client_ids_state (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    upto INTEGER NOT NULL
) STRICT;

INSERT INTO client_ids (author_id, client_id, message_id)
    SELECT author_id, client_id, id FROM messages WHERE client_id IS NOT NULL;
INSERT INTO client_ids_state (id, upto) VALUES (1, (SELECT coalesce(max(id), 0) FROM messages));
