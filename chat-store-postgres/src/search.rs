//! Full-text search through the `search` tsvector column and its GIN index.
//!
//! The rule is chat-core's ([`chat_core::search`]): every query word must be a prefix of some
//! word of the body, case-insensitively, where words are runs of letters and digits. To follow
//! it exactly, whatever the database's locale or text-search configuration, the words are
//! computed in Rust with [`chat_core::search::words`] on both sides:
//!
//! - a body is indexed as `array_to_tsvector($words)` (no parser, no stemming, no stop words:
//!   what the `'simple'` configuration would do, minus its tokenizer, which splits `3.14`,
//!   e-mail addresses or `foo_bar` differently from chat-core);
//! - a query becomes the tsquery text `'w1':* & 'w2':* ...`, bound as a parameter and cast with
//!   `::tsquery` (never interpolated into SQL), where `:*` makes each term a prefix match.
//!
//! Deleted messages have an empty tsvector and are excluded anyway. Results are newest first.

use crate::error::backend;
use crate::messages::messages_from_rows;
use crate::{PostgresStore, sql};
use chat_core::{Message, SearchQuery, StoreResult};

impl PostgresStore {
    /// Runs a [`SearchQuery`]; see the module docs.
    pub(crate) async fn search_messages(&self, query: SearchQuery) -> StoreResult<Vec<Message>> {
        let Some(tsquery) = sql::prefix_tsquery(&query.text) else {
            return Ok(Vec::new());
        };
        let rows = sqlx::query(concat!(
            "SELECT ",
            sql::message_columns!(),
            "FROM messages m JOIN users u ON u.id = m.author_id
             WHERE m.room_id = $1
               AND NOT m.deleted
               AND m.search @@ $2::tsquery
               AND ($3::bigint IS NULL OR m.seq < $3)
             ORDER BY m.seq DESC
             LIMIT $4"
        ))
        .bind(query.room.0)
        .bind(tsquery)
        .bind(query.before.map(|s| s.0))
        .bind(sql::limit(query.limit))
        .fetch_all(&self.pool)
        .await
        .map_err(backend)?;
        messages_from_rows(&rows)
    }
}
