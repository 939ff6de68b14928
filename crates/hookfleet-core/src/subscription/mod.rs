//! What a subscription asks for and the rules its request must meet. Whether its URL
//! resolves to a private address needs DNS, so that check lives in the producer.
use crate::{Invalid, event::validate_scope, routing};
use serde::Deserialize;

mod update;
pub use update::SubscriptionUpdate;

pub const MAX_PATTERNS: usize = 50;
pub const MAX_BINDINGS: usize = 1_000;
pub const MAX_URL_LEN: usize = 2_048;
pub const MAX_DESCRIPTION_LEN: usize = 1_024;

/// Checks a subscription's free-text description.
pub fn validate_description(d: &str) -> Result<(), Invalid> {
    crate::storable::check_text("description", d, MAX_DESCRIPTION_LEN)
}
pub const DEFAULT_MAX_IN_FLIGHT: u32 = 16;
pub const MAX_IN_FLIGHT_LIMIT: u32 = 1_000;

/// `fifo`: one message at a time, in queue order, fleet-wide (fixed at creation).
// How a subscription's messages are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Ordering {
    // Deliveries run concurrently and retries wait on the ladder while later messages go on.
    Unordered,
    // One message at a time, in queue order; a failing message holds the ones behind it.
    Fifo,
}

impl Ordering {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unordered => "unordered",
            Self::Fifo => "fifo",
        }
    }
}

/// Where a subscription's copies wait until they are delivered.
// `own`: a queue of its own, bound to the events exchange (FIFO and pull subscriptions, one
// that asked for it, or every one in a fleet without shard queues). `shared`: one of the
// fleet's shard queues, shared with other subscriptions, each copy naming its subscription
// (the default for unordered push subscriptions). `hot`: a shared-tier subscription given a
// queue of its own for a while (its backlog outgrew its share of the shard, or it is disabled
// with copies waiting); it goes back to its shard once idle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    Own,
    Shared,
    Hot,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Own => "own",
            Self::Shared => "shared",
            Self::Hot => "hot",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Own, Self::Shared, Self::Hot]
            .into_iter()
            .find(|t| t.as_str() == s)
    }

    /// Whether the router makes this subscription's copies itself (no binding on the events
    /// exchange): the shared tier, hot or not.
    pub fn routed_by_router(self) -> bool {
        self != Self::Own
    }
}

/// A password for a pull subscription's broker user: 192 random bits, URL-safe.
pub fn random_password() -> String {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let mut bytes = [0u8; 24];
    getrandom::fill(&mut bytes).expect("the operating system's random source is available");
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `push` (HTTP calls to `url`) or `pull` (the owner reads its queue over AMQP).
// How copies reach a subscriber.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema), schema(as = DeliveryMode))]
#[serde(rename_all = "lowercase")]
pub enum Delivery {
    // Workers POST each copy to the subscription's URL.
    #[default]
    Push,
    // Workers put each rendered copy on the subscription's own queue, which its owner reads
    // with any AMQP 0-9-1 client and the credentials it was given; no HTTP call.
    Pull,
}

impl Delivery {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Push => "push",
            Self::Pull => "pull",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Push, Self::Pull]
            .into_iter()
            .find(|d| d.as_str() == s)
    }
}

/// Which copies a subscription receives: type patterns, and the organizations and partitions
/// it is limited to (`None`: all). Valid by construction.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filters {
    pub event_types: Vec<String>,
    pub organizations: Option<Vec<String>>,
    pub partitions: Option<Vec<String>>,
}

impl Filters {
    /// Checks every pattern and scope value, drops repeats, and refuses a combination that
    /// would need more bindings, or longer binding keys, than the broker should carry.
    pub fn new(
        event_types: Vec<String>,
        organizations: Option<Vec<String>>,
        partitions: Option<Vec<String>>,
    ) -> Result<Self, Invalid> {
        if event_types.is_empty() || event_types.len() > MAX_PATTERNS {
            return Err(Invalid::new(
                "event_types",
                format!("give 1 to {MAX_PATTERNS} patterns"),
            ));
        }
        let mut patterns: Vec<String> = Vec::new();
        for p in event_types {
            validate_pattern(&p)?;
            if !patterns.contains(&p) {
                patterns.push(p);
            }
        }
        let filters = Self {
            event_types: patterns,
            organizations: validate_scope("organizations", organizations)?,
            partitions: validate_scope("partitions", partitions)?,
        };
        // Counted before any key is built: the product of three lists can be large, and a
        // request refused for it must not cost memory first.
        let count = |l: &Option<Vec<String>>| l.as_ref().map_or(1, Vec::len);
        let bindings =
            filters.event_types.len() * count(&filters.organizations) * count(&filters.partitions);
        if bindings > MAX_BINDINGS {
            return Err(Invalid::new(
                "event_types",
                format!("patterns × organizations × partitions must not exceed {MAX_BINDINGS}"),
            ));
        }
        let keys = filters.binding_keys();
        if keys.iter().any(|k| k.len() > routing::MAX_KEY_LEN) {
            return Err(Invalid::new(
                "event_types",
                "a pattern with its scope is too long to bind",
            ));
        }
        Ok(filters)
    }

    /// One binding key per pattern × partition × organization.
    pub fn binding_keys(&self) -> Vec<String> {
        routing::binding_keys(
            &self.event_types,
            self.partitions.as_deref(),
            self.organizations.as_deref(),
        )
    }
}

/// Parses a ladder given as a list of durations.
pub fn validate_ladder(rungs: &[String]) -> Result<crate::Ladder, Invalid> {
    let parsed = rungs
        .iter()
        .map(|r| crate::parse_duration(r))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| Invalid::new("retry_ladder", e))?;
    crate::Ladder::new(parsed).map_err(|e| Invalid::new("retry_ladder", e))
}

pub fn validate_max_in_flight(n: u32) -> Result<u32, Invalid> {
    if n == 0 || n > MAX_IN_FLIGHT_LIMIT {
        return Err(Invalid::new(
            "max_in_flight",
            format!("must be 1 to {MAX_IN_FLIGHT_LIMIT}"),
        ));
    }
    Ok(n)
}

pub fn validate_rate_limit(n: u32) -> Result<u32, Invalid> {
    if n == 0 || n > 100_000 {
        return Err(Invalid::new("rate_limit_per_s", "must be 1 to 100000"));
    }
    Ok(n)
}

/// Parses and checks a subscription URL.
pub fn validate_url(s: &str) -> Result<url::Url, Invalid> {
    if s.len() > MAX_URL_LEN {
        return Err(Invalid::new(
            "url",
            format!("at most {MAX_URL_LEN} characters"),
        ));
    }
    let url = url::Url::parse(s)
        .map_err(|e| Invalid::new("url", format!("is not an absolute URL: {e}")))?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(Invalid::new(
            "url",
            "must be an http or https URL with a host",
        ));
    }
    // A password in the URL would be shown back by every read of the subscription and sent
    // as Basic auth without anyone saying so; the signature is how a receiver authenticates.
    if !url.username().is_empty() || url.password().is_some() {
        return Err(Invalid::new(
            "url",
            "must not carry a user name or password",
        ));
    }
    Ok(url)
}

/// `POST /v1/subscriptions`.
// Unknown fields are rejected.
#[derive(Debug, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct NewSubscription {
    /// Required for push delivery, absent for pull.
    #[serde(default)]
    #[cfg_attr(
        feature = "openapi",
        schema(
            example = "http://127.0.0.1:9/hook",
            pattern = r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[A-Za-z0-9._~/-]*)?$",
            max_length = 2048
        )
    )]
    pub url: Option<String>,
    /// AMQP topic patterns on the dot-separated type (`*` one word, `#` zero or more).
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 50, value_type = Vec<crate::openapi::TypePattern>))]
    pub event_types: Vec<String>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100, value_type = Option<Vec<crate::openapi::ScopeValue>>))]
    pub organizations: Option<Vec<String>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(min_items = 1, max_items = 100, value_type = Option<Vec<crate::openapi::ScopeValue>>))]
    pub partitions: Option<Vec<String>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 1024))]
    pub description: Option<String>,
    /// Durations such as `5s`, `30s`, `5m`; `[]` for no retries.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Vec<crate::openapi::Duration>>))]
    pub retry_ladder: Option<Vec<String>>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1, maximum = 1000))]
    pub max_in_flight: Option<u32>,
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 1))]
    pub rate_limit_per_s: Option<u32>,
    #[serde(default)]
    pub ordering: Option<Ordering>,
    // How its requests are rendered; `standard-webhooks` when absent.
    #[serde(default)]
    pub profile: Option<crate::render::Profile>,
    // `push` (default) or `pull`, fixed at creation.
    #[serde(default)]
    pub delivery: Option<Delivery>,
    // `own` or `shared` (the fleet decides when absent: shared for unordered push
    // subscriptions while the fleet has shard queues); fixed at creation.
    #[serde(default)]
    pub tier: Option<Tier>,
}

/// A validated subscription request.
#[derive(Debug, Clone)]
pub struct SubscriptionSpec {
    /// `None` for a pull subscription.
    pub url: Option<url::Url>,
    pub delivery: Delivery,
    pub filters: Filters,
    pub description: Option<String>,
    pub retry_ladder: Option<crate::Ladder>,
    pub max_in_flight: u32,
    pub rate_limit_per_s: Option<u32>,
    pub ordering: Ordering,
    pub profile: crate::render::Profile,
    /// The tier asked for (`own` or `shared`); `None`: the fleet's choice.
    pub tier: Option<Tier>,
}

/// A pattern is dot-separated words, each a literal word, `*` (one word) or `#` (any number).
pub fn validate_pattern(p: &str) -> Result<(), Invalid> {
    let word_ok = |w: &str| {
        w == "*"
            || w == "#"
            || (!w.is_empty()
                && w.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-'))
    };
    if p.is_empty() || p.len() > crate::event::MAX_TYPE_LEN || !p.split('.').all(word_ok) {
        return Err(Invalid::new(
            "event_types",
            format!(
                "`{p}` is not a pattern: use dot-separated words, `*` for one word, `#` for any number"
            ),
        ));
    }
    Ok(())
}

impl NewSubscription {
    /// A tier a client may ask for: `hot` is the fleet's to give, and FIFO and pull
    /// subscriptions need a queue of their own.
    fn check_tier(&self, tier: Tier) -> Result<Tier, Invalid> {
        let own_only =
            self.ordering == Some(Ordering::Fifo) || self.delivery == Some(Delivery::Pull);
        match tier {
            Tier::Hot => Err(Invalid::new(
                "tier",
                "is `own` or `shared`; `hot` is given by the fleet",
            )),
            Tier::Shared if own_only => Err(Invalid::new(
                "tier",
                "FIFO and pull subscriptions have a queue of their own: `own`",
            )),
            t => Ok(t),
        }
    }

    pub fn validate(self) -> Result<SubscriptionSpec, Invalid> {
        let tier = self.tier.map(|t| self.check_tier(t)).transpose()?;
        Ok(SubscriptionSpec {
            url: match (self.delivery.unwrap_or_default(), &self.url) {
                (Delivery::Push, Some(u)) => Some(validate_url(u)?),
                (Delivery::Push, None) => return Err(Invalid::new("url", "is required")),
                (Delivery::Pull, None) => None,
                (Delivery::Pull, Some(_)) => {
                    return Err(Invalid::new(
                        "url",
                        "must not be sent for a pull subscription (it is read from its queue)",
                    ));
                }
            },
            delivery: self.delivery.unwrap_or_default(),
            filters: Filters::new(self.event_types, self.organizations, self.partitions)?,
            description: self
                .description
                .map(|d| validate_description(&d).map(|()| d))
                .transpose()?,
            retry_ladder: self
                .retry_ladder
                .as_deref()
                .map(validate_ladder)
                .transpose()?,
            max_in_flight: validate_max_in_flight(
                self.max_in_flight.unwrap_or(DEFAULT_MAX_IN_FLIGHT),
            )?,
            rate_limit_per_s: self.rate_limit_per_s.map(validate_rate_limit).transpose()?,
            ordering: self.ordering.unwrap_or(Ordering::Unordered),
            profile: self.profile.unwrap_or_default(),
            tier,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(j: &str) -> Result<SubscriptionSpec, Invalid> {
        serde_json::from_str::<NewSubscription>(j)
            .unwrap()
            .validate()
    }

    #[test]
    fn accepts_wildcards_and_rejects_bad_patterns_and_urls() {
        assert!(parse(r##"{"url":"https://example.com/h","event_types":["user.*","#"]}"##).is_ok());
        assert_eq!(
            parse(r#"{"url":"ftp://x/","event_types":["a"]}"#)
                .unwrap_err()
                .field,
            "url"
        );
        assert_eq!(
            parse(r#"{"url":"nope","event_types":["a"]}"#)
                .unwrap_err()
                .field,
            "url"
        );
        assert_eq!(
            parse(r#"{"url":"http://x/","event_types":[]}"#)
                .unwrap_err()
                .field,
            "event_types"
        );
        assert_eq!(
            parse(r#"{"url":"http://x/","event_types":["a*"]}"#)
                .unwrap_err()
                .field,
            "event_types"
        );
        assert_eq!(
            parse(r#"{"url":"http://u:pw@x/","event_types":["a"]}"#)
                .unwrap_err()
                .field,
            "url"
        );
        assert_eq!(
            parse(r#"{"url":"http://x/","event_types":["a"],"description":"a\u0000b"}"#)
                .unwrap_err()
                .field,
            "description"
        );
    }

    #[test]
    fn the_binding_limit_is_checked_before_any_key_is_built() {
        let types: Vec<String> = (0..50).map(|i| format!("t{i}")).collect();
        let scope: Vec<String> = (0..100).map(|i| format!("v{i}")).collect();
        let err = Filters::new(types, Some(scope.clone()), Some(scope)).unwrap_err();
        assert_eq!(err.field, "event_types");
    }
}
