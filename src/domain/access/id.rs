//! Identifiers of accounts, apps and plans: short, lowercase, safe in keys, headers and logs.

use serde::{Deserialize, Serialize};
use std::fmt;

/// `[a-z0-9][a-z0-9._-]{0,63}`. Checked on every record read, so a value that reaches the
/// signed context header or a log line can never carry a separator or a control character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Id(String);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not an id: use 1 to 64 of a-z 0-9 . _ - starting with a letter or digit")]
pub struct IdError(pub String);

impl Id {
    /// # Errors
    /// [`IdError`] when the text is not a valid id.
    pub fn new(text: &str) -> Result<Self, IdError> {
        let bytes = text.as_bytes();
        let ok = !bytes.is_empty()
            && bytes.len() <= 64
            && bytes[0].is_ascii_lowercase() | bytes[0].is_ascii_digit()
            && bytes.iter().all(|&b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
            });
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            // Keep the error printable: never echo more than a short, sanitised prefix.
            let shown: String = text.chars().take(32).filter(|c| !c.is_control()).collect();
            Err(IdError(shown))
        }
    }

    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Id {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::new(&value)
    }
}

impl From<Id> for String {
    fn from(id: Id) -> Self {
        id.0
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_plain_ids() {
        for ok in ["acme", "acme-search", "a", "team_2.prod", &"a".repeat(64)] {
            assert_eq!(Id::new(ok).unwrap().as_str(), ok);
        }
    }

    #[test]
    fn refuses_what_could_break_a_key_or_header() {
        for bad in ["", "Acme", "-acme", "a;b", "a b", "a\nb", "ü", &"a".repeat(65)] {
            assert!(Id::new(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn deserialises_only_valid_ids() {
        assert!(serde_json::from_str::<Id>("\"acme\"").is_ok());
        assert!(serde_json::from_str::<Id>("\"a;b\"").is_err());
    }
}
