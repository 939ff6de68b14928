//! Channels of the event-lifecycle dialect (source document 001): each is posted to with a
//! password, stored only as a slow salted hash (argon2id) so a stolen record does not give the
//! passwords away.
use crate::Invalid;
use argon2::{
    Argon2,
    password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng},
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

/// The argon2id hash (PHC string, salt included) of a password.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("argon2: {e}"))
}

/// Whether `password` is the one `hash` was made from (false for a hash that does not parse).
pub fn verify_password(password: &str, hash: &str) -> bool {
    PasswordHash::new(hash).is_ok_and(|parsed| {
        Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok()
    })
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
