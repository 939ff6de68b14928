//! The API's description, `GET /openapi.json`: served without a credential, OpenAPI 3.1, and
//! complete. Every route the producer's source registers (each `.route("…"` call) must be
//! described with exactly the methods the running app answers on it (anything but 405), and
//! every described operation must be served. So a route added without its description, a
//! method added to a route, or a description left behind by a removed route fails here. And
//! each handler's body types, read from its Rust signature, must be the ones its operation
//! describes (`hookfleet_producer::openapi::drift`): the components are generated from those
//! very types, so a body's shape cannot drift from its description, and a handler whose body
//! type changes while its annotation still names the old one fails here.
use hookfleet_testkit::{TOKEN, spawn_api};
use serde_json::Value;
use std::{collections::BTreeSet, path::Path};

/// Routes served that are not operations of the API, each with why.
const NOT_DESCRIBED: &[(&str, &str)] = &[
    (
        "/event/{*rest}",
        "the lifecycle dialect's own 404 for any other `/event/…` path, in its envelope",
    ),
    (
        "/console",
        "the web console's page (HTML for people, not an API)",
    ),
    (
        "/console/",
        "the web console's page (HTML for people, not an API)",
    ),
    (
        "/console/{file}",
        "the web console's static files (JS, CSS, SVG)",
    ),
];

/// The methods a route may answer (HEAD comes with GET; OPTIONS is answered by no route).
const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Registrations this test cannot read a path from; finding one means teaching it.
const UNREAD: &[&str] = &[
    ".nest(",
    ".nest_service(",
    ".route_service(",
    ".fallback_service(",
];

/// The path of every `.route("…"` call in the producer's source, with the file it is in.
fn registered_routes() -> Vec<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../hookfleet-producer/src");
    let mut found = Vec::new();
    let mut dirs = vec![root];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the producer's source") {
            let path = entry.expect("a directory entry").path();
            if path.is_dir() {
                dirs.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read a source file");
            let file = path.display().to_string();
            for unread in UNREAD {
                assert!(
                    !text.contains(unread),
                    "{file} registers routes with `{unread}`: teach this test to read them"
                );
            }
            for (at, _) in text.match_indices(".route(") {
                let rest = text[at + ".route(".len()..].trim_start();
                let literal = rest
                    .strip_prefix('"')
                    .and_then(|r| r.split_once('"'))
                    .map(|(p, _)| p.to_owned());
                let path = literal.unwrap_or_else(|| {
                    panic!("{file}: a `.route(` whose path is not a string literal: {rest:.60}")
                });
                found.push((path, file.clone()));
            }
        }
    }
    found
}

/// `/v1/subscriptions/{id}/test` → `/v1/subscriptions/x/test`: an id no resource has.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|seg| if seg.starts_with('{') { "x" } else { seg })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test]
async fn the_description_is_openapi_3_1_and_covers_every_route_and_method_served() {
    let app = spawn_api().await;
    let res = app
        .http
        .get(app.url("/openapi.json"))
        .send()
        .await
        .expect("GET /openapi.json");
    assert_eq!(res.status(), 200, "served without a credential");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let spec: Value = res.json().await.expect("the description is JSON");
    let version = spec["openapi"].as_str().expect("an `openapi` version");
    assert!(version.starts_with("3.1."), "OpenAPI {version}, not 3.1");

    let described: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            let item = item.as_object().expect("a path item");
            METHODS
                .iter()
                .filter(|m| item.contains_key(&m.to_lowercase()))
                .map(|m| (path.clone(), (*m).to_owned()))
                .collect::<Vec<_>>()
        })
        .collect();

    let registered = registered_routes();
    assert!(
        registered.len() > 30,
        "the scan found the routes: {registered:?}"
    );
    let mut served = BTreeSet::new();
    for (path, file) in &registered {
        if NOT_DESCRIBED.iter().any(|(p, _)| p == path) {
            continue;
        }
        let mut any = false;
        for method in METHODS {
            let res = app
                .http
                .request(method.parse().unwrap(), app.url(&concrete(path)))
                .bearer_auth(TOKEN)
                .send()
                .await
                .expect("request sent");
            if res.status() != 405 {
                served.insert((path.clone(), (*method).to_owned()));
                any = true;
            }
        }
        assert!(any, "{path} (registered in {file}) answers no method");
    }

    let undescribed: Vec<_> = served.difference(&described).collect();
    let unserved: Vec<_> = described.difference(&served).collect();
    assert!(
        undescribed.is_empty(),
        "served but not in /openapi.json (document them in hookfleet-producer/src/openapi): \
         {undescribed:?}"
    );
    assert!(
        unserved.is_empty(),
        "in /openapi.json but not served: {unserved:?}"
    );
}

#[tokio::test]
async fn every_operation_states_its_security_and_its_error_answers_and_links_resolve() {
    let spec = hookfleet_producer::openapi::document().expect("the description");
    let schemes = spec["components"]["securitySchemes"]
        .as_object()
        .expect("security schemes");
    for name in ["admin_token", "api_key", "gateway_token"] {
        assert_eq!(schemes[name]["scheme"], "bearer", "{name}");
    }
    let operation_ids: BTreeSet<&str> = spec["paths"]
        .as_object()
        .expect("paths")
        .values()
        .flat_map(|item| item.as_object().expect("a path item").values())
        .filter_map(|op| op["operationId"].as_str())
        .collect();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, op) in item.as_object().expect("a path item") {
            for answer in op["responses"].as_object().expect("responses").values() {
                for link in answer["links"]
                    .as_object()
                    .into_iter()
                    .flat_map(|l| l.values())
                {
                    let target = link["operationId"].as_str().unwrap_or_default();
                    assert!(
                        operation_ids.contains(target),
                        "{method} {path} links to `{target}`, which no operation is"
                    );
                }
            }
            let security = op["security"].as_array();
            assert!(security.is_some(), "{method} {path} states no security");
            let responses = op["responses"].as_object().expect("responses");
            assert!(
                responses.contains_key("414"),
                "{method} {path}: every route answers 414 over 8 KiB"
            );
            let needs_admin = security
                .unwrap()
                .iter()
                .any(|s| s.get("admin_token").is_some());
            if needs_admin {
                for status in ["401", "403", "503"] {
                    assert!(
                        responses.contains_key(status),
                        "{method} {path} needs the admin token but does not list {status}"
                    );
                }
            }
        }
    }
}

#[test]
fn the_lifecycle_routes_describe_their_429_with_retry_after() {
    let spec = hookfleet_producer::openapi::document().expect("the description");
    for route in ["/event/create", "/event/update", "/event/close"] {
        let answer = &spec["paths"][route]["post"]["responses"]["429"];
        assert!(
            answer["description"]
                .as_str()
                .is_some_and(|d| d.contains("too_many_attempts")),
            "{route}: {answer}"
        );
        assert_eq!(
            answer["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/LifecycleAnswer",
            "{route}: in the dialect's envelope"
        );
        assert_eq!(
            answer["headers"]["Retry-After"]["schema"]["type"], "integer",
            "{route}: {answer}"
        );
    }
}

#[test]
fn every_handler_reads_and_answers_the_types_its_operation_describes() {
    let spec = hookfleet_producer::openapi::document().expect("the description");
    let drift = hookfleet_producer::openapi::drift(&spec);
    assert!(drift.is_empty(), "{drift:#?}");
}
