//! The PCA profile (source document 003). The body is the event's data itself, as the
//! document's example shows it, with the copy's `organization_id` and `service_partition` set
//! in it, so two copies of one event differ only there. The document's attributes travel as
//! headers: `X-PCA-Event-APIKey` (the subscription's current secret: receivers accept it and,
//! during a rotation's grace, the previous one, both listed by `GET
//! /v1/subscriptions/{id}/secret`), `X-PCA-Event-Type`, `X-PCA-Event-Type-Version` (`1` unless
//! the source said), `X-PCA-Event-Sender` (`service` unless the source said),
//! `X-PCA-Event-SourceClient`, `X-PCA-Event-SourceOrganizationId` and
//! `X-PCA-Event-SourceServicePartition` when known, and `X-PCA-service-partition` (the copy's
//! partition). The Standard Webhooks headers come too, so a receiver may also check a
//! signature and de-duplicate on `webhook-id`.
use super::{Request, standard_webhooks};
use crate::{DeliveredBody, Secret, source::Sender};
use serde_json::{Map, Value};

pub const HEADER_API_KEY: &str = "x-pca-event-apikey";
pub const HEADER_TYPE: &str = "x-pca-event-type";
pub const HEADER_TYPE_VERSION: &str = "x-pca-event-type-version";
pub const HEADER_SENDER: &str = "x-pca-event-sender";
pub const HEADER_SOURCE_CLIENT: &str = "x-pca-event-sourceclient";
pub const HEADER_SOURCE_ORGANIZATION: &str = "x-pca-event-sourceorganizationid";
pub const HEADER_SOURCE_PARTITION: &str = "x-pca-event-sourceservicepartition";
pub const HEADER_PARTITION: &str = "x-pca-service-partition";

pub(super) fn render(copy: &[u8], webhook_id: &str, secrets: &[Secret], now: i64) -> Request {
    let Ok(parsed) = serde_json::from_slice::<DeliveredBody>(copy) else {
        return standard_webhooks(copy, webhook_id, secrets, now);
    };
    let mut data: Map<String, Value> = serde_json::from_str(parsed.data.get()).unwrap_or_default();
    if let Some(o) = &parsed.organization_id {
        data.insert("organization_id".into(), Value::String(o.to_string()));
    }
    if let Some(p) = &parsed.service_partition {
        data.insert("service_partition".into(), Value::String(p.to_string()));
    }
    let body = serde_json::to_vec(&data).unwrap_or_default();
    let mut request = standard_webhooks(&body, webhook_id, secrets, now);
    let source = parsed.source.unwrap_or_default();
    let mut add = |name: &'static str, value: Option<String>| {
        if let Some(v) = value {
            request.headers.push((name, v));
        }
    };
    add(HEADER_API_KEY, secrets.first().map(Secret::expose));
    add(HEADER_TYPE, Some(parsed.event_type.to_string()));
    add(
        HEADER_TYPE_VERSION,
        Some(source.type_version.unwrap_or_else(|| "1".into())),
    );
    add(
        HEADER_SENDER,
        Some(source.sender.unwrap_or(Sender::Service).as_str().to_owned()),
    );
    add(HEADER_SOURCE_CLIENT, source.client);
    add(HEADER_SOURCE_ORGANIZATION, source.organization_id);
    add(HEADER_SOURCE_PARTITION, source.service_partition);
    add(
        HEADER_PARTITION,
        parsed.service_partition.map(|p| p.to_string()),
    );
    request
}
