//! The Durable Object that guards one account: its window counters, monthly items, revocations
//! and detection events, in the object's own SQLite. A thin newtype over the pure guard in
//! `domain::guard`; every call runs to completion without an `await`, so each charge is atomic.

use serde_json::json;
use worker::{durable_object, DurableObject, Env, Request, Response, Result, State};

use super::clock::EdgeClock;
use super::guard_protocol::{Command, Reply};
use super::sql_store::SqlStore;
use crate::domain::clock::{Clock, UnixMillis};
use crate::domain::fingerprint::{Fingerprint, RESALE_FINGERPRINTS_PER_DAY};
use crate::domain::guard::{self, StoreError};
use crate::domain::month::Month;

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

impl AccountGuard {
    /// Counts the token's distinct clients today; the count reaching the threshold is an event.
    fn watch_resale(store: &SqlStore, app: &str, fp: &Fingerprint, now: UnixMillis) -> std::result::Result<(), StoreError> {
        let day = now.0 / 86_400_000;
        if store.record_fingerprint(app, day, fp)? == Some(RESALE_FINGERPRINTS_PER_DAY) {
            let evidence = json!({
                "app": app,
                "day": day,
                "distinct_clients": RESALE_FINGERPRINTS_PER_DAY,
                "threshold": RESALE_FINGERPRINTS_PER_DAY,
                "clients": store.clients(app, day)?,
            });
            store.record_event(now, "resale", &format!("resale:{app}:{day}"), &evidence.to_string())?;
            super::log::event("warn", "resale_detected", json!({ "app": app, "day": day }));
        }
        Ok(())
    }

    fn run(&self, mut store: SqlStore, command: Command) -> std::result::Result<Reply, StoreError> {
        self.schema.clone()?;
        let now = EdgeClock.now();
        Ok(match command {
            Command::Charge(charge) => {
                let standing = store.standing(&charge.token_hash)?;
                let verdict = guard::charge(&mut store, standing, &charge, now)?;
                if let guard::Verdict::Allow { pooling, .. } = &verdict {
                    if let Some(evidence) = pooling {
                        let dedupe = format!("pooling:{}:{}", evidence.group, evidence.window_start);
                        let evidence = serde_json::to_string(evidence).unwrap_or_default();
                        store.record_event(now, "pooling", &dedupe, &evidence)?;
                    }
                    if let Some(fp) = &charge.fingerprint {
                        Self::watch_resale(&store, charge.app.as_str(), fp, now)?;
                    }
                }
                Reply::Verdict(verdict)
            }
            Command::Delivered { items, allowance } => {
                if items > 0 {
                    store.add_month_items(&Month::of(now).key(), items)?;
                }
                if let Some(allowance) = allowance {
                    guard::settle(&mut store, &allowance, items)?;
                }
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
            Command::Report => {
                let month = Month::of(now).key();
                Reply::Report(json!({
                    "month": month,
                    "month_items": store.month_items_now(&month)?,
                    "suspended": store.standing("")?.account_suspended,
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
}
