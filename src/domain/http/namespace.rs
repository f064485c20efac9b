//! Which request headers reach the origin. The rule: nothing the client sends may make the origin
//! read the request differently from the way the edge checked it. So the edge drops
//! - everything under `x-tollgate-` (its own namespace: nothing downstream can be spoofed);
//! - the client's credentials (the origin acts on the signed context, not on a token or cookie);
//! - hop-by-hop and framing headers (RFC 9110 §7.6.1; the runtime frames the forwarded body);
//! - every header that claims to say who the client is or which host and scheme it used: the
//!   runtime's own address goes in the signed context instead (`client_address`);
//! - ranges: every response is metered, and a slice of a JSON body counts no items.
//!
//! Headers that would make the origin act on another method or target are not dropped but
//! refused before any policy (`overrides`), so a request is never checked as one thing and
//! served as another.

pub const INTERNAL_PREFIX: &str = "x-tollgate-";

/// Why a header stays at the edge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dropped {
    Internal,
    Credentials,
    HopByHop,
    ClientClaim,
    Range,
}

const CREDENTIALS: &[&str] = &["authorization", "cookie", "proxy-authorization"];

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "content-length",
    "expect",
    "host",
    "keep-alive",
    "max-forwards",
    "proxy-authenticate",
    "proxy-connection",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
    "via",
];

/// Headers through which a client (or a proxy it controls) names its own address, host, scheme
/// or port. Origins and their frameworks log, geolocate, limit and build links from these.
const CLIENT_CLAIMS: &[&str] = &[
    "cf-connecting-ip",
    "cf-connecting-ipv6",
    "client-ip",
    "fastly-client-ip",
    "forwarded",
    "true-client-ip",
    "x-client-ip",
    "x-cluster-client-ip",
    "x-forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-proto",
    "x-forwarded-scheme",
    "x-forwarded-server",
    "x-forwarded-ssl",
    "x-original-forwarded-for",
    "x-original-host",
    "x-real-ip",
    "x-url-scheme",
];

const RANGES: &[&str] = &["if-range", "range"];

/// Why a client request header does not reach the origin, or `None` when it does (names compare
/// case-insensitively).
#[must_use]
pub fn dropped(name: &str) -> Option<Dropped> {
    let lower = name.to_ascii_lowercase();
    let lower = lower.as_str();
    if lower.starts_with(INTERNAL_PREFIX) {
        Some(Dropped::Internal)
    } else if CREDENTIALS.contains(&lower) {
        Some(Dropped::Credentials)
    } else if HOP_BY_HOP.contains(&lower) {
        Some(Dropped::HopByHop)
    } else if CLIENT_CLAIMS.contains(&lower) {
        Some(Dropped::ClientClaim)
    } else if RANGES.contains(&lower) {
        Some(Dropped::Range)
    } else {
        None
    }
}

/// Whether a client request header is passed on to the origin.
#[must_use]
pub fn forwards_to_origin(name: &str) -> bool {
    dropped(name).is_none()
}

/// The header the edge sets with the runtime's client address, for origins that read only it.
pub const FORWARDED_FOR: &str = "x-forwarded-for";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drops_credentials_hop_headers_and_the_internal_namespace() {
        for name in ["Authorization", "authorization", "Cookie", "X-Tollgate-Context", "x-tollgate-anything", "Connection", "Host", "Via"] {
            assert!(!forwards_to_origin(name), "{name}");
        }
    }

    #[test]
    fn drops_every_claim_of_who_the_client_is() {
        for name in [
            "X-Forwarded-For",
            "x-real-ip",
            "True-Client-IP",
            "Forwarded",
            "X-Forwarded-Host",
            "X-Forwarded-Proto",
            "CF-Connecting-IP",
            "X-Client-IP",
        ] {
            assert_eq!(dropped(name), Some(Dropped::ClientClaim), "{name}");
        }
    }

    #[test]
    fn drops_ranges() {
        assert_eq!(dropped("Range"), Some(Dropped::Range));
        assert_eq!(dropped("If-Range"), Some(Dropped::Range));
    }

    #[test]
    fn keeps_ordinary_headers() {
        for name in ["accept", "User-Agent", "x-request-id", "accept-encoding", "x-tollgatefoo", "if-none-match", "content-type"] {
            assert!(forwards_to_origin(name), "{name}");
        }
    }
}
