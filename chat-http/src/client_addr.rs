//! Who is on the other end of a request, for the per-address limits.
//!
//! The server loop inserts the TCP peer address into each request's extensions as [`PeerAddr`]
//! (the reference servers do; with axum's `into_make_service_with_connect_info` the adapter
//! also reads `ConnectInfo`). Behind a reverse proxy every request comes from the proxy, so
//! the client address is read from `Forwarded` or `X-Forwarded-For`, but only when the peer
//! is a proxy the operator listed as trusted: anyone else could write those headers.
//!
//! IPv6 clients are keyed by their /64 prefix, the block one subscriber usually holds.

use http::HeaderMap;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};

/// The TCP peer address of a request, inserted as a request extension by the server loop.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PeerAddr(pub SocketAddr);

/// The key per-address limits count under: an IPv4 address, or an IPv6 address's /64 prefix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClientKey(IpAddr);

impl ClientKey {
    /// The key of `ip` (IPv4-mapped IPv6 addresses count as IPv4).
    pub fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey(IpAddr::V4(v4)),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey(IpAddr::V4(v4)),
                None => {
                    let s = v6.segments();
                    ClientKey(IpAddr::V6(Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    )))
                }
            },
        }
    }

    /// The address (for IPv6, the first address of the /64).
    pub fn ip(&self) -> IpAddr {
        self.0
    }
}

fn trusted(ip: IpAddr, proxies: &[IpNet]) -> bool {
    proxies.iter().any(|net| net.contains(&ip))
}

/// The client's address: the peer's, or, when the peer is one of `proxies`, the nearest
/// address in the forwarding chain that is not itself a trusted proxy (`Forwarded` first,
/// else `X-Forwarded-For`). `None` when the peer is unknown.
pub fn client_ip(peer: Option<IpAddr>, headers: &HeaderMap, proxies: &[IpNet]) -> Option<IpAddr> {
    let peer = peer?;
    if !trusted(peer, proxies) {
        return Some(peer);
    }
    let chain = forwarded_for(headers).or_else(|| x_forwarded_for(headers));
    let Some(chain) = chain else {
        return Some(peer);
    };
    // Right to left: the rightmost entries were added by our own proxies.
    let mut client = peer;
    for ip in chain.into_iter().rev() {
        client = ip;
        if !trusted(ip, proxies) {
            break;
        }
    }
    Some(client)
}

/// The `for=` addresses of every `Forwarded` header, in order; `None` without the header or
/// when an entry is not an address (then the chain cannot be trusted as a whole).
fn forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    let mut seen = false;
    for value in headers.get_all(http::header::FORWARDED) {
        seen = true;
        let value = value.to_str().ok()?;
        for element in value.split(',') {
            let node = element
                .split(';')
                .filter_map(|pair| pair.trim().split_once('='))
                .find(|(k, _)| k.trim().eq_ignore_ascii_case("for"))
                .map(|(_, v)| v.trim().trim_matches('"'))?;
            out.push(parse_node(node)?);
        }
    }
    seen.then_some(out)
}

/// The addresses of every `X-Forwarded-For` header, in order.
fn x_forwarded_for(headers: &HeaderMap) -> Option<Vec<IpAddr>> {
    let mut out = Vec::new();
    for value in headers.get_all("x-forwarded-for") {
        for part in value.to_str().ok()?.split(',') {
            out.push(parse_node(part.trim())?);
        }
    }
    (!out.is_empty()).then_some(out)
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `[::1]`, `[::1]:5678`, `::1`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(addr) = node.parse::<SocketAddr>() {
        return Some(addr.ip());
    }
    let inner = node.strip_prefix('[')?.strip_suffix(']')?;
    inner.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn forwarding_headers_count_only_from_trusted_proxies() {
        let proxies: Vec<IpNet> = vec!["10.0.0.0/8".parse().unwrap()];
        let h = headers(&[("x-forwarded-for", "203.0.113.7, 10.0.0.2")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &h, &proxies),
            Some(ip("203.0.113.7"))
        );
        assert_eq!(
            client_ip(Some(ip("198.51.100.1")), &h, &proxies),
            Some(ip("198.51.100.1")),
            "an untrusted peer's headers are ignored"
        );
        let spoofed = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &spoofed, &proxies),
            Some(ip("203.0.113.7")),
            "what the client wrote itself, left of its address, is not believed"
        );
        let fwd = headers(&[(
            "forwarded",
            "for=\"[2001:db8::1]:4711\";proto=https, for=10.1.1.1",
        )]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &fwd, &proxies),
            Some(ip("2001:db8::1"))
        );
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &HeaderMap::new(), &proxies),
            Some(ip("10.0.0.1"))
        );
        assert_eq!(client_ip(None, &h, &proxies), None);
        let junk = headers(&[("x-forwarded-for", "not an address")]);
        assert_eq!(
            client_ip(Some(ip("10.0.0.1")), &junk, &proxies),
            Some(ip("10.0.0.1"))
        );
    }

    #[test]
    fn ipv6_keys_by_prefix() {
        assert_eq!(
            ClientKey::of(ip("2001:db8:1:2:aaaa::1")),
            ClientKey::of(ip("2001:db8:1:2:bbbb::2"))
        );
        assert_ne!(
            ClientKey::of(ip("2001:db8:1:2::1")),
            ClientKey::of(ip("2001:db8:1:3::1"))
        );
        assert_eq!(
            ClientKey::of(ip("::ffff:192.0.2.1")),
            ClientKey::of(ip("192.0.2.1"))
        );
    }
}
