//! The HTTP/1 server every hookfleet listener runs on. `axum::serve` sets no timer on a client
//! that opens a connection and never finishes its request, so anyone could hold sockets and
//! memory open for ever; this one closes a connection whose request head has not arrived
//! within [`Timeouts::header_read`] (which also bounds how long an idle keep-alive connection
//! is kept). Bodies are read within [`Timeouts::body_read`] by the API's extractors
//! ([`crate::extract`]), which find the deadline in the request's extensions.
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::{
    rt::{TokioIo, TokioTimer},
    service::TowerToHyperService,
};
use std::{pin::pin, time::Duration};
use tokio::net::TcpListener;
use tokio_util::{sync::CancellationToken, task::TaskTracker};

/// How long a client may take over its request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// To send a request's line and headers, from the moment the server waits for one (so also
    /// the idle time allowed between keep-alive requests).
    pub header_read: Duration,
    /// To send a request's body once its headers are in.
    pub body_read: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            header_read: Duration::from_secs(10),
            body_read: Duration::from_secs(30),
        }
    }
}

/// The body deadline, as a request extension for the extractors.
#[derive(Debug, Clone, Copy)]
pub struct BodyReadTimeout(pub Duration);

/// Serves `app` on `listener` until `shutdown`, then lets requests in progress finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    timeouts: Timeouts,
    shutdown: CancellationToken,
) {
    let app = app.layer(axum::Extension(BodyReadTimeout(timeouts.body_read)));
    let connections = TaskTracker::new();
    loop {
        let stream = tokio::select! {
            _ = shutdown.cancelled() => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(e) => {
                    // Out of file descriptors and the like: pause rather than spin.
                    tracing::warn!(error = %e, "Failed to accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let _ = stream.set_nodelay(true);
        let service = TowerToHyperService::new(app.clone());
        let shutdown = shutdown.clone();
        connections.spawn(async move {
            let mut builder = http1::Builder::new();
            builder
                .timer(TokioTimer::new())
                .header_read_timeout(timeouts.header_read);
            let mut conn = pin!(builder.serve_connection(TokioIo::new(stream), service));
            let result = tokio::select! {
                r = conn.as_mut() => r,
                _ = shutdown.cancelled() => {
                    conn.as_mut().graceful_shutdown();
                    conn.await
                }
            };
            if let Err(e) = result {
                // A client that went away or sent garbage; nothing for the operator to do.
                tracing::debug!(error = %e, "An HTTP connection ended with an error");
            }
        });
    }
    connections.close();
    connections.wait().await;
}
