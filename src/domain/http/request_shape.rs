//! The shape of a request before any policy: sizes within bounds, and a path in one canonical
//! spelling. A path that an origin might decode into something else (an encoded slash, backslash
//! or dot, a double encoding, a dot segment) is refused, so no request can be routed past its
//! scope by a spelling the edge and the origin read differently.

/// Longest path and query the edge forwards.
pub const MAX_TARGET_BYTES: usize = 8 * 1024;
/// Most header bytes (names and values) the edge reads.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

use crate::domain::http::overrides::Override;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    #[error("the request target is longer than {MAX_TARGET_BYTES} bytes")]
    TargetTooLong,
    #[error("the request headers are larger than {MAX_HEADER_BYTES} bytes")]
    HeadersTooLarge,
    #[error("the path is not in canonical form")]
    PathNotCanonical,
    #[error("the request carries an override of its method or target: {}", .0.name())]
    Override(Override),
}

/// Checks the path (as received, percent-encoded) and the query's length.
///
/// # Errors
/// The first [`ShapeError`] found.
pub fn check_target(path: &str, query: Option<&str>) -> Result<(), ShapeError> {
    if path.len() + query.map_or(0, |q| q.len() + 1) > MAX_TARGET_BYTES {
        return Err(ShapeError::TargetTooLong);
    }
    if !path.starts_with('/') || path.contains('\\') || path.contains("//") {
        return Err(ShapeError::PathNotCanonical);
    }
    let lower = path.to_ascii_lowercase();
    // Encoded '/', '\', '.', '%' and NUL, and any control or non-ASCII byte.
    if ["%2f", "%5c", "%2e", "%25", "%00"].iter().any(|e| lower.contains(e)) {
        return Err(ShapeError::PathNotCanonical);
    }
    if path.bytes().any(|b| b.is_ascii_control() || !b.is_ascii() || b == b' ') {
        return Err(ShapeError::PathNotCanonical);
    }
    if path.split('/').any(|seg| seg == "." || seg == "..") {
        return Err(ShapeError::PathNotCanonical);
    }
    Ok(())
}

/// The path and query of a URL as the runtime serialises it (`scheme://host[:port]/path?query`),
/// split without reparsing: the first `/` after the authority starts the path, the first `?`
/// ends it, and a `#` (never sent by a client) ends the query. `None` when the URL has no
/// authority.
#[must_use]
pub fn split_url(url: &str) -> Option<(&str, Option<&str>)> {
    let authority = url.find("://")? + 3;
    let rest = &url[authority..];
    let rest = match rest.find('/') {
        Some(i) => &rest[i..],
        // `http://host` and `http://host?q` have the path `/`.
        None => return Some(("/", rest.split_once('?').map(|(_, q)| q.split('#').next().unwrap_or("")))),
    };
    let rest = rest.split('#').next().unwrap_or(rest);
    Some(match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    })
}

/// Checks the total size of the headers.
///
/// # Errors
/// [`ShapeError::HeadersTooLarge`].
pub fn check_headers<'a>(headers: impl Iterator<Item = (&'a str, &'a str)>) -> Result<(), ShapeError> {
    let mut total = 0usize;
    for (name, value) in headers {
        total += name.len() + value.len() + 4;
        if total > MAX_HEADER_BYTES {
            return Err(ShapeError::HeadersTooLarge);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_paths_pass() {
        for p in ["/2/tweets/20", "/2/tweets/search/recent", "/2/users/12/tweets", "/"] {
            assert_eq!(check_target(p, Some("query=a%20b&ids=1,2")), Ok(()), "{p}");
        }
    }

    #[test]
    fn spellings_an_origin_could_read_differently_are_refused() {
        for p in [
            "/2/tweets/1%2F..%2Fusers",
            "/2/tweets/1%2f2",
            "/2/tweets/%2e%2e/users/1/tweets",
            "/2/tweets/1%252F2",
            "/2/tweets/..",
            "/2/./tweets/20",
            "/2//tweets/20",
            "/2/tweets/20\\..\\x",
            "/2/tweets/1%5c2",
            "/2/tweets/\u{0}",
            "/2/tweets/é",
            "2/tweets",
        ] {
            assert_eq!(check_target(p, None), Err(ShapeError::PathNotCanonical), "{p:?}");
        }
    }

    #[test]
    fn sizes_are_bounded() {
        let long = "a".repeat(MAX_TARGET_BYTES);
        assert_eq!(check_target("/2/tweets", Some(&long)), Err(ShapeError::TargetTooLong));
        let big = "v".repeat(MAX_HEADER_BYTES);
        assert_eq!(check_headers([("x-big", big.as_str())].into_iter()), Err(ShapeError::HeadersTooLarge));
        assert_eq!(check_headers([("accept", "*/*")].into_iter()), Ok(()));
    }

    #[test]
    fn urls_split_into_path_and_query() {
        assert_eq!(split_url("http://127.0.0.1:8787/2/tweets/20"), Some(("/2/tweets/20", None)));
        assert_eq!(split_url("https://api.example.com/2/tweets?ids=1,2&x=%20"), Some(("/2/tweets", Some("ids=1,2&x=%20"))));
        assert_eq!(split_url("https://api.example.com/a?"), Some(("/a", Some(""))));
        assert_eq!(split_url("https://api.example.com/a?b=1#frag"), Some(("/a", Some("b=1"))));
        assert_eq!(split_url("https://api.example.com/a#frag?no"), Some(("/a", None)));
        assert_eq!(split_url("https://api.example.com"), Some(("/", None)));
        assert_eq!(split_url("https://api.example.com?q=1"), Some(("/", Some("q=1"))));
        // A `?` inside the path is impossible in a serialised URL; a second one belongs to the query.
        assert_eq!(split_url("http://h/p?a?b"), Some(("/p", Some("a?b"))));
        assert_eq!(split_url("/relative"), None);
        assert_eq!(split_url(""), None);
    }

    #[test]
    fn split_paths_keep_their_encoding_for_the_canonical_check() {
        let (path, query) = split_url("http://h/2/tweets/1%2F..%2Fusers?x=1").unwrap();
        assert_eq!(check_target(path, query), Err(ShapeError::PathNotCanonical));
    }
}
