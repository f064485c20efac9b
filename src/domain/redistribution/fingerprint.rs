//! Client fingerprints, for seeing a token used by many different clients: a customer letting
//! its own customers ride its token.
//!
//! A fingerprint is the client's network prefix (IPv4 /24, IPv6 /48), its network (AS number)
//! and its user agent. The guard keeps the distinct fingerprints of each token per day; reaching
//! [`RESALE_FINGERPRINTS_PER_DAY`] records one `resale` event with the evidence.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::domain::hex;

/// Distinct fingerprints of one token in one UTC day that make a `resale` event. One app behind
/// a handful of servers and a few library upgrades stays well below it.
pub const RESALE_FINGERPRINTS_PER_DAY: u64 = 10;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fingerprint {
    /// `203.0.113.0/24`, `2001:db8:1::/48`, or `unknown`.
    pub prefix: String,
    pub asn: Option<u32>,
    /// The user agent, cut to 120 characters.
    pub agent: String,
    /// 16 hex digits over the three parts: the key the guard counts by.
    pub key: String,
}

impl Fingerprint {
    #[must_use]
    pub fn new(ip: Option<&str>, asn: Option<u32>, agent: Option<&str>) -> Self {
        let prefix = ip.map_or_else(|| "unknown".to_owned(), network_prefix);
        let agent: String = agent.unwrap_or("").chars().filter(|c| !c.is_control()).take(120).collect();
        let digest = Sha256::digest(format!("{prefix}\n{}\n{agent}", asn.unwrap_or(0)).as_bytes());
        Self { prefix, asn, agent, key: hex::encode(&digest[..8]) }
    }
}

fn network_prefix(ip: &str) -> String {
    if let Ok(v4) = ip.trim().parse::<std::net::Ipv4Addr>() {
        let [a, b, c, _] = v4.octets();
        return format!("{a}.{b}.{c}.0/24");
    }
    if let Ok(v6) = ip.trim().parse::<std::net::Ipv6Addr>() {
        let s = v6.segments();
        return format!("{:x}:{:x}:{:x}::/48", s[0], s[1], s[2]);
    }
    "unknown".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_hide_the_host_part() {
        assert_eq!(Fingerprint::new(Some("203.0.113.77"), None, None).prefix, "203.0.113.0/24");
        assert_eq!(Fingerprint::new(Some("2001:db8:1:2::9"), None, None).prefix, "2001:db8:1::/48");
        assert_eq!(Fingerprint::new(Some("not an ip"), None, None).prefix, "unknown");
        assert_eq!(Fingerprint::new(None, None, None).prefix, "unknown");
    }

    #[test]
    fn same_network_and_agent_is_one_fingerprint() {
        let a = Fingerprint::new(Some("203.0.113.1"), Some(64500), Some("lib/1.0"));
        let b = Fingerprint::new(Some("203.0.113.200"), Some(64500), Some("lib/1.0"));
        let c = Fingerprint::new(Some("203.0.113.1"), Some(64500), Some("lib/2.0"));
        assert_eq!(a.key, b.key);
        assert_ne!(a.key, c.key);
        assert_eq!(a.key.len(), 16);
    }

    #[test]
    fn agents_are_cut_and_cleaned() {
        let f = Fingerprint::new(None, None, Some(&format!("a\u{0}b{}", "x".repeat(500))));
        assert_eq!(f.agent.chars().count(), 120);
        assert!(!f.agent.contains('\u{0}'));
    }
}
