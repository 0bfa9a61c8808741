//! Zero-copy slicing of URLs and origins: host and path of a page URL (for grouping by
//! page), and the bare host name of an origin (for matching allowed domains).

/// `host[:port]` of what follows a scheme (or of `s` itself), without userinfo: it is
/// never part of a page's or an origin's identity.
fn authority(after_scheme: &str) -> &str {
    let end = after_scheme
        .find(['/', '?', '#'])
        .unwrap_or(after_scheme.len());
    let authority = &after_scheme[..end];
    authority.rsplit('@').next().unwrap_or(authority)
}

/// The host of an absolute URL, port included (`https://shop.example.com:8443/a` ->
/// `shop.example.com:8443`), or `""` when the URL has no scheme.
pub fn host(url: &str) -> &str {
    match url.find("://") {
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
    let rest = match url.find("://") {
        Some(i) => {
            let after = &url[i + 3..];
            match after.find(['/', '?', '#']) {
                Some(j) => &after[j..],
                None => "",
            }
        }
        None => url,
    };
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    match &rest[..end] {
        "" => "/",
        p => p,
    }
}

/// The URL without its query string and fragment.
pub fn strip_query(url: &str) -> &str {
    let end = url.find(['?', '#']).unwrap_or(url.len());
    &url[..end]
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
