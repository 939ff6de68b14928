//! Channel passwords, checked without paying argon2 on every call. A successful verification
//! is remembered per channel as (the stored hash it matched, a keyed fingerprint of the
//! password): a later call with the same password against the same stored hash is an HMAC and a
//! map lookup. A changed password or deleted channel never matches a remembered entry (the
//! stored hash differs or the channel is gone before the check). Failures are never remembered
//! and always cost a slow hash, at most [`SLOW_CHECKS`] at once, which also bounds the memory
//! argon2 takes and the rate at which anyone can guess.
use hookfleet_core::channel::{self, Fingerprints};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};
use tokio::sync::Semaphore;

/// Argon2 verifications running at once (each takes ~19 MiB and a core for tens of ms).
pub const SLOW_CHECKS: usize = 2;

pub(crate) struct Passwords {
    fingerprints: Fingerprints,
    verified: Mutex<HashMap<String, Remembered>>,
    capacity: usize,
    /// Held by the blocking task itself, so a caller that gives up (a client that hung up)
    /// does not free a slot while its hash still runs.
    slow: Arc<Semaphore>,
    /// Slow checks running now, and the most ever seen at once (for tests and their bound).
    running: Arc<std::sync::atomic::AtomicUsize>,
    max_running: Arc<std::sync::atomic::AtomicUsize>,
    slow_total: std::sync::atomic::AtomicUsize,
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
            slow: Arc::new(Semaphore::new(SLOW_CHECKS)),
            running: Arc::default(),
            max_running: Arc::default(),
            slow_total: Default::default(),
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
        let Ok(permit) = self.slow.clone().acquire_owned().await else {
            return false;
        };
        // Calls that queued behind the first check of this password (a burst after a restart)
        // find it remembered now, instead of each paying argon2 in turn.
        if self.remembers(channel_id, stored_hash, &fingerprint) {
            return true;
        }
        let (password, hash) = (password.to_owned(), stored_hash.to_owned());
        (self.slow_total).fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (running, max_running) = (self.running.clone(), self.max_running.clone());
        // The task owns the permit and hands it back with its answer: a caller that gave up
        // leaves the slot taken until the hash ends; one that waits frees it only after the
        // answer is remembered, so the next in line finds it.
        let checked = tokio::task::spawn_blocking(move || {
            use std::sync::atomic::Ordering::SeqCst;
            max_running.fetch_max(running.fetch_add(1, SeqCst) + 1, SeqCst);
            let ok = channel::verify_password(&password, &hash);
            running.fetch_sub(1, SeqCst);
            (ok, permit)
        })
        .await;
        let Ok((ok, _permit)) = checked else {
            return false;
        };
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::Ordering::SeqCst;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_pays_argon2_once_and_callers_that_give_up_never_exceed_the_bound() {
        let hash = channel::hash_password("chaos-channel-password").unwrap();
        let p = Arc::new(Passwords::new(100));
        // 32 calls at once after a restart: the first check is remembered, the rest wait for
        // it and find it (before the fix each paid argon2 in turn).
        let calls: Vec<_> = (0..32)
            .map(|_| {
                let (p, hash) = (p.clone(), hash.clone());
                tokio::spawn(async move { p.verify("ch", &hash, "chaos-channel-password").await })
            })
            .collect();
        for c in calls {
            assert!(c.await.unwrap());
        }
        let slow = p.slow_total.load(SeqCst);
        assert!(
            (1..=SLOW_CHECKS).contains(&slow),
            "{slow} slow checks for one password"
        );

        // Callers that hang up while their wrong password is being hashed: the hashes still
        // running hold their slots, so no more than SLOW_CHECKS ever run at once.
        let p = Arc::new(Passwords::new(100));
        for round in 0..20 {
            let p = p.clone();
            let hash = hash.clone();
            let _ = tokio::time::timeout(std::time::Duration::from_millis(1), async move {
                p.verify("ch", &hash, &format!("wrong-{round}")).await
            })
            .await;
        }
        while p.running.load(SeqCst) > 0 || p.slow.available_permits() < SLOW_CHECKS {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        assert!(
            p.max_running.load(SeqCst) <= SLOW_CHECKS,
            "{}",
            p.max_running.load(SeqCst)
        );
    }
}
