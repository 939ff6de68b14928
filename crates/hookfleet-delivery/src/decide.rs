//! What an attempt's outcome means for its message: a pure function of the attempt number,
//! how the endpoint answered, the ladder, the subscription's mode and what its profile makes
//! of a 410 Gone.
use crate::config::{Mode, SubConfig};
use hookfleet_core::{Ladder, render::OnGone};
use std::time::Duration;

/// How the endpoint answered, as far as the decision goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Answer {
    pub delivered: bool,
    pub status_code: Option<u16>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Decision {
    Delivered,
    /// Unordered: publish it again as attempt `next` on rung `rung` (1 = first retry) of the
    /// ladder, due after `wait`.
    Retry {
        rung: usize,
        wait: Duration,
        next: i32,
    },
    /// FIFO: keep it at the head, unacked, and send it again in place as attempt `next` after
    /// `wait`, so nothing behind it moves.
    Hold {
        wait: Duration,
        next: i32,
    },
    /// 410 Gone where the profile disables on it: disable the subscription and keep the
    /// message for when it is enabled again (unordered: back on its queue as attempt `next`;
    /// FIFO: at the head).
    Gone {
        next: i32,
    },
    /// No rung left: give up and park it.
    Exhausted,
}

impl Decision {
    /// How long until the next attempt is due, when one is scheduled on the ladder (recorded as
    /// the delivery's next attempt).
    pub(crate) fn next_attempt_in(self) -> Option<Duration> {
        match self {
            Self::Retry { wait, .. } | Self::Hold { wait, .. } => Some(wait),
            Self::Delivered | Self::Gone { .. } | Self::Exhausted => None,
        }
    }
}

impl SubConfig {
    /// What `answer` to attempt `attempt` means for this subscription: [`decide`] with its
    /// profile's reading of 410 Gone and its ladder, taken in `mode` (its own, or unordered
    /// for an attempt the record already holds).
    pub(crate) fn decide(&self, mode: Mode, attempt: i32, answer: Answer) -> Decision {
        decide(mode, self.on_gone, attempt, answer, &self.ladder)
    }
}

pub(crate) fn decide(
    mode: Mode,
    on_gone: OnGone,
    attempt: i32,
    answer: Answer,
    ladder: &Ladder,
) -> Decision {
    if answer.delivered {
        return Decision::Delivered;
    }
    let next = attempt.saturating_add(1);
    if answer.status_code == Some(410) && on_gone == OnGone::Disable {
        return Decision::Gone { next };
    }
    let Some(wait) = ladder.after_attempt(attempt) else {
        return Decision::Exhausted;
    };
    match mode {
        Mode::Unordered => Decision::Retry {
            rung: usize::try_from(attempt).unwrap_or(usize::MAX),
            wait,
            next,
        },
        Mode::Fifo => Decision::Hold { wait, next },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder() -> Ladder {
        Ladder::parse("100ms,200ms").unwrap()
    }
    const FAILED: Answer = Answer {
        delivered: false,
        status_code: Some(500),
    };

    #[test]
    fn a_delivered_attempt_is_delivered_whatever_the_rest() {
        let ok = Answer {
            delivered: true,
            status_code: Some(204),
        };
        assert_eq!(
            decide(
                Mode::Fifo,
                OnGone::Disable,
                9,
                ok,
                &Ladder::parse("").unwrap()
            ),
            Decision::Delivered
        );
    }

    #[test]
    fn a_failure_climbs_the_ladder_one_rung_per_attempt() {
        assert_eq!(
            decide(Mode::Unordered, OnGone::Disable, 1, FAILED, &ladder()),
            Decision::Retry {
                rung: 1,
                wait: Duration::from_millis(100),
                next: 2
            }
        );
        assert_eq!(
            decide(Mode::Unordered, OnGone::Disable, 2, FAILED, &ladder()),
            Decision::Retry {
                rung: 2,
                wait: Duration::from_millis(200),
                next: 3
            }
        );
        let timeout = Answer {
            delivered: false,
            status_code: None,
        };
        assert!(matches!(
            decide(Mode::Unordered, OnGone::Disable, 1, timeout, &ladder()),
            Decision::Retry { rung: 1, .. }
        ));
    }

    #[test]
    fn past_the_last_rung_it_is_exhausted() {
        assert_eq!(
            decide(Mode::Unordered, OnGone::Disable, 3, FAILED, &ladder()),
            Decision::Exhausted
        );
        assert_eq!(
            decide(Mode::Fifo, OnGone::Disable, 3, FAILED, &ladder()),
            Decision::Exhausted
        );
        assert_eq!(
            decide(
                Mode::Unordered,
                OnGone::Disable,
                1,
                FAILED,
                &Ladder::parse("").unwrap()
            ),
            Decision::Exhausted
        );
        assert_eq!(
            decide(
                Mode::Unordered,
                OnGone::Disable,
                i32::MAX,
                FAILED,
                &ladder()
            ),
            Decision::Exhausted
        );
    }

    #[test]
    fn fifo_holds_in_place_instead_of_moving_the_message_back() {
        assert_eq!(
            decide(Mode::Fifo, OnGone::Disable, 1, FAILED, &ladder()),
            Decision::Hold {
                wait: Duration::from_millis(100),
                next: 2
            }
        );
    }

    const GONE: Answer = Answer {
        delivered: false,
        status_code: Some(410),
    };

    #[test]
    fn gone_keeps_the_message_in_either_mode_even_on_the_last_attempt() {
        for mode in [Mode::Unordered, Mode::Fifo] {
            assert_eq!(
                decide(mode, OnGone::Disable, 3, GONE, &ladder()),
                Decision::Gone { next: 4 }
            );
        }
    }

    #[test]
    fn where_gone_is_a_failure_it_climbs_the_ladder_and_is_exhausted_like_any_other() {
        assert_eq!(
            decide(Mode::Unordered, OnGone::Retry, 1, GONE, &ladder()),
            Decision::Retry {
                rung: 1,
                wait: Duration::from_millis(100),
                next: 2
            }
        );
        assert_eq!(
            decide(Mode::Fifo, OnGone::Retry, 2, GONE, &ladder()),
            Decision::Hold {
                wait: Duration::from_millis(200),
                next: 3
            }
        );
        assert_eq!(
            decide(Mode::Unordered, OnGone::Retry, 3, GONE, &ladder()),
            Decision::Exhausted
        );
    }

    #[test]
    fn only_the_002_profile_retries_gone() {
        use hookfleet_core::render::Profile;
        let on_gone: Vec<OnGone> = Profile::ALL.iter().map(|p| p.on_gone()).collect();
        assert_eq!(
            on_gone,
            [OnGone::Disable, OnGone::Retry, OnGone::Disable],
            "standard-webhooks, innervoice, pca"
        );
    }
}
