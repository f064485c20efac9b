//! Admin keys, for automation: issued by an owner to a named owner, with a role and an expiry,
//! shown once, stored as the SHA-256 of the key, revocable.
//!
//! A key is `tgk_` and 72 lowercase hex digits: 32 random bytes and a 4-byte checksum, as API
//! tokens are (`access::token`), so a mistyped key is refused before any lookup and a leaked
//! one is easy to recognise. Its id, `k-` and the first 12 hex digits of its hash, names it in
//! lists, logs and the audit trail.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::role::Role;
use crate::domain::access::token::checksum;
use crate::domain::hex;

pub const PREFIX: &str = "tgk_";
const BODY_BYTES: usize = 32;
pub const LEN: usize = PREFIX.len() + 2 * (BODY_BYTES + 4);
/// The longest a key may live.
pub const MAX_LIFETIME_SECS: u64 = 366 * 24 * 60 * 60;
/// Keys that are neither revoked nor expired, at most.
pub const MAX_LIVE_KEYS: usize = 100;

/// A well-formed admin key. Its `Debug` never prints it.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminKey(String);

impl std::fmt::Debug for AdminKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AdminKey(<redacted>)")
    }
}

impl AdminKey {
    /// Checks the form and checksum; `None` for anything else.
    #[must_use]
    pub fn parse(text: &str) -> Option<Self> {
        let rest = text.strip_prefix(PREFIX).filter(|_| text.len() == LEN)?;
        let raw = hex::decode(rest)?;
        let (body, check) = raw.split_at(BODY_BYTES);
        (checksum(body) == check).then(|| Self(text.to_owned()))
    }

    #[must_use]
    pub fn from_random(body: [u8; BODY_BYTES]) -> Self {
        Self(format!("{PREFIX}{}{}", hex::encode(&body), hex::encode(&checksum(&body))))
    }

    /// The key itself, for the one response that hands it over.
    #[must_use]
    pub fn reveal(&self) -> &str {
        &self.0
    }

    /// SHA-256 of the key, hex: the only form that is stored.
    #[must_use]
    pub fn hash(&self) -> String {
        hex::encode(&Sha256::digest(self.0.as_bytes()))
    }
}

/// A key's id, from its hash.
#[must_use]
pub fn id_of(hash: &str) -> String {
    format!("k-{}", &hash[..hash.len().min(12)])
}

/// What an owner asks for when issuing a key.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyRequest {
    /// Who the key is issued to: a person's email or a system's name.
    pub owner: String,
    pub role: Role,
    /// Unix seconds.
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyRequestError {
    #[error("Field `owner` must be 1 to 128 printable characters.")]
    Owner,
    #[error("Field `expires_at` must be in the future and at most 366 days away (Unix seconds).")]
    Expiry,
}

impl KeyRequest {
    /// # Errors
    /// The first field that is wrong, at `now` (Unix seconds).
    pub fn validate(&self, now: u64) -> Result<(), KeyRequestError> {
        if self.owner.trim().is_empty() || self.owner.len() > 128 || self.owner.chars().any(char::is_control) {
            return Err(KeyRequestError::Owner);
        }
        if self.expires_at <= now || self.expires_at > now.saturating_add(MAX_LIFETIME_SECS) {
            return Err(KeyRequestError::Expiry);
        }
        Ok(())
    }
}

/// A key as it is kept and listed: everything but the key and its hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRecord {
    pub id: String,
    pub owner: String,
    pub role: Role,
    /// Unix seconds.
    pub expires_at: u64,
    /// Unix seconds.
    pub created_at: u64,
    /// The actor who issued it.
    pub created_by: String,
    /// Unix seconds; `None` while the key is not revoked.
    #[serde(default)]
    pub revoked_at: Option<u64>,
}

/// Why a key that exists is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyRefusal {
    #[error("The admin key was revoked.")]
    Revoked,
    #[error("The admin key has expired.")]
    Expired,
}

impl KeyRecord {
    /// Whether the key may be used at `now` (Unix seconds).
    ///
    /// # Errors
    /// Why not.
    pub fn check(&self, now: u64) -> Result<(), KeyRefusal> {
        if self.revoked_at.is_some() {
            Err(KeyRefusal::Revoked)
        } else if now >= self.expires_at {
            Err(KeyRefusal::Expired)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_has_one_form_and_is_stored_as_its_hash() {
        let key = AdminKey::from_random([7; 32]);
        assert_eq!(key.reveal().len(), LEN);
        assert_eq!(AdminKey::parse(key.reveal()), Some(key.clone()));
        let mut typo = key.reveal().to_owned();
        typo.replace_range(10..11, if &typo[10..11] == "0" { "1" } else { "0" });
        assert_eq!(AdminKey::parse(&typo), None);
        assert_eq!(AdminKey::parse(&key.reveal().replace("tgk_", "tg_x")), None);
        assert_eq!(AdminKey::parse(&key.reveal().to_uppercase()), None);
        let hash = key.hash();
        assert_eq!(hash.len(), 64);
        assert_eq!(id_of(&hash), format!("k-{}", &hash[..12]));
        assert!(!format!("{key:?}").contains(&key.reveal()[4..]));
    }

    #[test]
    fn a_request_needs_an_owner_and_an_expiry_within_a_year() {
        let now = 1_800_000_000;
        let ok = KeyRequest { owner: "ci@example.com".into(), role: Role::Operator, expires_at: now + 86_400 };
        assert_eq!(ok.validate(now), Ok(()));
        assert_eq!(KeyRequest { owner: " ".into(), ..ok.clone() }.validate(now), Err(KeyRequestError::Owner));
        assert_eq!(KeyRequest { expires_at: now, ..ok.clone() }.validate(now), Err(KeyRequestError::Expiry));
        assert_eq!(KeyRequest { expires_at: now + MAX_LIFETIME_SECS + 1, ..ok }.validate(now), Err(KeyRequestError::Expiry));
        let text = r#"{"owner":"ci","role":"auditor","expires_at":1,"extra":1}"#;
        assert!(serde_json::from_str::<KeyRequest>(text).is_err());
    }

    #[test]
    fn a_revoked_or_expired_key_is_refused() {
        let record = KeyRecord {
            id: "k-1".into(), owner: "ci".into(), role: Role::Auditor, expires_at: 100, created_at: 1, created_by: "ann".into(), revoked_at: None,
        };
        assert_eq!(record.check(99), Ok(()));
        assert_eq!(record.check(100), Err(KeyRefusal::Expired));
        assert_eq!(KeyRecord { revoked_at: Some(50), ..record }.check(60), Err(KeyRefusal::Revoked));
    }
}
