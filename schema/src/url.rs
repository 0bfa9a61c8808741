//! Zero-copy slicing of page URLs into host and path, for grouping by page.

/// The host of an absolute URL (`https://shop.example.com:8443/a` -> `shop.example.com:8443`),
/// or `""` when the URL has no scheme.
pub fn host(url: &str) -> &str {
    match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
            let authority = &rest[..end];
            // Drop userinfo: it is never part of the page identity.
            authority.rsplit('@').next().unwrap_or(authority)
        }
        None => "",
    }
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
}
