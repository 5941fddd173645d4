//! The word rules of full-text search, shared by backends that implement search themselves.
//!
//! A query matches a message when every query word is a prefix of some word of the body,
//! case-insensitively. Words are runs of letters and digits.

/// Lower-cased words of `text`: maximal runs of alphanumeric characters.
pub fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Whether `body` matches every word of `query_words` (as returned by [`words`]).
pub fn matches(query_words: &[String], body: &str) -> bool {
    if query_words.is_empty() {
        return false;
    }
    let body_words = words(body);
    query_words
        .iter()
        .all(|q| body_words.iter().any(|w| w.starts_with(q.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_words_all_required() {
        let q = words("Hel wor");
        assert_eq!(q, vec!["hel", "wor"]);
        assert!(matches(&q, "hello, World!"));
        assert!(!matches(&q, "hello there"));
        assert!(!matches(&words("ello"), "hello"));
        assert!(!matches(&words("!!"), "anything"));
    }
}
