//! The API token: its format, its checksum and its hash.
//!
//! A token is `tg_` followed by 64 lowercase hex digits (32 random bytes) and 8 more (the first
//! four bytes of the SHA-256 of those random bytes). The prefix makes a leaked token easy to
//! recognise in code scanners; the checksum lets the edge refuse a mistyped or made-up token
//! before any KV read, so garbage costs nothing. KV never sees the token itself, only
//! [`TokenHash`], the SHA-256 of the whole token string.

use sha2::{Digest, Sha256};
use std::fmt;

use crate::domain::hex;

pub const PREFIX: &str = "tg_";
const BODY_BYTES: usize = 32;
const CHECK_BYTES: usize = 4;
/// Length of a well-formed token in characters.
pub const LEN: usize = PREFIX.len() + 2 * (BODY_BYTES + CHECK_BYTES);

/// Why a string is not a token. Each one is answered 401 without touching KV.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("the token does not start with `tg_`")]
    Prefix,
    #[error("the token has the wrong length")]
    Length,
    #[error("the token is not lowercase hex after its prefix")]
    Encoding,
    #[error("the token's checksum does not match")]
    Checksum,
}

/// A well-formed token. Its `Debug` never prints the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// Checks the format and checksum; does not say whether the token was ever issued.
    ///
    /// # Errors
    /// A [`TokenError`] naming the first thing wrong.
    pub fn parse(text: &str) -> Result<Self, TokenError> {
        let rest = text.strip_prefix(PREFIX).ok_or(TokenError::Prefix)?;
        if text.len() != LEN {
            return Err(TokenError::Length);
        }
        let raw = hex::decode(rest).ok_or(TokenError::Encoding)?;
        let (body, check) = raw.split_at(BODY_BYTES);
        if checksum(body) != check {
            return Err(TokenError::Checksum);
        }
        Ok(Self(text.to_owned()))
    }

    /// Builds a token from 32 bytes of randomness (the edge draws them from getrandom).
    #[must_use]
    pub fn from_random(body: [u8; BODY_BYTES]) -> Self {
        let mut text = String::with_capacity(LEN);
        text.push_str(PREFIX);
        text.push_str(&hex::encode(&body));
        text.push_str(&hex::encode(&checksum(&body)));
        Self(text)
    }

    /// The secret itself, for the one response that hands a new token to its owner.
    #[must_use]
    pub fn reveal(&self) -> &str {
        &self.0
    }

    #[must_use]
    pub fn hash(&self) -> TokenHash {
        TokenHash(hex::encode(&Sha256::digest(self.0.as_bytes())))
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

pub(crate) fn checksum(body: &[u8]) -> [u8; CHECK_BYTES] {
    let digest = Sha256::digest(body);
    let mut out = [0u8; CHECK_BYTES];
    out.copy_from_slice(&digest[..CHECK_BYTES]);
    out
}

/// SHA-256 of the token, lowercase hex: the only form of a token that is stored or logged.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TokenHash(String);

impl TryFrom<String> for TokenHash {
    type Error = &'static str;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::from_hex(&text).ok_or("a token hash is 64 lowercase hex digits")
    }
}

impl From<TokenHash> for String {
    fn from(hash: TokenHash) -> Self {
        hash.0
    }
}

impl TokenHash {
    /// Accepts a stored hash (64 lowercase hex digits).
    #[must_use]
    pub fn from_hex(text: &str) -> Option<Self> {
        (text.len() == 64 && hex::decode(text).is_some()).then(|| Self(text.to_owned()))
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Enough of the hash to find a record in logs, not enough to matter if logs leak.
    #[must_use]
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl fmt::Display for TokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Token {
        Token::from_random([7u8; 32])
    }

    #[test]
    fn issued_tokens_parse_back() {
        let token = sample();
        assert_eq!(token.reveal().len(), LEN);
        assert!(token.reveal().starts_with("tg_"));
        assert_eq!(Token::parse(token.reveal()).unwrap(), token);
    }

    #[test]
    fn refuses_each_kind_of_garbage() {
        let good = sample().reveal().to_owned();
        assert_eq!(Token::parse("Bearer"), Err(TokenError::Prefix));
        assert_eq!(Token::parse(""), Err(TokenError::Prefix));
        assert_eq!(Token::parse("tg_abc"), Err(TokenError::Length));
        assert_eq!(Token::parse(&format!("{good}0")), Err(TokenError::Length));
        let upper = format!("tg_{}", good[3..].to_uppercase());
        assert_eq!(Token::parse(&upper), Err(TokenError::Encoding));
        let mut flipped = good.clone().into_bytes();
        flipped[10] = if flipped[10] == b'0' { b'1' } else { b'0' };
        let flipped = String::from_utf8(flipped).unwrap();
        assert_eq!(Token::parse(&flipped), Err(TokenError::Checksum));
        // Multi-byte characters must not panic on slicing.
        let wide = format!("tg_{}", "é".repeat(36));
        assert!(Token::parse(&wide).is_err());
    }

    #[test]
    fn hash_is_sha256_hex_of_the_whole_token() {
        let token = sample();
        let hash = token.hash();
        assert_eq!(hash.as_str().len(), 64);
        assert_eq!(hash.as_str(), hex::encode(&Sha256::digest(token.reveal().as_bytes())));
        assert_eq!(TokenHash::from_hex(hash.as_str()), Some(hash.clone()));
        assert_eq!(hash.short().len(), 12);
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let token = sample();
        let shown = format!("{token:?}");
        assert!(!shown.contains(&token.reveal()[3..]));
    }
}
