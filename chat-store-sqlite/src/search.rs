//! Full-text search with FTS5. The index (`messages_fts`, contentless, keyed by the message id)
//! holds the words of every message that is not deleted, exactly as
//! [`chat_core::search::words`] splits and lower-cases them, plus a `r<room id>` token in a
//! separate column to scope a query to one room. A query becomes one MATCH expression: the room
//! token and every query word, quoted (so no query syntax is ever interpreted) and with `*` for
//! prefix matching. Message ids grow with seq inside a room, so "newest first" and "before seq"
//! are rowid order and a rowid bound, both served by the index.

use crate::rows::{self, limit};
use crate::writer::WriteTx;
use crate::{SqliteStore, sql};
use chat_core::{Message, RoomId, SearchQuery, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// The text indexed for a body: its words, lower-cased, separated by spaces.
fn index_text(body: &str) -> String {
    chat_core::search::words(body).join(" ")
}

/// The token that scopes the index to one room.
fn room_token(room: RoomId) -> String {
    format!("r{}", room.0)
}

/// Quotes one word as an FTS5 string (doubling any quote, although words never hold one).
fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// The MATCH expression for the query words in a room; `None` when there is no word.
pub(crate) fn match_expression(room: RoomId, text: &str) -> Option<String> {
    let words = chat_core::search::words(text);
    if words.is_empty() {
        return None;
    }
    let mut expr = format!("room : {}", quote(&room_token(room)));
    for word in &words {
        expr.push_str(" AND words : ");
        expr.push_str(&quote(word));
        expr.push_str(" *");
    }
    Some(expr)
}

/// A change of the full-text index, applied by the writer at the end of a group.
#[derive(Debug)]
pub(crate) enum FtsOp {
    /// Index a message: its id, room token and words.
    Insert(i64, String, String),
    /// Remove a message from the index (a no-op when it is not there).
    Remove(i64),
}

/// Queues the indexing of a message's body (nothing to index for a body without words).
pub(crate) fn fts_insert(tx: &WriteTx<'_>, id: i64, room: RoomId, body: &str) {
    let text = index_text(body);
    if !text.is_empty() {
        tx.defer_fts(FtsOp::Insert(id, room_token(room), text));
    }
}

/// Queues the removal of a message from the index.
pub(crate) fn fts_remove(tx: &WriteTx<'_>, id: i64) {
    tx.defer_fts(FtsOp::Remove(id));
}

/// Applies queued index changes, in order.
pub(crate) fn apply(conn: &Connection, ops: &[FtsOp]) -> rusqlite::Result<()> {
    for op in ops {
        match op {
            FtsOp::Insert(id, room, text) => {
                conn.prepare_cached(sql::FTS_INSERT)?
                    .execute(params![id, room, text])?;
            }
            FtsOp::Remove(id) => {
                conn.prepare_cached(sql::FTS_DELETE)?.execute([id])?;
            }
        }
    }
    Ok(())
}

/// Runs a search on a read connection.
pub(crate) async fn search(store: &SqliteStore, query: SearchQuery) -> StoreResult<Vec<Message>> {
    let Some(expr) = match_expression(query.room, &query.text) else {
        return Ok(Vec::new());
    };
    if query.limit == 0 || query.before.is_some_and(|b| b.0 <= 1) {
        return Ok(Vec::new());
    }
    let n = limit(query.limit);
    store
        .read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            // Ids grow with seq in a room: "seq < before" is "id < id of the first message
            // at or after before".
            let bound = match query.before {
                None => None,
                Some(before) => tx
                    .prepare_cached(sql::SEARCH_BOUND)?
                    .query_row(params![query.room.0, before.0], |r| r.get::<_, i64>(0))
                    .optional()?,
            };
            let messages = tx
                .prepare_cached(sql::SEARCH)?
                .query_map(
                    params![expr, bound.unwrap_or(i64::MAX), query.room.0, n],
                    rows::message,
                )?
                .collect::<Result<Vec<_>, _>>()?;
            Ok(messages)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_syntax_is_quoted() {
        assert_eq!(
            match_expression(RoomId(7), "\"Quick*\" -( Brown").as_deref(),
            Some(r#"room : "r7" AND words : "quick" * AND words : "brown" *"#)
        );
        assert_eq!(match_expression(RoomId(7), " !! "), None);
        assert_eq!(index_text("Hello, wörld! 🎉 x-y"), "hello wörld x y");
    }
}
