//! argon2id password hashing, always run on tokio's blocking pool: one hash costs tens of
//! milliseconds of CPU and must never stall the async reactor.

use crate::{ChatError, HashCost};
use argon2::{Algorithm, Argon2, Params, PasswordHasher, PasswordVerifier, Version};

fn hasher(cost: HashCost) -> Result<Argon2<'static>, ChatError> {
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| ChatError::Internal(format!("invalid argon2 parameters: {e}")))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes `password` with argon2id and a fresh random salt; returns the PHC string.
pub async fn hash_password(password: &str, cost: HashCost) -> Result<String, ChatError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password_blocking(&password, cost))
        .await
        .map_err(|e| ChatError::Internal(format!("password hashing task failed: {e}")))?
}

/// The blocking form of [`hash_password`], for callers already off the reactor.
pub fn hash_password_blocking(password: &str, cost: HashCost) -> Result<String, ChatError> {
    let hash = hasher(cost)?
        .hash_password(password.as_bytes())
        .map_err(|e| ChatError::Internal(format!("password hashing failed: {e}")))?;
    Ok(hash.to_string())
}

/// Checks `password` against a PHC string. A malformed hash counts as a mismatch.
pub async fn verify_password(password: &str, phc: &str) -> Result<bool, ChatError> {
    let (password, phc) = (password.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || {
        // The PHC string carries its own parameters; the hasher's own are not used.
        Argon2::default()
            .verify_password(password.as_bytes(), phc.as_str())
            .is_ok()
    })
    .await
    .map_err(|e| ChatError::Internal(format!("password verification task failed: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let cost = HashCost::FAST_INSECURE_FOR_TESTS;
        let a = hash_password("correct horse", cost).await.unwrap();
        let b = hash_password("correct horse", cost).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a).await.unwrap());
        assert!(!verify_password("wrong horse", &a).await.unwrap());
        assert!(
            !verify_password("correct horse", "not a phc string")
                .await
                .unwrap()
        );
    }
}
