//! Brute-force protection per channel, in the manner of Keycloak's: a few wrong passwords are
//! free, each one after that locks the channel for twice as long as the one before (up to a
//! ceiling), a password verified right clears the count, and a channel with no failure for a
//! while is forgotten. While a channel is locked every call on it is refused, right or wrong
//! (see `Passwords` for why). Only the channel guessed at is slowed; the table is bounded, and
//! time is a parameter so tests run it on a clock of their own. The counts are kept with the
//! lockout turned off too: the schedule serves channels with failures after the others.
use super::Lockout;
use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

/// The failure count of each channel that has failed lately.
pub(super) struct Failures {
    rules: Lockout,
    /// Whether failures lock (the lockout is on); counted either way.
    locks: bool,
    table: HashMap<String, Entry>,
}

struct Entry {
    /// The stored hash the failures were against: a new password starts with a clean slate.
    stored_hash: String,
    failures: u32,
    last_failure: Instant,
    locked_until: Option<Instant>,
}

impl Entry {
    fn locked_at(&self, now: Instant) -> Option<Duration> {
        self.locked_until
            .and_then(|until| until.checked_duration_since(now))
            .filter(|left| !left.is_zero())
    }
}

impl Failures {
    /// Counts by `rules`, which lock unless they are `None` (then the default table bounds).
    pub(super) fn new(rules: Option<Lockout>) -> Self {
        Self {
            locks: rules.is_some(),
            rules: rules.unwrap_or_default(),
            table: HashMap::new(),
        }
    }

    /// Whether `channel` has wrong passwords counted against `stored_hash` (and not forgotten).
    pub(super) fn suspect(&self, channel: &str, stored_hash: &str, now: Instant) -> bool {
        self.table
            .get(channel)
            .is_some_and(|e| e.stored_hash == stored_hash && !self.expired(e, now))
    }

    /// How long `channel` (whose password is `stored_hash`) stays locked from `now`, if it is.
    pub(super) fn locked(
        &mut self,
        channel: &str,
        stored_hash: &str,
        now: Instant,
    ) -> Option<Duration> {
        let entry = self.table.get(channel)?;
        if entry.stored_hash != stored_hash || self.expired(entry, now) {
            self.table.remove(channel);
            return None;
        }
        entry.locked_at(now)
    }

    /// A wrong password was verified on `channel` at `now`: one more failure. Returns the
    /// lockout it starts, if it starts one.
    pub(super) fn failed(
        &mut self,
        channel: &str,
        stored_hash: &str,
        now: Instant,
    ) -> Option<Duration> {
        let known = self
            .table
            .get(channel)
            .is_some_and(|e| e.stored_hash == stored_hash && !self.expired(e, now));
        if !known {
            self.table.remove(channel);
            self.make_room(now);
        }
        let entry = self
            .table
            .entry(channel.to_owned())
            .or_insert_with(|| Entry {
                stored_hash: stored_hash.to_owned(),
                failures: 0,
                last_failure: now,
                locked_until: None,
            });
        entry.failures = entry.failures.saturating_add(1);
        entry.last_failure = now;
        if !self.locks {
            return None;
        }
        let lock = self.rules.lock_after(entry.failures)?;
        entry.locked_until = Some(now + lock);
        Some(lock)
    }

    /// The password of `channel` was verified right: its count starts again.
    pub(super) fn succeeded(&mut self, channel: &str) {
        self.table.remove(channel);
    }

    /// Channels with a count (for tests).
    #[cfg(test)]
    pub(super) fn len(&self) -> usize {
        self.table.len()
    }

    fn expired(&self, entry: &Entry, now: Instant) -> bool {
        entry.locked_at(now).is_none()
            && now.saturating_duration_since(entry.last_failure) >= self.rules.forget_after
    }

    /// Below the table's cap before a new channel goes in: the forgotten go first, then the
    /// entry that least needs keeping (unlocked before locked, then the oldest failure).
    /// Dropping a locked entry frees that channel early, so locked ones go last.
    fn make_room(&mut self, now: Instant) {
        if self.table.len() < self.rules.channels {
            return;
        }
        let forget = self.rules.forget_after;
        self.table.retain(|_, e| {
            e.locked_at(now).is_some() || now.saturating_duration_since(e.last_failure) < forget
        });
        while self.table.len() >= self.rules.channels.max(1) {
            let Some(victim) = self
                .table
                .iter()
                .min_by_key(|(_, e)| (e.locked_at(now).is_some(), e.locked_until, e.last_failure))
                .map(|(k, _)| k.clone())
            else {
                return;
            };
            self.table.remove(&victim);
        }
    }
}

impl Lockout {
    /// The lockout the `failures`th consecutive failure starts: none while they are free, then
    /// `first`, doubling with each further failure, never over `max`.
    pub(super) fn lock_after(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free_failures)?.checked_sub(1)?;
        let factor = 1u32.checked_shl(over).unwrap_or(u32::MAX);
        Some(self.first.saturating_mul(factor).min(self.max))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    fn rules() -> Lockout {
        Lockout {
            free_failures: 3,
            first: S,
            max: 8 * S,
            forget_after: 60 * S,
            channels: 3,
        }
    }

    #[test]
    fn the_schedule_is_free_then_doubling_up_to_the_ceiling() {
        let r = Lockout {
            free_failures: 5,
            first: S,
            max: 15 * 60 * S,
            ..rules()
        };
        let locks: Vec<_> = (1..=18)
            .map(|n| r.lock_after(n).map(|d| d.as_secs()))
            .collect();
        let mut expected = vec![None; 5];
        expected.extend([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900].map(Some));
        assert_eq!(locks, expected);
        assert_eq!(r.lock_after(u32::MAX), Some(15 * 60 * S), "no overflow");
        let strict = Lockout {
            free_failures: 0,
            ..rules()
        };
        assert_eq!(strict.lock_after(1), Some(S));
    }

    #[test]
    fn failures_lock_one_channel_for_growing_times_and_never_another() {
        let t0 = Instant::now();
        let mut f = Failures::new(Some(rules()));
        for i in 0..3 {
            assert_eq!(
                f.failed("a", "h", t0 + i * S / 10),
                None,
                "free failure {i}"
            );
            assert_eq!(f.locked("a", "h", t0 + i * S / 10), None);
        }
        let t = t0 + S;
        assert_eq!(f.failed("a", "h", t), Some(S));
        assert_eq!(f.locked("a", "h", t), Some(S));
        assert_eq!(f.locked("a", "h", t + S / 2), Some(S / 2));
        assert_eq!(f.locked("a", "h", t + S), None, "open once the time is up");
        assert_eq!(
            f.locked("b", "h", t),
            None,
            "another channel is not touched"
        );
        // The next failure after the lock doubles it; and again.
        assert_eq!(f.failed("a", "h", t + S), Some(2 * S));
        assert_eq!(f.failed("a", "h", t + 3 * S), Some(4 * S));
        assert_eq!(f.failed("a", "h", t + 7 * S), Some(8 * S));
        assert_eq!(f.failed("a", "h", t + 15 * S), Some(8 * S), "the ceiling");
        assert_eq!(f.locked("b", "h", t + 15 * S), None);
    }

    #[test]
    fn with_the_lockout_off_failures_are_counted_but_never_lock() {
        let t0 = Instant::now();
        let mut f = Failures::new(None);
        assert!(!f.suspect("a", "h", t0));
        for _ in 0..100 {
            assert_eq!(f.failed("a", "h", t0), None);
        }
        assert_eq!(f.locked("a", "h", t0), None);
        assert!(f.suspect("a", "h", t0));
        assert!(
            !f.suspect("a", "other-hash", t0),
            "another password is not suspect"
        );
        assert!(!f.suspect("b", "h", t0));
        assert!(!f.suspect("a", "h", t0 + Lockout::default().forget_after));
    }

    #[test]
    fn a_right_password_clears_the_count() {
        let t0 = Instant::now();
        let mut f = Failures::new(Some(rules()));
        for _ in 0..4 {
            f.failed("a", "h", t0);
        }
        assert!(f.locked("a", "h", t0).is_some());
        f.succeeded("a");
        assert_eq!(f.locked("a", "h", t0), None);
        for _ in 0..3 {
            assert_eq!(f.failed("a", "h", t0), None, "the free failures again");
        }
    }

    #[test]
    fn a_channel_without_failures_for_a_while_is_forgotten() {
        let t0 = Instant::now();
        let mut f = Failures::new(Some(rules()));
        for _ in 0..4 {
            f.failed("a", "h", t0);
        }
        // Before forget_after, the count holds: the next failure locks again, longer.
        assert_eq!(f.failed("a", "h", t0 + 30 * S), Some(2 * S));
        // forget_after past the last failure: a clean slate.
        let later = t0 + 90 * S;
        assert_eq!(f.locked("a", "h", later), None);
        assert_eq!(f.len(), 0, "the entry is gone");
        assert_eq!(f.failed("a", "h", later), None);
    }

    #[test]
    fn a_new_password_starts_with_a_clean_slate() {
        let t0 = Instant::now();
        let mut f = Failures::new(Some(rules()));
        for _ in 0..4 {
            f.failed("a", "old-hash", t0);
        }
        assert!(f.locked("a", "old-hash", t0).is_some());
        assert_eq!(f.locked("a", "new-hash", t0), None);
        assert_eq!(f.failed("a", "new-hash", t0), None, "counted from one");
    }

    #[test]
    fn the_table_is_bounded_and_evicts_the_unlocked_and_oldest_first() {
        let t0 = Instant::now();
        let mut f = Failures::new(Some(rules()));
        // "locked" is locked; "old" and "new" have one free failure each.
        for _ in 0..4 {
            f.failed("locked", "h", t0);
        }
        f.failed("old", "h", t0 + S / 10);
        f.failed("new", "h", t0 + S / 5);
        assert_eq!(f.len(), 3);
        f.failed("fourth", "h", t0 + S / 2);
        assert_eq!(f.len(), 3, "capped");
        assert!(f.locked("locked", "h", t0 + S / 2).is_some(), "kept");
        // "old" went: its next failure is its first again; "new" kept its count.
        f.failed("new", "h", t0 + S / 2);
        f.failed("new", "h", t0 + S / 2);
        assert_eq!(f.failed("new", "h", t0 + S / 2), Some(S), "new's fourth");
    }
}
