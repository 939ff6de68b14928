//! The hook event's decoder against generated bodies.
use super::*;
use proptest::prelude::*;
use serde_json::json;

/// A fragment no stage may take, spliced into an otherwise good event.
fn hostile() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(r#""\u0000""#.to_owned()),
        Just(r#""a\ud800b""#.to_owned()),
        Just(r#""\udc00""#.to_owned()),
        (65usize..200).prop_map(|n| format!("{}{}", "[".repeat(n), "]".repeat(n))),
        "[1-9][0-9]{0,3}".prop_map(|e| format!("1e{e}000")),
        Just(format!("1{}", "0".repeat(400))),
        Just(r#"{"k":1,"k":2}"#.to_owned()),
    ]
}

fn good(id: &str, realm: &str, user: &str) -> Value {
    json!({"id": id, "type": "access.LOGOUT", "realmName": realm,
           "authDetails": {"userId": user, "clientId": "web"}, "details": {"k": "v"}})
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(
        std::env::var("PROPTEST_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(1_000)
    ))]

    #[test]
    fn any_bytes_are_decoded_or_refused_without_panicking(
        body in prop::collection::vec(any::<u8>(), 0..300),
    ) {
        let _ = HookEvent::decode(&body);
    }

    #[test]
    fn any_text_is_decoded_or_refused_and_what_is_read_is_bounded(
        id in "(\\PC|\\x00|\\n){0,140}",
        realm in "\\PC{0,110}",
        user in "(\\PC|\\t){0,10}",
    ) {
        let body = good(&id, &realm, &user).to_string();
        match HookEvent::decode(body.as_bytes()) {
            Ok(e) => {
                prop_assert_eq!(&e.id, &id);
                prop_assert!((1..=MAX_ID_LEN).contains(&e.id.len()));
                prop_assert!(!e.id.chars().any(char::is_control));
                prop_assert!(e.realm_name.as_ref().is_none_or(|r| r.len() <= MAX_REALM_LEN));
                let key = format!("keycloak:{}:{}", realm, e.id);
                prop_assert!(key.len() <= crate::event::MAX_IDEMPOTENCY_KEY_LEN);
                prop_assert!(!key.chars().any(char::is_control));
            }
            Err(why) => {
                let bad_id = id.is_empty() || id.len() > MAX_ID_LEN
                    || id.chars().any(char::is_control);
                let bad_realm = realm.len() > MAX_REALM_LEN;
                let bad_user = user.chars().any(char::is_control);
                prop_assert!(bad_id || bad_realm || bad_user, "refused {}: {}", body, why);
            }
        }
    }

    #[test]
    fn a_hostile_fragment_anywhere_is_refused(
        fragment in hostile(),
        at in 0usize..4,
    ) {
        let body = match at {
            0 => format!(r#"{{"id":"e1","type":"access.LOGOUT","extra":{fragment}}}"#),
            1 => format!(r#"{{"id":"e1","type":"access.LOGOUT","details":{{"x":{fragment}}}}}"#),
            2 => format!(r#"{{"id":"e1","type":"access.LOGOUT","authDetails":{{"ip":[{fragment}]}}}}"#),
            _ => format!(r#"{{"representation":{fragment},"id":"e1","type":"access.LOGOUT"}}"#),
        };
        let refused = HookEvent::decode(body.as_bytes());
        prop_assert!(refused.is_err(), "accepted {}", body);
        prop_assert_eq!(refused.unwrap_err().field, "body");
    }

    #[test]
    fn a_key_twice_at_any_depth_is_refused(depth in 0usize..20, key in "[a-zA-Z]{1,8}") {
        let twice = format!(r#"{{"{key}":1,"{key}":2}}"#);
        let nested = format!("{}{}{}", "[".repeat(depth), twice, "]".repeat(depth));
        let body = format!(r#"{{"id":"e1","type":"t","x":{nested}}}"#);
        prop_assert!(HookEvent::decode(body.as_bytes()).is_err());
    }
}
