//! Routing keys on `hookfleet.events` and the binding keys of subscriptions.
//!
//! A copy's routing key is `<partition>.<organization>.<type>`. Partitions (`pca.hub.tdi1`)
//! and organizations may contain dots, which AMQP topic matching would split into words, so each
//! is encoded into exactly one word: every byte outside `[A-Za-z0-9-]` becomes `%XX`, and an
//! absent value becomes `_` (which an encoded value can never be, since `_` itself is escaped).
//! The type keeps its dots so the subscription patterns `user.*` and `user.#` match it.

mod index;
pub use index::{Filter, Index};

/// The word standing for "this copy has no such field".
pub const ABSENT: &str = "_";

/// Routing and binding keys are AMQP short strings.
pub const MAX_KEY_LEN: usize = 255;

/// Encodes one value into a single routing-key word.
pub fn encode_word(value: Option<&str>) -> String {
    let Some(v) = value else {
        return ABSENT.to_owned();
    };
    let mut out = String::with_capacity(v.len());
    for b in v.bytes() {
        if b.is_ascii_alphanumeric() || b == b'-' {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The routing key of one copy.
pub fn routing_key(
    partition: Option<&str>,
    organization: Option<&str>,
    event_type: &str,
) -> String {
    format!(
        "{}.{}.{}",
        encode_word(partition),
        encode_word(organization),
        event_type
    )
}

/// The binding keys a subscription needs: one per (pattern × partition × organization), with
/// `*` standing for "any, including absent" where a list is not given.
pub fn binding_keys(
    patterns: &[String],
    partitions: Option<&[String]>,
    organizations: Option<&[String]>,
) -> Vec<String> {
    let words = |list: Option<&[String]>| -> Vec<String> {
        match list {
            None => vec!["*".to_owned()],
            Some(items) => items.iter().map(|s| encode_word(Some(s))).collect(),
        }
    };
    let parts = words(partitions);
    let orgs = words(organizations);
    let mut keys = Vec::with_capacity(patterns.len() * parts.len() * orgs.len());
    for pattern in patterns {
        for p in &parts {
            for o in &orgs {
                keys.push(format!("{p}.{o}.{pattern}"));
            }
        }
    }
    keys
}

/// AMQP topic matching, written independently of RabbitMQ (which does the real matching), for
/// checks: the tests' proof that the encoding keeps the meaning of patterns, and the chaos
/// suite's expected copies. `*` is exactly one word, `#` zero or more.
pub fn topic_matches(pattern: &str, key: &str) -> bool {
    fn go(p: &[&str], k: &[&str]) -> bool {
        match (p.first(), k.first()) {
            (None, None) => true,
            (Some(&"#"), _) => go(&p[1..], k) || (!k.is_empty() && go(p, &k[1..])),
            (Some(&"*"), Some(_)) => go(&p[1..], &k[1..]),
            (Some(a), Some(b)) if a == b => go(&p[1..], &k[1..]),
            _ => false,
        }
    }
    let p: Vec<&str> = pattern.split('.').collect();
    let k: Vec<&str> = key.split('.').collect();
    go(&p, &k)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotted_partitions_stay_one_word() {
        let key = routing_key(Some("pca.hub.tdi1"), Some("org-1"), "user.created");
        assert_eq!(key, "pca%2Ehub%2Etdi1.org-1.user.created");
        assert_eq!(encode_word(Some("_")), "%5F");
        assert_eq!(encode_word(None), "_");
    }

    #[test]
    fn bindings_match_exactly_the_intended_copies() {
        let pats = vec!["user.*".to_owned()];
        let parts = vec!["pca.hub.tdi1".to_owned()];
        let keys = binding_keys(&pats, Some(&parts), None);
        let hit = |p: Option<&str>, o: Option<&str>, t: &str| {
            let rk = routing_key(p, o, t);
            keys.iter().any(|b| topic_matches(b, &rk))
        };
        assert!(hit(Some("pca.hub.tdi1"), Some("a.b"), "user.created"));
        assert!(hit(Some("pca.hub.tdi1"), None, "user.created"));
        assert!(!hit(Some("pca.hub"), Some("a"), "user.created"));
        assert!(!hit(Some("pca.hub.tdi1"), Some("a"), "user.email.invited"));
        assert!(!hit(None, Some("a"), "user.created"));

        let all = binding_keys(&["#".to_owned()], None, None);
        assert!(topic_matches(&all[0], &routing_key(None, None, "a.b.c")));
    }
}
