//! Channels of the event-lifecycle dialect (source document 001): each is posted to with a
//! password, stored only as a slow salted hash (argon2id) so a stolen record does not give the
//! passwords away. Hashing and verifying take their working memory from an [`ArgonMemory`] the
//! caller keeps, so a long-lived thread reuses one buffer and gives it back when it is idle.
use crate::Invalid;
use argon2::{
    Algorithm, Argon2, Block, Params, Version,
    password_hash::{Output, ParamsString, PasswordHash, Salt, SaltString, rand_core::OsRng},
};

pub const MIN_PASSWORD_LEN: usize = 8;
pub const MAX_PASSWORD_LEN: usize = 128;
pub const MAX_NAME_LEN: usize = 128;

/// Checks a channel's password: 8 to 128 characters, as the document says.
pub fn validate_password(password: &str) -> Result<(), Invalid> {
    let n = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&n) || password.contains('\0') {
        return Err(Invalid::new(
            "password",
            format!("must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters"),
        ));
    }
    Ok(())
}

/// The argon2id hash (PHC string, salt included) of a password, in memory of its own.
pub fn hash_password(password: &str) -> Result<String, String> {
    hash_password_in(&mut ArgonMemory::default(), password)
}

/// Whether `password` is the one `hash` was made from (false for a hash that does not parse),
/// in memory of its own.
pub fn verify_password(password: &str, hash: &str) -> bool {
    verify_password_in(&mut ArgonMemory::default(), password, hash)
}

/// [`hash_password`] with `memory` as argon2's working memory: argon2id with the crate's
/// default parameters (m = 19 MiB, t = 2, p = 1), a random 16-byte salt, a 32-byte output.
pub fn hash_password_in(memory: &mut ArgonMemory, password: &str) -> Result<String, String> {
    let fail = |e: &dyn std::fmt::Display| format!("argon2: {e}");
    let params = Params::default();
    let salt = SaltString::generate(&mut OsRng);
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let salt_bytes = salt.decode_b64(&mut salt_bytes).map_err(|e| fail(&e))?;
    let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
    let blocks = memory.blocks(params.block_count());
    let output = Output::init_with(Params::DEFAULT_OUTPUT_LEN, |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, &mut *blocks)
            .map_err(Into::into)
    })
    .map_err(|e| fail(&e))?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params).map_err(|e| fail(&e))?,
        salt: Some(salt.as_salt()),
        hash: Some(output),
    };
    Ok(hash.to_string())
}

/// [`verify_password`] with `memory` as argon2's working memory. The algorithm, version,
/// parameters and salt are the stored hash's own; the outputs are compared in constant time
/// (`Output`'s equality). A hash asking for more than [`MAX_ARGON_MEMORY_BLOCKS`] is refused:
/// hashes are only ever made by [`hash_password_in`], so one that big is not ours.
pub fn verify_password_in(memory: &mut ArgonMemory, password: &str, hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
        return false;
    };
    let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
        return false;
    };
    let version = match parsed.version.map(Version::try_from).transpose() {
        Ok(v) => v.unwrap_or_default(),
        Err(_) => return false,
    };
    let Ok(params) = Params::try_from(&parsed) else {
        return false;
    };
    if params.block_count() > MAX_ARGON_MEMORY_BLOCKS {
        return false;
    }
    let mut salt_bytes = [0u8; Salt::MAX_LENGTH];
    let Ok(salt_bytes) = salt.decode_b64(&mut salt_bytes) else {
        return false;
    };
    let argon = Argon2::new(algorithm, version, params.clone());
    let blocks = memory.blocks(params.block_count());
    Output::init_with(expected.len(), |out| {
        argon
            .hash_password_into_with_memory(password.as_bytes(), salt_bytes, out, &mut *blocks)
            .map_err(Into::into)
    })
    .is_ok_and(|computed| computed == expected)
}

/// The most argon2 memory a stored hash may ask for: 256 MiB (ours ask for 19 MiB).
pub const MAX_ARGON_MEMORY_BLOCKS: usize = 256 * 1024;

/// The capacity an [`ArgonMemory`] reserves at least: 33 MiB, just over glibc's
/// `DEFAULT_MMAP_THRESHOLD_MAX` (32 MiB on 64-bit). glibc serves an allocation over its mmap
/// threshold with `mmap` and returns it with `munmap` on free, but freeing an mmapped chunk of
/// at most 32 MiB raises the threshold to that chunk's size. After the first 19 MiB buffer is
/// freed, the next ones would come from the thread's malloc arena and stay resident once freed
/// (one arena per thread that ever hashed: the producer grew by ~58 MiB per thread). A chunk
/// over 32 MiB is always mmapped and never moves the threshold, so dropping the buffer always
/// gives its pages back. Only the blocks a hash uses are written, so only they are resident.
const ARGON_MEMORY_RESERVE_BLOCKS: usize = 33 * 1024;

/// Argon2's working memory, kept between hashes by the thread that runs them and dropped with
/// [`ArgonMemory::release`] when it has nothing more to do (its pages go back to the system).
#[derive(Default)]
pub struct ArgonMemory {
    blocks: Vec<Block>,
}

impl ArgonMemory {
    /// `count` blocks to hash in, reserved on first use (see [`ARGON_MEMORY_RESERVE_BLOCKS`]).
    /// What a previous hash left in them does not matter: argon2 writes every block of its first
    /// pass before reading it.
    fn blocks(&mut self, count: usize) -> &mut [Block] {
        if self.blocks.capacity() < count {
            self.blocks = Vec::with_capacity(count.max(ARGON_MEMORY_RESERVE_BLOCKS));
        }
        self.blocks.resize(count, Block::default());
        &mut self.blocks[..count]
    }

    /// Gives the memory back (to the system: see [`ARGON_MEMORY_RESERVE_BLOCKS`]).
    pub fn release(&mut self) {
        self.blocks = Vec::new();
    }

    /// Whether a buffer is held (for tests and metrics).
    pub fn is_held(&self) -> bool {
        self.blocks.capacity() > 0
    }
}

impl std::fmt::Debug for ArgonMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ArgonMemory")
            .field("blocks", &self.blocks.len())
            .finish()
    }
}

/// A keyed fingerprint of passwords already verified, so a later call with the same password
/// costs an HMAC instead of an argon2 verification. The key is random per process: what is
/// held in memory cannot be checked against guesses without it, and never leaves the process.
pub struct Fingerprints {
    key: [u8; 32],
}

impl Fingerprints {
    pub fn new() -> Self {
        let mut key = [0u8; 32];
        getrandom::fill(&mut key).expect("the operating system's random source is available");
        Self { key }
    }

    /// HMAC-SHA256 of `password` under this process's key.
    pub fn of(&self, password: &str) -> [u8; 32] {
        use hmac::{Hmac, Mac};
        let Ok(mut mac) = Hmac::<sha2::Sha256>::new_from_slice(&self.key) else {
            unreachable!("HMAC takes a key of any length")
        };
        mac.update(password.as_bytes());
        mac.finalize().into_bytes().into()
    }
}

impl Default for Fingerprints {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Fingerprints {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fingerprints").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_slowly_salted_and_verify() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(!h.contains("correct horse"));
        assert_ne!(h, hash_password("correct horse").unwrap(), "salted");
        assert!(verify_password("correct horse", &h));
        assert!(!verify_password("wrong horse", &h));
        assert!(!verify_password("correct horse", "not a hash"));
    }

    #[test]
    fn hashes_made_and_checked_in_kept_memory_agree_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};
        let mut memory = ArgonMemory::default();
        let ours = hash_password_in(&mut memory, "correct horse").unwrap();
        assert!(memory.is_held(), "the buffer is kept for the next hash");
        let parsed = PasswordHash::new(&ours).unwrap();
        assert!(
            Argon2::default()
                .verify_password(b"correct horse", &parsed)
                .is_ok()
        );
        assert_eq!(parsed.params.to_string(), "m=19456,t=2,p=1");
        let salt = SaltString::generate(&mut OsRng);
        let theirs = Argon2::default()
            .hash_password(b"correct horse", &salt)
            .unwrap()
            .to_string();
        // The same memory, reused, against both; then released and reserved again.
        for hash in [&ours, &theirs] {
            assert!(verify_password_in(&mut memory, "correct horse", hash));
            assert!(!verify_password_in(&mut memory, "correct horsf", hash));
        }
        memory.release();
        assert!(!memory.is_held());
        assert!(verify_password_in(&mut memory, "correct horse", &theirs));
        // Argon2i and a longer output, parameters taken from the stored hash.
        let argon2i = Argon2::new(
            Algorithm::Argon2i,
            Version::V0x13,
            Params::new(8 * 1024, 1, 1, Some(48)).unwrap(),
        )
        .hash_password(b"correct horse", &salt)
        .unwrap()
        .to_string();
        assert!(verify_password_in(&mut memory, "correct horse", &argon2i));
        assert!(!verify_password_in(&mut memory, "wrong horse", &argon2i));
    }

    #[test]
    fn a_stored_hash_asking_for_too_much_memory_is_refused() {
        let huge = "$argon2id$v=19$m=1048576,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA$\
            AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";
        assert!(!verify_password_in(&mut ArgonMemory::default(), "x", huge));
        assert!(!verify_password_in(
            &mut ArgonMemory::default(),
            "x",
            "$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHRzYWx0c2FsdA"
        ));
    }

    #[test]
    fn fingerprints_are_keyed_per_process() {
        let (a, b) = (Fingerprints::new(), Fingerprints::new());
        assert_eq!(a.of("correct horse"), a.of("correct horse"));
        assert_ne!(a.of("correct horse"), a.of("wrong horse"));
        assert_ne!(a.of("correct horse"), b.of("correct horse"));
    }

    #[test]
    fn a_password_is_8_to_128_characters() {
        assert!(validate_password(&"x".repeat(7)).is_err());
        assert!(validate_password(&"x".repeat(8)).is_ok());
        assert!(validate_password(&"é".repeat(128)).is_ok());
        assert!(validate_password(&"x".repeat(129)).is_err());
        assert!(validate_password("12345678\0").is_err());
    }
}
