//! Who the client is: the TCP peer, or the address a trusted reverse proxy forwarded.

/// An address or CIDR block of trusted reverse proxies (`10.0.0.0/8`, `::1`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyNet(ipnet::IpNet);

impl ProxyNet {
    /// Whether `ip` is in the block; an IPv4 block holds the IPv4-mapped IPv6 addresses too
    /// (`::ffff:10.0.0.1`, as a dual-stack socket reports an IPv4 peer).
    pub fn contains(&self, ip: std::net::IpAddr) -> bool {
        use std::net::IpAddr::{V4, V6};
        let ip = match (self.0, ip) {
            (ipnet::IpNet::V4(_), V6(v6)) => v6.to_ipv4_mapped().map(V4).unwrap_or(V6(v6)),
            _ => ip,
        };
        self.0.contains(&ip)
    }
}

impl std::str::FromStr for ProxyNet {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        let (addr, prefix) = s.split_once('/').map_or((s, None), |(a, p)| (a, Some(p)));
        let ip: std::net::IpAddr = addr.parse().map_err(|_| format!("{s:?} is not an IP address or CIDR block"))?;
        match prefix {
            Some(_) => s.parse().map(Self).map_err(|_| format!("{s:?}: bad prefix length")),
            None => Ok(Self(ip.into())),
        }
    }
}

/// The client's address: the TCP peer, or, when the peer is a trusted proxy, the last
/// address in `X-Forwarded-For` that is not itself a trusted proxy. Proxies append the
/// address they received from, so only the entries trusted proxies wrote can be believed.
pub fn client_ip(
    peer: Option<std::net::IpAddr>,
    forwarded_for: Option<&str>,
    trusted: &[ProxyNet],
) -> Option<std::net::IpAddr> {
    let peer = peer?;
    let is_trusted = |ip: std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    if !is_trusted(peer) {
        return Some(peer);
    }
    let mut client = peer;
    for hop in forwarded_for.unwrap_or_default().rsplit(',') {
        let Ok(ip) = hop.trim().parse::<std::net::IpAddr>() else { break };
        client = ip;
        if !is_trusted(ip) {
            break;
        }
    }
    Some(client)
}

/// The client's address as the server computed it, kept in a request's extensions.
#[derive(Debug, Clone, Copy)]
pub struct ClientIp(pub std::net::IpAddr);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_is_the_peer_unless_a_trusted_proxy_forwarded_it() {
        let trusted: Vec<ProxyNet> = vec!["10.0.0.0/8".parse().unwrap(), "::1".parse().unwrap()];
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        // An untrusted peer's header is ignored: anyone can write one.
        assert_eq!(client_ip(ip("203.0.113.9"), Some("1.2.3.4"), &trusted), ip("203.0.113.9"));
        // A trusted proxy: the last address it did not write itself.
        assert_eq!(client_ip(ip("10.1.2.3"), Some("1.2.3.4, 198.51.100.7"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("10.1.2.3"), Some("198.51.100.7, 10.9.9.9"), &trusted), ip("198.51.100.7"));
        assert_eq!(client_ip(ip("::1"), Some("198.51.100.7"), &trusted), ip("198.51.100.7"));
        // Garbage stops the walk at the last good address.
        assert_eq!(client_ip(ip("10.1.2.3"), Some("junk, 10.2.2.2"), &trusted), ip("10.2.2.2"));
        assert_eq!(client_ip(ip("10.1.2.3"), None, &trusted), ip("10.1.2.3"));
        assert!("10.0.0.0/33".parse::<ProxyNet>().is_err());
        assert!("nonsense".parse::<ProxyNet>().is_err());
        let v4_mapped: std::net::IpAddr = "::ffff:10.0.0.1".parse().unwrap();
        assert!(trusted[0].contains(v4_mapped));
        assert!(!trusted[0].contains("11.0.0.1".parse().unwrap()));
    }
}
