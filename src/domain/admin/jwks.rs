//! The Access team's signing keys: reading the key set its certs endpoint publishes, and when
//! to fetch it again.
//!
//! Access rotates its key every six weeks and keeps the previous one valid for seven days, so a
//! token can name a key this isolate has not seen. The set is kept for an hour and fetched again
//! at once when a token names an unknown key, but not more often than every 5 seconds: made-up
//! key ids cannot turn into a stream of fetches. When the set cannot be fetched, tokens are
//! refused (fail closed), except those whose key this isolate still holds from a fetch less than
//! an hour old.

use serde::Deserialize;
use serde_json::Value;

use super::base64url;
use crate::domain::time::clock::UnixMillis;

/// A key set is used for this long after it was fetched.
pub const MAX_AGE_MS: u64 = 60 * 60 * 1000;
/// Fetches are at least this far apart, whatever tokens arrive.
pub const MIN_REFETCH_MS: u64 = 5_000;
/// Larger key sets are refused unread.
pub const MAX_BYTES: usize = 64 * 1024;
/// Keys read from one set; Access publishes two.
pub const MAX_KEYS: usize = 16;
/// The smallest RSA modulus accepted, in bytes (2048 bits).
const MIN_MODULUS_BYTES: usize = 256;

/// One RSA public key as a JSON Web Key: its id and its numbers (base64url, checked).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Jwk {
    pub kid: String,
    pub n: String,
    pub e: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwksError {
    #[error("the key set is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("the key set is not JSON with a `keys` array")]
    Malformed,
    #[error("the key set has no RS256 signing key")]
    Empty,
}

#[derive(Deserialize)]
struct Set {
    keys: Vec<Value>,
}

fn key(value: &Value) -> Option<Jwk> {
    let text = |name: &str| value.get(name).and_then(Value::as_str);
    if text("kty") != Some("RSA") || text("alg").is_some_and(|a| a != "RS256") || text("use").is_some_and(|u| u != "sig") {
        return None;
    }
    let kid = text("kid").filter(|k| !k.is_empty() && k.len() <= 256)?;
    let (n, e) = (text("n")?, text("e")?);
    let modulus = base64url::decode(n)?;
    let exponent = base64url::decode(e)?;
    (modulus.len() >= MIN_MODULUS_BYTES && !exponent.is_empty() && exponent.len() <= 8)
        .then(|| Jwk { kid: kid.to_owned(), n: n.to_owned(), e: e.to_owned() })
}

/// The RS256 signing keys of a key set (`{"keys":[…]}`, other members ignored). Keys of other
/// types, algorithms or uses, and RSA keys under 2048 bits, are left out.
///
/// # Errors
/// [`JwksError`] when the set is too large, not a key set, or has no usable key.
pub fn parse(text: &str) -> Result<Vec<Jwk>, JwksError> {
    if text.len() > MAX_BYTES {
        return Err(JwksError::TooLarge);
    }
    let set: Set = serde_json::from_str(text).map_err(|_| JwksError::Malformed)?;
    let keys: Vec<Jwk> = set.keys.iter().filter_map(key).take(MAX_KEYS).collect();
    if keys.is_empty() {
        return Err(JwksError::Empty);
    }
    Ok(keys)
}

/// Where this isolate's copy of the key set stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct KeySetAge {
    /// The last successful fetch.
    pub fetched_at: Option<UnixMillis>,
    /// The last attempt, successful or not.
    pub attempted_at: Option<UnixMillis>,
    /// Whether the last attempt failed.
    pub failing: bool,
}

/// What to do with a token's key id, given the copy at hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyLookup {
    /// The copy holds the key and is fresh: verify with it.
    Use,
    /// Fetch the set first, then look again.
    Fetch,
    /// The key is not in a fresh copy that was fetched without failing: refuse the token (401).
    Unknown,
    /// No fresh copy, or a failed fetch leaves the key unknown: fail closed (503).
    Unavailable,
}

impl KeySetAge {
    fn fresh(self, now: UnixMillis) -> bool {
        self.fetched_at.is_some_and(|t| now.0.saturating_sub(t.0) < MAX_AGE_MS)
    }

    fn may_fetch(self, now: UnixMillis) -> bool {
        self.attempted_at.is_none_or(|t| now.0.saturating_sub(t.0) >= MIN_REFETCH_MS)
    }

    /// The next step for a token naming a key the copy does (`known`) or does not hold.
    #[must_use]
    pub fn lookup(self, known: bool, now: UnixMillis) -> KeyLookup {
        match (known && self.fresh(now), self.may_fetch(now)) {
            (true, _) => KeyLookup::Use,
            (false, true) => KeyLookup::Fetch,
            (false, false) if self.fresh(now) && !self.failing => KeyLookup::Unknown,
            (false, false) => KeyLookup::Unavailable,
        }
    }

    /// After a fetch at `now`.
    #[must_use]
    pub fn after_fetch(self, ok: bool, now: UnixMillis) -> Self {
        Self { fetched_at: if ok { Some(now) } else { self.fetched_at }, attempted_at: Some(now), failing: !ok }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modulus() -> String {
        // 256 bytes of 0xff: "/" repeated, in base64url "_".
        let mut n = "_".repeat(340);
        n.push_str("_w");
        n
    }

    #[test]
    fn reads_rs256_keys_and_leaves_out_the_rest() {
        let n = modulus();
        let text = format!(
            r#"{{"keys":[{{"kid":"a","kty":"RSA","alg":"RS256","use":"sig","e":"AQAB","n":"{n}"}},
            {{"kid":"ec","kty":"EC","crv":"P-256","x":"AA","y":"AA"}},
            {{"kid":"small","kty":"RSA","e":"AQAB","n":"AQAB"}},
            {{"kid":"enc","kty":"RSA","use":"enc","e":"AQAB","n":"{n}"}},
            {{"kty":"RSA","e":"AQAB","n":"{n}"}},
            {{"kid":"b","kty":"RSA","e":"AQAB","n":"{n}"}}],
            "public_cert":{{"kid":"a","cert":"…"}}}}"#
        );
        let keys = parse(&text).unwrap();
        assert_eq!(keys.iter().map(|k| k.kid.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(keys[0].e, "AQAB");
        assert_eq!(parse(r#"{"keys":[]}"#), Err(JwksError::Empty));
        assert_eq!(parse("[]"), Err(JwksError::Malformed));
        assert_eq!(parse(&" ".repeat(MAX_BYTES + 1)), Err(JwksError::TooLarge));
    }

    #[test]
    fn fetches_when_empty_stale_or_asked_for_an_unknown_key_but_not_too_often() {
        let t = |ms| UnixMillis(1_000_000 + ms);
        let empty = KeySetAge::default();
        assert_eq!(empty.lookup(false, t(0)), KeyLookup::Fetch);
        let fetched = empty.after_fetch(true, t(0));
        assert_eq!(fetched.lookup(true, t(1)), KeyLookup::Use);
        // A new key id within 5 s of the last fetch: refused, no fetch.
        assert_eq!(fetched.lookup(false, t(1)), KeyLookup::Unknown);
        assert_eq!(fetched.lookup(false, t(MIN_REFETCH_MS)), KeyLookup::Fetch);
        // Stale after an hour, even for a known key.
        assert_eq!(fetched.lookup(true, t(MAX_AGE_MS)), KeyLookup::Fetch);
    }

    #[test]
    fn a_failed_fetch_fails_closed_except_for_keys_still_fresh() {
        let t = |ms| UnixMillis(1_000_000 + ms);
        let never = KeySetAge::default().after_fetch(false, t(0));
        assert_eq!(never.lookup(false, t(1)), KeyLookup::Unavailable);
        assert_eq!(never.lookup(false, t(MIN_REFETCH_MS)), KeyLookup::Fetch);
        let held = KeySetAge::default().after_fetch(true, t(0)).after_fetch(false, t(10_000));
        assert_eq!(held.lookup(true, t(10_001)), KeyLookup::Use);
        assert_eq!(held.lookup(false, t(10_001)), KeyLookup::Unavailable);
        // Past the hour the held keys are no longer used.
        assert_eq!(held.lookup(true, t(MAX_AGE_MS + 1)), KeyLookup::Fetch);
        let stale = held.after_fetch(false, t(MAX_AGE_MS + 1));
        assert_eq!(stale.lookup(true, t(MAX_AGE_MS + 2)), KeyLookup::Unavailable);
    }
}
