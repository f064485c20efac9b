//! Which request headers reach the origin. Tollgate owns every header under `x-tollgate-`:
//! a client's copy of one is dropped, so nothing downstream can be spoofed.

pub const INTERNAL_PREFIX: &str = "x-tollgate-";

/// Connection-level headers that belong to one hop only (RFC 9110 §7.6.1), plus the ones the
/// edge must not pass on: the client's credentials and the client's idea of the host.
const DROPPED: &[&str] = &[
    "authorization",
    "connection",
    "content-length",
    "host",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Whether a client request header is passed on to the origin (names compare case-insensitively).
#[must_use]
pub fn forwards_to_origin(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    !lower.starts_with(INTERNAL_PREFIX) && !DROPPED.contains(&lower.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_credentials_hop_headers_and_the_internal_namespace() {
        for name in ["Authorization", "authorization", "X-Tollgate-Context", "x-tollgate-anything", "Connection", "Host"] {
            assert!(!forwards_to_origin(name), "{name}");
        }
    }

    #[test]
    fn keeps_ordinary_headers() {
        for name in ["accept", "User-Agent", "x-request-id", "accept-encoding", "x-tollgatefoo"] {
            assert!(forwards_to_origin(name), "{name}");
        }
    }
}
