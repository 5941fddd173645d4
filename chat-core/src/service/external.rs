//! Users vouched for by the host application (a JWT's subject, the host's own session) instead
//! of the chat's own accounts: found by their external id, created the first time they are
//! seen, and kept in step with the host's name and admin flag. The chat's own deactivation
//! still wins over anything the host says. Such users have no password here and cannot log in
//! with the chat's own accounts.

use super::ChatService;
use crate::{ChatError, ChatResult, Conflict, ExternalUser, Limits, NewUser, StoreError, User};
use sha2::{Digest, Sha256};

/// Longest external id accepted, in bytes.
pub const EXTERNAL_ID_MAX: usize = 255;

/// How many numbered names (`name-2` ... `name-9`) are tried before one made from the
/// external id.
const NUMBERED: u32 = 8;

impl ChatService {
    /// The chat user the host application vouches for: created on first sight with a username
    /// made from `identity.name`, renamed when that name changes, its admin flag set when
    /// `identity.admin` says so. [`ChatError::Unauthenticated`] for an empty or overlong
    /// external id, [`ChatError::Forbidden`] when an admin of the chat deactivated the user.
    ///
    /// The username keeps the name's ASCII letters, digits, `_`, `-` and `.` (spaces become
    /// `_`), cut to the longest username; a name taken by someone else gets `-2`, `-3`, ...,
    /// then a suffix made from the external id; a name with too little left becomes
    /// `user-` and that suffix.
    pub async fn external_user(&self, identity: &ExternalUser) -> ChatResult<User> {
        let id = identity.external_id.as_str();
        if id.is_empty() || id.len() > EXTERNAL_ID_MAX {
            return Err(ChatError::Unauthenticated);
        }
        let base = base_username(&self.config().limits, &identity.name, id);
        let mut user = match self.store().user_by_external_id(id).await? {
            Some(user) => user,
            None => self.create_external(identity, &base).await?,
        };
        if !user.is_active {
            return Err(ChatError::Forbidden("this account is deactivated"));
        }
        // The usual case, the name unchanged, costs one comparison; a numbered or suffixed
        // name is checked against the candidates only when it differs from the base.
        if user.username != base
            && !candidates(&self.config().limits, &base, id).contains(&user.username)
        {
            user = self.rename_external(&user, &base, id).await?;
        }
        match identity.admin {
            Some(admin) if admin != user.is_admin => {
                Ok(self.store().set_user_admin(user.id, admin).await?)
            }
            _ => Ok(user),
        }
    }

    async fn create_external(&self, identity: &ExternalUser, base: &str) -> ChatResult<User> {
        let limits = &self.config().limits;
        let id = identity.external_id.as_str();
        for username in candidates(limits, base, id) {
            let new = NewUser {
                username,
                password_hash: String::new(),
                is_admin: identity.admin.unwrap_or(false),
                created_at: self.clock().now(),
            };
            match self.store().create_external_user(id, new).await {
                Ok(user) => return Ok(user),
                Err(StoreError::Conflict(Conflict::Username)) => continue,
                // Created by a concurrent first request of the same user.
                Err(StoreError::Conflict(Conflict::ExternalId)) => {
                    return self
                        .store()
                        .user_by_external_id(id)
                        .await?
                        .ok_or(ChatError::Unauthenticated);
                }
                Err(e) => return Err(e.into()),
            }
        }
        Err(ChatError::Conflict(Conflict::Username))
    }

    async fn rename_external(&self, user: &User, base: &str, id: &str) -> ChatResult<User> {
        for username in candidates(&self.config().limits, base, id) {
            match self.store().rename_user(user.id, &username).await {
                Ok(user) => return Ok(user),
                Err(StoreError::Conflict(Conflict::Username)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        // Every candidate is taken: keep the old name rather than refuse the user.
        Ok(user.clone())
    }
}

/// The username `name` asks for: its allowed characters, cut to the longest username; with
/// fewer than the shortest left, `user-` and the external id's suffix.
fn base_username(limits: &Limits, name: &str, external_id: &str) -> String {
    let kept: String = name
        .trim()
        .chars()
        .filter_map(|c| match c {
            c if c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.') => Some(c),
            c if c.is_whitespace() => Some('_'),
            _ => None,
        })
        .take(limits.username_max)
        .collect();
    if kept.chars().count() >= limits.username_min {
        kept
    } else {
        format!("user-{}", id_suffix(external_id))
    }
}

/// The usernames to try, in order: `base`, `base-2` ... `base-9`, `base-<id suffix>`, each
/// cut so that it fits the longest username.
fn candidates(limits: &Limits, base: &str, external_id: &str) -> Vec<String> {
    let with = |suffix: String| {
        let room = limits.username_max.saturating_sub(suffix.len() + 1);
        let head: String = base.chars().take(room).collect();
        format!("{head}-{suffix}")
    };
    std::iter::once(base.to_owned())
        .chain((2..2 + NUMBERED).map(|n| with(n.to_string())))
        .chain(std::iter::once(with(id_suffix(external_id))))
        .collect()
}

/// Eight hex digits of the external id's SHA-256: the same for the same user every time.
fn id_suffix(external_id: &str) -> String {
    hex::encode(&Sha256::digest(external_id.as_bytes())[..4])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_from_names() {
        let limits = Limits::default();
        assert_eq!(base_username(&limits, " Jane Doe ", "1"), "Jane_Doe");
        assert_eq!(base_username(&limits, "José", "1"), "Jos");
        let short = base_username(&limits, "李", "42");
        assert!(short.starts_with("user-") && short.len() == 13, "{short}");
        let long = base_username(&limits, &"a".repeat(100), "1");
        assert_eq!(long.len(), limits.username_max);
        let all = candidates(&limits, &long, "1");
        assert_eq!(all.len(), 10);
        assert!(all.iter().all(|c| c.len() <= limits.username_max));
        assert!(
            all.iter()
                .all(|c| crate::validation::username(&limits, c).is_ok())
        );
        assert_eq!(candidates(&limits, "Jane", "1")[1], "Jane-2");
        assert!(!candidates(&limits, "Jane-Doe", "1").contains(&"Jane-2".to_owned()));
    }
}
