//! The counter a limit is kept in: scope, endpoint group, window length and subject. One row per
//! key holds the current window's count, so state does not grow with traffic.

use std::fmt;

use crate::domain::access::id::Id;
use crate::domain::throttle::limit::{Limit, Scope};

/// Whose requests a counter counts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Subject {
    App(Id),
    /// The whole account: every token together.
    Account,
    Recipient(Id),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CounterKey {
    scope: Scope,
    group: Id,
    window_seconds: u64,
    subject: Subject,
}

impl CounterKey {
    /// The counter of `limit` for a request of `app` naming `recipient`; `None` for a
    /// recipient-scope limit on a request that names no recipient.
    #[must_use]
    pub fn of(limit: &Limit, app: &Id, recipient: Option<&Id>) -> Option<Self> {
        let subject = match limit.scope {
            Scope::App => Subject::App(app.clone()),
            Scope::Account => Subject::Account,
            Scope::Recipient => Subject::Recipient(recipient?.clone()),
        };
        Some(Self { scope: limit.scope, group: limit.group.clone(), window_seconds: limit.window_seconds, subject })
    }

    /// The stored form: `app:search:900:acme-search`, `account:search:900:*`.
    #[must_use]
    pub fn text(&self) -> String {
        format!("{}{}", self.family(), self.subject_text())
    }

    /// What every counter of the same limit starts with (`app:search:900:`): the counters of
    /// one limit across its subjects, as the pooling rule reads them.
    #[must_use]
    pub fn family(&self) -> String {
        format!("{}:{}:{}:", self.scope.as_str(), self.group, self.window_seconds)
    }

    /// The subject as stored: an app or recipient id, or `*` for the account.
    #[must_use]
    pub fn subject_text(&self) -> &str {
        match &self.subject {
            Subject::App(id) | Subject::Recipient(id) => id.as_str(),
            Subject::Account => "*",
        }
    }
}

impl fmt::Display for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::throttle::limit::LimitMode;

    fn limit(scope: Scope) -> Limit {
        Limit { group: Id::new("search").unwrap(), scope, requests: 5, window_seconds: 900, mode: LimitMode::Strict }
    }

    #[test]
    fn keys_name_scope_group_window_and_subject() {
        let app = Id::new("acme-search").unwrap();
        let nw = Id::new("northwind").unwrap();
        let k = CounterKey::of(&limit(Scope::App), &app, None).unwrap();
        assert_eq!(k.text(), "app:search:900:acme-search");
        assert_eq!(k.family(), "app:search:900:");
        assert_eq!(k.subject_text(), "acme-search");
        assert_eq!(CounterKey::of(&limit(Scope::Account), &app, Some(&nw)).unwrap().text(), "account:search:900:*");
        assert_eq!(CounterKey::of(&limit(Scope::Recipient), &app, Some(&nw)).unwrap().text(), "recipient:search:900:northwind");
        assert_eq!(CounterKey::of(&limit(Scope::Recipient), &app, None), None);
    }
}
