//! `hookfleet ready`: asks a role's `/readyz` and exits 0 only on 200, so a container
//! healthcheck needs no curl in the image.
use anyhow::Context;
use std::{
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
    time::Duration,
};

/// The address to ask: a role listening on every interface is asked on loopback.
fn local(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv4Addr::LOCALHOST.into(), addr.port())
        }
        IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::new(Ipv6Addr::LOCALHOST.into(), addr.port())
        }
        _ => addr,
    }
}

pub async fn ready(metrics_addr: SocketAddr) -> anyhow::Result<()> {
    let url = format!("http://{}/readyz", local(metrics_addr));
    let answer = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(5))
        .build()
        .context("Failed to build the HTTP client")?
        .get(&url)
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    let status = answer.status();
    anyhow::ensure!(status.is_success(), "{url} answered {status}: not ready");
    println!("ready ({url})");
    Ok(())
}
