//! Which document-003 event a provider event becomes, exactly as the document's table says,
//! and the delivered body in the document's shape built from the fetched record. Pure. The
//! event itself is read by `hookfleet_core::keycloak`, the decoder the hook uses at the edge.
use hookfleet_core::keycloak::HookEvent;
use serde_json::{Map, Value, json};

/// What to do with one hook event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Fetch the user and publish this type.
    User {
        event_type: &'static str,
        user_id: String,
    },
    /// Fetch the group (the document's organization) and publish `organization.created`.
    Organization { group_id: String },
    /// The private internal event: make the user's new passkey the preferred credential.
    PreferPasskey { user_id: String },
    /// Not an event of the document's table (or one naming no entity): counted, not published.
    Unmapped,
}

/// The provider id of the passwordless WebAuthn required action.
pub const PASSKEY_ACTION: &str = "webauthn-register-passwordless";

/// The document's table.
pub fn action(event: &HookEvent) -> Action {
    let user = |event_type: &'static str| match event
        .auth_details
        .as_ref()
        .and_then(|a| a.user_id.clone())
        .filter(|u| !u.is_empty())
    {
        Some(user_id) => Action::User {
            event_type,
            user_id,
        },
        None => Action::Unmapped,
    };
    match event.event_type.as_str() {
        "access.UPDATE_PROFILE" | "access.UPDATE_EMAIL" => user("user.updated"),
        "access.VERIFY_EMAIL" => user("user.email-verified"),
        "access.LOGIN_ERROR" => user("user.login-failed"),
        "access.LOGOUT" => user("user.logged-out"),
        "access.CUSTOM_REQUIRED_ACTION" => match event.detail("custom_required_action") {
            Some("UPDATE_EMAIL") => user("user.updated"),
            Some("VERIFY_EMAIL") => user("user.email-verified"),
            Some(PASSKEY_ACTION) => match user("") {
                Action::User { user_id, .. } => Action::PreferPasskey { user_id },
                other => other,
            },
            _ => Action::Unmapped,
        },
        "admin.GROUP-CREATE" => match event
            .resource_path
            .as_deref()
            .and_then(|p| p.strip_prefix("groups/"))
            .filter(|g| !g.is_empty() && !g.contains('/'))
        {
            Some(g) => Action::Organization {
                group_id: g.to_owned(),
            },
            None => Action::Unmapped,
        },
        _ => Action::Unmapped,
    }
}

/// Checks that a user record has the shape the body is built from: an object with a string
/// `id`, and each field the body reads absent, null or of its type. A record of another shape
/// would be published with empty fields, so it is refused (and the event parked) instead.
pub fn check_user(user: &Value) -> Result<(), String> {
    check_record(
        user,
        &["username", "email", "firstName", "lastName"],
        &["enabled", "emailVerified"],
        &[
            "preferred_username",
            "family_kana",
            "given_kana",
            "service_partition",
        ],
    )
}

/// [`check_user`] for a group record (the document's organization).
pub fn check_group(group: &Value) -> Result<(), String> {
    check_record(
        group,
        &["name"],
        &[],
        &["display_name", "service_partition"],
    )
}

/// The ids of a user's organizations, from the admin API's list of organization records.
pub fn organization_ids(list: &Value) -> Result<Vec<String>, String> {
    let items = list.as_array().ok_or("is not a JSON array")?;
    items
        .iter()
        .map(|o| match o.get("id") {
            Some(Value::String(id)) => Ok(id.clone()),
            _ => Err("has an item that is not an object with a string `id`".to_owned()),
        })
        .collect()
}

fn check_record(
    record: &Value,
    strings: &[&str],
    bools: &[&str],
    attributes: &[&str],
) -> Result<(), String> {
    let object = record.as_object().ok_or("is not a JSON object")?;
    match object.get("id") {
        Some(Value::String(id)) if !id.is_empty() => {}
        _ => return Err("has no string `id`".to_owned()),
    }
    let absent = |v: Option<&Value>| v.is_none_or(Value::is_null);
    for k in strings {
        let v = object.get(*k);
        if !absent(v) && !v.is_some_and(Value::is_string) {
            return Err(format!("has a `{k}` that is not a string"));
        }
    }
    for k in bools {
        let v = object.get(*k);
        if !absent(v) && !v.is_some_and(Value::is_boolean) {
            return Err(format!("has an `{k}` that is not true or false"));
        }
    }
    let attrs = object.get("attributes");
    if absent(attrs) {
        return Ok(());
    }
    let attrs = attrs
        .and_then(Value::as_object)
        .ok_or("has `attributes` that are not an object")?;
    for k in attributes {
        let v = attrs.get(*k);
        let strings = v
            .and_then(Value::as_array)
            .is_some_and(|l| l.iter().all(Value::is_string));
        if !absent(v) && !strings {
            return Err(format!(
                "has an attribute `{k}` that is not a list of strings"
            ));
        }
    }
    Ok(())
}

/// The first value of a Keycloak attribute (attributes are lists of strings).
fn attribute<'a>(record: &'a Value, name: &str) -> Option<&'a str> {
    record.get("attributes")?.get(name)?.get(0)?.as_str()
}

/// Every value of a Keycloak attribute.
pub fn attribute_values(record: &Value, name: &str) -> Vec<String> {
    record
        .get("attributes")
        .and_then(|a| a.get(name))
        .and_then(Value::as_array)
        .map(|l| {
            l.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// The document's user body (without `organization_id` and `service_partition`, which each
/// copy carries) from the provider's user record.
pub fn user_body(user: &Value) -> Value {
    let s = |k: &str| user.get(k).and_then(Value::as_str);
    let enabled = user.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let verified = user
        .get("emailVerified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    json!({
        "account_id": s("id"),
        "login_name": s("username"),
        "email": s("email"),
        "preferred_username": attribute(user, "preferred_username").or(s("username")),
        "family_name": s("lastName"),
        "given_name": s("firstName"),
        "family_kana": attribute(user, "family_kana"),
        "given_kana": attribute(user, "given_kana"),
        "account_status": if enabled { "enable" } else { "disable" },
        "email_status": if verified { "active" } else { "unverified" },
    })
}

/// The document's organization body from the provider's group record.
pub fn organization_body(group: &Value) -> Value {
    let name = group.get("name").and_then(Value::as_str);
    let mut body = Map::new();
    body.insert("organization_id".into(), json!(group.get("id")));
    body.insert("organization_name".into(), json!(name));
    body.insert(
        "organization_display_name".into(),
        json!(attribute(group, "display_name").or(name)),
    );
    Value::Object(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(t: &str, details: Value) -> HookEvent {
        let body = json!({"id": "e1", "type": t, "realmName": "acme",
            "authDetails": {"userId": "u1", "clientId": "web"}, "details": details,
            "resourcePath": "groups/g1"});
        HookEvent::decode(body.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn the_documents_table() {
        let user = |t: &'static str| Action::User {
            event_type: t,
            user_id: "u1".into(),
        };
        let cra = |a: &str| {
            event(
                "access.CUSTOM_REQUIRED_ACTION",
                json!({"custom_required_action": a}),
            )
        };
        assert_eq!(
            action(&event("access.UPDATE_PROFILE", json!({}))),
            user("user.updated")
        );
        assert_eq!(
            action(&event("access.UPDATE_EMAIL", json!({}))),
            user("user.updated")
        );
        assert_eq!(action(&cra("UPDATE_EMAIL")), user("user.updated"));
        assert_eq!(
            action(&event("access.VERIFY_EMAIL", json!({}))),
            user("user.email-verified")
        );
        assert_eq!(action(&cra("VERIFY_EMAIL")), user("user.email-verified"));
        assert_eq!(
            action(&event("access.LOGIN_ERROR", json!({}))),
            user("user.login-failed")
        );
        assert_eq!(
            action(&event("access.LOGOUT", json!({}))),
            user("user.logged-out")
        );
        assert_eq!(
            action(&event("admin.GROUP-CREATE", json!({}))),
            Action::Organization {
                group_id: "g1".into()
            }
        );
        assert_eq!(
            action(&cra(PASSKEY_ACTION)),
            Action::PreferPasskey {
                user_id: "u1".into()
            }
        );
        for unmapped in [
            "access.LOGIN",
            "access.REGISTER",
            "admin.USER-CREATE",
            "nonsense",
        ] {
            assert_eq!(
                action(&event(unmapped, json!({}))),
                Action::Unmapped,
                "{unmapped}"
            );
        }
        assert_eq!(action(&cra("TERMS_AND_CONDITIONS")), Action::Unmapped);
    }

    #[test]
    fn records_of_another_shape_are_refused_with_what_is_wrong() {
        assert!(
            check_user(&json!({"id": "u1", "username": "u", "email": null,
            "enabled": true, "attributes": {"family_kana": ["ヤ"], "other": 5}}))
            .is_ok()
        );
        for (user, why) in [
            (json!(null), "not a JSON object"),
            (json!([{"id": "u1"}]), "not a JSON object"),
            (json!({"username": "u"}), "no string `id`"),
            (json!({"id": 7}), "no string `id`"),
            (json!({"id": "u1", "email": ["a@b"]}), "`email`"),
            (json!({"id": "u1", "enabled": "yes"}), "`enabled`"),
            (json!({"id": "u1", "attributes": []}), "`attributes`"),
            (
                json!({"id": "u1", "attributes": {"service_partition": "p"}}),
                "`service_partition`",
            ),
            (
                json!({"id": "u1", "attributes": {"given_kana": [1]}}),
                "`given_kana`",
            ),
        ] {
            let got = check_user(&user).unwrap_err();
            assert!(got.contains(why), "{user}: {got}");
        }
        assert!(check_group(&json!({"id": "g1", "name": "tdi"})).is_ok());
        assert!(check_group(&json!({"name": "tdi"})).is_err());
        assert_eq!(
            organization_ids(&json!([{"id": "o1"}, {"id": "o2", "name": "x"}])).unwrap(),
            ["o1", "o2"]
        );
        assert!(organization_ids(&json!({"id": "o1"})).is_err());
        assert!(organization_ids(&json!([{"name": "x"}])).is_err());
        assert!(organization_ids(&json!(["o1"])).is_err());
    }
}
