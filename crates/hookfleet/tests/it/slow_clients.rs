//! Clients that never finish a request hold nothing for long: the request head and body each
//! have a deadline, and a declared length over the limit is refused before the body is read.
use hookfleet_testkit::{Options, TOKEN, TestApp, spawn_app_with};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

async fn app_with_short_timeouts() -> TestApp {
    spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        timeouts: hookfleet_producer::serve::Timeouts {
            header_read: Duration::from_millis(500),
            body_read: Duration::from_millis(500),
        },
        ..Options::default()
    })
    .await
}

async fn connect(app: &TestApp) -> tokio::net::TcpStream {
    let addr = app.api.trim_start_matches("http://");
    tokio::net::TcpStream::connect(addr).await.unwrap()
}

/// Reads until the server closes the connection; returns what it said.
async fn read_to_close(stream: &mut tokio::net::TcpStream, within: Duration) -> String {
    let mut buf = Vec::new();
    tokio::time::timeout(within, stream.read_to_end(&mut buf))
        .await
        .expect("the server closed the connection in time")
        .ok();
    String::from_utf8_lossy(&buf).into_owned()
}

#[tokio::test]
async fn half_sent_requests_are_closed_and_an_oversized_declaration_is_refused_at_once() {
    let app = app_with_short_timeouts().await;
    // Request heads that never finish, with and without a token.
    let mut streams = Vec::new();
    for i in 0..50 {
        let mut s = connect(&app).await;
        let head = if i % 2 == 0 {
            "POST /v1/events HTTP/1.1\r\nHost: x\r\n".to_owned()
        } else {
            format!("POST /v1/events HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n")
        };
        s.write_all(head.as_bytes()).await.unwrap();
        streams.push(s);
    }
    for s in &mut streams {
        read_to_close(s, Duration::from_secs(5)).await;
    }
    // A head that arrived, and a body that never does: 408 in the envelope.
    let mut s = connect(&app).await;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"type\""
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("request_timeout"), "{answer}");
    // A declared length over the limit: 413 before a byte of the body is sent.
    let mut s = connect(&app).await;
    let head = format!(
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {TOKEN}\r\nContent-Type: application/json\r\nContent-Length: 1000000000000\r\n\r\n"
    );
    s.write_all(head.as_bytes()).await.unwrap();
    let mut buf = [0u8; 512];
    let n = tokio::time::timeout(Duration::from_secs(2), s.read(&mut buf))
        .await
        .expect("an answer without the body")
        .unwrap();
    let answer = String::from_utf8_lossy(&buf[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("payload_too_large"), "{answer}");
    assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
}

#[tokio::test]
async fn the_public_hook_does_not_wait_for_a_body_that_never_comes() {
    let app = spawn_app_with(Options {
        run_router: false,
        run_delivery: false,
        timeouts: hookfleet_producer::serve::Timeouts {
            header_read: Duration::from_millis(500),
            body_read: Duration::from_millis(500),
        },
        keycloak_secrets: hookfleet_producer::keycloak::HookSecret::parse_list("k").unwrap(),
        ..Options::default()
    })
    .await;
    let mut s = connect(&app).await;
    let head = "POST /v1/hooks/keycloak HTTP/1.1\r\nHost: x\r\nX-Keycloak-Signature: 00\r\nContent-Length: 100\r\n\r\n{\"id\"";
    s.write_all(head.as_bytes()).await.unwrap();
    let answer = read_to_close(&mut s, Duration::from_secs(5)).await;
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert_eq!(app.queue_depth(&app.topology.hooks()).await, Some(0));
}
