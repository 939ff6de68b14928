//! The body of `PATCH /v1/subscriptions/{id}`: the settings of a subscription that can change
//! while it runs, each absent (left as it is), set, or for the nullable ones `null` (reset).
use serde::Deserialize;

/// `PATCH /v1/subscriptions/{id}`: every field optional; `null` resets the nullable ones.
// The settings of a subscription that can change while it runs.
#[derive(Debug, Default, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct SubscriptionUpdate {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `["5s", "30s"]`; `null` returns to the fleet's ladder, `[]` means no retries.
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub retry_ladder: Option<Option<Vec<String>>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_in_flight: Option<u32>,
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<u32>))]
    pub rate_limit_per_s: Option<Option<u32>>,
    /// New type patterns (replacing the old ones; at least one).
    #[serde(default)]
    pub event_types: Option<Vec<String>>,
    /// New organization scope; `null` means every organization.
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub organizations: Option<Option<Vec<String>>>,
    /// New partition scope; `null` means every partition.
    #[serde(default, deserialize_with = "double_option")]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<String>>))]
    pub partitions: Option<Option<Vec<String>>>,
    // How its requests are rendered from now on (retries of earlier copies included).
    #[serde(default)]
    pub profile: Option<crate::render::Profile>,
}

impl SubscriptionUpdate {
    pub fn changes_filters(&self) -> bool {
        self.event_types.is_some() || self.organizations.is_some() || self.partitions.is_some()
    }
}

/// Tells "absent" (outer `None`) from "null" (`Some(None)`).
fn double_option<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}
