//! The identity provider's admin API, as the enricher needs it: a client-credentials token
//! (cached until shortly before it expires), a user with its organizations, a group, and the
//! passkey step of the document's private event. Each answer is one of three things. An outage
//! (no answer, an error status, a body cut off in transit) the caller waits out. "Not found"
//! means the entity is gone. A complete 2xx answer that is not JSON or not the record's shape is
//! unreadable: asking again gets the same bytes. The last two will never publish, so the
//! caller parks the event with the reason; neither ever becomes an event with empty fields.
use super::mapping;
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
    /// The entity does not exist (any more); says which.
    Gone(String),
    /// A whole 2xx answer that does not decode or has the wrong shape; says which and why.
    Unreadable(String),
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
        // A token answer that cannot be read says the provider (or its set-up) is wrong, not
        // any one event: every event waits for it to be fixed, none is parked for it.
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

    /// Sends one request and returns a 2xx answer; `what` names the entity for a reason.
    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        what: &str,
    ) -> Result<reqwest::Response, FetchError> {
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
            200..=299 => Ok(res),
            404 => Err(FetchError::Gone(format!(
                "{what} is gone (the admin API answered 404)"
            ))),
            401 => {
                // A revoked or rotated token: fetch a new one next time.
                *self.token.lock().await = None;
                Err(unavailable("the admin API answered 401"))
            }
            s => Err(unavailable(format!("the admin API answered {s} to {path}"))),
        }
    }

    /// GETs a JSON answer. A body that stops before its end is a transport failure (wait);
    /// a whole body that is not JSON (a lone surrogate, say) is unreadable.
    async fn read(&self, path: &str, what: &str) -> Result<Value, FetchError> {
        let res = self.call(reqwest::Method::GET, path, what).await?;
        let body = res
            .bytes()
            .await
            .map_err(|e| unavailable(format!("reading {what} failed: {e}")))?;
        serde_json::from_slice(&body)
            .map_err(|e| FetchError::Unreadable(format!("{what} is not JSON: {e}")))
    }

    /// A user's record and the ids of the organizations it belongs to.
    pub(crate) async fn user(&self, id: &str) -> Result<(Value, Vec<String>), FetchError> {
        let seg = segment(id);
        let what = format!("the user `{id}`");
        let user = self.read(&format!("users/{seg}"), &what).await?;
        mapping::check_user(&user)
            .map_err(|why| FetchError::Unreadable(format!("the record of {what} {why}")))?;
        let what = format!("the organizations of the user `{id}`");
        let orgs = self
            .read(&format!("organizations/members/{seg}/organizations"), &what)
            .await?;
        let ids = mapping::organization_ids(&orgs)
            .map_err(|why| FetchError::Unreadable(format!("the list of {what} {why}")))?;
        Ok((user, ids))
    }

    pub(crate) async fn group(&self, id: &str) -> Result<Value, FetchError> {
        let what = format!("the group `{id}`");
        let group = self.read(&format!("groups/{}", segment(id)), &what).await?;
        mapping::check_group(&group)
            .map_err(|why| FetchError::Unreadable(format!("the record of {what} {why}")))?;
        Ok(group)
    }

    /// Moves the user's newest passkey to the front of its credentials, so it is the
    /// preferred way to sign in. Nothing to do when the user has no passkey.
    pub(crate) async fn prefer_passkey(&self, user_id: &str) -> Result<(), FetchError> {
        let user = segment(user_id);
        let what = format!("the credentials of the user `{user_id}`");
        let creds = self
            .read(&format!("users/{user}/credentials"), &what)
            .await?;
        let newest = newest_passkey(&creds)
            .map_err(|why| FetchError::Unreadable(format!("the list of {what} {why}")))?;
        let Some(id) = newest else {
            return Ok(());
        };
        let what = format!("the passkey `{id}` of the user `{user_id}`");
        // The answer (204, no body) says all there is; its body is not read.
        self.call(
            reqwest::Method::POST,
            &format!("users/{user}/credentials/{}/moveToFirst", segment(&id)),
            &what,
        )
        .await
        .map(drop)
    }
}

/// The id of the newest passkey in a credentials list, if it has one.
fn newest_passkey(creds: &Value) -> Result<Option<String>, String> {
    let list = creds.as_array().ok_or("is not a JSON array")?;
    let mut newest: Option<(i64, &str)> = None;
    for c in list.iter().filter(|c| c["type"] == PASSKEY_CREDENTIAL) {
        let id = c["id"]
            .as_str()
            .ok_or("has a passkey without a string `id`")?;
        let created = c["createdDate"].as_i64().unwrap_or(0);
        if newest.is_none_or(|(at, _)| created >= at) {
            newest = Some((created, id));
        }
    }
    Ok(newest.map(|(_, id)| id.to_owned()))
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_newest_passkey_is_found_and_a_list_of_another_shape_is_refused() {
        let creds = json!([
            {"id": "pw", "type": "password", "createdDate": 9},
            {"id": "old", "type": PASSKEY_CREDENTIAL, "createdDate": 2},
            {"id": "new", "type": PASSKEY_CREDENTIAL, "createdDate": 3},
        ]);
        assert_eq!(newest_passkey(&creds).unwrap().as_deref(), Some("new"));
        assert_eq!(
            newest_passkey(&json!([{"type": "password"}])).unwrap(),
            None
        );
        assert!(newest_passkey(&json!({"id": "new"})).is_err());
        assert!(newest_passkey(&json!([{"type": PASSKEY_CREDENTIAL, "id": 1}])).is_err());
    }

    #[test]
    fn an_id_stays_one_path_segment() {
        assert_eq!(segment("u-1_A"), "u-1_A");
        assert_eq!(segment("../x/y"), "%2E%2E%2Fx%2Fy");
    }
}
