//! Where a webhook may point: its URL (scheme, host, no credentials, no internal address
//! unless allowed), its headers, and the address it resolves to when sent.

use std::net::{IpAddr, SocketAddr};

use crate::error::{AppError, AppResult};

use super::*;

/// Headers a webhook may not set: they are the protocol's or the signature's.
const RESERVED_HEADERS: [&str; 6] =
    ["host", "content-type", "content-length", "user-agent", "connection", "transfer-encoding"];

/// Whether an address is one a webhook may not reach unless allowed: this machine, the
/// private ranges, link-local (cloud metadata lives there), and the like.
pub fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 198 && (b == 18 || b == 19)) // benchmarking
                || a >= 240
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = embedded_ipv4(v6) {
                return is_internal(IpAddr::V4(v4));
            }
            let s = v6.segments();
            v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00 // unique local
                || (s[0] & 0xffc0) == 0xfe80 // link-local
                || (s[0], s[1], s[2]) == (0x64, 0xff9b, 1) // local-use NAT64 (64:ff9b:1::/48): a site's own translator
                || (s[0], s[1]) == (0x2001, 0) // Teredo: the IPv4 inside is obfuscated, so refuse it whole
        }
    }
}

/// The IPv4 address an IPv6 address carries and reaches, where it carries one: IPv4-mapped
/// (`::ffff:a.b.c.d`), IPv4-compatible (`::a.b.c.d`, deprecated but still routed by some
/// stacks), NAT64 (`64:ff9b::a.b.c.d`, which a translator turns into a connection to the IPv4
/// address) and 6to4 (`2002:AABB:CCDD::/48`). Each would otherwise let a webhook reach an
/// internal IPv4 address through an IPv6 literal.
pub(super) fn embedded_ipv4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = v6.segments();
    let low = std::net::Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        // `::` and `::1` are the IPv6 unspecified and loopback addresses, not IPv4-compatible ones.
        [0, 0, 0, 0, 0, 0, 0, 0 | 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(low),
        [0x2002, hi, lo, ..] => Some(std::net::Ipv4Addr::new((hi >> 8) as u8, hi as u8, (lo >> 8) as u8, lo as u8)),
        _ => None,
    }
}

/// A webhook's URL as the activity log keeps it: its scheme and host (and port) only. The path
/// and query of a Slack, Teams or CI trigger URL are a bearer secret.
pub(super) fn logged_url(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => u.origin().ascii_serialization(),
        Err(_) => String::new(),
    }
}

/// A URL a webhook may be given: http or https, a host, no credentials in it, and, when
/// the host is an address, not an internal one (unless allowed).
pub(super) fn check_url(url: &str, allow_private: bool) -> AppResult<reqwest::Url> {
    let bad = |m: &str| AppError::invalid("url", m);
    if url.len() > 2048 {
        return Err(bad("at most 2048 characters"));
    }
    let parsed = reqwest::Url::parse(url.trim()).map_err(|e| bad(&format!("not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(bad("must start with http:// or https://"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(bad("may not carry credentials: send them in a header instead, which is stored encrypted"));
    }
    match parsed.host() {
        None => return Err(bad("has no host")),
        Some(url::Host::Ipv4(ip)) if !allow_private && is_internal(IpAddr::V4(ip)) => {
            return Err(bad("points at a loopback, private or link-local address, which webhooks may not reach"));
        }
        Some(url::Host::Ipv6(ip)) if !allow_private && is_internal(IpAddr::V6(ip)) => {
            return Err(bad("points at a loopback, private or link-local address, which webhooks may not reach"));
        }
        _ => {}
    }
    Ok(parsed)
}

pub(super) fn check_headers(headers: &[(String, String)]) -> AppResult<()> {
    if headers.len() > 10 {
        return Err(AppError::invalid("headers", "at most 10 headers"));
    }
    for (name, value) in headers {
        let lower = name.to_ascii_lowercase();
        let token = !name.is_empty()
            && name.len() <= 64
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b));
        if !token {
            return Err(AppError::invalid("headers", format!("{name:?} is not a header name")));
        }
        if RESERVED_HEADERS.contains(&lower.as_str()) || lower.starts_with("x-portcullis-") {
            return Err(AppError::invalid("headers", format!("{name} is set by Portcullis itself")));
        }
        if value.len() > 1024 || value.bytes().any(|b| b == b'\r' || b == b'\n' || b == 0) {
            return Err(AppError::invalid("headers", format!("the value of {name} is too long or has line breaks")));
        }
    }
    Ok(())
}

/// Checks a new webhook's fields; returns the URL as parsed and the format.
pub(super) fn check_new(w: &NewWebhook, allow_private: bool) -> AppResult<String> {
    let name = w.name.trim();
    if name.is_empty() || name.chars().count() > 64 {
        return Err(AppError::invalid("name", "1 to 64 characters"));
    }
    check_url(&w.url, allow_private)?;
    if w.events.is_empty() {
        return Err(AppError::invalid("events", "choose at least one event"));
    }
    if let Some(e) = w.events.iter().find(|e| !EVENTS.contains(&e.as_str())) {
        return Err(AppError::invalid("events", format!("{e:?} is not one of {}", EVENTS.join(", "))));
    }
    let format = w.format.clone().filter(|f| !f.is_empty()).unwrap_or_else(|| "portcullis".into());
    if !FORMATS.contains(&format.as_str()) {
        return Err(AppError::invalid("format", format!("must be one of {}", FORMATS.join(", "))));
    }
    check_headers(&w.headers)?;
    if let Some(s) = &w.secret {
        if !s.is_empty() && (s.len() < 16 || s.len() > 256) {
            return Err(AppError::invalid("secret", "16 to 256 characters, or leave it empty to have one made"));
        }
    }
    Ok(format)
}

/// Resolves the target and refuses an internal address (unless allowed): the address to
/// connect to, so that the name cannot resolve elsewhere between the check and the send.
pub(super) async fn resolve(url: &reqwest::Url, allow_private: bool) -> Result<Option<SocketAddr>, String> {
    let host = url.host_str().ok_or("the URL has no host")?;
    let port = url.port_or_known_default().ok_or("the URL has no port")?;
    if url.host().is_some_and(|h| !matches!(h, url::Host::Domain(_))) {
        // An address: checked when the webhook was made, and again here.
        let ip: IpAddr = host.trim_matches(['[', ']']).parse().map_err(|_| "a malformed address")?;
        if !allow_private && is_internal(ip) {
            return Err(format!("{ip} is a loopback, private or link-local address"));
        }
        return Ok(None);
    }
    let addrs: Vec<SocketAddr> =
        tokio::net::lookup_host((host, port)).await.map_err(|e| format!("{host} does not resolve: {e}"))?.collect();
    let first = *addrs.first().ok_or_else(|| format!("{host} resolves to no address"))?;
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| is_internal(a.ip())) {
            return Err(format!("{host} resolves to {}, a loopback, private or link-local address", bad.ip()));
        }
    }
    Ok(Some(first))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internal_addresses_are_recognised() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:127.0.0.1",
            // IPv4 inside IPv6: compatible, NAT64 (well-known and local-use), 6to4, Teredo.
            "::127.0.0.1",
            "::10.0.0.1",
            "64:ff9b::127.0.0.1",
            "64:ff9b::a9fe:a9fe",
            "64:ff9b:1::8.8.8.8",
            "2002:7f00:1::1",
            "2002:a9fe:a9fe::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
        ] {
            assert!(is_internal(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "1.1.1.1", "2a00:1450::1", "64:ff9b::8.8.8.8", "2002:808:808::1", "::8.8.8.8"] {
            assert!(!is_internal(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn only_the_origin_of_a_url_is_logged() {
        assert_eq!(logged_url("https://hooks.example.com/services/T0/B0?token=s3cr3t"), "https://hooks.example.com");
        assert_eq!(logged_url("http://ci.example:8080/trigger/abc#x"), "http://ci.example:8080");
        assert_eq!(logged_url("not a url"), "");
    }

    #[test]
    fn urls_are_checked() {
        assert!(check_url("https://hooks.example.com/x", false).is_ok());
        assert!(check_url("ftp://hooks.example.com/x", false).is_err());
        assert!(check_url("https://user:pw@hooks.example.com/x", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/x", false).is_err());
        assert!(check_url("http://[::1]/x", false).is_err());
        assert!(check_url("http://127.0.0.1:8080/x", true).is_ok());
        assert!(check_url("not a url", true).is_err());
    }

    #[test]
    fn headers_of_the_protocol_cannot_be_overridden() {
        assert!(check_headers(&[("Authorization".into(), "Bearer x".into())]).is_ok());
        assert!(check_headers(&[("Content-Type".into(), "text/plain".into())]).is_err());
        assert!(check_headers(&[("X-Portcullis-Signature".into(), "forged".into())]).is_err());
        assert!(check_headers(&[("X-Ok".into(), "a\r\nInjected: yes".into())]).is_err());
        assert!(check_headers(&[("bad name".into(), "x".into())]).is_err());
    }
}
