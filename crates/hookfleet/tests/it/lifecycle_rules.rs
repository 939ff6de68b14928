//! Every field rule of document 001, each with a call just inside its limit (taken) and one
//! just outside (refused with its error code), and a bounded property test: arbitrary JSON at
//! the three routes is answered 200 or 4xx, never 5xx, and only what was answered 200 is
//! written or dispatched.
use super::lifecycle::{PASSWORD, call, call_raw, channel};
use hookfleet_testkit::{TestApp, spawn_app};
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::{Value, json};
use std::time::Duration;

fn create_body(chn: &str) -> Value {
    json!({"channel_id": chn, "password": PASSWORD, "title": "Deploy", "status": "running",
           "message": "started", "severity": "normal", "event_time": 1713750000000u64})
}

fn update_body(chn: &str, event_id: &str) -> Value {
    json!({"channel_id": chn, "password": PASSWORD, "event_id": event_id, "status": "running",
           "message": "going", "severity": "normal", "event_time": 1713750000001u64})
}

/// `base` with `patch` applied: a `null` removes the field.
fn with(mut base: Value, patch: &Value) -> Value {
    for (k, v) in patch.as_object().unwrap() {
        if v.is_null() {
            base.as_object_mut().unwrap().remove(k);
        } else {
            base[k] = v.clone();
        }
    }
    base
}

async fn open_event(app: &TestApp, chn: &str) -> String {
    let (status, v) = call(app, "create", &create_body(chn)).await;
    assert_eq!(status, 200, "{v}");
    v["data"]["event_id"].as_str().unwrap().to_owned()
}

/// Posts `base + patch` to `route`; the status and error code.
async fn outcome(app: &TestApp, route: &str, base: Value, patch: Value) -> (u16, Option<String>) {
    let (status, v) = call(app, route, &with(base, &patch)).await;
    (status, v["error_code"].as_str().map(str::to_owned))
}

fn s(n: usize) -> String {
    "é".repeat(n)
}

const MAX_MS: u64 = 253_402_300_799_999;

#[tokio::test]
async fn every_field_rule_holds_just_inside_and_breaks_just_outside() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let ok = |code: Option<&str>| code.map(str::to_owned);
    let url = |n: usize| format!("https://img.example/{}", "a".repeat(n - 20));
    // (rule, route, patch, expected status, expected error code)
    let cases: Vec<(&str, &str, Value, u16, Option<String>)> = vec![
        (
            "event_id forbidden on create",
            "create",
            json!({"event_id": "abc"}),
            400,
            ok(Some("field_not_allowed")),
        ),
        (
            "title required on create",
            "create",
            json!({"title": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "title optional on update",
            "update",
            json!({"title": null}),
            200,
            None,
        ),
        (
            "event_id required on update",
            "update",
            json!({"event_id": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "event_id required on close",
            "close",
            json!({"event_id": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "channel_id required",
            "create",
            json!({"channel_id": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "password required",
            "create",
            json!({"password": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "password 7 characters",
            "create",
            json!({"password": "1234567"}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "password 129 characters",
            "create",
            json!({"password": "x".repeat(129)}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "status 24 characters",
            "update",
            json!({"status": s(24)}),
            200,
            None,
        ),
        (
            "status 25 characters",
            "update",
            json!({"status": s(25)}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "status empty",
            "update",
            json!({"status": ""}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "status required",
            "update",
            json!({"status": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "message 512 characters",
            "update",
            json!({"message": s(512)}),
            200,
            None,
        ),
        (
            "message 513 characters",
            "update",
            json!({"message": s(513)}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "message empty",
            "update",
            json!({"message": ""}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "message required",
            "create",
            json!({"message": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "severity critical",
            "update",
            json!({"severity": "critical"}),
            200,
            None,
        ),
        (
            "severity high",
            "update",
            json!({"severity": "high"}),
            200,
            None,
        ),
        (
            "severity low",
            "update",
            json!({"severity": "low"}),
            200,
            None,
        ),
        (
            "severity other",
            "update",
            json!({"severity": "urgent"}),
            400,
            ok(Some("invalid_severity")),
        ),
        (
            "severity in capitals",
            "update",
            json!({"severity": "HIGH"}),
            400,
            ok(Some("invalid_severity")),
        ),
        (
            "severity required",
            "update",
            json!({"severity": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "event_time 0",
            "update",
            json!({"event_time": 0}),
            200,
            None,
        ),
        (
            "event_time last ms of 9999",
            "update",
            json!({"event_time": MAX_MS}),
            200,
            None,
        ),
        (
            "event_time past 9999",
            "update",
            json!({"event_time": MAX_MS + 1}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "event_time negative",
            "update",
            json!({"event_time": -1}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "event_time fractional",
            "update",
            json!({"event_time": 1.5}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "event_time a whole double",
            "update",
            json!({"event_time": 1713750000002.0}),
            200,
            None,
        ),
        (
            "started_at a whole double",
            "create",
            json!({"started_at": 1.7e12}),
            200,
            None,
        ),
        (
            "ended_at a fraction",
            "close",
            json!({"ended_at": 1.5}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "event_time as text",
            "update",
            json!({"event_time": "1713750000000"}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "event_time required",
            "create",
            json!({"event_time": null}),
            400,
            ok(Some("missing_field")),
        ),
        (
            "started_at on create",
            "create",
            json!({"started_at": 1}),
            200,
            None,
        ),
        (
            "started_at on update",
            "update",
            json!({"started_at": 1}),
            400,
            ok(Some("field_not_allowed")),
        ),
        (
            "started_at on close",
            "close",
            json!({"started_at": 1}),
            400,
            ok(Some("field_not_allowed")),
        ),
        (
            "ended_at on create",
            "create",
            json!({"ended_at": 1}),
            400,
            ok(Some("field_not_allowed")),
        ),
        (
            "ended_at on update",
            "update",
            json!({"ended_at": 1}),
            400,
            ok(Some("field_not_allowed")),
        ),
        (
            "ended_at on close",
            "close",
            json!({"ended_at": 1}),
            200,
            None,
        ),
        (
            "32 tags",
            "update",
            json!({"tags": (0..32).map(|i| i.to_string()).collect::<Vec<_>>()}),
            200,
            None,
        ),
        (
            "33 tags",
            "update",
            json!({"tags": (0..33).map(|i| i.to_string()).collect::<Vec<_>>()}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "a tag of 64 characters",
            "update",
            json!({"tags": [s(64)]}),
            200,
            None,
        ),
        (
            "a tag of 65 characters",
            "update",
            json!({"tags": [s(65)]}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "32 images",
            "update",
            json!({"images": vec![url(40); 32]}),
            200,
            None,
        ),
        (
            "33 images",
            "update",
            json!({"images": vec![url(40); 33]}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "an image URL of 2048",
            "update",
            json!({"images": [url(2048)]}),
            200,
            None,
        ),
        (
            "an image URL of 2049",
            "update",
            json!({"images": [url(2049)]}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "an image that is no URL",
            "update",
            json!({"images": ["not a url"]}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "attrs with nested objects",
            "update",
            json!({"attrs": {"a": {"b": 1}}}),
            200,
            None,
        ),
        (
            "attrs with an array",
            "update",
            json!({"attrs": {"a": [1]}}),
            400,
            ok(Some("invalid_attrs")),
        ),
        (
            "attrs with a nested array",
            "update",
            json!({"attrs": {"a": {"b": []}}}),
            400,
            ok(Some("invalid_attrs")),
        ),
        (
            "attrs not an object",
            "update",
            json!({"attrs": [1]}),
            400,
            ok(Some("invalid_attrs")),
        ),
        (
            "metadata scalars",
            "update",
            json!({"metadata": {"a": "x", "b": 1.5, "c": true}}),
            200,
            None,
        ),
        (
            "metadata key of 64",
            "update",
            json!({"metadata": {s(64): "x"}}),
            200,
            None,
        ),
        (
            "metadata key of 65",
            "update",
            json!({"metadata": {s(65): "x"}}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "metadata value of 512",
            "update",
            json!({"metadata": {"k": s(512)}}),
            200,
            None,
        ),
        (
            "metadata value of 513",
            "update",
            json!({"metadata": {"k": s(513)}}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "metadata object value",
            "update",
            json!({"metadata": {"k": {}}}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "metadata null value",
            "update",
            json!({"metadata": {"k": null}}),
            400,
            ok(Some("invalid_field")),
        ),
        (
            "thing_id passed through",
            "update",
            json!({"thing_id": "3b7fd2e87d7d4d6d9c7f3a318ac21f02"}),
            200,
            None,
        ),
        (
            "ciphertext passed through",
            "update",
            json!({"ciphertext": "b64:AAAA"}),
            200,
            None,
        ),
        (
            "an unknown field",
            "update",
            json!({"colour": "red"}),
            400,
            ok(Some("unknown_field")),
        ),
    ];
    let event_id = open_event(&app, &chn).await;
    for (rule, route, patch, status, code) in cases {
        let base = match route {
            "create" => create_body(&chn),
            "update" => update_body(&chn, &event_id),
            // Each close ends its event, so each gets a fresh one.
            _ => update_body(&chn, &open_event(&app, &chn).await),
        };
        let got = outcome(&app, route, base, patch).await;
        assert_eq!(got, (status, code), "{rule}");
    }
}

/// `body` with `"event_time":<ms>` replaced by `text`, so a number is sent exactly as written.
fn with_time(body: &Value, field: &str, text: &str) -> String {
    let mut body = body.clone();
    body[field] = json!(0);
    body.to_string()
        .replace(&format!("\"{field}\":0"), &format!("\"{field}\":{text}"))
}

/// Document 001's times are Unix milliseconds, a number: Python's `dt.timestamp() * 1000` and
/// Jackson's doubles write them as whole floats (`1800000000000.0`, `1.8e12`). Those are taken,
/// and stored and delivered as the integer; a fraction is refused naming its field, even one a
/// double would round away, and changes nothing.
#[tokio::test]
async fn times_written_as_whole_floats_are_integer_milliseconds_and_fractions_are_refused() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let rx = hookfleet_testkit::Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["event.*"]}))
        .await;
    let create = with_time(&create_body(&chn), "event_time", "1.8e12");
    let create = create.replace('}', ",\"started_at\":1800000000000.0}");
    let (status, v) = call_raw(&app, "create", None, &create).await;
    assert_eq!(status, 200, "{v}");
    let event_id = v["data"]["event_id"].as_str().unwrap().to_owned();
    let state = format!("/v1/channels/{chn}/events/{event_id}");

    let ops = app.count("lifecycle_ops").await;
    for (route, field, text) in [
        ("update", "event_time", "1800000000000.5"),
        ("update", "event_time", "1800000000000.0000001"),
        ("update", "event_time", "-1.8e12"),
        ("update", "event_time", "2.6e14"),
        ("close", "ended_at", "1.8000000000015e12"),
        ("close", "event_time", "18000000000001e-1"),
    ] {
        let (status, v) = call_raw(
            &app,
            route,
            None,
            &with_time(&update_body(&chn, &event_id), field, text),
        )
        .await;
        assert_eq!(status, 400, "{field} {text}: {v}");
        assert_eq!(v["error_code"], "invalid_field", "{field} {text}");
        let message = v["error"].as_str().unwrap();
        assert!(message.starts_with(&format!("{field}: ")), "{message}");
    }
    assert_eq!(
        app.count("lifecycle_ops").await,
        ops,
        "refusals change nothing"
    );

    let update = with_time(
        &update_body(&chn, &event_id),
        "event_time",
        "1800000000001.0",
    );
    assert_eq!(call_raw(&app, "update", None, &update).await.0, 200);
    let close = with_time(
        &update_body(&chn, &event_id),
        "event_time",
        "1.800000000002E12",
    );
    let close = close.replace('}', ",\"ended_at\":18000000000030e-1}");
    assert_eq!(call_raw(&app, "close", None, &close).await.0, 200);

    let res = app.get(&state).await;
    let text = res.text().await.unwrap();
    assert!(
        !text.contains("1800000000000.0"),
        "stored as integers: {text}"
    );
    let stored: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(stored["started_at"].as_u64(), Some(1_800_000_000_000));
    assert_eq!(stored["event_time"].as_u64(), Some(1_800_000_000_002));
    assert_eq!(stored["ended_at"].as_u64(), Some(1_800_000_000_003));
    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    let mut times: Vec<(String, Option<u64>)> = got
        .iter()
        .map(|r| {
            let v = r.json();
            // `as_u64` is `None` for a JSON float: these are integers on the wire.
            assert_eq!(
                v["data"]["state"]["event_time"].as_u64(),
                v["data"]["change"]["event_time"].as_u64(),
                "{v}"
            );
            (
                v["type"].as_str().unwrap().to_owned(),
                v["data"]["change"]["event_time"].as_u64(),
            )
        })
        .collect();
    times.sort();
    assert_eq!(
        times,
        [
            ("event.closed".to_owned(), Some(1_800_000_000_002)),
            ("event.created".to_owned(), Some(1_800_000_000_000)),
            ("event.updated".to_owned(), Some(1_800_000_000_001)),
        ]
    );
}

/// How deep `attrs` may nest (README; `hookfleet_core::lifecycle::MAX_ATTRS_DEPTH`).
const ATTRS_DEPTH: usize = 62;

/// `{"k": {"k": … 1}}`: an object of `depth` levels.
fn nested(depth: usize) -> Value {
    (1..depth).fold(json!({"k": 1}), |inner, _| json!({"k": inner}))
}

/// A call is republished as `data: {…, change: {attrs}, state: {attrs}}`, two levels deeper
/// than its body holds `attrs`. So `attrs` has its own limit, 62 levels (a body of 63), refused
/// naming `attrs` at the edge rather than as a `data` the caller never sent; anything up to it
/// is published and delivered. And an `op_id` of 128 four-byte characters (allowed) is published
/// too, though `lifecycle:<channel>:<op_id>` would not fit an idempotency key.
#[tokio::test]
async fn attrs_nest_to_their_own_limit_and_every_call_the_edge_accepts_is_published() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let rx = hookfleet_testkit::Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["event.*"]}))
        .await;
    let max = ATTRS_DEPTH;

    let ops = app.count("lifecycle_ops").await;
    // attrs of 63 levels, a body of 64 (within the body's limit): refused as attrs; one level
    // more and the body's own limit answers first, as README says.
    for (depth, code, says) in [
        (
            max + 1,
            "invalid_attrs",
            "attrs: nests deeper than 62 levels",
        ),
        (max + 2, "invalid_json", "body: nests deeper than 64 levels"),
    ] {
        let body = with(create_body(&chn), &json!({"attrs": nested(depth)}));
        let (status, v) = call(&app, "create", &body).await;
        assert_eq!((status, v["error_code"].as_str()), (400, Some(code)), "{v}");
        let message = v["error"].as_str().unwrap();
        assert!(message.starts_with(says), "{message}");
    }
    assert_eq!(
        app.count("lifecycle_ops").await,
        ops,
        "refusals change nothing"
    );

    let body = with(create_body(&chn), &json!({"attrs": nested(max)}));
    let (status, v) = call(&app, "create", &body).await;
    assert_eq!(status, 200, "{v}");
    let event_id = v["data"]["event_id"].as_str().unwrap().to_owned();
    let update = with(update_body(&chn, &event_id), &json!({"attrs": nested(max)}));
    assert_eq!(call(&app, "update", &update).await.0, 200);

    let wide = "\u{10348}".repeat(128);
    let body = with(create_body(&chn), &json!({"op_id": wide}));
    let (status, first) = call(&app, "create", &body).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = call(&app, "create", &body).await;
    assert_eq!(
        (status, &again["data"]),
        (200, &first["data"]),
        "a repeat is the first answer"
    );

    let got = rx.wait_for(3, Duration::from_secs(10)).await;
    let deep = got
        .iter()
        .find(|r| r.json()["type"] == "event.updated")
        .expect("the update delivered")
        .json();
    assert_eq!(deep["data"]["change"]["attrs"], nested(max));
    assert_eq!(deep["data"]["state"]["attrs"], nested(max));
    assert!(
        got.iter()
            .any(|r| r.json()["data"]["op_id"] == wide.as_str())
    );
    app.wait_until(Duration::from_secs(10), "three events recorded", || async {
        app.count("events").await == 3
    })
    .await;
}

/// Any create the lifecycle edge accepts (the body storable, the field rules and the state as
/// `hookfleet_core` has them) is answered 200 and published, never refused later by the intake;
/// any other is refused at the edge with 400. Bodies near every limit that wraps: attrs of any
/// depth around its own, op_ids and thing_ids of any characters around their length.
#[test]
fn any_call_the_edge_accepts_is_published() {
    use hookfleet_core::lifecycle::{Call, Route, State};
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (app, chn) = rt.block_on(async {
        let app = spawn_app().await;
        let chn = channel(&app, PASSWORD).await;
        (app, chn)
    });
    let accepted_by_the_edge = |body: &str| {
        hookfleet_core::storable::check_json("body", body).is_ok()
            && serde_json::from_str::<Call>(body)
                .ok()
                .and_then(|c| c.check(Route::Create).ok())
                .is_some_and(|c| State::create(&chn, "e", &c.change).is_ok())
    };
    // Depths at and around attrs' limit half the time (the leaf may nest further), and ids of
    // one-, two- and four-byte characters around 128 characters and 256 bytes.
    let depth = prop_oneof![1..=4usize, ATTRS_DEPTH - 2..=ATTRS_DEPTH + 3];
    let attrs = (depth, any_value()).prop_map(|(depth, leaf)| {
        (1..depth).fold(json!({"leaf": leaf}), |inner, _| json!({"k": inner}))
    });
    let id = || {
        proptest::option::of(prop_oneof![
            "[a-z0-9-]{1,130}",
            "[a-z\u{e9}\u{10348}]{60,130}",
            "\u{10348}{60,130}",
            "\\PC{1,130}",
        ])
    };
    let strategy = (
        attrs,
        id(),
        id(),
        proptest::collection::btree_map("\\PC{1,65}", "\\PC{0,20}", 0..3),
    );
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let published = std::sync::Mutex::new(std::collections::HashSet::new());
    let result = runner.run(&strategy, |(attrs, op_id, thing_id, metadata)| {
        let mut body = with(
            create_body(&chn),
            &json!({"attrs": attrs, "metadata": metadata}),
        );
        if let Some(o) = op_id {
            body["op_id"] = json!(o);
        }
        if let Some(t) = thing_id {
            body["thing_id"] = json!(t);
        }
        let text = body.to_string();
        let (status, v) = rt.block_on(call_raw(&app, "create", None, &text));
        if accepted_by_the_edge(&text) {
            prop_assert_eq!(status, 200, "{} for {}", v, text);
            published
                .lock()
                .unwrap()
                .insert(v["data"]["event_id"].to_string());
        } else {
            prop_assert_eq!(status, 400, "{} for {}", v, text);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let published = published.into_inner().unwrap().len() as i64;
    rt.block_on(async {
        app.wait_until(
            Duration::from_secs(10),
            "every accepted call recorded",
            || async { app.count("events").await == published },
        )
        .await;
    });
    drop(app);
}

#[tokio::test]
async fn passwords_of_8_and_128_characters_open_their_channels() {
    let app = spawn_app().await;
    for password in ["12345678".to_owned(), "é".repeat(128)] {
        let chn = channel(&app, &password).await;
        let body = with(create_body(&chn), &json!({"password": password}));
        assert_eq!(call(&app, "create", &body).await.0, 200);
    }
}

#[tokio::test]
async fn tags_are_trimmed_and_deduplicated_attrs_patch_and_empty_description_is_absent() {
    let app = spawn_app().await;
    let chn = channel(&app, PASSWORD).await;
    let rx = hookfleet_testkit::Receiver::start().await;
    app.subscribe(json!({"url": rx.url, "event_types": ["event.updated"]}))
        .await;
    let body = with(
        create_body(&chn),
        &json!({"tags": [" a ", "a", "b", "  "], "attrs": {"keep": 1, "drop": 2, "o": {"x": 1}},
                "description": "first"}),
    );
    let (_, v) = call(&app, "create", &body).await;
    let event_id = v["data"]["event_id"].as_str().unwrap().to_owned();
    let patch = json!({"attrs": {"drop": null, "o": {"y": 2}}, "description": "",
                       "ciphertext": "b64:AAAA", "thing_id": "thing-1", "metadata": {"build": 42}});
    let (status, _) = call(&app, "update", &with(update_body(&chn, &event_id), &patch)).await;
    assert_eq!(status, 200);
    let state: Value = app
        .get(&format!("/v1/channels/{chn}/events/{event_id}"))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(state["tags"], json!(["a", "b"]));
    assert_eq!(state["attrs"], json!({"keep": 1, "o": {"x": 1, "y": 2}}));
    assert_eq!(
        state["description"], "first",
        "an empty description changes nothing"
    );
    assert_eq!(state["thing_id"], "thing-1");
    let got = rx.wait_for(1, Duration::from_secs(10)).await[0].json();
    let change = &got["data"]["change"];
    assert_eq!(change["ciphertext"], "b64:AAAA", "passed through untouched");
    assert_eq!(change["metadata"], json!({"build": 42}));
    assert_eq!(
        change["attrs"],
        json!({"drop": null, "o": {"y": 2}}),
        "the patch as sent"
    );
    assert!(
        change.get("description").is_none(),
        "an empty description is absent"
    );
    assert_eq!(got["data"]["state"], state_without_times(&state));
}

/// The state as delivered: the record's view without its timestamps.
fn state_without_times(v: &Value) -> Value {
    let mut v = v.clone();
    let o = v.as_object_mut().unwrap();
    o.remove("created_at");
    o.remove("updated_at");
    v
}

/// A value of any JSON kind, some of them close to what the routes take.
pub fn any_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        "\\PC{0,30}".prop_map(Value::from),
        prop_oneof![Just("normal"), Just("high"), Just("")].prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 16, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
            prop::collection::btree_map("[a-z]{1,6}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

const FIELDS: &[&str] = &[
    "op_id",
    "thing_id",
    "ciphertext",
    "event_id",
    "title",
    "description",
    "status",
    "message",
    "severity",
    "event_time",
    "started_at",
    "ended_at",
    "tags",
    "images",
    "attrs",
    "metadata",
    "colour",
];

#[test]
fn arbitrary_json_is_answered_200_or_4xx_and_only_200_writes() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (app, chn, event_id) = rt.block_on(async {
        let app = spawn_app().await;
        let chn = channel(&app, PASSWORD).await;
        let event_id = open_event(&app, &chn).await;
        (app, chn, event_id)
    });
    // Bodies with the right credentials and any mix of fields, or any text at all.
    let fields = prop::collection::vec((prop::sample::select(FIELDS), any_value()), 0..8);
    let body = prop_oneof![
        4 => (fields, any::<bool>()).prop_map({
            let (chn, event_id) = (chn.clone(), event_id.clone());
            move |(fields, with_id)| {
                let mut b = if with_id { update_body(&chn, &event_id) } else { create_body(&chn) };
                for (k, v) in fields {
                    b[k] = v;
                }
                b.to_string()
            }
        }),
        1 => "\\PC{0,60}",
    ];
    let route = prop::sample::select(&["create", "update", "close"][..]);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    // The op_ids answered 200 (a repeated one answers 200 and writes nothing new).
    let accepted = std::sync::Mutex::new(std::collections::HashSet::new());
    let result = runner.run(&(route, body), |(route, b)| {
        let (status, v) = rt.block_on(call_raw(&app, route, None, &b));
        prop_assert!(
            status == 200 || (400..500).contains(&status),
            "{status} {v} for {b}"
        );
        if status == 200 {
            accepted
                .lock()
                .unwrap()
                .insert(v["data"]["op_id"].to_string());
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // The event every case may update was opened by one accepted call too.
    let accepted = accepted.into_inner().unwrap().len() as i64 + 1;
    rt.block_on(async {
        assert_eq!(
            app.count("lifecycle_ops").await,
            accepted,
            "one op per accepted call"
        );
        app.wait_until(
            Duration::from_secs(10),
            "every accepted call recorded",
            || async { app.count("events").await == accepted },
        )
        .await;
        assert_eq!(app.count("events").await, accepted);
    });
    drop(app);
}
