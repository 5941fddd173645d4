-- Migration 4: the idempotency keys of posts are a unique index on messages (author_id,
-- client_id), partial since most posts may have no client id. Every message keeps its own
-- client_id, so the index is built from `messages` alone; the key table and its watermark go.

-- Should two messages share a key, the newest keeps it (the one a repeat was answered with).
UPDATE messages SET client_id = NULL WHERE id IN (
    SELECT id FROM (
        SELECT id, row_number() OVER (PARTITION BY author_id, client_id ORDER BY id DESC) AS n
        FROM messages WHERE client_id IS NOT NULL
    ) WHERE n > 1
);
CREATE UNIQUE INDEX messages_author_client ON messages (author_id, client_id)
    WHERE client_id IS NOT NULL;

DROP TABLE client_ids;
DROP TABLE client_ids_state;
