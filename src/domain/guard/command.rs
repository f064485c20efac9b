//! What the edge and the admin API say to an account's guard, and what it answers: JSON over the
//! Durable Object's fetch, typed on both sides.

use serde::{Deserialize, Serialize};

use crate::domain::access::entitlement::AppStatus;
use crate::domain::access::id::Id;
use crate::domain::access::token::TokenHash;
use crate::domain::billing::export::{Cursor, UsageEvent};
use crate::domain::billing::fleet::MonthFigures;
use crate::domain::billing::own_usage::Answer;
use crate::domain::billing::statement::Figures;
use crate::domain::guard::ports::{AppEntry, EventRow};
use crate::domain::admin::key::KeyRecord;
use crate::domain::admin::roles::RolesRecord;
use crate::domain::record::audit::{Actor, AdminChange, Entry};
use crate::domain::record::ledger::Row;
use crate::domain::throttle::charge::Charge;
use crate::domain::throttle::lease::{Deliveries, Report};
use crate::domain::throttle::verdict::{Allowance, Verdict};
use crate::domain::time::day::Day;

/// The enforcer's build leaves out the serde code of the variants only the control plane sends
/// or receives (statements, billing events): the request path's module stays small.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    /// Check and charge one request; the ledger counts it forwarded or refused.
    Charge(Charge),
    /// Grant a lease of up to `want` units, after settling the reports the isolate holds (the
    /// previous lease's, and any the guard did not take before).
    Lease {
        charge: Charge,
        want: u64,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        reports: Vec<Report>,
    },
    /// Settle what leases did: requests served, items delivered, unused units returned. Each
    /// report is settled once, by its id.
    Settle { reports: Vec<Report> },
    /// What an admitted request delivered, and the part of its recipient reservation it did not
    /// use.
    Delivered {
        app: Id,
        group: Id,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        recipient: Option<Id>,
        delivered: Deliveries,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        allowance: Option<Allowance>,
    },
    /// An open stream's report: what it delivered since the last one, for its ledger line, and
    /// the holds it spends from to settle and renew (`throttle::hold`); the `last` gives them
    /// back and closes the stream. Answered with `Verdict::Allow`, whose `granted` is what the
    /// stream may now send, or with the refusal that ends it.
    Stream {
        stream: u64,
        charge: Charge,
        delivered: Deliveries,
        #[serde(default)]
        last: bool,
    },
    /// A refusal the edge made before the guard (use case, recipient, plan, token status).
    Refused {
        app: Id,
        /// The endpoint group; `None` when the request matched no endpoint of the plan.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        group: Option<Id>,
        /// The recipient header as sent (cut to 64 characters), which may not be a valid id.
        #[serde(default)]
        recipient: String,
        /// The problem's ledger reason (`Problem::ledger_reason`).
        reason: String,
    },
    /// Refuse this token from now on, everywhere.
    RevokeToken { token_hash: TokenHash },
    /// Suspend or reinstate the whole account.
    SetSuspended { suspended: bool },
    /// Note a token of this account in its index (status as in KV).
    RegisterApp { token_hash: TokenHash, app: Id, status: AppStatus },
    /// Append an admin change to the audit chain, under the admin who made it.
    Audit {
        change: AdminChange,
        detail: serde_json::Value,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        actor: Option<Actor>,
    },
    /// The roles record (the admin guard's), empty before the first is written.
    Roles,
    /// Write the roles record, and its audit entry with it.
    PutRoles { record: RolesRecord, actor: Actor },
    /// The admin key whose SHA-256 is `hash`.
    FindKey { hash: String },
    /// Every admin key.
    Keys,
    /// Keep a new admin key (by its hash), and its audit entry with it.
    IssueKey { hash: String, key: KeyRecord, actor: Actor },
    /// Revoke an admin key by id at `at` (Unix seconds); revoking it again changes nothing.
    RevokeKey { id: String, at: u64, actor: Actor },
    /// Ledger rows of the days `from..=to`.
    Usage { from: Day, to: Day },
    /// Up to `limit` audit entries after `seq` `after`.
    AuditExport {
        #[serde(default)]
        after: u64,
        limit: u64,
    },
    /// Walk the chain from the last checkpoint (or, `full`, from the start), checking each day's
    /// seal against the ledger rows still kept.
    AuditVerify {
        #[serde(default)]
        full: bool,
    },
    /// Seal the finished days not sealed yet and prune what has outlived its retention.
    Housekeep,
    /// The account's month so far, its tokens and its detection events.
    Report,
    /// What a statement of the days `from..=to` is built from (`billing::statement::Figures`).
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_serializing))]
    Statement { from: Day, to: Day },
    /// Up to `limit` billing events of the sealed days after `after` (`billing::export`).
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_serializing))]
    UsageEvents {
        account: Id,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after: Option<Cursor>,
        limit: u64,
    },
    /// The month's figures for the fleet rollup (`billing::fleet`).
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_serializing))]
    Rollup,
    /// The billing events the export has not sent yet: those after the guard's export mark.
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_serializing))]
    ExportDue { account: Id, limit: u64 },
    /// The export has sent everything through `through`: the mark moves on (never back).
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_serializing))]
    Exported { through: Cursor },
    /// The customer's own usage (`billing::own_usage`): the query as the client sent it,
    /// charged against that endpoint's own limit, answered from the ledger.
    OwnUsage {
        charge: Charge,
        account: Id,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        query: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        cap: Option<u64>,
    },
}

/// What a command carries for the ledger, for the log line when the guard cannot keep it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    pub reports: u64,
    pub requests: u64,
    pub items: u64,
}

impl Command {
    /// The command's name, as the guard's messages spell it.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Self::Charge(_) => "charge",
            Self::Lease { .. } => "lease",
            Self::Settle { .. } => "settle",
            Self::Delivered { .. } => "delivered",
            Self::Stream { .. } => "stream",
            Self::Refused { .. } => "refused",
            Self::RevokeToken { .. } => "revoke_token",
            Self::SetSuspended { .. } => "set_suspended",
            Self::RegisterApp { .. } => "register_app",
            Self::Audit { .. } => "audit",
            Self::Roles => "roles",
            Self::PutRoles { .. } => "put_roles",
            Self::FindKey { .. } => "find_key",
            Self::Keys => "keys",
            Self::IssueKey { .. } => "issue_key",
            Self::RevokeKey { .. } => "revoke_key",
            Self::Usage { .. } => "usage",
            Self::AuditExport { .. } => "audit_export",
            Self::AuditVerify { .. } => "audit_verify",
            Self::Housekeep => "housekeep",
            Self::Report => "report",
            Self::Statement { .. } => "statement",
            Self::UsageEvents { .. } => "usage_events",
            Self::Rollup => "rollup",
            Self::ExportDue { .. } => "export_due",
            Self::Exported { .. } => "exported",
            Self::OwnUsage { .. } => "own_usage",
        }
    }

    /// The API's traffic: what a guard whose storage is full refuses until it has room again.
    /// Admin commands are always tried: a revocation must get its chance.
    #[must_use]
    pub fn is_traffic(&self) -> bool {
        matches!(
            self,
            Self::Charge(_) | Self::Lease { .. } | Self::Settle { .. } | Self::Delivered { .. } | Self::Stream { .. } | Self::Refused { .. }
                | Self::OwnUsage { .. }
        )
    }

    /// The requests and items the command would put in the ledger.
    #[must_use]
    pub fn tally(&self) -> Tally {
        let of_reports = |reports: &[Report]| Tally {
            reports: reports.len() as u64,
            requests: reports.iter().map(|r| r.used).sum(),
            items: reports.iter().map(|r| r.deliveries.items).sum(),
        };
        match self {
            Self::Charge(_) | Self::Refused { .. } => Tally { requests: 1, ..Tally::default() },
            Self::Lease { reports, .. } | Self::Settle { reports } => of_reports(reports),
            Self::Delivered { delivered, .. } | Self::Stream { delivered, .. } => Tally { items: delivered.items, ..Tally::default() },
            _ => Tally::default(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Reply {
    Verdict(Verdict),
    Done,
    Usage { rows: Vec<Row> },
    Audit {
        entries: Vec<Entry>,
        /// The `after` of the next page, when there is one.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<u64>,
    },
    Housekept(Housekeeping),
    /// The verification as the admin API returns it (`record::audit::Verification`).
    Verified(serde_json::Value),
    Report(AccountReport),
    Roles(RolesRecord),
    /// An admin key, `None` when there is none by that hash or id.
    Key(Option<KeyRecord>),
    Keys(Vec<KeyRecord>),
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_deserializing))]
    Statement(Figures),
    OwnUsage(Answer),
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_deserializing))]
    Rollup(MonthFigures),
    #[cfg_attr(all(feature = "enforcer", not(feature = "control")), serde(skip_deserializing))]
    UsageEvents {
        events: Vec<UsageEvent>,
        /// Where the next read resumes: the last event's cursor, or the `after` given when
        /// there was none.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        next: Option<Cursor>,
        /// Whether more events are ready past this page.
        more: bool,
    },
}

/// What one housekeeping pass did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Housekeeping {
    /// The days sealed, `YYYY-MM-DD`.
    pub sealed: Vec<String>,
    /// Rows deleted for retention.
    pub pruned: u64,
    /// Whether work is left for another pass.
    pub more: bool,
}

/// The guard's report on its account, as the admin API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AccountReport {
    /// `YYYY-MM`.
    pub month: String,
    pub month_distinct_items: u64,
    pub suspended: bool,
    pub apps: Vec<AppEntry>,
    pub audit_entries: u64,
    pub events: Vec<ReportedEvent>,
}

/// A detection event with its evidence as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportedEvent {
    pub id: i64,
    pub at: i64,
    pub kind: String,
    pub evidence: serde_json::Value,
}

impl From<EventRow> for ReportedEvent {
    fn from(e: EventRow) -> Self {
        Self { id: e.id, at: e.at, kind: e.kind, evidence: serde_json::from_str(&e.evidence).unwrap_or_default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::throttle::charge::Charge;
    use crate::domain::throttle::store::StoreError;

    fn charge() -> Charge {
        Charge {
            app: Id::new("a1").unwrap(),
            token_hash: TokenHash::from_hex(&"0".repeat(64)).unwrap(),
            group: Id::new("lookup").unwrap(),
            limits: vec![],
            monthly_item_cap: None,
            recipient: None,
            fingerprint: None,
            stream: false,
            connections_per_app: None,
            connections_per_account: None,
        }
    }

    #[test]
    fn a_commands_name_is_its_tag_and_its_tally_what_it_carries_for_the_ledger() {
        let report = |used, items| Report {
            id: "r".into(),
            charge: charge(),
            granted_at: crate::domain::time::clock::UnixMillis(0),
            granted: 50,
            used,
            deliveries: Deliveries { items, ..Deliveries::default() },
            items: None,
            ids: None,
        };
        let settle = Command::Settle { reports: vec![report(50, 5_000), report(3, 7)] };
        let delivered = Command::Delivered { app: charge().app, group: charge().group, recipient: None, delivered: Deliveries { items: 9, ..Deliveries::default() }, allowance: None };
        for (command, tally) in [
            (Command::Charge(charge()), Tally { requests: 1, ..Tally::default() }),
            (settle, Tally { reports: 2, requests: 53, items: 5_007 }),
            (delivered, Tally { items: 9, ..Tally::default() }),
            (Command::Housekeep, Tally::default()),
        ] {
            let tag = serde_json::to_value(&command).unwrap();
            let tag = tag.as_str().map(str::to_owned).or_else(|| tag.as_object().and_then(|o| o.keys().next().cloned())).unwrap();
            assert_eq!(command.name(), tag);
            assert_eq!(command.tally(), tally, "{tag}");
        }
        assert!(Command::Charge(charge()).is_traffic());
        assert!(!Command::RevokeToken { token_hash: charge().token_hash }.is_traffic(), "a revocation is always tried");
        assert!(StoreError(StoreError::FULL.into()).is_full());
        assert!(StoreError("Error: database or disk is full".into()).is_full());
        assert!(!StoreError("no such table: revoked".into()).is_full());
    }
}
