use super::*;
use proptest::prelude::*;
use serde_json::json;

fn call(v: Value) -> Call {
    serde_json::from_value(v).unwrap()
}

fn create() -> Value {
    json!({"channel_id": "chn_1", "password": "12345678", "title": "t", "status": "s",
           "message": "m", "severity": "low", "event_time": 1, "attrs": {"a": {"b": 1}, "c": 2}})
}

fn update(patch: Value) -> Change {
    let mut v = json!({"channel_id": "chn_1", "password": "12345678", "event_id": "e",
                       "status": "s2", "message": "m2", "severity": "high", "event_time": 2});
    for (k, x) in patch.as_object().unwrap() {
        v[k] = x.clone();
    }
    call(v).check(Route::Update).unwrap().change
}

#[test]
fn calls_move_the_state_and_close_ends_it() {
    let created = call(create()).check(Route::Create).unwrap();
    let s = State::create("chn_1", "e", &created.change).unwrap();
    assert_eq!((s.version, s.closed, s.title.as_str()), (1, false, "t"));
    let s = s
        .apply(
            Route::Update,
            &update(json!({"attrs": {"a": {"x": 3}, "c": null}})),
        )
        .unwrap();
    assert_eq!(
        Value::Object(s.attrs.clone()),
        json!({"a": {"b": 1, "x": 3}})
    );
    assert_eq!(
        (s.status.as_str(), s.severity, s.title.as_str()),
        ("s2", Severity::High, "t")
    );
    let closed = s.apply(Route::Close, &update(json!({}))).unwrap();
    assert_eq!(
        (closed.closed, closed.ended_at, closed.version),
        (true, Some(2), 3)
    );
    let again = closed.apply(Route::Update, &update(json!({}))).unwrap_err();
    assert_eq!(again.code, "event_closed");
}

#[test]
fn merged_attrs_are_bounded() {
    let created = call(create()).check(Route::Create).unwrap();
    let mut s = State::create("chn_1", "e", &created.change).unwrap();
    let big = "x".repeat(4_000);
    let mut refused = None;
    for i in 0..10 {
        match s.apply(
            Route::Update,
            &update(json!({"attrs": {format!("k{i}"): big}})),
        ) {
            Ok(next) => s = next,
            Err(r) => {
                refused = Some(r);
                break;
            }
        }
    }
    assert_eq!(refused.map(|r| r.code), Some("invalid_attrs"));
    assert!(serde_json::to_vec(&s.attrs).unwrap().len() <= MAX_STATE_ATTRS_BYTES);
}

#[test]
fn a_create_is_named_by_its_channel_and_op_id() {
    assert_eq!(event_id_for("c", "op"), event_id_for("c", "op"));
    assert_ne!(event_id_for("c", "op"), event_id_for("c2", "op"));
    assert_ne!(event_id_for("c", "op"), event_id_for("co", "p"));
    assert_eq!(event_id_for("c", "op").len(), 32);
}

proptest! {
    /// Any call, on any route: checked without panicking, and what passes moves a state
    /// without panicking either.
    #[test]
    fn checking_and_applying_never_panic(
        title in proptest::option::of("\\PC{0,30}"),
        status in proptest::option::of("\\PC{0,30}"),
        tags in proptest::option::of(proptest::collection::vec("\\PC{0,70}", 0..40)),
        t in any::<i64>(),
        route in prop_oneof![Just(Route::Create), Just(Route::Update), Just(Route::Close)],
    ) {
        let c = Call {
            channel_id: Some("chn_1".into()),
            password: Some("12345678".into()),
            event_id: (route != Route::Create).then(|| "e".to_owned()),
            title,
            status,
            message: Some("m".into()),
            severity: Some("low".into()),
            event_time: Some(json!(t)),
            tags,
            ..Call::default()
        };
        if let Ok(checked) = c.check(route) {
            prop_assert!(checked.change.status.chars().count() <= MAX_STATUS_LEN);
            prop_assert!(checked.change.tags.iter().flatten().all(|t| t == t.trim() && !t.is_empty()));
            let created = call(create()).check(Route::Create).unwrap();
            let s = State::create("chn_1", "e", &created.change).unwrap();
            let _ = s.apply(route, &checked.change);
        }
    }
}
