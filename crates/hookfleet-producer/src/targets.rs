//! Refusing subscription URLs that resolve into the operator's network when they are created
//! or changed. The delivery role checks again at send time (its DNS may have changed since).
use hookfleet_core::targets::refusal;

/// Resolves the URL's host and returns an explanation if any address is not public.
pub async fn check_public(url: &url::Url) -> Result<(), String> {
    let host = url.host_str().unwrap_or_default();
    let port = url.port_or_known_default().unwrap_or(443);
    let host = host.trim_start_matches('[').trim_end_matches(']');
    let addrs: Vec<_> = tokio::net::lookup_host((host, port))
        .await
        .map_err(|_| format!("url: the host `{host}` does not resolve"))?
        .collect();
    if addrs.is_empty() {
        return Err(format!("url: the host `{host}` does not resolve"));
    }
    if let Some((a, why)) = addrs.iter().find_map(|a| Some((a, refusal(a.ip())?))) {
        return Err(format!(
            "url: `{host}` resolves to {}, {why}, which this fleet does not deliver to \
             (for local testing only, its operator can allow such targets with \
             HOOKFLEET_ALLOW_PRIVATE_TARGETS=true)",
            a.ip()
        ));
    }
    Ok(())
}
