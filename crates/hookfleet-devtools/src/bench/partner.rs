//! The partner dialect of the bench: an installation and a key scoped to it.
use anyhow::Context;
use serde_json::{Value, json};

/// The installation partner-dialect runs post for.
pub(super) const BENCH_INSTALLATION: &str = "bench-installation";

/// Creates the bench's installation and a key scoped to it; returns the key.
pub(super) async fn key(http: &reqwest::Client, api: &str, admin: &str) -> anyhow::Result<String> {
    http.post(format!("{api}/v1/installations"))
        .bearer_auth(admin)
        .json(&json!({"id": BENCH_INSTALLATION}))
        .send()
        .await?
        .error_for_status()?;
    let key: Value = http
        .post(format!("{api}/v1/api-keys"))
        .bearer_auth(admin)
        .json(&json!({"name": "bench", "scopes": [format!("installation:{BENCH_INSTALLATION}")]}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    key["key"]
        .as_str()
        .map(str::to_owned)
        .context("the API returned no key")
}
