//! Which document-003 event a provider event becomes, exactly as the document's table says,
//! and the delivered body in the document's shape built from the fetched record. Pure.
use serde::Deserialize;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The fields of a hook event the mapping reads (Phase Two's keycloak-events shape).
#[derive(Debug, Clone, Deserialize)]
pub struct HookEvent {
    pub id: String,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default, rename = "realmName")]
    pub realm_name: Option<String>,
    #[serde(default, rename = "authDetails")]
    pub auth_details: Option<AuthDetails>,
    #[serde(default)]
    pub details: Option<HashMap<String, Value>>,
    #[serde(default, rename = "resourcePath")]
    pub resource_path: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct AuthDetails {
    #[serde(default, rename = "userId")]
    pub user_id: Option<String>,
    #[serde(default, rename = "clientId")]
    pub client_id: Option<String>,
}

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

impl HookEvent {
    fn detail(&self, name: &str) -> Option<&str> {
        self.details.as_ref()?.get(name)?.as_str()
    }

    /// The document's table.
    pub fn action(&self) -> Action {
        let user = |event_type: &'static str| match self
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
        match self.event_type.as_str() {
            "access.UPDATE_PROFILE" | "access.UPDATE_EMAIL" => user("user.updated"),
            "access.VERIFY_EMAIL" => user("user.email-verified"),
            "access.LOGIN_ERROR" => user("user.login-failed"),
            "access.LOGOUT" => user("user.logged-out"),
            "access.CUSTOM_REQUIRED_ACTION" => match self.detail("custom_required_action") {
                Some("UPDATE_EMAIL") => user("user.updated"),
                Some("VERIFY_EMAIL") => user("user.email-verified"),
                Some(PASSKEY_ACTION) => match user("") {
                    Action::User { user_id, .. } => Action::PreferPasskey { user_id },
                    other => other,
                },
                _ => Action::Unmapped,
            },
            "admin.GROUP-CREATE" => match self
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

    /// Who caused it: the user for `access.*`, an admin for `admin.*`.
    pub fn sender(&self) -> hookfleet_core::source::Sender {
        if self.event_type.starts_with("admin.") {
            hookfleet_core::source::Sender::Admin
        } else {
            hookfleet_core::source::Sender::User
        }
    }
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
        serde_json::from_value(json!({"id": "e1", "type": t, "realmName": "acme",
            "authDetails": {"userId": "u1", "clientId": "web"}, "details": details,
            "resourcePath": "groups/g1"}))
        .unwrap()
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
            event("access.UPDATE_PROFILE", json!({})).action(),
            user("user.updated")
        );
        assert_eq!(
            event("access.UPDATE_EMAIL", json!({})).action(),
            user("user.updated")
        );
        assert_eq!(cra("UPDATE_EMAIL").action(), user("user.updated"));
        assert_eq!(
            event("access.VERIFY_EMAIL", json!({})).action(),
            user("user.email-verified")
        );
        assert_eq!(cra("VERIFY_EMAIL").action(), user("user.email-verified"));
        assert_eq!(
            event("access.LOGIN_ERROR", json!({})).action(),
            user("user.login-failed")
        );
        assert_eq!(
            event("access.LOGOUT", json!({})).action(),
            user("user.logged-out")
        );
        assert_eq!(
            event("admin.GROUP-CREATE", json!({})).action(),
            Action::Organization {
                group_id: "g1".into()
            }
        );
        assert_eq!(
            cra(PASSKEY_ACTION).action(),
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
                event(unmapped, json!({})).action(),
                Action::Unmapped,
                "{unmapped}"
            );
        }
        assert_eq!(cra("TERMS_AND_CONDITIONS").action(), Action::Unmapped);
    }
}
