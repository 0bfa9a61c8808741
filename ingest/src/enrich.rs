//! What ingest adds to a batch from the request, never from the payload: the client IP
//! (anonymised by default) and the user agent.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use http::HeaderMap;

/// Longest user agent kept.
pub const MAX_USER_AGENT_BYTES: usize = 512;

/// Whether and how to read `X-Forwarded-For`.
#[derive(Debug, Clone, Copy)]
pub struct Forwarded {
    /// Ingest runs behind proxies that set the header.
    pub trusted: bool,
    /// How many of them append to it.
    pub hops: usize,
}

/// The client address: the socket peer, or, behind trusted proxies, the `X-Forwarded-For`
/// entry `hops` places from the right: the address the outermost of them saw. Entries
/// further left are whatever the client wrote, so they are never believed.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, forwarded: &Forwarded) -> IpAddr {
    if !forwarded.trusted {
        return peer;
    }
    // Walk the entries from the right (across repeated headers) without collecting them.
    let mut left = forwarded.hops.max(1);
    for value in headers.get_all("x-forwarded-for").iter().rev() {
        let Ok(value) = value.to_str() else {
            return peer;
        };
        for entry in value.rsplit(',') {
            left -= 1;
            if left == 0 {
                return entry.trim().parse().unwrap_or(peer);
            }
        }
    }
    peer
}

/// Zeroes the host part: the last octet of IPv4, everything past /48 of IPv6.
pub fn anonymize(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            IpAddr::V4(Ipv4Addr::new(a, b, c, 0))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => anonymize(IpAddr::V4(v4)),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], 0, 0, 0, 0, 0))
            }
        },
    }
}

/// The user agent, cut at a character boundary to at most [`MAX_USER_AGENT_BYTES`].
pub fn user_agent(headers: &HeaderMap) -> &str {
    let ua = headers
        .get(http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let mut end = ua.len().min(MAX_USER_AGENT_BYTES);
    while !ua.is_char_boundary(end) {
        end -= 1;
    }
    &ua[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn anonymises_addresses() {
        assert_eq!(
            anonymize("203.0.113.77".parse().unwrap()).to_string(),
            "203.0.113.0"
        );
        assert_eq!(
            anonymize("2001:db8:abcd:12:1::9".parse().unwrap()).to_string(),
            "2001:db8:abcd::"
        );
        assert_eq!(
            anonymize("::ffff:10.1.2.3".parse().unwrap()).to_string(),
            "10.1.2.0"
        );
    }

    #[test]
    fn trusts_only_the_hops_the_proxies_added() {
        let one = Forwarded {
            trusted: true,
            hops: 1,
        };
        let mut h = HeaderMap::new();
        // The client wrote the first entry; the trusted proxy appended the last.
        h.insert(
            "x-forwarded-for",
            "198.51.100.4, 203.0.113.9".parse().unwrap(),
        );
        let peer: IpAddr = "127.0.0.1".parse().unwrap();
        let off = Forwarded {
            trusted: false,
            hops: 1,
        };
        assert_eq!(client_ip(peer, &h, &off), peer);
        assert_eq!(client_ip(peer, &h, &one).to_string(), "203.0.113.9");
        let two = Forwarded {
            trusted: true,
            hops: 2,
        };
        assert_eq!(client_ip(peer, &h, &two).to_string(), "198.51.100.4");
        h.append("x-forwarded-for", "192.0.2.1".parse().unwrap());
        assert_eq!(client_ip(peer, &h, &one).to_string(), "192.0.2.1");
        assert_eq!(client_ip(peer, &h, &two).to_string(), "203.0.113.9");
        h.insert("x-forwarded-for", "not an address".parse().unwrap());
        assert_eq!(client_ip(peer, &h, &one), peer);
        assert_eq!(client_ip(peer, &h, &two), peer);
    }
}
