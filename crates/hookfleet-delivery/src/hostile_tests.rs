//! What a webhook receiver outside our control cannot do to a delivery worker: send it
//! elsewhere, fill its memory, hold its attempt past the timeout, crash it with broken HTTP or
//! TLS, or point a name at a private address. Each test runs its own loopback server (raw
//! TCP, for byte-level control), calls [`deliver_one`] with the client the worker builds
//! ([`http_client`]), and is bounded by [`BOUND`]. Servers stop, with every connection they
//! hold, when dropped.
use crate::{
    attempt::{AttemptResult, EXCERPT_DEADLINE, RESPONSE_EXCERPT_BYTES, deliver_one},
    config::{Settings, SubConfig},
    shared::http_client,
};
use hookfleet_core::{
    Secret, SubscriptionId,
    render::{self, Profile, Request},
    subscription::{Delivery, Ordering as SubOrdering},
};
use hookfleet_store::{SubscriptionRow, SubscriptionState};
use std::{
    future::Future,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
    sync::mpsc,
    task::{JoinHandle, JoinSet},
};

/// No test here may run longer than this.
const BOUND: Duration = Duration::from_secs(10);
/// The attempt timeout where a test is not about the timeout.
const LONG_TIMEOUT: Duration = Duration::from_secs(8);
const FIFTY_MB: u64 = 50 * 1024 * 1024;

/// What a connection can take in without the worker reading it: the server's send buffer at
/// its largest (`tcp_wmem`), the worker's receive buffer as it starts (`tcp_rmem`; it only
/// grows when the application reads), and a margin for hyper's read buffer (about 400 KiB).
/// A receiver that got more than this into the worker was being read, not buffered. 8 MiB
/// where the kernel's settings cannot be read.
fn buffered_at_most() -> u64 {
    let field = |file: &str, i: usize| -> Option<u64> {
        std::fs::read_to_string(format!("/proc/sys/net/ipv4/{file}"))
            .ok()?
            .split_whitespace()
            .nth(i)?
            .parse()
            .ok()
    };
    match (field("tcp_wmem", 2), field("tcp_rmem", 1)) {
        (Some(send_max), Some(receive_start)) => send_max + receive_start + 2 * 1024 * 1024,
        _ => 8 * 1024 * 1024,
    }
}

/// The worker's HTTP client, as `run` builds it.
fn client(allow_private_targets: bool) -> reqwest::Client {
    http_client(&Settings {
        allow_private_targets,
        ..Settings::default()
    })
    .expect("the worker's HTTP client builds")
}

/// A request as the worker renders it.
fn request() -> Request {
    render::render(
        Profile::StandardWebhooks,
        br#"{"id":"evt_hostile","type":"x","data":{}}"#,
        "dlv_hostile",
        &[Secret::generate()],
        hookfleet_core::now_utc().unix_timestamp(),
    )
}

async fn attempt(
    client: &reqwest::Client,
    url: &str,
    timeout: Duration,
) -> (AttemptResult, Duration) {
    let started = Instant::now();
    let result = deliver_one(client, url, request(), timeout).await;
    (result, started.elapsed())
}

/// Runs a test body within [`BOUND`].
async fn bounded(test: impl Future<Output = ()>) {
    tokio::time::timeout(BOUND, test)
        .await
        .expect("the test finished within its bound");
}

/// A loopback server answering every connection with `handler`. Dropping it stops the accept
/// loop and every connection task.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start<F, Fut>(handler: F) -> Self
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let accepted = Arc::new(AtomicUsize::new(0));
        let count = accepted.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            loop {
                tokio::select! {
                    a = listener.accept() => if let Ok((stream, _)) = a {
                        count.fetch_add(1, Ordering::SeqCst);
                        connections.spawn(handler(stream));
                    },
                    Some(_) = connections.join_next() => {}
                }
            }
        });
        Self {
            addr,
            accepted,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/hook", self.addr)
    }

    /// Connections accepted, after giving a late one time to be accepted.
    async fn connections(&self) -> usize {
        tokio::time::sleep(Duration::from_millis(200)).await;
        self.accepted.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Reads one request (head and `Content-Length` body); `None` if the connection ends first.
async fn read_request(s: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < end + 4 + length {
                match s.read(&mut chunk).await {
                    Ok(0) | Err(_) => return None,
                    Ok(n) => buf.extend_from_slice(&chunk[..n]),
                }
            }
            return Some(buf);
        }
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A server that reads the request, writes `reply`, and closes.
async fn replying(reply: Vec<u8>) -> Server {
    let reply = Arc::new(reply);
    Server::start(move |mut s| {
        let reply = reply.clone();
        async move {
            if read_request(&mut s).await.is_some() {
                let _ = s.write_all(&reply).await;
                let _ = s.shutdown().await;
            }
        }
    })
    .await
}

/// Writes `head`, then `block` again and again until `total` bytes of blocks are out or the
/// peer goes away. Returns the bytes written after `head` and whether a write failed.
async fn flood(s: &mut TcpStream, head: &[u8], block: &[u8], total: u64) -> (u64, bool) {
    if s.write_all(head).await.is_err() {
        return (0, true);
    }
    let mut written = 0u64;
    while written < total {
        let mut off = 0;
        while off < block.len() {
            match s.write(&block[off..]).await {
                Ok(0) | Err(_) => return (written, true),
                Ok(n) => {
                    off += n;
                    written += n as u64;
                }
            }
        }
    }
    (written, s.flush().await.is_err())
}

/// Waits for a connection task's report.
async fn report<T>(rx: &mut mpsc::UnboundedReceiver<T>, within: Duration) -> T {
    tokio::time::timeout(within, rx.recv())
        .await
        .expect("the server reported in time")
        .expect("the server reported")
}

/// 16 printable bytes repeated: the body of the large responses, ASCII so that an excerpt's
/// bytes are the body's bytes.
fn pattern(len: usize) -> Vec<u8> {
    b"0123456789abcdef"
        .iter()
        .copied()
        .cycle()
        .take(len)
        .collect()
}

#[tokio::test]
async fn hostile_redirects_are_never_followed() {
    bounded(async {
        for code in [301u16, 302, 303, 307, 308] {
            let elsewhere = Server::start(|mut s| async move {
                if read_request(&mut s).await.is_some() {
                    let _ = s
                        .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                        .await;
                }
            })
            .await;
            let location = elsewhere.url();
            let redirecting = replying(
                format!(
                    "HTTP/1.1 {code} Moved\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n"
                )
                .into_bytes(),
            )
            .await;

            let (r, took) = attempt(&client(true), &redirecting.url(), LONG_TIMEOUT).await;
            eprintln!("{code}: {took:?} {r:?}");
            assert!(!r.delivered, "{code}: {r:?}");
            assert_eq!(r.status_code, Some(code), "{r:?}");
            assert!(
                r.error.as_deref().unwrap_or("").contains(&code.to_string()),
                "{r:?}"
            );
            assert_eq!(redirecting.connections().await, 1);
            assert_eq!(
                elsewhere.connections().await,
                0,
                "{code}: the redirect target was contacted"
            );

            // Control: a client that follows redirects does reach the target, so the zero
            // above is the worker's doing, not a broken Location.
            let following = reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::limited(5))
                .build()
                .unwrap();
            let (r, _) = attempt(&following, &redirecting.url(), LONG_TIMEOUT).await;
            assert!(r.delivered, "{code}: control: {r:?}");
            assert_eq!(elsewhere.connections().await, 1, "{code}: control");
        }
    })
    .await;
}

#[derive(Debug, Clone, Copy)]
enum Framing {
    ContentLength,
    UntilClose,
    Chunked,
}

#[tokio::test]
async fn hostile_a_50_mb_body_is_cut_at_the_excerpt_and_the_connection_dropped() {
    bounded(async {
        for framing in [
            Framing::ContentLength,
            Framing::UntilClose,
            Framing::Chunked,
        ] {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let server = Server::start(move |mut s| {
                let tx = tx.clone();
                async move {
                    if read_request(&mut s).await.is_none() {
                        return;
                    }
                    let data = pattern(64 * 1024);
                    let (head, block) = match framing {
                        Framing::ContentLength => (
                            format!("HTTP/1.1 200 OK\r\nContent-Length: {FIFTY_MB}\r\n\r\n"),
                            data,
                        ),
                        Framing::UntilClose => (
                            "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".to_owned(),
                            data,
                        ),
                        Framing::Chunked => {
                            let mut block = format!("{:x}\r\n", data.len()).into_bytes();
                            block.extend_from_slice(&data);
                            block.extend_from_slice(b"\r\n");
                            (
                                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_owned(),
                                block,
                            )
                        }
                    };
                    let outcome = flood(&mut s, head.as_bytes(), &block, FIFTY_MB).await;
                    let _ = tx.send(outcome);
                }
            })
            .await;

            let (r, took) = attempt(&client(true), &server.url(), LONG_TIMEOUT).await;
            assert!(took < Duration::from_secs(3), "{framing:?}: took {took:?}");
            assert!(r.delivered, "{framing:?}: {r:?}");
            assert_eq!(r.status_code, Some(200));
            assert_eq!(r.error, None);
            let excerpt = r.response_excerpt.expect("an excerpt");
            assert_eq!(excerpt.len(), RESPONSE_EXCERPT_BYTES);
            assert_eq!(excerpt.as_bytes(), &pattern(RESPONSE_EXCERPT_BYTES)[..]);

            // The worker hung up instead of reading on: the server's writes failed, after no
            // more than buffers hold.
            let (written, failed) = report(&mut rx, Duration::from_secs(5)).await;
            let bound = buffered_at_most();
            eprintln!(
                "{framing:?}: attempt {took:?}, server wrote {written} bytes (buffers: {bound}), \
                 then failed: {failed}"
            );
            assert!(
                failed,
                "{framing:?}: all {written} bytes were taken without the connection dropping"
            );
            assert!(written < FIFTY_MB, "{framing:?}: {written}");
            assert!(
                written < bound,
                "{framing:?}: {written} bytes went into the worker before it hung up"
            );
        }
    })
    .await;
}

/// A server that answers with `head`, then one byte of `drip` per `every` (cycling), until the
/// client goes; it reports when it saw the client go.
async fn dripping(
    head: &'static [u8],
    drip: &'static [u8],
    every: Duration,
) -> (Server, mpsc::UnboundedReceiver<Instant>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let server = Server::start(move |mut s| {
        let tx = tx.clone();
        async move {
            if read_request(&mut s).await.is_none() || s.write_all(head).await.is_err() {
                return;
            }
            let mut drip = drip.iter().cycle();
            let mut buf = [0u8; 256];
            loop {
                tokio::select! {
                    r = s.read(&mut buf) => if matches!(r, Ok(0) | Err(_)) { break },
                    () = tokio::time::sleep(every) => {
                        if s.write_all(&[*drip.next().unwrap()]).await.is_err() {
                            break;
                        }
                    }
                }
            }
            let _ = tx.send(Instant::now());
        }
    })
    .await;
    (server, rx)
}

#[tokio::test]
async fn hostile_headers_that_never_finish_end_at_the_timeout() {
    bounded(async {
        let (server, mut gone) = dripping(
            b"HTTP/1.1 200 OK\r\n",
            b"X-Drip: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            Duration::from_secs(1),
        )
        .await;
        let (r, took) = attempt(&client(true), &server.url(), Duration::from_secs(1)).await;
        eprintln!("took {took:?}: {r:?}");
        assert!(took >= Duration::from_millis(900), "{took:?}");
        assert!(took < Duration::from_secs(3), "{took:?}");
        assert!(!r.delivered, "{r:?}");
        assert_eq!(r.status_code, None);
        assert_eq!(r.response_excerpt, None);
        let error = r.error.expect("an error");
        assert!(error.contains("timed out"), "{error}");
        // And the worker let go of the connection, rather than leaving it to the receiver.
        let at = report(&mut gone, Duration::from_secs(2)).await;
        eprintln!("the server saw the client go {:?} after", at.elapsed());
    })
    .await;
}

/// The status is the receiver's answer, so a 2xx whose body is still trickling is delivered,
/// with what arrived of the body as its excerpt; and the excerpt has its own short deadline,
/// so the trickle holds the attempt (and its in-flight slot) about a second, not for the whole
/// attempt timeout.
#[tokio::test]
async fn hostile_a_trickling_body_is_cut_at_the_excerpt_deadline_and_the_2xx_stands() {
    bounded(async {
        let (server, mut gone) = dripping(
            b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n",
            b"abcdefghijklmnopqrstuvwxyz",
            Duration::from_millis(200),
        )
        .await;
        let (r, took) = attempt(&client(true), &server.url(), Duration::from_secs(15)).await;
        eprintln!("took {took:?}: {r:?}");
        assert!(
            took >= EXCERPT_DEADLINE - Duration::from_millis(100),
            "{took:?}"
        );
        assert!(took < EXCERPT_DEADLINE * 3, "{took:?}");
        assert!(r.delivered, "{r:?}");
        assert_eq!(r.status_code, Some(200));
        assert_eq!(r.error, None);
        let excerpt = r.response_excerpt.expect("what arrived of the body");
        assert!(
            (1..=10).contains(&excerpt.len()),
            "about 5 bytes in 1 s: {excerpt:?}"
        );
        assert!(
            "abcdefghijklmnopqrstuvwxyz".starts_with(&excerpt),
            "{excerpt:?}"
        );
        report(&mut gone, Duration::from_secs(2)).await;
    })
    .await;
}

/// How a server misbehaves after reading the request.
enum Misreply {
    Bytes(Vec<u8>),
    /// Closes at once, without reading or writing anything.
    Close,
    /// A header that never ends, at full speed.
    EndlessHeader,
}

#[tokio::test]
async fn hostile_invalid_http_fails_the_attempt_without_a_status() {
    bounded(async {
        let binary: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
        let mut many_headers = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..2000 {
            many_headers.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        many_headers.extend_from_slice(b"Content-Length: 0\r\n\r\n");
        let cases = [
            ("garbage", Misreply::Bytes(b"garbage\r\n\r\n".to_vec())),
            ("binary", Misreply::Bytes(binary)),
            (
                "six-digit status",
                Misreply::Bytes(b"HTTP/1.1 999999 X\r\nContent-Length: 0\r\n\r\n".to_vec()),
            ),
            (
                "status line, then close",
                Misreply::Bytes(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n".to_vec()),
            ),
            ("close without a byte", Misreply::Close),
            (
                "conflicting Content-Length",
                Misreply::Bytes(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!"
                        .to_vec(),
                ),
            ),
            (
                "NUL in a header value",
                Misreply::Bytes(
                    b"HTTP/1.1 200 OK\r\nX-A: a\0b\r\nContent-Length: 0\r\n\r\n".to_vec(),
                ),
            ),
            ("2,000 headers", Misreply::Bytes(many_headers)),
            ("endless header", Misreply::EndlessHeader),
        ];
        for (name, misreply) in cases {
            let (tx, mut rx) = mpsc::unbounded_channel();
            let endless = matches!(misreply, Misreply::EndlessHeader);
            let misreply = Arc::new(misreply);
            let server = Server::start(move |mut s| {
                let (misreply, tx) = (misreply.clone(), tx.clone());
                async move {
                    match &*misreply {
                        Misreply::Close => drop(s),
                        Misreply::Bytes(b) => {
                            if read_request(&mut s).await.is_some() {
                                let _ = s.write_all(b).await;
                                let _ = s.shutdown().await;
                            }
                        }
                        Misreply::EndlessHeader => {
                            if read_request(&mut s).await.is_some() {
                                let head = b"HTTP/1.1 200 OK\r\nX-Flood: ";
                                let _ =
                                    tx.send(flood(&mut s, head, &pattern(65536), FIFTY_MB).await);
                            }
                        }
                    }
                }
            })
            .await;
            let (r, took) = attempt(&client(true), &server.url(), LONG_TIMEOUT).await;
            eprintln!("{name}: {took:?} {r:?}");
            assert!(!r.delivered, "{name}: {r:?}");
            assert_eq!(r.status_code, None, "{name}: {r:?}");
            assert_eq!(r.response_excerpt, None, "{name}: {r:?}");
            let error = r.error.expect("an error");
            assert!(!error.is_empty(), "{name}");
            // Recognised as broken, not waited out.
            assert!(!error.contains("timed out"), "{name}: {error}");
            assert!(took < Duration::from_secs(3), "{name}: {took:?}");
            if endless {
                let (written, failed) = report(&mut rx, Duration::from_secs(5)).await;
                eprintln!("{name}: the server wrote {written} bytes, then failed: {failed}");
                assert!(failed && written < buffered_at_most(), "{name}: {written}");
            }
        }
    })
    .await;
}

/// What the code does: once a 2xx status has been read, a body that breaks off (a chunk size
/// that is not hex, fewer bytes than `Content-Length` and a close) does not undo it.
#[tokio::test]
async fn hostile_a_broken_body_after_a_2xx_status_still_counts_as_delivered() {
    bounded(async {
        let cases: [(&str, &[u8], Option<&str>); 2] = [
            (
                "bad chunk size",
                b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n",
                None,
            ),
            (
                "short body",
                b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",
                Some("short"),
            ),
        ];
        for (name, reply, excerpt) in cases {
            let server = replying(reply.to_vec()).await;
            let (r, took) = attempt(&client(true), &server.url(), LONG_TIMEOUT).await;
            eprintln!("{name}: {took:?} {r:?}");
            assert!(r.delivered, "{name}: {r:?}");
            assert_eq!(r.status_code, Some(200), "{name}");
            assert_eq!(r.error, None, "{name}");
            assert_eq!(r.response_excerpt.as_deref(), excerpt, "{name}");
            assert!(took < Duration::from_secs(3), "{name}: {took:?}");
        }
    })
    .await;
}

/// The excerpt is text the record can store (no NUL, valid UTF-8) and at most
/// [`RESPONSE_EXCERPT_BYTES`] bytes of it, whatever bytes the receiver sends (a byte that is
/// not UTF-8 becomes a three-byte U+FFFD, so the cut comes after the conversion).
#[tokio::test]
async fn hostile_response_bytes_become_a_bounded_storable_excerpt() {
    bounded(async {
        let mut cut_in_a_character = vec![b'a'; RESPONSE_EXCERPT_BYTES - 1];
        cut_in_a_character.extend_from_slice("éééé".as_bytes());
        let cases = [
            ("NULs", vec![0u8; 4 * RESPONSE_EXCERPT_BYTES]),
            ("invalid UTF-8", vec![0xffu8; 4 * RESPONSE_EXCERPT_BYTES]),
            ("a character cut by the excerpt", cut_in_a_character),
        ];
        for (name, body) in cases {
            let mut reply = format!(
                "HTTP/1.1 500 Oops\r\nContent-Length: {}\r\n\r\n",
                body.len()
            )
            .into_bytes();
            reply.extend_from_slice(&body);
            let server = replying(reply).await;
            let (r, _) = attempt(&client(true), &server.url(), LONG_TIMEOUT).await;
            assert!(!r.delivered);
            assert_eq!(r.status_code, Some(500));
            let excerpt = r.response_excerpt.expect("an excerpt");
            eprintln!(
                "{name}: {} characters, {} bytes",
                excerpt.chars().count(),
                excerpt.len()
            );
            assert!(!excerpt.contains('\0'), "{name}");
            assert!(excerpt.len() <= RESPONSE_EXCERPT_BYTES, "{name}");
            // Cut at the last whole character before the bound.
            assert!(excerpt.len() > RESPONSE_EXCERPT_BYTES - 4, "{name}");
        }
    })
    .await;
}

#[tokio::test]
async fn hostile_tls_failures_fail_the_attempt_without_a_status() {
    bounded(async {
        // Plain HTTP where TLS was expected: reads the ClientHello, answers in clear text.
        let plain = Server::start(|mut s| async move {
            let mut buf = [0u8; 4096];
            if matches!(s.read(&mut buf).await, Ok(n) if n > 0) {
                let _ = s
                    .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                    .await;
                let _ = s.shutdown().await;
            }
        })
        .await;
        let closing = Server::start(|s| async move { drop(s) }).await;
        // Accepts and never answers the ClientHello.
        let silent = Server::start(|mut s| async move {
            let mut buf = [0u8; 4096];
            while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
        let cases = [
            ("plain HTTP", &plain, "connection failed", LONG_TIMEOUT),
            (
                "closed at once",
                &closing,
                "connection failed",
                LONG_TIMEOUT,
            ),
            ("no handshake", &silent, "timed out", Duration::from_secs(1)),
        ];
        for (name, server, expected, timeout) in cases {
            let url = format!("https://{}/hook", server.addr);
            let (r, took) = attempt(&client(true), &url, timeout).await;
            eprintln!("{name}: {took:?} {r:?}");
            assert!(!r.delivered, "{name}: {r:?}");
            assert_eq!(r.status_code, None, "{name}: {r:?}");
            assert_eq!(r.response_excerpt, None, "{name}");
            let error = r.error.expect("an error");
            assert!(error.contains(expected), "{name}: {error}");
            assert!(took < Duration::from_secs(3), "{name}: {took:?}");
            assert_eq!(
                server.connections().await,
                1,
                "{name}: the server was reached"
            );
        }
    })
    .await;
}

/// A receiver whose name now resolves to a private address (DNS rebinding) gets no connection
/// from a worker that does not allow private targets: the unit-level counterpart of the
/// end-to-end `the_delivery_role_refuses_private_addresses_at_send_time`.
#[tokio::test]
async fn hostile_a_name_resolving_to_loopback_is_refused_at_send_time() {
    bounded(async {
        let server = replying(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n".to_vec()).await;
        let url = format!("http://localhost:{}/hook", server.addr.port());
        let (r, took) = attempt(&client(false), &url, LONG_TIMEOUT).await;
        eprintln!("{took:?} {r:?}");
        assert!(!r.delivered, "{r:?}");
        assert_eq!(r.status_code, None, "{r:?}");
        let error = r.error.expect("an error");
        assert!(
            error.contains("refused: localhost resolves to") && error.contains("private"),
            "{error}"
        );
        assert_eq!(
            server.connections().await,
            0,
            "the private address was contacted"
        );

        // Control: `localhost` does lead to the server when private targets are allowed.
        let (r, _) = attempt(&client(true), &url, LONG_TIMEOUT).await;
        assert!(r.delivered, "control: {r:?}");
        assert_eq!(server.connections().await, 1, "control");
    })
    .await;
}

fn subscription_row(url: &str) -> SubscriptionRow {
    SubscriptionRow {
        id: SubscriptionId::random(),
        url: url.to_owned(),
        description: None,
        event_types: vec!["x".to_owned()],
        organizations: None,
        partitions: None,
        secrets: vec![Secret::generate().expose()],
        state: SubscriptionState::Active,
        created_at: hookfleet_core::now_utc(),
        retry_ladder: None,
        max_in_flight: 1,
        rate_limit_per_s: None,
        ordering: SubOrdering::Unordered,
        disabled_reason: None,
        previous_secrets_expire_at: None,
        profile: Profile::StandardWebhooks,
        delivery: Delivery::Push,
        pull_user: None,
        tier: hookfleet_core::subscription::Tier::Own,
        shard: None,
        tier_reason: None,
        own_queue: true,
    }
}

/// A URL with a literal private address skips name resolution, so the worker refuses it when
/// it reads the subscription (`SubConfig::from_row`, whose `refused` the send checks first),
/// in every spelling the URL parser turns into such an address.
#[tokio::test]
async fn hostile_a_literal_private_address_is_refused_in_every_spelling() {
    bounded(async {
        let refuse = Settings::default();
        assert!(!refuse.allow_private_targets);
        let allow = Settings {
            allow_private_targets: true,
            ..Settings::default()
        };
        for url in [
            "http://127.0.0.1:8080/hook",
            "http://127.1:8080/hook",
            "http://2130706433:8080/hook",
            "http://0x7f.0.0.1:8080/hook",
            "http://0177.0.0.1:8080/hook",
            "http://[::1]:8080/hook",
            "http://[::ffff:127.0.0.1]:8080/hook",
            "https://10.0.0.1/hook",
            "http://169.254.169.254/latest/meta-data/",
            "http://0.0.0.0:8080/hook",
        ] {
            let refused = SubConfig::from_row(&subscription_row(url), &refuse)
                .expect("a usable subscription")
                .refused;
            let refused = refused.unwrap_or_else(|| panic!("{url} was not refused"));
            assert!(refused.starts_with("refused: "), "{url}: {refused}");
            let allowed = SubConfig::from_row(&subscription_row(url), &allow).unwrap();
            assert_eq!(allowed.refused, None, "{url}");
        }
        // Names are left to the resolver (the test above), public addresses go through.
        for url in ["http://localhost:8080/hook", "https://93.184.216.34/hook"] {
            let cfg = SubConfig::from_row(&subscription_row(url), &refuse).unwrap();
            assert_eq!(cfg.refused, None, "{url}");
        }
    })
    .await;
}
