use super::*;
use proptest::prelude::*;
use serde_json::json;

/// As the producer reads a body: from its text (the times are kept as the digits sent).
fn call(v: Value) -> Call {
    serde_json::from_str(&v.to_string()).unwrap()
}

fn raw(text: &str) -> Box<serde_json::value::RawValue> {
    serde_json::value::RawValue::from_string(text.to_owned()).unwrap()
}

/// `create()` with its `event_time` written as `text`: the checked milliseconds, or the refusal.
fn event_time(text: &str) -> Result<u64, Refusal> {
    let body = create()
        .to_string()
        .replace("\"event_time\":1", &format!("\"event_time\":{text}"));
    let c: Call = serde_json::from_str(&body).unwrap();
    c.check(Route::Create).map(|c| c.change.event_time)
}

#[test]
fn whole_number_floats_are_milliseconds_and_fractions_are_refused() {
    for text in [
        "1800000000000",
        "1800000000000.0",
        "1800000000000.000",
        "1.8e12",
        "1.8E12",
        "1.8e+12",
        "18e11",
        "180000000000000e-2",
        "0.0000000000018e24",
    ] {
        assert_eq!(event_time(text), Ok(1_800_000_000_000), "{text}");
    }
    for text in ["0", "0.0", "-0", "-0.0", "0e5", "0.0e-7"] {
        assert_eq!(event_time(text), Ok(0), "{text}");
    }
    assert_eq!(event_time("253402300799999.0"), Ok(MAX_UNIX_MILLIS));
    for text in [
        "1.5",
        "1800000000000.5",
        // A double would round this to 1800000000000: the digits say it is a fraction.
        "1800000000000.0000001",
        "1.8000000000001e12",
        "18e-1",
        "-1",
        "-1.0",
        "-1.8e12",
        "253402300799999.0000001",
        "253402300800000",
        "2.534023008e14",
        "1e20",
        "18446744073709551616",
        "\"1800000000000\"",
        "true",
        "{}",
    ] {
        let refused = event_time(text).unwrap_err();
        assert_eq!(refused.code, "invalid_field", "{text}");
        assert!(
            refused.message.starts_with("event_time: "),
            "{text}: {refused:?}"
        );
    }
}

#[test]
fn numbers_too_large_for_any_millisecond_are_not_whole_numbers() {
    for text in [
        "1e400",
        "1e99999999999999999999",
        "9e19",
        "1.",
        ".5",
        "",
        "-",
        "1e",
    ] {
        assert_eq!(rules::whole_number(text), None, "{text}");
    }
    assert_eq!(rules::whole_number("18446744073709551615"), Some(u64::MAX));
}

#[test]
fn started_at_and_ended_at_follow_the_same_rule() {
    let mut c = create();
    c["started_at"] = json!(1.8e12);
    assert_eq!(
        call(c.clone())
            .check(Route::Create)
            .unwrap()
            .change
            .started_at,
        Some(1_800_000_000_000)
    );
    c["started_at"] = json!(1.25);
    let refused = call(c).check(Route::Create).unwrap_err();
    assert!(refused.message.starts_with("started_at: "), "{refused:?}");
    let mut close = json!({"channel_id": "chn_1", "password": "12345678", "event_id": "e",
                           "status": "s", "message": "m", "severity": "low",
                           "event_time": 2.0, "ended_at": 3e0});
    let change = call(close.clone()).check(Route::Close).unwrap().change;
    assert_eq!((change.event_time, change.ended_at), (2, Some(3)));
    close["ended_at"] = json!(3.5);
    let refused = call(close).check(Route::Close).unwrap_err();
    assert!(refused.message.starts_with("ended_at: "), "{refused:?}");
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

/// `{"k": {"k": … 1}}`: an object of `depth` levels.
fn nested(depth: usize) -> Value {
    (1..depth).fold(json!({"k": 1}), |inner, _| json!({"k": inner}))
}

/// What `body` publishes on `route` (over a state made by `create()`), or the refusal.
fn published(route: Route, body: Value) -> Result<crate::IngestEvent, String> {
    let checked = call(body).check(route).map_err(|r| format!("{r:?}"))?;
    let next = match route {
        Route::Create => State::create("chn_1", "e", &checked.change),
        _ => {
            let created = call(create()).check(Route::Create).unwrap();
            State::create("chn_1", "e", &created.change)
                .unwrap()
                .apply(route, &checked.change)
        }
    }
    .map_err(|r| format!("{r:?}"))?;
    let op_id = checked.op_id.clone().unwrap_or_else(|| "op-1".into());
    let new = new_event(&checked, &op_id, &next).unwrap();
    let space = crate::KeySpace::Channel("chn_1".into());
    Ok(new
        .accept(&space, None)
        .expect("what the field rules accept, the intake takes"))
}

#[test]
fn attrs_nest_to_their_limit_and_what_they_publish_fills_the_intakes_exactly() {
    let mut body = create();
    body["attrs"] = nested(MAX_ATTRS_DEPTH);
    let event = published(Route::Create, body.clone()).unwrap();
    // One level more in the published data and the intake would refuse it: the limit is tight.
    let deeper = format!("{{\"x\":{}}}", event.data.get());
    assert!(crate::storable::check_json("data", &deeper).is_err());
    // The body itself stays within the body's limit.
    assert!(crate::storable::check_json("body", &body.to_string()).is_ok());

    body["attrs"] = nested(MAX_ATTRS_DEPTH + 1);
    let refused = call(body).check(Route::Create).unwrap_err();
    assert_eq!(refused.code, "invalid_attrs");
    assert!(
        refused.message.starts_with("attrs: nests deeper than 62"),
        "{refused:?}"
    );
}

#[test]
fn an_op_id_of_128_wide_characters_still_names_its_event() {
    let mut body = create();
    let wide = "\u{10348}".repeat(128);
    body["op_id"] = json!(wide);
    let event = published(Route::Create, body).unwrap();
    let key = event.idempotency_key.unwrap();
    assert!(key.starts_with("op_id digest "), "{key}");
    assert_eq!(key, idempotency_key(&wide), "the same op_id, the same key");
    assert_ne!(key, idempotency_key(&"\u{10349}".repeat(128)));
    assert_eq!(
        idempotency_key("op-1"),
        "op-1",
        "an op_id that fits is the key"
    );
    // The digest form holds spaces, which an op_id may not: no op_id can name it.
    let mut body = create();
    body["op_id"] = json!(key);
    assert_eq!(
        call(body).check(Route::Create).unwrap_err().code,
        "invalid_field"
    );
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
            event_time: Some(raw(&t.to_string())),
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

    /// Any double, as JSON writes it: taken exactly when it is a whole number in range, and
    /// then as that number (what is stored and delivered is the integer).
    #[test]
    fn a_double_is_taken_exactly_when_it_is_whole_and_in_range(f in any::<f64>()) {
        prop_assume!(f.is_finite());
        let text = serde_json::Number::from_f64(f).unwrap().to_string();
        let whole = f.fract() == 0.0 && (0.0..=MAX_UNIX_MILLIS as f64).contains(&f);
        match event_time(&text) {
            Ok(n) => prop_assert!(whole && n as f64 == f, "{text} -> {n}"),
            Err(_) => prop_assert!(!whole, "{text} refused"),
        }
    }

    /// Any millisecond in range, however it is written, is itself; with any non-zero digit
    /// after the point, however far, it is refused.
    #[test]
    fn every_spelling_of_a_millisecond_is_that_millisecond(
        n in 0..=MAX_UNIX_MILLIS,
        zeros in 0usize..30,
        far in 1u8..=9,
    ) {
        let digits = n.to_string();
        let (head, tail) = digits.split_at(1);
        let exp = tail.len();
        for text in [
            digits.clone(),
            format!("{digits}.{}", "0".repeat(zeros + 1)),
            if tail.is_empty() { format!("{head}.0e0") } else { format!("{head}.{tail}e{exp}") },
            format!("{digits}{}e-{zeros}", "0".repeat(zeros)),
        ] {
            prop_assert_eq!(event_time(&text), Ok(n), "{}", text);
        }
        let fraction = format!("{digits}.{}{far}", "0".repeat(zeros));
        prop_assert!(event_time(&fraction).is_err(), "{}", fraction);
    }

    /// Any call the field rules and the state accept is published: the intake never refuses
    /// it later (naming a field its caller never sent). Attrs of any shape up to a few levels
    /// past the limit, op_ids of any characters up to a few past theirs, on every route.
    #[test]
    fn whatever_the_edge_accepts_the_intake_takes(
        route in prop_oneof![Just(Route::Create), Just(Route::Update), Just(Route::Close)],
        attrs in attrs_value(MAX_ATTRS_DEPTH + 3),
        op_id in proptest::option::of("\\PC{1,130}"),
        thing_id in proptest::option::of("\\PC{1,130}"),
        metadata in proptest::collection::btree_map("\\PC{1,64}", "\\PC{0,512}", 0..4),
        tags in proptest::collection::vec("\\PC{0,64}", 0..8),
    ) {
        let mut body = create();
        if route != Route::Create {
            body.as_object_mut().unwrap().remove("title");
            body["event_id"] = json!("e");
        }
        body["attrs"] = attrs;
        body["metadata"] = json!(metadata);
        body["tags"] = json!(tags);
        if let Some(o) = op_id {
            body["op_id"] = json!(o);
        }
        if let Some(t) = thing_id {
            body["thing_id"] = json!(t);
        }
        // The body as the producer's edge sees it: storable as a whole first.
        if crate::storable::check_json("body", &body.to_string()).is_ok() {
            let _ = published(route, body);
        }
    }
}

/// An `attrs` value: objects nested up to `depth` levels, each a spine with a few leaves,
/// so the deepest ones are reached often.
fn attrs_value(depth: usize) -> impl Strategy<Value = Value> {
    (
        1..=depth,
        proptest::collection::vec(("[a-z]{1,3}", any::<i32>()), 0..3),
    )
        .prop_map(|(depth, leaves)| {
            (1..depth).fold(json!({}), |inner, _| {
                let mut o = json!({"k": inner});
                for (k, v) in &leaves {
                    if k != "k" {
                        o[k] = json!(v);
                    }
                }
                o
            })
        })
}
