//! The identity provider's admin API, as the enricher needs it: a client-credentials token
//! (cached until shortly before it expires), a user with its organizations, a group, and the
//! passkey step of the document's private event. Every failure but "not found" is an outage
//! the caller waits out; "not found" means the entity is gone and there is nothing to publish.
use serde_json::Value;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Where and as whom the enricher reads the provider (`HOOKFLEET_KEYCLOAK_*`).
#[derive(Clone)]
pub struct KeycloakAdmin {
    /// `http://keycloak:8080` (no trailing `/realms`).
    pub base_url: String,
    pub realm: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for KeycloakAdmin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeycloakAdmin")
            .field("base_url", &self.base_url)
            .field("realm", &self.realm)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

#[derive(Debug)]
pub enum FetchError {
    /// The entity does not exist (any more).
    Gone,
    /// The API is away, slow or refusing: try again later.
    Unavailable(String),
}

/// The credential type Keycloak gives passwordless WebAuthn keys (passkeys).
const PASSKEY_CREDENTIAL: &str = "webauthn-passwordless";
/// Requests to the admin API give up after this long (and are tried again later).
const TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) struct Admin {
    settings: KeycloakAdmin,
    http: reqwest::Client,
    token: Mutex<Option<(String, Instant)>>,
}

fn unavailable(e: impl std::fmt::Display) -> FetchError {
    FetchError::Unavailable(e.to_string())
}

impl Admin {
    pub(crate) fn new(settings: KeycloakAdmin) -> anyhow::Result<Self> {
        Ok(Self {
            settings,
            http: reqwest::Client::builder().timeout(TIMEOUT).build()?,
            token: Mutex::new(None),
        })
    }

    fn base(&self) -> &str {
        self.settings.base_url.trim_end_matches('/')
    }

    async fn token(&self) -> Result<String, FetchError> {
        let mut held = self.token.lock().await;
        if let Some((t, until)) = held.as_ref()
            && Instant::now() < *until
        {
            return Ok(t.clone());
        }
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.settings.client_id)
            .append_pair("client_secret", &self.settings.client_secret)
            .finish();
        let res = self
            .http
            .post(format!(
                "{}/realms/{}/protocol/openid-connect/token",
                self.base(),
                self.settings.realm
            ))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .map_err(unavailable)?;
        if !res.status().is_success() {
            return Err(unavailable(format!(
                "the token endpoint answered {}",
                res.status()
            )));
        }
        let v: Value = res.json().await.map_err(unavailable)?;
        let token = v["access_token"]
            .as_str()
            .ok_or_else(|| unavailable("the token endpoint gave no access_token"))?
            .to_owned();
        // Renewed a little early, so a token never expires in flight.
        let life = v["expires_in"]
            .as_u64()
            .unwrap_or(60)
            .saturating_sub(10)
            .max(1);
        *held = Some((token.clone(), Instant::now() + Duration::from_secs(life)));
        Ok(token)
    }

    async fn call(&self, method: reqwest::Method, path: &str) -> Result<Value, FetchError> {
        let token = self.token().await?;
        let res = self
            .http
            .request(
                method,
                format!(
                    "{}/admin/realms/{}/{path}",
                    self.base(),
                    self.settings.realm
                ),
            )
            .bearer_auth(token)
            .send()
            .await
            .map_err(unavailable)?;
        match res.status().as_u16() {
            200..=299 => Ok(res.json().await.unwrap_or(Value::Null)),
            404 => Err(FetchError::Gone),
            401 => {
                // A revoked or rotated token: fetch a new one next time.
                *self.token.lock().await = None;
                Err(unavailable("the admin API answered 401"))
            }
            s => Err(unavailable(format!("the admin API answered {s} to {path}"))),
        }
    }

    /// A user's record and the ids of the organizations it belongs to.
    pub(crate) async fn user(&self, id: &str) -> Result<(Value, Vec<String>), FetchError> {
        let id = segment(id);
        let user = self
            .call(reqwest::Method::GET, &format!("users/{id}"))
            .await?;
        let orgs = self
            .call(
                reqwest::Method::GET,
                &format!("organizations/members/{id}/organizations"),
            )
            .await?;
        let ids = orgs
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|o| o["id"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default();
        Ok((user, ids))
    }

    pub(crate) async fn group(&self, id: &str) -> Result<Value, FetchError> {
        self.call(reqwest::Method::GET, &format!("groups/{}", segment(id)))
            .await
    }

    /// Moves the user's newest passkey to the front of its credentials, so it is the
    /// preferred way to sign in. Nothing to do when the user has no passkey.
    pub(crate) async fn prefer_passkey(&self, user_id: &str) -> Result<(), FetchError> {
        let user = segment(user_id);
        let creds = self
            .call(reqwest::Method::GET, &format!("users/{user}/credentials"))
            .await?;
        let newest = creds.as_array().and_then(|l| {
            l.iter()
                .filter(|c| c["type"] == PASSKEY_CREDENTIAL)
                .max_by_key(|c| c["createdDate"].as_i64().unwrap_or(0))
        });
        let Some(id) = newest.and_then(|c| c["id"].as_str()) else {
            return Ok(());
        };
        self.call(
            reqwest::Method::POST,
            &format!("users/{user}/credentials/{}/moveToFirst", segment(id)),
        )
        .await
        .map(drop)
    }
}

/// An id as one path segment (ids come from outside; `/` or `..` must not move the path).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
