//! Channel passwords, checked without paying argon2 on every call. A successful verification
//! is remembered per channel as (the stored hash it matched, a keyed fingerprint of the
//! password): a later call with the same password against the same stored hash is an HMAC and a
//! map lookup. A changed password or deleted channel never matches a remembered entry (the
//! stored hash differs or the channel is gone before the check). Failures are never remembered
//! and always cost a slow hash, at most [`SLOW_CHECKS`] at once, which also bounds the memory
//! argon2 takes and the rate at which anyone can guess.
use hookfleet_core::channel::{self, Fingerprints};
use std::{collections::HashMap, sync::Mutex};
use tokio::sync::Semaphore;

/// Argon2 verifications running at once (each takes ~19 MiB and a core for tens of ms).
pub const SLOW_CHECKS: usize = 2;

pub(crate) struct Passwords {
    fingerprints: Fingerprints,
    verified: Mutex<HashMap<String, Remembered>>,
    capacity: usize,
    slow: Semaphore,
}

struct Remembered {
    stored_hash: String,
    fingerprint: [u8; 32],
}

impl Passwords {
    /// Remembers at most `capacity` channels.
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            fingerprints: Fingerprints::new(),
            verified: Mutex::new(HashMap::new()),
            capacity,
            slow: Semaphore::new(SLOW_CHECKS),
        }
    }

    /// Whether `password` opens `channel_id`, whose stored argon2id hash is `stored_hash`.
    pub(crate) async fn verify(&self, channel_id: &str, stored_hash: &str, password: &str) -> bool {
        let fingerprint = self.fingerprints.of(password);
        if self.remembers(channel_id, stored_hash, &fingerprint) {
            metrics::counter!("hookfleet_channel_password_checks_total", "kind" => "remembered")
                .increment(1);
            return true;
        }
        let Ok(_permit) = self.slow.acquire().await else {
            return false;
        };
        let (password, hash) = (password.to_owned(), stored_hash.to_owned());
        let ok = tokio::task::spawn_blocking(move || channel::verify_password(&password, &hash))
            .await
            .unwrap_or(false);
        metrics::counter!("hookfleet_channel_password_checks_total", "kind" => "slow").increment(1);
        if ok {
            self.remember(channel_id, stored_hash, fingerprint);
        }
        ok
    }

    fn remembers(&self, channel_id: &str, stored_hash: &str, fingerprint: &[u8; 32]) -> bool {
        let held = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        held.get(channel_id).is_some_and(|r| {
            r.stored_hash == stored_hash && crate::auth::tokens_equal(&r.fingerprint, fingerprint)
        })
    }

    fn remember(&self, channel_id: &str, stored_hash: &str, fingerprint: [u8; 32]) {
        if self.capacity == 0 {
            return;
        }
        let mut held = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if held.len() >= self.capacity && !held.contains_key(channel_id) {
            // Any entry will do: a forgotten channel costs one slow check on its next call.
            if let Some(k) = held.keys().next().cloned() {
                held.remove(&k);
            }
        }
        held.insert(
            channel_id.to_owned(),
            Remembered {
                stored_hash: stored_hash.to_owned(),
                fingerprint,
            },
        );
    }
}
