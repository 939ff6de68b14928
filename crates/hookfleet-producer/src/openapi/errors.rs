//! The error answers of every operation, added to the description by what the route's group
//! and extractors can answer, so they are written once rather than on each of fifty routes.
//! It mirrors the code that answers them: `app` (414 for every route), `auth` and each
//! group's auth middleware (401, 403), `extract` (400 for a body, query or path it cannot
//! read, 408, 413, 415), `error` (404, 422, 503) and each dialect's envelope (`partner`,
//! `lifecycle`, `keycloak`; the lifecycle's 429 with its `Retry-After`). A status the
//! operation already states is left as stated.
use utoipa::openapi::{
    ObjectBuilder, OpenApi, Ref, Type,
    content::ContentBuilder,
    header::{Header, HeaderBuilder},
    path::{Operation, ParameterIn},
    response::ResponseBuilder,
};

/// The route groups, each with its own auth, body handling and envelope.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Group {
    /// `/v1/…` of the native API: admin token or an `admin` key.
    Native,
    /// `/v1/webhooks…` (document 002): a key scoped to organizations, or admin.
    Webhooks,
    /// `/v1/installations/{id}/events` (document 000): its own `bad_request` envelope.
    Partner,
    /// `/event/…` (document 001): the `{success, data, error, error_code}` envelope.
    Lifecycle,
    /// `/v1/hooks/keycloak` (document 003): a signed body.
    Hook,
    /// `/healthz`, `/readyz`, `/openapi.json`.
    Probe,
}

impl Group {
    fn of(path: &str) -> Self {
        match path {
            "/healthz" | "/readyz" | "/openapi.json" => Self::Probe,
            "/v1/hooks/keycloak" => Self::Hook,
            "/v1/installations/{id}/events" => Self::Partner,
            p if p.starts_with("/event/") => Self::Lifecycle,
            p if p.starts_with("/v1/webhooks") => Self::Webhooks,
            _ => Self::Native,
        }
    }
}

/// What an operation reads besides headers.
#[derive(Debug, Clone, Copy)]
struct Reads {
    body: bool,
    path: bool,
    query: bool,
}

impl Reads {
    fn of(op: &Operation) -> Self {
        let has = |wanted: ParameterIn| {
            op.parameters
                .iter()
                .flatten()
                .any(|p| p.parameter_in == wanted)
        };
        Self {
            body: op.request_body.is_some(),
            path: has(ParameterIn::Path),
            query: has(ParameterIn::Query),
        }
    }
}

const ERROR: &str = "Error";
const LIFECYCLE: &str = "LifecycleAnswer";

/// One reason for a status: its code and when, and the envelope it comes in.
type Cause = (u16, &'static str, &'static str);

fn causes(group: Group, reads: Reads) -> Vec<Cause> {
    let mut c: Vec<Cause> = vec![(414, "`uri_too_long`: path and query over 8 KiB", ERROR)];
    match group {
        Group::Probe => {}
        Group::Native | Group::Webhooks => native(group, reads, &mut c),
        Group::Partner => c.extend([
            (
                400,
                "`bad_request`: a body, path or header the route cannot read",
                ERROR,
            ),
            (401, "`unauthorized`: missing or unknown Bearer key", ERROR),
            (
                403,
                "`forbidden`: the key is not scoped to this installation",
                ERROR,
            ),
            (404, "`not_found`: no such installation", ERROR),
            (
                408,
                "`request_timeout`: the body did not arrive in time",
                ERROR,
            ),
            (413, "`payload_too_large`: body over 64 KiB", ERROR),
            (503, "`unavailable`: nothing was accepted; retry", ERROR),
        ]),
        Group::Lifecycle => lifecycle(&mut c),
        Group::Hook => c.extend([
            (
                400,
                "`invalid_json`: a body the router could not read, the message naming the \
                field and the rule: not UTF-8 JSON the record can hold, a key twice in one \
                object, `id` or `type` missing, or a field the router reads of the wrong type \
                or length",
                ERROR,
            ),
            (
                401,
                "`unauthorized`: no valid signature by a current key",
                ERROR,
            ),
            (
                408,
                "`request_timeout`: the body did not arrive in time",
                ERROR,
            ),
            (413, "`payload_too_large`: body over the limit", ERROR),
            (
                503,
                "`unavailable`: the broker did not take it; retry",
                ERROR,
            ),
        ]),
    }
    c
}

fn native(group: Group, reads: Reads, c: &mut Vec<Cause>) {
    c.push((
        401,
        "`unauthorized`: missing or wrong Bearer credential",
        ERROR,
    ));
    c.push(if group == Group::Native {
        (
            403,
            "`forbidden`: an API key without the `admin` scope",
            ERROR,
        )
    } else {
        (
            403,
            "`forbidden`: a key scoped to no organization (nor `admin`)",
            ERROR,
        )
    });
    c.push((
        413,
        "`payload_too_large`: body over the group's limit",
        ERROR,
    ));
    c.push((
        503,
        "`unavailable`: the broker or database failed; nothing was changed",
        ERROR,
    ));
    if reads.body {
        c.extend([
            (
                400,
                "`invalid_json`: not a JSON object of the expected shape",
                ERROR,
            ),
            (
                408,
                "`request_timeout`: the body did not arrive in time",
                ERROR,
            ),
            (
                415,
                "`unsupported_media_type`: the body is not declared JSON",
                ERROR,
            ),
            (
                422,
                "`validation_failed`: a value breaks a rule (the message names it)",
                ERROR,
            ),
        ]);
    }
    if reads.path {
        c.push((
            400,
            "`invalid_path`: a path segment that is not text",
            ERROR,
        ));
        c.push((404, "`not_found`: no such resource", ERROR));
    }
    if reads.query {
        c.push((
            400,
            "`invalid_query`: an unknown parameter or a value of the wrong type",
            ERROR,
        ));
        c.push((
            422,
            "`validation_failed`: `limit`, `cursor` or a filter out of range",
            ERROR,
        ));
    }
}

fn lifecycle(c: &mut Vec<Cause>) {
    c.extend([
        (
            400,
            "`missing_field`, `field_not_allowed`, `unknown_field`, `invalid_severity`, \
            `invalid_attrs`, `invalid_field` or `invalid_json`",
            LIFECYCLE,
        ),
        (
            401,
            "`unauthorized` (the gateway token, when one is set) or `invalid_password`",
            LIFECYCLE,
        ),
        (
            403,
            "`forbidden`: an API key not scoped to this channel (nor `admin`)",
            LIFECYCLE,
        ),
        (404, "`channel_not_found` or `event_not_found`", LIFECYCLE),
        (
            408,
            "`request_timeout`: the body did not arrive in time",
            LIFECYCLE,
        ),
        (413, "`payload_too_large`: body over 32 KB", LIFECYCLE),
        (
            429,
            "`too_many_attempts`: the channel's password checks are refused for now (its queue \
            of checks is full, or it is locked after repeated wrong passwords); retry after the \
            `Retry-After` seconds",
            LIFECYCLE,
        ),
        (
            503,
            "`dispatch_failed`: nothing changed; retry with the same `op_id`",
            LIFECYCLE,
        ),
    ]);
}

/// Adds to every operation of `api` the error answers its group and extractors can give.
pub(crate) fn add_error_answers(api: &mut OpenApi) {
    for (path, item) in api.paths.paths.iter_mut() {
        let group = Group::of(path);
        let ops = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for op in ops.into_iter().flatten() {
            let mut by_status: Vec<(u16, Vec<&str>, &str)> = Vec::new();
            for (status, why, envelope) in causes(group, Reads::of(op)) {
                match by_status.iter_mut().find(|(s, _, _)| *s == status) {
                    Some((_, whys, _)) => whys.push(why),
                    None => by_status.push((status, vec![why], envelope)),
                }
            }
            by_status.sort_by_key(|(s, _, _)| *s);
            for (status, whys, envelope) in by_status {
                let mut answer = ResponseBuilder::new().description(whys.join("; ")).content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name(envelope)))
                        .build(),
                );
                if status == 429 {
                    answer = answer.header("Retry-After", retry_after());
                }
                let answer = answer.build();
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert(answer.into());
            }
        }
    }
}

/// `Retry-After` of a 429: whole seconds to wait.
fn retry_after() -> Header {
    HeaderBuilder::new()
        .schema(
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1)),
        )
        .description(Some("Seconds to wait before trying again"))
        .build()
}
