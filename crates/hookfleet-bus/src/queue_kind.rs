//! The type of a subscription's queues, chosen per fleet.

/// The type of the queues made for each subscription (its work queue and a pull outbox). The
/// fleet-wide queues (ingest, hooks, dead, retry rungs) are quorum queues whatever this says.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum QueueKind {
    /// Replicated across a cluster's nodes. Each costs the broker a Raft member with its own
    /// files: on one node with an open-files limit of 20,000, 5,000 of them hold and 10,000
    /// stop the broker (BENCHMARKS.md).
    #[default]
    Quorum,
    /// Classic queues, version 2: durable and persistent on one node, not replicated, and
    /// cheap enough for 10,000 subscriptions on one node. Nothing relies on what only quorum
    /// queues do: the worker parks poison and exhausted messages itself (publish to
    /// `hookfleet.dead` with a confirm, then ack) and a FIFO subscription's single active
    /// consumer exists on both types.
    Classic,
}

impl QueueKind {
    /// The name `HOOKFLEET_SUBSCRIPTION_QUEUES` takes, which is also the broker's `x-queue-type`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Quorum => "quorum",
            Self::Classic => "classic",
        }
    }
}

impl std::str::FromStr for QueueKind {
    type Err = String;
    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s.trim().to_ascii_lowercase().as_str() {
            "quorum" => Ok(Self::Quorum),
            "classic" => Ok(Self::Classic),
            _ => Err("expected `quorum` or `classic`".to_owned()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::QueueKind;

    #[test]
    fn parses_the_two_kinds_and_refuses_anything_else() {
        assert_eq!("quorum".parse(), Ok(QueueKind::Quorum));
        assert_eq!(" Classic ".parse(), Ok(QueueKind::Classic));
        for bad in ["", "stream", "classic2", "quorum\0"] {
            assert!(bad.parse::<QueueKind>().is_err(), "{bad:?}");
        }
    }
}
