//! Who is calling: the [`Principal`] a request authenticates as, from its Bearer credential:
//! the bootstrap admin token(s) (`HOOKFLEET_ADMIN_TOKEN`) or an API key (checked against the
//! in-memory [`crate::directory::KeyRing`]). A route group requires what it needs with a middleware
//! ([`require_admin`] for the native API); a handler that needs to know who is calling takes
//! the [`Principal`] from the request's extensions.
use crate::{AppState, error::ApiError};
use axum::{
    extract::{Request, State},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};
use hookfleet_core::{ApiKeyId, api_key::Scope};
use std::sync::Arc;

/// Who a request acts as.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Principal {
    /// The bootstrap admin token: may do everything.
    Admin,
    /// An API key, with what it may do.
    Key { id: ApiKeyId, scopes: Vec<Scope> },
}

impl Principal {
    /// May do everything (the admin token, or a key with the `admin` scope).
    pub(crate) fn is_admin(&self) -> bool {
        match self {
            Self::Admin => true,
            Self::Key { scopes, .. } => scopes.contains(&Scope::Admin),
        }
    }
}

/// Constant-time comparison, so response timing does not reveal how much of a token matched.
pub(crate) fn tokens_equal(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The token of `Bearer <token>`: the scheme in any case, one space, then a token with no
/// white space (RFC 6750's form). Anything looser is no credential at all.
fn bearer_token(value: &[u8]) -> Option<&str> {
    let value = std::str::from_utf8(value).ok()?;
    let (scheme, token) = value.split_at_checked(7)?;
    let well_formed = scheme.eq_ignore_ascii_case("bearer ")
        && !token.is_empty()
        && !token
            .bytes()
            .any(|b| b.is_ascii_whitespace() || b.is_ascii_control());
    well_formed.then_some(token)
}

/// The well-formed Bearer token of a request, if it has one.
pub(crate) fn bearer(req: &Request) -> Option<&str> {
    req.headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| bearer_token(v.as_bytes()))
}

/// The principal a request's credentials name, if they name one.
pub(crate) fn principal(state: &AppState, req: &Request) -> Option<Principal> {
    let presented = bearer(req)?;
    let admin = state.settings.admin_tokens.iter().fold(false, |acc, t| {
        acc | tokens_equal(presented.as_bytes(), t.as_bytes())
    });
    if admin {
        return Some(Principal::Admin);
    }
    let (id, scopes) = state.keys.lookup(presented)?;
    Some(Principal::Key { id, scopes })
}

/// Middleware for the native API: 401 in the envelope unless the request authenticates, 403
/// for a key without the `admin` scope; the principal goes in the request's extensions.
pub(crate) async fn require_admin(
    State(state): State<Arc<AppState>>,
    mut req: Request,
    next: Next,
) -> Response {
    match principal(&state, &req) {
        Some(p) if p.is_admin() => {
            req.extensions_mut().insert(p);
            next.run(req).await
        }
        Some(_) => ApiError::forbidden("this key's scopes do not include `admin`").into_response(),
        None => ApiError::unauthorized().into_response(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn bearer_takes_exactly_one_space_and_a_whole_token() {
        use super::bearer_token as b;
        assert_eq!(b(b"Bearer abc"), Some("abc"));
        assert_eq!(b(b"bearer abc"), Some("abc"));
        for bad in [
            &b"Bearer  abc"[..],
            b"Bearer abc ",
            b"Bearer ",
            b"Bearer",
            b"Basic abc",
            b"Bearer a\tb",
            b"Bearer \xff",
        ] {
            assert_eq!(b(bad), None, "{}", String::from_utf8_lossy(bad));
        }
    }
}
