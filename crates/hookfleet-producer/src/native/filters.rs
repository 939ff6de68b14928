//! The log's and listings' query filters, each held to the rules events are posted under, so
//! no NUL or stray byte reaches a query and a bad one is a 422 naming its field.
use crate::error::{ApiError, AppResult};
use hookfleet_core::Invalid;
use time::{OffsetDateTime, format_description::well_known::Rfc3339};

pub(crate) fn parse_time(field: &'static str, s: &str) -> AppResult<OffsetDateTime> {
    OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|_| ApiError::invalid(Invalid::new(field, "must be an RFC 3339 timestamp")))
}

pub(crate) fn event_type(t: &str) -> AppResult<String> {
    hookfleet_core::event::validate_event_type(t).map_err(ApiError::invalid)?;
    Ok(t.to_owned())
}

pub(crate) fn organization(o: &str) -> AppResult<String> {
    hookfleet_core::event::validate_scope("organization_id", Some(vec![o.to_owned()]))
        .map_err(ApiError::invalid)?
        .and_then(|mut o| o.pop())
        .ok_or_else(|| ApiError::invalid(Invalid::new("organization_id", "must not be empty")))
}

pub(crate) fn subscription(id: &str) -> AppResult<hookfleet_core::SubscriptionId> {
    hookfleet_core::SubscriptionId::parse(id).ok_or_else(|| {
        ApiError::invalid(Invalid::new("subscription_id", "must be a subscription id"))
    })
}

/// A listing's type and organization filters, as both the event listing and the delivery log
/// take them.
pub(crate) fn type_and_organization(
    event_type: Option<&str>,
    organization_id: Option<&str>,
) -> AppResult<(Option<String>, Option<String>)> {
    Ok((
        event_type.map(self::event_type).transpose()?,
        organization_id.map(organization).transpose()?,
    ))
}
