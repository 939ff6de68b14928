//! The API as a test calls it: requests with the admin token, and waits for what the fleet
//! records.
use crate::{TOKEN, TestApp};
use serde_json::Value;
use std::time::Duration;

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.api)
    }

    /// POSTs JSON with the admin token.
    pub async fn post(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// POSTs these exact bytes as `application/json` with the admin token, for bodies
    /// `serde_json` would never write (lone surrogates, NUL escapes, deep nesting).
    pub async fn post_raw(&self, path: &str, body: impl Into<reqwest::Body>) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .bearer_auth(TOKEN)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    /// PATCHes JSON with the admin token.
    pub async fn patch(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .patch(self.url(path))
            .bearer_auth(TOKEN)
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .bearer_auth(TOKEN)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a subscription and returns its JSON (with `id` and `secret`); panics unless 201.
    pub async fn subscribe(&self, body: Value) -> Value {
        let res = self.post("/v1/subscriptions", &body).await;
        let status = res.status();
        let json: Value = res.json().await.expect("JSON body");
        assert_eq!(status, 201, "creating a subscription failed: {json}");
        json
    }

    /// Posts an event and returns its id; panics unless 202.
    pub async fn publish(&self, body: Value) -> String {
        let res = self.post("/v1/events", &body).await;
        let status = res.status();
        let json: Value = res.json().await.expect("JSON body");
        assert_eq!(status, 202, "posting an event failed: {json}");
        json["id"].as_str().expect("an event id").to_owned()
    }

    /// The delivery log of one event (`data` array), or an empty list while it is unknown.
    pub async fn deliveries(&self, event_id: &str) -> Vec<Value> {
        let res = self.get(&format!("/v1/events/{event_id}/deliveries")).await;
        if res.status() == 404 {
            return Vec::new();
        }
        let json: Value = res.json().await.expect("JSON body");
        json["data"].as_array().cloned().unwrap_or_default()
    }

    /// Waits until the event has `n` deliveries recorded, none still pending, and returns them.
    pub async fn wait_for_deliveries(&self, event_id: &str, n: usize) -> Vec<Value> {
        let mut last = Vec::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            last = self.deliveries(event_id).await;
            if last.len() >= n {
                return last;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "event {event_id} has {} deliveries recorded, expected {n}: {last:?}",
            last.len()
        );
    }

    /// Polls an event's first delivery until its status is `status`, and returns it.
    pub async fn wait_status(&self, event_id: &str, status: &str) -> Value {
        let mut last = Value::Null;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
        while tokio::time::Instant::now() < deadline {
            if let Some(d) = self.deliveries(event_id).await.into_iter().next() {
                if d["status"] == status {
                    return d;
                }
                last = d;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("event {event_id} never reached {status}: {last}");
    }
}
