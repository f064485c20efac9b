//! The client's address as the runtime knows it, the one address the origin is told.
//!
//! On Cloudflare the edge sets `cf-connecting-ip` itself and overwrites any copy a client sends;
//! the client's own `X-Forwarded-For`, `X-Real-IP`, `Forwarded` and the like are dropped before
//! the origin (see `namespace`). The address travels in the signed context, so an origin can
//! trust it, and in a fresh `X-Forwarded-For` for origins that read only that.

use std::fmt;
use std::net::IpAddr;

/// The header the runtime puts the client's address in.
pub const RUNTIME_HEADER: &str = "cf-connecting-ip";

/// An IP address in its canonical text form, or unknown when the runtime gave none that parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(Option<IpAddr>);

impl ClientAddress {
    /// Reads the runtime's header value; anything that is not one IP address is unknown.
    #[must_use]
    pub fn from_runtime(value: Option<&str>) -> Self {
        Self(value.and_then(|v| v.trim().parse::<IpAddr>().ok()))
    }

    #[must_use]
    pub fn ip(self) -> Option<IpAddr> {
        self.0
    }
}

impl fmt::Display for ClientAddress {
    /// `203.0.113.7`, `2001:db8::1` (canonical, lower case), or `unknown`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{ip}"),
            None => f.write_str("unknown"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_canonical() {
        assert_eq!(ClientAddress::from_runtime(Some("203.0.113.7")).to_string(), "203.0.113.7");
        assert_eq!(ClientAddress::from_runtime(Some(" 2001:DB8:0:0::1 ")).to_string(), "2001:db8::1");
    }

    #[test]
    fn anything_else_is_unknown() {
        for v in [None, Some(""), Some("10.0.0.1, 1.2.3.4"), Some("localhost"), Some("1.2.3.4:80"), Some("999.1.1.1")] {
            assert_eq!(ClientAddress::from_runtime(v).to_string(), "unknown", "{v:?}");
            assert_eq!(ClientAddress::from_runtime(v).ip(), None);
        }
    }
}
