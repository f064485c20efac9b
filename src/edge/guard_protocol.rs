//! What the edge and the account guard say to each other: JSON over the object's fetch.

use serde::{Deserialize, Serialize};

use crate::domain::guard::{Allowance, Charge, Verdict};

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Check and charge one request.
    Charge(Charge),
    /// What an admitted request delivered: items for the month's total, and the part of its
    /// recipient reservation it did not use.
    Delivered {
        items: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allowance: Option<Allowance>,
    },
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
