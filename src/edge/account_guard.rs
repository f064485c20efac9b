//! The Durable Object that guards one account: window counters, monthly items, revocations,
//! detection events, the usage ledger and the audit chain, in the object's own SQLite. A thin
//! newtype over the pure guard in `domain::guard`; every call runs to completion without an
//! `await`, so each charge is atomic and its ledger line is written with it.

use serde_json::json;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::clock::EdgeClock;
use super::guard_protocol::{Command, Reply};
use super::sql_ledger::Line;
use super::sql_store::SqlStore;
use crate::domain::record::audit;
use crate::domain::time::clock::{Clock, UnixMillis};
use crate::domain::redistribution::fingerprint::{Fingerprint, RESALE_FINGERPRINTS_PER_DAY};
use crate::domain::throttle::charge::{self as guard, StoreError, Verdict};
use crate::domain::throttle::lease::Report;
use crate::domain::time::day::Day;
use crate::domain::time::month::Month;


#[durable_object]
pub struct AccountGuard {
    state: State,
    /// Set up once per instance; a failure here is answered on every call until it restarts.
    schema: std::result::Result<(), StoreError>,
}

impl DurableObject for AccountGuard {
    fn new(state: State, _env: Env) -> Self {
        let schema = SqlStore::new(state.storage().sql()).ensure_schema();
        Self { state, schema }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let command: Command = match req.json().await {
            Ok(c) => c,
            Err(e) => return Response::error(format!("bad guard command: {e}"), 400),
        };
        let store = SqlStore::new(self.state.storage().sql());
        match self.run(store, command) {
            Ok(reply) => Response::from_json(&reply),
            Err(e) => Response::error(e.to_string(), 500),
        }
    }
}

/// The reason a guard verdict refused, as the ledger and the problem type name it.
fn refusal_reason(verdict: &Verdict) -> Option<&'static str> {
    verdict.refusal().map(|p| p.ledger_reason())
}

impl AccountGuard {
    fn run(&self, mut store: SqlStore, command: Command) -> std::result::Result<Reply, StoreError> {
        self.schema.clone()?;
        let now = EdgeClock.now();
        let day = Day::of(now).0;
        Ok(match command {
            Command::Charge(charge) => {
                let standing = store.standing(&charge.token_hash)?;
                let verdict = guard::charge(&mut store, standing, &charge, now)?;
                let recipient = charge.recipient.as_ref().map_or("", |r| r.recipient.as_str());
                let line = Line { day, app: charge.app.as_str(), group: charge.group.as_str(), recipient };
                if let Some(reason) = refusal_reason(&verdict) {
                    store.count_refused(&line, reason)?;
                    let detail = json!({ "app": charge.app, "group": charge.group, "recipient": recipient, "reason": reason });
                    store.append_audit(now, "refusal", &detail.to_string())?;
                } else {
                    store.count_forwarded(&line)?;
                }
                if let Verdict::Allow { pooling, .. } = &verdict {
                    if let Some(evidence) = pooling {
                        let dedupe = format!("pooling:{}:{}", evidence.group, evidence.window_start);
                        let text = serde_json::to_string(evidence).unwrap_or_default();
                        store.record_event(now, "pooling", &dedupe, &text)?;
                        store.append_audit(now, "pooling", &text)?;
                    }
                    if let Some(fp) = &charge.fingerprint {
                        Self::watch_resale(&store, charge.app.as_str(), fp, now)?;
                    }
                }
                Reply::Verdict(verdict)
            }
            Command::Lease { charge, want, report } => {
                if let Some(report) = report {
                    Self::settle(&mut store, &report, day, now)?;
                }
                let standing = store.standing(&charge.token_hash)?;
                let verdict = guard::charge_units(&mut store, standing, &charge, want, now)?;
                if let Some(reason) = refusal_reason(&verdict) {
                    let line = Line { day, app: charge.app.as_str(), group: charge.group.as_str(), recipient: "" };
                    store.count_refused(&line, reason)?;
                    let detail = json!({ "app": charge.app, "group": charge.group, "reason": reason });
                    store.append_audit(now, "refusal", &detail.to_string())?;
                }
                Reply::Verdict(verdict)
            }
            Command::Settle { report } => {
                Self::settle(&mut store, &report, day, now)?;
                Reply::Done
            }
            Command::Delivered { app, group, recipient, ids, untracked, items, bytes, allowance } => {
                let line = Line { day, app: &app, group: &group, recipient: &recipient };
                let distinct = store.count_delivered(&line, &ids, untracked, items, bytes)?;
                // Monthly caps count distinct items, as the API bills them.
                if distinct > 0 {
                    store.add_month_items(&Month::of(now).key(), distinct)?;
                }
                if let Some(allowance) = allowance {
                    guard::settle(&mut store, &allowance, items)?;
                }
                Reply::Done
            }
            Command::Refused { app, group, recipient, reason } => {
                let line = Line { day, app: &app, group: &group, recipient: &recipient };
                store.count_refused(&line, &reason)?;
                let detail = json!({ "app": app, "group": group, "recipient": recipient, "reason": reason });
                store.append_audit(now, "refusal", &detail.to_string())?;
                Reply::Done
            }
            Command::RevokeToken { token_hash } => {
                store.revoke(&token_hash, now)?;
                Reply::Done
            }
            Command::SetSuspended { suspended } => {
                store.set_suspended(suspended)?;
                Reply::Done
            }
            Command::RegisterApp { token_hash, app, status } => {
                store.register_app(&token_hash, &app, &status, now)?;
                Reply::Done
            }
            Command::Audit { kind, detail } => {
                store.append_audit(now, &kind, &detail.to_string())?;
                Reply::Done
            }
            Command::Usage { from, to } => Reply::Usage { rows: store.usage(from, to)? },
            Command::AuditExport => Reply::Audit { entries: store.audit_entries()? },
            Command::AuditVerify => Reply::verified(&audit::verify(&store.audit_entries()?)),
            Command::Report => {
                let month = Month::of(now).key();
                Reply::Report(json!({
                    "month": month,
                    "month_distinct_items": store.month_items_now(&month)?,
                    "suspended": store.standing("")?.account_suspended,
                    "apps": store.apps()?,
                    "audit_entries": store.audit_len()?,
                    "events": store
                        .events()?
                        .into_iter()
                        .map(|e| json!({
                            "id": e.id,
                            "at": e.at,
                            "kind": e.kind,
                            "evidence": serde_json::from_str::<serde_json::Value>(&e.evidence).unwrap_or_default(),
                        }))
                        .collect::<Vec<_>>(),
                }))
            }
        })
    }

    /// A lease's report: its requests go to the ledger as forwarded, its deliveries as items,
    /// and its unused units back to the windows they came from.
    fn settle(store: &mut SqlStore, report: &Report, day: u64, now: UnixMillis) -> std::result::Result<(), StoreError> {
        let line = Line { day, app: report.charge.app.as_str(), group: report.charge.group.as_str(), recipient: "" };
        store.count_forwarded_n(&line, report.used)?;
        let d = &report.deliveries;
        if !d.is_empty() {
            let distinct = store.count_delivered(&line, &d.ids, d.untracked, d.items, d.bytes)?;
            if distinct > 0 {
                store.add_month_items(&Month::of(now).key(), distinct)?;
            }
        }
        guard::return_units(store, &report.charge, report.granted_at, report.granted.saturating_sub(report.used))
    }

    /// Counts the token's distinct clients today; the count reaching the threshold is an event.
    fn watch_resale(store: &SqlStore, app: &str, fp: &Fingerprint, now: UnixMillis) -> std::result::Result<(), StoreError> {
        let day = Day::of(now).0;
        if store.record_fingerprint(app, day, fp)? == Some(RESALE_FINGERPRINTS_PER_DAY) {
            let evidence = json!({
                "app": app,
                "day": day,
                "distinct_clients": RESALE_FINGERPRINTS_PER_DAY,
                "threshold": RESALE_FINGERPRINTS_PER_DAY,
                "clients": store.clients(app, day)?,
            });
            let text = evidence.to_string();
            store.record_event(now, "resale", &format!("resale:{app}:{day}"), &text)?;
            store.append_audit(now, "resale", &text)?;
            super::log::event("warn", "resale_detected", json!({ "app": app, "day": day }));
        }
        Ok(())
    }
}
