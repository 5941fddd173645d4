//! Full-text search with FTS5. The index (`messages_fts`, contentless, keyed by the message id,
//! `detail=column`) holds the words of every message that is not deleted, exactly as
//! [`chat_core::search::words`] splits and lower-cases them, each prefixed with its room as
//! `r<room id>_` (words never contain `_`), so every term is scoped to one room. A query
//! becomes one MATCH expression: every query word with the room prefix, quoted (so no query
//! syntax is ever interpreted) and with `*` for prefix matching. Message ids grow with seq
//! inside a room, so "newest first" and "before seq" are rowid order and a rowid bound, both
//! served by the index.

use crate::rows::{self, limit};
use crate::writer::WriteTx;
use crate::{SqliteStore, sql};
use chat_core::{Message, RoomId, SearchQuery, StoreResult};
use rusqlite::{Connection, OptionalExtension, params};

/// The text indexed for a body in a room: its words, lower-cased, each with the room prefix,
/// separated by spaces; empty when the body has no word. The words are exactly those of
/// [`chat_core::search::words`] (a test checks), without allocating one string per word.
fn index_text(room: RoomId, body: &str) -> String {
    let prefix = room_prefix(room);
    let mut text = String::with_capacity(body.len() + 8 * prefix.len());
    for word in body.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&prefix);
        if word.is_ascii() {
            text.extend(word.chars().map(|c| c.to_ascii_lowercase()));
        } else {
            // Full Unicode lower-casing depends on the whole word (final sigma).
            text.push_str(&word.to_lowercase());
        }
    }
    text
}

/// The prefix that scopes an indexed word to its room.
fn room_prefix(room: RoomId) -> String {
    format!("r{}_", room.0)
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
    let prefix = room_prefix(room);
    let terms: Vec<String> = words
        .iter()
        .map(|word| format!("{} *", quote(&format!("{prefix}{word}"))))
        .collect();
    Some(terms.join(" AND "))
}

/// A change of the full-text index, applied by the writer at the end of a group.
#[derive(Debug)]
pub(crate) enum FtsOp {
    /// Index a message: its id and its words with the room prefix.
    Insert(i64, String),
    /// Remove a message from the index (a no-op when it is not there).
    Remove(i64),
}

/// Queues the indexing of a message's body (nothing to index for a body without words).
pub(crate) fn fts_insert(tx: &WriteTx<'_>, id: i64, room: RoomId, body: &str) {
    let text = index_text(room, body);
    if !text.is_empty() {
        tx.defer_fts(FtsOp::Insert(id, text));
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
            FtsOp::Insert(id, text) => {
                conn.prepare_cached(sql::FTS_INSERT)?
                    .execute(params![id, text])?;
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
            Some(r#""r7_quick" * AND "r7_brown" *"#)
        );
        assert_eq!(match_expression(RoomId(7), " !! "), None);
        assert_eq!(
            index_text(RoomId(12), "Hello, wörld! 🎉 x-y"),
            "r12_hello r12_wörld r12_x r12_y"
        );
        assert_eq!(index_text(RoomId(12), " !! "), "");
        for body in [
            "Hello, World! ΣΑΣ Straße İstanbul ǅemal 123abc x_y-z ÀÉÎ ΌΣΟΣ. ﬁne 🎉",
            "",
            "  MIXED case Ünïcödé",
        ] {
            let expected: Vec<String> = chat_core::search::words(body)
                .iter()
                .map(|w| format!("r3_{w}"))
                .collect();
            assert_eq!(index_text(RoomId(3), body), expected.join(" "), "{body}");
        }
    }
}
