//! What the client does when a socket ends, from the close-code table of docs/PROTOCOL.md (or,
//! when the handshake was refused, from its HTTP status). One table, testable alone.

use chat_protocol::close_code as codes;

/// Overloaded, try again later (RFC 6455); a proxy in front of the chat may send it.
const TRY_AGAIN_LATER: u16 = 1013;

/// What to do after a socket ended or a handshake failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    /// Reconnect after the backoff delay and resume.
    Resume,
    /// Reconnect after a longer delay.
    Penalty,
    /// The credential is dead: stop.
    SessionEnded,
    /// The server refuses this client for good (a bad option, a foreign Origin): stop.
    Stop,
}

/// After a socket that was open closed with `code`.
pub(crate) fn after_close(code: u16) -> Action {
    match code {
        codes::SESSION_ENDED => Action::SessionEnded,
        // Our own frames were refused by the transport: coming back at once would repeat it.
        codes::SLOW_CONSUMER
        | codes::RATE_ABUSE
        | TRY_AGAIN_LATER
        | codes::INVALID_PAYLOAD
        | codes::TOO_BIG => Action::Penalty,
        // 1000/1001 (shutdown), 1006 (connection lost), 1011, 4000 and anything unknown.
        _ => Action::Resume,
    }
}

/// After a handshake the server refused with HTTP `status`.
pub(crate) fn after_refusal(status: u16) -> Action {
    match status {
        401 => Action::SessionEnded,
        400 | 403 => Action::Stop,
        429 | 503 => Action::Penalty,
        _ => Action::Resume,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_table() {
        assert_eq!(after_close(4001), Action::SessionEnded);
        assert_eq!(after_close(4008), Action::Penalty);
        assert_eq!(after_close(4029), Action::Penalty);
        assert_eq!(after_close(1001), Action::Resume);
        assert_eq!(after_close(1006), Action::Resume);
        assert_eq!(after_refusal(401), Action::SessionEnded);
        assert_eq!(after_refusal(403), Action::Stop);
        assert_eq!(after_refusal(503), Action::Penalty);
        assert_eq!(after_refusal(502), Action::Resume);
    }
}
