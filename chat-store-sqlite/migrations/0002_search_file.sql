-- Migration 2: the full-text index moves out of this file into the search file beside it
-- (`<database path>-search`, see src/search_file.rs), kept up to date by the indexer thread off
-- the write path (see src/indexer.rs). The old index and its shadow tables go; the search file
-- is built from `messages` on first open.
DROP TABLE messages_fts;

-- The log of what the indexer must redo, appended by the writer in the transaction of the
-- change itself (posts never touch it: the indexer finds new messages by id). A row holds either
-- a message that was edited or deleted (its index entry is redone from its current body), or a
-- room that was deleted with all its messages (its entries are removed). The indexer keeps the
-- seq it applied up to in the search file; the writer deletes the rows below it. AUTOINCREMENT:
-- seqs are never reused, so a search file can tell whether changes it needs were deleted.
CREATE TABLE search_changes (
    seq        INTEGER PRIMARY KEY AUTOINCREMENT,
    message_id INTEGER,
    room_id    INTEGER,
    CHECK ((message_id IS NULL) <> (room_id IS NULL))
) STRICT;

-- The token the search file must carry to be this database's (a search file left beside
-- another database, e.g. after the database was replaced, is rebuilt instead of trusted).
CREATE TABLE search_link (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    token BLOB    NOT NULL
) STRICT;
INSERT INTO search_link (id, token) VALUES (1, randomblob(16));
