//! The threads that run argon2: a fixed number of plain `std::thread`s, started with
//! `Passwords` and ended when it is dropped, whatever the number of callers. Each takes the
//! next job from the schedule, hashes outside the lock in its own `ArgonMemory`, and hands the
//! outcome back. A worker keeps its buffer while there is work and releases it as soon as the
//! schedule is empty, so a flood's memory goes back to the system when the flood ends (why it
//! really goes back, not to a malloc arena: see `hookfleet_core::channel::ArgonMemory`). Short
//! lived blocking-pool threads are what grew the producer before: one glibc arena per thread.
use super::{
    Shared, State, channel_locked,
    schedule::{Outcome, Taken, Work},
};
use hookfleet_core::channel::{self, ArgonMemory};
use std::{
    panic::AssertUnwindSafe,
    sync::{
        Arc, MutexGuard,
        atomic::{AtomicUsize, Ordering::SeqCst},
    },
    time::Instant,
};

/// Starts `count` workers on `shared`.
pub(super) fn start(shared: &Arc<Shared>, count: usize) -> std::io::Result<()> {
    for i in 0..count {
        let worker = shared.clone();
        shared.stats.live_workers.fetch_add(1, SeqCst);
        let started = std::thread::Builder::new()
            .name(format!("password-check-{i}"))
            .spawn(move || check_loop(&worker));
        if let Err(e) = started {
            shared.stats.live_workers.fetch_sub(1, SeqCst);
            return Err(std::io::Error::new(
                e.kind(),
                format!("Failed to start password check thread {i}: {e}"),
            ));
        }
    }
    Ok(())
}

/// One worker: take a job, run it, answer its waiters; until `Passwords` is dropped.
fn check_loop(shared: &Shared) {
    let _live = Live(&shared.stats.live_workers);
    let mut memory = Buffer {
        argon: ArgonMemory::default(),
        held: false,
        gauge: &shared.stats.buffers,
    };
    while let Some(taken) = next_job(shared, &mut memory) {
        let verify = matches!(taken.work, Work::Verify { .. });
        if verify {
            let stats = &shared.stats;
            stats.slow.fetch_add(1, SeqCst);
            let now_running = stats.running.fetch_add(1, SeqCst) + 1;
            stats.max_running.fetch_max(now_running, SeqCst);
        }
        let outcome = run(&taken.work, &mut memory.argon);
        memory.count();
        if verify {
            shared.stats.running.fetch_sub(1, SeqCst);
            super::count_check("slow");
        }
        let (waiters, locked) =
            shared
                .lock()
                .schedule
                .finish(taken.id, &taken.lane, &outcome, Instant::now());
        if let (Some(lock), super::schedule::Lane::Channel(c)) = (locked, &taken.lane) {
            channel_locked(c, lock, shared.first_lock == Some(lock));
        }
        for w in waiters {
            let _ = w.send(outcome.clone());
        }
    }
}

/// The next job, waiting for one; `None` once `Passwords` is dropped. Whenever nothing is
/// waiting, the buffer is released before the worker sleeps.
fn next_job(shared: &Shared, memory: &mut Buffer<'_>) -> Option<Taken> {
    let mut state: MutexGuard<'_, State> = shared.lock();
    loop {
        if state.closed {
            return None;
        }
        if let Some(taken) = state.schedule.next(Instant::now()) {
            return Some(taken);
        }
        if memory.argon.is_held() {
            // Out of the lock: unmapping 19 MiB takes a moment.
            drop(state);
            memory.release();
            state = shared.lock();
            continue;
        }
        state = shared.wake.wait(state).unwrap_or_else(|p| p.into_inner());
    }
}

/// The slow part. A panic in argon2 (it has none we know of) fails this job, not the worker.
fn run(work: &Work, memory: &mut ArgonMemory) -> Outcome {
    let ran = std::panic::catch_unwind(AssertUnwindSafe(|| match work {
        Work::Verify {
            stored_hash,
            password,
        } => Outcome::Verified(channel::verify_password_in(memory, password, stored_hash)),
        Work::Hash { password } => Outcome::Hashed(channel::hash_password_in(memory, password)),
    }));
    ran.unwrap_or_else(|_| {
        tracing::error!("A password check panicked; its callers get 503");
        memory.release();
        Outcome::Failed
    })
}

/// A worker's argon2 memory, counted in `Stats::buffers` while held.
struct Buffer<'a> {
    argon: ArgonMemory,
    held: bool,
    gauge: &'a AtomicUsize,
}

impl Buffer<'_> {
    /// Brings the gauge in line with whether the buffer is held now.
    fn count(&mut self) {
        let held = self.argon.is_held();
        if held != self.held {
            if held {
                self.gauge.fetch_add(1, SeqCst);
            } else {
                self.gauge.fetch_sub(1, SeqCst);
            }
            self.held = held;
        }
    }

    fn release(&mut self) {
        self.argon.release();
        self.count();
    }
}

impl Drop for Buffer<'_> {
    fn drop(&mut self) {
        self.release();
    }
}

/// Counts a worker as live until its thread ends (a panic included).
struct Live<'a>(&'a AtomicUsize);

impl Drop for Live<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, SeqCst);
    }
}
