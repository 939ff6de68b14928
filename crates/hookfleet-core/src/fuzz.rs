//! Fuzz targets, as proptests (cargo-fuzz needs a nightly toolchain this project does not
//! use): every parser of the core fed arbitrary input must answer without panicking, and what
//! it accepts must hold the promises later stages rely on. `PROPTEST_CASES` raises the count
//! for a longer run (README: Fuzzing).
use crate::{
    Ladder, NewEvent, parse_duration,
    routing::{binding_keys, encode_word, routing_key, topic_matches},
    storable,
};
use proptest::prelude::*;

fn decode_word(w: &str) -> Option<String> {
    let mut out = Vec::new();
    let b = w.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            out.push(u8::from_str_radix(w.get(i + 1..i + 3)?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

proptest! {
    // PROPTEST_CASES raises the count for a longer run.
        #![proptest_config(ProptestConfig::with_cases(
            std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1_000)
        ))]

    #[test]
    fn any_value_encodes_to_one_word_that_decodes_back(v in any::<String>()) {
        let w = encode_word(Some(&v));
        prop_assert!(w.is_ascii());
        prop_assert!(!w.contains(['.', '*', '#', ' ']));
        prop_assert_ne!(w.as_str(), "_");
        prop_assert_eq!(decode_word(&w), Some(v));
    }

    #[test]
    fn a_copy_matches_the_bindings_of_its_own_scope_and_no_other(
        org in "\\PC{0,12}",
        other_org in "\\PC{0,12}",
        part in proptest::option::of("[a-z.]{1,12}"),
        words in prop::collection::vec("[a-z0-9_-]{1,6}", 1..4),
    ) {
        let event_type = words.join(".");
        let key = routing_key(part.as_deref(), Some(&org), &event_type);
        let patterns = vec![event_type.clone(), "#".to_owned(), format!("{}.#", words[0])];
        for pattern in &patterns {
            let mine = binding_keys(std::slice::from_ref(pattern), None, Some(std::slice::from_ref(&org)));
            prop_assert!(mine.iter().any(|b| topic_matches(b, &key)), "{pattern} {key}");
            if other_org != org {
                let theirs = binding_keys(std::slice::from_ref(pattern), None, Some(std::slice::from_ref(&other_org)));
                prop_assert!(!theirs.iter().any(|b| topic_matches(b, &key)), "{pattern} {key}");
            }
        }
    }

    #[test]
    fn durations_and_ladders_parse_or_refuse_without_panicking(s in "\\PC{0,24}", n in any::<u64>(), unit in "(ms|s|m|h|d|)") {
        let _ = parse_duration(&s);
        let _ = Ladder::parse(&s);
        let text = format!("{n}{unit}");
        if let Ok(d) = parse_duration(&text) {
            prop_assert!(d.as_millis() <= u128::from(n) * 86_400_000);
        }
        if let Ok(l) = Ladder::parse(&format!("{text},{text}")) {
            prop_assert_eq!(Ladder::from_millis(&l.to_millis()).to_millis(), l.to_millis());
        }
    }

    #[test]
    fn an_event_from_any_json_is_refused_or_storable(body in arbitrary_event()) {
        let Ok(new) = serde_json::from_str::<NewEvent>(&body) else { return Ok(()) };
        if let Ok(accepted) = new.accept(&crate::ids::KeySpace::Native, None) {
            let data = serde_json::to_string(&accepted).unwrap();
            prop_assert!(storable::check_json("data", &data).is_ok(), "{data}");
            prop_assert!(accepted.fan_out().is_ok());
        }
    }
}

/// Event bodies near the valid shape: arbitrary types, scopes and data, with NULs, lone
/// surrogates, huge numbers and deep nesting mixed in.
fn arbitrary_event() -> impl Strategy<Value = String> {
    let text = prop_oneof![
        "\\PC{0,20}",
        Just("a\\u0000b".to_owned()),
        Just("\\ud800".to_owned()),
        "[a-z]{1,8}(\\.[a-z*#]{1,8}){0,3}",
    ];
    let data = prop_oneof![
        Just("{}".to_owned()),
        Just("{\"n\": 1e400}".to_owned()),
        Just("{\"n\": 123456789012345678901234567890}".to_owned()),
        Just(format!("{{\"d\": {}1{}}}", "[".repeat(70), "]".repeat(70))),
        Just("{\"s\": \"\\u0000\"}".to_owned()),
        Just("{\"s\": \"\\udfff\"}".to_owned()),
        "\\PC{0,10}".prop_map(|s| serde_json::json!({ "s": s }).to_string()),
    ];
    (text.clone(), text, data).prop_map(|(t, org, data)| {
        format!(r#"{{"type": "{t}", "organization_ids": ["{org}"], "data": {data}}}"#)
    })
}
