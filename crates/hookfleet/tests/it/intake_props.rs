//! The intake's promise as a property: any event body, including every class of hostile input
//! (NUL and lone-surrogate escapes, numbers no double or PostgreSQL numeric holds, nesting far
//! past any reader's limit, quotes and backslashes in scope values, control characters), is
//! either refused with a 4xx and changes nothing, or accepted and then recorded, routed and
//! delivered with the data it was given. After the run nothing is stuck in the ingest queue
//! and every parked message is in the record with its reason.
use hookfleet_testkit::{Receiver, spawn_app};
use proptest::{prelude::*, test_runner::TestRunner};
use serde_json::{Value, json};
use std::{
    cell::{Cell, RefCell},
    collections::HashMap,
    time::Duration,
};

/// A JSON value written as text, so it can hold what serde_json would never write.
#[derive(Debug, Clone)]
enum J {
    Lit(&'static str),
    Num(String),
    /// The inside of a string literal, already escaped (or deliberately not).
    Str(String),
    Arr(Vec<J>),
    Obj(Vec<(String, J)>),
    /// `n` arrays around a value.
    Deep(usize, Box<J>),
}

impl J {
    fn render(&self, out: &mut String) {
        match self {
            J::Lit(s) => out.push_str(s),
            J::Num(s) => out.push_str(s),
            J::Str(s) => {
                out.push('"');
                out.push_str(s);
                out.push('"');
            }
            J::Arr(items) => {
                out.push('[');
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    v.render(out);
                }
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    out.push('"');
                    out.push_str(k);
                    out.push_str("\":");
                    v.render(out);
                }
                out.push('}');
            }
            J::Deep(n, inner) => {
                out.push_str(&"[".repeat(*n));
                inner.render(out);
                out.push_str(&"]".repeat(*n));
            }
        }
    }
}

/// Escaped string contents: ordinary text, and the hostile escapes.
fn string_body() -> impl Strategy<Value = String> {
    prop_oneof![
        40 => "\\PC{0,12}".prop_map(|s| {
            let quoted = serde_json::to_string(&s).unwrap_or_default();
            quoted[1..quoted.len() - 1].to_owned()
        }),
        1 => Just("\\u0000".to_owned()),
        1 => Just("a\\u0000b".to_owned()),
        1 => Just("\\ud800".to_owned()),
        1 => Just("\\udc00x".to_owned()),
        1 => Just("\\ud83d\\ude00".to_owned()),
        1 => Just("q\\\"uote\\\\".to_owned()),
        1 => Just("\u{2028}é漢".to_owned()),
    ]
}

fn number() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => any::<i64>().prop_map(|n| n.to_string()),
        15 => any::<f64>().prop_filter("finite", |f| f.is_finite()).prop_map(|f| f.to_string()),
        1 => Just("1e308".to_owned()),
        1 => Just("1e309".to_owned()),
        1 => Just("1e999999".to_owned()),
        1 => Just("-1e-20000".to_owned()),
        1 => Just("1e-400".to_owned()),
        1 => Just("123456789012345678901234567890".to_owned()),
        1 => Just(format!("1{}", "0".repeat(150))),
    ]
}

fn value() -> impl Strategy<Value = J> {
    let leaf = prop_oneof![
        Just(J::Lit("null")),
        Just(J::Lit("true")),
        number().prop_map(J::Num),
        string_body().prop_map(J::Str),
    ];
    leaf.prop_recursive(4, 24, 4, |inner| {
        prop_oneof![
            3 => prop::collection::vec(inner.clone(), 0..4).prop_map(J::Arr),
            3 => prop::collection::vec((string_body(), inner.clone()), 0..4).prop_map(J::Obj),
            1 => (1usize..100, inner).prop_map(|(n, v)| J::Deep(n, Box::new(v))),
        ]
    })
}

fn data() -> impl Strategy<Value = J> {
    prop_oneof![
        8 => prop::collection::vec((string_body(), value()), 0..5).prop_map(J::Obj),
        1 => value(),
    ]
}

fn scope_value() -> impl Strategy<Value = String> {
    prop_oneof![
        30 => "[a-z0-9-]{1,12}",
        1 => Just("q\\\"uote".to_owned()),
        1 => Just("back\\\\slash".to_owned()),
        1 => Just("pca.hub.tdi1".to_owned()),
        1 => Just("ünï cødé".to_owned()),
        1 => Just("nul\\u0000".to_owned()),
        1 => Just("ctl\\u0001".to_owned()),
        1 => Just("\\ud800".to_owned()),
        1 => Just(String::new()),
        1 => Just("x".repeat(65)),
    ]
}

fn scope() -> impl Strategy<Value = Option<Vec<String>>> {
    prop::option::weighted(0.3, prop::collection::vec(scope_value(), 1..4))
}

#[derive(Debug, Clone)]
struct Case {
    event_type: &'static str,
    orgs: Option<Vec<String>>,
    parts: Option<Vec<String>>,
    data: J,
    key: Option<String>,
}

impl Case {
    fn body(&self, n: usize) -> String {
        let list = |l: &[String]| {
            format!(
                "[{}]",
                l.iter()
                    .map(|v| format!("\"{v}\""))
                    .collect::<Vec<_>>()
                    .join(",")
            )
        };
        let mut out = format!(r#"{{"type":"{}""#, self.event_type);
        if let Some(o) = &self.orgs {
            out.push_str(&format!(r#","organization_ids":{}"#, list(o)));
        }
        if let Some(p) = &self.parts {
            out.push_str(&format!(r#","service_partitions":{}"#, list(p)));
        }
        if let Some(k) = &self.key {
            // The case number keeps keys apart, so no two cases share an event id.
            out.push_str(&format!(r#","idempotency_key":"{k}-{n}""#));
        }
        out.push_str(r#","data":"#);
        self.data.render(&mut out);
        out.push('}');
        out
    }
}

fn case() -> impl Strategy<Value = Case> {
    let event_type = prop_oneof![
        12 => Just("user.created"),
        6 => Just("a.b-c_d"),
        1 => Just("a..b"),
        1 => Just("user.*"),
        1 => Just(""),
    ];
    let key = prop::option::weighted(
        0.3,
        prop_oneof![10 => "[a-z]{1,8}", 1 => Just("k\\u0000".to_owned()), 1 => Just("k\\u0007".to_owned())],
    );
    (event_type, scope(), scope(), data(), key).prop_map(|(event_type, orgs, parts, data, key)| {
        Case {
            event_type,
            orgs,
            parts,
            data,
            key,
        }
    })
}

/// One accepted event: its id, how many copies it makes, and the data it was given.
struct Accepted {
    id: String,
    copies: usize,
    data: Value,
    body: String,
}

#[test]
fn every_event_body_is_refused_cleanly_or_recorded_routed_and_delivered() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (app, rx) = rt.block_on(async {
        let app = spawn_app().await;
        let rx = Receiver::start().await;
        app.subscribe(json!({"url": rx.url, "event_types": ["#"]}))
            .await;
        (app, rx)
    });
    // The runner takes an `Fn`: what the cases leave behind is kept in cells.
    let accepted: RefCell<Vec<Accepted>> = RefCell::new(Vec::new());
    let refused = Cell::new(0usize);
    let n = Cell::new(0usize);
    let mut runner = TestRunner::new(ProptestConfig {
        cases: 96,
        failure_persistence: None,
        ..ProptestConfig::default()
    });
    let result = runner.run(&case(), |c| {
        n.set(n.get() + 1);
        let body = c.body(n.get());
        let (status, json) = rt.block_on(async {
            let res = app.post_raw("/v1/events", body.clone()).await;
            let status = res.status().as_u16();
            (status, res.json::<Value>().await.unwrap_or(Value::Null))
        });
        if status == 202 {
            let parsed: Value = serde_json::from_str(&body).map_err(|e| {
                TestCaseError::fail(format!("accepted but unreadable ({e}): {body}"))
            })?;
            let len = |f: &str| json[f].as_array().map_or(0, Vec::len).max(1);
            accepted.borrow_mut().push(Accepted {
                id: json["id"].as_str().unwrap_or_default().to_owned(),
                copies: len("organization_ids") * len("service_partitions"),
                data: parsed["data"].clone(),
                body: body.clone(),
            });
        } else {
            prop_assert!(
                matches!(status, 400 | 413 | 422),
                "{status} {json} for {body}"
            );
            prop_assert!(
                json["error"]["code"].is_string(),
                "no envelope: {json} for {body}"
            );
            refused.set(refused.get() + 1);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    let (accepted, refused) = (accepted.into_inner(), refused.get());
    println!("{refused} bodies refused, {} accepted", accepted.len());
    assert!(
        refused > 0 && !accepted.is_empty(),
        "both classes were generated ({refused} refused, {} accepted)",
        accepted.len()
    );
    rt.block_on(async {
        let copies: usize = accepted.iter().map(|a| a.copies).sum();
        let got = rx.wait_for(copies, Duration::from_secs(30)).await;
        let mut by_id: HashMap<String, Vec<Value>> = HashMap::new();
        for r in &got {
            let b = r.json();
            by_id
                .entry(b["id"].as_str().unwrap().to_owned())
                .or_default()
                .push(b);
        }
        for a in &accepted {
            let seen = by_id.get(&a.id).map_or(&[][..], Vec::as_slice);
            assert!(
                seen.len() >= a.copies,
                "{} of {} copies of {}",
                seen.len(),
                a.copies,
                a.body
            );
            assert!(
                seen.iter().all(|b| b["data"] == a.data),
                "data changed on the way: {}",
                a.body
            );
            let recorded = app.wait_for_deliveries(&a.id, a.copies).await;
            assert!(
                recorded.iter().all(|d| d["status"] == "delivered"),
                "{recorded:?} for {}",
                a.body
            );
        }
        assert_eq!(
            app.count("events").await,
            accepted.len() as i64,
            "refused bodies wrote nothing"
        );
        assert_eq!(app.queue_depth(&app.topology.ingest()).await, Some(0));
        let parked = app.queue_depth(&app.topology.dead()).await.unwrap_or(0);
        let noted: i64 = app
            .db
            .query_one(
                "SELECT count(*) FROM poison_messages WHERE reason <> ''",
                &[],
            )
            .await
            .unwrap()
            .get(0);
        assert_eq!(
            i64::from(parked),
            noted,
            "every parked message is in the record with its reason"
        );
    });
    drop(app);
}
