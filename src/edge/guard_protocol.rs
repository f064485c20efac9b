//! What the edge and the account guard say to each other: JSON over the object's fetch.

use serde::{Deserialize, Serialize};

use crate::domain::guard::{Charge, Verdict};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Check and charge one request.
    Charge(Charge),
    /// Add the items an origin response delivered to this month's total.
    RecordItems { items: u64 },
    /// Refuse this token from now on, everywhere.
    RevokeToken { token_hash: String },
    /// Suspend or reinstate the whole account.
    SetSuspended { suspended: bool },
    /// The account's month so far and its detection events.
    Report,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Verdict(Verdict),
    Done,
    Report(serde_json::Value),
}
