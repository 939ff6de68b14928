//! Passwords already verified, so a later call with the same one costs an HMAC and a lookup.
//! Remembered per channel as (the stored hash it matched, a keyed fingerprint of the password):
//! a changed password or a deleted channel never matches (the stored hash differs, or the
//! channel is gone before the check). Failures are never remembered here (see `lockout`).
use std::collections::HashMap;

pub(super) struct Remembered {
    capacity: usize,
    held: HashMap<String, Entry>,
}

struct Entry {
    stored_hash: String,
    fingerprint: [u8; 32],
}

impl Remembered {
    /// Remembers at most `capacity` channels (0: none, every call is verified slowly).
    pub(super) fn new(capacity: usize) -> Self {
        Self {
            capacity,
            held: HashMap::new(),
        }
    }

    /// Whether the password with `fingerprint` was verified on `channel` against `stored_hash`.
    pub(super) fn holds(&self, channel: &str, stored_hash: &str, fingerprint: &[u8; 32]) -> bool {
        self.held.get(channel).is_some_and(|r| {
            r.stored_hash == stored_hash && crate::auth::tokens_equal(&r.fingerprint, fingerprint)
        })
    }

    pub(super) fn insert(&mut self, channel: &str, stored_hash: &str, fingerprint: [u8; 32]) {
        if self.capacity == 0 {
            return;
        }
        if self.held.len() >= self.capacity && !self.held.contains_key(channel) {
            // Any entry will do: a forgotten channel costs one slow check on its next call.
            if let Some(k) = self.held.keys().next().cloned() {
                self.held.remove(&k);
            }
        }
        self.held.insert(
            channel.to_owned(),
            Entry {
                stored_hash: stored_hash.to_owned(),
                fingerprint,
            },
        );
    }
}
