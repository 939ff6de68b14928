//! OpenAPI links: which answer's id names the resource other operations take in their path
//! (a made subscription's `id` for `GET /v1/subscriptions/{id}`, …). Readers learn how the
//! routes chain; schemathesis's stateful phase follows them, so the routes on an id reach their
//! real work on resources that exist instead of answering 404 to made-up ids.
use utoipa::openapi::{OpenApi, link::LinkBuilder};

/// (path, method, status) of an answer → (operation id, path parameter, where its value is).
type Links = (&'static str, &'static str, &'static str, &'static [Target]);
type Target = (&'static str, &'static str, &'static str);

const SUBSCRIPTION_ID: &str = "$response.body#/id";

const LINKS: &[Links] = &[
    (
        "/v1/subscriptions",
        "post",
        "201",
        &[
            ("get_subscription", "id", SUBSCRIPTION_ID),
            ("update_subscription", "id", SUBSCRIPTION_ID),
            ("enable_subscription", "id", SUBSCRIPTION_ID),
            ("disable_subscription", "id", SUBSCRIPTION_ID),
            ("get_secret", "id", SUBSCRIPTION_ID),
            ("rotate_secret", "id", SUBSCRIPTION_ID),
            ("rotate_pull", "id", SUBSCRIPTION_ID),
            ("test_send", "id", SUBSCRIPTION_ID),
            ("recover", "id", SUBSCRIPTION_ID),
            ("subscription_deliveries", "id", SUBSCRIPTION_ID),
            ("delete_subscription", "id", SUBSCRIPTION_ID),
        ],
    ),
    (
        "/v1/subscriptions/{id}/test",
        "post",
        "202",
        &[
            ("get_delivery", "id", "$response.body#/delivery_id"),
            ("retry_delivery", "id", "$response.body#/delivery_id"),
        ],
    ),
    (
        "/v1/events",
        "post",
        "202",
        &[
            ("show_event", "id", "$response.body#/id"),
            ("event_deliveries", "id", "$response.body#/id"),
        ],
    ),
    (
        "/v1/api-keys",
        "post",
        "201",
        &[
            ("get_key", "id", "$response.body#/id"),
            ("rotate_key", "id", "$response.body#/id"),
            ("revoke_key", "id", "$response.body#/id"),
        ],
    ),
    (
        "/v1/installations",
        "post",
        "201",
        &[
            ("get_installation", "id", "$response.body#/id"),
            ("partner_event", "id", "$response.body#/id"),
            ("delete_installation", "id", "$response.body#/id"),
        ],
    ),
    (
        "/v1/channels",
        "post",
        "201",
        &[
            ("get_channel", "id", "$response.body#/id"),
            ("delete_channel", "id", "$response.body#/id"),
        ],
    ),
    (
        "/v1/webhooks",
        "post",
        "201",
        &[
            ("webhook_get", "id", "$response.body#/id"),
            ("webhook_log", "id", "$response.body#/id"),
            ("webhook_enable", "id", "$response.body#/id"),
            ("webhook_disable", "id", "$response.body#/id"),
            ("webhook_delete", "id", "$response.body#/id"),
        ],
    ),
];

/// Adds [`LINKS`] to the answers they start from.
pub(crate) fn add_links(api: &mut OpenApi) {
    for (path, method, status, targets) in LINKS {
        let Some(item) = api.paths.paths.get_mut(*path) else {
            continue;
        };
        let op = match *method {
            "post" => item.post.as_mut(),
            _ => item.get.as_mut(),
        };
        let Some(utoipa::openapi::RefOr::T(answer)) =
            op.and_then(|op| op.responses.responses.get_mut(*status))
        else {
            continue;
        };
        for (operation, parameter, value) in *targets {
            let link = LinkBuilder::new()
                .operation_id(*operation)
                .parameter(*parameter, *value)
                .build();
            answer.links.insert((*operation).to_owned(), link.into());
        }
    }
}

/// utoipa 5.5 writes a link's `operationId` as `operation_id` (its `Link` lacks serde's
/// camelCase renaming), which no reader understands; this renames it in the written
/// description.
pub(crate) fn fix_link_names(spec: &mut serde_json::Value) {
    let Some(paths) = spec.get_mut("paths").and_then(|p| p.as_object_mut()) else {
        return;
    };
    let answers = paths
        .values_mut()
        .filter_map(|item| item.as_object_mut())
        .flat_map(|item| item.values_mut())
        .filter_map(|op| op.get_mut("responses")?.as_object_mut())
        .flat_map(|responses| responses.values_mut());
    for answer in answers {
        let Some(links) = answer.get_mut("links").and_then(|l| l.as_object_mut()) else {
            continue;
        };
        for link in links.values_mut().filter_map(|l| l.as_object_mut()) {
            if let Some(id) = link.remove("operation_id") {
                link.insert("operationId".to_owned(), id);
            }
        }
    }
}
