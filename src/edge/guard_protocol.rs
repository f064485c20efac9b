//! What the edge and the account guard say to each other: JSON over the object's fetch.

use serde::{Deserialize, Serialize};

use crate::domain::record::audit::{Entry, Verification};
use crate::domain::throttle::charge::{Allowance, Charge, Verdict};
use crate::domain::throttle::lease::Report;
use crate::domain::record::ledger::Row;

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Command {
    /// Check and charge one request; the ledger counts it forwarded or refused.
    Charge(Charge),
    /// Grant a lease of up to `want` units, after settling the report of the previous one.
    Lease {
        charge: Charge,
        want: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        report: Option<Report>,
    },
    /// Settle what a lease did: requests served, items delivered, unused units returned.
    Settle { report: Report },
    /// What an admitted request delivered: items (and their ids, for the distinct count),
    /// bytes, and the part of its recipient reservation it did not use.
    Delivered {
        app: String,
        group: String,
        #[serde(default)]
        recipient: String,
        ids: Vec<String>,
        /// Items whose ids were not sent; counted as distinct.
        #[serde(default)]
        untracked: u64,
        items: u64,
        bytes: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allowance: Option<Allowance>,
    },
    /// A refusal the edge made before the guard (use case, recipient, plan, token status).
    Refused {
        app: String,
        group: String,
        #[serde(default)]
        recipient: String,
        reason: String,
    },
    /// Refuse this token from now on, everywhere.
    RevokeToken { token_hash: String },
    /// Suspend or reinstate the whole account.
    SetSuspended { suspended: bool },
    /// Note a token of this account in its index (status as in KV).
    RegisterApp { token_hash: String, app: String, status: String },
    /// Append an admin change to the audit chain.
    Audit { kind: String, detail: serde_json::Value },
    /// Ledger rows of the days `from..=to` (days since the epoch).
    Usage { from: u64, to: u64 },
    AuditExport,
    AuditVerify,
    /// The account's month so far, its tokens and its detection events.
    Report,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "snake_case")]
pub enum Reply {
    Verdict(Verdict),
    Done,
    Usage { rows: Vec<Row> },
    Audit { entries: Vec<Entry> },
    Verified(serde_json::Value),
    Report(serde_json::Value),
}

impl Reply {
    /// A verification travels as JSON: `Verification` is written, never read back.
    pub fn verified(v: &Verification) -> Self {
        Self::Verified(serde_json::to_value(v).unwrap_or_default())
    }
}
