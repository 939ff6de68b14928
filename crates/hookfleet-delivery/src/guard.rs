//! Refusing private addresses at send time, unless `allow_private_targets` is set. A URL was
//! checked when its subscription was created, but the name it points at may have changed since
//! (DNS rebinding), so the HTTP client resolves through [`PublicOnly`], and URLs with a literal
//! IP address, which skip resolution, are checked here.
use hookfleet_core::targets::refusal;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::SocketAddr;

/// A resolver that fails for any name with a private address among its answers.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PublicOnly;

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some((a, why)) = addrs.iter().find_map(|a| Some((a, refusal(a.ip())?))) {
                return Err(format!("refused: {host} resolves to {}, {why}", a.ip()).into());
            }
            if addrs.is_empty() {
                return Err(format!("{host} does not resolve").into());
            }
            Ok(Box::new(addrs.into_iter()) as Addrs)
        })
    }
}

/// Why a URL with a literal private IP address is refused, if it is one.
pub(crate) fn literal_private(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    let ip = match parsed.host()? {
        url::Host::Ipv4(ip) => std::net::IpAddr::V4(ip),
        url::Host::Ipv6(ip) => std::net::IpAddr::V6(ip),
        url::Host::Domain(_) => return None,
    };
    refusal(ip).map(|why| format!("refused: {ip} is {why}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_private_addresses_are_refused_and_names_left_to_the_resolver() {
        assert!(literal_private("http://127.0.0.1:9/x").is_some());
        assert!(literal_private("http://[::1]/x").is_some());
        assert!(literal_private("http://10.0.0.1/").is_some());
        assert!(literal_private("http://[::127.0.0.1]/").is_some());
        assert!(literal_private("http://[64:ff9b::127.0.0.1]/").is_some());
        assert!(literal_private("http://198.18.0.1/").is_some());
        assert!(literal_private("https://93.184.216.34/").is_none());
        assert!(literal_private("https://example.com/").is_none());
    }
}
