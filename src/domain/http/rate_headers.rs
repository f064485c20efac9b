//! Rate-limit headers in the two forms clients read: the API's own `x-rate-limit-*` trio for the
//! binding window, and the IETF `RateLimit-Policy` / `RateLimit` structured fields
//! (draft-ietf-httpapi-ratelimit-headers) for every window.

use crate::domain::time::clock::UnixMillis;
use crate::domain::throttle::verdict::Quota;

/// The window that binds first: least remaining, then the one that resets last.
#[must_use]
pub fn binding(quotas: &[Quota]) -> Option<&Quota> {
    quotas.iter().min_by(|a, b| a.remaining.cmp(&b.remaining).then(b.reset.cmp(&a.reset)))
}

/// Header names and values for a response under these windows.
#[must_use]
pub fn headers(quotas: &[Quota], now: UnixMillis) -> Vec<(&'static str, String)> {
    let Some(bind) = binding(quotas) else { return Vec::new() };
    let policy = quotas
        .iter()
        .map(|q| format!("{};q={};w={}", sf_string(&q.name), q.limit, q.window_seconds))
        .collect::<Vec<_>>()
        .join(", ");
    let state = quotas
        .iter()
        .map(|q| format!("{};r={};t={}", sf_string(&q.name), q.remaining, q.reset.saturating_sub(now.as_secs())))
        .collect::<Vec<_>>()
        .join(", ");
    vec![
        ("x-rate-limit-limit", bind.limit.to_string()),
        ("x-rate-limit-remaining", bind.remaining.to_string()),
        ("x-rate-limit-reset", bind.reset.to_string()),
        ("ratelimit-policy", policy),
        ("ratelimit", state),
    ]
}

/// A window's name as an RFC 8941 string: `"` and `\` escaped, anything but printable ASCII
/// dropped. Names are built from ids and never need it, but whatever a name holds, a header
/// value stays one valid line (a runtime refuses CR, LF and NUL in values).
fn sf_string(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 2);
    out.push('"');
    for c in name.chars().filter(|c| matches!(c, ' '..='~')) {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(name: &str, limit: u64, remaining: u64, reset: u64) -> Quota {
        Quota { name: name.into(), limit, remaining, reset, window_seconds: 900 }
    }

    #[test]
    fn the_trio_follows_the_binding_window() {
        let quotas = [q("app-search", 450, 440, 1_000_900), q("account-search", 1800, 12, 1_000_900)];
        let h = headers(&quotas, UnixMillis::from_secs(1_000_000));
        assert_eq!(h[0], ("x-rate-limit-limit", "1800".into()));
        assert_eq!(h[1], ("x-rate-limit-remaining", "12".into()));
        assert_eq!(h[2], ("x-rate-limit-reset", "1000900".into()));
        assert_eq!(h[3], ("ratelimit-policy", "\"app-search\";q=450;w=900, \"account-search\";q=1800;w=900".into()));
        assert_eq!(h[4], ("ratelimit", "\"app-search\";r=440;t=900, \"account-search\";r=12;t=900".into()));
    }

    #[test]
    fn no_windows_no_headers() {
        assert!(headers(&[], UnixMillis(0)).is_empty());
    }

    #[test]
    fn ties_pick_the_window_that_resets_last() {
        let quotas = [q("a", 10, 0, 100), q("b", 10, 0, 200)];
        assert_eq!(binding(&quotas).unwrap().name, "b");
    }

    #[test]
    fn a_window_name_cannot_break_the_header() {
        // Found by fuzzing: a name was copied into the values as it was.
        let quotas = [q("a\r\nx-evil: 1\"\\\u{e9}", 10, 5, 1_000_900)];
        let h = headers(&quotas, UnixMillis::from_secs(1_000_000));
        assert_eq!(h[3].1, r#""ax-evil: 1\"\\";q=10;w=900"#);
        assert_eq!(h[4].1, r#""ax-evil: 1\"\\";r=5;t=900"#);
        assert!(h.iter().all(|(_, v)| v.bytes().all(|b| (0x20..0x7f).contains(&b))));
    }
}
