//! Limits as a plan states them: request windows at three scopes, a monthly item cap, and what to
//! do when the account's guard cannot be reached.

use serde::{Deserialize, Serialize};

use crate::domain::access::id::Id;

/// Whose requests a window counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// One app (one token).
    App,
    /// The whole account, pooled across all of its tokens: the ceiling pooling cannot pass.
    Account,
    /// One downstream recipient named on the request.
    Recipient,
}

impl Scope {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::App => "app",
            Self::Account => "account",
            Self::Recipient => "recipient",
        }
    }
}

/// `{"group":"search","scope":"app","requests":450,"window_seconds":900}`
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Limit {
    pub group: Id,
    pub scope: Scope,
    pub requests: u64,
    #[serde(default = "default_window")]
    pub window_seconds: u64,
    /// `strict` (the default): every request is charged at the guard. `lease`: isolates take
    /// slices of the window from the guard and spend them locally (see `domain::lease`).
    #[serde(default, skip_serializing_if = "is_strict")]
    pub mode: LimitMode,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitMode {
    #[default]
    Strict,
    Lease,
}

#[allow(clippy::trivially_copy_pass_by_ref)]
fn is_strict(mode: &LimitMode) -> bool {
    *mode == LimitMode::Strict
}

/// The API's usual request window: 15 minutes.
pub const DEFAULT_WINDOW_SECONDS: u64 = 900;
/// Longest window a plan may state: 31 days.
pub const MAX_WINDOW_SECONDS: u64 = 31 * 86_400;

fn default_window() -> u64 {
    DEFAULT_WINDOW_SECONDS
}

/// Most streams a plan may allow open at once, per app or per account.
pub const MAX_CONNECTIONS: u64 = 10_000;

/// What the edge does when the account's guard (its Durable Object) cannot be reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GuardFailure {
    /// Refuse with 503: no request passes uncounted. The default.
    #[default]
    Closed,
    /// Forward, and log the request for reconciliation.
    Open,
}

impl Limit {
    /// Why this limit is invalid, if it is.
    #[must_use]
    pub fn problem(&self) -> Option<&'static str> {
        if self.requests == 0 {
            Some("`requests` must be at least 1")
        } else if self.window_seconds == 0 || self.window_seconds > MAX_WINDOW_SECONDS {
            Some("`window_seconds` must be from 1 to 2678400 (31 days)")
        } else {
            None
        }
    }

    /// The name clients see in `RateLimit-Policy`: scope and group, e.g. `app-search`.
    #[must_use]
    pub fn policy_name(&self) -> String {
        format!("{}-{}", self.scope.as_str(), self.group)
    }
}
