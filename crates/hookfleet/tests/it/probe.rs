//! `hookfleet ready`, the container healthcheck: exit 0 only when `/readyz` answers 200; not
//! ready, nothing listening, or an address of 0.0.0.0 asked on loopback.
use axum::{Router, http::StatusCode, routing::get};
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use tokio::process::Command;

async fn probe(addr: &str) -> (bool, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hookfleet"))
        .args(["ready", "--metrics-addr", addr])
        .env("RUST_LOG", "off")
        .output()
        .await
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn ready_exits_zero_only_when_readyz_answers_200() {
    let ready = Arc::new(AtomicBool::new(false));
    let flag = ready.clone();
    let app = Router::new().route(
        "/readyz",
        get(move || {
            let flag = flag.clone();
            async move {
                if flag.load(Ordering::SeqCst) {
                    StatusCode::OK
                } else {
                    StatusCode::SERVICE_UNAVAILABLE
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let (ok, text) = probe(&format!("127.0.0.1:{port}")).await;
    assert!(!ok, "a 503 is not ready: {text}");
    assert!(text.contains("503"), "{text}");

    ready.store(true, Ordering::SeqCst);
    let (ok, text) = probe(&format!("127.0.0.1:{port}")).await;
    assert!(ok, "{text}");
    // A role bound to every interface (as in the compose file) is asked on loopback.
    let (ok, text) = probe(&format!("0.0.0.0:{port}")).await;
    assert!(ok, "{text}");

    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (ok, text) = probe(&format!("127.0.0.1:{closed}")).await;
    assert!(!ok, "nothing listening is not ready: {text}");
}
