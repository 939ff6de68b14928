//! Channel passwords, checked so that no number of callers can flood the producer. A password
//! verified once is remembered (`remembered`): later calls with it cost an HMAC. Every other
//! check needs argon2 (19 MiB and tens of milliseconds of a core), which runs only on a fixed
//! set of long-lived threads (`workers`) that keep one buffer each while busy and give it back
//! when idle, so memory is bounded by the number of threads and returns after a flood. The
//! checks wait in a fair queue (`schedule`): per channel, a few distinct checks at most (past
//! that, 429 with `Retry-After`), channels served in turn (those with wrong passwords counted
//! against them only when no other waits), identical checks sharing one hash.
//! Repeated wrong passwords lock their channel for a growing time (`lockout`); while it is
//! locked every call on it is refused, right password or wrong, remembered or not: answering
//! a remembered right password while refusing wrong ones would tell a guesser, at HMAC speed,
//! which guess was right.
mod lockout;
mod remembered;
mod schedule;
mod workers;

pub use schedule::{Reason, Refusal};

use hookfleet_core::channel::Fingerprints;
use schedule::{Admitted, Lane, Outcome, Same, Schedule, Work};
use std::{
    sync::{Arc, Condvar, Mutex, MutexGuard, atomic::AtomicUsize},
    time::{Duration, Instant},
};
use tokio::sync::oneshot;

/// How channel passwords are checked (`HOOKFLEET_PASSWORD_*`, see README).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswordChecks {
    /// Threads that run argon2. Each holds a 19 MiB buffer while it has work and takes a core
    /// for ~20 ms per hash (release build, BENCHMARKS.md's VM), so this bounds both the memory
    /// argon2 can take (~40 MiB at 2) and how much of the machine guessing can use (two cores
    /// at most, whatever the flood; the API's threads are scheduled beside them). It sets the
    /// throughput of first-time checks (~110/s at 2), never their fairness. Default 2.
    pub workers: usize,
    /// Distinct checks one channel may have waiting or running; past it, 429. A client has one
    /// password and identical calls share a check, so 4 leaves room for a few clients and a
    /// password change while keeping one channel's guesses to 4 slots. Default 4.
    pub per_channel: usize,
    /// Distinct checks waiting across all channels; past it, 429. Bounds the queue's memory
    /// whatever the number of channels (a waiting check holds its password and stored hash).
    /// Default 1024: more would wait longer than a client's patience anyway (~10 s at 2).
    pub total: usize,
    /// Brute-force protection per channel; `None` turns it off.
    pub lockout: Option<Lockout>,
}

impl Default for PasswordChecks {
    fn default() -> Self {
        Self {
            workers: 2,
            per_channel: 4,
            total: 1024,
            lockout: Some(Lockout::default()),
        }
    }
}

/// When repeated wrong passwords lock a channel (Keycloak's brute-force detection, per channel).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lockout {
    /// Consecutive wrong passwords that cost nothing more than their 401. Default 5.
    pub free_failures: u32,
    /// The lockout the next failure starts; each further one doubles it. Default 1 s.
    pub first: Duration,
    /// The longest lockout (`HOOKFLEET_PASSWORD_MAX_LOCKOUT`). Default 15 min, Keycloak's.
    pub max: Duration,
    /// A channel with no failure for this long starts again from nothing. Default 12 h,
    /// Keycloak's failure reset time.
    pub forget_after: Duration,
    /// Channels whose failures are counted at once (memory bound). Default 10000.
    pub channels: usize,
}

impl Default for Lockout {
    fn default() -> Self {
        Self {
            free_failures: 5,
            first: Duration::from_secs(1),
            max: Duration::from_secs(15 * 60),
            forget_after: Duration::from_secs(12 * 3600),
            channels: 10_000,
        }
    }
}

/// The answer to one password check.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    Open,
    Wrong,
    Refused(Refusal),
    /// The check could not be made (the threads stopped, or one panicked).
    Unavailable,
}

pub(crate) struct Passwords {
    shared: Arc<Shared>,
    fingerprints: Fingerprints,
}

/// What the callers and the worker threads share.
struct Shared {
    state: Mutex<State>,
    /// Wakes a worker when a job is queued, and all of them to stop.
    wake: Condvar,
    stats: Stats,
    /// The first lockout of a streak (logged louder than the ones after it).
    first_lock: Option<Duration>,
}

struct State {
    schedule: Schedule,
    closed: bool,
}

/// Counts for tests (and their bounds).
#[derive(Default)]
struct Stats {
    /// Argon2 verifications run.
    slow: AtomicUsize,
    running: AtomicUsize,
    max_running: AtomicUsize,
    live_workers: AtomicUsize,
    /// Workers holding an argon2 buffer now.
    buffers: AtomicUsize,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// What a check became, decided under the lock.
enum Decision {
    Refused(Refusal),
    Remembered,
    Admitted(Admitted),
}

impl Passwords {
    /// Starts the worker threads; remembers at most `remember` channels' passwords.
    pub(crate) fn new(checks: &PasswordChecks, remember: usize) -> std::io::Result<Self> {
        let schedule = Schedule::new(
            checks.per_channel,
            checks.total,
            lockout::Failures::new(checks.lockout.clone()),
            remembered::Remembered::new(remember),
        );
        let shared = Arc::new(Shared {
            state: Mutex::new(State {
                schedule,
                closed: false,
            }),
            wake: Condvar::new(),
            stats: Stats::default(),
            first_lock: checks.lockout.as_ref().map(|l| l.first),
        });
        let passwords = Self {
            shared: shared.clone(),
            fingerprints: Fingerprints::new(),
        };
        // On failure `passwords` is dropped, which stops the threads already started.
        workers::start(&shared, checks.workers.max(1))?;
        Ok(passwords)
    }

    /// Whether `password` opens `channel_id`, whose stored argon2id hash is `stored_hash`.
    pub(crate) async fn verify(
        &self,
        channel_id: &str,
        stored_hash: &str,
        password: &str,
    ) -> Verdict {
        let fingerprint = self.fingerprints.of(password);
        let (tx, rx) = oneshot::channel();
        let decision = {
            let mut state = self.shared.lock();
            let now = Instant::now();
            let schedule = &mut state.schedule;
            if let Some(refusal) = schedule.locked(channel_id, stored_hash, now) {
                Decision::Refused(refusal)
            } else if schedule
                .remembered
                .holds(channel_id, stored_hash, &fingerprint)
            {
                Decision::Remembered
            } else {
                let same = Same {
                    stored_hash: stored_hash.to_owned(),
                    fingerprint,
                };
                let work = Work::Verify {
                    stored_hash: stored_hash.to_owned(),
                    password: password.to_owned(),
                };
                let lane = Lane::Channel(channel_id.to_owned());
                match schedule.submit(lane, Some(same), work, tx, now) {
                    Ok(a) => Decision::Admitted(a),
                    Err(r) => Decision::Refused(r),
                }
            }
        };
        match decision {
            Decision::Refused(r) => {
                count_check(match r.reason {
                    Reason::Busy => "busy",
                    Reason::Locked => "locked",
                });
                return Verdict::Refused(r);
            }
            Decision::Remembered => {
                count_check("remembered");
                return Verdict::Open;
            }
            Decision::Admitted(Admitted::Queued) => self.shared.wake.notify_one(),
            Decision::Admitted(Admitted::Joined) => count_check("coalesced"),
        }
        match rx.await {
            Ok(Outcome::Verified(true)) => Verdict::Open,
            Ok(Outcome::Verified(false)) => Verdict::Wrong,
            Ok(Outcome::Refused(r)) => {
                count_check("locked");
                Verdict::Refused(r)
            }
            Ok(Outcome::Hashed(_) | Outcome::Failed) | Err(_) => Verdict::Unavailable,
        }
    }

    /// The argon2id hash of a new channel's password, made on the same threads (in a lane of
    /// its own), so creating channels adds no memory either.
    pub(crate) async fn hash(&self, password: &str) -> Result<String, String> {
        let (tx, rx) = oneshot::channel();
        let work = Work::Hash {
            password: password.to_owned(),
        };
        let submitted =
            self.shared
                .lock()
                .schedule
                .submit(Lane::Admin, None, work, tx, Instant::now());
        if submitted.is_err() {
            return Err("the password hashing queue refused the hash".into());
        }
        self.shared.wake.notify_one();
        match rx.await {
            Ok(Outcome::Hashed(result)) => result,
            _ => Err("the password hashing threads stopped".into()),
        }
    }
}

impl Drop for Passwords {
    /// Stops the worker threads: each ends after the hash it is running, if any.
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

/// `hookfleet_channel_password_checks_total{kind}`: how each check was answered.
fn count_check(kind: &'static str) {
    metrics::counter!("hookfleet_channel_password_checks_total", "kind" => kind).increment(1);
}

/// A wrong password locked `channel` for `lock`: the counter and the log line together. The
/// first lockout of a streak is a warning (someone is guessing, or a client has an old
/// password); the longer ones that follow are details.
fn channel_locked(channel: &str, lock: Duration, first: bool) {
    metrics::counter!("hookfleet_channel_lockouts_total").increment(1);
    if first {
        tracing::warn!(
            channel,
            lock_secs = lock.as_secs_f64(),
            "A channel is locked after repeated wrong passwords"
        );
    } else {
        tracing::debug!(
            channel,
            lock_secs = lock.as_secs_f64(),
            "A channel is locked again after another wrong password"
        );
    }
}

#[cfg(test)]
mod tests;
