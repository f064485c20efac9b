//! Key names in the entitlement namespace. Versioned, so a future layout can be written beside
//! this one and switched to without a flag day.

use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;

pub const PREFIX: &str = "tollgate:v1:";

/// The Workers KV binding that holds the namespace, in both Workers' configurations.
pub const BINDING: &str = "ENTITLEMENTS";

#[must_use]
pub fn token_key(hash: &TokenHash) -> String {
    format!("{PREFIX}token:{hash}")
}

#[must_use]
pub fn account_key(id: &Id) -> String {
    format!("{PREFIX}account:{id}")
}

#[must_use]
pub fn plan_key(id: &Id) -> String {
    format!("{PREFIX}plan:{id}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::token::Token;

    #[test]
    fn keys_follow_the_documented_layout() {
        let hash = Token::from_random([0; 32]).hash();
        assert_eq!(token_key(&hash), format!("tollgate:v1:token:{}", hash.as_str()));
        assert_eq!(account_key(&Id::new("acme").unwrap()), "tollgate:v1:account:acme");
        assert_eq!(plan_key(&Id::new("pro").unwrap()), "tollgate:v1:plan:pro");
    }
}
