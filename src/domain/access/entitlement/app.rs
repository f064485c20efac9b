//! An app: one token, stored under the hash of that token.

use serde::{Deserialize, Serialize};

use super::{Record, RecordError};
use crate::domain::access::id::Id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppStatus {
    Active,
    Suspended,
    Revoked,
}

impl AppStatus {
    /// As stored and shown: `active`, `suspended`, `revoked`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
            Self::Revoked => "revoked",
        }
    }
}

/// `tollgate:v1:token:<sha256 of token>` →
/// `{"v":1,"account":"acme","app":"acme-search","status":"active","expires_at":1798761600}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AppRecord {
    pub v: u32,
    pub account: Id,
    pub app: Id,
    pub status: AppStatus,
    /// Unix seconds after which the token stops working; absent or null: no expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<u64>,
    /// The approved use case this app serves (one of the account's `use_cases`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub use_case: Option<Id>,
}

impl Record for AppRecord {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), RecordError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::entitlement::decode;

    #[test]
    fn reads_the_documented_example() {
        let text = r#"{"v":1,"account":"acme","app":"acme-search","status":"active","expires_at":1798761600}"#;
        let app: AppRecord = decode(text).unwrap();
        assert_eq!(app.account.as_str(), "acme");
        assert_eq!(app.status, AppStatus::Active);
        assert_eq!(app.expires_at, Some(1_798_761_600));
    }

    #[test]
    fn refuses_bad_ids_and_statuses() {
        let bad_id = r#"{"v":1,"account":"Acme!","app":"a","status":"active"}"#;
        assert!(decode::<AppRecord>(bad_id).is_err());
        let bad_status = r#"{"v":1,"account":"acme","app":"a","status":"paused"}"#;
        assert!(decode::<AppRecord>(bad_status).is_err());
    }
}
