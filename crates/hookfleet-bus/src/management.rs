//! RabbitMQ's management API, for what AMQP cannot do: the users of pull subscriptions. Users
//! and permissions are the cluster's, so any node will do: given a list, a call goes to the
//! node that answered last and moves on to the next while a node cannot be reached. Each
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

/// A client of the management API (`http://user:password@host:15672`, or several such URLs,
/// comma-separated, one per node).
#[derive(Clone)]
pub struct Management {
    nodes: std::sync::Arc<[Node]>,
    /// The node that answered last: calls start there.
    current: std::sync::Arc<std::sync::atomic::AtomicUsize>,
    http: reqwest::Client,
}

/// One node's API and the credentials it takes.
struct Node {
    base: url::Url,
    user: String,
    password: String,
}

impl std::fmt::Debug for Management {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hosts: Vec<_> = self.nodes.iter().map(|n| n.base.host_str()).collect();
        f.debug_struct("Management")
            .field("hosts", &hosts)
            .finish_non_exhaustive()
    }
}

impl Node {
    fn parse(url: &str) -> Result<Self, ManagementError> {
        let mut base = url::Url::parse(url).map_err(|e| ManagementError::Config(e.to_string()))?;
        // Userinfo is percent-encoded, where `+` is itself (form decoding would make it a space).
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let user = decode(base.username());
        let password = decode(base.password().unwrap_or_default());
        base.set_username("")
            .and_then(|()| base.set_password(None))
            .map_err(|()| ManagementError::Config("the URL cannot hold credentials".into()))?;
        Ok(Self {
            base,
            user,
            password,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base.as_str().trim_end_matches('/'))
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
    /// `urls`: one management URL, or several (one per node) separated by commas.
    pub fn new(urls: &str) -> Result<Self, ManagementError> {
        let nodes = urls
            .split(',')
            .map(str::trim)
            .filter(|u| !u.is_empty())
            .map(Node::parse)
            .collect::<Result<Vec<_>, _>>()?;
        if nodes.is_empty() {
            return Err(ManagementError::Config("no URL given".into()));
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()?;
        Ok(Self {
            nodes: nodes.into(),
            current: Default::default(),
            http,
        })
    }

    /// Sends the request `build` makes for a node, to the node that answered last, then to
    /// each other in turn while one cannot be reached. An answer, even a refusal, is final:
    /// the cluster has spoken.
    async fn send(
        &self,
        build: impl Fn(&Node) -> reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, ManagementError> {
        use std::sync::atomic::Ordering::Relaxed;
        let first = self.current.load(Relaxed);
        let mut unreachable = None;
        for i in 0..self.nodes.len() {
            let at = (first + i) % self.nodes.len();
            let node = &self.nodes[at];
            match build(node)
                .basic_auth(&node.user, Some(&node.password))
                .send()
                .await
            {
                Ok(res) => {
                    self.current.store(at, Relaxed);
                    return Ok(res);
                }
                Err(e) => unreachable = Some(e),
            }
        }
        Err(unreachable.map_or_else(
            || ManagementError::Config("no URL given".into()),
            ManagementError::Http,
        ))
    }

    async fn put(
        &self,
        what: &'static str,
        path: &str,
        body: serde_json::Value,
    ) -> Result<(), ManagementError> {
        let res = self
            .send(|node| self.http.put(node.url(path)).json(&body))
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
        let path = format!("/api/users/{}", segment(username));
        let res = self.send(|node| self.http.delete(node.url(&path))).await?;
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
        let m = Management::new("http://guest:gu%40st+1@127.0.0.1:15672").unwrap();
        let n = &m.nodes[0];
        assert_eq!((n.user.as_str(), n.password.as_str()), ("guest", "gu@st+1"));
        assert_eq!(n.base.as_str(), "http://127.0.0.1:15672/");
    }

    #[test]
    fn a_list_names_one_node_each_and_nothing_is_an_error() {
        let m = Management::new("http://a:1@n1:15672, http://b:2@n2:15672,").unwrap();
        let hosts: Vec<_> = m.nodes.iter().map(|n| n.base.host_str()).collect();
        assert_eq!(hosts, [Some("n1"), Some("n2")]);
        assert_eq!(m.nodes[1].user, "b");
        assert!(Management::new(" , ").is_err());
        assert!(Management::new("http://ok:1@n1,not a url").is_err());
    }
}
