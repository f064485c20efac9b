//! What a lease is held for: one account, one app, one endpoint group, and the recipient the
//! requests name, if any. An isolate keeps one book per key (see [`super::book`]), so two apps of
//! an account, two groups of an app, or two recipients never spend each other's units or ids.

use std::fmt;

use crate::domain::access::id::Id;

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LeaseKey {
    pub account: Id,
    pub app: Id,
    pub group: Id,
    pub recipient: Option<Id>,
}

impl LeaseKey {
    #[must_use]
    pub fn new(account: Id, app: Id, group: Id, recipient: Option<Id>) -> Self {
        Self { account, app, group, recipient }
    }
}

/// `account|app|group`, and `|recipient` when there is one. An id never holds `|`, so the text
/// names one key only.
impl fmt::Display for LeaseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}|{}|{}", self.account, self.app, self.group)?;
        match &self.recipient {
            Some(r) => write!(f, "|{r}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn key(account: &str, app: &str, group: &str) -> LeaseKey {
        LeaseKey::new(Id::new(account).unwrap(), Id::new(app).unwrap(), Id::new(group).unwrap(), None)
    }

    #[test]
    fn a_key_reads_as_account_app_group_and_recipient() {
        assert_eq!(key("acme", "acme-search", "lookup").to_string(), "acme|acme-search|lookup");
        let to = LeaseKey { recipient: Some(Id::new("nw-east").unwrap()), ..key("acme", "acme-search", "lookup") };
        assert_eq!(to.to_string(), "acme|acme-search|lookup|nw-east");
        assert_ne!(to, key("acme", "acme-search", "lookup"));
    }

    #[test]
    fn keys_differ_when_any_part_differs() {
        let keys: HashSet<_> = [
            key("acme", "a1", "lookup"),
            key("acme", "a1", "search"),
            key("acme", "a2", "lookup"),
            key("other", "a1", "lookup"),
            key("acme", "a1", "lookup"),
        ]
        .into_iter()
        .collect();
        assert_eq!(keys.len(), 4);
    }

    #[test]
    fn parts_cannot_run_into_each_other() {
        // Ids may hold `.`, `_` and `-`, never `|`: a shifted boundary is another text.
        assert_ne!(key("a-b", "c", "d").to_string(), key("a", "b-c", "d").to_string());
        assert!(Id::new("a|b").is_err());
    }
}
