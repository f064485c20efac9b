//! The guard's answer to a charge, and what it carries: the windows as clients see them, the
//! recipient's reservation, and the one mapping from a refusal to the problem clients get.

use serde::{Deserialize, Serialize};

use crate::domain::access::id::Id;
use crate::domain::http::problem::{Forbidden, Problem, Unauthorized};
use crate::domain::throttle::pooling::PoolingEvidence;
use crate::domain::time::day::Day;

/// IDs reserved for one response; what the response does not use is returned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Allowance {
    pub entity: Id,
    /// The day the reservation was counted on.
    pub day: Day,
    pub ids: u64,
}

/// Items of a monthly cap granted to a lease on `day`: the lease spends them as its responses
/// deliver, and its report gives the whole slice back to that day's month, where the items its
/// reports carry count as the distinct items they are.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ItemSlice {
    pub day: Day,
    pub items: u64,
}

/// A window's state as clients see it in rate-limit headers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quota {
    pub name: String,
    pub limit: u64,
    pub remaining: u64,
    /// Unix seconds at which the window resets.
    pub reset: u64,
    pub window_seconds: u64,
}

/// The guard's answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Allow {
        /// Units charged: 1 for a request, the lease size for a lease.
        #[serde(default = "one")]
        granted: u64,
        quotas: Vec<Quota>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pooling: Option<PoolingEvidence>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allowance: Option<Allowance>,
        /// The stream opened, by its number at the guard, for its reports.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<u64>,
        /// For a lease under a monthly cap: the items it may deliver.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        items: Option<ItemSlice>,
    },
    RateLimited { quotas: Vec<Quota>, retry_after: u64 },
    UsageCapped { retry_after: u64 },
    RedistributionCapped { retry_after: u64 },
    Revoked,
    AccountSuspended,
    /// A stream's group already has as many streams open as a connection limit allows.
    TooManyConnections,
}

impl Verdict {
    /// The problem a refusing verdict is answered with; `None` for `Allow`. The one mapping from
    /// the guard's answer to what the client and the ledger see.
    #[must_use]
    pub fn refusal(&self) -> Option<Problem> {
        Some(match self {
            Self::Allow { .. } => return None,
            Self::RateLimited { retry_after, .. } => Problem::RateLimited { retry_after: *retry_after },
            Self::UsageCapped { retry_after } => Problem::UsageCapped { retry_after: *retry_after },
            Self::RedistributionCapped { retry_after } => Problem::RedistributionCapped { retry_after: *retry_after },
            Self::Revoked => Problem::Unauthorized(Unauthorized::Revoked),
            Self::AccountSuspended => Problem::Forbidden(Forbidden::AccountSuspended),
            Self::TooManyConnections => Problem::TooManyConnections,
        })
    }
}

/// What the guard knows about the account beyond its counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    pub token_revoked: bool,
    pub account_suspended: bool,
}

impl Standing {
    /// The refusal a suspended account or a revoked token gets, whatever else it asks for.
    #[must_use]
    pub fn refusal(self) -> Option<Verdict> {
        if self.account_suspended {
            Some(Verdict::AccountSuspended)
        } else if self.token_revoked {
            Some(Verdict::Revoked)
        } else {
            None
        }
    }
}

fn one() -> u64 {
    1
}
