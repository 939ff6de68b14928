//! A local stand-in for the identity provider's token endpoint and admin API: the routes the
//! enricher calls, answering from records a test sets, and able to go down (503) and come
//! back. A test can also have one record answered with bytes of its choosing (a 200 that is
//! not JSON, or of another shape) or cut off half-way through its body. It records passkey
//! moves, so a test sees the private event's effect.
use axum::{
    Json, Router,
    body::Body,
    extract::{Path, State},
    http::{HeaderMap, StatusCode, header::CONTENT_TYPE},
    response::{IntoResponse, Response},
    routing::{get, post},
};
use serde_json::{Value, json};
use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

/// The records the stand-in answers, for [`KeycloakStandIn::answer_raw`] and
/// [`KeycloakStandIn::cut_off`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Record {
    /// `users/{id}`
    User,
    /// `organizations/members/{id}/organizations`
    Organizations,
    /// `groups/{id}`
    Group,
    /// `users/{id}/credentials`
    Credentials,
}

/// How one record is answered instead of from the records set.
enum Override {
    /// 200 with exactly these bytes, declared JSON.
    Raw(String),
    /// 200 whose body stops half-way: the connection is dropped mid-answer.
    CutOff,
}

#[derive(Default)]
struct Inner {
    users: HashMap<String, Value>,
    organizations: HashMap<String, Vec<Value>>,
    groups: HashMap<String, Value>,
    credentials: HashMap<String, Vec<Value>>,
    moved: Vec<(String, String)>,
    down: bool,
    /// Users whose record always answers 500.
    failing: Vec<String>,
    tokens: usize,
    reads: usize,
    overrides: HashMap<(Record, String), Override>,
}

#[derive(Clone)]
pub struct KeycloakStandIn {
    pub url: String,
    inner: Arc<Mutex<Inner>>,
}

type Shared = Arc<Mutex<Inner>>;

fn lock(s: &Shared) -> std::sync::MutexGuard<'_, Inner> {
    s.lock().unwrap_or_else(|p| p.into_inner())
}

/// 503 while down, 401 without a token this stand-in issued.
fn gate(s: &Shared, headers: &HeaderMap) -> Option<Response> {
    let inner = lock(s);
    if inner.down {
        return Some(StatusCode::SERVICE_UNAVAILABLE.into_response());
    }
    let ok = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("Bearer tok-"));
    (!ok).then(|| StatusCode::UNAUTHORIZED.into_response())
}

async fn token(State(s): State<Shared>) -> Response {
    let mut inner = lock(&s);
    if inner.down {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    inner.tokens += 1;
    Json(json!({"access_token": format!("tok-{}", inner.tokens), "expires_in": 300}))
        .into_response()
}

fn found(v: Option<Value>) -> Response {
    v.map_or_else(
        || StatusCode::NOT_FOUND.into_response(),
        |v| Json(v).into_response(),
    )
}

/// A 200 whose body breaks off after a few bytes, as a connection reset mid-answer would. The
/// break comes a moment after the first bytes, so the status and those bytes are on the wire
/// first (an error at once would drop the connection before the status is sent).
fn cut_off() -> Response {
    use futures_util::StreamExt;
    let first = futures_util::stream::iter([Ok::<_, std::io::Error>(r#"{"id": "cut-"#)]);
    let then_break = futures_util::stream::once(async {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        Err(std::io::Error::other("the stand-in cuts the answer off"))
    });
    (
        [(CONTENT_TYPE, "application/json")],
        Body::from_stream(first.chain(then_break)),
    )
        .into_response()
}

/// Answers a read of `record` `id`: 503 while down, 401 without a token, the test's override
/// if it set one, else 404 when `look` finds nothing.
fn read(
    s: &Shared,
    h: &HeaderMap,
    (record, id): (Record, &str),
    look: impl FnOnce(&mut Inner) -> Option<Value>,
) -> Response {
    if let Some(r) = gate(s, h) {
        return r;
    }
    let mut inner = lock(s);
    inner.reads += 1;
    match inner.overrides.get(&(record, id.to_owned())) {
        Some(Override::Raw(body)) => {
            ([(CONTENT_TYPE, "application/json")], body.clone()).into_response()
        }
        Some(Override::CutOff) => cut_off(),
        None => found(look(&mut inner)),
    }
}

type IdPath = Path<(String, String)>;

async fn user(State(s): State<Shared>, h: HeaderMap, Path((_, id)): IdPath) -> Response {
    if lock(&s).failing.contains(&id) {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    }
    read(&s, &h, (Record::User, &id), |i| i.users.get(&id).cloned())
}

async fn organizations(State(s): State<Shared>, h: HeaderMap, Path((_, id)): IdPath) -> Response {
    read(&s, &h, (Record::Organizations, &id), |i| {
        i.users
            .contains_key(&id)
            .then(|| json!(i.organizations.get(&id).cloned().unwrap_or_default()))
    })
}

async fn group(State(s): State<Shared>, h: HeaderMap, Path((_, id)): IdPath) -> Response {
    read(&s, &h, (Record::Group, &id), |i| i.groups.get(&id).cloned())
}

async fn credentials(State(s): State<Shared>, h: HeaderMap, Path((_, id)): IdPath) -> Response {
    read(&s, &h, (Record::Credentials, &id), |i| {
        i.users
            .contains_key(&id)
            .then(|| json!(i.credentials.get(&id).cloned().unwrap_or_default()))
    })
}

async fn move_to_first(
    State(s): State<Shared>,
    h: HeaderMap,
    Path((_, user, cred)): Path<(String, String, String)>,
) -> Response {
    if let Some(r) = gate(&s, &h) {
        return r;
    }
    lock(&s).moved.push((user, cred));
    StatusCode::NO_CONTENT.into_response()
}

impl KeycloakStandIn {
    pub async fn start() -> Self {
        let inner: Shared = Arc::default();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the stand-in");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let app = Router::new()
            .route("/realms/{realm}/protocol/openid-connect/token", post(token))
            .route("/admin/realms/{realm}/users/{id}", get(user))
            .route(
                "/admin/realms/{realm}/organizations/members/{id}/organizations",
                get(organizations),
            )
            .route("/admin/realms/{realm}/groups/{id}", get(group))
            .route(
                "/admin/realms/{realm}/users/{id}/credentials",
                get(credentials),
            )
            .route(
                "/admin/realms/{realm}/users/{id}/credentials/{cred}/moveToFirst",
                post(move_to_first),
            )
            .with_state(inner.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, inner }
    }

    /// What the enricher needs to read this stand-in.
    pub fn admin(&self) -> hookfleet_router::KeycloakAdmin {
        hookfleet_router::KeycloakAdmin {
            base_url: self.url.clone(),
            realm: "acme".into(),
            client_id: "hookfleet".into(),
            client_secret: "stand-in-secret".into(),
        }
    }

    pub fn put_user(&self, user: Value, organizations: Vec<Value>) {
        let id = user["id"].as_str().expect("a user id").to_owned();
        let mut inner = lock(&self.inner);
        inner.organizations.insert(id.clone(), organizations);
        inner.users.insert(id, user);
    }

    pub fn put_group(&self, group: Value) {
        let id = group["id"].as_str().expect("a group id").to_owned();
        lock(&self.inner).groups.insert(id, group);
    }

    pub fn put_credentials(&self, user: &str, credentials: Vec<Value>) {
        lock(&self.inner)
            .credentials
            .insert(user.to_owned(), credentials);
    }

    /// From now on `user`'s record answers 500, whatever else works.
    pub fn fail_user(&self, user: &str) {
        lock(&self.inner).failing.push(user.to_owned());
    }

    /// From now on `record` `id` answers 200 with exactly `body` (which need not be JSON).
    pub fn answer_raw(&self, record: Record, id: &str, body: &str) {
        lock(&self.inner)
            .overrides
            .insert((record, id.to_owned()), Override::Raw(body.to_owned()));
    }

    /// From now on `record` `id` answers 200 and drops the connection half-way through the body.
    pub fn cut_off(&self, record: Record, id: &str) {
        lock(&self.inner)
            .overrides
            .insert((record, id.to_owned()), Override::CutOff);
    }

    /// `record` `id` is answered from the records set again.
    pub fn answer_normally(&self, record: Record, id: &str) {
        lock(&self.inner).overrides.remove(&(record, id.to_owned()));
    }

    /// Reads answered so far (every record route, past the token check).
    pub fn reads(&self) -> usize {
        lock(&self.inner).reads
    }

    pub fn set_down(&self, down: bool) {
        lock(&self.inner).down = down;
    }

    /// Passkey moves asked for: (user, credential).
    pub fn moved(&self) -> Vec<(String, String)> {
        lock(&self.inner).moved.clone()
    }

    /// Tokens issued so far (the enricher caches one until it expires).
    pub fn tokens_issued(&self) -> usize {
        lock(&self.inner).tokens
    }
}
