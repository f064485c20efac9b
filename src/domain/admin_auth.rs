//! The admin secret check: constant time, so response timing says nothing about the secret.

use subtle::ConstantTimeEq;

/// Whether the `Authorization` header carries the admin secret as a bearer credential.
#[must_use]
pub fn is_admin(header: Option<&str>, secret: &[u8]) -> bool {
    let Some(presented) = header.and_then(|h| h.strip_prefix("Bearer ")) else { return false };
    // An empty or short secret would make every guess cheap: such a deployment admits no one.
    if secret.len() < 32 {
        return false;
    }
    // Equal lengths first (this leaks only the length), then a constant-time comparison.
    presented.len() == secret.len() && bool::from(presented.as_bytes().ct_eq(secret))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"0123456789abcdef0123456789abcdef";

    #[test]
    fn accepts_only_the_exact_secret() {
        assert!(is_admin(Some("Bearer 0123456789abcdef0123456789abcdef"), SECRET));
        assert!(!is_admin(Some("Bearer 0123456789abcdef0123456789abcdeF"), SECRET));
        assert!(!is_admin(Some("Bearer 0123456789abcdef"), SECRET));
        assert!(!is_admin(Some("0123456789abcdef0123456789abcdef"), SECRET));
        assert!(!is_admin(None, SECRET));
    }

    #[test]
    fn a_short_secret_admits_no_one() {
        assert!(!is_admin(Some("Bearer short"), b"short"));
        assert!(!is_admin(Some("Bearer "), b""));
    }
}
