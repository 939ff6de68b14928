//! Control notices: a fanout exchange every delivery worker listens on through a private queue,
//! so a subscription change reaches every worker at once (each also reconciles periodically,
//! so a lost notice only delays it). Notices are sent with
//! [`crate::Publisher::notify_subscriptions_changed`].
use crate::{BusError, Result};
use futures_util::StreamExt;
use lapin::Channel;

/// Notices from the control exchange (today only "reconcile your subscriptions now").
pub struct Notices {
    pub(crate) channel: Channel,
    pub(crate) inner: lapin::Consumer,
    /// The end or failure [`Notices::skip_ready`] met, reported by the next `next`.
    pub(crate) held: Option<Option<lapin::Error>>,
}

impl Notices {
    /// Waits for the next notice; `None` once the broker cancelled the listener.
    pub async fn next(&mut self) -> Option<Result<()>> {
        if let Some(held) = self.held.take() {
            return held.map(|e| Err(BusError::from(e)));
        }
        match self.inner.next().await? {
            Ok(_) => Some(Ok(())),
            Err(e) => Some(Err(BusError::from(e))),
        }
    }

    /// Takes every notice already received without waiting, and says how many there were
    /// (the caller acts once for all of them: a burst of 1,000 subscription changes is one
    /// reconcile per worker, not 1,000). A failure is left for the next `next` to report.
    pub fn skip_ready(&mut self) -> usize {
        use futures_util::FutureExt;
        let mut n = 0;
        while self.held.is_none() {
            match self.inner.next().now_or_never() {
                Some(Some(Ok(_))) => n += 1,
                Some(Some(Err(e))) => self.held = Some(Some(e)),
                Some(None) => self.held = Some(None),
                None => break,
            }
        }
        n
    }

    pub async fn close(&self) {
        let _ = self.channel.close(200, "shutdown".into()).await;
    }
}
