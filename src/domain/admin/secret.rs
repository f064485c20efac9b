//! The break-glass secret (`ADMIN_SECRET`) and the failure throttle every admin credential
//! shares. The secret is compared in constant time, so response timing says nothing about it.

use subtle::ConstantTimeEq;

/// Whether the `Authorization` header carries the break-glass secret as a bearer credential.
#[must_use]
pub fn is_break_glass(header: Option<&str>, secret: &[u8]) -> bool {
    let Some(presented) = header.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
    // An empty or short secret would make every guess cheap: such a deployment admits no one.
    if secret.len() < 32 {
        return false;
    }
    // Equal lengths first (this leaks only the length), then a constant-time comparison.
    presented.len() == secret.len() && bool::from(presented.as_bytes().ct_eq(secret))
}

/// Failed admin attempts (a wrong secret, key or Access token) a client may make in one minute before it is refused unheard.
pub const FAILURES_PER_MINUTE: u32 = 10;

/// Failed attempts per client in fixed one-minute windows.
#[derive(Debug, Default)]
pub struct Failures {
    by_client: std::collections::HashMap<String, (u64, u32)>,
}

impl Failures {
    /// Whether this client may try again now.
    #[must_use]
    pub fn allows(&self, client: &str, now: crate::domain::time::clock::UnixMillis) -> bool {
        let minute = now.0 / 60_000;
        self.by_client.get(client).is_none_or(|&(m, n)| m != minute || n < FAILURES_PER_MINUTE)
    }

    pub fn record(&mut self, client: &str, now: crate::domain::time::clock::UnixMillis) {
        let minute = now.0 / 60_000;
        if self.by_client.len() > 10_000 {
            self.by_client.retain(|_, (m, _)| *m == minute);
        }
        let entry = self.by_client.entry(client.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_only_the_exact_secret() {
        assert!(is_break_glass(Some("Bearer 0123456789abcdef0123456789abcdef"), SECRET));
        assert!(!is_break_glass(Some("Bearer 0123456789abcdef0123456789abcdeF"), SECRET));
        assert!(!is_break_glass(Some("Bearer 0123456789abcdef"), SECRET));
        assert!(!is_break_glass(Some("0123456789abcdef0123456789abcdef"), SECRET));
        assert!(!is_break_glass(None, SECRET));
    }

    #[test]
    fn failures_are_throttled_per_client_and_minute() {
        use crate::domain::time::clock::UnixMillis;
        let mut f = Failures::default();
        let t = UnixMillis(120_000);
        for _ in 0..FAILURES_PER_MINUTE {
            assert!(f.allows("a", t));
            f.record("a", t);
        }
        assert!(!f.allows("a", t));
        assert!(f.allows("b", t));
        assert!(f.allows("a", UnixMillis(180_000)));
    }

    #[test]
    fn a_short_secret_admits_no_one() {
        assert!(!is_break_glass(Some("Bearer short"), b"short"));
        assert!(!is_break_glass(Some("Bearer "), b""));
    }
}
