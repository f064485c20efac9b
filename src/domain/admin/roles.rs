//! Who is an admin: the record that maps Access identities (emails, groups, service tokens) to
//! roles. Owners manage it through the admin API (`GET`/`PUT roles`); it is decoded strictly and
//! validated like every record, and kept by the admin guard, so a change takes effect on the
//! next request everywhere.

use serde::{Deserialize, Serialize};

use super::jwt::Identity;
use super::role::Role;
use crate::domain::access::entitlement::{Record, RecordError, VERSION};

/// Entries one record may hold.
pub const MAX_IDENTITIES: usize = 500;

/// `{"v":1,"identities":[{"email":"…","role":"owner"},{"group":"…","role":"auditor"},
/// {"service_token":"….access","role":"operator"}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolesRecord {
    pub v: u32,
    #[serde(default)]
    pub identities: Vec<Grant>,
}

impl Default for RolesRecord {
    fn default() -> Self {
        Self { v: VERSION, identities: Vec::new() }
    }
}

/// One identity and its role. Exactly one of `email`, `group` and `service_token` is set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Grant {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A group name as the identity provider gives it in the token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// An Access service token's Client ID.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_token: Option<String>,
    pub role: Role,
}

impl Grant {
    /// The identity as one key: `email:…`, `group:…` or `service_token:…`.
    fn key(&self) -> Option<String> {
        match (&self.email, &self.group, &self.service_token) {
            (Some(e), None, None) => Some(format!("email:{e}")),
            (None, Some(g), None) => Some(format!("group:{g}")),
            (None, None, Some(s)) => Some(format!("service_token:{s}")),
            _ => None,
        }
    }

    fn matches(&self, identity: &Identity) -> bool {
        match identity {
            Identity::Person { email, groups } => {
                self.email.as_deref() == Some(email.as_str()) || self.group.as_ref().is_some_and(|g| groups.contains(g))
            }
            Identity::ServiceToken { client_id } => self.service_token.as_deref() == Some(client_id.as_str()),
        }
    }
}

fn invalid(why: impl Into<String>) -> RecordError {
    RecordError::Field { field: "identities", why: why.into() }
}

fn printable(text: &str, max: usize) -> bool {
    !text.is_empty() && text.len() <= max && !text.chars().any(char::is_control)
}

fn email_ok(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else { return false };
    printable(email, 254)
        && !local.is_empty()
        && domain.contains('.')
        && !domain.contains('@')
        && !email.chars().any(|c| c.is_whitespace() || c.is_uppercase())
}

impl Record for RolesRecord {
    fn version(&self) -> u32 {
        self.v
    }

    fn validate(&self) -> Result<(), RecordError> {
        if self.identities.len() > MAX_IDENTITIES {
            return Err(invalid(format!("at most {MAX_IDENTITIES} entries")));
        }
        let mut seen = std::collections::HashSet::new();
        for (i, grant) in self.identities.iter().enumerate() {
            let key = grant.key().ok_or_else(|| invalid(format!("entry {i} must name exactly one of email, group, service_token")))?;
            if let Some(email) = &grant.email {
                if !email_ok(email) {
                    return Err(invalid(format!("entry {i}: `email` must be one lowercase address")));
                }
            }
            if grant.group.as_deref().is_some_and(|g| !printable(g, 256)) {
                return Err(invalid(format!("entry {i}: `group` must be 1 to 256 printable characters")));
            }
            let client_id_ok = |s: &str| printable(s, 128) && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
            if grant.service_token.as_deref().is_some_and(|s| !client_id_ok(s)) {
                return Err(invalid(format!("entry {i}: `service_token` must be a Client ID (letters, digits, . - _)")));
            }
            if !seen.insert(key) {
                return Err(invalid(format!("entry {i} names an identity listed before")));
            }
        }
        Ok(())
    }
}

impl RolesRecord {
    /// The role of an identity: the highest of the entries that match it (its email, any of its
    /// groups, or its service token), or `None` when none does.
    #[must_use]
    pub fn role_of(&self, identity: &Identity) -> Option<Role> {
        self.identities.iter().filter(|g| g.matches(identity)).map(|g| g.role).max()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::access::entitlement::decode;

    fn person(email: &str, groups: &[&str]) -> Identity {
        Identity::Person { email: email.into(), groups: groups.iter().map(|g| (*g).to_owned()).collect() }
    }

    #[test]
    fn an_identity_gets_the_highest_role_that_names_it() {
        let record: RolesRecord = decode(
            r#"{"v":1,"identities":[{"email":"ann@example.com","role":"auditor"},{"group":"ops","role":"operator"},
            {"service_token":"88bf.access","role":"owner"}]}"#,
        )
        .unwrap();
        assert_eq!(record.role_of(&person("ann@example.com", &[])), Some(Role::Auditor));
        assert_eq!(record.role_of(&person("ann@example.com", &["ops"])), Some(Role::Operator));
        assert_eq!(record.role_of(&person("bob@example.com", &["ops"])), Some(Role::Operator));
        assert_eq!(record.role_of(&person("bob@example.com", &["sales"])), None);
        assert_eq!(record.role_of(&Identity::ServiceToken { client_id: "88bf.access".into() }), Some(Role::Owner));
        // A group named like a service token is not one.
        assert_eq!(record.role_of(&person("x@example.com", &["88bf.access"])), None);
        assert_eq!(RolesRecord::default().role_of(&person("ann@example.com", &[])), None);
    }

    #[test]
    fn a_record_is_refused_whole_when_one_entry_is_wrong() {
        for (text, why) in [
            (r#"{"v":1,"identities":[{"email":"a@example.com","group":"g","role":"owner"}]}"#, "exactly one"),
            (r#"{"v":1,"identities":[{"role":"owner"}]}"#, "exactly one"),
            (r#"{"v":1,"identities":[{"email":"Ann@Example.com","role":"owner"}]}"#, "lowercase"),
            (r#"{"v":1,"identities":[{"email":"not-an-address","role":"owner"}]}"#, "lowercase"),
            (r#"{"v":1,"identities":[{"service_token":"a b","role":"owner"}]}"#, "Client ID"),
            (r#"{"v":1,"identities":[{"group":"","role":"owner"}]}"#, "printable"),
            (r#"{"v":1,"identities":[{"email":"a@example.com","role":"owner"},{"email":"a@example.com","role":"auditor"}]}"#, "listed before"),
            (r#"{"v":1,"identities":[{"email":"a@example.com","role":"admin"}]}"#, "not valid JSON"),
            (r#"{"v":1,"identities":[{"email":"a@example.com","role":"owner","note":"x"}]}"#, "not valid JSON"),
            (r#"{"v":2,"identities":[]}"#, "version"),
        ] {
            let err = decode::<RolesRecord>(text).unwrap_err().to_string();
            assert!(err.contains(why), "{text}: {err}");
        }
        let many = (0..=MAX_IDENTITIES).map(|i| format!(r#"{{"email":"a{i}@example.com","role":"auditor"}}"#)).collect::<Vec<_>>();
        let text = format!(r#"{{"v":1,"identities":[{}]}}"#, many.join(","));
        assert!(decode::<RolesRecord>(&text).is_err());
    }
}
