//! Full-text search with FTS5. The index (`messages_fts`, contentless, keyed by the message id,
//! `detail=column`) holds the words of every message that is not deleted, exactly as
//! [`chat_core::search::words`] splits and lower-cases them, each prefixed with its room as
//! `r<room id>_` (words never contain `_`), so every term is scoped to one room (and a room's
//! entries are all found by the prefix `"r<room id>_" *`). A query becomes one MATCH
//! expression: every query word with the room prefix, quoted (so no query syntax is ever
//! interpreted) and with `*` for prefix matching. Message ids grow with seq inside a room, so
//! "newest first" and "before seq" are rowid order and a rowid bound, both served by the index.
//!
//! The index lives in its own file ([`crate::search_file`]), kept up to date off the write
//! path by the indexer thread ([`crate::indexer`]), which builds each entry with
//! [`write_index_text`]. A search first makes sure the index holds every message and change
//! committed before it started ([`crate::indexer::Indexer::caught_up`]), then runs on a read
//! connection with the search file attached as `search`, taking its snapshot of the search
//! file before that of the database, so the database holds every message the index refers to.
//! Rows, room and deleted flag come from `messages`, and a returned body must still match the
//! query (an edit made after the search started may not be indexed yet).

use crate::rows;
use crate::{SqliteStore, sql};
use chat_core::{Message, RoomId, SearchQuery, StoreResult};
use rusqlite::{OptionalExtension, params};

/// The text indexed for a body in a room: its words, lower-cased, each with the room prefix,
/// separated by spaces; empty when the body has no word. The words are exactly those of
/// [`chat_core::search::words`] (a test checks), without allocating one string per word.
#[cfg(test)]
fn index_text(room: RoomId, body: &str) -> String {
    let mut text = String::new();
    write_index_text(&mut text, room, body);
    text
}

/// Writes the text indexed for a body in a room (see `index_text`) into `text`, replacing
/// what it held (the indexer reuses one buffer).
pub(crate) fn write_index_text(text: &mut String, room: RoomId, body: &str) {
    text.clear();
    let prefix = room_prefix(room);
    let mut push = |word: &str| {
        if !text.is_empty() {
            text.push(' ');
        }
        text.push_str(&prefix);
        if word.is_ascii() {
            let start = text.len();
            text.push_str(word);
            text[start..].make_ascii_lowercase();
        } else {
            // Full Unicode lower-casing depends on the whole word (final sigma).
            text.push_str(&word.to_lowercase());
        }
    };
    if body.is_ascii() {
        // The usual case, by bytes: in ASCII, `char::is_alphanumeric` is ASCII letters and
        // digits.
        let bytes = body.as_bytes();
        let mut at = 0;
        while at < bytes.len() {
            if !bytes[at].is_ascii_alphanumeric() {
                at += 1;
                continue;
            }
            let start = at;
            while at < bytes.len() && bytes[at].is_ascii_alphanumeric() {
                at += 1;
            }
            push(&body[start..at]);
        }
    } else {
        for word in body.split(|c: char| !c.is_alphanumeric()) {
            if !word.is_empty() {
                push(word);
            }
        }
    }
}

/// The prefix that scopes an indexed word to its room.
fn room_prefix(room: RoomId) -> String {
    format!("r{}_", room.0)
}

/// Quotes one word as an FTS5 string (doubling any quote, although words never hold one).
fn quote(word: &str) -> String {
    format!("\"{}\"", word.replace('"', "\"\""))
}

/// The MATCH expression for the query words (from [`chat_core::search::words`]) in a room;
/// `None` when there is no word.
fn match_expression(room: RoomId, words: &[String]) -> Option<String> {
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

/// The MATCH expression for every indexed message of a room (every word of it has the room
/// prefix), used to remove a deleted room's entries.
pub(crate) fn room_expression(room: RoomId) -> String {
    format!("{} *", quote(&room_prefix(room)))
}

/// Runs a search: waits until the index holds everything committed before the call (at once
/// when it does, see [`crate::indexer::Indexer::caught_up`]), then queries it on a read
/// connection, joined with `messages` for the rows and the filters.
pub(crate) async fn search(store: &SqliteStore, query: SearchQuery) -> StoreResult<Vec<Message>> {
    let words = chat_core::search::words(&query.text);
    let Some(expr) = match_expression(query.room, &words) else {
        return Ok(Vec::new());
    };
    if query.limit == 0 || query.before.is_some_and(|b| b.0 <= 1) {
        return Ok(Vec::new());
    }
    let n = query.limit;
    store.indexer()?.caught_up().await?;
    store
        .read(move |conn| {
            let tx = conn.unchecked_transaction()?;
            // The search file's snapshot first: the database's, taken after, then holds every
            // message and change the indexer had read for it.
            tx.prepare_cached(sql::SEARCH_SNAPSHOT)?
                .query_row([], |r| r.get::<_, i64>(0))?;
            // Ids grow with seq in a room: "seq < before" is "id < id of the first message
            // at or after before".
            let bound = match query.before {
                None => i64::MAX,
                Some(before) => tx
                    .prepare_cached(sql::SEARCH_BOUND)?
                    .query_row(params![query.room.0, before.0], |r| r.get::<_, i64>(0))
                    .optional()?
                    .unwrap_or(i64::MAX),
            };
            let mut statement = tx.prepare_cached(sql::SEARCH)?;
            let mut cursor = statement.query(params![expr, bound, query.room.0])?;
            let mut found = Vec::new();
            while found.len() < n
                && let Some(row) = cursor.next()?
            {
                let message = rows::message(row)?;
                // The index may be behind an edit made since the caller asked (the entry still
                // holds the old words): only bodies that match as they are now count.
                if chat_core::search::matches(&words, &message.body) {
                    found.push(message);
                }
            }
            Ok(found)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_syntax_is_quoted() {
        let expression = |text: &str| match_expression(RoomId(7), &chat_core::search::words(text));
        assert_eq!(
            expression("\"Quick*\" -( Brown").as_deref(),
            Some(r#""r7_quick" * AND "r7_brown" *"#)
        );
        assert_eq!(expression(" !! "), None);
        assert_eq!(room_expression(RoomId(7)), r#""r7_" *"#);
        assert_eq!(
            index_text(RoomId(12), "Hello, wörld! 🎉 x-y"),
            "r12_hello r12_wörld r12_x r12_y"
        );
        assert_eq!(index_text(RoomId(12), " !! "), "");
        for body in [
            "Hello, World! ΣΑΣ Straße İstanbul ǅemal 123abc x_y-z ÀÉÎ ΌΣΟΣ. ﬁne 🎉",
            "",
            "  MIXED case Ünïcödé",
            "Plain ASCII: it's 42 o'clock, x_y-z... DONE!",
            "a",
            "!!",
        ] {
            let expected: Vec<String> = chat_core::search::words(body)
                .iter()
                .map(|w| format!("r3_{w}"))
                .collect();
            assert_eq!(index_text(RoomId(3), body), expected.join(" "), "{body}");
        }
    }
}
