//! Which origins may send with a key: the key's `allowed_domains` (empty allows all;
//! `*.example.com` allows every subdomain of example.com) matched against the request's
//! `Origin`, or the origin of its `Referer` when a browser sent no `Origin`.

use friction_schema::url::hostname;

/// One allowed-domain entry, normalised to a lower-case host.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// `example.com`: exactly this host.
    Exact(String),
    /// `*.example.com`: stored as `.example.com`, any host ending with it.
    Subdomains(String),
}

/// The domains a key accepts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedDomains(Vec<Pattern>);

impl AllowedDomains {
    /// Parses the stored entries; entries may be bare hosts or full origins.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Self {
        let patterns = entries
            .iter()
            .map(|e| hostname(e.as_ref().trim()).to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            // Only `*.` + a host is a wildcard: `*shop.com` must not match `evilshop.com`
            // (such entries are refused where keys are made; older rows match nothing).
            .map(|h| match h.strip_prefix("*.") {
                Some(host) if !host.is_empty() && !host.contains('*') => {
                    Pattern::Subdomains(format!(".{host}"))
                }
                _ => Pattern::Exact(h),
            })
            .collect();
        AllowedDomains(patterns)
    }

    /// Entries that can match no origin (a `*` not followed by `.` and a host, as older
    /// rows may hold): the caller warns, since the site's owner meant something by them.
    pub fn unusable<S: AsRef<str>>(entries: &[S]) -> Vec<&str> {
        entries
            .iter()
            .map(|e| e.as_ref())
            .filter(|e| {
                let host = hostname(e.trim());
                host.contains('*')
                    && !host
                        .strip_prefix("*.")
                        .is_some_and(|h| !h.is_empty() && !h.contains('*'))
            })
            .collect()
    }

    /// Whether every origin is allowed.
    pub fn allows_all(&self) -> bool {
        self.0.is_empty()
    }

    /// Whether `origin` (an `Origin` header value or a URL) is allowed.
    pub fn allows(&self, origin: &str) -> bool {
        if self.allows_all() {
            return true;
        }
        let host = hostname(origin);
        self.0.iter().any(|p| match p {
            Pattern::Exact(h) => host.eq_ignore_ascii_case(h),
            Pattern::Subdomains(suffix) => {
                host.len() > suffix.len()
                    && host.is_char_boundary(host.len() - suffix.len())
                    && host[host.len() - suffix.len()..].eq_ignore_ascii_case(suffix)
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_exact_hosts_and_wildcards() {
        let d = AllowedDomains::new(&["shop.example.com", "*.acme.io", "https://Other.org/"]);
        assert!(d.allows("https://shop.example.com"));
        assert!(d.allows("https://shop.example.com:8443"));
        assert!(d.allows("https://a.acme.io"));
        assert!(d.allows("https://a.b.ACME.io"));
        assert!(d.allows("http://other.org/page?x=1"));
        assert!(!d.allows("https://acme.io"));
        assert!(!d.allows("https://evilacme.io"));
        assert!(!d.allows("https://example.com"));
        assert!(!d.allows("https://shop.example.com.evil.net"));
        assert!(!d.allows("null"));
    }

    #[test]
    fn a_star_without_a_dot_is_no_wildcard() {
        let d = AllowedDomains::new(&["*shop.com", "*.", "*"]);
        assert!(!d.allows("https://evilshop.com"));
        assert!(!d.allows("https://a.shop.com"));
        assert!(!d.allows("https://shop.com"));
        assert!(!d.allows("https://anything.example"));
        assert!(!d.allows_all());
        assert_eq!(
            AllowedDomains::unusable(&["*shop.com", "*.ok.com", "a.com", "*"]),
            ["*shop.com", "*"]
        );
    }

    #[test]
    fn empty_allows_everything() {
        let d = AllowedDomains::new::<&str>(&[]);
        assert!(d.allows("https://anything.example"));
        assert!(AllowedDomains::new(&[" "]).allows_all());
    }
}
