//! Approved use cases. Every app declares the use case it was approved for; the account record
//! holds the use cases and their review state, so one change reaches all of the account's apps.

use serde::{Deserialize, Serialize};

use crate::domain::access::id::Id;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UseCaseStatus {
    Approved,
    Pending,
    Withdrawn,
}

/// `{"id":"brand-monitoring","status":"approved","description":"…"}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UseCase {
    pub id: Id,
    pub status: UseCaseStatus,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// Why an app may not be served on account of its use case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UseCaseRefusal {
    /// The app declares none, or one the account does not list.
    Missing,
    Pending,
    Withdrawn,
}

/// Checks the app's declared use case against the account's list.
///
/// # Errors
/// The [`UseCaseRefusal`] that applies.
pub fn check(declared: Option<&Id>, listed: &[UseCase]) -> Result<(), UseCaseRefusal> {
    let declared = declared.ok_or(UseCaseRefusal::Missing)?;
    let case = listed.iter().find(|u| u.id == *declared).ok_or(UseCaseRefusal::Missing)?;
    match case.status {
        UseCaseStatus::Approved => Ok(()),
        UseCaseStatus::Pending => Err(UseCaseRefusal::Pending),
        UseCaseStatus::Withdrawn => Err(UseCaseRefusal::Withdrawn),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn case(id: &str, status: UseCaseStatus) -> UseCase {
        UseCase { id: Id::new(id).unwrap(), status, description: String::new() }
    }

    #[test]
    fn only_an_approved_listed_use_case_passes() {
        let listed = [
            case("monitoring", UseCaseStatus::Approved),
            case("resale", UseCaseStatus::Pending),
            case("ads", UseCaseStatus::Withdrawn),
        ];
        let id = |s: &str| Id::new(s).unwrap();
        assert_eq!(check(Some(&id("monitoring")), &listed), Ok(()));
        assert_eq!(check(Some(&id("resale")), &listed), Err(UseCaseRefusal::Pending));
        assert_eq!(check(Some(&id("ads")), &listed), Err(UseCaseRefusal::Withdrawn));
        assert_eq!(check(Some(&id("other")), &listed), Err(UseCaseRefusal::Missing));
        assert_eq!(check(None, &listed), Err(UseCaseRefusal::Missing));
    }
}
