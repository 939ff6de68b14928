//! What a consumer needs to know of its subscription, read from its row; replaced in place
//! when the subscription changes, or the consumer restarted when the change needs it.
use crate::Settings;
use hookfleet_core::{
    Ladder, Secret, SubscriptionId,
    render::{OnGone, Profile},
    subscription::{Delivery, Ordering},
};
use hookfleet_store::SubscriptionRow;

/// How a subscription's messages are taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Many at once; a failed message waits on the ladder while later ones go on.
    Unordered,
    /// One at a time in queue order; a failed message is retried in place, holding the rest.
    Fifo,
}

#[derive(Debug, PartialEq)]
pub(crate) struct SubConfig {
    pub id: SubscriptionId,
    pub url: String,
    pub secrets: Vec<Secret>,
    pub profile: Profile,
    /// Pull: rendered copies go on the subscription's outbox queue, not to a URL.
    pub delivery: Delivery,
    /// Waits before attempts 2, 3, … (the subscription's or the fleet's).
    pub ladder: Ladder,
    pub max_in_flight: usize,
    pub rate_limit_per_s: Option<u32>,
    pub mode: Mode,
    /// What a 410 Gone means (the profile's: see `Profile::on_gone`).
    pub on_gone: OnGone,
    /// Why sending to `url` is refused (a literal private IP while those are not allowed).
    pub refused: Option<String>,
}

impl SubConfig {
    pub fn from_row(row: &SubscriptionRow, settings: &Settings) -> Option<Self> {
        let secrets: Vec<Secret> = row
            .secrets
            .iter()
            .filter_map(|s| Secret::parse(s))
            .collect();
        if secrets.is_empty() {
            tracing::error!(subscription = %row.id, "Subscription has no usable secret; not delivering it");
            return None;
        }
        let ladder = row
            .retry_ladder
            .clone()
            .unwrap_or_else(|| settings.ladder.clone());
        Some(Self {
            id: row.id.clone(),
            url: row.url.clone(),
            secrets,
            profile: row.profile,
            delivery: row.delivery,
            ladder,
            max_in_flight: usize::try_from(row.max_in_flight).unwrap_or(1).max(1),
            rate_limit_per_s: row.rate_limit_per_s.and_then(|r| u32::try_from(r).ok()),
            mode: match row.ordering {
                Ordering::Fifo => Mode::Fifo,
                Ordering::Unordered => Mode::Unordered,
            },
            on_gone: row.profile.on_gone(),
            refused: if settings.allow_private_targets || row.delivery == Delivery::Pull {
                None
            } else {
                crate::guard::literal_private(&row.url)
            },
        })
    }

    /// Changes a running consumer cannot take in place (its channel and limits are set up
    /// from them), so the consumer is restarted.
    pub fn needs_restart(&self, other: &Self) -> bool {
        self.max_in_flight != other.max_in_flight
            || self.rate_limit_per_s != other.rate_limit_per_s
            || self.mode != other.mode
    }
}
