//! Control notices: a fanout exchange every delivery worker listens on through a private queue,
//! so a subscription change reaches every worker at once (each also reconciles periodically,
//! so a lost notice only delays it).
use crate::{BusError, Outgoing, Publisher, Result, Topology};
use futures_util::StreamExt;
use lapin::Channel;

/// Notices from the control exchange (today only "reconcile your subscriptions now").
pub struct Notices {
    pub(crate) channel: Channel,
    pub(crate) inner: lapin::Consumer,
}

/// The one notice there is; its body is not read, so any message on the exchange counts.
const RECONCILE: &[u8] = br#"{"op":"reconcile"}"#;

impl Notices {
    /// Waits for the next notice; `None` once the broker cancelled the listener.
    pub async fn next(&mut self) -> Option<Result<()>> {
        match self.inner.next().await? {
            Ok(_) => Some(Ok(())),
            Err(e) => Some(Err(BusError::Amqp(e))),
        }
    }

    pub async fn close(&self) {
        let _ = self.channel.close(200, "shutdown".into()).await;
    }
}

/// Tells every delivery worker to reconcile its subscriptions now (a notice may be lost; the
/// workers also reconcile periodically).
pub async fn notify_reconcile(publisher: &Publisher, topology: &Topology) -> Result<()> {
    publisher
        .send(
            &topology.control(),
            "",
            false,
            RECONCILE,
            &Outgoing::default(),
        )
        .await?
        .wait()
        .await
}
