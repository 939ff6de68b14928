//! The API fuzzer: 100,000 generated requests (methods, paths, query strings, headers and
//! bodies, mostly near-valid mutations of real calls) over every route of every dialect. Each
//! must be answered within its deadline and never with a 5xx; and a refused request changes
//! nothing: the record's tables and the ingest queue are compared after every batch in which
//! no write was answered 2xx. `HOOKFLEET_API_FUZZ_REQUESTS` and `HOOKFLEET_API_FUZZ_SEED`
//! change the count and the seed (a failure prints the seed and the request).
use futures_util::{StreamExt, stream};
use hookfleet_testkit::{TOKEN, TestApp, spawn_api};
use serde_json::{Value, json};
use std::time::Duration;

/// A small deterministic generator (xorshift64*), so a failing seed replays exactly.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
    fn chance(&mut self, one_in: usize) -> bool {
        self.below(one_in) == 0
    }
}

const ROUTES: &[&str] = &[
    "/healthz",
    "/readyz",
    "/v1/events",
    "/v1/events/batch",
    "/v1/events/{event}",
    "/v1/events/{event}/deliveries",
    "/v1/subscriptions",
    "/v1/subscriptions/{sub}",
    "/v1/subscriptions/{sub}/secret",
    "/v1/subscriptions/{sub}/secret/rotate",
    "/v1/subscriptions/{sub}/enable",
    "/v1/subscriptions/{sub}/disable",
    "/v1/subscriptions/{sub}/test",
    "/v1/subscriptions/{sub}/deliveries",
    "/v1/subscriptions/{sub}/recover",
    "/v1/subscriptions/{sub}/pull/rotate",
    "/v1/deliveries",
    "/v1/deliveries/{dlv}",
    "/v1/deliveries/{dlv}/retry",
    "/v1/api-keys",
    "/v1/api-keys/{key}",
    "/v1/api-keys/{key}/rotate",
    "/v1/installations",
    "/v1/installations/{inst}",
    "/v1/installations/{inst}/events",
    "/v1/channels",
    "/v1/channels/{chn}",
    "/v1/channels/{chn}/events/{event}",
    "/v1/webhooks",
    "/v1/webhooks/test",
    "/v1/webhooks/{wh}",
    "/v1/webhooks/{wh}/enable",
    "/v1/webhooks/{wh}/disable",
    "/v1/webhooks/{wh}/deliveries",
    "/v1/hooks/keycloak",
    "/event/create",
    "/event/update",
    "/event/close",
    "/event/other",
];

const JUNK_IDS: &[&str] = &[
    "",
    "x",
    "sub_0000000000000000000000000",
    "%00",
    "%ff%fe",
    "..",
    "%2e%2e%2f",
    "a%2Fb",
    "%F0%9F%92%A9",
    "%ED%A0%80",
    "-1",
    "99999999999999999999999",
    "wh_%00",
    "dlv_",
    "%25",
];

const QUERIES: &[&str] = &[
    "",
    "?limit=0",
    "?limit=-1",
    "?limit=1001",
    "?limit=1e99",
    "?limit=abc",
    "?cursor=%00",
    "?cursor=bm9wZQ",
    "?cursor=",
    "?status=nope",
    "?status=delivered",
    "?since=yesterday",
    "?since=0000-01-01T00:00:00Z",
    "?until=9999-12-31T23:59:59Z&since=2030-01-01T00:00:00Z",
    "?limit=10&limit=20",
    "?%zz=1",
    "?type=%00",
];

/// Values a field is set to when a body is mutated.
fn junk_value(rng: &mut Rng) -> Value {
    match rng.below(16) {
        0 => Value::Null,
        1 => json!(""),
        2 => json!("a\u{0}b"),
        3 => json!(-1),
        4 => json!(1e308),
        5 => json!(u64::MAX),
        6 => json!([]),
        7 => json!({}),
        8 => json!("x".repeat(5000)),
        9 => json!(true),
        10 => json!(["#", "", "a..b", "*.*"]),
        11 => json!("99999999999d"),
        12 => json!("http://127.0.0.1/h"),
        13 => json!({"a": {"b": {"c": [1, 2, {"d": null}]}}}),
        14 => json!("\u{202e}\u{feff}"),
        _ => json!(rng.next()),
    }
}

/// A valid-looking body for `route` (ids filled in), to be mutated.
fn base_body(route: &str, ids: &Ids) -> Value {
    match route {
        "/v1/events" | "/v1/installations/{inst}/events" => {
            json!({"type": "user.created", "organization_ids": ["o1"], "data": {"a": 1}})
        }
        "/v1/events/batch" => json!({"events": [
            {"type": "user.created", "data": {"a": 1}},
            {"type": "user.deleted", "organization_ids": ["o1"], "data": {}},
        ]}),
        "/v1/subscriptions" => {
            json!({"url": "http://93.184.216.34/h", "event_types": ["a.*"], "organizations": ["o1"]})
        }
        "/v1/subscriptions/{sub}" => json!({"description": "d", "max_in_flight": 4}),
        "/v1/subscriptions/{sub}/test" => json!({"event_type": "a.b", "data": {}}),
        "/v1/subscriptions/{sub}/recover" => json!({"since": "2020-01-01T00:00:00Z"}),
        "/v1/api-keys" => json!({"name": "k", "scopes": ["admin"]}),
        "/v1/installations" => json!({"id": "icfg_x", "name": "n"}),
        "/v1/channels" => json!({"name": "c", "password": "password-123"}),
        "/v1/webhooks" => json!({"url": "https://93.184.216.34/h", "events": ["user.created"]}),
        "/v1/webhooks/test" => json!({"webhook_id": ids.wh, "event": "user.created"}),
        "/v1/hooks/keycloak" => json!({"id": "e1", "type": "access.LOGIN", "userId": "u"}),
        r if r.starts_with("/event/") => {
            json!({"channel_id": "chn_nope", "password": "password-123",
            "title": "t", "status": "running", "message": "m", "severity": "normal",
            "event_time": 1713750000000u64, "op_id": "op"})
        }
        _ => json!({"previous_valid_for": "1h"}),
    }
}

fn mutate(rng: &mut Rng, mut body: Value) -> Vec<u8> {
    let rounds = 1 + rng.below(3);
    for _ in 0..rounds {
        let Some(obj) = body.as_object_mut() else {
            break;
        };
        let keys: Vec<String> = obj.keys().cloned().collect();
        match rng.below(4) {
            0 if !keys.is_empty() => {
                let k = rng.pick(&keys).clone();
                obj.insert(k, junk_value(rng));
            }
            1 if !keys.is_empty() => {
                let k = rng.pick(&keys).clone();
                obj.remove(&k);
            }
            2 => {
                obj.insert(format!("extra{}", rng.below(3)), junk_value(rng));
            }
            _ => {}
        }
    }
    let mut bytes = serde_json::to_vec(&body).unwrap_or_default();
    match rng.below(12) {
        0 => bytes.truncate(rng.below(bytes.len() + 1)),
        1 if !bytes.is_empty() => {
            let i = rng.below(bytes.len());
            bytes[i] = rng.next() as u8;
        }
        2 => bytes = format!("{}1{}", "[".repeat(200), "]".repeat(200)).into_bytes(),
        3 => bytes = b"\xff\xfe{\"a\":1}".to_vec(),
        4 => bytes = b"{\"type\": \"\\ud800\", \"data\": {}}".to_vec(),
        5 => bytes.clear(),
        _ => {}
    }
    bytes
}

struct Ids {
    sub: String,
    event: String,
    dlv: String,
    key: String,
    inst: String,
    chn: String,
    wh: String,
}

struct Request {
    method: reqwest::Method,
    path: String,
    auth: Option<String>,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    writes: bool,
}

fn generate(rng: &mut Rng, ids: &Ids) -> Request {
    let route = *rng.pick(ROUTES);
    let mut path = route.to_owned();
    for (slot, real) in [
        ("{sub}", &ids.sub),
        ("{event}", &ids.event),
        ("{dlv}", &ids.dlv),
        ("{key}", &ids.key),
        ("{inst}", &ids.inst),
        ("{chn}", &ids.chn),
        ("{wh}", &ids.wh),
    ] {
        let id = if rng.chance(2) {
            real.as_str()
        } else {
            *rng.pick(JUNK_IDS)
        };
        path = path.replace(slot, id);
    }
    if rng.chance(20) {
        let extra: &&str = rng.pick(&["/", "/x", "//", "/%00", "/.."]);
        path.push_str(extra);
    }
    let query: &&str = rng.pick(QUERIES);
    path.push_str(query);
    let methods = [
        reqwest::Method::GET,
        reqwest::Method::POST,
        reqwest::Method::POST,
        reqwest::Method::PATCH,
        reqwest::Method::DELETE,
        reqwest::Method::PUT,
        reqwest::Method::OPTIONS,
        reqwest::Method::from_bytes(b"FUZZ").unwrap(),
    ];
    let method = rng.pick(&methods).clone();
    let auth = match rng.below(8) {
        0 => None,
        1 => Some("Bearer wrong".to_owned()),
        2 => Some(format!("Bearer  {TOKEN}")),
        3 => Some(format!("Basic {TOKEN}")),
        4 => Some("Bearer hfk_aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".to_owned()),
        _ => Some(format!("Bearer {TOKEN}")),
    };
    let content_type = *rng.pick(&[
        Some("application/json"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        None,
    ]);
    let body = mutate(rng, base_body(route, ids));
    let writes = !matches!(method, reqwest::Method::GET | reqwest::Method::OPTIONS);
    Request {
        method,
        path,
        auth,
        content_type,
        body,
        writes,
    }
}

/// Everything a request could change: row counts and the ingest queue's depth.
async fn snapshot(app: &TestApp) -> Vec<String> {
    let mut out = Vec::new();
    for table in [
        "events",
        "subscriptions",
        "deliveries",
        "api_keys",
        "installations",
        "channels",
        "lifecycle_events",
        "lifecycle_ops",
    ] {
        out.push(app.count(table).await.to_string());
    }
    let row = app
        .db
        .query_one(
            "SELECT (SELECT md5(coalesce(string_agg(id || state || url || array_to_string(secrets, ',')
                                                     || coalesce(description, ''), ',' ORDER BY id), ''))
                     FROM subscriptions),
                    (SELECT md5(coalesce(string_agg(id || array_to_string(hashes, ',')
                                                     || coalesce(revoked_at::text, ''), ',' ORDER BY id), ''))
                     FROM api_keys)",
            &[],
        )
        .await
        .unwrap();
    out.push(row.get(0));
    out.push(row.get(1));
    let depth = app.queue_depth(&app.topology.ingest()).await;
    out.push(format!("{depth:?}"));
    out
}

async fn fixtures(app: &TestApp) -> Ids {
    let id = |v: Value, field: &str| v[field].as_str().unwrap_or_default().to_owned();
    let sub = app
        .subscribe(json!({"url": "http://93.184.216.34/h", "event_types": ["#"]}))
        .await;
    let event = app
        .publish(json!({"type": "a.b", "organization_ids": ["o1"], "data": {}}))
        .await;
    let key: Value = app
        .post("/v1/api-keys", &json!({"name": "k", "scopes": ["admin"]}))
        .await
        .json()
        .await
        .unwrap();
    let inst: Value = app
        .post("/v1/installations", &json!({"id": "icfg_fuzz"}))
        .await
        .json()
        .await
        .unwrap();
    let chn: Value = app
        .post(
            "/v1/channels",
            &json!({"name": "c", "password": "password-123"}),
        )
        .await
        .json()
        .await
        .unwrap();
    let wh: Value = app
        .post(
            "/v1/webhooks",
            &json!({"url": "https://93.184.216.34/h", "events": ["user.created"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    Ids {
        sub: id(sub, "id"),
        event,
        dlv: "dlv_0000000000000000000000000".into(),
        key: id(key, "id"),
        inst: id(inst, "id"),
        chn: id(chn, "id"),
        wh: id(wh, "id"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hundred_thousand_generated_requests_get_no_5xx_no_hang_and_change_nothing_when_refused()
{
    let total: usize = std::env::var("HOOKFLEET_API_FUZZ_REQUESTS")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(100_000);
    let seed: u64 = std::env::var("HOOKFLEET_API_FUZZ_SEED")
        .ok()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0x5EED_F00D_u64);
    let app = spawn_api().await;
    let ids = fixtures(&app).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(15))
        .build()
        .unwrap();
    let mut rng = Rng(seed | 1);
    let mut before = snapshot(&app).await;
    let (mut sent, mut by_class) = (0usize, [0usize; 6]);
    while sent < total {
        let batch: Vec<Request> = (0..1_000.min(total - sent))
            .map(|_| generate(&mut rng, &ids))
            .collect();
        sent += batch.len();
        let answers: Vec<(u16, bool, String)> = stream::iter(batch)
            .map(|r| {
                let http = &http;
                let api = &app.api;
                async move {
                    let mut req = http.request(r.method.clone(), format!("{api}{}", r.path));
                    if let Some(a) = &r.auth {
                        req = req.header("authorization", a);
                    }
                    if let Some(ct) = r.content_type {
                        req = req.header("content-type", ct);
                    }
                    let what = format!("{} {} ({} body bytes)", r.method, r.path, r.body.len());
                    let res = req.body(r.body).send().await;
                    let status = match res {
                        Ok(res) => res.status().as_u16(),
                        Err(e) => panic!("seed {seed}: {what}: no answer: {e}"),
                    };
                    (status, r.writes, what)
                }
            })
            .buffer_unordered(16)
            .collect()
            .await;
        let mut wrote = false;
        for (status, writes, what) in answers {
            assert!(status < 500, "seed {seed}: {what} answered {status}");
            by_class[usize::from(status / 100).min(5)] += 1;
            wrote |= writes && (200..300).contains(&status);
        }
        let after = snapshot(&app).await;
        if !wrote {
            assert_eq!(
                before, after,
                "seed {seed}: a batch of refused writes changed the record or the queue"
            );
        }
        before = after;
    }
    eprintln!(
        "api fuzz: {sent} requests, seed {seed}: 2xx {}, 3xx {}, 4xx {}",
        by_class[2], by_class[3], by_class[4]
    );
    assert!(
        by_class[4] > sent / 2,
        "most generated requests are refused"
    );
}

/// Found by the fuzzer: a path id holding NUL reached PostgreSQL, which refused it, and the
/// lookup answered 503. No id holds a control character; such a path is a 404 on every route.
#[tokio::test]
async fn a_path_id_with_a_control_character_is_a_404_not_an_outage() {
    let app = spawn_api().await;
    let http = reqwest::Client::new();
    for (method, path) in [
        (reqwest::Method::DELETE, "/v1/channels/%00"),
        (reqwest::Method::GET, "/v1/channels/%00/events/x"),
        (reqwest::Method::GET, "/v1/installations/a%00b"),
        (reqwest::Method::POST, "/v1/api-keys/%01/rotate"),
        (reqwest::Method::GET, "/v1/subscriptions/%00"),
        (reqwest::Method::GET, "/v1/webhooks/wh_%1b"),
        (reqwest::Method::GET, "/v1/deliveries/%7f"),
    ] {
        let res = http
            .request(method.clone(), format!("{}{path}", app.api))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
        let body: Value = res.json().await.unwrap();
        assert_eq!(
            body["error"]["code"], "not_found",
            "{method} {path}: {body}"
        );
    }
}
