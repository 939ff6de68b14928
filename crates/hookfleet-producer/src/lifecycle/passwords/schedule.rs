//! The fair queue of slow password work, as a state machine with no threads and no argon2 (the
//! workers and `Passwords` drive it under one lock). Each channel is a lane with its own FIFO
//! of distinct checks, at most `per_channel` waiting or running, `total` waiting across lanes;
//! lanes are served round-robin, so a channel's first check waits behind at most one check of
//! each other busy channel, never behind one channel's backlog. Lanes of channels with wrong
//! passwords counted against them (see `lockout`) take their turns only when no other lane
//! waits: a guesser spread over many channels then delays a clean channel's first check by
//! the hashes already running, not by one per guessed channel. Identical checks (the same
//! channel, stored hash and password fingerprint) join the one already queued or running and
//! get its answer. Hashing a new channel's password has a lane of its own (the admin API's).
//! The lockout table and the remembered passwords live here too, so a call's whole decision
//! (locked? remembered? coalesce, queue or refuse?) is taken at once.
use super::{lockout::Failures, remembered::Remembered};
use std::{
    collections::{HashMap, VecDeque},
    time::{Duration, Instant},
};
use tokio::sync::oneshot;

/// What a refused caller is told to wait when a channel's queue is full: a check takes tens of
/// milliseconds, so a second is enough for a slot to free and short enough for a client.
pub(super) const BUSY_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Whose work a job is.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) enum Lane {
    Channel(String),
    /// Hashes of new channels' passwords (admin API calls: trusted, so not capped).
    Admin,
}

/// The slow part of a job.
pub(super) enum Work {
    Verify {
        stored_hash: String,
        password: String,
    },
    Hash {
        password: String,
    },
}

/// What makes two checks the same: the stored hash and the password's keyed fingerprint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Same {
    pub stored_hash: String,
    pub fingerprint: [u8; 32],
}

/// The answer every waiter of a job gets.
#[derive(Debug, Clone)]
pub(super) enum Outcome {
    Verified(bool),
    Hashed(Result<String, String>),
    Refused(Refusal),
    /// The hash could not be computed (a worker panicked).
    Failed,
}

/// Why a check was not run, and when to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusal {
    pub reason: Reason,
    pub retry_after: Duration,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    /// The channel already has its share of checks waiting or running.
    Busy,
    /// The channel is locked after repeated wrong passwords.
    Locked,
}

pub(super) type Waiter = oneshot::Sender<Outcome>;

/// What a submitted check became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Admitted {
    /// A new job in its lane's queue: a worker should be woken.
    Queued,
    /// Joined an identical job queued or running.
    Joined,
}

struct Job {
    id: u64,
    same: Option<Same>,
    work: Work,
    waiters: Vec<Waiter>,
}

impl Job {
    fn abandoned(&self) -> bool {
        self.waiters.iter().all(Waiter::is_closed)
    }
}

struct Running {
    id: u64,
    same: Option<Same>,
    waiters: Vec<Waiter>,
}

#[derive(Default)]
struct LaneState {
    waiting: VecDeque<Job>,
    running: Vec<Running>,
    /// In `ready` (it stays in the map while it is, so it is never there twice).
    ready: bool,
}

/// A job a worker took: run `work`, then hand the outcome to [`Schedule::finish`].
pub(super) struct Taken {
    pub id: u64,
    pub lane: Lane,
    pub work: Work,
}

pub(super) struct Schedule {
    per_channel: usize,
    total: usize,
    lanes: HashMap<Lane, LaneState>,
    /// Lanes with waiting jobs, in the order they are served: those of channels with no
    /// failures counted, then (only when that is empty) the suspects.
    ready: VecDeque<Lane>,
    suspects: VecDeque<Lane>,
    waiting: usize,
    next_id: u64,
    failures: Failures,
    pub remembered: Remembered,
}

impl Schedule {
    pub(super) fn new(
        per_channel: usize,
        total: usize,
        failures: Failures,
        remembered: Remembered,
    ) -> Self {
        Self {
            per_channel: per_channel.max(1),
            total: total.max(1),
            lanes: HashMap::new(),
            ready: VecDeque::new(),
            suspects: VecDeque::new(),
            waiting: 0,
            next_id: 0,
            failures,
            remembered,
        }
    }

    /// How long `channel` stays locked, if it is.
    pub(super) fn locked(
        &mut self,
        channel: &str,
        stored_hash: &str,
        now: Instant,
    ) -> Option<Refusal> {
        let left = self.failures.locked(channel, stored_hash, now)?;
        Some(Refusal {
            reason: Reason::Locked,
            // Whole seconds, rounded up: a client that waits that long finds the channel open.
            retry_after: Duration::from_secs(left.as_secs() + u64::from(left.subsec_nanos() > 0)),
        })
    }

    /// Queues `work` in `lane` for `waiter`, or joins it to an identical job, or refuses it.
    pub(super) fn submit(
        &mut self,
        lane: Lane,
        same: Option<Same>,
        work: Work,
        waiter: Waiter,
        now: Instant,
    ) -> Result<Admitted, Refusal> {
        if let (Lane::Channel(c), Some(s)) = (&lane, &same)
            && let Some(refusal) = self.locked(c, &s.stored_hash, now)
        {
            return Err(refusal);
        }
        let state = self.lanes.entry(lane.clone()).or_default();
        if let Some(s) = &same {
            let running = state
                .running
                .iter_mut()
                .find(|r| r.same.as_ref() == Some(s));
            if let Some(r) = running {
                r.waiters.push(waiter);
                return Ok(Admitted::Joined);
            }
            let queued = state
                .waiting
                .iter_mut()
                .find(|j| j.same.as_ref() == Some(s));
            if let Some(j) = queued {
                j.waiters.push(waiter);
                return Ok(Admitted::Joined);
            }
        }
        // Jobs whose callers all hung up hold no slot.
        let before = state.waiting.len();
        state.waiting.retain(|j| !j.abandoned());
        self.waiting -= before - state.waiting.len();
        let capped = lane != Lane::Admin;
        let full = capped
            && (state.waiting.len() + state.running.len() >= self.per_channel
                || self.waiting >= self.total);
        if full {
            self.tidy(&lane);
            return Err(Refusal {
                reason: Reason::Busy,
                retry_after: BUSY_RETRY_AFTER,
            });
        }
        self.next_id += 1;
        state.waiting.push_back(Job {
            id: self.next_id,
            same,
            work,
            waiters: vec![waiter],
        });
        self.waiting += 1;
        if !state.ready {
            state.ready = true;
            let queue = if suspect(&self.failures, &lane, state, now) {
                &mut self.suspects
            } else {
                &mut self.ready
            };
            queue.push_back(lane);
        }
        Ok(Admitted::Queued)
    }

    /// The next job to run: the head of the next lane in turn. Jobs nobody waits for any more
    /// are dropped unrun, and so are checks on a channel that was locked while they waited
    /// (their callers are told so).
    pub(super) fn next(&mut self, now: Instant) -> Option<Taken> {
        while let Some(lane) = self.ready.pop_front().or_else(|| self.suspects.pop_front()) {
            let Some(state) = self.lanes.get_mut(&lane) else {
                continue;
            };
            let Some(job) = state.waiting.pop_front() else {
                state.ready = false;
                self.tidy(&lane);
                continue;
            };
            self.waiting -= 1;
            if state.waiting.is_empty() {
                state.ready = false;
            } else if suspect(&self.failures, &lane, state, now) {
                self.suspects.push_back(lane.clone());
            } else {
                self.ready.push_back(lane.clone());
            }
            if job.abandoned() {
                self.tidy(&lane);
                continue;
            }
            if let (Lane::Channel(c), Work::Verify { stored_hash, .. }) = (&lane, &job.work)
                && let Some(refusal) = self.locked(c, stored_hash, now)
            {
                for w in job.waiters {
                    let _ = w.send(Outcome::Refused(refusal));
                }
                self.tidy(&lane);
                continue;
            }
            let state = self.lanes.entry(lane.clone()).or_default();
            state.running.push(Running {
                id: job.id,
                same: job.same,
                waiters: job.waiters,
            });
            return Some(Taken {
                id: job.id,
                lane,
                work: job.work,
            });
        }
        None
    }

    /// Job `id` of `lane` ended with `outcome` at `now`: counts a failure or clears the count,
    /// remembers a right password, and returns the waiters to answer (after the lock is let
    /// go) and the lockout the failure started, if any.
    pub(super) fn finish(
        &mut self,
        id: u64,
        lane: &Lane,
        outcome: &Outcome,
        now: Instant,
    ) -> (Vec<Waiter>, Option<Duration>) {
        let Some(state) = self.lanes.get_mut(lane) else {
            return (Vec::new(), None);
        };
        let Some(at) = state.running.iter().position(|r| r.id == id) else {
            return (Vec::new(), None);
        };
        let job = state.running.swap_remove(at);
        let mut locked = None;
        if let (Lane::Channel(channel), Some(same)) = (lane, &job.same) {
            match outcome {
                Outcome::Verified(true) => {
                    self.remembered
                        .insert(channel, &same.stored_hash, same.fingerprint);
                    self.failures.succeeded(channel);
                }
                Outcome::Verified(false) => {
                    locked = self.failures.failed(channel, &same.stored_hash, now);
                }
                _ => {}
            }
        }
        self.tidy(lane);
        (job.waiters, locked)
    }

    /// Distinct jobs waiting, and running, across lanes.
    #[cfg(test)]
    pub(super) fn counts(&self) -> (usize, usize) {
        let running = self.lanes.values().map(|l| l.running.len()).sum();
        (self.waiting, running)
    }

    fn tidy(&mut self, lane: &Lane) {
        if self
            .lanes
            .get(lane)
            .is_some_and(|s| !s.ready && s.waiting.is_empty() && s.running.is_empty())
        {
            self.lanes.remove(lane);
        }
    }
}

/// Whether `lane`'s next check is on a channel with wrong passwords counted against it.
fn suspect(failures: &Failures, lane: &Lane, state: &LaneState, now: Instant) -> bool {
    match (lane, state.waiting.front().map(|j| &j.work)) {
        (Lane::Channel(c), Some(Work::Verify { stored_hash, .. })) => {
            failures.suspect(c, stored_hash, now)
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::passwords::Lockout;

    fn schedule(per_channel: usize, total: usize) -> Schedule {
        Schedule::new(
            per_channel,
            total,
            Failures::new(None),
            Remembered::new(100),
        )
    }

    fn verify(password: &str) -> (Option<Same>, Work) {
        let mut fingerprint = [0u8; 32];
        fingerprint[..password.len().min(32)]
            .copy_from_slice(&password.as_bytes()[..password.len().min(32)]);
        (
            Some(Same {
                stored_hash: "h".into(),
                fingerprint,
            }),
            Work::Verify {
                stored_hash: "h".into(),
                password: password.into(),
            },
        )
    }

    fn ch(c: &str) -> Lane {
        Lane::Channel(c.into())
    }

    /// Submits a check of `password` on `channel`; the receiver of its answer.
    fn submit(
        s: &mut Schedule,
        channel: &str,
        password: &str,
        now: Instant,
    ) -> (Result<Admitted, Refusal>, oneshot::Receiver<Outcome>) {
        let (tx, rx) = oneshot::channel();
        let (same, work) = verify(password);
        (s.submit(ch(channel), same, work, tx, now), rx)
    }

    fn password_of(t: &Taken) -> (&Lane, &str) {
        match &t.work {
            Work::Verify { password, .. } | Work::Hash { password } => (&t.lane, password),
        }
    }

    #[test]
    fn lanes_are_served_round_robin_so_a_late_channel_waits_one_turn() {
        let now = Instant::now();
        let mut s = schedule(4, 100);
        let mut keep = Vec::new();
        for p in ["a1", "a2", "a3", "a4"] {
            keep.push(submit(&mut s, "a", p, now));
        }
        for p in ["b1", "b2"] {
            keep.push(submit(&mut s, "b", p, now));
        }
        keep.push(submit(&mut s, "c", "c1", now));
        let mut order = Vec::new();
        while let Some(t) = s.next(now) {
            order.push(password_of(&t).1.to_owned());
            let (waiters, _) = s.finish(t.id, &t.lane, &Outcome::Verified(false), now);
            assert_eq!(waiters.len(), 1);
        }
        assert_eq!(order, ["a1", "b1", "c1", "a2", "b2", "a3", "a4"]);
        assert_eq!(s.counts(), (0, 0));
        assert!(s.lanes.is_empty(), "idle lanes are dropped");
    }

    #[test]
    fn channels_with_wrong_passwords_counted_wait_while_clean_channels_are_served() {
        let now = Instant::now();
        let mut s = schedule(4, 100);
        let mut keep = Vec::new();
        // One wrong password on each guessed channel (the lockout is off: counted only).
        for g in ["g0", "g1", "g2"] {
            keep.push(submit(&mut s, g, "w0", now));
            let t = s.next(now).unwrap();
            s.finish(t.id, &t.lane, &Outcome::Verified(false), now);
        }
        for p in ["w1", "w2"] {
            for g in ["g0", "g1", "g2"] {
                keep.push(submit(&mut s, g, p, now));
            }
        }
        keep.push(submit(&mut s, "clean", "c1", now));
        keep.push(submit(&mut s, "clean", "c2", now));
        let mut order = Vec::new();
        while let Some(t) = s.next(now) {
            let (lane, password) = password_of(&t);
            order.push(match lane {
                Lane::Channel(c) => format!("{c}:{password}"),
                Lane::Admin => "admin".into(),
            });
            if order.len() == 1 {
                // A clean channel that turns up while the suspects wait goes before them too.
                keep.push(submit(&mut s, "late", "l1", now));
            }
            s.finish(t.id, &t.lane, &Outcome::Verified(true), now);
        }
        assert_eq!(
            order,
            [
                "clean:c1", "clean:c2", "late:l1", "g0:w1", "g1:w1", "g2:w1", "g0:w2", "g1:w2",
                "g2:w2"
            ]
        );
    }

    #[test]
    fn a_channel_holds_at_most_its_cap_of_distinct_checks_waiting_or_running() {
        let now = Instant::now();
        let mut s = schedule(2, 100);
        let (first, _r1) = submit(&mut s, "a", "p1", now);
        let (second, _r2) = submit(&mut s, "a", "p2", now);
        assert_eq!(
            (first, second),
            (Ok(Admitted::Queued), Ok(Admitted::Queued))
        );
        let (third, _r3) = submit(&mut s, "a", "p3", now);
        assert_eq!(
            third,
            Err(Refusal {
                reason: Reason::Busy,
                retry_after: BUSY_RETRY_AFTER
            })
        );
        // Running counts too: one taken, the slot is still held until it finishes.
        let t = s.next(now).unwrap();
        assert!(submit(&mut s, "a", "p3", now).0.is_err());
        // Another channel is not touched by a's cap.
        assert_eq!(submit(&mut s, "b", "p1", now).0, Ok(Admitted::Queued));
        s.finish(t.id, &t.lane, &Outcome::Verified(false), now);
        assert_eq!(submit(&mut s, "a", "p3", now).0, Ok(Admitted::Queued));
    }

    #[test]
    fn the_total_cap_bounds_waiting_checks_across_channels_but_not_new_channels_hashes() {
        let now = Instant::now();
        let mut s = schedule(4, 3);
        let mut keep = Vec::new();
        for c in ["a", "b", "c"] {
            let (r, rx) = submit(&mut s, c, "p", now);
            assert_eq!(r, Ok(Admitted::Queued));
            keep.push(rx);
        }
        assert_eq!(
            submit(&mut s, "d", "p", now).0.unwrap_err().reason,
            Reason::Busy
        );
        let (tx, _rx) = oneshot::channel();
        let hash = Work::Hash {
            password: "x".into(),
        };
        assert_eq!(
            s.submit(Lane::Admin, None, hash, tx, now),
            Ok(Admitted::Queued)
        );
    }

    #[test]
    fn identical_checks_share_one_job_queued_or_running_and_take_no_slot() {
        let now = Instant::now();
        let mut s = schedule(1, 100);
        let (first, mut r1) = submit(&mut s, "a", "right", now);
        assert_eq!(first, Ok(Admitted::Queued));
        let (joined, mut r2) = submit(&mut s, "a", "right", now);
        assert_eq!(
            joined,
            Ok(Admitted::Joined),
            "joined while queued, past the cap of 1"
        );
        let t = s.next(now).unwrap();
        let (joined, mut r3) = submit(&mut s, "a", "right", now);
        assert_eq!(joined, Ok(Admitted::Joined), "joined while running");
        assert!(s.next(now).is_none(), "one job for the three");
        // A different password on the same channel is a different check (and over the cap).
        assert!(submit(&mut s, "a", "other", now).0.is_err());
        let (waiters, _) = s.finish(t.id, &t.lane, &Outcome::Verified(true), now);
        assert_eq!(waiters.len(), 3);
        for w in waiters {
            w.send(Outcome::Verified(true)).unwrap();
        }
        for rx in [&mut r1, &mut r2, &mut r3] {
            assert!(matches!(rx.try_recv(), Ok(Outcome::Verified(true))));
        }
        let same = verify("right").0.unwrap();
        assert!(
            s.remembered.holds("a", "h", &same.fingerprint),
            "remembered on success"
        );
    }

    #[test]
    fn jobs_whose_callers_hung_up_are_dropped_unrun_and_free_their_slot() {
        let now = Instant::now();
        let mut s = schedule(2, 100);
        let (_, r1) = submit(&mut s, "a", "p1", now);
        let (_, r2) = submit(&mut s, "a", "p2", now);
        drop(r1);
        // p1's slot is free again, while p2 still holds one.
        let (third, _r3) = submit(&mut s, "a", "p3", now);
        assert_eq!(third, Ok(Admitted::Queued));
        drop(r2);
        let t = s.next(now).unwrap();
        assert_eq!(password_of(&t).1, "p3", "p1 and p2 are never run");
        assert!(s.next(now).is_none());
    }

    #[test]
    fn failures_lock_their_channel_whose_queued_checks_are_then_refused_unrun() {
        let now = Instant::now();
        let lockout = Lockout {
            free_failures: 1,
            first: Duration::from_millis(1500),
            max: Duration::from_secs(60),
            forget_after: Duration::from_secs(600),
            channels: 100,
        };
        let failures = Failures::new(Some(lockout));
        let mut s = Schedule::new(4, 100, failures, Remembered::new(100));
        let (_, _r1) = submit(&mut s, "a", "p1", now);
        let (_, _r2) = submit(&mut s, "a", "p2", now);
        let (_, mut r3) = submit(&mut s, "a", "p3", now);
        let (_, _b) = submit(&mut s, "b", "p1", now);
        for expected_lock in [None, Some(Duration::from_millis(1500))] {
            let t = s.next(now).unwrap();
            assert_eq!(t.lane, ch("a"));
            let (_, locked) = s.finish(t.id, &t.lane, &Outcome::Verified(false), now);
            assert_eq!(locked, expected_lock);
            // b's turn comes between a's.
            if expected_lock.is_none() {
                let t = s.next(now).unwrap();
                assert_eq!(t.lane, ch("b"));
                s.finish(t.id, &t.lane, &Outcome::Verified(false), now);
            }
        }
        // a's third check is answered without a hash; new ones are refused at once.
        assert!(s.next(now).is_none());
        let refusal = Refusal {
            reason: Reason::Locked,
            retry_after: Duration::from_secs(2),
        };
        assert!(matches!(r3.try_recv(), Ok(Outcome::Refused(r)) if r == refusal));
        assert_eq!(submit(&mut s, "a", "right", now).0, Err(refusal));
        assert_eq!(
            submit(&mut s, "b", "p2", now).0,
            Ok(Admitted::Queued),
            "b is open"
        );
        let later = now + Duration::from_millis(1500);
        assert_eq!(submit(&mut s, "a", "right", later).0, Ok(Admitted::Queued));
    }
}
