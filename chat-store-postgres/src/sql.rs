//! Conversions between chat-core values and SQL parameters, shared by the trait impls: the
//! case-folded key under which names are unique, `LIMIT` values, and search lexemes; and the
//! column lists every message and user query selects.

/// The columns `message_from_row` reads: `m` is a message row, `u` its author. Ends with a
/// space, so the rest of the statement follows with `concat!`.
macro_rules! message_columns {
    () => {
        "m.id, m.room_id, m.seq, m.author_id, u.username AS author_name, m.body, m.client_id, \
         m.created_at, m.edited_at, m.deleted "
    };
}
pub(crate) use message_columns;

/// The columns `user_from_row` reads, from `users`. Ends with a space, so the rest of the
/// statement follows with `concat!`.
macro_rules! user_columns {
    () => {
        "id, username, password_hash, is_admin, is_active, created_at "
    };
}
pub(crate) use user_columns;

/// The key under which usernames and room names are unique and ordered: the name lower-cased
/// by Rust, the same fold as every other store, independent of the database's locale.
pub(crate) fn fold(name: &str) -> String {
    name.to_lowercase()
}

/// A page size as the `BIGINT` a `LIMIT` clause binds.
pub(crate) fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}

/// A lexeme of a tsvector or tsquery is at most 2047 bytes.
const MAX_LEXEME_BYTES: usize = 2047;

/// Cuts a word to the longest prefix (on a character boundary) PostgreSQL accepts as a lexeme.
/// Since matching is by prefix, a cut body word still matches every query word of up to 2047
/// bytes that it starts with.
fn lexeme(word: String) -> String {
    if word.len() <= MAX_LEXEME_BYTES {
        return word;
    }
    let mut end = MAX_LEXEME_BYTES;
    while !word.is_char_boundary(end) {
        end -= 1;
    }
    word.get(..end).map(str::to_owned).unwrap_or_default()
}

/// The lexemes indexed for a message body: `chat_core::search::words`, bound as `TEXT[]` to
/// `array_to_tsvector`.
pub(crate) fn body_lexemes(body: &str) -> Vec<String> {
    chat_core::search::words(body)
        .into_iter()
        .map(lexeme)
        .collect()
}

/// The tsquery text for a search: every word as a quoted prefix term, joined with `&`; `None`
/// when the query has no word (it matches nothing).
///
/// Words are runs of letters and digits, so they never contain the quote or backslash that
/// would need escaping inside a quoted tsquery term; the text is still bound as a parameter
/// and cast with `::tsquery`, never interpolated into SQL.
pub(crate) fn prefix_tsquery(text: &str) -> Option<String> {
    let terms: Vec<String> = chat_core::search::words(text)
        .into_iter()
        .map(lexeme)
        .map(|w| format!("'{}':*", w.replace('\'', "''")))
        .collect();
    if terms.is_empty() {
        None
    } else {
        Some(terms.join(" & "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_prefix_queries_from_words() {
        assert_eq!(
            prefix_tsquery("Hel, WÖR!").as_deref(),
            Some("'hel':* & 'wör':*")
        );
        assert_eq!(prefix_tsquery("!! ??"), None);
    }

    #[test]
    fn cuts_long_words_on_char_boundaries() {
        let long = "é".repeat(2000);
        let cut = lexeme(long);
        assert!(cut.len() <= MAX_LEXEME_BYTES);
        assert_eq!(cut.chars().count(), 1023);
        assert_eq!(body_lexemes("Ab cD"), vec!["ab", "cd"]);
    }
}
