//! Batched, tracked acks for a consumer whose messages finish out of order: acks go out as one
//! `multiple` ack up to the oldest message still being worked on, requeues go out at once.
use crate::{Acker, Result};
use std::collections::BTreeSet;

/// Which delivery tags of one channel are still being worked on and which are ready to ack.
#[derive(Debug, Default)]
struct Tracker {
    in_flight: BTreeSet<u64>,
    ready: BTreeSet<u64>,
}

impl Tracker {
    fn taken(&mut self, tag: u64) {
        self.in_flight.insert(tag);
    }

    fn finished(&mut self, tag: u64, ack: bool) {
        self.in_flight.remove(&tag);
        if ack {
            self.ready.insert(tag);
        }
    }

    /// The highest ready tag below every tag still in flight: acking it with `multiple` acks
    /// exactly the ready ones (requeued tags were settled on their own).
    fn take_ack_point(&mut self) -> Option<u64> {
        let limit = self.in_flight.first().copied().unwrap_or(u64::MAX);
        let point = self.ready.range(..limit).next_back().copied()?;
        self.ready = self.ready.split_off(&(point + 1));
        Some(point)
    }
}

/// An [`Acker`] that tracks what its consumer has taken and acks in batches.
pub struct TrackedAcker {
    acker: Acker,
    tracker: Tracker,
}

impl TrackedAcker {
    pub fn new(acker: Acker) -> Self {
        Self {
            acker,
            tracker: Tracker::default(),
        }
    }

    /// A message was taken and is being worked on.
    pub fn taken(&mut self, tag: u64) {
        self.tracker.taken(tag);
    }

    /// A message is finished: to be acked with the next [`Self::flush`], or requeued now (a
    /// return counting toward the queue's delivery limit: see [`Acker::requeue`]).
    pub async fn finished(&mut self, tag: u64, ack: bool) -> Result<()> {
        self.tracker.finished(tag, ack);
        if ack {
            Ok(())
        } else {
            self.acker.requeue(tag).await
        }
    }

    /// Acks every finished message older than the oldest still in flight, in one go.
    pub async fn flush(&mut self) -> Result<()> {
        match self.tracker.take_ack_point() {
            Some(point) => self.acker.ack_up_to(point).await,
            None => Ok(()),
        }
    }

    /// Messages taken and not finished yet.
    pub fn in_flight(&self) -> usize {
        self.tracker.in_flight.len()
    }

    pub async fn close(&self, why: &str) {
        self.acker.close(why).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn acks_only_up_to_the_oldest_message_still_in_flight() {
        let mut t = Tracker::default();
        for tag in 1..=5 {
            t.taken(tag);
        }
        t.finished(2, true);
        t.finished(3, false);
        assert_eq!(t.take_ack_point(), None, "tag 1 is still in flight");
        t.finished(1, true);
        assert_eq!(
            t.take_ack_point(),
            Some(2),
            "1 and 2 ready; 3 was requeued on its own"
        );
        t.finished(5, true);
        assert_eq!(t.take_ack_point(), None, "4 is in flight");
        t.finished(4, false);
        assert_eq!(t.take_ack_point(), Some(5));
        assert!(t.in_flight.is_empty() && t.ready.is_empty());
        assert_eq!(t.take_ack_point(), None);
    }
}
