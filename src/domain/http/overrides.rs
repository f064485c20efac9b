//! Requests that ask the origin to act on another method or target than the one sent.
//!
//! Many web frameworks honour a method override (Express's `method-override`, Rails'
//! `Rack::MethodOverride`, several API gateways) or a rewritten URL (`X-Original-URL` in IIS and
//! Symfony). The edge checks the plan against the method and path it received, so such a request
//! would be checked as a `GET` and served as a `DELETE`. It is refused with a 400 naming the
//! override, rather than checked as the overridden method: whether the origin honours the
//! override is not known at the edge, so neither reading can be charged with certainty, and the
//! API's own clients never send one.

/// An override the edge refuses, by the spelling it arrived in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Override {
    XHttpMethodOverride,
    XHttpMethod,
    XMethodOverride,
    XOriginalMethod,
    /// A `_method` query parameter.
    MethodParameter,
    XOriginalUrl,
    XRewriteUrl,
}

impl Override {
    const HEADERS: [(&'static str, Self); 6] = [
        ("x-http-method-override", Self::XHttpMethodOverride),
        ("x-http-method", Self::XHttpMethod),
        ("x-method-override", Self::XMethodOverride),
        ("x-original-method", Self::XOriginalMethod),
        ("x-original-url", Self::XOriginalUrl),
        ("x-rewrite-url", Self::XRewriteUrl),
    ];

    /// The header or parameter as the problem's detail names it.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Self::XHttpMethodOverride => "X-HTTP-Method-Override",
            Self::XHttpMethod => "X-HTTP-Method",
            Self::XMethodOverride => "X-Method-Override",
            Self::XOriginalMethod => "X-Original-Method",
            Self::MethodParameter => "_method",
            Self::XOriginalUrl => "X-Original-URL",
            Self::XRewriteUrl => "X-Rewrite-URL",
        }
    }

    /// Whether it overrides the method (otherwise it overrides the target).
    #[must_use]
    pub fn is_method(self) -> bool {
        !matches!(self, Self::XOriginalUrl | Self::XRewriteUrl)
    }
}

/// The first override a request carries, in its headers (names in lower case) or its query.
#[must_use]
pub fn find<'a>(headers: impl Iterator<Item = &'a str>, query: Option<&str>) -> Option<Override> {
    for name in headers {
        if let Some((_, o)) = Override::HEADERS.iter().find(|(n, _)| n.eq_ignore_ascii_case(name)) {
            return Some(*o);
        }
    }
    let query = query?;
    query
        .split('&')
        .map(|pair| pair.split_once('=').map_or(pair, |(k, _)| k))
        .any(|key| decoded_key_is_method(key))
        .then_some(Override::MethodParameter)
}

/// Whether a query key, percent- and plus-decoded as a form parser would, is `_method`.
fn decoded_key_is_method(key: &str) -> bool {
    const WANTED: &[u8] = b"_method";
    let bytes = key.as_bytes();
    let mut out = Vec::with_capacity(WANTED.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex_value(bytes[i + 1]), hex_value(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        i += 2;
                        h * 16 + l
                    }
                    _ => b'%',
                }
            }
            b'+' => b' ',
            b => b,
        };
        out.push(b.to_ascii_lowercase());
        if out.len() > WANTED.len() {
            return false;
        }
        i += 1;
    }
    out == WANTED
}

fn hex_value(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers<'a>(names: &'a [&'static str]) -> impl Iterator<Item = &'static str> + 'a {
        names.iter().copied()
    }

    #[test]
    fn every_header_spelling_is_found() {
        for (name, expected) in [
            ("x-http-method-override", Override::XHttpMethodOverride),
            ("X-HTTP-Method", Override::XHttpMethod),
            ("x-method-override", Override::XMethodOverride),
            ("x-original-method", Override::XOriginalMethod),
            ("x-original-url", Override::XOriginalUrl),
            ("X-Rewrite-URL", Override::XRewriteUrl),
        ] {
            assert_eq!(find(headers(&["accept", name]), None), Some(expected), "{name}");
        }
    }

    #[test]
    fn the_method_parameter_is_found_however_it_is_spelled() {
        for q in ["_method=DELETE", "a=1&_method=delete", "%5Fmethod=DELETE", "%5fMETHOD=x", "_method", "_%6Dethod=PUT"] {
            assert_eq!(find(headers(&[]), Some(q)), Some(Override::MethodParameter), "{q}");
        }
    }

    #[test]
    fn ordinary_requests_have_none() {
        for q in ["query=_method", "method=GET", "x_method=1", "_methods=1", "_method_=1", "%", "%5", "a=%5F", ""] {
            assert_eq!(find(headers(&["accept", "x-method"]), Some(q)), None, "{q}");
        }
        assert_eq!(find(headers(&[]), None), None);
    }

    #[test]
    fn method_and_target_overrides_are_told_apart() {
        assert!(Override::XHttpMethodOverride.is_method());
        assert!(Override::MethodParameter.is_method());
        assert!(!Override::XOriginalUrl.is_method());
        assert_eq!(Override::MethodParameter.name(), "_method");
    }
}
