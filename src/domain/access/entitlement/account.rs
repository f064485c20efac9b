//! A customer account: the party that signed the agreement and owns apps.

use serde::{Deserialize, Serialize};

use super::{Record, RecordError};
use crate::domain::access::id::Id;
use crate::domain::redistribution::recipient::Redistribution;
use crate::domain::access::use_case::UseCase;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Active,
    Suspended,
}

/// `tollgate:v1:account:<id>` →
/// `{"v":1,"id":"acme","name":"Acme Analytics","plan":"pro","status":"active"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountRecord {
    pub v: u32,
    pub id: Id,
    pub name: String,
    pub plan: Id,
    pub status: AccountStatus,
    /// The use cases the provider reviewed for this account's apps.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub use_cases: Vec<UseCase>,
    /// Who may receive the data downstream, in what form, how much.
    #[serde(default)]
    pub redistribution: Redistribution,
    /// The account's customer in Stripe (`cus_…`), named in its Stripe meter events
    /// (`billing::export`); optional. The enforcer skips it unread.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(deserialize_with = "crate::domain::billing::export::skip"))]
    pub stripe_customer_id: Option<String>,
}

impl Record for AccountRecord {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), RecordError> {
        let name_ok = !self.name.trim().is_empty()
            && self.name.len() <= 200
            && !self.name.chars().any(char::is_control);
        if !name_ok {
            return Err(RecordError::Field { field: "name", why: "must be 1 to 200 printable characters".into() });
        }
        for (i, case) in self.use_cases.iter().enumerate() {
            if self.use_cases[..i].iter().any(|c| c.id == case.id) {
                return Err(RecordError::Field { field: "use_cases", why: format!("`{}` is listed twice", case.id) });
            }
        }
        if let Some(why) = self.redistribution.problem() {
            return Err(RecordError::Field { field: "redistribution", why });
        }
        if self.stripe_customer_id.as_deref().is_some_and(|c| !crate::domain::billing::export::is_stripe_customer(c)) {
            return Err(RecordError::Field { field: "stripe_customer_id", why: "must be `cus_` and 1 to 60 letters and digits".into() });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::entitlement::decode;

    #[test]
    fn reads_the_documented_example() {
        let text = r#"{"v":1,"id":"acme","name":"Acme Analytics","plan":"pro","status":"active"}"#;
        let account: AccountRecord = decode(text).unwrap();
        assert_eq!(account.plan.as_str(), "pro");
        assert_eq!(account.status, AccountStatus::Active);
    }

    #[test]
    fn a_stripe_customer_is_optional_and_checked() {
        let with = |c: &str| serde_json::json!({"v":1,"id":"acme","name":"Acme","plan":"pro","status":"active","stripe_customer_id":c}).to_string();
        assert_eq!(decode::<AccountRecord>(&with("cus_N1x2")).unwrap().stripe_customer_id.as_deref(), Some("cus_N1x2"));
        for bad in ["", "cus_", "acme", "cus_a b", "cus_a,b"] {
            assert!(matches!(decode::<AccountRecord>(&with(bad)), Err(RecordError::Field { field: "stripe_customer_id", .. })), "{bad}");
        }
    }

    #[test]
    fn refuses_empty_or_control_character_names() {
        for name in ["", "   ", "a\u{0007}b"] {
            let text = serde_json::json!({"v":1,"id":"acme","name":name,"plan":"pro","status":"active"})
                .to_string();
            assert!(
                matches!(decode::<AccountRecord>(&text), Err(RecordError::Field { field: "name", .. })),
                "{name:?}"
            );
        }
    }
}
