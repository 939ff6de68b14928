//! Where an event came from, as far as its sender knows: who caused it (a user, an admin or a
//! service), through which client, in which organization and service partition, and the version
//! of its type's shape. Source document 003's receivers read these as `X-PCA-Event-*` headers
//! (the `pca` profile); every profile's body carries them as `source` when set.
use crate::Invalid;
use serde::{Deserialize, Serialize};

/// Longest value of a source field.
pub const MAX_SOURCE_VALUE_LEN: usize = 128;

/// Who sent an event, by the source's account.
// Document 003's `eventSender`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Sender {
    User,
    Admin,
    Service,
}

impl Sender {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Admin => "admin",
            Self::Service => "service",
        }
    }
}

/// Where an event came from; each field 1 to 128 printable ASCII characters.
// Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct Source {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sender: Option<Sender>,
    /// The client the event came through (`PCAHub-PcaPlus`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[ -~]{1,128}$"))]
    pub client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[ -~]{1,128}$"))]
    pub organization_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[ -~]{1,128}$"))]
    pub service_partition: Option<String>,
    /// The version of the event type's shape (`1` when not said).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(pattern = r"^[ -~]{1,128}$"))]
    pub type_version: Option<String>,
}

impl Source {
    /// Each text value: 1 to 128 printable characters (they travel as HTTP header values).
    pub fn validate(&self) -> Result<(), Invalid> {
        for (name, v) in [
            ("source.client", &self.client),
            ("source.organization_id", &self.organization_id),
            ("source.service_partition", &self.service_partition),
            ("source.type_version", &self.type_version),
        ] {
            if let Some(v) = v
                && (v.is_empty()
                    || v.chars().count() > MAX_SOURCE_VALUE_LEN
                    || v.chars().any(|c| c.is_control() || !c.is_ascii()))
            {
                return Err(Invalid::new(
                    name,
                    format!("must be 1 to {MAX_SOURCE_VALUE_LEN} printable ASCII characters"),
                ));
            }
        }
        Ok(())
    }

    /// Whether `v` may be a source text value (see [`Source::validate`]).
    pub fn text_fits(v: &str) -> bool {
        !v.is_empty()
            && v.chars().count() <= MAX_SOURCE_VALUE_LEN
            && !v.chars().any(|c| c.is_control() || !c.is_ascii())
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}
