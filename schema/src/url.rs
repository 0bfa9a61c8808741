//! Zero-copy slicing of URLs and origins: host and path of a page URL (for grouping by
//! page), and the bare host name of an origin (for matching allowed domains).

/// Where the first `://` of `url` starts. Byte scans rather than `str::find`: these run
/// for every event, and a substring searcher costs more to set up than a URL to scan.
pub fn scheme_end(url: &str) -> Option<usize> {
    let bytes = url.as_bytes();
    memchr::memchr_iter(b':', bytes).find(|&i| bytes[i + 1..].starts_with(b"//"))
}

/// Where the first of `chars` (ASCII) stands in `s`, or its length.
fn first_of(s: &str, chars: &[u8]) -> usize {
    s.bytes()
        .position(|b| chars.contains(&b))
        .unwrap_or(s.len())
}

/// The length of the `userinfo@host:port` part of what follows a scheme.
pub fn authority_len(after_scheme: &str) -> usize {
    first_of(after_scheme, b"/?#")
}

/// `host[:port]` of what follows a scheme (or of `s` itself), without userinfo: it is
/// never part of a page's or an origin's identity.
fn authority(after_scheme: &str) -> &str {
    let authority = &after_scheme[..authority_len(after_scheme)];
    authority.rsplit('@').next().unwrap_or(authority)
}

/// The host of an absolute URL, port included (`https://shop.example.com:8443/a` ->
/// `shop.example.com:8443`), or `""` when the URL has no scheme.
pub fn host(url: &str) -> &str {
    match scheme_end(url) {
        Some(i) => authority(&url[i + 3..]),
        None => "",
    }
}

/// The host name of an origin, a URL or a bare host, without port or IPv6 brackets
/// (`https://Shop.example.com:8443/x` -> `Shop.example.com`, `[::1]:80` -> `::1`).
pub fn hostname(origin: &str) -> &str {
    let rest = origin.split_once("://").map_or(origin, |(_, r)| r);
    let authority = authority(rest);
    if let Some(v6) = authority.strip_prefix('[') {
        return v6.split(']').next().unwrap_or("");
    }
    authority.split(':').next().unwrap_or("")
}

/// The path of a URL without query or fragment; `/` when it has none.
pub fn path(url: &str) -> &str {
    let rest = match scheme_end(url) {
        Some(i) => {
            let after = &url[i + 3..];
            &after[authority_len(after)..]
        }
        None => url,
    };
    match &rest[..first_of(rest, b"?#")] {
        "" => "/",
        p => p,
    }
}

/// The URL without its query string and fragment.
pub fn strip_query(url: &str) -> &str {
    &url[..first_of(url, b"?#")]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_urls() {
        assert_eq!(host("https://a.example.com/x/y?q=1#f"), "a.example.com");
        assert_eq!(path("https://a.example.com/x/y?q=1#f"), "/x/y");
        assert_eq!(path("https://a.example.com"), "/");
        assert_eq!(path("https://a.example.com?x"), "/");
        assert_eq!(host("https://u:p@a.example.com:81/"), "a.example.com:81");
        assert_eq!(path("/relative/p?x"), "/relative/p");
        assert_eq!(host("/relative"), "");
        assert_eq!(strip_query("https://a/b?c#d"), "https://a/b");
    }

    #[test]
    fn finds_the_first_scheme_separator() {
        assert_eq!(scheme_end("https://a/b://c"), Some(5));
        assert_eq!(scheme_end("a:b://c"), Some(3));
        assert_eq!(scheme_end("x:/y:"), None);
        assert_eq!(path("a:b://h/p?q"), "/p");
        assert_eq!(host("mailto:x"), "");
    }

    #[test]
    fn finds_host_names_of_origins() {
        assert_eq!(
            hostname("https://Shop.example.com:8443/x"),
            "Shop.example.com"
        );
        assert_eq!(hostname("shop.example.com"), "shop.example.com");
        assert_eq!(hostname("https://u@h.io?x"), "h.io");
        assert_eq!(hostname("http://[::1]:8080/"), "::1");
        assert_eq!(hostname("null"), "null");
    }
}
