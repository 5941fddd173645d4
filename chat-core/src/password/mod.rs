//! argon2id password hashing into PHC strings (`$argon2id$v=19$m=..,t=..,p=..$salt$hash`).
//!
//! A server hashes through the [`HashPool`] its [`ChatService`](crate::ChatService) owns: a few
//! dedicated threads, each reusing one work buffer, that refuse excess work with
//! [`ChatError::Busy`]. The free functions here are for one-off use (a CLI, tests): each call
//! runs on tokio's blocking pool with a buffer of its own and nothing bounds how many run at
//! once, so request paths must not use them.

mod pool;

pub use pool::HashPool;

use crate::{ChatError, HashCost};
use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, RECOMMENDED_SALT_LEN, Version};

/// glibc serves an allocation larger than its highest dynamic mmap threshold (32 MiB on 64-bit)
/// with a mapping of its own and unmaps it on free; a smaller freed buffer would raise the
/// threshold and stay resident in the thread's arena. Reserving at least this many blocks
/// costs address space only: just the blocks argon2 uses are ever touched.
const OWN_MAPPING_BLOCKS: usize = (32 << 20) / Block::SIZE + 64;

/// The argon2 work memory of one hashing thread, grown on demand and reused from hash to hash.
#[derive(Debug, Default)]
pub(crate) struct WorkMemory {
    blocks: Vec<Block>,
    /// How many times the buffer was (re)allocated.
    allocations: usize,
}

impl WorkMemory {
    /// `count` blocks, allocating the buffer only when it is smaller.
    fn blocks(&mut self, count: usize) -> Result<&mut [Block], ChatError> {
        if self.blocks.len() < count {
            let capacity = count.max(OWN_MAPPING_BLOCKS);
            self.blocks
                .try_reserve_exact(capacity - self.blocks.len())
                .map_err(|e| ChatError::Internal(format!("no memory for password hashing: {e}")))?;
            self.blocks.resize(count, Block::new());
            self.allocations += 1;
        }
        Ok(&mut self.blocks[..count])
    }

    /// Whether a buffer is allocated.
    fn is_held(&self) -> bool {
        self.blocks.capacity() > 0
    }

    /// Gives the buffer back to the allocator (and, through its own mapping, to the system).
    fn release(&mut self) {
        self.blocks = Vec::new();
    }

    /// Bytes of the buffer in use (0 when released).
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.blocks.len() * Block::SIZE
    }
}

fn params(cost: HashCost) -> Result<Params, ChatError> {
    Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| ChatError::Internal(format!("invalid argon2 parameters: {e}")))
}

fn internal(what: &str, e: impl std::fmt::Display) -> ChatError {
    ChatError::Internal(format!("{what}: {e}"))
}

/// Hashes `password` with a fresh random salt in `memory`; returns the PHC string.
fn hash_with(memory: &mut WorkMemory, password: &str, cost: HashCost) -> Result<String, ChatError> {
    let params = params(cost)?;
    let mut salt = [0u8; RECOMMENDED_SALT_LEN];
    getrandom::fill(&mut salt).map_err(|e| internal("no randomness for a salt", e))?;
    let mut output = [0u8; Params::DEFAULT_OUTPUT_LEN];
    let blocks = memory.blocks(params.block_count())?;
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone())
        .hash_password_into_with_memory(password.as_bytes(), &salt, &mut output, blocks)
        .map_err(|e| internal("password hashing failed", e))?;
    phc(&params, &salt, &output)
}

fn phc(params: &Params, salt: &[u8], output: &[u8]) -> Result<String, ChatError> {
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(params).map_err(|e| internal("argon2 parameters", e))?,
        salt: Some(Salt::new(salt).map_err(|e| internal("argon2 salt", e))?),
        hash: Some(Output::new(output).map_err(|e| internal("argon2 output", e))?),
    };
    Ok(hash.to_string())
}

/// Checks `password` against a PHC string in `memory`: recomputes the hash with the string's
/// own algorithm, version, parameters and salt, and compares in constant time. A malformed
/// string is a mismatch; only running out of memory is an error.
fn verify_with(memory: &mut WorkMemory, password: &str, phc: &str) -> Result<bool, ChatError> {
    let Ok(hash) = PasswordHash::new(phc) else {
        return Ok(false);
    };
    let (Some(salt), Some(expected)) = (&hash.salt, &hash.hash) else {
        return Ok(false);
    };
    let Ok(algorithm) = Algorithm::new(hash.algorithm.as_str()) else {
        return Ok(false);
    };
    let version = match hash.version.map(Version::try_from).transpose() {
        Ok(version) => version.unwrap_or_default(),
        Err(_) => return Ok(false),
    };
    // The output length comes from the expected hash.
    let Ok(params) = Params::try_from(&hash) else {
        return Ok(false);
    };
    let mut buffer = [0u8; Output::MAX_LENGTH];
    let Some(computed) = buffer.get_mut(..expected.len()) else {
        return Ok(false);
    };
    let blocks = memory.blocks(params.block_count())?;
    if Argon2::new(algorithm, version, params)
        .hash_password_into_with_memory(password.as_bytes(), salt, computed, blocks)
        .is_err()
    {
        return Ok(false);
    }
    // `Output`'s equality is constant-time.
    Ok(Output::new(computed).is_ok_and(|computed| computed == *expected))
}

/// A PHC string with `cost`'s parameters, a random salt and a random output: verifying any
/// password against it costs what verifying a real hash of that cost does, and fails. Logins
/// naming an unknown user verify one so they do the same work as the others.
pub fn dummy_hash(cost: HashCost) -> Result<String, ChatError> {
    let params = params(cost)?;
    let mut random = [0u8; RECOMMENDED_SALT_LEN + Params::DEFAULT_OUTPUT_LEN];
    getrandom::fill(&mut random).map_err(|e| internal("no randomness for a dummy hash", e))?;
    let (salt, output) = random.split_at(RECOMMENDED_SALT_LEN);
    phc(&params, salt, output)
}

/// Hashes `password` with argon2id and a fresh random salt; returns the PHC string. For
/// one-off use (see the [module](self) docs): servers hash through a [`HashPool`].
pub async fn hash_password(password: &str, cost: HashCost) -> Result<String, ChatError> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || hash_password_blocking(&password, cost))
        .await
        .map_err(|e| internal("password hashing task failed", e))?
}

/// The blocking form of [`hash_password`], for callers already off the reactor.
pub fn hash_password_blocking(password: &str, cost: HashCost) -> Result<String, ChatError> {
    hash_with(&mut WorkMemory::default(), password, cost)
}

/// Checks `password` against a PHC string. A malformed hash counts as a mismatch. For one-off
/// use (see the [module](self) docs): servers verify through a [`HashPool`].
pub async fn verify_password(password: &str, phc: &str) -> Result<bool, ChatError> {
    let (password, phc) = (password.to_owned(), phc.to_owned());
    tokio::task::spawn_blocking(move || verify_with(&mut WorkMemory::default(), &password, &phc))
        .await
        .map_err(|e| internal("password verification task failed", e))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use argon2::PasswordHasher;

    const COST: HashCost = HashCost::FAST_INSECURE_FOR_TESTS;

    #[tokio::test]
    async fn hashes_are_salted_argon2id_and_verify() {
        let a = hash_password("correct horse", COST).await.unwrap();
        let b = hash_password("correct horse", COST).await.unwrap();
        assert!(a.starts_with("$argon2id$v=19$m=256,t=1,p=1$"), "{a}");
        assert_ne!(a, b, "each hash has its own salt");
        assert!(verify_password("correct horse", &a).await.unwrap());
        assert!(!verify_password("wrong horse", &a).await.unwrap());
        assert!(
            !verify_password("correct horse", "not a phc string")
                .await
                .unwrap()
        );
    }

    #[test]
    fn malformed_hashes_are_mismatches() {
        let good = hash_password_blocking("pw", COST).unwrap();
        let (head, output) = good.rsplit_once('$').unwrap();
        let cases = [
            String::new(),
            "$".to_owned(),
            "$argon2id".to_owned(),
            "$argon2id$v=19$m=256,t=1,p=1".to_owned(),
            // No output.
            head.to_owned(),
            // Unknown algorithm, version and parameter.
            good.replace("argon2id", "scrypt"),
            good.replace("v=19", "v=7"),
            good.replace("p=1", "p=1,q=2"),
            // Parameters argon2 rejects (m below 8 blocks per lane, t of 0).
            good.replace("m=256", "m=1"),
            good.replace("t=1", "t=0"),
            // Not base64, and a too-short output.
            format!("{head}$!!!!"),
            format!("{head}${}", &output[..4]),
            format!("{good}$trailing"),
        ];
        for phc in cases {
            assert!(
                !verify_with(&mut WorkMemory::default(), "pw", &phc).unwrap(),
                "{phc:?}"
            );
        }
        assert!(verify_with(&mut WorkMemory::default(), "pw", &good).unwrap());
    }

    #[test]
    fn hashes_of_the_argon2_password_hasher_still_verify() {
        // How earlier versions hashed: the argon2 crate's own PHC output, as stored databases
        // hold it.
        for (algorithm, m, t, p) in [
            (Algorithm::Argon2id, 256, 1, 1),
            (Algorithm::Argon2id, 512, 2, 2),
            (Algorithm::Argon2i, 256, 2, 1),
            (Algorithm::Argon2d, 256, 1, 1),
        ] {
            let params = Params::new(m, t, p, None).unwrap();
            let phc = Argon2::new(algorithm, Version::V0x13, params)
                .hash_password(b"correct horse")
                .unwrap()
                .to_string();
            let mut memory = WorkMemory::default();
            assert!(
                verify_with(&mut memory, "correct horse", &phc).unwrap(),
                "{phc}"
            );
            assert!(
                !verify_with(&mut memory, "correct hors", &phc).unwrap(),
                "{phc}"
            );
        }
        // And ours verify with the argon2 crate.
        let ours = hash_password_blocking("correct horse", COST).unwrap();
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            argon2::PasswordVerifier::verify_password(
                &Argon2::default(),
                b"correct horse",
                &parsed
            )
            .is_ok()
        );
    }

    #[test]
    fn the_dummy_hash_has_the_cost_and_matches_nothing() {
        let dummy = dummy_hash(COST).unwrap();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
            "{dummy}"
        );
        assert_ne!(dummy, dummy_hash(COST).unwrap());
        let mut memory = WorkMemory::default();
        assert!(!verify_with(&mut memory, "", &dummy).unwrap());
        assert_eq!(memory.bytes(), 256 * 1024, "the full cost was paid");
    }

    #[test]
    fn work_memory_is_reused_and_grows_only_when_needed() {
        let mut memory = WorkMemory::default();
        assert!(!memory.is_held());
        let a = hash_with(&mut memory, "one", COST).unwrap();
        let capacity = memory.blocks.capacity();
        assert!(capacity >= OWN_MAPPING_BLOCKS);
        hash_with(&mut memory, "two", COST).unwrap();
        assert!(verify_with(&mut memory, "one", &a).unwrap());
        assert_eq!(memory.allocations, 1);
        assert_eq!(memory.blocks.capacity(), capacity);
        // A stored hash of a higher cost grows it once.
        let big = HashCost {
            memory_kib: 2 * OWN_MAPPING_BLOCKS as u32,
            ..COST
        };
        let b = hash_with(&mut memory, "big", big).unwrap();
        assert!(verify_with(&mut memory, "big", &b).unwrap());
        assert_eq!(memory.allocations, 2);
        memory.release();
        assert!(!memory.is_held());
    }
}
