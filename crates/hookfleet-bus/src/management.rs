//! RabbitMQ's management API, for what AMQP cannot do: the users of pull subscriptions. Each
//! gets permission to read (consume, get, ack, purge) its own outbox queue and nothing else:
//! no configure, no write, so it can neither declare, bind, delete nor publish, and no tags, so
//! the management API refuses it. What no permission can refuse is a passive declare, which
//! RabbitMQ answers unchecked: a pull user learns whether a queue or exchange of a name it knows
//! exists, and a queue's ready and consumer counts (README, "Pull subscriptions").
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    #[error("invalid management URL: {0}")]
    Config(String),
    #[error("the management API is unreachable")]
    Http(#[from] reqwest::Error),
    #[error("the management API answered {status} to {what}: {body}")]
    Refused {
        what: &'static str,
        status: u16,
        body: String,
    },
}

/// A client of the management API (`http://user:password@host:15672`).
#[derive(Clone)]
pub struct Management {
    base: url::Url,
    user: String,
    password: String,
    http: reqwest::Client,
}

impl std::fmt::Debug for Management {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Management")
            .field("host", &self.base.host_str())
            .finish_non_exhaustive()
    }
}

/// `s` with every byte but unreserved ones percent-encoded (a vhost `/` is `%2F`).
fn segment(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A regular expression matching exactly `name`.
fn exactly(name: &str) -> String {
    let mut re = String::from("^");
    for c in name.chars() {
        if "\\^$.|?*+()[]{}".contains(c) {
            re.push('\\');
        }
        re.push(c);
    }
    re.push('$');
    re
}

impl Management {
    pub fn new(url: &str) -> Result<Self, ManagementError> {
        let mut base = url::Url::parse(url).map_err(|e| ManagementError::Config(e.to_string()))?;
        let user = base.username().to_owned();
        let password = base.password().unwrap_or_default().to_owned();
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (user, password) = (decode(&user), decode(&password));
        base.set_username("")
            .and_then(|()| base.set_password(None))
            .map_err(|()| ManagementError::Config("the URL cannot hold credentials".into()))?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            base,
            user,
            password,
            http,
        })
    }

    async fn put(
        &self,
        what: &'static str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(), ManagementError> {
        let res = self
            .http
            .put(format!(
                "{}{path}",
                self.base.as_str().trim_end_matches('/')
            ))
            .basic_auth(&self.user, Some(&self.password))
            .json(&body)
            .send()
            .await?;
        check(what, res).await
    }

    /// Creates (or resets) `username` with `password`, allowed only to read `queue` in
    /// `vhost`.
    pub async fn create_reader(
        &self,
        vhost: &str,
        username: &str,
        password: &str,
        queue: &str,
    ) -> Result<(), ManagementError> {
        let user = segment(username);
        self.put(
            "creating a user",
            &format!("/api/users/{user}"),
            serde_json::json!({"password": password, "tags": ""}),
        )
        .await?;
        self.put(
            "setting a user's permissions",
            &format!("/api/permissions/{}/{user}", segment(vhost)),
            serde_json::json!({"configure": "^$", "write": "^$", "read": exactly(queue)}),
        )
        .await
    }

    /// Removes `username` (its connections are closed by the broker); gone already is fine.
    pub async fn delete_user(&self, username: &str) -> Result<(), ManagementError> {
        let res = self
            .http
            .delete(format!(
                "{}/api/users/{}",
                self.base.as_str().trim_end_matches('/'),
                segment(username)
            ))
            .basic_auth(&self.user, Some(&self.password))
            .send()
            .await?;
        if res.status() == reqwest::StatusCode::NOT_FOUND {
            return Ok(());
        }
        check("deleting a user", res).await
    }
}

async fn check(what: &'static str, res: reqwest::Response) -> Result<(), ManagementError> {
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let body: String = res
        .text()
        .await
        .unwrap_or_default()
        .chars()
        .take(300)
        .collect();
    Err(ManagementError::Refused {
        what,
        status: status.as_u16(),
        body,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_escaped_for_paths_and_patterns() {
        assert_eq!(segment("/"), "%2F");
        assert_eq!(segment("hf-pull_1"), "hf-pull_1");
        assert_eq!(
            exactly("a.hookfleet.pull.sub_1"),
            r"^a\.hookfleet\.pull\.sub_1$"
        );
        let m = Management::new("http://guest:gu%40st@127.0.0.1:15672").unwrap();
        assert_eq!((m.user.as_str(), m.password.as_str()), ("guest", "gu@st"));
        assert_eq!(m.base.as_str(), "http://127.0.0.1:15672/");
    }
}
