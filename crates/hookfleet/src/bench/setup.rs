//! The bench's setting: the loopback receiver, the fleet in this process, and the scenario's
//! subscriptions created over the API.
use super::{BenchArgs, Dialect, Rx, keycloak, receive};
use crate::{
    fleet::{self, Roles},
    settings::Common,
};
use axum::{Router, routing::post};
use serde_json::json;
use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};
use tokio_util::sync::CancellationToken;

/// Clients creating the subscriptions concurrently (as an operator's script or a console would).
const CREATE_CLIENTS: usize = 8;

/// `subs` subscriptions to the receiver, and `args.hanging` to its endpoint that never answers,
/// created by [`CREATE_CLIENTS`] concurrent clients.
pub(super) async fn subscribe(
    http: &reqwest::Client,
    api: &str,
    token: &str,
    receiver_url: &str,
    subs: usize,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    let hanging = args.hanging;
    // In-flight cap sized for loopback throughput (the default 16 suits slow WANs).
    let fast = json!({"url": receiver_url, "event_types": ["#"], "max_in_flight": 64, "profile": args.profile});
    let hang = json!({"url": receiver_url.replace("/hook", "/hang"), "event_types": ["#"], "retry_ladder": []});
    for (body, n) in [(fast, subs), (hang, hanging)] {
        let next = Arc::new(AtomicUsize::new(0));
        let mut clients = tokio::task::JoinSet::new();
        for _ in 0..CREATE_CLIENTS.min(n.max(1)) {
            let (http, url, token, body, next) = (
                http.clone(),
                format!("{api}/v1/subscriptions"),
                token.to_owned(),
                body.clone(),
                next.clone(),
            );
            clients.spawn(async move {
                while next.fetch_add(1, Ordering::Relaxed) < n {
                    http.post(&url)
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await?
                        .error_for_status()?;
                }
                anyhow::Ok(())
            });
        }
        while let Some(r) = clients.join_next().await {
            r??;
        }
    }
    Ok(())
}

/// The loopback receiver: `/hook` answers at once, `/hang` never does.
pub(super) async fn start_receiver(
    rx: Arc<Rx>,
    shutdown: &CancellationToken,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let receiver_url = format!("http://{}/hook", listener.local_addr()?);
    let app = Router::new()
        .route("/hook", post(receive))
        // Never answers: the client's timeout ends each request.
        .route("/hang", post(std::future::pending::<&'static str>))
        .with_state(rx);
    let receiver_stop = shutdown.clone();
    tokio::spawn(async move {
        axum::serve(listener, app)
            .with_graceful_shutdown(receiver_stop.cancelled_owned())
            .await
    });
    Ok(receiver_url)
}

pub(super) type FleetTask = tokio::task::JoinHandle<anyhow::Result<()>>;

/// The whole fleet in this process; returns the API's address, its token and the fleet's task.
pub(super) async fn start_fleet(
    args: &BenchArgs,
    common: &Common,
    shutdown: &CancellationToken,
) -> anyhow::Result<(String, String, FleetTask)> {
    let token = crate::generate_token();
    let api_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let api = format!("http://{}", api_listener.local_addr()?);
    let producer = hookfleet_producer::Settings {
        admin_tokens: vec![token.clone()],
        allow_private_targets: true,
        keycloak_secrets: hookfleet_producer::keycloak::HookSecret::parse_list(keycloak::KEY)
            .map_err(anyhow::Error::msg)?,
        ..hookfleet_producer::Settings::default()
    };
    let router = hookfleet_router::Settings {
        keycloak: match args.dialect {
            Dialect::Keycloak => Some(keycloak::stand_in().await?),
            _ => None,
        },
        ..hookfleet_router::Settings::default()
    };
    let roles = Roles {
        producer: Some((api_listener, producer)),
        router: Some(router),
        delivery: Some(hookfleet_delivery::Settings {
            timeout: args.delivery_timeout,
            allow_private_targets: true,
            ..hookfleet_delivery::Settings::default()
        }),
    };
    let (fleet_common, fleet_stop) = (common.clone(), shutdown.clone());
    let task =
        tokio::spawn(async move { fleet::run(&fleet_common, roles, None, fleet_stop).await });
    Ok((api, token, task))
}
