//! The entitlement table as it lives in KV: apps (one per token), accounts and plans.
//!
//! Every record is JSON with a version field `v`, is decoded strictly (unknown fields are
//! refused, so a typo cannot silently widen access) and validated before use. A record that does
//! not validate is a [`RecordError`]: the request it serves fails closed, and no other token is
//! touched.

mod account;
mod app;
mod plan;

pub use account::{AccountRecord, AccountStatus};
pub use app::{AppRecord, AppStatus};
pub use plan::{Endpoint, Method, Plan, PlanRecord};

use serde::de::DeserializeOwned;

/// The only record version this build reads.
pub const VERSION: u32 = 1;
/// Records larger than this are refused unread.
pub const MAX_RECORD_BYTES: usize = 64 * 1024;

/// Why a stored record cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("record is larger than {MAX_RECORD_BYTES} bytes")]
    TooLarge,
    #[error("record is not valid JSON for its kind: {0}")]
    Json(String),
    #[error("record version {0} is not supported (expected {VERSION})")]
    Version(u32),
    #[error("record field `{field}` is invalid: {why}")]
    Field { field: &'static str, why: String },
    #[error("record says it is `{found}` but is stored under `{expected}`")]
    Mismatch { expected: String, found: String },
}

/// What every record kind does after serde has read it.
pub trait Record: DeserializeOwned {
    fn version(&self) -> u32;
    /// Checks that serde cannot express.
    ///
    /// # Errors
    /// The first invalid field.
    fn validate(&self) -> Result<(), RecordError>;
}

/// Decodes and validates one record.
///
/// # Errors
/// A [`RecordError`] saying what is wrong; the text never contains a token.
pub fn decode<R: Record>(text: &str) -> Result<R, RecordError> {
    if text.len() > MAX_RECORD_BYTES {
        return Err(RecordError::TooLarge);
    }
    let record: R = serde_json::from_str(text).map_err(|e| RecordError::Json(e.to_string()))?;
    if record.version() != VERSION {
        return Err(RecordError::Version(record.version()));
    }
    record.validate()?;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_oversized_and_wrong_version_records() {
        let big = format!("{{\"pad\":\"{}\"}}", "x".repeat(MAX_RECORD_BYTES));
        assert_eq!(decode::<AccountRecord>(&big), Err(RecordError::TooLarge));
        let v2 = r#"{"v":2,"id":"acme","name":"Acme","plan":"pro","status":"active"}"#;
        assert_eq!(decode::<AccountRecord>(v2), Err(RecordError::Version(2)));
    }

    #[test]
    fn refuses_unknown_fields_and_broken_json() {
        let typo = r#"{"v":1,"id":"acme","name":"Acme","plan":"pro","satus":"active"}"#;
        assert!(matches!(decode::<AccountRecord>(typo), Err(RecordError::Json(_))));
        assert!(matches!(decode::<AccountRecord>("{not json"), Err(RecordError::Json(_))));
        assert!(matches!(decode::<AccountRecord>(""), Err(RecordError::Json(_))));
    }
}
