//! The hook event's decoder, case by case.
use super::*;
use serde_json::json;

fn decode(v: &str) -> Result<HookEvent, Invalid> {
    HookEvent::decode(v.as_bytes())
}

fn refused(v: &str) -> String {
    decode(v).unwrap_err().to_string()
}

#[test]
fn reads_the_plugins_events() {
    let e = decode(
        &json!({"uid": "u1", "id": "e1", "type": "access.UPDATE_PROFILE", "time": 1714000000000u64,
            "realmId": "r-uuid", "realmName": "acme", "authDetails": {"realmId": "acme",
            "clientId": "web-app", "userId": "user-1", "ipAddress": "203.0.113.7"},
            "details": {"custom_required_action": "UPDATE_EMAIL", "n": 1},
            "representation": "{\"a\":1}"})
        .to_string(),
    )
    .unwrap();
    assert_eq!(e.id, "e1");
    assert_eq!(e.realm_name.as_deref(), Some("acme"));
    let a = e.auth_details.as_ref().unwrap();
    assert_eq!(a.user_id.as_deref(), Some("user-1"));
    assert_eq!(a.client_id.as_deref(), Some("web-app"));
    assert_eq!(e.detail("custom_required_action"), Some("UPDATE_EMAIL"));
    assert_eq!(e.sender(), crate::source::Sender::User);
    let bare = decode(r#"{"id":"e2","type":"admin.GROUP-CREATE","authDetails":null,"details":null,"realmName":null}"#)
        .unwrap();
    assert!(bare.auth_details.is_none() && bare.details.is_empty());
    assert_eq!(bare.sender(), crate::source::Sender::Admin);
}

#[test]
fn refuses_what_the_router_cannot_read_with_the_field() {
    for (body, field) in [
        (r#"{"id":"a","id":"b","type":"access.LOGOUT"}"#, "body: "),
        (
            r#"{"id":"a","type":"t","authDetails":{"userId":"u","userId":"v"}}"#,
            "body: ",
        ),
        (r#"{"id":"a","type":"t","x":[{"k":1,"k":2}]}"#, "body: "),
        (
            r#"{"id":"a","type":"t","authDetails":"u1"}"#,
            "authDetails: ",
        ),
        (
            r#"{"id":"a","type":"t","authDetails":{"userId":7}}"#,
            "authDetails.userId: ",
        ),
        (r#"{"id":"a","type":"t","details":["x"]}"#, "details: "),
        (
            r#"{"id":"a","type":"t","details":{"custom_required_action":{}}}"#,
            "details.custom_required_action: ",
        ),
        (r#"{"id":"a","type":"t","realmName":5}"#, "realmName: "),
        (
            r#"{"id":"a","type":"t","resourcePath":true}"#,
            "resourcePath: ",
        ),
        (r#"{"id":1,"type":"t"}"#, "id: "),
        (r#"{"id":"","type":"t"}"#, "id: "),
        (r#"{"id":"a\nb","type":"t"}"#, "id: "),
        (r#"{"type":"t"}"#, "id: "),
        (r#"{"id":"a"}"#, "type: "),
        (r#"{"id":"a","type":null}"#, "type: "),
        (r#"{"id":"a","type":"t\u0000"}"#, "body: "),
        (r#"{"id":"a","type":"t","x":"\ud800"}"#, "body: "),
        (r#"{"id":"a","type":"t","n":1e999}"#, "body: "),
        ("[]", "body: "),
        ("not json", "body: "),
        ("{} {}", "body: "),
    ] {
        let why = refused(body);
        assert!(why.starts_with(field), "{body}: {why}");
    }
    assert!(refused(r#"{"id":"a","id":"b","type":"t"}"#).contains("\"id\" appears twice"));
    let long = |n: usize| format!(r#"{{"id":"{}","type":"t"}}"#, "i".repeat(n));
    assert!(decode(&long(MAX_ID_LEN)).is_ok());
    assert!(decode(&long(MAX_ID_LEN + 1)).is_err());
    assert!(refused(&format!("\u{feff}{}", long(1))).starts_with("body: "));
    assert!(HookEvent::decode(b"{\"id\":\"\xff\",\"type\":\"t\"}").is_err());
}
