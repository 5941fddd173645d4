//! Session tokens: 256 random bits handed to the client once; only their SHA-256 is stored,
//! so a leaked database does not leak usable sessions.

use crate::{ChatError, Timestamp, UserId};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;

/// A bearer secret as handed to the client (43 URL-safe base64 characters).
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// A new random token from the operating system's CSPRNG.
    pub fn generate() -> Result<SessionToken, ChatError> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)
            .map_err(|e| ChatError::Internal(format!("no randomness available: {e}")))?;
        Ok(SessionToken(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Wraps a token received from a client (cookie or `Authorization` header).
    pub fn from_client(token: impl Into<String>) -> SessionToken {
        SessionToken(token.into())
    }

    /// The secret text, to send to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash stored in place of the token.
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken(<redacted>)")
    }
}

/// SHA-256 of a session token, lower-case hex: what stores keep.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TokenHash(pub String);

impl TokenHash {
    /// The 32 bytes of the hash, for holders that keep many (`None` if this is not 64 hex
    /// digits).
    pub fn to_bytes(&self) -> Option<[u8; 32]> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&self.0, &mut bytes).ok()?;
        Some(bytes)
    }

    /// The hash of [`to_bytes`](Self::to_bytes)'s bytes.
    pub fn from_bytes(bytes: &[u8; 32]) -> TokenHash {
        TokenHash(hex::encode(bytes))
    }
}

/// A stored session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Hash of the token.
    pub token_hash: TokenHash,
    /// Owner.
    pub user_id: UserId,
    /// Creation time.
    pub created_at: Timestamp,
    /// The session is invalid from this instant on.
    pub expires_at: Timestamp,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 43);
        assert_eq!(a.hash(), SessionToken::from_client(a.as_str()).hash());
        assert_ne!(a.hash().0, a.as_str());
        assert_eq!(a.hash().0.len(), 64);
        assert!(!format!("{a:?}").contains(a.as_str()));
        let bytes = a.hash().to_bytes().unwrap();
        assert_eq!(TokenHash::from_bytes(&bytes), a.hash());
        assert_eq!(TokenHash("not hex".into()).to_bytes(), None);
    }
}
