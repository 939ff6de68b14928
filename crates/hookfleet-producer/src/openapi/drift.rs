//! Whether the description says what the handlers do, read from their Rust signatures: the
//! body type a handler's extractors read and the body type its return value writes, against
//! the request body and the 2xx answers its operation (found by the handler's name) describes.
//! A handler whose body type changes while its `#[utoipa::path]` still names the old one, an
//! answer described with a type the handler does not return, or a handler missing from this
//! list (or an operation no handler here stands for) is reported. The types' own shapes need
//! no check: the components are generated from the very types (`ToSchema`), so a field added
//! to a body is in the description without a word here. `tests/it/openapi.rs` asserts the
//! report is empty.
use crate::{
    extract::{ApiJson, ApiJsonOrDefault, ApiPath, ApiQuery, RawBody},
    lifecycle::{self, Answer, Gate, LifecycleJson},
    native::{
        api_keys, changes, channels, deliveries, events, installations, pull, replays, secrets,
        subscriptions,
    },
    partner::{self, PartnerJson},
    probes,
    webhooks::{self, log},
};
use axum::{
    Extension, Json,
    extract::{Path, State, rejection::PathRejection},
    http::{HeaderMap, StatusCode},
    response::Response,
};
use serde_json::Value;
use std::{collections::BTreeSet, future::Future};
use utoipa::{IntoParams, ToSchema, openapi::path::ParameterIn};

/// A body as a signature shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Body {
    /// JSON of this type: its name and its schema, as utoipa generates them from the type.
    Json(String, Value),
    /// No body.
    None,
    /// Not typed in the signature (raw bytes checked by hand, plain text): not compared.
    Unchecked,
}

/// The body `T` is: its component's name and schema, generated from the type.
fn json<T: ToSchema>() -> Body {
    let schema = serde_json::to_value(T::schema()).unwrap_or_default();
    Body::Json(T::name().into_owned(), schema)
}

/// What one argument of a handler reads of the request body, and of its query.
trait Reads {
    fn body() -> Body {
        Body::None
    }
    /// The query parameters it reads (`None`: it reads no query).
    fn query() -> Option<Vec<String>> {
        None
    }
}

impl<T> Reads for State<T> {}
impl<T> Reads for Extension<T> {}
impl<T> Reads for ApiPath<T> {}
impl<T: IntoParams> Reads for ApiQuery<T> {
    fn query() -> Option<Vec<String>> {
        let params = T::into_params(|| Some(ParameterIn::Query));
        Some(params.into_iter().map(|p| p.name).collect())
    }
}
impl<T> Reads for Result<Path<T>, PathRejection> {}
impl Reads for HeaderMap {}
impl Reads for Gate {}
impl<T: ToSchema> Reads for ApiJson<T> {
    fn body() -> Body {
        json::<T>()
    }
}
impl<T: ToSchema> Reads for ApiJsonOrDefault<T> {
    fn body() -> Body {
        json::<T>()
    }
}
impl Reads for LifecycleJson {
    fn body() -> Body {
        json::<hookfleet_core::lifecycle::Call>()
    }
}
impl Reads for PartnerJson {
    fn body() -> Body {
        json::<partner::CreateEvent>()
    }
}
impl Reads for RawBody {
    // The hook checks a signature over the bytes before it decodes them.
    fn body() -> Body {
        Body::Unchecked
    }
}

/// What a handler's return value writes as its body.
trait Answers {
    fn body() -> Body;
}

impl<T: ToSchema> Answers for Json<T> {
    fn body() -> Body {
        json::<T>()
    }
}
impl<T: ToSchema> Answers for (StatusCode, Json<T>) {
    fn body() -> Body {
        json::<T>()
    }
}
impl Answers for StatusCode {
    fn body() -> Body {
        Body::None
    }
}
impl<T: Answers, E> Answers for Result<T, E> {
    fn body() -> Body {
        T::body()
    }
}
impl Answers for Answer {
    fn body() -> Body {
        json::<lifecycle::Body>()
    }
}
impl Answers for Response {
    fn body() -> Body {
        Body::Unchecked
    }
}
impl Answers for &'static str {
    fn body() -> Body {
        Body::Unchecked
    }
}

/// A handler's signature: what it reads and what it answers.
trait Signature<Args> {
    fn reads() -> Body;
    fn query() -> Vec<String>;
    fn answers() -> Body;
}

fn first(bodies: &[Body]) -> Body {
    bodies
        .iter()
        .find(|b| **b != Body::None)
        .cloned()
        .unwrap_or(Body::None)
}

macro_rules! signature {
    ($($arg:ident),*) => {
        impl<F, Fut, $($arg: Reads),*> Signature<($($arg,)*)> for F
        where
            F: Fn($($arg),*) -> Fut,
            Fut: Future,
            Fut::Output: Answers,
        {
            fn reads() -> Body {
                first(&[$($arg::body()),*])
            }
            fn query() -> Vec<String> {
                let read: [Option<Vec<String>>; 0 $(+ { let _ = stringify!($arg); 1 })*] =
                    [$($arg::query()),*];
                read.into_iter().flatten().flatten().collect()
            }
            fn answers() -> Body {
                Fut::Output::body()
            }
        }
    };
}
signature!();
signature!(A);
signature!(A, B);
signature!(A, B, C);
signature!(A, B, C, D);
signature!(A, B, C, D, E);

/// One handler's report against `spec`.
struct Check<'a> {
    spec: &'a Value,
    seen: BTreeSet<String>,
    problems: Vec<String>,
}

/// The component a schema names (through `oneOf` for an optional body), if any.
fn component(schema: &Value) -> Option<String> {
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        return r.rsplit('/').next().map(str::to_owned);
    }
    schema.get("oneOf")?.as_array()?.iter().find_map(component)
}

impl Check<'_> {
    /// The body `content` describes: its component's name and schema.
    fn described(&self, content: Option<&Value>) -> Body {
        match content.and_then(|c| c.get("application/json")) {
            Some(json) => component(&json["schema"])
                .map(|name| {
                    let schema = self.spec["components"]["schemas"][&name].clone();
                    Body::Json(name, schema)
                })
                .unwrap_or(Body::Unchecked),
            None if content.is_some() => Body::Unchecked,
            None => Body::None,
        }
    }
}

/// `schema` with every `$ref` to a component replaced by the component, so a schema that
/// refers to a component and one that holds it inline (as a generic type's component holds
/// its arguments) compare equal when they say the same.
fn resolved(schema: &Value, components: &Value, depth: usize) -> Value {
    match schema {
        Value::Object(o) => {
            if let Some(name) = o
                .get("$ref")
                .and_then(Value::as_str)
                .and_then(|r| r.strip_prefix("#/components/schemas/"))
                && depth > 0
            {
                return resolved(&components[name], components, depth - 1);
            }
            Value::Object(
                o.iter()
                    .map(|(k, v)| (k.clone(), resolved(v, components, depth)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|v| resolved(v, components, depth)).collect()),
        other => other.clone(),
    }
}

impl Check<'_> {
    /// Whether a handler's body is the one described: the same schema, under the type's name
    /// (a generic type's component is named after it and its arguments: `Page_Subscription`).
    fn agree(&self, handler: &Body, described: &Body) -> bool {
        let components = &self.spec["components"]["schemas"];
        match (handler, described) {
            (Body::Unchecked, _) => true,
            (Body::Json(name, schema), Body::Json(said, said_schema)) => {
                (said == name || said.starts_with(&format!("{name}_")))
                    && resolved(schema, components, 8) == resolved(said_schema, components, 8)
            }
            (a, b) => a == b,
        }
    }
}

impl Check<'_> {
    fn handler<F: Signature<Args>, Args>(&mut self, _: F) {
        let name = std::any::type_name::<F>().rsplit("::").next().unwrap_or("");
        let name = name.to_owned();
        let op = self.spec["paths"]
            .as_object()
            .into_iter()
            .flat_map(|p| p.values())
            .flat_map(|item| item.as_object().into_iter().flat_map(|i| i.values()))
            .find(|op| op["operationId"] == name.as_str());
        let Some(op) = op else {
            self.problems
                .push(format!("{name}: no operation of that id is described"));
            return;
        };
        self.seen.insert(name.clone());
        let reads = F::reads();
        let said = self.described(op["requestBody"].get("content"));
        if !self.agree(&reads, &said) {
            self.problems.push(format!(
                "{name}: reads {reads:?}, its description's request body is {said:?}"
            ));
        }
        let query = F::query();
        let said: Vec<String> = op["parameters"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|p| p["in"] == "query")
            .filter_map(|p| p["name"].as_str().map(str::to_owned))
            .collect();
        if query != said {
            self.problems.push(format!(
                "{name}: reads the query parameters {query:?}, its description has {said:?}"
            ));
        }
        let answers = F::answers();
        for (status, answer) in op["responses"].as_object().into_iter().flatten() {
            if !status.starts_with('2') {
                continue;
            }
            let said = self.described(answer.get("content"));
            if !self.agree(&answers, &said) {
                self.problems.push(format!(
                    "{name}: answers {answers:?}, its description's {status} is {said:?}"
                ));
            }
        }
    }
}

/// Every difference between what the handlers read and answer and what `spec` (this
/// module's description) says they do; empty when they agree.
pub fn drift(spec: &Value) -> Vec<String> {
    let mut c = Check {
        spec,
        seen: BTreeSet::new(),
        problems: Vec::new(),
    };
    c.handler(events::create_event);
    c.handler(events::create_batch);
    c.handler(events::list_events);
    c.handler(events::show_event);
    c.handler(events::event_deliveries);
    c.handler(subscriptions::create_subscription);
    c.handler(subscriptions::list_subscriptions);
    c.handler(subscriptions::get_subscription);
    c.handler(subscriptions::delete_subscription);
    c.handler(changes::update_subscription);
    c.handler(changes::enable_subscription);
    c.handler(changes::disable_subscription);
    c.handler(secrets::get_secret);
    c.handler(secrets::rotate_secret);
    c.handler(pull::rotate_pull);
    c.handler(replays::test_send);
    c.handler(replays::recover);
    c.handler(replays::retry_delivery);
    c.handler(deliveries::subscription_deliveries);
    c.handler(deliveries::all_deliveries);
    c.handler(deliveries::get_delivery);
    c.handler(api_keys::create_key);
    c.handler(api_keys::list_keys);
    c.handler(api_keys::get_key);
    c.handler(api_keys::revoke_key);
    c.handler(api_keys::rotate_key);
    c.handler(installations::create_installation);
    c.handler(installations::list_installations);
    c.handler(installations::get_installation);
    c.handler(installations::delete_installation);
    c.handler(channels::create_channel);
    c.handler(channels::list_channels);
    c.handler(channels::get_channel);
    c.handler(channels::delete_channel);
    c.handler(channels::get_event);
    c.handler(partner::partner_event);
    c.handler(lifecycle::lifecycle_create);
    c.handler(lifecycle::lifecycle_update);
    c.handler(lifecycle::lifecycle_close);
    c.handler(webhooks::webhook_create);
    c.handler(webhooks::webhook_list);
    c.handler(webhooks::webhook_get);
    c.handler(webhooks::webhook_delete);
    c.handler(webhooks::webhook_enable);
    c.handler(webhooks::webhook_disable);
    c.handler(log::webhook_test);
    c.handler(log::webhook_log);
    c.handler(crate::keycloak::keycloak_hook);
    c.handler(probes::healthz);
    c.handler(probes::readyz);
    c.handler(super::openapi_json);
    let every: BTreeSet<String> = spec["paths"]
        .as_object()
        .into_iter()
        .flat_map(|p| p.values())
        .flat_map(|item| item.as_object().into_iter().flat_map(|i| i.values()))
        .filter_map(|op| op["operationId"].as_str().map(str::to_owned))
        .collect();
    for missing in every.difference(&c.seen) {
        c.problems.push(format!(
            "{missing}: described, but no handler here stands for it (add it to `drift`)"
        ));
    }
    c.problems
}
