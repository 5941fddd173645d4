//! The text of every SQL statement the store runs, in one place: so that each is prepared
//! once and cached per connection (`prepare_cached` keys on the text), and so that the query
//! plan test can check that every one of them is an index lookup.

macro_rules! user_columns {
    () => {
        "u.id, u.username, u.password_hash, u.is_admin, u.is_active, u.created_at"
    };
}
macro_rules! session_columns {
    () => {
        "s.token_hash, s.user_id, s.created_at, s.expires_at"
    };
}
macro_rules! room_columns {
    () => {
        "r.id, r.name, r.description, r.created_by, r.created_at, r.last_seq"
    };
}
macro_rules! member_columns {
    () => {
        "m.user_id, u.username, m.joined_at"
    };
}
macro_rules! message_select {
    () => {
        "SELECT m.id, m.room_id, m.seq, m.author_id, u.username, m.body, m.client_id, \
         m.created_at, m.edited_at, m.deleted \
         FROM messages m JOIN users u ON u.id = m.author_id "
    };
}

// Users.
pub(crate) const USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = ?1");
pub(crate) const USER_BY_KEY: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users u WHERE u.username_key = ?1"
);
/// A user by external id: the partial unique index on `external_id`.
pub(crate) const USER_BY_EXTERNAL_ID: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users u WHERE u.external_id = ?1"
);
pub(crate) const USER_KEY_TAKEN: &str =
    "SELECT EXISTS (SELECT 1 FROM users WHERE username_key = ?1)";
pub(crate) const USER_ID_BY_KEY: &str = "SELECT id FROM users WHERE username_key = ?1";
pub(crate) const USER_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)";
pub(crate) const USERNAME_BY_ID: &str = "SELECT username FROM users WHERE id = ?1";
pub(crate) const USER_INSERT: &str = "INSERT INTO users \
     (username, username_key, password_hash, is_admin, is_active, created_at, external_id) \
     VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6) RETURNING id";
pub(crate) const USERS_LIST: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users u WHERE u.id > ?1 AND instr(u.username_key, ?2) > 0 ORDER BY u.id LIMIT ?3"
);
pub(crate) const USER_SET_ACTIVE: &str = "UPDATE users SET is_active = ?2 WHERE id = ?1";
pub(crate) const USER_SET_ADMIN: &str = "UPDATE users SET is_admin = ?2 WHERE id = ?1";
pub(crate) const USER_SET_PASSWORD: &str = "UPDATE users SET password_hash = ?2 WHERE id = ?1";
pub(crate) const USER_RENAME: &str =
    "UPDATE users SET username = ?2, username_key = ?3 WHERE id = ?1";

// Sessions.
pub(crate) const SESSION_INSERT: &str = "INSERT OR REPLACE INTO sessions \
     (token_hash, user_id, created_at, expires_at) VALUES (?1, ?2, ?3, ?4)";
pub(crate) const SESSION_USER: &str = concat!(
    "SELECT ",
    session_columns!(),
    ", ",
    user_columns!(),
    " FROM sessions s JOIN users u ON u.id = s.user_id \
     WHERE s.token_hash = ?1 AND s.expires_at > ?2 AND u.is_active = 1"
);
pub(crate) const SESSION_DELETE: &str = "DELETE FROM sessions WHERE token_hash = ?1";
pub(crate) const SESSIONS_DELETE_OF_USER: &str = "DELETE FROM sessions WHERE user_id = ?1";
pub(crate) const SESSIONS_DELETE_OF_USER_BUT: &str =
    "DELETE FROM sessions WHERE user_id = ?1 AND token_hash IS NOT ?2";
pub(crate) const SESSIONS_PURGE: &str = "DELETE FROM sessions WHERE expires_at <= ?1";

// Rooms and members.
pub(crate) const ROOM_KEY_TAKEN: &str = "SELECT EXISTS (SELECT 1 FROM rooms WHERE name_key = ?1)";
pub(crate) const ROOM_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM rooms WHERE id = ?1)";
pub(crate) const ROOM_INSERT: &str = "INSERT INTO rooms \
     (name, name_key, description, created_by, created_at, last_seq) \
     VALUES (?1, ?2, ?3, ?4, ?5, 0) RETURNING id";
pub(crate) const ROOM_BY_ID: &str =
    concat!("SELECT ", room_columns!(), " FROM rooms r WHERE r.id = ?1");
pub(crate) const ROOM_BY_KEY: &str = concat!(
    "SELECT ",
    room_columns!(),
    " FROM rooms r WHERE r.name_key = ?1"
);
pub(crate) const ROOMS_LIST_FIRST: &str = concat!(
    "SELECT ",
    room_columns!(),
    " FROM rooms r WHERE instr(r.name_key, ?1) > 0 ORDER BY r.name_key LIMIT ?2"
);
pub(crate) const ROOMS_LIST_AFTER: &str = concat!(
    "SELECT ",
    room_columns!(),
    " FROM rooms r WHERE r.name_key > ?3 AND instr(r.name_key, ?1) > 0 \
     ORDER BY r.name_key LIMIT ?2"
);
pub(crate) const ROOM_SET_DESCRIPTION: &str = "UPDATE rooms SET description = ?2 WHERE id = ?1";
pub(crate) const ROOM_DELETE: &str = "DELETE FROM rooms WHERE id = ?1";
pub(crate) const MEMBER_INSERT: &str =
    "INSERT OR IGNORE INTO members (room_id, user_id, joined_at) VALUES (?1, ?2, ?3)";
pub(crate) const MEMBER_DELETE: &str = "DELETE FROM members WHERE room_id = ?1 AND user_id = ?2";
pub(crate) const MEMBER_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM members WHERE room_id = ?1 AND user_id = ?2)";
pub(crate) const MEMBERS_OF_ROOM: &str = concat!(
    "SELECT ",
    member_columns!(),
    " FROM members m JOIN users u ON u.id = m.user_id WHERE m.room_id = ?1 ORDER BY m.id"
);
pub(crate) const ROOMS_OF_USER: &str = concat!(
    "SELECT ",
    room_columns!(),
    " FROM members m JOIN rooms r ON r.id = m.room_id WHERE m.user_id = ?1 ORDER BY r.name_key"
);

// Messages.
pub(crate) const MESSAGE_BY_SEQ: &str =
    concat!(message_select!(), "WHERE m.room_id = ?1 AND m.seq = ?2");
pub(crate) const MESSAGE_BY_ID: &str = concat!(message_select!(), "WHERE m.id = ?1");
/// An idempotency key: the partial unique index on messages (author_id, client_id).
pub(crate) const MESSAGE_BY_CLIENT_ID: &str = concat!(
    message_select!(),
    "WHERE m.author_id = ?1 AND m.client_id = ?2"
);
pub(crate) const ROOM_LAST_SEQ: &str = "SELECT last_seq FROM rooms WHERE id = ?1";
pub(crate) const ROOM_SET_LAST_SEQ: &str = "UPDATE OR FAIL rooms SET last_seq = ?2 WHERE id = ?1";
// No RETURNING on the hot path: SQLite collects RETURNING rows in an ephemeral table (a
// b-tree opened and a zeroed page per statement); the id is `last_insert_rowid` instead.
pub(crate) const MESSAGE_INSERT: &str = "INSERT OR FAIL INTO messages \
     (room_id, seq, author_id, body, client_id, created_at) \
     VALUES (?1, ?2, ?3, ?4, ?5, ?6)";
pub(crate) const MESSAGE_EDIT: &str = "UPDATE messages SET body = ?3, edited_at = ?4 \
     WHERE room_id = ?1 AND seq = ?2 AND deleted = 0 RETURNING id";
pub(crate) const MESSAGE_SOFT_DELETE: &str =
    "UPDATE messages SET body = '', deleted = 1 WHERE id = ?1";
pub(crate) const HISTORY_LATEST: &str = concat!(
    message_select!(),
    "WHERE m.room_id = ?1 ORDER BY m.seq DESC LIMIT ?2"
);
pub(crate) const HISTORY_BEFORE: &str = concat!(
    message_select!(),
    "WHERE m.room_id = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3"
);
pub(crate) const HISTORY_AFTER: &str = concat!(
    message_select!(),
    "WHERE m.room_id = ?1 AND m.seq > ?2 ORDER BY m.seq LIMIT ?3"
);

// Search changes, recorded by the writer (see `indexer`).
pub(crate) const SEARCH_CHANGE_MESSAGE: &str =
    "INSERT INTO search_changes (message_id) VALUES (?1)";
pub(crate) const SEARCH_CHANGE_ROOM: &str = "INSERT INTO search_changes (room_id) VALUES (?1)";
pub(crate) const SEARCH_CHANGES_PRUNE: &str = "DELETE FROM search_changes WHERE seq < ?1";

// The indexer's reads of the database. `sqlite_sequence` holds one row per AUTOINCREMENT
// table (four) and can have no index: the one statement allowed to scan (at open only).
// No `LIMIT ?` where a statement runs often: SQLite plans with the bound LIMIT value, so
// every new binding (rusqlite clears them when a cached statement is reused) makes it
// re-prepare the statement. The rowid order is a lazy walk; the caller stops stepping.
pub(crate) const HIGH_WATER: &str = "SELECT seq FROM sqlite_sequence WHERE name = ?1";
pub(crate) const SEARCH_LINK: &str = "SELECT token FROM search_link WHERE id = 1";
pub(crate) const SEARCH_CHANGES_FIRST: &str = "SELECT min(seq) FROM search_changes";
pub(crate) const SEARCH_CHANGES_AFTER: &str =
    "SELECT seq, message_id, room_id FROM search_changes WHERE seq > ?1 ORDER BY seq";
pub(crate) const INDEX_MESSAGES_AFTER: &str =
    "SELECT id, room_id, body FROM messages WHERE id > ?1 AND deleted = 0 ORDER BY id";
pub(crate) const INDEX_MESSAGE: &str =
    "SELECT room_id, body FROM messages WHERE id = ?1 AND deleted = 0";

// The indexer's writes to the search file (its main database on that connection).
pub(crate) const INDEX_STATE_INIT: &str = "INSERT INTO search_state \
     (id, messages_upto, changes_upto, database_token) VALUES (1, 0, 0, ?1)";
pub(crate) const INDEX_IDENTITY: &str =
    "SELECT messages_upto, changes_upto, database_token FROM search_state WHERE id = 1";
pub(crate) const INDEX_STATE: &str =
    "SELECT messages_upto, changes_upto FROM search_state WHERE id = 1";
pub(crate) const INDEX_STATE_SET: &str =
    "UPDATE search_state SET messages_upto = ?1, changes_upto = ?2 WHERE id = 1";
pub(crate) const FTS_INSERT: &str = "INSERT INTO messages_fts (rowid, words) VALUES (?1, ?2)";
pub(crate) const FTS_DELETE: &str = "DELETE FROM messages_fts WHERE rowid = ?1";
/// One step of FTS5's incremental merge: writes about `-?1` pages of merged segments,
/// considering every level with two or more segments (a negative count works towards what
/// 'optimize' gives). Less than 2 changes means there was nothing left to merge.
pub(crate) const FTS_MERGE_STEP: &str =
    "INSERT INTO messages_fts (messages_fts, rank) VALUES ('merge', ?1)";
pub(crate) const FTS_MATCHING: &str = "SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1";

// Full-text search, on a read connection with the search file attached as `search`. No
// LIMIT (see above): the caller stops stepping once it has its page.
// The first read of the search file, so that its snapshot is taken before the database's.
pub(crate) const SEARCH_SNAPSHOT: &str =
    "SELECT messages_upto FROM search.search_state WHERE id = 1";
pub(crate) const SEARCH_BOUND: &str =
    "SELECT id FROM messages WHERE room_id = ?1 AND seq >= ?2 ORDER BY seq LIMIT 1";
pub(crate) const SEARCH: &str = "SELECT m.id, m.room_id, m.seq, m.author_id, u.username, m.body, \
     m.client_id, m.created_at, m.edited_at, m.deleted \
     FROM search.messages_fts JOIN messages m ON m.id = messages_fts.rowid \
     JOIN users u ON u.id = m.author_id \
     WHERE messages_fts MATCH ?1 AND messages_fts.rowid < ?2 AND m.room_id = ?3 \
     AND m.deleted = 0 ORDER BY messages_fts.rowid DESC";

/// Every statement with a name, for the query plan test.
#[cfg(test)]
pub(crate) const ALL: &[(&str, &str)] = &[
    ("USER_BY_ID", USER_BY_ID),
    ("USER_BY_KEY", USER_BY_KEY),
    ("USER_BY_EXTERNAL_ID", USER_BY_EXTERNAL_ID),
    ("USER_KEY_TAKEN", USER_KEY_TAKEN),
    ("USER_ID_BY_KEY", USER_ID_BY_KEY),
    ("USER_EXISTS", USER_EXISTS),
    ("USERNAME_BY_ID", USERNAME_BY_ID),
    ("USER_INSERT", USER_INSERT),
    ("USERS_LIST", USERS_LIST),
    ("USER_SET_ACTIVE", USER_SET_ACTIVE),
    ("USER_SET_ADMIN", USER_SET_ADMIN),
    ("USER_SET_PASSWORD", USER_SET_PASSWORD),
    ("USER_RENAME", USER_RENAME),
    ("SESSION_INSERT", SESSION_INSERT),
    ("SESSION_USER", SESSION_USER),
    ("SESSION_DELETE", SESSION_DELETE),
    ("SESSIONS_DELETE_OF_USER", SESSIONS_DELETE_OF_USER),
    ("SESSIONS_DELETE_OF_USER_BUT", SESSIONS_DELETE_OF_USER_BUT),
    ("SESSIONS_PURGE", SESSIONS_PURGE),
    ("ROOM_KEY_TAKEN", ROOM_KEY_TAKEN),
    ("ROOM_EXISTS", ROOM_EXISTS),
    ("ROOM_INSERT", ROOM_INSERT),
    ("ROOM_BY_ID", ROOM_BY_ID),
    ("ROOM_BY_KEY", ROOM_BY_KEY),
    ("ROOMS_LIST_FIRST", ROOMS_LIST_FIRST),
    ("ROOMS_LIST_AFTER", ROOMS_LIST_AFTER),
    ("ROOM_SET_DESCRIPTION", ROOM_SET_DESCRIPTION),
    ("ROOM_DELETE", ROOM_DELETE),
    ("MEMBER_INSERT", MEMBER_INSERT),
    ("MEMBER_DELETE", MEMBER_DELETE),
    ("MEMBER_EXISTS", MEMBER_EXISTS),
    ("MEMBERS_OF_ROOM", MEMBERS_OF_ROOM),
    ("ROOMS_OF_USER", ROOMS_OF_USER),
    ("MESSAGE_BY_SEQ", MESSAGE_BY_SEQ),
    ("MESSAGE_BY_ID", MESSAGE_BY_ID),
    ("MESSAGE_BY_CLIENT_ID", MESSAGE_BY_CLIENT_ID),
    ("ROOM_LAST_SEQ", ROOM_LAST_SEQ),
    ("ROOM_SET_LAST_SEQ", ROOM_SET_LAST_SEQ),
    ("MESSAGE_INSERT", MESSAGE_INSERT),
    ("MESSAGE_EDIT", MESSAGE_EDIT),
    ("MESSAGE_SOFT_DELETE", MESSAGE_SOFT_DELETE),
    ("HISTORY_LATEST", HISTORY_LATEST),
    ("HISTORY_BEFORE", HISTORY_BEFORE),
    ("HISTORY_AFTER", HISTORY_AFTER),
    ("SEARCH_CHANGE_MESSAGE", SEARCH_CHANGE_MESSAGE),
    ("SEARCH_CHANGE_ROOM", SEARCH_CHANGE_ROOM),
    ("SEARCH_CHANGES_PRUNE", SEARCH_CHANGES_PRUNE),
    ("HIGH_WATER", HIGH_WATER),
    ("SEARCH_LINK", SEARCH_LINK),
    ("SEARCH_CHANGES_FIRST", SEARCH_CHANGES_FIRST),
    ("SEARCH_CHANGES_AFTER", SEARCH_CHANGES_AFTER),
    ("INDEX_MESSAGES_AFTER", INDEX_MESSAGES_AFTER),
    ("INDEX_MESSAGE", INDEX_MESSAGE),
    ("INDEX_STATE_INIT", INDEX_STATE_INIT),
    ("INDEX_IDENTITY", INDEX_IDENTITY),
    ("INDEX_STATE", INDEX_STATE),
    ("INDEX_STATE_SET", INDEX_STATE_SET),
    ("FTS_INSERT", FTS_INSERT),
    ("FTS_DELETE", FTS_DELETE),
    ("FTS_MERGE_STEP", FTS_MERGE_STEP),
    ("FTS_MATCHING", FTS_MATCHING),
    ("SEARCH_SNAPSHOT", SEARCH_SNAPSHOT),
    ("SEARCH_BOUND", SEARCH_BOUND),
    ("SEARCH", SEARCH),
];
