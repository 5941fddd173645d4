-- Migration 3: the idempotency keys of posts move out of the unique index on
-- messages (author_id, client_id) into a table of their own that the writer fills in bulk
-- (see src/client_ids.rs). The index took one insert per post at the author's place in the
-- tree: with many authors, every group commit wrote one scattered index page per post (about
-- 17 of the 28 pages a group of 17 posts wrote to the WAL), and the checkpointer copied them
-- all again. The writer now remembers the client ids of the posts above the table's watermark
-- in memory and adds them to the table every few thousand posts, sorted, so that each
-- author's entries land on a page or two. After a crash, those above the watermark are read
-- back from `messages` (which keeps every post's client_id).

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
