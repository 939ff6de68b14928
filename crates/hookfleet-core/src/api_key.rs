//! API keys: the secret a client presents (`hfk_` and 256 random bits), the hash the record
//! keeps instead of it (SHA-256 suffices for keys of that entropy), and the scopes that say what
//! a key may do.
use crate::Invalid;
use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};
use std::fmt;

pub const KEY_PREFIX: &str = "hfk_";
const KEY_BYTES: usize = 32;
pub const MAX_SCOPES: usize = 100;
pub const MAX_NAME_LEN: usize = 128;

/// A key as shown to its owner once. `Debug` never prints it.
pub struct Key(String);

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key([redacted])")
    }
}

impl Key {
    pub fn generate() -> Self {
        let mut bytes = [0u8; KEY_BYTES];
        getrandom::fill(&mut bytes).expect("the operating system's random source is available");
        Self(format!("{KEY_PREFIX}{}", URL_SAFE_NO_PAD.encode(bytes)))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn hash(&self) -> String {
        hash(&self.0)
    }
}

/// The hash the record keeps of a presented key (lower-case hex SHA-256).
pub fn hash(presented: &str) -> String {
    hex::encode(Sha256::digest(presented.as_bytes()))
}

/// What a key may do.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Everything the admin token may do.
    Admin,
    /// Post partner events for this installation.
    Installation(String),
    /// Post lifecycle events on this channel.
    Channel(String),
    /// Act for this organization.
    Organization(String),
}

impl Scope {
    /// `admin`, `installation:<id>`, `channel:<id>` or `organization:<id>`.
    pub fn parse(s: &str) -> Result<Self, Invalid> {
        let bad = || {
            Invalid::new(
                "scopes",
                format!(
                    "`{}` is not a scope: use admin, installation:<id>, channel:<id> or organization:<id>",
                    s.chars().take(80).collect::<String>()
                ),
            )
        };
        if s == "admin" {
            return Ok(Self::Admin);
        }
        let (kind, id) = s.split_once(':').ok_or_else(bad)?;
        if id.is_empty() || id.len() > 64 || id.chars().any(char::is_control) {
            return Err(bad());
        }
        match kind {
            "installation" => Ok(Self::Installation(id.to_owned())),
            "channel" => Ok(Self::Channel(id.to_owned())),
            "organization" => Ok(Self::Organization(id.to_owned())),
            _ => Err(bad()),
        }
    }

    pub fn as_string(&self) -> String {
        match self {
            Self::Admin => "admin".to_owned(),
            Self::Installation(id) => format!("installation:{id}"),
            Self::Channel(id) => format!("channel:{id}"),
            Self::Organization(id) => format!("organization:{id}"),
        }
    }
}

/// Checks a key's name and scopes: 1 to 100 distinct scopes, a name of 1 to 128 characters.
pub fn validate(name: &str, scopes: &[String]) -> Result<Vec<Scope>, Invalid> {
    if name.trim().is_empty() || name.chars().count() > MAX_NAME_LEN || name.contains('\0') {
        return Err(Invalid::new(
            "name",
            format!("must be 1 to {MAX_NAME_LEN} characters, not all blank"),
        ));
    }
    if scopes.is_empty() || scopes.len() > MAX_SCOPES {
        return Err(Invalid::new(
            "scopes",
            format!("give 1 to {MAX_SCOPES} scopes"),
        ));
    }
    let mut out: Vec<Scope> = Vec::with_capacity(scopes.len());
    for s in scopes {
        let scope = Scope::parse(s)?;
        if !out.contains(&scope) {
            out.push(scope);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_long_random_and_hashed_never_shown() {
        let (a, b) = (Key::generate(), Key::generate());
        assert!(a.expose().starts_with(KEY_PREFIX));
        assert!(
            a.expose().len() >= KEY_PREFIX.len() + 43,
            "256 bits in base64"
        );
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.hash(), hash(a.expose()));
        assert_eq!(a.hash().len(), 64);
        assert!(!format!("{a:?}").contains(a.expose()));
    }

    #[test]
    fn scopes_parse_round_trip_and_refuse_junk() {
        for s in [
            "admin",
            "installation:icfg_1",
            "channel:ch-1",
            "organization:o.1",
        ] {
            assert_eq!(Scope::parse(s).unwrap().as_string(), s);
        }
        for s in ["", "root", "installation:", "channel:a\u{0}", "x:y"] {
            assert!(Scope::parse(s).is_err(), "{s:?}");
        }
        assert_eq!(
            validate("k", &["admin".into(), "admin".into()]).unwrap(),
            vec![Scope::Admin]
        );
        assert!(validate("", &["admin".into()]).is_err());
        assert!(validate("k", &[]).is_err());
    }
}
